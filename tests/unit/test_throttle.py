"""The one time-based coalescing of the kit (``ai_sessions.throttle.Throttle``), on a loop whose timers and
clock the test drives: leading edge, one trailing run per interval, reset, cancel, a closed loop."""

from __future__ import annotations

from typing import Any

import pytest

from ai_sessions import throttle as throttle_module
from ai_sessions.throttle import Throttle


class Timers:
    """A loop stand-in: ``call_later`` records the timer; the test fires it."""

    def __init__(self) -> None:
        self.timers: list[tuple[float, Any]] = []
        self.closed = False

    def call_later(self, delay: float, fn: Any) -> Any:
        if self.closed:
            raise RuntimeError("Event loop is closed")
        timers = self.timers

        class Handle:
            def cancel(self) -> None:
                timers.remove(entry)

        entry = (delay, fn)
        timers.append(entry)
        return Handle()

    def fire(self) -> None:
        (_, fn), = self.timers
        self.timers.clear()
        fn()


@pytest.fixture
def clock(monkeypatch) -> list[float]:
    now = [1000.0]
    monkeypatch.setattr(throttle_module.time, "monotonic", lambda: now[0])
    return now


def test_leading_edge_then_one_trailing_run_per_interval(clock):
    timers, runs = Timers(), []
    t = Throttle(lambda: timers, 0.1, lambda: runs.append(clock[0]))  # type: ignore[arg-type, return-value]
    t.poke()
    assert runs == [1000.0] and timers.timers == []  # after a quiet spell: at once
    clock[0] += 0.03
    t.poke()
    t.poke()
    assert runs == [1000.0] and [round(d, 6) for d, _ in timers.timers] == [0.07]  # one timer, at the interval's end
    assert t.pending
    clock[0] += 0.07
    timers.fire()
    assert runs == [1000.0, 1000.1] and not t.pending
    clock[0] += 0.5
    t.poke()
    assert runs[-1] == 1000.6  # quiet again: at once


def test_reset_runs_the_next_poke_at_once_and_cancel_drops_the_scheduled_run(clock):
    timers, runs = Timers(), []
    t = Throttle(lambda: timers, 0.1, lambda: runs.append(clock[0]))  # type: ignore[arg-type, return-value]
    t.poke()
    clock[0] += 0.01
    t.poke()
    t.cancel()
    assert timers.timers == [] and runs == [1000.0]
    t.reset()
    t.poke()
    assert runs == [1000.0, 1000.01]


def test_a_closed_loop_drops_the_trailing_run(clock):
    timers, runs = Timers(), []
    t = Throttle(lambda: timers, 0.1, lambda: runs.append(clock[0]))  # type: ignore[arg-type, return-value]
    t.poke()
    timers.closed = True
    t.poke()  # no error: the hub shut down, nothing is left to update
    assert runs == [1000.0] and not t.pending
