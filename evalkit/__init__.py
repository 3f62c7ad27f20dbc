"""evalkit: evaluate how well an LLM tutors and solves technical homework.

The public API::

    from evalkit import RunConfig, run
    result = run(RunConfig(model="replay"))      # the offline default: the recorded write-up
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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
    from evalkit.models.base import (
        GenerationOptions,
        Message,
        Model,
        ModelRequest,
        ModelResponse,
        Turn,
        Usage,
    )
    from evalkit.models.registry import register_provider, resolve_model

# Each public name and the module it comes from. They are imported on first use (PEP 562), so
# importing a submodule (``evalkit.cli`` for ``evalkit --help``, ``evalkit.bounded`` in a math worker)
# does not import the whole package: the run machinery, pydantic models and YAML loading.
_HOMES = {
    **dict.fromkeys(("RunConfig", "RunResult", "load_run", "run", "schema", "validate"), "evalkit.api"),
    **dict.fromkeys(
        ("Answer", "CheckContext", "Checker", "CheckResult", "register_checker"), "evalkit.checks.base"
    ),
    **dict.fromkeys(
        (
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
        ),
        "evalkit.errors",
    ),
    **dict.fromkeys(
        ("GenerationOptions", "Message", "Model", "ModelRequest", "ModelResponse", "Turn", "Usage"),
        "evalkit.models.base",
    ),
    **dict.fromkeys(("register_provider", "resolve_model"), "evalkit.models.registry"),
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'evalkit' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value  # later lookups do not come here
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


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
