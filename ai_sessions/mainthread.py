"""Running work on the kernel's main thread, from the hub loop.

Some work must run where cells run: tools that touch matplotlib's pyplot state or the user namespace
(``run_python``), and questions to the user (``input()``). The hub loop never blocks on it: it gets an
asyncio future. Who runs the work, in order:

1. a call of ours that is blocking the main thread right now (``Session.send``, a ``%%ai_session`` cell)
   runs it while it waits (:meth:`MainThread.serve`);
2. else, in a Jupyter kernel, the kernel's own event loop runs it as soon as no cell is running (or a call
   of ours that starts blocking first, whichever comes first);
3. else (plain Python, nothing waiting) a worker thread runs it, since no main thread will come back.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import queue
import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

T = TypeVar("T")
log = logging.getLogger(__name__)


class MainThread:
    """A queue of work for the kernel's main thread (one per hub)."""

    def __init__(self) -> None:
        self._work: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self._waiting = 0  # calls of ours blocking the main thread now, which serve the queue
        self._lock = threading.Lock()

    def submit(self, fn: Callable[[], T]) -> asyncio.Future[T]:
        """(hub loop) Run ``fn`` on the main thread as soon as it is free; returns a future of its result."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()

        def run() -> None:
            if future.cancelled():
                return
            try:
                result = fn()
            except BaseException as exc:  # handed to the hub loop, which raises it where it waits
                loop.call_soon_threadsafe(_set_exception, future, exc)
            else:
                loop.call_soon_threadsafe(_set_result, future, result)

        self._work.put(run)  # whoever comes first runs it: a waiting call of ours, or the fallback below
        with self._lock:
            waiting = self._waiting
        if not waiting and not _kernel_callback(self._drain):
            threading.Thread(target=self._drain, name="ai_sessions-main-work", daemon=True).start()
        return future

    @property
    def served(self) -> bool:
        """Whether a call of ours is blocking the main thread now (and runs main-thread work)."""
        return self._waiting > 0

    @contextlib.contextmanager
    def blocking(self) -> Iterator[None]:
        """(main thread) Mark a call of ours that is about to block the main thread (enter it before the work
        is submitted, so main-thread work it causes waits for it instead of taking another route)."""
        with self._lock:
            self._waiting += 1
        try:
            yield
        finally:
            with self._lock:
                self._waiting -= 1
            self._drain()

    def serve(self, future: concurrent.futures.Future[T], timeout: float | None) -> T:
        """(main thread) Wait for ``future`` like ``future.result(timeout)``, running queued main-thread
        work meanwhile."""
        with self.blocking():
            while True:
                self._drain()
                try:
                    return future.result(0.02 if timeout is None else min(timeout, 0.02))
                except concurrent.futures.TimeoutError:
                    if timeout is not None:
                        timeout -= 0.02
                        if timeout <= 0:
                            raise

    def _drain(self) -> None:
        while True:
            try:
                work = self._work.get_nowait()
            except queue.Empty:
                return
            work()


def _kernel_callback(fn: Callable[[], None]) -> bool:
    """Schedule ``fn`` on the Jupyter kernel's main-thread event loop (it runs once no cell runs)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    kernel = getattr(shell, "kernel", None)
    io_loop = getattr(kernel, "io_loop", None)
    if io_loop is None:
        return False
    io_loop.add_callback(fn)
    return True


def _set_result(future: asyncio.Future[Any], value: Any) -> None:
    if not future.done():
        future.set_result(value)


def _set_exception(future: asyncio.Future[Any], exc: BaseException) -> None:
    if not future.done():
        future.set_exception(exc)
