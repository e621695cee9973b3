"""The front end: anywidget views of the hub's sessions.

Importing this module reads the built JS bundles (``ai_sessions/static``), so ``import ai_sessions``
imports it only when a widget is asked for.
"""

from __future__ import annotations

from .chat import ChatWidget
from .hub_panel import HubPanel
from .inspector import InspectorTab, InspectorWidget, open_inspector
from .tab import ChatTab, open_tab

__all__ = ["ChatTab", "ChatWidget", "HubPanel", "InspectorTab", "InspectorWidget", "open_inspector", "open_tab"]
