"""Time-based coalescing on the hub loop, and every update interval of the kit in one place.

Streamed text, batch progress and the panel's rows change far more often than anyone can read or the
comm should carry (jupyter_server drops iopub messages above 1,000/s). :class:`Throttle` runs a function
at most once per interval: the first call after a quiet spell runs at once (a busy loop could delay a
timer), later calls within the interval run once at its end.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

#: The chat's streamed text (one custom message per widget at most this often).
FLUSH_INTERVAL_S = 0.05
#: Progress of batch runs and jobs, in the chat's bar and the inline display.
PROGRESS_INTERVAL_S = 0.1
#: A live map's finished items, written to its job's rows in the store (one transaction per flush).
RESULTS_FLUSH_S = 0.5
#: The hub panel's rows after session events.
PANEL_REFRESH_S = 0.1
#: A ``%%ai_session`` cell's output while its reply streams (polled from the kernel's main thread).
MAGIC_UPDATE_S = 0.1
#: The inspector's live timeline while a session replies.
INSPECTOR_REFRESH_S = 0.25


class Throttle:
    """Run ``fn`` at most once per ``interval`` seconds on ``loop`` (leading and trailing edge).

    :meth:`poke` must be called on ``loop``'s thread; ``fn`` runs there too.
    """

    def __init__(self, loop: Callable[[], asyncio.AbstractEventLoop], interval: float,
                 fn: Callable[[], None]) -> None:
        self._loop = loop
        self.interval = interval
        self._fn = fn
        self._last = float("-inf")
        self._handle: asyncio.TimerHandle | None = None

    @property
    def pending(self) -> bool:
        """Whether a run is scheduled."""
        return self._handle is not None

    def poke(self) -> None:
        """Ask for a run: now if the interval has passed since the last one, else once it has."""
        if self._handle is not None:
            return
        wait = self._last + self.interval - time.monotonic()
        if wait <= 0:
            self._run()
            return
        try:
            self._handle = self._loop().call_later(wait, self._run)
        except RuntimeError:  # the loop was closed (the hub shut down): nothing is left to update
            self._handle = None

    def reset(self) -> None:
        """Forget the last run, so the next :meth:`poke` runs at once (e.g. a new reply's first text)."""
        self._last = float("-inf")

    def now(self) -> None:
        """Run at once (e.g. a final update), dropping any scheduled run."""
        self.cancel()
        self._run()

    def cancel(self) -> None:
        """Drop the scheduled run, if any."""
        handle, self._handle = self._handle, None
        if handle is not None:
            handle.cancel()

    def _run(self) -> None:
        self._handle = None
        self._last = time.monotonic()
        self._fn()
