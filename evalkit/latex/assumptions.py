"""A problem's assumptions: substitutions between symbols, and asymptotic regimes.

Each assumption is one string in the same notation as answers:

==========================  =================================================================
``k = d/h``                 substitution: ``k`` is replaced by ``d/h`` everywhere
``h*v = d`` / ``hv = d``     substitution: the side that is a lone symbol (``d``) is replaced
                            by the other side (``h*v``); otherwise the equation is solved for
                            its first symbol
``M = Theta(D)``            regime (complexity only): ``M`` grows like ``D``; also ``M ~ D``,
                            ``M \\approx D``, ``M = \\Theta(D)``
``D = O(N)``                regime: ``D`` grows at most like ``N``; also ``D << N``,
                            ``D \\ll N``, ``D = o(N)``, ``N >> D``, ``N = Omega(D)``
``h = O(1)``                regime: ``h`` is bounded (a constant)
==========================  =================================================================

Substitutions apply to every check (formula, complexity, vector, condition);
regimes only to complexity checks, where they are applied after the
substitutions. Substitutions are applied in order, each one rewritten by
the ones before it, so ``k = d/h`` then ``h*v = d`` leaves ``k = v``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import sympy

from evalkit.errors import SpecError
from evalkit.latex.chain import parse_math
from evalkit.latex.lexer import LatexSyntaxError
from evalkit.latex.nodes import BigO, BigOmega, BigTheta, LittleO, show
from evalkit.latex.symbols import SymbolTable

__all__ = ["Assumptions", "parse_assumptions"]

_SYNTAX_HELP = "write 'k = d/h', 'h*v = d', 'M = Theta(D)', 'D = O(N)', 'D << N' or 'h = O(1)'"


@dataclass(frozen=True)
class Regime:
    """``lhs`` grows like (``theta``), at most like (``upper``) or at least like (``lower``) ``rhs``."""

    kind: str
    lhs: sympy.Expr
    rhs: sympy.Expr
    source: str


@dataclass(frozen=True)
class Assumptions:
    """Substitutions (``symbol -> value``) and regimes, ready to apply."""

    substitutions: tuple[tuple[sympy.Symbol, sympy.Expr], ...] = ()
    regimes: tuple[Regime, ...] = ()
    sources: tuple[str, ...] = ()

    def substitute(self, value: sympy.Basic) -> sympy.Basic:
        """``value`` with every substitution applied."""
        if not self.substitutions:
            return value
        return value.xreplace(dict(self.substitutions))

    def apply_regimes(self, value: sympy.Basic) -> sympy.Basic:
        """``value`` with the regimes applied (for growth comparisons only)."""
        mapping: dict[sympy.Symbol, sympy.Expr] = {}
        for regime in self.regimes:
            lhs, rhs = regime.lhs.xreplace(mapping), regime.rhs.xreplace(mapping)
            if regime.kind == "lower":
                lhs, rhs = rhs, lhs
            if regime.kind == "theta" or (regime.kind == "upper" and rhs.is_number):
                # x = Theta(f) and x = O(1) (a dimension is at least 1): x grows like f.
                target, replacement = (lhs, rhs) if isinstance(lhs, sympy.Symbol) else (rhs, lhs)
            elif isinstance(rhs, sympy.Symbol) and rhs != lhs:
                # lhs = O(rhs) with rhs a symbol: rhs = lhs * u for a free u >= 1, named "(rhs/lhs)".
                target, replacement = rhs, lhs * _ratio_symbol(rhs, lhs)
            else:
                target, replacement = lhs, rhs / _ratio_symbol(rhs, lhs)
            if not isinstance(target, sympy.Symbol) or target == replacement:
                continue
            mapping = {s: v.xreplace({target: replacement}) for s, v in mapping.items()}
            mapping[target] = replacement
        return value.xreplace(mapping) if mapping else value

    def describe(self) -> str:
        return ", ".join(self.sources)


def _ratio_symbol(big: sympy.Basic, small: sympy.Basic) -> sympy.Symbol:
    """A free quantity ``big/small >= 1``, named so that messages read naturally."""
    return sympy.Symbol(f"({show(big)}/{show(small)})", positive=True)


def _regime_of(side: sympy.Basic) -> tuple[str, sympy.Expr] | None:
    for cls, kind in ((BigTheta, "theta"), (BigO, "upper"), (LittleO, "upper"), (BigOmega, "lower")):
        if isinstance(side, cls):
            return kind, side.args[0]
    return None


def _checked(regime: Regime) -> Regime:
    if not (isinstance(regime.lhs, sympy.Symbol) or isinstance(regime.rhs, sympy.Symbol)):
        raise SpecError(
            f"assumption {regime.source!r}: one side of a regime must be a single symbol; {_SYNTAX_HELP}"
        )
    return regime


def _solve_for(
    equation: sympy.Expr, lhs: sympy.Basic, rhs: sympy.Basic, source: str
) -> tuple[sympy.Symbol, sympy.Expr]:
    if isinstance(lhs, sympy.Symbol):
        return lhs, rhs
    if isinstance(rhs, sympy.Symbol):
        return rhs, lhs
    for sym in sorted(equation.free_symbols, key=lambda s: s.name):
        try:
            solutions = [s for s in sympy.solve(equation, sym) if not s.could_extract_minus_sign()]
        except (NotImplementedError, ValueError, TypeError):
            continue
        if len(solutions) == 1:
            return sym, solutions[0]
    raise SpecError(f"assumption {source!r}: cannot solve it for one symbol; {_SYNTAX_HELP}")


def parse_assumptions(texts: Iterable[str], table: SymbolTable) -> Assumptions:
    """Read assumption strings; a malformed one is a :class:`SpecError` naming it."""
    subs: dict[sympy.Symbol, sympy.Expr] = {}
    regimes: list[Regime] = []
    sources: list[str] = []
    for text in texts:
        source = text.strip()
        if not source:
            continue
        try:
            parsed = parse_math(source.replace("<<", r" \ll ").replace(">>", r" \gg "), table, little_o=True)
        except LatexSyntaxError as err:
            raise SpecError(f"assumption {source!r}: {err}") from None
        bad = [s.error for s in parsed.sides if not s.ok]
        if bad or len(parsed.sides) != 2:
            raise SpecError(
                f"assumption {source!r}: {bad[0] if bad else 'expected one relation'}; {_SYNTAX_HELP}"
            )
        lhs, rhs = (s.value for s in parsed.sides)
        rel = parsed.relations[0]
        sources.append(source)
        if rel in ("<<", ">>", "~", "≈"):
            kind = {"<<": "upper", ">>": "lower", "~": "theta", "≈": "theta"}[rel]
            regimes.append(_checked(Regime(kind, lhs, rhs, source)))
            continue
        if rel != "=":
            raise SpecError(f"assumption {source!r}: relation {rel!r} is not supported; {_SYNTAX_HELP}")
        regime = _regime_of(rhs) or _regime_of(lhs)
        if regime is not None:
            other = lhs if _regime_of(rhs) else rhs
            kind = (
                regime[0] if _regime_of(rhs) else {"upper": "lower", "lower": "upper"}.get(regime[0], "theta")
            )
            regimes.append(_checked(Regime(kind, other, regime[1], source)))
            continue
        lhs, rhs = lhs.xreplace(subs), rhs.xreplace(subs)
        equation = sympy.expand(lhs - rhs)
        if equation == 0:
            continue
        target, value = _solve_for(equation, lhs, rhs, source)
        subs = {s: v.xreplace({target: value}) for s, v in subs.items()}
        subs[target] = value
    return Assumptions(tuple(subs.items()), tuple(regimes), tuple(sources))
