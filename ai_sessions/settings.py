"""Settings from ``settings.toml``: defaults for new sessions, provider tables, store location.

Where settings come from, later ones overriding earlier ones key by key:

1. ``settings.toml`` in the user config dir (``platformdirs.user_config_dir("ai_sessions")``),
   or the file named by ``AI_SESSIONS_SETTINGS`` instead;
2. ``ai_sessions.toml`` in the current working directory (project-local).

Example::

    [defaults]
    model = "anthropic:claude-sonnet-4-5"
    temperature = 0.3
    max_tokens = 1024
    system_prompt = "You are a concise data-science assistant."

    [providers.ollama]
    kind = "openai-compatible"
    base_url = "http://localhost:11434/v1"

    [batch]                     # maps over many inputs (docs/batch.md)
    confirm_above_usd = 5       # ask in the notebook before a job estimated above this
    poll_interval_s = 10        # first wait between polls of a provider's batch job (then backing off)
    poll_max_s = 300            # longest wait between polls
"""

from __future__ import annotations

import os
import re
import tomllib
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import platformdirs

from .errors import SettingsError
from .providers.base import ProviderConfig

APP = "ai_sessions"
SETTINGS_ENV = "AI_SESSIONS_SETTINGS"
CONFIG_DIR_ENV = "AI_SESSIONS_CONFIG_DIR"
DATA_DIR_ENV = "AI_SESSIONS_DATA_DIR"
PROJECT_FILE = "ai_sessions.toml"
LOCAL_MODEL = "local:smollm2"

_DEFAULT_KEYS: dict[str, type | tuple[type, ...]] = {
    "model": str, "temperature": (int, float), "max_tokens": int, "system_prompt": str,
}
_STORE_KEYS: dict[str, type | tuple[type, ...]] = {"path": str, "events_days": (int, float)}
_BATCH_KEYS = ("confirm_above_usd", "poll_interval_s", "poll_max_s")
_TOP_KEYS = {"defaults", "providers", "store", "batch"}


class SettingsWarning(UserWarning):
    """A settings file holds something that is ignored (an unknown key)."""


def config_dir() -> Path:
    """Where settings.toml and keys.json live (``AI_SESSIONS_CONFIG_DIR`` overrides)."""
    return Path(os.environ.get(CONFIG_DIR_ENV) or platformdirs.user_config_dir(APP))


def data_dir() -> Path:
    """Where the session store lives (``AI_SESSIONS_DATA_DIR`` overrides)."""
    return Path(os.environ.get(DATA_DIR_ENV) or platformdirs.user_data_dir(APP))


@dataclass(frozen=True)
class Defaults:
    """What a new session inherits."""

    model: str = LOCAL_MODEL
    temperature: float | None = None
    max_tokens: int | None = 1024
    system_prompt: str | None = None


@dataclass(frozen=True)
class BatchSettings:
    """``[batch]``: maps over many inputs, live or through a provider's Batch API."""

    #: Ask in the notebook before a job estimated above this many USD (None: never ask).
    confirm_above_usd: float | None = 5.0
    #: First wait between polls of a provider's batch job; it grows while nothing changes.
    poll_interval_s: float = 10.0
    #: The longest wait between polls.
    poll_max_s: float = 300.0


@dataclass(frozen=True)
class Settings:
    """Loaded settings. Use :func:`load_settings`; a bare ``Settings()`` is all defaults."""

    defaults: Defaults = field(default_factory=Defaults)
    providers: dict[str, ProviderConfig] = field(default_factory=dict)
    store_path: Path | None = None
    sources: tuple[Path, ...] = ()
    #: Days the store keeps events (metadata of what happened: requests, retries, switches; never text).
    events_days: float = 90
    batch: BatchSettings = field(default_factory=BatchSettings)

    def provider_config(self, name: str) -> ProviderConfig | None:
        """The config of provider ``name``: from settings, else the kind of that name with no options
        (built-in, plugin or registered; not a kind that needs a settings table)."""
        from .providers import known_kinds, provider_class

        if name in self.providers:
            return self.providers[name]
        if name in known_kinds():
            try:
                if provider_class(name).needs_config:
                    return None
            except Exception:  # a broken plugin: reported as unusable when it is used
                pass
            return ProviderConfig(name=name, kind=name)
        return None


def settings_files(cwd: Path | None = None) -> list[Path]:
    """The settings files that apply, lowest precedence first (existing or not)."""
    user = Path(os.environ[SETTINGS_ENV]) if os.environ.get(SETTINGS_ENV) else config_dir() / "settings.toml"
    return [user, (cwd or Path.cwd()) / PROJECT_FILE]


def load_settings(files: list[Path] | None = None) -> Settings:
    """Read and merge the settings files; raises :class:`SettingsError` naming file, line and key."""
    merged: dict[str, Any] = {}
    where: dict[str, tuple[Path, str]] = {}  # dotted key -> (file, text) for error lines
    sources: list[Path] = []
    for path in files if files is not None else settings_files():
        if not path.is_file():
            if path == files_env_override():
                raise SettingsError("file not found", path=path,
                                    hint=f"create it, or unset {SETTINGS_ENV}")
            continue
        try:
            text = path.read_text(encoding="utf-8")
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            line = _line_from_toml_error(str(exc))
            raise SettingsError(f"not valid TOML ({exc})", path=path, line=line) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise SettingsError(f"cannot read ({exc})", path=path) from None
        sources.append(path)
        _merge(merged, data, where, path, text, prefix="")
    return _build(merged, where, tuple(sources))


def files_env_override() -> Path | None:
    value = os.environ.get(SETTINGS_ENV)
    return Path(value) if value else None


def _merge(into: dict[str, Any], data: dict[str, Any], where: dict[str, tuple[Path, str]],
           path: Path, text: str, prefix: str) -> None:
    for key, value in data.items():
        dotted = f"{prefix}{key}"
        where[dotted] = (path, text)
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value, where, path, text, prefix=dotted + ".")
        elif isinstance(value, dict):
            into[key] = {}
            _merge(into[key], value, where, path, text, prefix=dotted + ".")
        else:
            into[key] = value


def _build(data: dict[str, Any], where: dict[str, tuple[Path, str]], sources: tuple[Path, ...]) -> Settings:
    def fail(dotted: str, message: str) -> SettingsError:
        path, text = where.get(dotted, (sources[-1] if sources else Path("settings.toml"), ""))
        return SettingsError(message, path=path, line=_find_line(text, dotted), key=dotted)

    def report_unknown(dotted: str) -> None:
        path, text = where[dotted]
        line = _find_line(text, dotted)
        warnings.warn(SettingsWarning(f"{path}" + (f", line {line}" if line else "") +
                                      f": unknown key '{dotted}' is ignored"), stacklevel=3)

    for key in data:
        if key not in _TOP_KEYS:
            report_unknown(key)

    defaults_table = data.get("defaults", {})
    if not isinstance(defaults_table, dict):
        raise fail("defaults", "must be a table ([defaults])")
    values: dict[str, Any] = {}
    for key, value in defaults_table.items():
        expected = _DEFAULT_KEYS.get(key)
        if expected is None:
            report_unknown(f"defaults.{key}")
            continue
        if not isinstance(value, expected) or isinstance(value, bool):
            raise fail(f"defaults.{key}", f"expected {_type_name(expected)}, got {type(value).__name__}")
        values[key] = value
    if "model" in values and ":" not in values["model"]:
        raise fail("defaults.model", f"model {values['model']!r} is not of the form 'provider:model'")
    if "temperature" in values and not 0 <= values["temperature"] <= 2:
        raise fail("defaults.temperature", "must be between 0 and 2")
    if "max_tokens" in values and values["max_tokens"] <= 0:
        raise fail("defaults.max_tokens", "must be a positive integer")

    providers: dict[str, ProviderConfig] = {}
    from .providers import known_kinds, provider_class
    from .providers.options import check_option

    provider_tables = data.get("providers", {})
    if not isinstance(provider_tables, dict):
        raise fail("providers", "must be tables, one per provider ([providers.NAME])")
    for name, table in provider_tables.items():
        dotted = f"providers.{name}"
        if not isinstance(table, dict):
            raise fail(dotted, "must be a table ([providers.NAME])")
        kinds = known_kinds()
        kind = table.get("kind", name if name in kinds and name != "openai-compatible" else None)
        if not isinstance(kind, str):
            raise fail(dotted, "needs kind = \"openai-compatible\" (or another provider kind)")
        if kind not in kinds:
            raise fail(f"{dotted}.kind" if "kind" in table else dotted,
                       f"no provider of kind {kind!r}; known kinds: {', '.join(kinds)}")
        try:
            declared = provider_class(kind).options
        except Exception as exc:  # a plugin that cannot load: its table is kept, checked when it loads
            warnings.warn(SettingsWarning(f"provider kind {kind!r} cannot load ({exc}); [{dotted}] is not "
                                          "checked"), stacklevel=3)
            declared = None
        options = {}
        for key, value in table.items():
            problem = None if key == "kind" or declared is None else check_option(declared, key, value)
            if problem == "unknown":
                report_unknown(f"{dotted}.{key}")
            elif problem:
                raise fail(f"{dotted}.{key}", problem)
            elif key != "kind":
                options[key] = value
        providers[name.lower()] = ProviderConfig(name=name.lower(), kind=kind, options=options)

    store_table = data.get("store", {})
    if not isinstance(store_table, dict):
        raise fail("store", "must be a table ([store])")
    for key, value in store_table.items():
        expected = _STORE_KEYS.get(key)
        if expected is None:
            report_unknown(f"store.{key}")
        elif key == "path" and not isinstance(value, str):
            raise fail(f"store.{key}", "expected a string (a file path)")
        elif key == "events_days" and (isinstance(value, bool) or not isinstance(value, expected) or value <= 0):
            raise fail(f"store.{key}", "expected a positive number of days")
    store_path = Path(store_table["path"]).expanduser() if "path" in store_table else None
    batch_table = data.get("batch", {})
    if not isinstance(batch_table, dict):
        raise fail("batch", "must be a table ([batch])")
    batch: dict[str, float] = {}
    for key, value in batch_table.items():
        if key not in _BATCH_KEYS:
            report_unknown(f"batch.{key}")
        elif isinstance(value, bool) or not isinstance(value, int | float) or value < 0 or (
                key != "confirm_above_usd" and value == 0):
            raise fail(f"batch.{key}", "expected a positive number" + (" of USD" if key == "confirm_above_usd"
                                                                         else " of seconds"))
        else:
            batch[key] = float(value)
    if batch.get("poll_max_s", BatchSettings.poll_max_s) < batch.get("poll_interval_s", BatchSettings.poll_interval_s):
        raise fail("batch.poll_max_s", "must not be below poll_interval_s")
    return Settings(Defaults(**values), providers, store_path, sources, float(store_table.get("events_days", 90)),
                    BatchSettings(**batch))


def _type_name(expected: type | tuple[type, ...]) -> str:
    if isinstance(expected, tuple):
        return "a number"
    return {str: "a string", int: "an integer"}.get(expected, expected.__name__)


def _line_from_toml_error(message: str) -> int | None:
    match = re.search(r"line (\d+)", message)
    return int(match.group(1)) if match else None


def _find_line(text: str, dotted: str) -> int | None:
    """The line defining ``dotted`` (``section.key``) in a TOML text, best effort."""
    *section, key = dotted.split(".")
    in_section = not section
    header = "[" + ".".join(section) + "]"
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if stripped.startswith("["):
            in_section = stripped == header
            if in_section and not key:
                return number
            if stripped == f"[{dotted}]":
                return number
            continue
        if in_section and re.match(rf"{re.escape(key)}\s*=", stripped):
            return number
    return None
