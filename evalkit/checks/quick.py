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

from evalkit.checks.base import Answer, CheckContext, CheckResult, bounded_check, get_checker
from evalkit.errors import SpecError

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

    The whole check, reading the answer included, runs in a math worker
    (:mod:`evalkit.bounded`) under ``time_limit_s`` (or the ``time_limit_s``
    option), so the caller imports no sympy: ``evalkit check`` answers while
    the worker it started at once is the only process that loads it.
    """
    if kind not in MATH_KINDS:
        raise SpecError(f"unknown math check kind {kind!r}; expected one of {', '.join(MATH_KINDS)}")
    options = dict(options or {})
    limit = float(options.get("time_limit_s") or time_limit_s)
    return bounded_check(
        _check_here, kind, answer, expected, assumptions, symbols, accept, time_limit_s, options,
        time_limit_s=limit,
    )  # fmt: skip


def _check_here(
    kind: str,
    answer: str,
    expected: str,
    assumptions: Sequence[str],
    symbols: Sequence[str],
    accept: Sequence[str],
    time_limit_s: float,
    options: Mapping[str, Any],
) -> CheckResult:
    """:func:`check_expression` in this process (a math worker, where its grading runs inline)."""
    from evalkit.latex.symbols import parse_symbol_list
    from evalkit.spec.models import Part, Problem

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
        **options,
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
