"""ai_sessions: many isolated AI chat sessions inside one Jupyter kernel.

>>> import ai_sessions
>>> s = ai_sessions.hub().session("analysis")     # doctest: +SKIP
>>> s.send("Summarise the columns of df").content  # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .catalogue import FallbackWarning
from .errors import (
    AiSessionsError,
    AuthError,
    BadRequest,
    ConnectionFailed,
    NoUsableModel,
    ProviderError,
    ProviderTimeout,
    RateLimited,
    SessionBusy,
    SessionClosed,
    SessionNotFound,
    SettingsError,
    StoreError,
    UnknownModel,
)
from .hub import SessionHub, hub
from .model import Event, EventKind, Message, MessageStatus, ModelSwitch, Role, SessionStatus, Usage
from .session import ReplyHandle, Session

if TYPE_CHECKING:
    from .widgets import ChatWidget, HubPanel, InspectorWidget

__version__ = "0.1.0"
__all__ = [
    "AiSessionsError", "AuthError", "BadRequest", "ChatWidget", "ConnectionFailed", "Event", "EventKind",
    "FallbackWarning", "HubPanel", "InspectorWidget", "Message", "MessageStatus", "ModelSwitch", "NoUsableModel",
    "ProviderError", "ProviderTimeout", "RateLimited", "ReplyHandle", "Role", "Session", "SessionBusy",
    "SessionClosed", "SessionHub", "SessionNotFound", "SessionStatus", "SettingsError", "StoreError", "Tool",
    "ToolCall", "UnknownModel", "Usage", "hub", "notebook_tools",
]


def __getattr__(name: str) -> Any:
    if name in ("ChatWidget", "HubPanel", "InspectorWidget"):  # widgets load the JS bundle: import them only when asked
        from . import widgets

        return getattr(widgets, name)
    if name == "notebook_tools":  # built with pydantic: imported when asked
        from .notebook import notebook_tools

        return notebook_tools
    if name in ("Tool", "ToolCall"):
        from . import tools

        return getattr(tools, name)
    raise AttributeError(f"module 'ai_sessions' has no attribute {name!r}")


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext ai_sessions``: register the ``%ai_session`` magics."""
    from .magics import register

    register(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    from .magics import unregister

    unregister(ipython)
