"""Check kinds: importing this package registers every built-in kind.

Each module registers one family of kinds with ``@register_checker``.
"""

from evalkit.checks import text  # noqa: F401  (registers exact, normalized, regex, choice, numeric)
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
