"""The ``%ai_session`` subcommands: each one a small function taking typed arguments parsed by argparse.

``%ai_session help`` lists them; ``%ai_session NAME --help`` explains one. Errors raise
:class:`~ai_sessions.errors.AiSessionsError` (shown as one line by the magic). The ``models`` and ``keys``
subcommands live in :mod:`ai_sessions.magic_keys`.
"""

from __future__ import annotations

import argparse
import contextlib
import html
import shlex
import sys
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .hub import SessionHub
    from .session import Session

DEFAULT_SESSION = "default"


class HelpShown(Exception):
    """``--help`` was printed: nothing else to do."""


class MagicParser(argparse.ArgumentParser):
    """An ArgumentParser that reports errors as one-line exceptions instead of exiting."""

    def error(self, message: str) -> Any:
        from .errors import AiSessionsError

        raise AiSessionsError(f"{self.prog}: {message}", hint=f"see `{self.prog} --help`")

    def exit(self, status: int = 0, message: str | None = None) -> Any:
        if message:
            print(message, file=sys.stderr, end="")
        raise HelpShown


class MagicContext:
    """What the subcommands share: the shell, the hub (made on first use) and the current session."""

    def __init__(self, shell: Any, hub: SessionHub | None = None) -> None:
        self.shell = shell
        self._hub = hub
        #: The session ``%%ai_session`` uses when the cell names none (set by ``new`` and ``use``).
        self.current: str | None = None

    @property
    def hub(self) -> SessionHub:
        if self._hub is None:
            from .hub import hub

            return hub()
        return self._hub

    def session(self, name: str | None) -> Session:
        """The session ``name``, else the current one; raises SessionNotFound / AiSessionsError."""
        _refuse_blank(name)
        if name:
            return self.hub.get(name)
        if self.current is None:
            from .errors import AiSessionsError

            raise AiSessionsError("no current session",
                                  hint="name one, or pick it with `%ai_session use NAME` (or `new NAME`)")
        return self.hub.get(self.current)

    def cell_session(self, name: str | None, model: str | None) -> Session:
        """The session of a ``%%ai_session`` cell: got or created, switched to ``model`` if given."""
        from .errors import SessionNotFound

        _refuse_blank(name)
        name = name or self.current or DEFAULT_SESSION
        with fallback_notes():
            if model:
                check_model(self.hub, model)
            try:
                session = self.hub.get(name)
            except SessionNotFound:
                return self.hub.session(name, model=model)
            if model and model != session.requested_model:
                session.switch_model(model, reason="%%ai_session --model")
            session.announce_fallback()
        return session


def _refuse_blank(name: str | None) -> None:
    """An explicit ``''`` is a mistake (an unset variable?), not a request for the current session."""
    if name is not None and not name.strip():
        from .errors import AiSessionsError

        raise AiSessionsError("a session name cannot be empty or blank",
                              hint="leave the name out to use the current session, or write one")


@contextlib.contextmanager
def fallback_notes() -> Iterator[None]:
    """Show each FallbackWarning raised inside as one ``note:`` line (no source-line noise)."""
    from .catalogue import FallbackWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", FallbackWarning)
        try:
            yield
        finally:
            notes = [w for w in caught if issubclass(w.category, FallbackWarning)]
            others = [w for w in caught if not issubclass(w.category, FallbackWarning)]
    for w in notes:
        print(f"note: {w.message}", file=sys.stderr)
    for w in others:
        warnings.showwarning(w.message, w.category, w.filename, w.lineno)


def check_model(hub: SessionHub, model: str) -> None:
    """Raise UnknownModel for a malformed name or a provider nobody declared (no silent fallback)."""
    from .errors import UnknownModel
    from .providers import split_model
    from .settings import AUTO

    if model == AUTO:  # picks a model per reply from [auto] candidates (ai_sessions.auto)
        return
    provider, _ = split_model(model)
    if hub.settings.provider_config(provider) is None:
        known = ", ".join(hub.provider_names())
        raise UnknownModel(f"unknown provider {provider!r} in {model!r} (known: {known})")


@dataclass(frozen=True)
class Table:
    """A small table shown as HTML in Jupyter and as aligned text elsewhere; ``rows`` holds the data."""

    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]
    caption: str = ""

    def __repr__(self) -> str:
        cells = [self.columns, *[tuple("" if v is None else str(v) for v in row) for row in self.rows]]
        widths = [max(len(str(r[i])) for r in cells) for i in range(len(self.columns))]
        lines = ["  ".join(str(v).ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in cells]
        lines.insert(1, "  ".join("-" * w for w in widths))
        return "\n".join(([self.caption] if self.caption else []) + lines)

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{html.escape(c)}</th>" for c in self.columns)
        body = "".join("<tr>" + "".join(f"<td>{html.escape('' if v is None else str(v))}</td>" for v in row)
                       + "</tr>" for row in self.rows)
        caption = f"<caption>{html.escape(self.caption)}</caption>" if self.caption else ""
        return f"<table>{caption}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


# -- the command table ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Command:
    name: str
    summary: str
    arguments: tuple[tuple[tuple[str, ...], dict[str, Any]], ...]
    run: Callable[..., Any]
    #: the line after the options is free text, kept as written (quotes and apostrophes included)
    free_text: bool = False

    def valued_options(self) -> set[str]:
        return {flag for flags, options in self.arguments if flags[0].startswith("-")
                and options.get("action") not in ("store_true", "store_false") for flag in flags}


COMMANDS: dict[str, Command] = {}


def arg(*flags: str, **options: Any) -> tuple[tuple[str, ...], dict[str, Any]]:
    return flags, options


def command(name: str, summary: str, *arguments: tuple[tuple[str, ...], dict[str, Any]],
            free_text: bool = False) -> Callable[..., Any]:
    """Declare a subcommand: ``fn(ctx, **parsed_arguments)``."""

    def declare(fn: Callable[..., Any]) -> Callable[..., Any]:
        COMMANDS[name] = Command(name, summary, arguments, fn, free_text)
        if "help" in COMMANDS:  # listed last, whichever module declares its commands first
            COMMANDS["help"] = COMMANDS.pop("help")
        return fn

    return declare


def parser() -> MagicParser:
    top = MagicParser(prog="%ai_session", add_help=False)
    subs = top.add_subparsers(dest="command", parser_class=MagicParser)
    for cmd in COMMANDS.values():
        sub = subs.add_parser(cmd.name, help=cmd.summary, description=cmd.summary, prog=f"%ai_session {cmd.name}")
        for flags, options in cmd.arguments:
            sub.add_argument(*flags, **options)
    return top


def split_line(line: str) -> list[str]:
    """The words of a magic's line, shell-style (quotes group words)."""
    from .errors import AiSessionsError

    try:
        return shlex.split(line)
    except ValueError as exc:
        raise AiSessionsError(f"cannot parse the line ({exc})", hint="check the quotes") from None


def free_text_words(text: str, valued: set[str]) -> list[str]:
    """``[--option VALUE ...] [--] TEXT`` as words: options are split at spaces, the text after them is one
    word kept as written (``%ai_session ask What's a p-value?`` must not trip over the apostrophe)."""
    words: list[str] = []
    rest = text.strip()
    while rest.startswith("-"):
        word, _, rest = rest.partition(" ")
        rest = rest.lstrip()
        if word == "--":
            break
        name, eq, value = word.partition("=")
        words.append(name)
        if eq:
            words.append(value)
        elif name in valued and rest:
            value, _, rest = rest.partition(" ")
            rest = rest.lstrip()
            words.append(value)
    if rest:
        words.append(rest)
    return words


def run_line(ctx: MagicContext, line: str) -> Any:
    """Parse one ``%ai_session`` line and run its subcommand."""
    from .errors import AiSessionsError

    head, _, rest = line.strip().partition(" ")
    if head in COMMANDS and COMMANDS[head].free_text:
        words = [head, *free_text_words(rest, COMMANDS[head].valued_options())]
    else:
        words = split_line(line)
    if not words or words[0] in ("-h", "--help"):
        words = ["help"]
    if words[0] not in COMMANDS:
        raise AiSessionsError(f"unknown subcommand {words[0]!r}", hint="see `%ai_session help`")
    options = vars(parser().parse_args(words))
    cmd = COMMANDS[options.pop("command")]
    with fallback_notes():
        return cmd.run(ctx, **options)


# -- sessions ---------------------------------------------------------------------------------------
@command("new", "create a session and make it the current one",
         arg("name"), arg("--model", help="provider:model, e.g. local:smollm2"),
         arg("--system", help="system prompt"), arg("--temperature", type=float),
         arg("--max-tokens", type=int, dest="max_tokens"),
         arg("--agent", help="start from the [agents.NAME] preset of the settings"))
def cmd_new(ctx: MagicContext, name: str, model: str | None, system: str | None, temperature: float | None,
            max_tokens: int | None, agent: str | None = None) -> None:
    from .errors import AiSessionsError

    if not name.strip():
        raise AiSessionsError("`new` needs a session name, not an empty one", hint="e.g. `%ai_session new analysis`")
    if any(info.name == name for info in ctx.hub.sessions()):
        raise AiSessionsError(f"a session named {name!r} already exists",
                              hint=f"use it with `%ai_session use {name}`, or pick another name")
    if model:
        check_model(ctx.hub, model)
    session = ctx.hub.session(name, model=model, system_prompt=system, temperature=temperature,
                              max_tokens=max_tokens, agent=agent)
    ctx.current = session.name
    tools = f" with {len(session.tools)} tools" if len(session.tools) else ""
    print(f"created session {session.name!r} ({session.model}){tools}; it is now the current session")


@command("list", "list this notebook's sessions (the current one marked *)",
         arg("--all", action="store_true", dest="all_scopes", help="sessions of every notebook"))
def cmd_list(ctx: MagicContext, all_scopes: bool) -> Table:
    rows = []
    for info in ctx.hub.sessions(all_scopes=all_scopes):
        mark = "*" if info.name == ctx.current and info.scope == ctx.hub.scope else ""
        tokens = info.usage.input_tokens + info.usage.output_tokens
        cost = "" if info.cost is None else f"${info.cost:.4f}"
        row = (mark, info.name, info.model, info.status, info.message_count, tokens, cost)
        rows.append((*row, info.scope) if all_scopes else row)
    columns = ("", "name", "model", "status", "messages", "tokens", "cost")
    return Table((*columns, "notebook") if all_scopes else columns, tuple(rows))


@command("use", "make NAME the session that %%ai_session cells use", arg("name"))
def cmd_use(ctx: MagicContext, name: str) -> None:
    session = ctx.hub.get(name)
    ctx.current = session.name
    print(f"%%ai_session now uses {session.name!r} ({session.model})")


@command("model", "switch the current session (or --session NAME) to model M; the history is kept",
         arg("model"), arg("--reason", help="recorded in the switch log"), arg("--session", help="session name"))
def cmd_model(ctx: MagicContext, model: str, reason: str | None, session: str | None) -> None:
    target = ctx.session(session)
    check_model(ctx.hub, model)
    switch = target.switch_model(model, reason=reason)
    if switch is None:
        print(f"{target.name!r} already uses {model}; nothing changed")
        return
    print(f"{target.name!r}: {switch.from_model} -> {switch.to_model} from message {switch.message_index + 1}")


@command("chat", "show the chat widget of NAME (or of the current session)", arg("name", nargs="?"))
def cmd_chat(ctx: MagicContext, name: str | None) -> Any:
    return ctx.session(name).chat()


@command("tab", "open NAME (or the current session) in a JupyterLab tab", arg("name", nargs="?"))
def cmd_tab(ctx: MagicContext, name: str | None) -> Any:
    return ctx.session(name).open_tab()


@command("panel", "show the hub panel: every session of this notebook")
def cmd_panel(ctx: MagicContext) -> Any:
    return ctx.hub.panel()


@command("close", "stop and release a session (its history stays)", arg("name"))
def cmd_close(ctx: MagicContext, name: str) -> None:
    session = ctx.hub.get(name)
    ctx.hub.close(session.id)
    print(f"closed {session.name!r}; `%ai_session use {session.name}` or a %%ai_session cell reopens it")


@command("delete", "delete a session and its whole history", arg("name"))
def cmd_delete(ctx: MagicContext, name: str) -> None:
    session = ctx.hub.get(name)
    count = len(session.messages)
    ctx.hub.delete(session.id)
    if ctx.current == session.name:
        ctx.current = None
    print(f"deleted {session.name!r} and its {count} messages")


@command("fork", "copy the first N messages of NAME into a new session",
         arg("name"), arg("--at", type=int, required=True, help="number of messages to keep"),
         arg("--as", dest="new_name", help="name of the new session"))
def cmd_fork(ctx: MagicContext, name: str, at: int, new_name: str | None) -> None:
    fork = ctx.hub.get(name).fork(at=at, name=new_name)
    print(f"forked {name!r} into {fork.name!r} with {len(fork.messages)} messages; "
          f"`%ai_session use {fork.name}` to continue it")


@command("export", "export NAME as markdown or json, shown or written to a file",
         arg("name"), arg("--format", choices=("markdown", "json"), default="markdown"),
         arg("--to", help="file to write"),
         arg("--force", action="store_true", help="overwrite the file if it exists"))
def cmd_export(ctx: MagicContext, name: str, format: str, to: str | None, force: bool) -> None:
    from .errors import AiSessionsError

    text = ctx.hub.get(name).export(format)
    if to is None:
        if format == "json":
            print(text)
        else:
            from IPython.display import display

            display({"text/markdown": text, "text/plain": text}, raw=True)
        return None
    try:  # mode "x": an existing file is refused in the same call that creates it (no check-then-write race)
        with Path(to).expanduser().open("w" if force else "x", encoding="utf-8") as file:
            file.write(text)
    except FileExistsError:
        raise AiSessionsError(f"{to} already exists",
                              hint="add --force to overwrite it, or pick another --to") from None
    except OSError as exc:
        raise AiSessionsError(f"cannot write {to} ({exc.strerror})", hint="check the path") from None
    print(f"wrote {name!r} as {format} to {to}")
    return None


# -- inspector, metrics, one-off questions ---------------------------------------------------------------
@command("inspect", "show the inspector of NAME (or the current session): its replies on a time axis",
         arg("name", nargs="?"))
def cmd_inspect(ctx: MagicContext, name: str | None) -> Any:
    return ctx.session(name).inspect()


@command("metrics", "per model over this notebook's sessions: replies, failures, latency, tokens/s, cost",
         arg("--all", action="store_true", dest="all_scopes", help="over the sessions of every notebook"))
def cmd_metrics(ctx: MagicContext, all_scopes: bool) -> Any:
    return ctx.hub.metrics(all_scopes=all_scopes)


@command("ask", "a one-off question: no history is sent and no session keeps it (streams into the output)",
         arg("--model", help="provider:model or auto (default: the settings' default model)"),
         arg("prompt", nargs="?", default="", help="the question: the rest of the line, as written"), free_text=True)
def cmd_ask(ctx: MagicContext, model: str | None, prompt: str) -> Any:
    from .errors import AiSessionsError
    from .magics import ask_reply  # the streaming display lives with the cell magic

    if not prompt.strip():
        raise AiSessionsError("`ask` needs a question", hint="e.g. `%ai_session ask What does df.melt do?`")
    if model:
        check_model(ctx.hub, model)
    return ask_reply(ctx, prompt.strip(), model)


# -- models and keys (their own module; imported here so they are listed before `help`) ---------------
from . import magic_keys, magic_search, magic_tools  # noqa: E402,F401


@command("help", "list the subcommands")
def cmd_help(ctx: MagicContext) -> None:
    width = max(len(name) for name in COMMANDS)
    lines = ["%ai_session SUBCOMMAND ... (add --help to any subcommand for its options)", ""]
    lines += [f"  {name.ljust(width)}  {cmd.summary}" for name, cmd in COMMANDS.items()]
    lines += ["", "%%ai_session [NAME] [--model M] [--format markdown|code|text] [--no-interpolate] [--once]",
              "  the cell body is the prompt; {name} is filled from your variables;",
              "  the reply streams into the output and is the cell's value (`_`);",
              "  --once asks it as a one-off question (no history, no session)."]
    print("\n".join(lines))
