"""Check kinds: importing this package registers every built-in kind.

Each module registers one family of kinds with ``@register_checker``.
"""

from evalkit.checks import (
    code,  # noqa: F401
    complexity,  # noqa: F401  (registers complexity)
    condition,  # noqa: F401  (registers condition)
    criteria,  # noqa: F401  (registers criteria)
    formula,  # noqa: F401  (registers formula)
    text,  # noqa: F401  (registers exact, normalized, regex, choice, numeric)
    vector,  # noqa: F401  (registers vector)
)
from evalkit.checks.base import (
    Answer,
    CheckContext,
    Checker,
    CheckParams,
    CheckResult,
    Status,
    checker_kinds,
    get_checker,
    register_checker,
)

__all__ = [
    "Answer",
    "CheckContext",
    "CheckParams",
    "CheckResult",
    "Checker",
    "Status",
    "checker_kinds",
    "get_checker",
    "register_checker",
]
