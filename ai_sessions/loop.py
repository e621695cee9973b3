"""The hub's private asyncio loop, running in a daemon thread.

Why not the kernel's loop: tasks made there stall after their cell ends (ipykernel#1510), and
``asyncio.run`` fails inside a running loop. All provider I/O and all session state changes happen
on this loop, so session state needs no locks.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from .mainthread import MainThread

T = TypeVar("T")
STOP_WAIT_S = 10.0
log = logging.getLogger(__name__)


class HubLoop:
    """An event loop in its own daemon thread, with thread-safe ways to run work on it."""

    def __init__(self, name: str = "ai_sessions-hub") -> None:
        self.loop = asyncio.new_event_loop()
        #: Work for the kernel's main thread (tools that need it, questions to the user): calls blocking the
        #: main thread in :meth:`run` serve it while they wait.
        self.main = MainThread()
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def in_loop_thread(self) -> bool:
        return threading.current_thread() is self._thread

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Schedule ``coro`` on the loop; returns at once. Raises once the loop was stopped (the work
        would never run)."""
        self._refuse_stopped(coro)
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def _refuse_stopped(self, coro: Coroutine[Any, Any, Any]) -> None:
        if self._stopped:
            coro.close()
            from .errors import AiSessionsError

            raise AiSessionsError("the hub was shut down", hint="get a new one with ai_sessions.hub()")

    def refuse_wait(self, what: str) -> None:
        """Raise a clear error if the hub thread itself is about to wait for hub work (a deadlock):
        event callbacks run on that thread."""
        if self.in_loop_thread():
            from .errors import AiSessionsError

            raise AiSessionsError(f"{what} waits for the hub, so it cannot run inside an event callback "
                                  "(callbacks run on the hub thread)",
                                  hint="start the work with session.submit(...) / submit_map(...) and do not "
                                       "wait for it there")

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None, what: str = "this call") -> T:
        """Run ``coro`` on the loop and wait for it. A KeyboardInterrupt (kernel interrupt) while
        waiting, or while handing it to the loop, cancels it, waits for it to clean up, then propagates."""
        if self.in_loop_thread():
            coro.close()
            self.refuse_wait(what)
        self._refuse_stopped(coro)
        began, settled, abandoned = threading.Event(), threading.Event(), threading.Event()
        tasks: list[asyncio.Task[Any]] = []

        async def tracked() -> T:
            if abandoned.is_set():  # interrupted before it started: never run it
                coro.close()
                raise asyncio.CancelledError
            task = asyncio.current_task()
            assert task is not None
            tasks.append(task)
            began.set()
            try:
                return await coro
            finally:
                settled.set()

        future: concurrent.futures.Future[T] | None = None
        try:
            if threading.current_thread() is threading.main_thread():
                with self.main.blocking():  # before submitting: main-thread work the call causes waits for us
                    future = self.submit(tracked())
                    return self.main.serve(future, timeout)
            future = self.submit(tracked())
            return future.result(timeout)
        except KeyboardInterrupt:
            abandoned.set()
            if future is not None:
                future.cancel()
            else:  # the interrupt landed inside run_coroutine_threadsafe, after it may have scheduled the work
                self.loop.call_soon_threadsafe(lambda: [task.cancel() for task in tasks])
            if began.is_set():
                settled.wait(STOP_WAIT_S)  # let the reply store its partial text before we propagate
            raise

    def call_soon(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run ``fn(*args)`` on the loop thread soon (now if called there); from any thread. Dropped
        once the loop is closed."""
        if self.in_loop_thread():
            fn(*args)
            return
        try:
            self.loop.call_soon_threadsafe(fn, *args)
        except RuntimeError:  # the hub was shut down
            log.debug("hub loop closed; dropped %r", fn)

    def call_later(self, delay: float, fn: Callable[[], Any]) -> asyncio.TimerHandle | None:
        """Run ``fn`` on the loop after ``delay`` seconds (call on the loop thread); None once closed."""
        try:
            return self.loop.call_later(delay, fn)
        except RuntimeError:
            return None

    def call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a plain function on the loop thread and return its result."""
        if self.in_loop_thread():
            return fn(*args)

        async def wrapper() -> T:
            return fn(*args)

        return self.run(wrapper())

    def stop(self) -> None:
        """Cancel what runs, stop the loop and join the thread."""
        if not self.loop.is_running():
            return

        async def cancel_all() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        try:
            self.submit(cancel_all()).result(STOP_WAIT_S)
        except Exception:
            pass
        self._stopped = True
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(STOP_WAIT_S)
        if not self._thread.is_alive():  # an unclosed loop warns whenever the garbage collector meets it
            self.loop.close()
