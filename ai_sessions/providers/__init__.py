"""Provider registry: maps a provider *kind* to its class, and ``provider:model`` names to parts.

Built-in kinds are imported lazily (no SDK is imported until a provider is used). Third-party
providers register through the ``ai_sessions.providers`` entry point group, whose entries name a
:class:`~ai_sessions.providers.base.Provider` subclass::

    [project.entry-points."ai_sessions.providers"]
    mycloud = "my_package.provider:MyCloudProvider"
"""

from __future__ import annotations

import importlib
import logging

from ..errors import UnknownModel
from .base import Provider

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "ai_sessions.providers"

#: kind -> "module:Class", imported on first use.
BUILTIN_KINDS: dict[str, str] = {
    "local": "ai_sessions.providers.local:LocalProvider",
    "openai": "ai_sessions.providers.openai:OpenAIProvider",
    "openai-compatible": "ai_sessions.providers.openai:OpenAICompatibleProvider",
    "azure": "ai_sessions.providers.openai:AzureOpenAIProvider",
    "anthropic": "ai_sessions.providers.anthropic:AnthropicProvider",
    "gemini": "ai_sessions.providers.gemini:GeminiProvider",
}

#: Provider names that exist without any settings (name == kind).
BUILTIN_PROVIDERS = ("local", "openai", "anthropic", "azure", "gemini")

_registered: dict[str, type[Provider] | str] = {}


def register(kind: str, cls: type[Provider] | str) -> None:
    """Register a provider class (or a ``"module:Class"`` string) for ``kind`` in this process."""
    _registered[kind] = cls


def provider_class(kind: str) -> type[Provider]:
    """The class implementing ``kind``; raises :class:`UnknownModel` if none does."""
    target = _registered.get(kind) or BUILTIN_KINDS.get(kind) or _entry_point(kind)
    if target is None:
        raise UnknownModel(f"no provider of kind {kind!r}",
                           hint=f"known kinds: {', '.join(known_kinds())}; a plugin's kind appears once its "
                                "package is installed")
    if isinstance(target, str):
        module_name, _, attr = target.partition(":")
        target = getattr(importlib.import_module(module_name), attr)
    return target


def known_kinds() -> list[str]:
    """Every provider kind available: built-in, registered and from entry points."""
    from importlib.metadata import entry_points

    names = set(BUILTIN_KINDS) | set(_registered)
    names |= {ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)}
    return sorted(names)


def _entry_point(kind: str) -> str | None:
    from importlib.metadata import entry_points

    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name == kind:
            return ep.value
    return None


def split_model(full_name: str) -> tuple[str, str]:
    """Split ``"provider:model"``; the model part may itself contain colons (``ollama:llama3:8b``)."""
    provider, sep, model = full_name.partition(":")
    if not sep or not provider or not model:
        raise UnknownModel(f"model name {full_name!r} is not of the form 'provider:model'")
    return provider.strip().lower(), model.strip()
