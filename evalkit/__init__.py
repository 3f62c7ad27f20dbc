"""evalkit: evaluate how well an LLM tutors and solves technical homework.

The public API::

    from evalkit import RunConfig, run
    result = run(RunConfig(model="replay"))      # the offline default: the recorded write-up
"""

from evalkit.api import RunConfig, RunResult, load_run, run, schema, validate
from evalkit.checks.base import Answer, CheckContext, Checker, CheckResult, register_checker
from evalkit.errors import (
    BudgetExceeded,
    ContextFull,
    EvalkitError,
    MissingKeyError,
    ModelError,
    ReplayExhausted,
    ReportError,
    SandboxError,
    SpecError,
    StoreError,
    TranscriptError,
)
from evalkit.models.base import GenerationOptions, Message, Model, ModelRequest, ModelResponse, Turn, Usage
from evalkit.models.registry import register_provider, resolve_model

__all__ = [
    "Answer",
    "BudgetExceeded",
    "CheckContext",
    "CheckResult",
    "Checker",
    "ContextFull",
    "EvalkitError",
    "GenerationOptions",
    "Message",
    "MissingKeyError",
    "Model",
    "ModelError",
    "ModelRequest",
    "ModelResponse",
    "ReplayExhausted",
    "ReportError",
    "RunConfig",
    "RunResult",
    "SandboxError",
    "SpecError",
    "StoreError",
    "TranscriptError",
    "Turn",
    "Usage",
    "load_run",
    "register_checker",
    "register_provider",
    "resolve_model",
    "run",
    "schema",
    "validate",
]
