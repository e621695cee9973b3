"""What our widgets share: their kernel→browser messages carry the right parent header from any thread.

Widgets send from the hub thread. There, code runs in the context copied when its work was scheduled:
a reply submitted in cell 2 runs, and ends, with cell 2's parent header, even while cell 5 runs.
Front ends route comm messages by comm id and do not mind, but nbclient (``nbconvert --execute``) records
widget state only from messages whose parent is the cell it is running: the final state of a reply that
ended in a later cell never reached the saved notebook. Sent from a fresh context, a message takes the
parent of the request the kernel handles now (ipykernel's fallback for threads), as ``display`` from a
thread does.
"""

from __future__ import annotations

import contextvars
from typing import Any

import anywidget


class KernelWidget(anywidget.AnyWidget):
    """An anywidget whose messages sent from the hub thread carry the current request's parent header."""

    def _on_hub_thread(self) -> bool:
        hub = getattr(self, "_hub", None)
        return hub is not None and hub.runtime.loop.in_loop_thread()

    def _send(self, msg: Any, buffers: Any = None) -> None:
        if self._on_hub_thread():
            contextvars.Context().run(super()._send, msg, buffers)
        else:  # a cell, or a browser action's handler: their own request is the right parent
            super()._send(msg, buffers)
