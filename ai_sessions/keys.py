"""API keys: looked up in one documented order, never shown, never stored outside the kernel's memory
except in the keys file or the OS keyring.

Lookup order for provider ``NAME``:

1. the keys file ``keys.json`` in the config dir (mode 0600), written by ``%ai_session keys set NAME``;
2. the OS keyring (service ``ai_sessions``, user ``NAME``), where the ``keyring`` package (the ``keyring``
   extra) and a usable backend exist;
3. the provider's environment variable (``OPENAI_API_KEY``, ``ANTHROPIC_API_KEY``, ...).
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import stat
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import AiSessionsError

log = logging.getLogger(__name__)

KEYRING_SERVICE = "ai_sessions"
NO_KEYRING_ENV = "AI_SESSIONS_NO_KEYRING"


def mask(secret: str) -> str:
    """A masked form safe to show: ``sk-…wxyz`` (at most the last four characters)."""
    if len(secret) < 12:
        return "…" * 3
    head = secret[:3] if secret[:3].isalpha() or secret.startswith("sk-") else ""
    return f"{head}…{secret[-4:]}"


@dataclass(frozen=True)
class KeyInfo:
    """Where a provider's key comes from, for listing. Holds the masked form only."""

    provider: str
    source: str  # "file", "keyring" or "env:VAR"
    masked: str


class KeyStore:
    """Finds, sets and deletes API keys. Thread-safe."""

    def __init__(self, path: Path, *, use_keyring: bool | None = None) -> None:
        self.path = path
        if use_keyring is None:
            use_keyring = not os.environ.get(NO_KEYRING_ENV)
        self._use_keyring = use_keyring
        self._keyring_checked = False
        self._keyring = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"KeyStore({str(self.path)!r})"

    # -- lookup -------------------------------------------------------------------------------
    def get(self, provider: str, *, env: str | None = None) -> str | None:
        """The key for ``provider``, or None. ``env`` names the provider's environment variable."""
        key = self._file_keys().get(provider)
        if key:
            return key
        keyring = self._backend()
        if keyring is not None:
            try:
                key = keyring.get_password(KEYRING_SERVICE, provider)
            except Exception as exc:  # a broken keyring must not break lookups
                log.warning("keyring lookup failed (%s); using other key sources", type(exc).__name__)
                key = None
            if key:
                return key
        if env and os.environ.get(env):
            return os.environ[env]
        return None

    def source(self, provider: str, *, env: str | None = None) -> KeyInfo | None:
        """Where the key for ``provider`` would come from, masked; None if there is none."""
        if self._file_keys().get(provider):
            return KeyInfo(provider, "file", mask(self._file_keys()[provider]))
        keyring = self._backend()
        if keyring is not None:
            try:
                key = keyring.get_password(KEYRING_SERVICE, provider)
            except Exception:
                key = None
            if key:
                return KeyInfo(provider, "keyring", mask(key))
        if env and os.environ.get(env):
            return KeyInfo(provider, f"env:{env}", mask(os.environ[env]))
        return None

    # -- changes ------------------------------------------------------------------------------
    def set(self, provider: str, key: str, *, backend: str = "file") -> str:
        """Store ``key`` for ``provider`` in ``"file"`` or ``"keyring"``; returns where it went."""
        key = key.strip()
        if not key:
            raise AiSessionsError("empty key not stored", hint="paste the whole key when prompted")
        if backend == "keyring":
            self.require_keyring().set_password(KEYRING_SERVICE, provider, key)
            return "keyring"
        with self._lock:
            keys = self._file_keys()
            keys[provider] = key
            self._write(keys)
        return str(self.path)

    def delete(self, provider: str) -> bool:
        """Remove the stored key of ``provider`` from the keys file and the keyring."""
        removed = False
        with self._lock:
            keys = self._file_keys()
            if provider in keys:
                del keys[provider]
                self._write(keys)
                removed = True
        keyring = self._backend()
        if keyring is not None:
            try:
                keyring.delete_password(KEYRING_SERVICE, provider)
                removed = True
            except Exception:
                pass
        return removed

    # -- internals ----------------------------------------------------------------------------
    def _file_keys(self) -> dict[str, str]:
        self._make_private()
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise AiSessionsError(f"cannot read keys file {self.path} ({exc.strerror})",
                                  hint="check its permissions (it should be yours, mode 600)") from None
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise AiSessionsError(f"keys file {self.path} is not valid JSON (line {exc.lineno})",
                                  hint="fix it by hand or delete it and set keys again") from None
        if not isinstance(data, dict):
            raise AiSessionsError(f"keys file {self.path} must hold a JSON object",
                                  hint="delete it and set keys again")
        return {str(k): str(v) for k, v in data.items()}

    def _make_private(self) -> None:
        """A keys file others can read (made by hand, or copied) is narrowed to mode 600, once, with a warning."""
        try:
            mode = stat.S_IMODE(os.stat(self.path).st_mode)
        except OSError:
            return
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            try:
                os.chmod(self.path, stat.S_IRUSR | stat.S_IWUSR)
                log.warning("keys file %s was readable by others (mode %o); changed it to 600", self.path, mode)
            except OSError:
                log.warning("keys file %s is readable by others (mode %o): run chmod 600 on it", self.path, mode)

    def _write(self, keys: dict[str, str]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(keys, handle, indent=2, sort_keys=True)
        os.chmod(tmp, stat.S_IRUSR | stat.S_IWUSR)
        os.replace(tmp, self.path)

    def require_keyring(self) -> Any:
        """The keyring module, or a clear error if this machine has no usable keyring backend."""
        keyring = self._backend()
        if keyring is None:
            if self._use_keyring and importlib.util.find_spec("keyring") is None:
                raise AiSessionsError("the keyring package is not installed",
                                      hint="pip install 'jupyter-ai-sessions[keyring]', or store the key in the "
                                           "keys file (leave out --keyring)")
            raise AiSessionsError("no usable OS keyring on this machine",
                                  hint="store the key in the keys file instead (leave out --keyring)")
        return keyring

    def _backend(self):
        if not self._use_keyring:
            return None
        if not self._keyring_checked:
            self._keyring_checked = True
            try:
                import keyring
                from keyring.backends import fail

                backend = keyring.get_keyring()
                usable = not isinstance(backend, fail.Keyring) and getattr(backend, "priority", 0) > 0
                self._keyring = keyring if usable else None
            except Exception:
                self._keyring = None
        return self._keyring
