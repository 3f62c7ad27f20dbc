"""One-off math checks without a problem file: what ``evalkit check KIND`` runs.

Example::

    from evalkit.checks.quick import check_expression
    result = check_expression(
        "complexity", "O(d^2 + bd + bnk)", r"O(d^2 + bd + \\frac{bnd}{h})",
        assumptions=["k = d/h"], symbols=["b n d h k"],
    )
    result.status        # 'correct'
    result.to_json()     # {"status": ..., "explanation": ..., ...}

The answer goes through the same extraction as a model's reply, so it may
be bare LaTeX, ``$...$`` or contain a ``\\boxed{...}``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from evalkit.checks.base import Answer, CheckContext, CheckResult, get_checker
from evalkit.errors import SpecError
from evalkit.latex.symbols import parse_symbol_list

__all__ = ["MATH_KINDS", "check_expression"]

MATH_KINDS = ("formula", "complexity", "vector", "condition")


def check_expression(
    kind: str,
    answer: str,
    expected: str,
    assumptions: Sequence[str] = (),
    symbols: Sequence[str] = (),
    accept: Sequence[str] = (),
    *,
    time_limit_s: float = 10.0,
    options: Mapping[str, Any] | None = None,
) -> CheckResult:
    """Grade ``answer`` against ``expected`` with check ``kind`` (formula, complexity, vector, condition).

    ``symbols`` are names separated by spaces or commas, each optionally
    ``name:kind`` (``'b n d h k'``, ``'mu:scalar q:vector'``); bare names are
    dimensions. ``assumptions`` use the problem syntax (``'k = d/h'``,
    ``'M = Theta(D)'``). ``options`` are further parameters of the kind
    (``{"tolerance": 1e-3}``). Raises :class:`SpecError` for an unknown kind
    or bad parameters; never for a bad answer.
    """
    from evalkit.spec.models import Part, Problem

    if kind not in MATH_KINDS:
        raise SpecError(f"unknown math check kind {kind!r}; expected one of {', '.join(MATH_KINDS)}")
    checker = get_checker(kind)
    try:
        specs = parse_symbol_list(symbols)
    except ValueError as err:
        raise SpecError(f"--symbols: {err}") from None
    raw = {
        "expected": expected,
        "accept": list(accept),
        "assumptions": list(assumptions),
        "symbols": {s.name: s.kind for s in specs},
        **(options or {}),
    }
    try:
        params = checker.params_model.model_validate(raw)
    except ValueError as err:
        raise SpecError(f"{kind}: {err}") from None
    problem = Problem(
        id="quick", title="quick check", parts=[Part(id="a", prompt="quick check", expected=expected)]
    )
    ctx = CheckContext(problem=problem, part=problem.parts[0], time_limit_s=time_limit_s)
    return checker.check(params, Answer(text=answer, reply=answer), ctx)
