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

from .checks import MAX_TOKENS_LIMIT
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
_TOP_KEYS = {"defaults", "providers", "store", "tools", "context", "mcp", "agents", "auto", "batch"}
AUTO = "auto"
#: Seconds a candidate of model="auto" is avoided after it failed (``[auto] cooldown_s``).
DEFAULT_COOLDOWN_S = 120.0


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
class ToolSettings:
    """``[tools]``: bounds of the tool loop of a reply."""

    max_rounds: int = 10
    timeout_s: float = 120.0


@dataclass(frozen=True)
class ContextSettings:
    """``[context]``: the size budget of an attached object's description, and how many megabytes of files one
    chat message may carry (Jupyter's server refuses websocket messages over 10 MiB unless configured)."""

    max_chars: int = 20_000
    max_attachment_mb: float = 8.0


@dataclass(frozen=True)
class McpServer:
    """``[mcp.NAME]``: an MCP server, started over stdio (``command`` + ``args`` + ``env``) or reached over
    streamable HTTP (``url``). It gets only the environment its table gives it."""

    name: str
    command: str | None = None
    args: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    url: str | None = None
    cwd: str | None = None
    approval: str = "auto"
    timeout_s: float = 30.0


@dataclass(frozen=True)
class Agent:
    """``[agents.NAME]``: a saved pairing of model, system prompt, parameters and tools."""

    name: str
    model: str | None = None
    system_prompt: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    tools: tuple[str, ...] = ()
    description: str = ""


@dataclass(frozen=True)
class AutoRule:
    """A routing rule of ``model="auto"``: when the prompt matches every condition given, the choice starts at
    candidate ``use`` (the candidates before it are passed over)."""

    use: str
    #: the prompt is longer than this many tokens (estimated as characters / 4)
    tokens_over: int | None = None
    #: the prompt holds a fenced code block (```)
    code_block: bool | None = None
    #: the prompt contains one of these words (case-insensitive, whole words)
    keywords: tuple[str, ...] = ()

    def describe(self) -> str:
        parts = []
        if self.tokens_over is not None:
            parts.append(f"over {self.tokens_over} tokens")
        if self.code_block is not None:
            parts.append("a code block" if self.code_block else "no code block")
        if self.keywords:
            parts.append("keyword " + "/".join(self.keywords))
        return ", ".join(parts)


@dataclass(frozen=True)
class AutoSettings:
    """``[auto]``: the candidates of ``model="auto"`` in order of preference, the routing rules, how long a
    failed candidate is avoided, and context windows the price table does not know."""

    candidates: tuple[str, ...] = ()
    rules: tuple[AutoRule, ...] = ()
    cooldown_s: float = DEFAULT_COOLDOWN_S
    context_windows: dict[str, int] = field(default_factory=dict)

    def effective_candidates(self, default_model: str) -> tuple[str, ...]:
        """The candidates, or without an ``[auto]`` list the default model then the embedded one."""
        return self.candidates or tuple(dict.fromkeys((default_model, LOCAL_MODEL)))


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
    tools: ToolSettings = field(default_factory=ToolSettings)
    context: ContextSettings = field(default_factory=ContextSettings)
    mcp: dict[str, McpServer] = field(default_factory=dict)
    agents: dict[str, Agent] = field(default_factory=dict)
    #: ``[auto]``: how sessions with ``model="auto"`` pick their model.
    auto: AutoSettings = field(default_factory=AutoSettings)
    #: ``[batch]``: maps over many inputs (confirmation threshold, polling of Batch API jobs).
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
    def origin(dotted: str) -> tuple[Path, str]:
        """The file that set ``dotted`` (or its nearest parent: keys inside [[arrays]] are not tracked)."""
        key = dotted
        while key not in where and "." in key:
            key = key.rpartition(".")[0]
        return where.get(key, (sources[-1] if sources else Path("settings.toml"), ""))

    def fail(dotted: str, message: str) -> SettingsError:
        path, text = origin(dotted)
        return SettingsError(message, path=path, line=_find_line(text, dotted), key=dotted)

    def report_unknown(dotted: str) -> None:
        path, text = origin(dotted)
        line = _find_line(text, dotted)
        warnings.warn(SettingsWarning(f"{path}" + (f", line {line}" if line else "") +
                                      f": unknown key '{dotted}' is ignored"), stacklevel=3)

    def checked(dotted: str, table: Any, spec: dict[str, Spec]) -> dict[str, Any]:
        """The keys of ``table`` known to ``spec`` (type, then an optional check), unknown ones reported."""
        if not isinstance(table, dict):
            raise fail(dotted, f"must be a table ([{dotted}])")
        values: dict[str, Any] = {}
        for key, value in table.items():
            if key not in spec:
                report_unknown(f"{dotted}.{key}")
                continue
            expected, check = spec[key]
            if not isinstance(value, expected) or (isinstance(value, bool) and expected is not bool):
                raise fail(f"{dotted}.{key}", f"expected {_type_name(expected)}, got {type(value).__name__}")
            problem = check(value) if check is not None else None
            if problem:
                raise fail(f"{dotted}.{key}", problem)
            values[key] = tuple(value) if isinstance(value, list) else value
        return values

    def checked_table(name: str, spec: dict[str, Spec]) -> dict[str, Any]:
        return checked(name, data.get(name, {}), spec)

    def named_tables(name: str, spec: dict[str, Spec]) -> dict[str, dict[str, Any]]:
        tables = data.get(name, {})
        if not isinstance(tables, dict):
            raise fail(name, f"must be tables, one per name ([{name}.NAME])")
        return {key: checked(f"{name}.{key}", table, spec) for key, table in tables.items()}

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
    if "max_tokens" in values and not 1 <= values["max_tokens"] <= MAX_TOKENS_LIMIT:
        raise fail("defaults.max_tokens", f"must be a positive integer up to {MAX_TOKENS_LIMIT:,}")

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

    def positive(value: Any) -> str | None:
        return None if value > 0 else "must be positive"

    tools = ToolSettings(**checked_table("tools", {"max_rounds": (int, positive), "timeout_s": (NUMBER, positive)}))
    context = ContextSettings(**checked_table("context", {"max_chars": (int, positive),
                                                         "max_attachment_mb": (NUMBER, positive)}))
    mcp = {name: McpServer(name, **table) for name, table in named_tables("mcp", _MCP_KEYS).items()}
    for name, server in mcp.items():
        if (server.command is None) == (server.url is None):
            raise fail(f"mcp.{name}", "needs either command = \"...\" (stdio) or url = \"http://...\" (HTTP)")
    agents = {}
    for name, table in named_tables("agents", _AGENT_KEYS).items():
        params = {k: table.pop(k) for k in ("temperature", "max_tokens") if k in table}
        if "model" in table and ":" not in table["model"]:
            raise fail(f"agents.{name}.model", f"model {table['model']!r} is not of the form 'provider:model'")
        agents[name] = Agent(name, params=params, **table)
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
    settings = Settings(Defaults(**values), providers, store_path, sources, float(store_table.get("events_days", 90)),
                        tools, context, mcp, agents, batch=BatchSettings(**batch))
    if "auto" in data:
        from dataclasses import replace

        settings = replace(settings, auto=_auto(data["auto"], settings, fail, report_unknown))
    return settings


_AUTO_KEYS = {"candidates", "rules", "cooldown_s", "context_windows"}
_RULE_KEYS = {"use", "tokens_over", "code_block", "keywords"}


def _auto(table: Any, settings: Settings, fail: Any, report_unknown: Any) -> AutoSettings:
    """Check ``[auto]`` like the provider tables: wrong types and unknown providers are errors naming the
    key, unknown keys a warning."""
    if not isinstance(table, dict):
        raise fail("auto", "must be a table ([auto])")
    for key in table:
        if key not in _AUTO_KEYS:
            report_unknown(f"auto.{key}")

    def model_name(value: Any, key: str) -> str:
        if not isinstance(value, str) or value.count(":") < 1 or value.startswith(":") or value.endswith(":"):
            raise fail(key, f"{value!r} is not a 'provider:model' name")
        provider = value.partition(":")[0]
        if settings.provider_config(provider) is None:
            raise fail(key, f"unknown provider {provider!r} in {value!r}: declare it under [providers.{provider}]")
        return value

    raw = table.get("candidates", [])
    if not isinstance(raw, list) or (not raw and "candidates" in table):
        raise fail("auto.candidates", "expected a non-empty list of 'provider:model' names, most preferred first")
    candidates = tuple(dict.fromkeys(model_name(v, "auto.candidates") for v in raw))
    cooldown = table.get("cooldown_s", DEFAULT_COOLDOWN_S)
    if isinstance(cooldown, bool) or not isinstance(cooldown, int | float) or cooldown < 0:
        raise fail("auto.cooldown_s", "expected a number of seconds (0 or more)")
    windows = table.get("context_windows", {})
    if not isinstance(windows, dict):
        raise fail("auto.context_windows", 'expected a table of model = tokens, e.g. { "local:smollm2" = 8192 }')
    for name, size in windows.items():
        model_name(name, "auto.context_windows")
        if isinstance(size, bool) or not isinstance(size, int) or size <= 0:
            raise fail("auto.context_windows", f"the context window of {name!r} must be a positive integer")
    rules_raw = table.get("rules", [])
    if not isinstance(rules_raw, list) or not all(isinstance(r, dict) for r in rules_raw):
        raise fail("auto.rules", "expected rule tables ([[auto.rules]])")
    rules = []
    listed = candidates or AutoSettings().effective_candidates(settings.defaults.model)
    for number, rule in enumerate(rules_raw, start=1):
        for key in rule:
            if key not in _RULE_KEYS:
                report_unknown(f"auto.rules.{key}")
        use = rule.get("use")
        if use not in listed:
            raise fail("auto.rules.use", f"rule {number}: use = {use!r} is not one of the candidates "
                                         f"({', '.join(listed)})")
        tokens = rule.get("tokens_over")
        if tokens is not None and (isinstance(tokens, bool) or not isinstance(tokens, int) or tokens < 0):
            raise fail("auto.rules.tokens_over", f"rule {number}: expected a number of tokens")
        code = rule.get("code_block")
        if code is not None and not isinstance(code, bool):
            raise fail("auto.rules.code_block", f"rule {number}: expected true or false")
        words = rule.get("keywords", [])
        if not isinstance(words, list) or not all(isinstance(w, str) and w.strip() for w in words):
            raise fail("auto.rules.keywords", f"rule {number}: expected a list of words")
        if tokens is None and code is None and not words:
            raise fail("auto.rules", f"rule {number} has no condition: give tokens_over, code_block or keywords")
        rules.append(AutoRule(use, tokens, code, tuple(w.strip().lower() for w in words)))
    return AutoSettings(candidates, tuple(rules), float(cooldown),
                        {name: int(size) for name, size in windows.items()})


def _type_name(expected: type | tuple[type, ...]) -> str:
    if isinstance(expected, tuple):
        return "a number"
    return {str: "a string", int: "an integer", list: "a list", dict: "a table", bool: "true or false"}.get(
        expected, expected.__name__)


def _strings(value: Any) -> str | None:
    return None if all(isinstance(v, str) for v in value) else "expected a list of strings"


def _string_table(value: Any) -> str | None:
    return None if all(isinstance(v, str) for v in value.values()) else "expected a table of NAME = \"text\""


def _approval(value: Any) -> str | None:
    return None if value in ("auto", "ask") else "expected \"auto\" or \"ask\""


def _range(low: float, high: float) -> Any:
    return lambda value: None if low <= value <= high else f"must be between {low:g} and {high:g}"


Spec = tuple[type | tuple[type, ...], Any]
NUMBER = (int, float)
_MCP_KEYS: dict[str, Spec] = {
    "command": (str, None), "args": (list, _strings), "env": (dict, _string_table), "url": (str, None),
    "cwd": (str, None), "approval": (str, _approval), "timeout_s": (NUMBER, _range(0.1, 3600)),
}
_AGENT_KEYS: dict[str, Spec] = {
    "model": (str, None), "system_prompt": (str, None), "temperature": (NUMBER, _range(0, 2)),
    "max_tokens": (int, _range(1, 1_000_000)), "tools": (list, _strings), "description": (str, None),
}


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
            in_section = stripped in (header, f"[{header}]")  # a table, or an array of tables ([[auto.rules]])
            if in_section and not key:
                return number
            if stripped in (f"[{dotted}]", f"[[{dotted}]]"):
                return number
            continue
        if in_section and re.match(rf"{re.escape(key)}\s*=", stripped):
            return number
    return None
