"""What the chat widget adds for branches, per-message details, session settings and attachments (issue 13),
kept out of ``chat.py``: the extra fields of the ``messages`` trait, the ``session_settings`` trait, and the
browser actions on one message (edit, delete, checkout, retry) or on the session's settings.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..attachments import Limits, parts_from_upload
from ..auto import AUTO
from ..errors import AiSessionsError
from ..model import EventKind, Role
from ..parts import Part, as_parts

if TYPE_CHECKING:
    from ..model import Event
    from ..session import ReplyHandle, Session

#: View messages handled here (see contract.py: MessageActionMsg, EditMsg, ConfigureMsg).
ACTIONS = ("edit", "delete", "checkout", "retry", "configure")
#: A reply's final events, which carry its timing.
_ENDS = (EventKind.RESPONSE_COMPLETED, EventKind.RESPONSE_FAILED)


class ReplyTimings:
    """Each reply's ``elapsed`` and ``first_token_s``: read from the stored events when a widget binds, then
    kept from the final events as replies end (so the details show after a restart too)."""

    def __init__(self) -> None:
        self._timings: dict[str, dict[str, float | None]] = {}

    def load(self, session: Session) -> None:
        self._timings = session.runtime.store.reply_timings(session.id)

    def note(self, event: Event) -> None:
        if event.kind in _ENDS and event.payload.get("id"):
            self._timings[event.payload["id"]] = {"elapsed": event.payload.get("elapsed"),
                                                  "first_token_s": event.payload.get("first_token_s")}

    def get(self, message_id: str) -> dict[str, float | None] | None:
        return self._timings.get(message_id)


class BranchPlaces:
    """The places among their siblings of a chat's messages, read from the store only when the branch shown
    changed other than by growing: messages appended to a branch follow its leaf, so they have no siblings
    and the earlier ones keep theirs (a streamed reply syncs its messages three times; each read is a store
    round trip on the hub thread)."""

    def __init__(self) -> None:
        self._ids: tuple[str, ...] = ()
        self._places: dict[str, Any] = {}

    def of(self, session: Session, ids: tuple[str, ...]) -> dict[str, Any]:
        grown = bool(self._ids) and ids[:len(self._ids)] == self._ids
        if not grown:
            self._places = session.runtime.store.siblings(session.id, list(ids)) if ids else {}
        self._ids = ids
        return self._places


def message_dicts(session: Session, timings: ReplyTimings, places: BranchPlaces | None = None) -> list[dict[str, Any]]:
    """The ``messages`` trait: each message of the current branch, with its place among its siblings
    (``branch``, for the switcher) and a reply's ``timing``."""
    messages = session.messages
    siblings = (places or BranchPlaces()).of(session, tuple(m.id for m in messages))
    out = []
    for message in messages:
        data = message.to_dict()
        if message.id in siblings:
            data["branch"] = siblings[message.id].to_dict()
        timing = timings.get(message.id) if message.role is Role.ASSISTANT else None
        if timing is not None:
            data["timing"] = {key: _seconds(timing.get(key)) for key in ("elapsed", "first_token_s")}
        out.append(data)
    return out


def _accepts(session: Session) -> dict[str, bool]:
    """What the session's model takes besides text; for ``model="auto"``, what some candidate takes (the
    reply goes to a candidate that can take it)."""
    runtime = session.runtime
    models = [session.model]
    if session.model == AUTO:
        models = list(runtime.settings.auto.effective_candidates(runtime.settings.defaults.model))
    found = []
    for model in models:
        try:
            found.append(runtime.catalogue.capabilities(model))
        except AiSessionsError:  # a candidate of an unknown provider: it takes nothing
            continue
    return {"images": any(c.images for c in found), "documents": any(c.documents for c in found)}


def settings_value(session: Session) -> dict[str, Any]:
    """The ``session_settings`` trait: the session's own values, the defaults it inherits, what its model
    takes besides text, and the attachment limits."""
    defaults = session.runtime.settings.defaults
    params = session.params
    return {
        "own": {"model": session.requested_model, "temperature": _number(params.get("temperature")),
                "max_tokens": params.get("max_tokens"), "system_prompt": session.system_prompt},
        "defaults": {"model": defaults.model, "temperature": _number(defaults.temperature),
                     "max_tokens": defaults.max_tokens, "system_prompt": defaults.system_prompt},
        "accepts": _accepts(session),
        "limits": limits(session).to_dict(),
    }


def limits(session: Session) -> Limits:
    """The attachment limits: ``[context] max_attachment_mb`` of settings for a whole message."""
    total = int(session.runtime.settings.context.max_attachment_mb * 2**20)
    return Limits(max_total_bytes=total, max_image_bytes=min(Limits().max_image_bytes, total))


def prompt_of(session: Session, content: dict[str, Any], buffers: Sequence[Any] | None,
              prompt: str | tuple[Part, ...] | None = None) -> str | tuple[Part, ...]:
    """What a ``send`` message asks: ``prompt`` (by default its text), then its attachments' parts (bytes in
    ``buffers``)."""
    if prompt is None:
        prompt = str(content.get("text", ""))
    attachments = content.get("attachments") or []
    if not attachments:
        return prompt
    parts = parts_from_upload(attachments, list(buffers or ()), limits(session))
    if isinstance(prompt, str):
        prompt = as_parts(prompt) if prompt.strip() else ()
    return (*prompt, *parts)


def act(session: Session, content: dict[str, Any]) -> ReplyHandle | None:
    """Run a message or settings action from the chat (kernel main thread); a reply's handle if it starts one."""
    kind = content.get("type")
    if kind == "configure":
        session.configure(model=str(content.get("model") or session.requested_model),
                          temperature=content.get("temperature"), max_tokens=content.get("max_tokens"),
                          system_prompt=str(content.get("system_prompt") or ""))
        return None
    message_id = str(content.get("message_id", ""))
    if kind == "checkout":
        session.checkout(message_id)
        return None
    index = _position(session, message_id)
    if kind == "edit":
        return session.submit_edit(index, str(content.get("text", "")))
    if kind == "retry":
        return session.submit_regenerate(at=index)
    if kind == "delete":
        session.delete_message(index)
    return None


def _position(session: Session, message_id: str) -> int:
    for index, message in enumerate(session.messages):
        if message.id == message_id:
            return index
    raise AiSessionsError("that message is not on the current branch any more",
                          hint="the chat shows the current branch again; try once more there")


def _number(value: Any) -> float | None:
    return None if value is None else float(value)


def _seconds(value: Any) -> float | None:
    return None if value is None else round(float(value), 3)
