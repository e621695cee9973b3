"""HubLoop: running work on the hub thread and stopping it on a kernel interrupt."""

from __future__ import annotations

import asyncio
import os
import signal
import threading

import pytest

from ai_sessions import loop as loop_module
from ai_sessions.loop import HubLoop


@pytest.fixture
def hub_loop():
    hub_loop = HubLoop(name="test-loop")
    yield hub_loop
    hub_loop.stop()


def _waiter(started: threading.Event, cancelled: threading.Event):
    async def wait_forever() -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    return wait_forever()


@pytest.mark.usefixtures("sigint_raises")
def test_interrupt_while_waiting_cancels_the_work(hub_loop):
    started, cancelled = threading.Event(), threading.Event()

    async def interrupt_the_waiter() -> None:
        await asyncio.to_thread(started.wait, 10)
        os.kill(os.getpid(), signal.SIGINT)  # what a kernel interrupt does to the cell waiting in run()

    asyncio.run_coroutine_threadsafe(interrupt_the_waiter(), hub_loop.loop)
    with pytest.raises(KeyboardInterrupt):
        hub_loop.run(_waiter(started, cancelled))
    assert cancelled.wait(10)


def test_interrupt_inside_the_hand_over_still_cancels_scheduled_work(hub_loop, monkeypatch):
    """The interrupt can land after run_coroutine_threadsafe scheduled the work but before it returned."""
    started, cancelled = threading.Event(), threading.Event()
    real = asyncio.run_coroutine_threadsafe

    def schedule_then_interrupt(coro, loop):
        real(coro, loop)
        assert started.wait(10)
        raise KeyboardInterrupt

    with monkeypatch.context() as patch, pytest.raises(KeyboardInterrupt):
        patch.setattr(loop_module.asyncio, "run_coroutine_threadsafe", schedule_then_interrupt)
        hub_loop.run(_waiter(started, cancelled))
    assert cancelled.wait(10)


def test_interrupt_before_the_work_starts_means_it_never_runs(hub_loop, monkeypatch):
    started, cancelled = threading.Event(), threading.Event()
    hold, held = threading.Event(), threading.Event()

    def block_loop() -> None:
        held.set()
        hold.wait(10)

    hub_loop.loop.call_soon_threadsafe(block_loop)
    assert held.wait(10)
    real = asyncio.run_coroutine_threadsafe

    def schedule_then_interrupt(coro, loop):
        real(coro, loop)
        raise KeyboardInterrupt

    with monkeypatch.context() as patch, pytest.raises(KeyboardInterrupt):
        patch.setattr(loop_module.asyncio, "run_coroutine_threadsafe", schedule_then_interrupt)
        hub_loop.run(_waiter(started, cancelled))
    hold.set()
    assert hub_loop.run(asyncio.sleep(0, result="after")) == "after"  # the loop went past the abandoned work
    assert not started.is_set()


def test_run_returns_the_result(hub_loop):
    async def answer() -> int:
        return 42

    assert hub_loop.run(answer()) == 42


def test_a_stopped_hub_loop_is_closed(make_hub):
    """A hub shut down closes its event loop (an unclosed one warns whenever the garbage collector meets it,
    which made an unrelated warnings test fail at random)."""
    hub = make_hub()
    loop = hub.runtime.loop
    hub.shutdown()
    assert loop.loop.is_closed()
    loop.call_soon(lambda: None)  # dropped quietly, as before
