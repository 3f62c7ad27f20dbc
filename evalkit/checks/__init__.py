"""Check kinds: the Checker protocol and registry, and one module per family of kinds.

Each module registers its kinds with ``@register_checker``; the built-in ones are imported
on the first lookup of one of their kinds (``get_checker``), not with this package,
so commands that grade nothing (``--help``, ``runs``, ``show``, ``report``) do not import
torch and sympy.
"""

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
