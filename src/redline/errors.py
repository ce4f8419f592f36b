"""One exception hierarchy for all of redline.

Front doors turn these into a one-line CLI message (with ``hint``) or an
OpenAI-style error object (with ``status`` and ``code``); nothing else should
need to know how an error is rendered.
"""

from __future__ import annotations


class RedlineError(Exception):
    """Base class: a failure with a message fit for a user, and a hint."""

    status: int = 500
    code: str = "internal_error"
    type: str = "server_error"

    def __init__(self, message: str, *, hint: str | None = None, param: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.param = param


class ConfigError(RedlineError):
    """Bad configuration: unreadable TOML, unknown preset, missing key."""

    status = 400
    code = "config_error"
    type = "invalid_request_error"


class ModelNotFoundError(RedlineError):
    """A model name that resolves to no embedded model and no file."""

    status = 404
    code = "model_not_found"
    type = "invalid_request_error"


class ModelLoadError(RedlineError):
    """A GGUF file that exists but cannot be loaded (corrupt, truncated)."""

    status = 500
    code = "model_load_error"
    type = "server_error"


class InvalidRequestError(RedlineError):
    """A request the engine cannot serve as asked (bad parameter)."""

    status = 400
    code = "invalid_request"
    type = "invalid_request_error"


class ContextOverflowError(InvalidRequestError):
    """The prompt plus requested tokens do not fit the model's context."""

    code = "context_length_exceeded"


class CancelledError(RedlineError):
    """A generation was cancelled by its caller."""

    status = 499
    code = "cancelled"


class ProviderError(RedlineError):
    """A backend failed: HTTP error, timeout, dropped connection."""

    status = 502
    code = "provider_error"
    type = "server_error"

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        retryable: bool = False,
        retry_after: float | None = None,
        after_first_token: bool = False,
        provider: str | None = None,
    ):
        super().__init__(message, hint=hint)
        self.retryable = retryable
        self.retry_after = retry_after
        self.after_first_token = after_first_token
        self.provider = provider


class AgentError(RedlineError):
    """The agent could not carry out a step (bad tool call, limit reached)."""

    code = "agent_error"


class WorkspaceError(AgentError):
    """A path outside the workspace, or a file tool misuse."""

    status = 403
    code = "workspace_violation"


class EditError(AgentError):
    """An edit that cannot be applied as a whole; nothing was written."""

    code = "edit_failed"
