"""IPython magics: ``%ai_session`` (subcommands, see :mod:`ai_sessions.magic_commands`) and the
``%%ai_session`` cell magic, whose body is the prompt.

Loading is cheap: ``%load_ext ai_sessions`` imports IPython's magic machinery and this module only;
the hub (store, thread), widgets and provider SDKs load on first use.

>>> %load_ext ai_sessions                                   # doctest: +SKIP
>>> %%ai_session analysis --format code                     # doctest: +SKIP
... Write pandas code that plots {column} of df by month.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class

from .magic_commands import HelpShown, MagicContext, MagicParser, run_line, split_line
from .throttle import MAGIC_UPDATE_S

if TYPE_CHECKING:
    from .hub import SessionHub
    from .model import Message
    from .oneoff import OneOff
    from .session import Session

MAGIC_NAME = "ai_session"
FORMATS = ("markdown", "code", "text")
_FENCE = re.compile(r"```[^\n`]*\n(.*?)```", re.DOTALL)


@magics_class
class AiSessionMagics(Magics):
    """The ``%ai_session`` line magic and ``%%ai_session`` cell magic of one IPython shell."""

    def __init__(self, shell: Any, hub: SessionHub | Callable[[], SessionHub] | None = None) -> None:
        super().__init__(shell)
        self.context = MagicContext(shell, hub)

    @line_cell_magic
    def ai_session(self, line: str, cell: str | None = None) -> Any:
        """Chat sessions from magics; ``%ai_session help`` lists the subcommands.

        ``%%ai_session [NAME] [--model M] [--format markdown|code|text] [--no-interpolate]``: the cell
        body is the prompt, with ``{name}`` filled from your variables."""
        from .errors import AiSessionsError

        try:
            if cell is None:
                return run_line(self.context, line)
            return run_cell(self.context, line, cell)
        except HelpShown:
            return None
        except AiSessionsError as exc:
            raise UsageError(str(exc)) from None


def register(ipython: Any, hub: SessionHub | Callable[[], SessionHub] | None = None) -> AiSessionMagics:
    """Register the magics on ``ipython`` (``hub`` defaults to the kernel's hub, made on first use)."""
    magics = AiSessionMagics(ipython, hub)
    ipython.register_magics(magics)
    return magics


def unregister(ipython: Any) -> None:
    """Remove the ``%ai_session`` magics from ``ipython``."""
    for kind in ("line", "cell"):
        ipython.magics_manager.magics[kind].pop(MAGIC_NAME, None)


# -- the cell magic ------------------------------------------------------------------------------------
def _cell_parser() -> MagicParser:
    parser = MagicParser(prog="%%ai_session", description="Send the cell body as a prompt to a session.")
    parser.add_argument("name", nargs="?", help="the session (default: the one chosen with `use`)")
    parser.add_argument("--model", help="switch the session to this model first (the switch is logged)")
    parser.add_argument("--format", choices=FORMATS, default="markdown",
                        help="markdown (rendered), code (offered as the next cell) or text")
    parser.add_argument("--no-interpolate", action="store_true", help="send {braces} as they are")
    parser.add_argument("--with", dest="attach", metavar="NAMES",
                        help="attach these variables (comma-separated, e.g. df,fig): their description is sent")
    parser.add_argument("--once", action="store_true",
                        help="a one-off question: no history is sent and no session keeps it (hub.ask)")
    return parser


def run_cell(ctx: MagicContext, line: str, cell: str) -> Reply:
    """Run one ``%%ai_session`` cell: interpolate, send, stream into the output, return the reply."""
    args = _cell_parser().parse_args(split_line(line))
    prompt = cell.strip()
    if not prompt:
        raise _error("the cell is empty", "write the prompt in the cell body below %%ai_session")
    if not args.no_interpolate:
        prompt = interpolate(prompt, ctx.shell.user_ns)
    context = _attachments(args.attach, ctx.shell.user_ns) if args.attach else None
    if args.once:
        if args.name:
            raise _error("--once asks outside any session, so it takes no session name",
                         f"drop {args.name!r}, or drop --once to ask in that session")
        if args.model:
            from .magic_commands import check_model

            check_model(ctx.hub, args.model)
        extra = {"context": context} if context is not None else {}
        message = stream_reply(ctx.hub.asks, prompt, _view(ctx.shell, args.format), model=args.model, **extra)
    else:
        session = ctx.cell_session(args.name, args.model)
        message = stream_reply(session, prompt, _view(ctx.shell, args.format), context=context)
    reply = Reply(message.content, message, shown_in=ctx.shell.execution_count)
    if args.format == "code":
        code = extract_code(message.content)
        if code:
            ctx.shell.set_next_input(code, replace=False)
        else:
            print("note: the reply has no code block, so no cell was added", file=sys.stderr)
    return reply


def _attachments(names: str, namespace: Mapping[str, Any]) -> list[Any]:
    """The variables named by ``--with a,b`` (a missing one is an error naming it, before anything is sent)."""
    values = []
    for name in (n.strip() for n in names.split(",")):
        if not name:
            continue
        if name not in namespace:
            raise _error(f"--with names {name!r}, which is not defined", f"define {name} first, or remove it")
        values.append(namespace[name])
    if not values:
        raise _error("--with names no variable", "e.g. --with df,fig")
    return values


def interpolate(template: str, namespace: Mapping[str, Any]) -> str:
    """Fill ``{name}`` (also ``{df.shape}``, ``{items[0]}``) from ``namespace``; ``{{`` is a literal brace."""
    from .templates import field_root, placeholder_fields

    fields = placeholder_fields(template, hint="double literal braces ({{ and }}) or add --no-interpolate")
    for field in fields:
        root = field_root(field)
        if not root or root.isdigit():
            raise _error(f"the prompt has a placeholder {{{field}}} without a variable name",
                         "write {variable}, double literal braces, or add --no-interpolate")
        if root not in namespace:
            raise _error(f"the prompt uses {{{field}}} but no variable {root!r} is defined",
                         f"define {root} first, write {{{{{field}}}}} for literal braces, or add --no-interpolate")
    try:
        return template.format_map(namespace)
    except (AttributeError, IndexError, KeyError, TypeError, ValueError) as exc:
        raise _error(f"cannot fill the prompt's placeholders ({type(exc).__name__}: {exc})",
                     "check the {expressions}, or add --no-interpolate") from None


def extract_code(text: str) -> str:
    """The code of a reply: its fenced blocks joined, else the whole text if it is Python, else ""."""
    blocks = [b.strip("\n") for b in _FENCE.findall(text)]
    if blocks:
        return "\n\n".join(blocks)
    code = text.strip()
    try:
        compile(code, "<reply>", "exec")
    except (SyntaxError, ValueError):
        return ""
    return code


# -- streaming into the cell output --------------------------------------------------------------------
class Reply(str):
    """The text of a ``%%ai_session`` reply (the cell's value, so ``_`` holds it); ``.message`` is the
    stored :class:`~ai_sessions.model.Message`. Displaying it renders the markdown."""

    message: Message

    def __new__(cls, text: str, message: Message, shown_in: int | None = None) -> Reply:
        self = super().__new__(cls, text)
        self.message = message
        self._shown_in = shown_in  # the execution that already showed it while it streamed
        return self

    def _ipython_display_(self) -> None:
        from IPython import get_ipython
        from IPython.display import display

        shell = get_ipython()
        if shell is not None and self._shown_in == shell.execution_count:
            return  # the %%ai_session cell's own value: its output already shows the reply
        display({"text/markdown": str(self), "text/plain": str(self)}, raw=True)


class _LiveText:
    """Collects one session's reply text from hub events (callbacks run on the hub thread)."""

    def __init__(self, session: Session | OneOff) -> None:
        from .model import EventKind

        self._session_id = session.id
        self._message_id: str | None = None
        self._parts: list[str] = []
        bus = session.runtime.bus
        self._off = [bus.on(EventKind.REQUEST_STARTED, self._started), bus.on(EventKind.RESPONSE_DELTA, self._delta)]

    def _started(self, event: Any) -> None:
        if event.session_id == self._session_id and self._message_id is None:
            self._message_id = event.payload.get("message_id")

    def _delta(self, event: Any) -> None:
        if event.session_id == self._session_id and event.payload.get("message_id") == self._message_id:
            self._parts.append(event.payload["text"])

    @property
    def text(self) -> str:
        return "".join(self._parts)

    def close(self) -> None:
        for off in self._off:
            off()


class DisplayView:
    """Shows a streaming reply as one output updated in place (Jupyter kernels)."""

    def __init__(self, fmt: str) -> None:
        from IPython.display import display

        self.fmt = fmt
        self._shown = "…"
        self._handle = display(self._bundle("…"), raw=True, display_id=True)

    def _bundle(self, text: str) -> dict[str, str]:
        return {"text/plain": text} if self.fmt == "text" else {"text/markdown": text, "text/plain": text}

    def update(self, text: str) -> None:
        if text and text != self._shown:
            self._shown = text
            self._handle.update(self._bundle(text), raw=True)

    def finish(self, text: str) -> None:
        self.update(text or "*(empty reply)*")

    def fail(self, text: str) -> None:
        """The reply failed: keep its partial text, or remove the placeholder."""
        if text:
            self.update(text)
        else:
            self._handle.update({"text/plain": ""}, raw=True)


class PrintView:
    """Prints a streaming reply as it grows (terminal IPython)."""

    def __init__(self) -> None:
        self._printed = 0

    def update(self, text: str) -> None:
        if len(text) > self._printed:
            print(text[self._printed:], end="", flush=True)
            self._printed = len(text)

    def finish(self, text: str) -> None:
        self.update(text)
        print()

    def fail(self, text: str) -> None:
        self.update(text)
        if self._printed:
            print()


def _view(shell: Any, fmt: str) -> DisplayView | PrintView:
    return DisplayView(fmt) if getattr(shell, "kernel", None) is not None else PrintView()


def stream_reply(session: Session | OneOff, prompt: str, view: DisplayView | PrintView, **params: Any) -> Message:
    """Send ``prompt`` on ``session`` (or as a one-off question: ``hub.asks``) and show the reply in ``view``
    as it streams (≤10 updates/s); ``params`` go to ``submit`` (``context=[...]``, ``model=...``). A kernel
    interrupt stops the reply; its partial text is kept as ``stopped``."""
    live = _LiveText(session)
    try:
        handle = session.submit(prompt, **params)
        while True:
            try:
                message = handle.result(timeout=MAGIC_UPDATE_S)
                break
            except TimeoutError:
                view.update(live.text)
    except KeyboardInterrupt:
        session.cancel()
        view.finish(live.text + "\n\n*(stopped)*")
        raise
    except BaseException:
        view.fail(live.text)
        raise
    finally:
        live.close()
    view.finish(message.content)
    return message


def ask_reply(ctx: MagicContext, prompt: str, model: str | None) -> Reply:
    """``%ai_session ask``: a one-off question streamed into the output; its reply is the line's value."""
    message = stream_reply(ctx.hub.asks, prompt, _view(ctx.shell, "markdown"), model=model)
    return Reply(message.content, message, shown_in=ctx.shell.execution_count)


def _error(message: str, hint: str) -> Exception:
    from .errors import AiSessionsError

    return AiSessionsError(message, hint=hint)


__all__ = ["AiSessionMagics", "Reply", "extract_code", "interpolate", "register", "unregister"]
