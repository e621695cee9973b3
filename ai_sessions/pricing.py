"""Cost of a reply from the price table shipped inside ``genai-prices`` (used offline, never fetched)."""

from __future__ import annotations

import logging
from functools import lru_cache

from .model import Usage

log = logging.getLogger(__name__)

#: our provider kind -> genai-prices provider id
_PROVIDER_IDS = {"openai": "openai", "azure": "azure", "anthropic": "anthropic", "gemini": "google"}


def cost_of(kind: str, model: str, usage: Usage) -> float | None:
    """USD cost of ``usage`` on ``model``; None when the price is unknown (local models cost 0.0)."""
    if kind == "local":
        return 0.0
    provider_id = _PROVIDER_IDS.get(kind)
    if provider_id is None:
        return None
    return _lookup(provider_id, model, usage.input_tokens, usage.output_tokens)


@lru_cache(maxsize=512)
def _lookup(provider_id: str, model: str, input_tokens: int, output_tokens: int) -> float | None:
    try:
        from genai_prices import Usage as PriceUsage
        from genai_prices import calc_price
    except ImportError:
        return None
    try:
        price = calc_price(PriceUsage(input_tokens=input_tokens, output_tokens=output_tokens),
                           model_ref=model, provider_id=provider_id)
    except LookupError:
        return None
    except Exception as exc:  # an unknown model shape must never fail a reply
        log.debug("no price for %s:%s (%s)", provider_id, model, exc)
        return None
    return float(price.total_price)
