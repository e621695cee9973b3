"""Provider registry: maps a provider *kind* to its class, and ``provider:model`` names to parts.

Every kind, built-in or third-party, registers through the ``ai_sessions.providers`` entry point group,
whose entries name a :class:`~ai_sessions.providers.base.Provider` subclass (this package's own are in
its ``pyproject.toml``)::

    [project.entry-points."ai_sessions.providers"]
    mycloud = "my_package.provider:MyCloudProvider"

A class is imported when its kind is first used; provider modules import their SDK only when they talk
to the provider. :func:`register` adds a kind in this process only (tests, notebooks).
"""

from __future__ import annotations

import importlib
import logging
import sys
import threading
from functools import cache
from typing import TYPE_CHECKING

from ..errors import UnknownModel

if TYPE_CHECKING:
    from .base import Provider

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "ai_sessions.providers"

#: Kinds that exist in every process without an entry point: ``python`` serves functions registered on a
#: hub (``hub.register_model``), which only live in this process.
_registered: dict[str, type[Provider] | str] = {"python": "ai_sessions.providers.python_fn:PythonFunctionProvider"}
_classes: dict[str, type[Provider]] = {}
_lock = threading.Lock()


def register(kind: str, cls: type[Provider] | str) -> None:
    """Register a provider class (or a ``"module:Class"`` string) for ``kind`` in this process."""
    with _lock:
        _registered[kind] = cls
        _classes.pop(kind, None)


def _entry_points() -> dict[str, str]:
    """kind -> ``"module:Class"`` from the installed entry points (read once per ``sys.path``: ~ms)."""
    return _scan(tuple(sys.path))


@cache
def _scan(path: tuple[str, ...]) -> dict[str, str]:
    from importlib.metadata import entry_points

    return {ep.name: ep.value for ep in entry_points(group=ENTRY_POINT_GROUP)}


def provider_class(kind: str) -> type[Provider]:
    """The class implementing ``kind``; raises :class:`UnknownModel` if none does."""
    with _lock:
        target = _registered.get(kind) or _entry_points().get(kind)
        cls = _classes.get(kind)
        if cls is not None and target in (cls, f"{cls.__module__}:{cls.__qualname__}"):
            return cls
    if target is None:
        hint = f"known kinds: {', '.join(known_kinds())}; a plugin's kind appears once its package is installed"
        if not _entry_points():
            hint = "ai_sessions is not installed, so its providers are not registered: pip install -e ."
        raise UnknownModel(f"no provider of kind {kind!r}", hint=hint)
    if isinstance(target, str):
        module_name, _, attr = target.partition(":")
        target = getattr(importlib.import_module(module_name), attr)
    with _lock:
        _classes[kind] = target
    return target


def known_kinds() -> list[str]:
    """Every provider kind available: from entry points and registered in this process."""
    return sorted(set(_entry_points()) | set(_registered))


def default_provider_names() -> list[str]:
    """Provider names that exist without settings: the installed kinds that need no table of their own
    (``openai``, ``anthropic``, ``local`` ..., and plugins alike)."""
    names = []
    for kind in sorted(_entry_points()):
        try:
            if not provider_class(kind).needs_config:
                names.append(kind)
        except Exception:  # a broken plugin must not hide the others
            log.warning("provider plugin %r cannot be loaded", kind, exc_info=True)
    return names


def split_model(full_name: str) -> tuple[str, str]:
    """Split ``"provider:model"``; the model part may itself contain colons (``ollama:llama3:8b``)."""
    if not isinstance(full_name, str):
        raise UnknownModel(f"model name {full_name!r} is not text of the form 'provider:model'")
    provider, sep, model = full_name.partition(":")
    if not sep or not provider.strip() or not model.strip():
        raise UnknownModel(f"model name {full_name!r} is not of the form 'provider:model'")
    return provider.strip().lower(), model.strip()
