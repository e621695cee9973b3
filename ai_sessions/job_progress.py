"""The inline progress of a batch job while ``map(..., mode="batch")`` or ``job.wait()`` waits: the provider's
state, submitted / done / failed counts where the provider reports them, elapsed time and the provider's
own deadline (its completion window), shown as one output updated in place."""

from __future__ import annotations

import html
import time
from typing import Any

from .batch_progress import ProgressView, duration

STATE_WORDS = {"submitting": "submitting", "running": "running at the provider", "cancelling": "cancelling",
               "collecting": "storing results", "ended": "ended", "interrupted": "interrupted"}


def job_label(p: dict[str, Any]) -> str:
    """``batch job · running at the provider (in_progress) · 120/10,000 done · 3 failed · 9,877 in progress ·
    4 s elapsed · provider deadline 14:05``."""
    state = STATE_WORDS.get(p.get("state") or "", p.get("state") or "")
    if p.get("provider_state") and p.get("state") in ("running", "cancelling"):
        state += f" ({p['provider_state']})"
    if p.get("outcome"):
        state += f": {p['outcome']}"
    parts = [f"{p.get('mode', 'batch')} job", state]
    total = p.get("total") or 0
    if p.get("completed") is None:
        parts.append(f"{total:,} submitted (counts come when it ends)")
    else:
        parts.append(f"{p['completed']:,}/{total:,} done")
        if p.get("failed"):
            parts.append(f"{p['failed']:,} failed")
        waiting = total - p["completed"] - (p.get("failed") or 0)
        if waiting and not p.get("done"):
            parts.append(f"{waiting:,} in progress")
    parts.append(f"{duration(p.get('elapsed') or 0)} elapsed")
    if p.get("expires_at") and not p.get("done"):
        parts.append("provider deadline " + time.strftime("%Y-%m-%d %H:%M", time.localtime(p["expires_at"])))
    if p.get("error"):
        parts.append(f"last poll failed: {p['error'][:80]}")
    return " · ".join(parts)


class JobProgressView(ProgressView):
    """A batch job's progress in the cell (nothing is sent when the text did not change)."""

    def show(self, progress: dict[str, Any]) -> None:
        label = job_label(progress)
        if label == self._shown:
            return
        self._shown = label
        total = max(progress.get("total") or 0, 1)
        done = (progress.get("completed") or 0) + (progress.get("failed") or 0)
        bar = f'<progress max="{total}" value="{done}" style="width:16em;vertical-align:middle"></progress> ' \
            if progress.get("completed") is not None else '<progress style="width:16em;vertical-align:middle">' \
                                                            '</progress> '
        bundle = {"text/plain": label,
                  "text/html": f'<div class="ai-sessions-batch">{bar}<span style="font-family:'
                               f'var(--jp-code-font-family,monospace)">{html.escape(label)}</span></div>'}
        self.publish(bundle)
