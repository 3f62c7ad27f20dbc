"""The evalkit error tree.

Every failure a user can cause or fix is one of these; the CLI turns any of
them into one line and a non-zero exit code, with no traceback unless
``--debug`` is given.

    EvalkitError
     ├── SpecError          a problem, rubric, prompt or cassette file is malformed (carries path:line)
     ├── ModelError         a provider or model could not answer
     │    ├── MissingKeyError     no API key in the environment
     │    ├── ReplayExhausted     a cassette has no recorded reply for a turn
     │    ├── ContextFull         a conversation outgrew the model's context window
     │    └── BudgetExceeded      the run reached --max-cost
     ├── SandboxError       the sandbox itself could not run (never a model's bad code)
     ├── StoreError         a run directory or cache is missing or corrupt
     ├── TranscriptError    a transcript file cannot be read or aligned
     └── ReportError        a report could not be rendered or compiled

Messages say what went wrong, where, and how to fix it.
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "BudgetExceeded",
    "ContextFull",
    "EvalkitError",
    "MissingKeyError",
    "ModelError",
    "ReplayExhausted",
    "ReportError",
    "SandboxError",
    "SpecError",
    "StoreError",
    "TranscriptError",
]


class EvalkitError(Exception):
    """Base of every error evalkit raises on purpose; ``str(err)`` is one line for the user."""


class SpecError(EvalkitError):
    """A spec file is malformed.

    ``str(err)`` reads ``problems/q3.yaml:14: parts[1].checks[0].kind: expected one of ...``.
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | Path | None = None,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        self.path = str(path) if path is not None else None
        self.line = line
        self.field = field
        self.message = message
        super().__init__(self._render())

    def _render(self) -> str:
        where = ""
        if self.path is not None:
            where = self.path + (f":{self.line}" if self.line is not None else "") + ": "
        field = f"{self.field}: " if self.field else ""
        return f"{where}{field}{self.message}"


class ModelError(EvalkitError):
    """A model or provider could not produce a reply."""

    def __init__(self, message: str, *, retryable: bool = False, status: int | None = None) -> None:
        self.retryable = retryable
        self.status = status
        super().__init__(message)


class MissingKeyError(ModelError):
    """No API key for a provider was found in the environment."""


class ReplayExhausted(ModelError):
    """A replay cassette holds no reply for the requested turn."""


class ContextFull(ModelError):
    """The conversation no longer fits the model's context window: it ends there, the run goes on."""


class BudgetExceeded(ModelError):
    """The run's ``--max-cost`` was reached; the run stops and can be resumed."""


class SandboxError(EvalkitError):
    """The sandbox could not be started or broke down (not a verdict on a model's code)."""


class StoreError(EvalkitError):
    """A run directory, journal or cache is missing or corrupt."""


class TranscriptError(EvalkitError):
    """A transcript could not be parsed or aligned to the problem set."""


class ReportError(EvalkitError):
    """A report could not be rendered or compiled."""
