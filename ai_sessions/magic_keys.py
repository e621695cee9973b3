"""The ``%ai_session models`` and ``%ai_session keys`` subcommands: which models can be used, and the API
keys (list masked, set at a hidden prompt, delete, test). Declared in the command table of
:mod:`ai_sessions.magic_commands`, which imports this module.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .magic_commands import MagicContext, Table, arg, command

if TYPE_CHECKING:
    from .hub import SessionHub


@command("models", "models of every provider (or of PROVIDER): available, or why not",
         arg("provider", nargs="?"))
def cmd_models(ctx: MagicContext, provider: str | None) -> Table:
    from .errors import UnknownModel

    hub = ctx.hub
    if provider is not None and hub.settings.provider_config(provider) is None:
        raise UnknownModel(f"unknown provider {provider!r} (known: {', '.join(hub.provider_names())})")
    rows = tuple((m.full_name, m.short_name, "yes" if m.available else "no", m.reason or "")
                 for m in hub.models() if provider is None or m.provider == provider)
    return Table(("model", "short name", "available", "why not"), rows)


@command("keys", "API keys: list (masked), or `set`, `delete`, `test` PROVIDER",
         arg("action", nargs="?", default="list", help="list, set, delete or test"),
         arg("provider", nargs="?"),
         arg("--keyring", action="store_true", help="with `set`: store the key in the OS keyring, not the keys file"),
         arg("extra", nargs=argparse.REMAINDER, help=argparse.SUPPRESS))
def cmd_keys(ctx: MagicContext, action: str, provider: str | None, keyring: bool, extra: Sequence[str]) -> Any:
    from .errors import AiSessionsError

    if action not in ("list", "set", "delete", "test"):  # not echoed: it may be a pasted key
        raise AiSessionsError("`keys` takes list, set, delete or test",
                              hint="e.g. `%ai_session keys set openai`, then paste the key at the prompt")
    if "--keyring" in extra:  # `keys set openai --keyring`: after the provider, argparse leaves it in extra
        keyring, extra = True, [item for item in extra if item != "--keyring"]
    if keyring and action != "set":
        raise AiSessionsError("--keyring goes with `keys set`", hint="e.g. `%ai_session keys set openai --keyring`")
    if extra:
        raise AiSessionsError("a key must never be written in a cell (it would stay in the history)",
                              hint=f"run `%ai_session keys set {provider}` and paste the key at the prompt")
    if action == "list":
        return keys_list(ctx.hub)
    if provider is None:
        raise AiSessionsError(f"`keys {action}` needs a provider", hint=f"e.g. `%ai_session keys {action} openai`")
    if ctx.hub.settings.provider_config(provider) is None:
        raise AiSessionsError(f"unknown provider {provider!r}", hint=f"known: {', '.join(ctx.hub.provider_names())}")
    if action == "set":
        keys_set(ctx.hub, provider, backend="keyring" if keyring else "file")
    else:
        {"delete": keys_delete, "test": keys_test}[action](ctx.hub, provider)
    return None


def _key_env(hub: SessionHub, provider: str) -> str | None:
    try:
        instance = hub.runtime.catalogue.instance(provider)
    except Exception:
        return None
    return instance.key_env if instance is not None else None


def keys_list(hub: SessionHub) -> Table:
    rows = []
    for name in hub.provider_names():
        env = _key_env(hub, name)
        info = hub.keys.source(name, env=env)
        if info is not None:
            rows.append((name, info.source, info.masked))
        else:
            rows.append((name, "-", "no key needed" if env is None else f"none (set {env} or `keys set {name}`)"))
    return Table(("provider", "source", "key"), tuple(rows))


def keys_set(hub: SessionHub, provider: str, backend: str = "file") -> None:
    """Prompt for the key without echo; it goes to the keys file (or the OS keyring), never to the
    notebook or history."""
    import getpass

    from .keys import mask

    if backend == "keyring":
        hub.keys.require_keyring()  # say so before asking for the key
    key = getpass.getpass(f"API key for {provider} (hidden; Enter to cancel): ")
    if not key.strip():
        print("no key entered; nothing changed")
        return
    where = hub.keys.set(provider, key, backend=backend)
    print(f"stored the key for {provider} ({mask(key.strip())}) in {'the OS keyring' if where == 'keyring' else where}")


def keys_delete(hub: SessionHub, provider: str) -> None:
    removed = hub.keys.delete(provider)
    env = _key_env(hub, provider)
    left = hub.keys.source(provider, env=env)
    message = f"deleted the stored key for {provider}" if removed else f"no stored key for {provider}"
    if left is not None:
        message += f"; a key still comes from {left.source} (unset it there)"
    print(message)


def keys_test(hub: SessionHub, provider: str) -> None:
    """Ask the provider for its models with the current key (one short request)."""
    from .errors import AiSessionsError

    availability = hub.provider_availability(provider)
    if not availability.ok:
        raise AiSessionsError(f"{provider} cannot be used: {availability.reason}")

    hub.runtime.loop.run(hub.runtime.catalogue.provider(provider).test_connection(), timeout=60)
    print(f"{provider}: OK (the key works)")
