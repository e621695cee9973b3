"""One exception hierarchy for ai_sessions; every user-facing error carries a hint of what to do."""

from __future__ import annotations

from pathlib import Path


class AiSessionsError(Exception):
    """Base of every error raised by ai_sessions.

    ``hint`` is one line telling the user what to do next; ``str(error)`` includes it.
    """

    hint: str = ""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        self.message = message
        if hint is not None:
            self.hint = hint
        super().__init__(message)

    def __str__(self) -> str:
        return f"{self.message} — {self.hint}" if self.hint else self.message

    def _render_traceback_(self) -> list[str]:
        """IPython shows this instead of a traceback: the message and hint are what to act on (the
        SDK's own error stays available as ``error.__cause__``)."""
        return [f"{type(self).__name__}: {self}"]


class SettingsError(AiSessionsError):
    """A settings file cannot be read or holds a bad value."""

    def __init__(self, message: str, *, path: Path, line: int | None = None, key: str | None = None,
                 hint: str | None = None) -> None:
        self.path = path
        self.line = line
        self.key = key
        where = f"{path}" + (f", line {line}" if line else "") + (f", key '{key}'" if key else "")
        super().__init__(f"{where}: {message}", hint=hint or "fix the file and run again")


class StoreError(AiSessionsError):
    """The session store cannot be opened or written."""


class SessionNotFound(AiSessionsError, KeyError):
    """No session with that name or id."""

    hint = "list sessions with hub.sessions() or `%ai_session list`"

    def __str__(self) -> str:  # KeyError would add quotes
        return AiSessionsError.__str__(self)


class SessionBusy(AiSessionsError):
    """The session is already producing a reply."""

    hint = "wait for the reply, or stop it with session.cancel()"


class SessionClosed(AiSessionsError):
    """The session was closed or deleted."""

    hint = "reopen it with hub.session(name): a closed session keeps its history, a deleted one starts empty"


class UnknownModel(AiSessionsError):
    """A model name that no provider knows."""

    hint = "use 'provider:model', e.g. 'openai:gpt-4o-mini'; list models with `%ai_session models`"


class MissingDependency(AiSessionsError):
    """An optional dependency is not installed."""


class ProviderError(AiSessionsError):
    """A provider request failed. ``kind`` is one of the small set of error kinds (P5)."""

    kind = "provider_error"
    retryable = False

    def __init__(self, message: str, *, provider: str = "", hint: str | None = None,
                 retry_after: float | None = None, status_code: int | None = None) -> None:
        self.provider = provider
        self.retry_after = retry_after
        self.status_code = status_code
        super().__init__(message, hint=hint)


class MissingSDK(MissingDependency, ProviderError):
    """A provider's SDK is not installed (each comes with an extra: ``jupyter-ai-sessions[openai]``).

    A :class:`ProviderError` too, so a provider's stream lets it through unmapped."""


class AuthError(ProviderError):
    kind = "auth"


class RateLimited(ProviderError):
    kind = "rate_limited"
    retryable = True


class ProviderTimeout(ProviderError):
    kind = "timeout"
    retryable = True


class ConnectionFailed(ProviderError):
    kind = "connection"
    retryable = True


class BadRequest(ProviderError):
    kind = "bad_request"


class ProviderServerError(ProviderError):
    """A 5xx from the provider: transient, retried."""

    kind = "provider_error"
    retryable = True


class NoUsableModel(ProviderError):
    """``model="auto"``: no candidate can answer this reply (each one's reason is in the message). ``kind``
    is ``unavailable`` when none could be asked, else the kind of the last candidate's failure."""

    kind = "unavailable"
    hint = "add a key, wait for the cool-down, or change [auto] candidates in settings.toml"


class IncompleteReply(ProviderError):
    """The stream ended without the protocol's end marker."""

    kind = "provider_error"
