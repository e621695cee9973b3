"""Cost of a reply from the price table shipped inside ``genai-prices`` (used offline, never fetched).

A provider kind names its id in that table (``Provider.price_id``); cached input tokens are priced as
the table says (reads and writes of the prompt cache differ from plain input).
"""

from __future__ import annotations

import logging
from functools import lru_cache

from .model import Usage

log = logging.getLogger(__name__)
_table_loaded = False


def table_loaded() -> bool:
    """Whether :func:`load_table` ran (or a cost was computed) in this process."""
    return _table_loaded


def load_table() -> None:
    """Import genai-prices and read its price table: 0.5 to 2 s the first time, so providers call this in a
    worker thread before their first reply is priced on the hub loop (``Provider.prepare``)."""
    global _table_loaded
    try:
        from genai_prices import Usage as PriceUsage
        from genai_prices import calc_price

        calc_price(PriceUsage(input_tokens=1, output_tokens=1), model_ref="gpt-4o", provider_id="openai")
    except Exception:  # not installed, or the table changed: the first real lookup says so
        log.debug("loading the price table failed", exc_info=True)
    _table_loaded = True


def cost_of(price_id: str, model: str, usage: Usage) -> float | None:
    """USD cost of ``usage`` on ``model`` of genai-prices provider ``price_id``; None when unknown."""
    return _lookup(price_id, model, usage.input_tokens, usage.output_tokens, usage.cache_read_tokens,
                   usage.cache_write_tokens)


@lru_cache(maxsize=512)
def _lookup(provider_id: str, model: str, input_tokens: int, output_tokens: int, cache_read: int,
            cache_write: int) -> float | None:
    global _table_loaded
    _table_loaded = True
    try:
        from genai_prices import Usage as PriceUsage
        from genai_prices import calc_price
    except ImportError:
        return None
    try:
        price = calc_price(PriceUsage(input_tokens=input_tokens, output_tokens=output_tokens,
                                      cache_read_tokens=cache_read or None, cache_write_tokens=cache_write or None),
                           model_ref=model, provider_id=provider_id)
    except LookupError:
        return None
    except Exception as exc:  # an unknown model shape must never fail a reply
        log.debug("no price for %s:%s (%s)", provider_id, model, exc)
        return None
    return float(price.total_price)


@lru_cache(maxsize=512)
def context_window(price_id: str, model: str) -> int | None:
    """The context window in tokens of ``model`` as genai-prices' table knows it, else None."""
    try:
        from genai_prices import data_snapshot

        _provider, info = data_snapshot.get_snapshot().find_provider_model(model, None, price_id, None)
    except Exception:  # not in the table (or the table cannot load): unknown
        return None
    window = getattr(info, "context_window", None)
    return int(window) if window else None
