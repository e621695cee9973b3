"""The contract between the widgets' kernel and browser sides (``ai_sessions/widgets/contract.py``).

- ``js/src/protocol.ts`` is what the contract generates (regenerate: ``python -m ai_sessions.widgets.contract_ts``).
- Everything the real widgets send (trait updates and custom messages) conforms to the contract.
- Fixture sequences recorded here from a real ChatWidget (emoji, combining marks, CRLF, a lost message, a
  view joining mid-reply, a stop, a model switch) are committed under ``js/test/fixtures/chat/``, where vitest
  replays them through the real merge and view code. This test records them again and compares; after a
  deliberate change, write them anew with ``AI_SESSIONS_RECORD_FIXTURES=1 pytest tests/unit/test_widget_contract.py``.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("anywidget")
pytest.importorskip("pydantic")
widgets = pytest.importorskip("ai_sessions.widgets", reason="build the JS bundle first (cd js && npm run build)")

from pydantic import TypeAdapter  # noqa: E402

from ai_sessions.model import Usage  # noqa: E402
from ai_sessions.parts import ToolCallPart  # noqa: E402
from ai_sessions.providers import register  # noqa: E402
from ai_sessions.providers.base import (  # noqa: E402
    Availability,
    Capabilities,
    ChatRequest,
    Finished,
    ModelInfo,
    Provider,
    ProviderConfig,
    StreamItem,
    TextDelta,
)
from ai_sessions.settings import Defaults, Settings  # noqa: E402
from ai_sessions.widgets import chat as chat_module  # noqa: E402
from ai_sessions.widgets import contract, contract_ts  # noqa: E402

ChatWidget, HubPanel = widgets.ChatWidget, widgets.HubPanel
FIXTURES = Path(__file__).resolve().parents[2] / "js" / "test" / "fixtures"
CHAT_FIXTURES = FIXTURES / "chat"
TIMEOUT = 10
END = object()


# -- a provider whose every chunk the test releases ---------------------------------------------------
class Steps:
    """The chunks of the replies in flight: the test pushes them one by one (END finishes the reply)."""

    queue: asyncio.Queue[Any] | None = None
    loop: asyncio.AbstractEventLoop | None = None


class Calls(tuple):  # type: ignore[type-arg]
    """Pushed instead of a chunk: the round ends asking for these tool calls."""


class SteppedProvider(Provider):
    kind = "stepped"
    key_env = None
    capabilities = Capabilities(tools=True)

    def availability(self) -> Availability:
        return Availability(True)

    def curated_models(self) -> list[ModelInfo]:
        return [ModelInfo(self.name, "m1", "m1"), ModelInfo(self.name, "m2", "m2")]

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamItem]:
        assert Steps.queue is not None
        count = 0
        while (chunk := await Steps.queue.get()) is not END:
            if isinstance(chunk, Calls):
                yield Finished(Usage(len(request.turns), count), "tool_calls", tuple(chunk))
                return
            count += 1
            yield TextDelta(chunk)
        yield Finished(Usage(len(request.turns), count), "stop")


register("stepped", SteppedProvider)


@pytest.fixture
def hub(make_hub):
    hub = make_hub(settings=Settings(defaults=Defaults(model="stepped:m1"),
                                     providers={"stepped": ProviderConfig("stepped", "stepped")}))
    Steps.queue, Steps.loop = asyncio.Queue(), hub.runtime.loop.loop
    return hub


@pytest.fixture(autouse=True)
def flush_at_once(monkeypatch) -> Iterator[None]:
    """Every delta event is flushed at once, so the recorded sequences do not depend on timing; the
    test's widgets are closed after it."""
    monkeypatch.setattr(chat_module, "FLUSH_INTERVAL_S", 0.0)
    yield
    while Wire.opened:
        Wire.opened.pop().close()


def push(chunk: Any) -> None:
    assert Steps.loop is not None and Steps.queue is not None
    Steps.loop.call_soon_threadsafe(Steps.queue.put_nowait, chunk)


# -- checking against the contract ------------------------------------------------------------------
CHAT_FIELDS = {name: TypeAdapter(field.annotation) for name, field in contract.ChatTraits.model_fields.items()}
PANEL_FIELDS = {name: TypeAdapter(field.annotation) for name, field in contract.PanelTraits.model_fields.items()}
KERNEL_MSG = TypeAdapter(contract.KernelMsg)
VIEW_MSG = TypeAdapter(contract.ViewMsg)
PANEL_MSG = TypeAdapter(contract.PanelKernelMsg)


def check_state(fields: dict[str, TypeAdapter[Any]], state: dict[str, Any]) -> dict[str, Any]:
    """The contract's traits of ``state`` (anywidget's own are left out), each checked."""
    ours = {k: v for k, v in state.items() if k in fields}
    for key, value in ours.items():
        fields[key].validate_python(value, strict=True)
    return ours


class Wire:
    """Records what a widget sends to the browser, as the browser gets it, checked against the contract.

    ``steps`` is the replayable sequence: ``{"kernel": "update", "state": ...}``, ``{"kernel": "custom",
    "content": ...}`` (``"lost": true`` for one the browser never receives), ``{"user": ...}`` (an
    action the replay performs through the view), ``{"view": ...}`` (a message the view must send), and
    ``{"expect": {"message_id", "text"}}`` (what the view must show then). Acks are checked, not kept:
    they come from the kernel's main thread, so their place among the hub thread's updates varies.
    """

    opened: list[Any] = []

    def __init__(self, widget: Any) -> None:
        self.widget = widget
        Wire.opened.append(widget)
        self.initial = check_state(CHAT_FIELDS, widget.get_state())
        contract.ChatTraits.model_validate(self.initial, strict=True)
        self.steps: list[dict[str, Any]] = []
        self._cond = threading.Condition()
        original = widget._send

        def send(msg: dict[str, Any], buffers: Any = None) -> None:
            with self._cond:
                if msg["method"] == "update":
                    state = check_state(CHAT_FIELDS, msg["state"])
                    if state:  # one update carries the traits changed together (a set: sort them)
                        state = json.loads(json.dumps(dict(sorted(state.items()))))
                        self.steps.append({"kernel": "update", "state": state})
                elif msg["method"] == "custom":
                    KERNEL_MSG.validate_python(msg["content"], strict=True)
                    if msg["content"]["type"] != "ack":
                        self.steps.append({"kernel": "custom", "content": dict(msg["content"])})
                self._cond.notify_all()
            original(msg, buffers)

        widget._send = send

    def wait(self, predicate: Callable[[], bool], what: str) -> None:
        with self._cond:
            assert self._cond.wait_for(predicate, TIMEOUT), f"timed out waiting for {what}"

    def deltas(self) -> list[dict[str, Any]]:
        with self._cond:
            return [s["content"] for s in self.steps if s.get("kernel") == "custom"]

    def push(self, chunk: str) -> None:
        """Release ``chunk`` and wait for the delta that carries it (each is flushed at once)."""
        count = len(self.deltas())
        push(chunk)
        self.wait(lambda: len(self.deltas()) > count, f"the delta of {chunk!r}")

    def hello(self) -> None:
        """The view asks for the whole text (as a view does when it opens or finds a gap); wait for it."""
        count = len(self.deltas())
        self.view({"type": "hello"}, by="view")
        self.wait(lambda: any(d["offset"] == 0 for d in self.deltas()[count:]), "the whole text again")

    def wait_status(self, status: str, count: int) -> None:
        def seen() -> bool:
            messages = self.widget.messages
            return len(messages) == count and messages[-1]["status"] == status and self.widget.progress == {}

        self.wait(seen, f"{count} messages, the last {status}")

    def stream(self, chunks: list[str], message_id: str, text: str = "") -> None:
        """Release ``chunks`` one by one, expecting the view to show the text so far (after ``text``)."""
        for chunk in chunks:
            text += chunk
            self.push(chunk)
            self.expect(message_id, text)

    def expect(self, message_id: str, text: str) -> None:
        with self._cond:
            self.steps.append({"expect": {"message_id": message_id, "text": text}})

    def view(self, msg: dict[str, Any], *, by: str) -> None:
        """A message from the view: ``by="user"`` is an action the replay performs, ``by="view"`` one the
        view must send by itself. The kernel gets it as the browser would send it."""
        VIEW_MSG.validate_python(msg, strict=True)
        with self._cond:
            self.steps.append({"user" if by == "user" else "view": msg})
        view_msg(self.widget, msg)

    def fixture(self, description: str) -> dict[str, Any]:
        return normalise({"description": description, "initial": self.initial, "steps": self.steps})


def view_msg(widget: Any, content: dict[str, Any]) -> None:
    widget._on_view_msg(widget, content, [])


UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
TIMES = {"created_at": 1_700_000_000.0, "started_at": 1_700_000_000.0, "first_token_at": 1_700_000_000.5,
         "completed_at": 1_700_000_001.0, "until": 1_700_000_008.0, "last_activity": 1_700_000_001.0,
         "elapsed": 1.0, "first_token_s": 0.5}


def normalise(value: Any) -> Any:
    """Ids and times made stable (``id-1``, ``id-2``... in order of appearance; fixed times)."""
    names: dict[str, str] = {}

    def walk(v: Any, key: str = "") -> Any:
        if key == "models":  # only the test's provider: the others' reasons are not this contract's business
            return [walk(m) for m in v if m["provider"] == "stepped"]
        if isinstance(v, dict):
            return {k: walk(x, k) for k, x in v.items()}
        if isinstance(v, list):
            return [walk(x) for x in v]
        if isinstance(v, str) and (UUID.match(v) or (key == "widget_id" and v)):
            return names.setdefault(v, f"id-{len(names) + 1}")
        if key in TIMES and isinstance(v, float):
            return TIMES[key]
        return v

    return walk(value)


def message_id(widget: Any, index: int) -> str:
    return widget.messages[index]["id"]


# -- the recorded scenarios ---------------------------------------------------------------------------
def record_emoji(hub: Any) -> dict[str, Any]:
    s = hub.session("emoji")
    wire = Wire(ChatWidget(session=s))
    s.submit("Smile")
    wire.wait(lambda: len(wire.widget.messages) == 2, "reply started")
    wire.stream(["😀a", "bc", " 👍🏽 ok", " 👨‍👩‍👧 family \U0001d465"], message_id(wire.widget, 1))
    push(END)
    wire.wait_status("complete", 2)
    wire.expect(message_id(wire.widget, 1), "😀abc 👍🏽 ok 👨‍👩‍👧 family \U0001d465")
    return wire.fixture("Emoji and other characters outside the BMP (two UTF-16 units each) streamed in pieces.")


def record_combining(hub: Any) -> dict[str, Any]:
    s = hub.session("combining")
    wire = Wire(ChatWidget(session=s))
    s.submit("Accents")
    wire.wait(lambda: len(wire.widget.messages) == 2, "reply started")
    wire.stream(["cafe", "\u0301 and n", "\u0303o 😀", "\u0308 x"], message_id(wire.widget, 1))
    push(END)
    wire.wait_status("complete", 2)
    return wire.fixture("Combining marks arriving in the piece after their base character.")


def record_crlf(hub: Any) -> dict[str, Any]:
    s = hub.session("crlf")
    wire = Wire(ChatWidget(session=s))
    s.submit("Lines")
    wire.wait(lambda: len(wire.widget.messages) == 2, "reply started")
    wire.stream(["line 1 😀\r", "\nline 2\r\n", "\r\nline 3"], message_id(wire.widget, 1))
    push(END)
    wire.wait_status("complete", 2)
    return wire.fixture("Windows line ends, one split between two pieces.")


def record_gap(hub: Any) -> dict[str, Any]:
    s = hub.session("gap")
    wire = Wire(ChatWidget(session=s))
    s.submit("Count")
    wire.wait(lambda: len(wire.widget.messages) == 2, "reply started")
    mid = message_id(wire.widget, 1)
    wire.stream(["😀 one"], mid)
    wire.push(" two")
    wire.steps[-1]["lost"] = True  # the browser never gets this one
    wire.push(" three")
    wire.hello()  # the view sees the gap and asks for the whole text
    wire.expect(mid, "😀 one two three")
    push(END)
    wire.wait_status("complete", 2)
    return wire.fixture("A delta lost on the way: the view asks for the whole text (hello) and catches up.")


def record_join(hub: Any) -> dict[str, Any]:
    s = hub.session("join")
    first = Wire(ChatWidget(session=s))
    s.submit("Late")
    first.wait(lambda: len(first.widget.messages) == 2, "reply started")
    mid = message_id(first.widget, 1)
    first.stream(["😀 early", " text"], mid)
    wire = Wire(ChatWidget(session=s))  # a view opened mid-reply: its first words are "view", "hello"
    wire.view({"type": "view", "open": True}, by="view")
    wire.hello()
    wire.expect(mid, "😀 early text")
    wire.stream([" and more"], mid, "😀 early text")
    push(END)
    wire.wait_status("complete", 2)
    return wire.fixture("A view that joins while a reply streams catches up from the start.")


def record_stop(hub: Any) -> dict[str, Any]:
    s = hub.session("stop")
    wire = Wire(ChatWidget(session=s))
    s.submit("Go on")
    wire.wait(lambda: len(wire.widget.messages) == 2, "reply started")
    wire.stream(["😀 partial", " text"], message_id(wire.widget, 1))
    wire.view({"type": "stop", "client_id": "stop-1"}, by="user")
    wire.wait_status("stopped", 2)
    wire.expect(message_id(wire.widget, 1), "😀 partial text")
    return wire.fixture("Stop while streaming: the reply keeps its text and is marked stopped.")


def record_switch(hub: Any) -> dict[str, Any]:
    s = hub.session("switch")
    wire = Wire(ChatWidget(session=s))
    s.submit("First")
    wire.wait(lambda: len(wire.widget.messages) == 2, "reply started")
    wire.stream(["one 😀"], message_id(wire.widget, 1))
    push(END)
    wire.wait_status("complete", 2)
    wire.view({"type": "switch_model", "model": "stepped:m2", "client_id": "switch-1"}, by="user")
    wire.wait(lambda: wire.widget.model == "stepped:m2" and len(wire.widget.switches) == 1, "switch shown")
    s.submit("Second")
    wire.wait(lambda: len(wire.widget.messages) == 4, "second reply started")
    wire.stream(["two"], message_id(wire.widget, 3))
    push(END)
    wire.wait_status("complete", 4)
    return wire.fixture("A model switch between two replies: a divider before the third message.")


def record_tools(hub: Any) -> dict[str, Any]:
    def count_rows(table: str) -> int:
        """Count the rows of a table."""
        return 3

    s = hub.session("tools")
    s.tools.add(count_rows, approval="ask")
    wire = Wire(ChatWidget(session=s))
    wire.view({"type": "view", "open": True}, by="view")  # a view is open: the chat can be asked
    wire.view({"type": "hello"}, by="view")
    s.submit("How many rows?")
    wire.wait(lambda: len(wire.widget.messages) == 2, "reply started")
    mid = message_id(wire.widget, 1)
    wire.stream(["Let me count. "], mid)
    push(Calls([ToolCallPart("call-1", "count_rows", {"table": "orders"})]))
    wire.wait(lambda: bool(wire.widget.approvals), "the approval card")
    wire.view({"type": "approve", "call_id": "call-1", "approved": True, "always": False}, by="user")

    def result_shown() -> bool:
        parts = wire.widget.messages[-1]["parts"]
        return any(p["kind"] == "tool_result" for p in parts) and not wire.widget.progress.get("activity")

    wire.wait(result_shown, "the tool's result")
    wire.stream(["There are 3 rows."], mid, "Let me count. ")
    push(END)
    wire.wait_status("complete", 2)
    wire.expect(mid, "Let me count. There are 3 rows.")
    return wire.fixture("A reply that calls a tool: the approval card, Approve, the call and its result between "
                        "the reply's two rounds of text.")


SCENARIOS: dict[str, Callable[[Any], dict[str, Any]]] = {
    "emoji": record_emoji, "combining": record_combining, "crlf": record_crlf, "gap": record_gap,
    "join": record_join, "stop": record_stop, "switch": record_switch, "tools": record_tools,
}


def dump(fixture: dict[str, Any]) -> str:
    return json.dumps(fixture, indent=1, ensure_ascii=False) + "\n"


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_recorded_fixtures_match_the_real_widget(hub, name):
    fixture = dump(SCENARIOS[name](hub))
    path = CHAT_FIXTURES / f"{name}.json"
    if os.environ.get("AI_SESSIONS_RECORD_FIXTURES"):
        CHAT_FIXTURES.mkdir(parents=True, exist_ok=True)
        path.write_text(fixture, encoding="utf-8")
    assert path.exists(), f"{path} is missing: record it with AI_SESSIONS_RECORD_FIXTURES=1"
    assert path.read_text(encoding="utf-8") == fixture, (
        f"{path.name} differs from what the widget sends now; if that change is meant, record the fixtures "
        "again (AI_SESSIONS_RECORD_FIXTURES=1) and check that vitest still passes")


@pytest.mark.parametrize(("widget", "shape"), [(ChatWidget, contract.ChatTraits), (HubPanel, contract.PanelTraits)])
def test_every_synced_trait_is_in_the_contract(widget, shape):
    """A trait added to a widget without its shape in contract.py would reach the browser unchecked."""
    import anywidget

    ours = set(widget.class_trait_names(sync=True)) - set(anywidget.AnyWidget.class_trait_names(sync=True))
    assert ours == set(shape.model_fields), "declare the widget's synced traits in ai_sessions/widgets/contract.py"


def test_protocol_ts_is_generated_from_the_contract():
    assert contract_ts.TARGET.read_text(encoding="utf-8") == contract_ts.typescript(), (
        "js/src/protocol.ts differs from the contract: run python -m ai_sessions.widgets.contract_ts")


def test_offsets_count_utf16_code_units(hub):
    s = hub.session("units")
    wire = Wire(ChatWidget(session=s))
    s.submit("x")
    wire.wait(lambda: len(wire.widget.messages) == 2, "reply started")
    wire.stream(["😀a", "bc"], message_id(wire.widget, 1))
    push(END)
    wire.wait_status("complete", 2)
    deltas = [step["content"] for step in wire.steps if step.get("kernel") == "custom"]
    assert [(d["offset"], d["text"]) for d in deltas] == [(0, "😀a"), (3, "bc")]


def test_the_hub_panel_sends_what_the_contract_says(hub):
    s = hub.session("p")
    panel = HubPanel(hub=hub)
    sent: list[dict[str, Any]] = []
    cond = threading.Condition()
    original = panel._send

    def send(msg: dict[str, Any], buffers: Any = None) -> None:
        with cond:
            sent.append(msg)
            cond.notify_all()
        original(msg, buffers)

    panel._send = send
    contract.PanelTraits.model_validate(check_state(PANEL_FIELDS, panel.get_state()), strict=True)
    s.submit("hello")
    push("hi")
    push(END)
    with cond:
        assert cond.wait_for(lambda: any(m["method"] == "custom" for m in sent), TIMEOUT)
        assert cond.wait_for(lambda: any(m["method"] == "update" and m["state"].get("sessions")
                                         and m["state"]["sessions"][0]["message_count"] == 2 for m in sent), TIMEOUT)
    for msg in sent:
        if msg["method"] == "update":
            check_state(PANEL_FIELDS, msg["state"])
        else:
            PANEL_MSG.validate_python(msg["content"], strict=True)
    row = panel.sessions[0]
    assert row["cost_partial"] is False
    panel.close()


SHORT_NAMES = ["anthropic:claude-haiku-4-5-20251001", "anthropic:claude-haiku-4-5", "anthropic:claude-sonnet-4-6",
               "openai:gpt-4o-mini", "openai:gpt-4o-2024-08-06", "gemini:gemini-2.5-flash", "local:smollm2",
               "ollama:library/llama3.2", "azure:prod-deployment", "fake:echo", "gpt-4o", "mistral:12345678"]


def test_short_names_are_the_same_on_both_sides():
    """The browser shortens model names it finds in no model list (dividers, panel rows) by the same rule
    as the kernel (``short_model_name``); vitest checks its rule against this fixture."""
    from ai_sessions.providers.base import short_model_name

    table = {name: short_model_name(name.split(":", 1)[-1]) for name in SHORT_NAMES}
    text = json.dumps(table, indent=1) + "\n"
    path = FIXTURES / "short_names.json"
    if os.environ.get("AI_SESSIONS_RECORD_FIXTURES"):
        path.write_text(text, encoding="utf-8")
    assert path.read_text(encoding="utf-8") == text
