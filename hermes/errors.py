"""User-facing errors: one line that says what is wrong and what to do."""


class HermesError(Exception):
    """An error shown to the user as one line (no traceback unless --debug)."""


class ConfigError(HermesError):
    """config.yaml or .env is malformed or holds an invalid value."""


class ProviderError(HermesError):
    """The model provider failed (bad key, unreachable, gave up after retries)."""

    def __init__(self, message: str, *, status: int | None = None, retryable: bool = False):
        super().__init__(message)
        self.status = status
        self.retryable = retryable


class ToolError(HermesError):
    """A tool could not do what was asked; the message goes back to the model."""
