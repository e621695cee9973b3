"""The contract between the widgets' kernel side (``chat.py``, ``hub_panel.py``) and their browser side
(``js/src``), declared once: synced trait values and custom messages, as pydantic models.

``js/src/protocol.ts`` is generated from this module (``python -m ai_sessions.widgets.contract_ts``), and
the tests check every trait value and message the real widgets send against it (``tests/unit/
test_widget_contract.py``), so the two sides cannot drift apart by hand. Nothing imports this module at
run time: pydantic is needed only to generate the types and to test.

Units: every offset or length that crosses the comm counts **UTF-16 code units** (JavaScript string
indices), not Python code points: an emoji outside the BMP is 2, ``"e\\u0301"`` is 2, ``"\\r\\n"`` is 2.
Times are seconds since the epoch (floats).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from typing_extensions import TypeAliasType

from ..model import MessageStatus as _MessageStatus
from ..model import Role as _Role


class Shape(BaseModel):
    """A JSON object crossing the comm: no undeclared key, no coercion."""

    model_config = ConfigDict(extra="forbid", strict=True, use_attribute_docstrings=True)


# -- the chat's synced traits ---------------------------------------------------------------------
Role = TypeAliasType("Role", Literal[tuple(r.value for r in _Role)])  # type: ignore[misc]
MessageStatus = TypeAliasType("MessageStatus", Literal[tuple(s.value for s in _MessageStatus)])  # type: ignore[misc]
PartKind = TypeAliasType("PartKind", Literal["text", "image", "file", "tool_call", "tool_result", "structured"])


class UsageData(Shape):
    """Token counts of one reply (the cache counts only when the provider used its prompt cache)."""

    input_tokens: int
    output_tokens: int
    cache_read_tokens: int | None = Field(default=None, description="Input tokens read from the prompt cache.")
    cache_write_tokens: int | None = Field(default=None, description="Input tokens written to the prompt cache.")


class MessagePart(BaseModel):
    """One part of a message (text, image, file, tool call or result, structured output). Not rendered yet."""

    model_config = ConfigDict(extra="allow", strict=True, use_attribute_docstrings=True)
    kind: PartKind


# -- issue 13: branches, per-message details, session settings, attachments, search ----------------------
class BranchData(Shape):
    """Where a message stands among the messages sharing its parent (the chat's "2/3" branch switcher)."""

    index: int = Field(description="0-based.")
    count: int
    previous: str | None = Field(description="The previous sibling's id: checking it out shows its branch.")
    next: str | None


class TimingData(Shape):
    """A reply's timing, from its final event (none for replies older than the store keeps events)."""

    elapsed: float | None = Field(description="Seconds from the request to the end.")
    first_token_s: float | None = Field(description="Seconds from the request to the first text.")


class MessageData(Shape):
    """One entry of the ``messages`` trait (``Message.to_dict()`` in ai_sessions/model.py)."""

    id: str
    seq: int
    role: Role
    content: str
    """The text (markdown for replies). While streaming, the last checkpoint; the deltas carry the rest."""
    model: str | None
    status: MessageStatus
    usage: UsageData | None
    cost: float | None
    error: str | None
    error_kind: str | None
    created_at: float
    completed_at: float | None
    parts: list[MessagePart] = Field(default_factory=list, description="Parts beyond the text (optional).")
    parent_id: str | None = Field(default=None, description="The message before it on its branch.")
    branch: BranchData | None = Field(default=None, description="Set when the message has siblings (branches).")
    timing: TimingData | None = Field(default=None, description="A reply's timing, when known.")


class SwitchData(Shape):
    """One entry of the ``switches`` trait (``ModelSwitch.to_dict()`` plus what answered)."""

    from_: str = Field(alias="from")
    to: str
    message_index: int
    """Number of messages before the switch: its divider goes before message ``message_index``."""
    reason: str | None
    created_at: float
    answered_by: str | None = Field(
        default=None, description="The model that answers after the switch (differs from `to` after a fallback).")
    fallback_reason: str | None = Field(default=None, description="Why `answered_by` differs from `to`.")


class ModelOption(Shape):
    """One entry of the ``models`` trait. ``name`` is empty for a provider that lists no model."""

    provider: str
    name: str
    short_name: str
    available: bool
    reason: str | None


RetryKind = TypeAliasType("RetryKind", Literal["rate_limited", "provider_error", "timeout", "connection"])


class RetryData(Shape):
    """A reply waiting to try again after a transient error."""

    attempt: int = Field(description="The attempt that comes next (2 for the first retry).")
    max_attempts: int
    wait_s: float
    until: float = Field(description="When the next attempt starts (epoch seconds).")
    kind: RetryKind
    reason: str


ReplyState = TypeAliasType("ReplyState", Literal["waiting", "streaming", "retrying"])


class ProgressData(Shape):
    """The ``progress`` trait while a reply is in flight."""

    message_id: str
    state: ReplyState
    started_at: float
    first_token_at: float | None
    tokens: int
    model: str | None
    retry: RetryData | None = Field(default=None, description="Set while `state` is `retrying`.")


class BatchData(Shape):
    """The ``batch`` trait while a batch runs on the session, and its summary once done."""

    completed: int
    failed: int
    total: int
    active: str | None
    done: bool
    elapsed_s: float | None = Field(default=None, description="Seconds from start to end (set once done).")
    message_index: int | None = Field(
        default=None, description="Once done: the number of messages then; the summary line goes there.")


class Empty(Shape):
    """An empty object: no reply (or batch) in flight."""


class SettingsValues(Shape):
    """A session's model and reply parameters (null: not set, the default applies)."""

    model: str
    temperature: float | None
    max_tokens: int | None
    system_prompt: str | None


class Accepts(Shape):
    """What the model answering now can take besides text (text files go to every model)."""

    images: bool
    documents: bool


class AttachLimits(Shape):
    """What one message may carry (the kernel checks the same numbers)."""

    max_total_bytes: int
    max_image_bytes: int
    max_count: int


class SessionSettingsData(Shape):
    """The ``session_settings`` trait: the Session settings popover's values and the defaults inherited."""

    own: SettingsValues = Field(description="The session's own values (`model`: the model asked for).")
    defaults: SettingsValues = Field(description="What applies where the session sets nothing (settings.toml).")
    accepts: Accepts
    limits: AttachLimits


class RevealData(Shape):
    """The ``reveal`` trait: scroll the log to a message and mark it (a search hit opened from the panel)."""

    message_id: str
    nonce: int = Field(description="Changes each time, so revealing the same message again is seen.")


SessionState = TypeAliasType("SessionState", Literal["open", "closed", "deleted", "missing"])


class ChatTraits(Shape):
    """Synced traits of ``ChatWidget``."""

    session_id: str
    session_name: str
    model: str
    """The model replies come from now (after any fallback)."""
    session_state: SessionState
    notice: str
    messages: list[MessageData]
    switches: list[SwitchData]
    models: list[ModelOption]
    progress: ProgressData | Empty
    batch: BatchData | Empty
    placement: Literal["", "tab"] = Field(
        default="", description="`tab`: opened for a JupyterLab tab (open_tab); views outside the tab point to it.")
    session_settings: SessionSettingsData | Empty = Field(default_factory=dict, description="For the settings popover.")
    reveal: RevealData | Empty = Field(default_factory=dict, description="A message to scroll to, or {}.")


# -- the chat's custom messages ------------------------------------------------------------------
class DeltaMsg(Shape):
    """Kernel -> browser: reply text appended since the last delta (at most one every ~50 ms per widget)."""

    type: Literal["delta"]
    message_id: str
    seq: int
    offset: int = Field(description="Where `text` starts in the reply, in UTF-16 code units.")
    text: str
    tokens: int


class AckMsg(Shape):
    """Kernel -> browser: the result of an action a view asked for."""

    type: Literal["ack"]
    client_id: str
    error: str | None


class BundleMsg(Shape):
    """Kernel -> browser: the chat's code and styles, when a view asked for them (see chat_loader.ts)."""

    type: Literal["bundle"]
    id: str
    js: str
    css: str


KernelMsg = TypeAliasType("KernelMsg", DeltaMsg | AckMsg | BundleMsg)


class AttachmentMeta(Shape):
    """A file sent with a message; its bytes are the message's binary buffer at the same index."""

    name: str
    media_type: str
    size: int


class SendMsg(Shape):
    type: Literal["send"]
    text: str
    client_id: str
    attachments: list[AttachmentMeta] = Field(default_factory=list, description="Files, bytes in the buffers.")


class MessageActionMsg(Shape):
    """Act on one message: ``delete`` it (a prompt with its replies), ``checkout`` the newest branch through
    it (the branch switcher), or ``retry`` it (a failed reply, asked again in place)."""

    type: Literal["delete", "checkout", "retry"]
    message_id: str
    client_id: str


class EditMsg(Shape):
    """Ask again from one of the user's messages with ``text`` instead (a new branch)."""

    type: Literal["edit"]
    message_id: str
    text: str
    client_id: str


class ConfigureMsg(Shape):
    """The Session settings popover was saved (null / empty: back to the inherited default)."""

    type: Literal["configure"]
    model: str
    temperature: float | None
    max_tokens: int | None
    system_prompt: str
    client_id: str


class ActionMsg(Shape):
    """Stop, regenerate or clear."""

    type: Literal["stop", "regenerate", "clear"]
    client_id: str


class SwitchModelMsg(Shape):
    type: Literal["switch_model"]
    model: str
    client_id: str


class HelloMsg(Shape):
    """A view asks for the whole text of the reply in flight (it joined mid-reply or found a gap)."""

    type: Literal["hello"]


class RefreshModelsMsg(Shape):
    type: Literal["refresh_models"]


class ViewOpenMsg(Shape):
    """A view appeared (``open``) or went away."""

    type: Literal["view"]
    open: bool


class BundleRequestMsg(Shape):
    """A view asks for the chat's code and styles (no server serves this build)."""

    type: Literal["bundle"]


class WhereMsg(Shape):
    """Where a view ended up, once in the page: whether the page can open tabs, whether it is in one."""

    type: Literal["where"]
    tabs: bool
    in_tab: bool


ViewMsg = TypeAliasType("ViewMsg", SendMsg | ActionMsg | SwitchModelMsg | HelloMsg | RefreshModelsMsg | ViewOpenMsg
                        | BundleRequestMsg | WhereMsg | MessageActionMsg | EditMsg | ConfigureMsg)


# -- the hub panel -------------------------------------------------------------------------------
RowStatus = TypeAliasType("RowStatus", Literal["idle", "streaming", "closed", "stored"])


class SessionRow(Shape):
    """One row of ``HubPanel.sessions``."""

    id: str
    name: str
    model: str
    status: RowStatus
    message_count: int
    last_activity: float
    input_tokens: int
    output_tokens: int
    cost: float | None
    cost_partial: bool = Field(default=False, description="Some replies' prices are unknown: `cost` is a floor.")
    live: bool


class InlineChat(Shape):
    """A chat the panel shows inside itself (where no tab can open): its widget's model id and session."""

    model_id: str
    session_id: str
    name: str


class PanelTraits(Shape):
    """Synced traits of ``HubPanel`` (its scope, a local path, is not synced: saved notebooks stay clean)."""

    sessions: list[SessionRow]
    inline_chats: list[InlineChat] = Field(default_factory=list, description="Chats shown in the panel.")


class FinishedMsg(Shape):
    """Kernel -> panel: a reply of some session ended."""

    type: Literal["finished"]
    session_id: str
    name: str
    status: MessageStatus


class NoticeMsg(Shape):
    """Kernel -> panel: an action failed."""

    type: Literal["notice"]
    text: str


class HighlightPiece(Shape):
    text: str
    match: bool


class SearchHitData(Shape):
    """One search hit (``SearchHit.to_dict()`` in ai_sessions/search.py)."""

    session_id: str
    session_name: str
    message_id: str
    position: int
    role: Role
    created_at: float
    snippet: str
    highlights: list[HighlightPiece] = Field(description="The snippet in pieces, the matched words marked.")


class SearchResultsMsg(Shape):
    """Kernel -> panel: the hits of the search a view asked for (``query`` says which)."""

    type: Literal["search_results"]
    query: str
    hits: list[SearchHitData]
    error: str | None = None


PanelKernelMsg = TypeAliasType("PanelKernelMsg", FinishedMsg | NoticeMsg | SearchResultsMsg)


class PanelActionMsg(Shape):
    type: Literal["stop", "close", "delete"]
    session_id: str


class PanelOpenMsg(Shape):
    """Open a session's chat: in a tab where this page can open one (``tabs``), else inside the panel."""

    type: Literal["open"]
    session_id: str
    tabs: bool
    message_id: str | None = Field(default=None, description="Scroll the chat to this message (a search hit).")


class PanelCloseInlineMsg(Shape):
    type: Literal["close_inline"]
    model_id: str


class PanelRefreshMsg(Shape):
    type: Literal["refresh"]


class PanelSearchMsg(Shape):
    """Search the stored sessions (the panel's Search sessions box)."""

    type: Literal["search"]
    query: str
    all_scopes: bool


PanelViewMsg = TypeAliasType("PanelViewMsg", PanelActionMsg | PanelOpenMsg | PanelCloseInlineMsg | PanelRefreshMsg
                             | PanelSearchMsg)

#: What js/src/protocol.ts exports, in order (models and aliases they use come along).
EXPORTS = (ChatTraits, KernelMsg, ViewMsg, PanelTraits, PanelKernelMsg, PanelViewMsg)
