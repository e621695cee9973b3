"""``model="auto"``: a session that picks its model per reply from the ``[auto] candidates`` of settings.

The policy, in full (docs/providers.md, "model=auto"):

1. The candidates are tried in order of preference. A routing rule (``[[auto.rules]]``) whose conditions all
   hold for the prompt makes the choice start at its ``use`` candidate instead of the first.
2. A candidate is skipped, with the reason, when its provider is unusable (no key, missing SDK, unknown
   model), when it is cooling down after a failure, or when it lacks what this reply needs: images or PDF
   documents in the prompt, tools on the session, a schema, or a history longer than its context window
   (history tokens estimated as characters / 4; windows from ``[auto] context_windows``, else the price
   table, else unchecked).
3. If the chosen model fails after its retries (rate limit, server error, timeout, connection, auth, missing
   SDK) before any text was shown, the reply fails over to the next usable candidate, and the failed one is
   avoided for ``[auto] cooldown_s`` seconds (by every auto session of the hub).

Every choice that changes the model, and every failover, is a model switch in the session's log with its
reason ("auto: needs images", "auto: openai failed: server error"). No other heuristics.
"""

from __future__ import annotations

import asyncio
import importlib
import re
import sys
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from .errors import (
    AuthError,
    ConnectionFailed,
    MissingSDK,
    NoUsableModel,
    ProviderError,
    ProviderServerError,
    ProviderTimeout,
    RateLimited,
)
from .model import Role
from .parts import FilePart, ImagePart, text_of
from .pricing import context_window
from .settings import AUTO, AutoRule, Settings

if TYPE_CHECKING:
    from .catalogue import ModelCatalogue
    from .parts import Part
    from .reply import Reply

#: Failures after which a reply moves on to the next candidate (a bad request would fail anywhere).
FAILOVER_ERRORS = (RateLimited, ProviderServerError, ProviderTimeout, ConnectionFailed, AuthError, MissingSDK)
CHARS_PER_TOKEN = 4
_LABELS = {"auth": "auth error", "rate_limited": "rate limited", "timeout": "timeout",
           "connection": "connection error"}


def failure_label(error: ProviderError) -> str:
    """A few words for a failure, as the switch log shows it ("server error", "rate limited")."""
    if isinstance(error, MissingSDK):
        return "SDK missing"
    if isinstance(error, ProviderServerError):
        return f"server error ({error.status_code})" if error.status_code else "server error"
    return _LABELS.get(error.kind, error.kind.replace("_", " "))


@dataclass(frozen=True)
class Needs:
    """What one reply needs of a model."""

    images: bool = False
    documents: bool = False
    tools: bool = False
    schema: bool = False
    #: estimated tokens of the history and prompt
    tokens: int = 0


@dataclass(frozen=True)
class Choice:
    """The model for a reply and why. ``switched_from``: the model it replaces in the session's switch
    log, or None when the last reply came from the same model (nothing to log)."""

    model: str
    reason: str
    switched_from: str | None = None


def needs_of(reply: Reply) -> Needs:
    """What ``reply`` needs: from its prompt (or, when regenerating, the last user message), the session's
    tools, the request's schema, and the length of the history."""
    prompt = answered_parts(reply)
    request = reply.spec.build_request("", ())
    chars = sum(len(m.content) for m in reply.history)
    if reply.spec.prompt is not None:
        chars += len(text_of(prompt))
    return Needs(images=any(isinstance(p, ImagePart) for p in prompt),
                 documents=any(isinstance(p, FilePart) and p.media_type == "application/pdf" for p in prompt),
                 tools=reply.spec.tools is not None or bool(request.tools),
                 schema=request.response_format is not None,
                 tokens=chars // CHARS_PER_TOKEN)


def answered_parts(reply: Reply) -> tuple[Part, ...]:
    """The prompt ``reply`` answers: its own, or when regenerating the last user message."""
    if reply.spec.prompt is not None:
        return reply.spec.prompt
    for message in reversed(reply.history):
        if message.role is Role.USER:
            return message.parts
    return ()


def rule_matches(rule: AutoRule, text: str) -> bool:
    """Whether every condition of ``rule`` holds for the prompt ``text``."""
    if rule.tokens_over is not None and len(text) // CHARS_PER_TOKEN <= rule.tokens_over:
        return False
    if rule.code_block is not None and (_FENCE.search(text) is not None) != rule.code_block:
        return False
    return not rule.keywords or _keywords(rule.keywords).search(text) is not None


_FENCE = re.compile(r"^\s*```", re.MULTILINE)


@lru_cache(maxsize=64)
def _keywords(words: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile(r"\b(?:" + "|".join(re.escape(w) for w in words) + r")\b", re.IGNORECASE)


class AutoChooser:
    """Picks the model of one reply of a ``model="auto"`` session (made per reply by the session; the
    cool-downs live in the hub's :class:`ModelCatalogue`, shared by every auto session)."""

    def __init__(self, settings: Settings, catalogue: ModelCatalogue, last_model: str) -> None:
        self.candidates = settings.auto.effective_candidates(settings.defaults.model)
        self.rules = settings.auto.rules
        self.cooldown_s = settings.auto.cooldown_s
        self.windows = settings.auto.context_windows
        self.catalogue = catalogue
        #: the model of the session's last reply (from its switch log), or "auto" before the first
        self.last_model = last_model
        self._needs = Needs()
        self._start = 0
        self._rule = ""
        self._failed: dict[str, str] = {}  # candidate -> why it failed in this reply

    async def choose(self, reply: Reply) -> Choice:
        """The model of ``reply``; raises :class:`NoUsableModel` naming each candidate's reason if none
        can answer."""
        self._needs = needs_of(reply)
        text = text_of(answered_parts(reply))
        for number, rule in enumerate(self.rules, start=1):
            if rule_matches(rule, text):
                self._start = self.candidates.index(rule.use)
                self._rule = f"rule {number} ({rule.describe()})"
                break
        if "genai_prices.data" not in sys.modules:  # context windows: a ~1 s import, not on the hub loop
            await asyncio.to_thread(importlib.import_module, "genai_prices.data")
        model, skipped = self._first_usable()
        if model is None:
            raise NoUsableModel("no candidate of model='auto' can answer: " + _listing(skipped))
        why = [self._rule] if self._rule else []
        why += list(dict.fromkeys(skipped.values()))
        choice = Choice(model, "auto: " + ("; ".join(why) or "first candidate"),
                        None if model == self.last_model else self.last_model)
        self.last_model = model
        return choice

    async def fail_over(self, reply: Reply, error: ProviderError) -> Choice | None:
        """After ``reply`` failed on its model before any text: the next usable candidate, or None when
        this failure is not one to fail over on. The failed candidate cools down. Raises
        :class:`NoUsableModel` naming every candidate's fate when none is left."""
        if not isinstance(error, FAILOVER_ERRORS):
            return None
        failed = reply.model
        label = failure_label(error)
        self._failed[failed] = f"failed: {label}"
        if self.cooldown_s > 0:
            self.catalogue.cool_down(failed, self.cooldown_s, label)
        model, skipped = self._first_usable()
        if model is None:
            exhausted = NoUsableModel("every candidate of model='auto' failed or was skipped: " + _listing(
                {**{m: why for m, why in self._failed.items()}, **skipped}))
            exhausted.kind = error.kind
            exhausted.status_code = error.status_code
            raise exhausted
        self.last_model = model
        return Choice(model, f"auto: {failed.partition(':')[0]} failed: {label}", failed)

    # -- internals ------------------------------------------------------------------------------------
    def first_usable_for(self, needs: Needs) -> tuple[str | None, dict[str, str]]:
        """The first candidate that can take a request with ``needs`` (no rules), and why the ones before it
        cannot."""
        self._needs = needs
        return self._first_usable()

    def _first_usable(self) -> tuple[str | None, dict[str, str]]:
        """The first candidate (from the rule's) that can answer, and why each one before it cannot."""
        skipped: dict[str, str] = {}
        for model in self.candidates[self._start:]:
            if model in self._failed:
                continue
            why = self.skip_reason(model)
            if why is None:
                return model, skipped
            skipped[model] = why
        return None, skipped

    def skip_reason(self, model: str) -> str | None:
        """Why ``model`` cannot answer this reply now, or None."""
        unusable = self.catalogue.unusable(model)
        if unusable is not None:
            return f"{model} unusable ({unusable})"
        cooling = self.catalogue.cooling(model)
        if cooling is not None:
            return f"{model} cooling down after {cooling[1]} ({cooling[0]:.0f} s left)"
        needs = self._needs
        caps = self.catalogue.capabilities(model)
        for wanted, able, what in ((needs.images, caps.images, "needs images"),
                                   (needs.documents, caps.documents, "needs documents"),
                                   (needs.tools, caps.tools, "needs tools"),
                                   (needs.schema, caps.structured_output, "needs a schema")):
            if wanted and not able:
                return what
        window = self._window(model)
        if window is not None and needs.tokens > window:
            return f"needs a longer context (~{needs.tokens:,} tokens; {model} takes {window:,})"
        return None

    def _window(self, model: str) -> int | None:
        if model in self.windows:
            return self.windows[model]
        provider_name, _, name = model.partition(":")
        instance: Any = self.catalogue.instance(provider_name)
        price_id = getattr(instance, "price_id", None)
        return context_window(price_id, name) if price_id else None


def first_usable(settings: Settings, catalogue: ModelCatalogue, *, schema: bool = False) -> str:
    """The model a map of a ``model="auto"`` session runs on: the first candidate usable now (one model for
    every item; rules and fail-over are per chat reply). Raises :class:`NoUsableModel` when none is."""
    model, skipped = AutoChooser(settings, catalogue, AUTO).first_usable_for(Needs(schema=schema))
    if model is None:
        raise NoUsableModel("no candidate of model='auto' can run this map: " + _listing(skipped))
    return model


def _listing(reasons: dict[str, str]) -> str:
    return "; ".join(why if why.startswith(model) else f"{model}: {why}" for model, why in reasons.items()) or \
        "no candidates"


def last_model(switches: Any, requested: str) -> str:
    """The model an auto session used last: the target of its newest switch (``"auto"`` before any choice)."""
    return switches[-1].to_model if switches else requested


__all__ = ["AUTO", "AutoChooser", "Choice", "Needs", "failure_label", "first_usable", "needs_of", "rule_matches"]
