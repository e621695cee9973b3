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


class UsageData(Shape):
    """Token counts of one reply (the cache counts only when the provider used its prompt cache)."""

    input_tokens: int
    output_tokens: int
    cache_read_tokens: int | None = Field(default=None, description="Input tokens read from the prompt cache.")
    cache_write_tokens: int | None = Field(default=None, description="Input tokens written to the prompt cache.")


# -- issue 12: message parts, tools, context, notebook (chat12) ----------------------------------
class TextPartData(Shape):
    """Text (markdown in replies)."""

    kind: Literal["text"]
    text: str


class ImagePartData(Shape):
    """An image; its bytes stay in the kernel (a view asks for them with a ``blob`` message)."""

    kind: Literal["image"]
    media_type: str
    blob: str | None
    size: int | None


class FilePartData(Shape):
    """A file; its bytes stay in the kernel."""

    kind: Literal["file"]
    name: str
    media_type: str
    blob: str | None
    size: int | None


class ToolCallPartData(Shape):
    """The model asked to call tool ``name`` with ``arguments``; ``id`` pairs it with its result."""

    kind: Literal["tool_call"]
    id: str
    name: str
    arguments: dict[str, object]


class ToolResultPartData(Shape):
    """What tool call ``call_id`` returned (its error when ``is_error``)."""

    kind: Literal["tool_result"]
    call_id: str
    name: str
    is_error: bool
    parts: list[MessagePart]


class StructuredPartData(Shape):
    """A validated structured result (JSON) for ``schema``."""

    kind: Literal["structured"]
    data: object
    schema_: str = Field(alias="schema")


MessagePart = TypeAliasType(  # type: ignore[misc]
    "MessagePart", TextPartData | ImagePartData | FilePartData | ToolCallPartData | ToolResultPartData
    | StructuredPartData)
ToolResultPartData.model_rebuild()


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
    parts: list[MessagePart] = Field(
        default_factory=list, description="The message's parts: text, images, files, tool calls and results.")
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
    candidates: list[str] | None = Field(
        default=None, description="The Auto entry (provider `auto`): the candidates it picks from, in order.")
    tools: bool | None = Field(default=None, description="Whether the model can call tools (None: unknown).")


class AgentOption(Shape):
    """One entry of the ``agents`` trait: an ``[agents.NAME]`` preset of the settings."""

    name: str
    model: str | None
    description: str
    tools: list[str]


class ApprovalData(Shape):
    """One entry of the ``approvals`` trait: a tool call waiting for the user's Approve or Deny."""

    call_id: str
    message_id: str
    name: str
    source: str
    arguments: dict[str, object]


class ActivityData(Shape):
    """What a reply waits for between model rounds: tools running, or the user's approval."""

    kind: Literal["tool", "approval"]
    names: list[str] = Field(description="The tools called (or waiting for approval), in call order.")


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
    activity: ActivityData | None = Field(default=None, description="Set while tools run or wait for approval.")


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
    approvals: list[ApprovalData] = Field(default_factory=list, description="Tool calls waiting for approval.")
    agents: list[AgentOption] = Field(default_factory=list, description="Agent presets, offered above the models.")
    widget_id: str = Field(
        default="", description="This widget's model id: a view finds the notebook cell that shows it by it.")
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


class VariableRow(Shape):
    """A variable of the user's namespace, for ``@`` completion (never its value)."""

    name: str
    type: str
    shape: str


class VariablesMsg(Shape):
    """Kernel -> browser: the user's variables, answering a ``variables`` request."""

    type: Literal["variables"]
    request_id: str
    rows: list[VariableRow]


class InsertCellMsg(Shape):
    """Kernel -> browser: add a cell below the chat's cell (the ``insert_cell`` tool); a view answers
    with an ``inserted`` message."""

    type: Literal["insert_cell"]
    request_id: str
    source: str
    cell_type: Literal["code", "markdown"]


class BlobMsg(Shape):
    """Kernel -> browser: the bytes of an image a view asked for (base64), or why not."""

    type: Literal["blob"]
    blob: str
    media_type: str
    data: str | None
    error: str | None


KernelMsg = TypeAliasType("KernelMsg", DeltaMsg | AckMsg | BundleMsg | VariablesMsg | InsertCellMsg | BlobMsg)


class AttachmentMeta(Shape):
    """A file sent with a message; its bytes are the message's binary buffer at the same index."""

    name: str
    media_type: str
    size: int


class SendMsg(Shape):
    type: Literal["send"]
    text: str
    client_id: str
    context: list[str] = Field(
        default_factory=list, description="Names written as `@name` in the text: the kernel attaches those that exist.")
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
    """Stop, regenerate, clear, or inspect (open the session's inspector)."""

    type: Literal["stop", "regenerate", "clear", "inspect"]
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


class ApproveMsg(Shape):
    """The user's answer to a tool call waiting for approval."""

    type: Literal["approve"]
    call_id: str
    approved: bool
    always: bool = Field(description="Always allow this tool in this session (with `approved`).")


class VariablesRequestMsg(Shape):
    """A view asks for the user's variables (``@`` was typed)."""

    type: Literal["variables"]
    request_id: str


class InsertedMsg(Shape):
    """A view's answer to ``insert_cell``: ``error`` is null once the cell was added."""

    type: Literal["inserted"]
    request_id: str
    error: str | None
    where: str = Field(default="", description="Where the cell went, e.g. `below the chat's cell (cell 4)`.")


class UseAgentMsg(Shape):
    """Apply an agent preset to the session."""

    type: Literal["use_agent"]
    name: str
    client_id: str


class BlobRequestMsg(Shape):
    """A view asks for an image's bytes (to show a thumbnail)."""

    type: Literal["blob"]
    blob: str


ViewMsg = TypeAliasType("ViewMsg", SendMsg | ActionMsg | SwitchModelMsg | HelloMsg | RefreshModelsMsg | ViewOpenMsg
                        | BundleRequestMsg | WhereMsg | ApproveMsg | VariablesRequestMsg | InsertedMsg | UseAgentMsg
                        | BlobRequestMsg | MessageActionMsg | EditMsg | ConfigureMsg)


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


class JobRow(Shape):
    """One row of ``HubPanel.jobs``: a map not ended (live, or at a provider's Batch API)."""

    id: str
    session: str = Field(description="The session's name, or empty when it is not in this notebook.")
    mode: Literal["live", "batch"]
    model: str
    state: Literal["submitting", "running", "cancelling", "collecting", "interrupted"]
    provider_state: str | None = Field(description="The provider's own word for a batch job's state.")
    completed: int | None
    failed: int | None
    total: int
    followed: bool = Field(description="This kernel runs or polls the job.")


class PanelTraits(Shape):
    """Synced traits of ``HubPanel`` (its scope, a local path, is not synced: saved notebooks stay clean)."""

    sessions: list[SessionRow]
    inline_chats: list[InlineChat] = Field(default_factory=list, description="Chats shown in the panel.")
    jobs: list[JobRow] = Field(default_factory=list, description="The jobs (maps) not ended.")


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
    type: Literal["stop", "close", "delete", "inspect"]
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
