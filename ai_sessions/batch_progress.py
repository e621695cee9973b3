"""The inline progress bar of a batch run: completed/total, failures, elapsed time and ETA, shown as one
output updated in place (at most every ``throttle.PROGRESS_INTERVAL_S``, only when its text changes)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .batch import BatchRun


def in_kernel() -> bool:
    """Whether we run in a Jupyter kernel (where outputs can be updated in place)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


class ProgressView:
    """An inline progress bar updated in place: completed/total, failures, elapsed, ETA."""

    def __init__(self) -> None:
        self._handle: Any = None
        self._shown = ""

    def update(self, run: BatchRun, *, stopped: bool = False) -> None:
        """Show ``run``'s counts now (nothing is sent when the text did not change)."""
        label = progress_label(run.completed, run.failed, run.total, time.monotonic() - run.started, stopped)
        if label == self._shown:
            return
        self._shown = label
        done = run.completed + run.failed
        bundle = {"text/plain": label,
                  "text/html": f'<div class="ai-sessions-batch"><progress max="{max(run.total, 1)}" value="{done}" '
                               f'style="width:16em;vertical-align:middle"></progress> '
                               f'<span style="font-family:var(--jp-code-font-family,monospace)">{label}</span></div>'}
        self.publish(bundle)

    def publish(self, bundle: dict[str, str]) -> None:
        """Show ``bundle`` as this view's output: the first time as a new one, then in its place."""
        from IPython.display import display, update_display

        if self._handle is None:
            self._handle = display(bundle, raw=True, display_id=True)
        else:
            update_display(bundle, raw=True, display_id=self._handle.display_id)


def progress_label(completed: int, failed: int, total: int, elapsed: float, stopped: bool = False) -> str:
    """``12/40 done · 1 failed · 3 s elapsed · ETA 9 s`` (ETA from the average time per finished item)."""
    done = completed + failed
    parts = [f"{completed}/{total} done"]
    if failed:
        parts.append(f"{failed} failed")
    parts.append(f"{duration(elapsed)} elapsed")
    if stopped:
        parts.append("stopped: retry() runs the rest")
    elif done < total and done:
        parts.append(f"ETA {duration(elapsed / done * (total - done))}")
    elif done < total:
        parts.append("ETA …")
    return " · ".join(parts)


def duration(seconds: float) -> str:
    """``42 s``, ``3 min 05 s``, ``2 h 07 min``."""
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"
