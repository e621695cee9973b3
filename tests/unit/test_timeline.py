"""The timeline and the per-model metrics, on the scripted provider: exact rows and columns of a session with
a retry, a failure, a switch and a stop; the same frame after a restart; pieces read incrementally add up to
the whole; the store's event log; pandas only when asked."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from ai_sessions import EventKind, MessageStatus
from ai_sessions.errors import AuthError, RateLimited
from ai_sessions.metrics import COLUMNS as METRIC_COLUMNS
from ai_sessions.metrics import per_model, percentile
from ai_sessions.model import Event
from ai_sessions.providers.base import ProviderConfig
from ai_sessions.settings import Defaults, Settings
from ai_sessions.timeline import COLUMNS, SKIPPED, event_columns, session_columns
from tests.scripted import SCRIPTS, Script

pd = pytest.importorskip("pandas")
ROOT = Path(__file__).resolve().parents[2]
SCRIPTED = {"scripted": ProviderConfig("scripted", "scripted")}


@pytest.fixture
def settings() -> Settings:
    SCRIPTS.clear()
    return Settings(defaults=Defaults(model="scripted:m1"), providers=SCRIPTED)


@pytest.fixture(autouse=True)
def no_waits(monkeypatch):
    import ai_sessions.retry as retry

    monkeypatch.setattr(retry, "_backoff", lambda state: 0.0)


def scripted_session(hub):
    """q1: a retry then complete; q2: an auth failure; a switch to m2; q3: stopped after its first text."""
    s = hub.session("inspected", model="scripted:m1")
    SCRIPTS["m1"] = Script(chunks=["one ", "two"], errors=[RateLimited("slow down", provider="scripted")])
    s.send("q1")
    SCRIPTS["m1"].errors = [AuthError("bad key", provider="scripted")]
    with pytest.raises(AuthError):
        s.send("q2")
    s.switch_model("scripted:m2", reason="compare")
    gate, started = asyncio.Event(), threading.Event()
    SCRIPTS["m2"] = Script(chunks=["partial"], gate=gate, started=started)
    got_text = threading.Event()
    off = hub.on(EventKind.RESPONSE_DELTA, lambda event: got_text.set())
    handle = s.submit("q3")
    assert got_text.wait(10)
    off()
    assert s.cancel()
    assert handle.result(10).status is MessageStatus.STOPPED
    return s


def test_timeline_rows_and_columns(make_hub, settings):
    hub = make_hub(settings=settings)
    s = scripted_session(hub)
    frame = s.timeline()
    assert tuple(frame.columns) == COLUMNS
    assert str(frame["time"].dtype) == "datetime64[ns, UTC]"
    assert frame["time"].is_monotonic_increasing
    for name in ("message", "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "retries"):
        assert str(frame[name].dtype) == "Int64", name
    for name in ("first_token_s", "duration_s", "cost", "retry_wait_s"):
        assert str(frame[name].dtype) == "float64", name

    def cell(value):
        return None if value is pd.NA or value != value else value  # NA and NaN as None

    shown = ["kind", "message", "model", "status", "retries", "error_kind", "switch_reason", "from_model",
             "input_tokens", "output_tokens"]
    rows = [tuple(cell(v) for v in row) for row in frame[shown].itertuples(index=False)]
    m1, m2 = "scripted:m1", "scripted:m2"
    assert rows == [
        ("session.created", None, m1, None, None, None, None, None, None, None),
        ("llm.request.started", 2, m1, None, None, None, None, None, None, None),
        ("llm.request.retry", 2, m1, None, 1, "rate_limited", None, None, None, None),
        ("llm.response.completed", 2, m1, "complete", 1, None, None, None, 1, 2),
        ("llm.request.started", 4, m1, None, None, None, None, None, None, None),
        ("llm.response.failed", 4, m1, "failed", 0, "auth", None, None, None, None),
        ("model.switched", 5, m2, None, None, None, "compare", m1, None, None),
        ("llm.request.started", 6, m2, None, None, None, None, None, None, None),
        ("llm.response.completed", 6, m2, "stopped", 0, None, None, None, 0, 1),
    ]
    ends = frame[frame["kind"].isin(["llm.response.completed", "llm.response.failed"])]
    assert ends["duration_s"].notna().all()
    assert ends["first_token_s"].notna().tolist() == [True, False, True]  # the failed reply had no text
    assert (ends["first_token_s"].dropna() <= ends["duration_s"][ends["first_token_s"].notna()]).all()
    assert ends["message_id"].tolist() == [m.id for m in s.messages if m.role.value == "assistant"]
    assert frame.loc[2, "error"] == "slow down" and frame.loc[5, "error"].startswith("bad key")
    assert frame["tool"].isna().all()


def test_the_same_frame_after_a_restart(make_hub, settings):
    hub = make_hub(settings=settings)
    s = scripted_session(hub)
    before = s.timeline()
    metrics_before = hub.metrics()
    hub.shutdown()
    again = make_hub(settings=settings)
    pd.testing.assert_frame_equal(again.get("inspected").timeline(), before)
    pd.testing.assert_frame_equal(again.metrics(), metrics_before)


def test_metrics_per_model(make_hub, settings):
    hub = make_hub(settings=settings)
    s = scripted_session(hub)
    frame = hub.metrics()
    assert tuple(frame.columns) == METRIC_COLUMNS
    by_model = frame.set_index("model")
    assert by_model.loc["scripted:m1", ["replies", "failed", "stopped"]].tolist() == [2, 1, 0]
    assert by_model.loc["scripted:m1", "failure_rate"] == 0.5
    assert by_model.loc["scripted:m2", ["replies", "failed", "stopped"]].tolist() == [1, 0, 1]
    first = next(m for m in s.messages if m.role.value == "assistant")
    assert by_model.loc["scripted:m1", ["input_tokens", "output_tokens"]].tolist() == [1, 2]
    timeline = s.timeline()
    ttft = timeline.loc[timeline["message_id"] == first.id, "first_token_s"].dropna().iloc[0]
    assert by_model.loc["scripted:m1", "ttft_median_s"] == pytest.approx(ttft)
    assert by_model.loc["scripted:m1", "tokens_per_s"] > 0
    assert pd.isna(by_model.loc["scripted:m1", "cost"])  # the scripted provider has no prices
    assert hub.metrics(all_scopes=True).equals(frame)


def test_metrics_count_one_off_questions_and_other_notebooks(make_hub, settings):
    hub = make_hub(settings=settings)
    SCRIPTS["m1"] = Script(chunks=["a"])
    hub.session("here").send("x")
    other = make_hub(settings=settings, scope="other.ipynb")
    other.session("there").send("y")
    hub.ask("z")
    assert hub.metrics().set_index("model").loc["scripted:m1", "replies"] == 2
    assert hub.metrics(all_scopes=True).set_index("model").loc["scripted:m1", "replies"] == 3


def test_percentile_is_linear_between_ranks():
    assert percentile([], 90) is None
    assert percentile([3.0], 90) == 3.0
    assert percentile([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0], 90) == pytest.approx(9.1)
    assert percentile([2.0, 1.0], 50) == 1.5


def test_incremental_pieces_add_up_to_the_whole(make_hub, settings):
    hub = make_hub(settings=settings)
    s = scripted_session(hub)
    log = hub.store.event_log(s.id, skip=SKIPPED)
    whole = session_columns(hub.store, s.id)
    assert whole == event_columns(log, {})
    for cut in range(1, len(log)):  # e.g. between a reply's start and its retry: the retry still knows its reply
        context: dict = {}
        head = event_columns(log[:cut], {}, context)
        tail = session_columns(hub.store, s.id, after_id=log[cut - 1][0], context=context)
        assert {k: head[k] + tail[k] for k in whole} == whole, cut


def test_event_log_filters_and_keeps_order(make_hub, settings):
    hub = make_hub(settings=settings)
    SCRIPTS["m1"] = Script(chunks=["a"])
    s = hub.session("a")
    s.send("x")
    log = hub.store.event_log(s.id)
    assert [row[2] for row in log] == ["session.created", "message.user", "llm.request.started",
                                       "llm.response.completed", "message.assistant"]
    assert all(row[1] == s.id for row in log)
    assert [row[0] for row in log] == sorted(row[0] for row in log)
    assert "content" not in log[3][4] and log[3][4]["status"] == "complete"
    assert [row[2] for row in hub.store.event_log(s.id, kinds=["message.user"])] == ["message.user"]
    assert hub.store.event_log(s.id, after_id=log[-1][0]) == []
    assert len(hub.store.event_log(scope=hub.scope)) == len(log)
    assert hub.store.event_log(scope="nowhere") == []


def test_a_damaged_payload_loses_only_itself(make_hub, settings):
    hub = make_hub(settings=settings)
    s = hub.session("a")
    hub.runtime.emit(Event(EventKind.SESSION_UPDATED, s.id, {"params": {}}))
    hub.runtime.loop.call(lambda: None)
    store = hub.store
    store.defer(lambda: store._connection().execute(  # damage the file as a crash might
        "UPDATE events SET payload = '{broken' WHERE kind = 'session.updated'")).result()
    assert [(row[2], row[4]) for row in store.event_log(s.id)] == [("session.created", {"name": "a",
                                                                     "model": "scripted:m1"}),
                                                                    ("session.updated", {})]


def test_a_reply_in_flight_shows_its_stored_status(make_hub, settings):
    hub = make_hub(settings=settings)
    gate = asyncio.Event()
    started = threading.Event()
    SCRIPTS["m1"] = Script(chunks=["x"], gate=gate, started=started)
    s = hub.session("a")
    handle = s.submit("q")
    assert started.wait(10)
    frame = s.timeline()
    assert frame["kind"].tolist()[-1] == "llm.request.started" and frame["status"].tolist()[-1] == "streaming"
    hub.runtime.loop.loop.call_soon_threadsafe(gate.set)
    handle.result(10)


def test_import_ai_sessions_does_not_import_pandas():
    code = "import sys, ai_sessions; s = ai_sessions.Session; print('pandas' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": str(ROOT), "PATH": ""}, timeout=60).stdout.strip()
    assert out == "False"


def test_metrics_from_columns_without_any_reply():
    assert per_model(event_columns([], {})) == []


def test_rows_of_failovers_and_tool_calls():
    """llm.request.failed (model="auto") and tool.call.* events (from the tools work) get their own columns."""
    from ai_sessions.timeline import NAMES

    log = [
        [1, "s", "llm.request.started", 10.0, {"message_id": "r", "model": "a:x", "seq": 2}],
        [2, "s", "llm.request.failed", 11.0, {"message_id": "r", "model": "a:x", "seq": 2, "error_kind": "timeout",
                                              "error": "slow", "attempts": 4, "elapsed": 1.0}],
        [3, "s", "model.switched", 11.0, {"from": "a:x", "to": "b:y", "message_index": 1, "reason": "auto: a failed"}],
        [4, "s", "llm.request.started", 11.0, {"message_id": "r", "model": "b:y", "seq": 2}],
        [5, "s", "tool.call.finished", 12.0, {"message_id": "r", "name": "run_python", "elapsed": 0.5,
                                              "status": "ok"}],
        [6, "s", "llm.response.completed", 13.0, {"id": "r", "seq": 2, "model": "b:y", "status": "complete",
                                                  "attempts": 5, "elapsed": 3.0, "first_token_s": 2.0,
                                                  "usage": {"input_tokens": 7, "output_tokens": 3,
                                                            "cache_read_tokens": 4}}],
        [7, "s", "session.closed", 14.0, {"name": "n"}],
    ]
    columns = event_columns(log, {})
    assert set(columns) == set(NAMES) and all(len(v) == len(log) for v in columns.values())
    rows = {c["kind"]: c for c in (dict(zip(NAMES, values, strict=True)) for values in zip(*columns.values(),
                                                                                               strict=True))}
    failed = rows["llm.request.failed"]
    assert (failed["message"], failed["model"], failed["status"], failed["retries"], failed["error_kind"],
            failed["duration_s"]) == (2, "a:x", "failed", 3, "timeout", 1.0)
    tool = rows["tool.call.finished"]
    assert (tool["tool"], tool["model"], tool["message"], tool["duration_s"], tool["status"]) == (
        "run_python", "b:y", 2, 0.5, "ok")
    end = rows["llm.response.completed"]
    assert (end["retries"], end["input_tokens"], end["cache_read_tokens"], end["cache_write_tokens"]) == (3, 7, 4, 0)
    assert rows["model.switched"]["message"] == 2 and rows["session.closed"]["model"] is None
