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


class SendMsg(Shape):
    type: Literal["send"]
    text: str
    client_id: str
    context: list[str] = Field(
        default_factory=list, description="Names written as `@name` in the text: the kernel attaches those that exist.")


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
                        | BlobRequestMsg)


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


PanelKernelMsg = TypeAliasType("PanelKernelMsg", FinishedMsg | NoticeMsg)


class PanelActionMsg(Shape):
    type: Literal["stop", "close", "delete", "inspect"]
    session_id: str


class PanelOpenMsg(Shape):
    """Open a session's chat: in a tab where this page can open one (``tabs``), else inside the panel."""

    type: Literal["open"]
    session_id: str
    tabs: bool


class PanelCloseInlineMsg(Shape):
    type: Literal["close_inline"]
    model_id: str


class PanelRefreshMsg(Shape):
    type: Literal["refresh"]


PanelViewMsg = TypeAliasType("PanelViewMsg", PanelActionMsg | PanelOpenMsg | PanelCloseInlineMsg | PanelRefreshMsg)

#: What js/src/protocol.ts exports, in order (models and aliases they use come along).
EXPORTS = (ChatTraits, KernelMsg, ViewMsg, PanelTraits, PanelKernelMsg, PanelViewMsg)
