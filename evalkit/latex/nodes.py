"""Sympy objects for the homework's notation, and a printer that reads like the homework.

``Dot(q, k)`` is ``q^T k`` for vectors (symmetric, so its arguments are kept
sorted); ``Norm(x)`` is ``||x||_2`` and ``Norm(x, p)`` another p-norm;
``Expectation``, ``Variance`` and ``Covariance`` are opaque operators;
``BigO``, ``BigTheta``, ``BigOmega`` and ``LittleO`` are asymptotic classes
that only the complexity check gives a meaning to.
"""

from __future__ import annotations

import sympy
from sympy.core.sorting import default_sort_key
from sympy.printing.str import StrPrinter

__all__ = [
    "ASYMPTOTIC_CLASSES",
    "OPAQUE_OPERATORS",
    "BigO",
    "BigOmega",
    "BigTheta",
    "Covariance",
    "Dot",
    "Expectation",
    "LittleO",
    "Norm",
    "Ratio",
    "RealSpace",
    "Variance",
    "show",
]


class Dot(sympy.Function):
    """The dot product ``a^T b`` of two vectors; symmetric, real."""

    nargs = 2
    is_commutative = True

    @classmethod
    def eval(cls, a, b):
        # Reverse order, so the usual pair prints as written: q^T k, not k^T q.
        if default_sort_key(a) < default_sort_key(b):
            return cls(b, a)
        return None

    def _eval_is_real(self) -> bool:
        return True


class Norm(sympy.Function):
    """``Norm(x)`` is the 2-norm of vector ``x``; ``Norm(x, p)`` the p-norm."""

    nargs = (1, 2)
    is_commutative = True

    @classmethod
    def eval(cls, x, p=None):
        if p is not None and p == 2:
            return cls(x)
        if x == 0:
            return sympy.Integer(0)
        return None

    def _eval_is_real(self) -> bool:
        return True

    def _eval_is_nonnegative(self) -> bool:
        return True


class Expectation(sympy.Function):
    """``E[x]``: an opaque operator (evalkit never evaluates expectations)."""

    nargs = 1


class Variance(sympy.Function):
    """``Var(x)``: an opaque operator."""

    nargs = 1


class Covariance(sympy.Function):
    """``Cov(x, y)``: an opaque operator."""

    nargs = 2


class BigO(sympy.Function):
    """``O(f)``: the functions growing at most like ``f``."""

    nargs = 1


class BigTheta(sympy.Function):
    """``Θ(f)``: the functions growing exactly like ``f``."""

    nargs = 1


class BigOmega(sympy.Function):
    """``Ω(f)``: the functions growing at least like ``f``."""

    nargs = 1


class LittleO(sympy.Function):
    """``o(f)``: the functions growing strictly slower than ``f`` (assumptions only)."""

    nargs = 1


class RealSpace(sympy.Function):
    """``ℝ^{h×d×q}``: the space of real arrays of that shape (dimensions in order); opaque."""


class Ratio(sympy.Function):
    """``a : b : c``: a ratio; equal to another when the parts are proportional."""


ASYMPTOTIC_CLASSES = (BigO, BigTheta, BigOmega, LittleO)
OPAQUE_OPERATORS = (Expectation, Variance, Covariance)


class _HomeworkPrinter(StrPrinter):
    """Prints ``Dot(q, k)`` as ``q^T k``, ``Norm(mu)`` as ``||mu||`` and ``E(x)`` as ``E[x]``."""

    def _atomic(self, expr: sympy.Basic) -> str:
        text = self._print(expr)
        return text if (expr.is_Symbol or expr.is_Function or expr.is_Number) else f"({text})"

    def _print_Dot(self, expr: Dot) -> str:
        return f"{self._atomic(expr.args[0])}^T {self._atomic(expr.args[1])}"

    def _print_Pow(self, expr: sympy.Pow, rational: bool = False) -> str:
        if isinstance(expr.base, Dot) and expr.exp.is_Number and expr.exp > 0:
            return f"({self._print(expr.base)})**{self._print(expr.exp)}"
        return super()._print_Pow(expr, rational)

    def _print_Norm(self, expr: Norm) -> str:
        inner = self._print(expr.args[0])
        return f"||{inner}||" if len(expr.args) == 1 else f"||{inner}||_{self._print(expr.args[1])}"

    def _print_Expectation(self, expr: Expectation) -> str:
        return f"E[{self._print(expr.args[0])}]"

    def _print_BigO(self, expr: BigO) -> str:
        return f"O({self._print(expr.args[0])})"

    def _print_BigTheta(self, expr: BigTheta) -> str:
        return f"Θ({self._print(expr.args[0])})"

    def _print_BigOmega(self, expr: BigOmega) -> str:
        return f"Ω({self._print(expr.args[0])})"

    def _print_LittleO(self, expr: LittleO) -> str:
        return f"o({self._print(expr.args[0])})"

    def _print_Infinity(self, expr: sympy.Basic) -> str:
        return "∞"

    def _print_NegativeInfinity(self, expr: sympy.Basic) -> str:
        return "-∞"

    def _print_ComplexInfinity(self, expr: sympy.Basic) -> str:
        return "∞ (a division by zero)"

    def _print_NaN(self, expr: sympy.Basic) -> str:
        return "undefined (0/0)"

    def _print_Interval(self, expr: sympy.Interval) -> str:
        left = "(" if expr.left_open or expr.start == -sympy.oo else "["
        right = ")" if expr.right_open or expr.end == sympy.oo else "]"
        return f"{left}{self._print(expr.start)}, {self._print(expr.end)}{right}"

    def _print_Union(self, expr: sympy.Union) -> str:
        return " ∪ ".join(self._print(a) for a in expr.args)

    def _print_Complement(self, expr: sympy.Complement) -> str:
        return f"{self._print(expr.args[0])} \\ {self._print(expr.args[1])}"

    def _print_EmptySet(self, expr: sympy.Basic) -> str:
        return "∅"

    def _print_Reals(self, expr: sympy.Basic) -> str:
        return "ℝ"

    def _print_ImaginaryUnit(self, expr: sympy.Basic) -> str:
        return "i"

    def _print_Exp1(self, expr: sympy.Basic) -> str:
        return "e"

    def _print_Tuple(self, expr: sympy.Tuple) -> str:
        return "(" + ", ".join(self._print(a) for a in expr.args) + ")"

    def _print_RealSpace(self, expr: RealSpace) -> str:
        return "ℝ^{" + "×".join(self._print(a) for a in expr.args) + "}"

    def _print_Ratio(self, expr: Ratio) -> str:
        return ":".join(self._print(a) for a in expr.args)

    def _print_ImmutableDenseMatrix(self, expr: sympy.ImmutableMatrix) -> str:
        if expr.cols == 1:
            return "[" + ", ".join(self._print(x) for x in expr) + "]"
        return "[" + "; ".join(", ".join(self._print(x) for x in row) for row in expr.tolist()) + "]"

    _print_MutableDenseMatrix = _print_ImmutableDenseMatrix


def show(expr: object, limit: int = 160) -> str:
    """Render a sympy value for an explanation: ``2 q^T k``, ``d mu^2``, ``b d n/h``."""
    if not isinstance(expr, sympy.Basic | sympy.MatrixBase):
        return str(expr)
    text = _HomeworkPrinter({"order": "grlex"}).doprint(expr)
    text = text.replace("**", "^").replace("*", " ")
    return text if len(text) <= limit else text[: limit - 1] + "…"
