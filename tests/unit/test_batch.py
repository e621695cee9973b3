"""Batch runs (Session.map): order, bounded concurrency, independence from the history, per-item
failures and retries, cancellation, progress and hub events. Scripted providers; once the local model."""

from __future__ import annotations

import asyncio
import importlib.util
import os
import signal
import threading
from collections.abc import AsyncIterator

import pandas as pd
import pytest
from IPython.utils.capture import capture_output

from ai_sessions import EventKind
from ai_sessions.batch import BatchOptions, BatchRun
from ai_sessions.batch_progress import ProgressView, progress_label
from ai_sessions.errors import AiSessionsError, AuthError, RateLimited
from ai_sessions.model import Usage
from ai_sessions.providers import register
from ai_sessions.providers.base import Availability, ChatRequest, Finished, Provider, ProviderConfig, TextDelta
from ai_sessions.settings import Defaults, Settings
from tests.scripted import SCRIPTS, Script
from tests.unit.test_magics import ipython_shell


class ProbeProvider(Provider):
    """Echoes the prompt; tracks concurrency; fails prompts listed in FAIL; waits on GATE if set."""

    kind = "probe"
    FAIL: dict[str, list[Exception]] = {}
    GATE: asyncio.Event | None = None
    STARTED = threading.Event()
    active = 0
    max_active = 0

    def availability(self) -> Availability:
        return Availability(True)

    async def stream(self, request: ChatRequest) -> AsyncIterator[object]:
        prompt = request.turns[-1].content
        cls = type(self)
        errors = cls.FAIL.get(prompt)
        if errors:
            raise errors.pop(0) if len(errors) > 1 else errors[0]
        cls.active += 1
        cls.max_active = max(cls.max_active, cls.active)
        cls.STARTED.set()
        try:
            for _ in range(3):
                await asyncio.sleep(0)
            if cls.GATE is not None:
                await cls.GATE.wait()
            yield TextDelta(f"<{prompt}>")
            yield Finished(Usage(len(request.turns), 1), "stop")
        finally:
            cls.active -= 1


class InterruptOnThird(ProbeProvider):
    """Interrupts the main thread (as Jupyter's interrupt does) on the third item, which then hangs."""

    calls = 0

    async def stream(self, request: ChatRequest) -> AsyncIterator[object]:
        type(self).calls += 1
        if type(self).calls == 3:
            os.kill(os.getpid(), signal.SIGINT)
            await asyncio.Event().wait()
        async for item in super().stream(request):
            yield item


register("probe", ProbeProvider)
register("interrupting", InterruptOnThird)
PROVIDERS = {name: ProviderConfig(name, name) for name in ("scripted", "probe", "interrupting")}


@pytest.fixture
def shub(make_hub):
    SCRIPTS.clear()
    ProbeProvider.FAIL, ProbeProvider.GATE = {}, None
    ProbeProvider.STARTED = threading.Event()
    ProbeProvider.active = ProbeProvider.max_active = 0
    return make_hub(settings=Settings(defaults=Defaults(model="probe:echo"), providers=PROVIDERS))


def test_results_come_in_input_order_and_stay_out_of_the_history(shub):
    s = shub.session("a", system_prompt="Answer with one word.")
    texts = [f"item {i}" for i in range(12)]
    results = s.map("Label: {text}", texts, concurrency=4)
    assert results == [f"<Label: item {i}>" for i in range(12)]
    assert results.failures == [] and results.usage == Usage(12, 12)
    assert s.messages == ()  # items are independent requests
    assert ProbeProvider.max_active == 4


def test_concurrency_is_bounded(shub):
    shub.session("a").map("{x}", list(range(10)), concurrency=3)
    assert ProbeProvider.max_active == 3


def test_items_use_the_sessions_model_params_and_system_prompt_but_not_its_history(shub):
    SCRIPTS["m"] = Script(chunks=["turns={turns}"])
    s = shub.session("a", model="scripted:m", system_prompt="sys", temperature=0.3, max_tokens=7)
    s.send("earlier")
    assert s.map("Q: {q}", ["x", "y"]) == ["turns=1", "turns=1"]
    request = SCRIPTS["m"].requests[-1]
    assert (request.system, request.temperature, request.max_tokens) == ("sys", 0.3, 7)
    assert s.map("Q: {q}", ["x"], include_history=True, max_tokens=3) == ["turns=3"]
    assert SCRIPTS["m"].requests[-1].max_tokens == 3
    assert len(s.messages) == 2


def test_a_series_gives_a_series_with_the_same_index(shub):
    reviews = pd.Series(["good", "bad"], index=[10, 20], name="review")
    results = shub.session("a").map("Sentiment of: {text}", reviews)
    assert isinstance(results, pd.Series)
    assert list(results.index) == [10, 20]
    assert list(results) == ["<Sentiment of: good>", "<Sentiment of: bad>"]
    assert results.attrs["batch"].failures == []
    assert list(results.str.upper()) == ["<SENTIMENT OF: GOOD>", "<SENTIMENT OF: BAD>"]  # attrs survive copies


def test_dataframe_rows_fill_several_fields(shub):
    df = pd.DataFrame({"title": ["A", "B"], "body": ["x", "y"]}, index=["r1", "r2"])
    results = shub.session("a").map("{title}: {body}", df)
    assert list(results.index) == ["r1", "r2"] and list(results) == ["<A: x>", "<B: y>"]


def test_bad_templates_fail_before_any_request(shub):
    s = shub.session("a")
    with pytest.raises(AiSessionsError, match=r"no \{placeholder\}"):
        s.map("Classify this", ["x"])
    with pytest.raises(AiSessionsError, match="several fields"):
        s.map("{a} {b}", ["x"])
    with pytest.raises(AiSessionsError, match="input 1"):
        s.map("{a} {b}", [{"a": 1, "b": 2}, {"a": 1}])
    with pytest.raises(AiSessionsError, match="not a str"):
        s.map("{x}", "abc")
    assert not ProbeProvider.STARTED.is_set()


def test_failures_are_per_item_and_retry_runs_them_again(shub):
    ProbeProvider.FAIL = {"bad": [AuthError("invalid key", provider="probe", hint="set a key")]}
    s = shub.session("a")
    results = s.map("{x}", ["ok1", "bad", "ok2"])
    assert results == ["<ok1>", None, "<ok2>"]
    (failure,) = results.failures
    assert (failure.position, failure.input, failure.error_kind) == (1, "bad", "auth")
    assert "invalid key" in failure.error and failure.attempts == 1  # not retryable: tried once
    ProbeProvider.FAIL = {}
    assert results.retry() is results
    assert results == ["<ok1>", "<bad>", "<ok2>"] and results.failures == []


def test_transient_errors_are_retried(shub):
    ProbeProvider.FAIL = {"flaky": [RateLimited("slow down", retry_after=0), RateLimited("slow down", retry_after=0)]}
    results = shub.session("a").map("{x}", ["flaky"], attempts=4)
    # the last error repeats forever in this probe, so the item fails after 4 attempts
    assert results.failures[0].attempts == 4 and results.failures[0].error_kind == "rate_limited"


def test_one_transient_error_then_success(shub):
    SCRIPTS["m"] = Script(chunks=["fine"], errors=[RateLimited("slow down", retry_after=0)])
    results = shub.session("a", model="scripted:m").map("{x}", ["one"])
    assert results == ["fine"] and results.items[0].attempts == 2


def test_cancel_keeps_what_finished_and_marks_the_rest(shub):
    ProbeProvider.GATE = gate = asyncio.Event()
    s = shub.session("a")
    handle = s.submit_map("{x}", ["a", "b", "c", "d", "e"], concurrency=2)
    assert ProbeProvider.STARTED.wait(10)
    handle.cancel()
    results = handle.result(10)
    assert results == [None] * 5
    assert {f.status for f in results.failures} == {"cancelled"}
    assert handle.progress == {"completed": 0, "failed": 5, "total": 5, "active": "", "done": True}
    shub.runtime.loop.loop.call_soon_threadsafe(gate.set)
    assert results.retry() == ["<a>", "<b>", "<c>", "<d>", "<e>"]


@pytest.mark.usefixtures("sigint_raises")
def test_a_kernel_interrupt_stops_the_batch_and_returns_partial_results(shub):
    InterruptOnThird.calls = 0
    results = shub.session("a", model="interrupting:x").map("{x}", ["a", "b", "c", "d"], concurrency=1)
    assert results[:2] == ["<a>", "<b>"]
    assert [f.status for f in results.failures] == ["cancelled", "cancelled"]


def test_progress_events_feed_the_chat_widget_and_end_with_done(shub):
    events: list[dict] = []
    shub.on(EventKind.SESSION_UPDATED, lambda e: events.append(e.payload["batch"]) if "batch" in e.payload else None)
    ProbeProvider.FAIL = {"bad": [AuthError("no", provider="probe")]}
    shub.session("a").map("{x}", ["a", "bad", "c"])
    assert events[-1] == {"completed": 2, "failed": 1, "total": 3, "active": "", "done": True}
    assert all(not e["done"] for e in events[:-1])
    assert len(events) <= 3 + 2  # throttled: never more than one per item plus start and end


def test_progress_label():
    assert progress_label(0, 0, 10, 0.2) == "0/10 done · 0 s elapsed · ETA …"
    assert progress_label(3, 1, 10, 8) == "3/10 done · 1 failed · 8 s elapsed · ETA 12 s"
    assert progress_label(10, 0, 10, 75) == "10/10 done · 1 min 15 s elapsed"
    assert progress_label(2, 0, 10, 5, stopped=True).endswith("stopped: retry() runs the rest")


def test_progress_view_updates_one_output_in_place(shub, tmp_path, monkeypatch):
    run = BatchRun(shub.session("a"), [], BatchOptions())
    run.total = 4
    ipython_shell(tmp_path, monkeypatch)  # display() publishes through the shell
    with capture_output() as captured:
        view = ProgressView()
        view.update(run)
        view.update(run)  # unchanged: nothing sent
        run.completed = 2
        view.update(run)
    first, second = captured.outputs
    assert not first.update and second.update
    assert second.transient["display_id"] == first.transient["display_id"]
    assert second.data["text/plain"].startswith("2/4 done")
    assert '<progress max="4" value="2"' in second.data["text/html"]


@pytest.mark.skipif(importlib.util.find_spec("llama_cpp") is None, reason="needs the local extra")
def test_map_on_the_embedded_model(make_hub):
    hub = make_hub()  # default model: local:smollm2
    results = hub.session("local", max_tokens=6).map("Is this positive or negative? {text}",
                                                     ["I love it", "I hate it"], concurrency=2)
    assert len(results) == 2 and all(isinstance(r, str) and r for r in results)
    assert {item.model for item in results.items} == {"local:smollm2"}


def test_the_chat_widget_progress_bar_follows_a_background_batch(shub):
    widgets = pytest.importorskip("ai_sessions.widgets", reason="build the JS bundle first")
    ProbeProvider.GATE = gate = asyncio.Event()
    s = shub.session("a")
    widget = widgets.ChatWidget(session=s)
    seen: list[dict] = []
    changed = threading.Condition()

    def on_batch(change: dict) -> None:
        with changed:
            seen.append(dict(change["new"]))
            changed.notify_all()

    widget.observe(on_batch, names="batch")
    handle = s.submit_map("{x}", ["a", "b", "c"], concurrency=2)
    with changed:
        assert changed.wait_for(lambda: any(b.get("total") == 3 for b in seen), 10)
    assert seen[-1]["done"] is False and seen[-1]["completed"] == 0
    shub.runtime.loop.loop.call_soon_threadsafe(gate.set)
    handle.result(10)
    with changed:
        # the bar becomes the batch's one-line summary when it is done
        assert changed.wait_for(lambda: seen[-1].get("done") is True, 10)
    assert (seen[-1]["completed"], seen[-1]["failed"], seen[-1]["total"]) == (3, 0, 3)
    widget.close()


@pytest.mark.usefixtures("sigint_raises")
def test_an_interrupt_while_the_batch_is_being_started_still_stops_it(shub, monkeypatch, caplog):
    from ai_sessions.loop import HubLoop

    s = shub.session("a", model="interrupting:x")
    real_submit = HubLoop.submit

    def submit_then_interrupt(self, coro):
        future = real_submit(self, coro)
        monkeypatch.setattr(HubLoop, "submit", real_submit)
        os.kill(os.getpid(), signal.SIGINT)  # the kernel interrupt lands before submit() returns
        return future

    monkeypatch.setattr(HubLoop, "submit", submit_then_interrupt)
    InterruptOnThird.calls = -100  # this provider does not interrupt by itself here
    results = s.map("{x}", ["a", "b"])
    assert "batch stopped" in caplog.text  # the interrupt was seen (items may finish before the cancel lands)
    assert {item.status for item in results.items} <= {"ok", "cancelled"}
    assert all(item.status == "cancelled" for item in results.failures)


# -- issue 9: batch options checked like reply parameters ---------------------------------------------
BAD_OPTIONS = [({"concurrency": 0}, "concurrency"), ({"concurrency": "4"}, "concurrency"),
               ({"concurrency": 2.5}, "concurrency"), ({"concurrency": 10**6}, "concurrency"),
               ({"attempts": 0}, "attempts"), ({"attempts": -1}, "attempts"), ({"attempts": "3"}, "attempts"),
               ({"attempts": 99}, "attempts"), ({"include_history": "yes"}, "include_history")]


@pytest.mark.parametrize("call", ["map", "submit_map"])
@pytest.mark.parametrize(("options", "named"), BAD_OPTIONS, ids=[f"{k}={v!r}" for o, _ in BAD_OPTIONS
                                                                  for k, v in o.items()])
def test_bad_batch_options_are_refused_by_name_before_anything_is_sent(shub, call, options, named):
    """Issue 9, item 11: map's own options are checked like the reply parameters, before any request."""
    s = shub.session("a", model="scripted:m")
    with pytest.raises(AiSessionsError, match=named):
        if call == "map":
            s.map("{x}", ["a", "b"], progress=False, **options)
        else:
            s.submit_map("{x}", ["a", "b"], **options).result(10)
    assert "m" not in SCRIPTS  # the provider was never asked
