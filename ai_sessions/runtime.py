"""The collaborators a hub hands to its sessions, batch runs and widgets: the hub loop, the store, the
event bus, settings, keys and the model catalogue. Passed in, never reached for through another object's
private attributes (a test checks the source for that).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .model import Event, EventKind

if TYPE_CHECKING:
    from .approval import ApprovalBroker
    from .catalogue import ModelCatalogue
    from .events import EventBus
    from .keys import KeyStore
    from .loop import HubLoop
    from .settings import Settings
    from .store import Store

log = logging.getLogger(__name__)
_TRANSIENT = frozenset({EventKind.RESPONSE_DELTA})


@dataclass(frozen=True)
class Runtime:
    """What every part of one hub shares. ``emit`` is how anything reports an event."""

    loop: HubLoop
    store: Store
    bus: EventBus
    settings: Settings
    keys: KeyStore
    catalogue: ModelCatalogue
    approvals: ApprovalBroker
    #: Jobs this kernel is running or following, by job id (live runs, batch-job pollers); hub thread only.
    active_jobs: dict[str, Any] = field(default_factory=dict)

    def emit(self, event: Event, *, persist: bool = True) -> None:
        """Store ``event`` (without its text; deltas and transient progress never) and hand it to the
        subscribers on the hub thread, whichever thread reports it."""
        if persist and event.kind not in _TRANSIENT:
            try:
                self.store.defer(self.store.add_event, event)
            except Exception:  # a closed store at shutdown must not break the reporter
                log.debug("event %s not stored", event.kind.value, exc_info=True)
        if self.loop.in_loop_thread():
            self.bus.emit(event)
        else:
            self.loop.call_soon(self.bus.emit, event)
