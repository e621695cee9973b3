"""What front ends offer the kernel: a chat on screen can add a cell to the notebook it is shown in.

Chat widgets register a bridge for their session while they have views; tools (``insert_cell``) and the
chat's own "Insert below" use it. Thread-safe; one registry per process (sessions ids are unique).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Protocol


class FrontEnd(Protocol):
    """A chat on screen."""

    async def insert_cell(self, source: str, cell_type: str) -> str:
        """(hub loop) Add a cell below the chat; returns a short confirmation, raises AiSessionsError."""
        ...


_bridges: dict[str, list[FrontEnd]] = {}
_lock = threading.Lock()
_concurrent_delivery = False


def note_message_thread() -> None:
    """Called by widgets on each message from the browser: once one arrives on a thread other than the main
    one (JupyterLab ≥ 4.6 with ipykernel 7 deliver them through a kernel subshell while a cell runs),
    a chat can answer an approval even while a cell of ours blocks the main thread."""
    global _concurrent_delivery
    if threading.current_thread() is not threading.main_thread():
        _concurrent_delivery = True


def messages_arrive_while_busy() -> bool:
    """Whether browser messages have been seen to arrive while the main thread was busy (see above)."""
    return _concurrent_delivery


def register_frontend(session_id: str, bridge: FrontEnd) -> Callable[[], None]:
    """Offer ``bridge`` for ``session_id``; returns the function that withdraws it."""
    with _lock:
        _bridges.setdefault(session_id, []).append(bridge)

    def withdraw() -> None:
        with _lock:
            bridges = _bridges.get(session_id, [])
            if bridge in bridges:
                bridges.remove(bridge)
            if not bridges:
                _bridges.pop(session_id, None)

    return withdraw


def frontend_of(session_id: str) -> FrontEnd | None:
    """The most recently shown chat of ``session_id``, if one is on screen."""
    with _lock:
        bridges = _bridges.get(session_id)
        return bridges[-1] if bridges else None
