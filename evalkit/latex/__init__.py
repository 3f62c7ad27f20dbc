"""LaTeX (and plain-text) math in this field's notation, read into sympy.

The pieces, in the order data flows through them:

* :mod:`~evalkit.latex.lexer` tokens, with Unicode, digit groups and layout commands folded away;
* :mod:`~evalkit.latex.symbols` declared symbols and what each name means;
* :mod:`~evalkit.latex.cursor`, :mod:`~evalkit.latex.atoms`, :mod:`~evalkit.latex.functions`,
  :mod:`~evalkit.latex.brackets` and :mod:`~evalkit.latex.parser` one expression to sympy
  (transposes, norms, ``E[.]``, ``O(.)``, matrices, intervals, sets, sums);
* :mod:`~evalkit.latex.chain` one answer as a chain ``A = B = C`` (labels, units, ``\\pm``);
* :mod:`~evalkit.latex.answers` a whole answer: several answers, words, ratios;
* :mod:`~evalkit.latex.shapes` what an answer states (value, equation, relation, set ...);
* :mod:`~evalkit.latex.compare` comparison dispatched on the expected answer's shape, with
  :mod:`~evalkit.latex.values` (policies: tolerance, percent, units), :mod:`~evalkit.latex.sets`
  (relations, equations and sets, exactly) and :mod:`~evalkit.latex.units`;
* :mod:`~evalkit.latex.assumptions` a problem's substitutions (``k = d/h``) and regimes (``M = Theta(D)``);
* :mod:`~evalkit.latex.equivalence` equality of two values, and why they differ;
* :mod:`~evalkit.latex.growth` asymptotic classes for big-O answers.

Example::

    from evalkit.latex import SymbolTable, parse_math
    parse_math(r"O\\left(d^2 + bd + \\frac{bnd}{h}\\right)", SymbolTable()).last.value
    # BigO(b*d*n/h + b*d + d**2)
"""

from evalkit.latex.chain import ParsedMath, ParsedSide, parse_math
from evalkit.latex.lexer import LatexSyntaxError
from evalkit.latex.nodes import show
from evalkit.latex.symbols import SymbolSpec, SymbolTable, canonical_name, parse_symbol_list

__all__ = [
    "LatexSyntaxError",
    "ParsedMath",
    "ParsedSide",
    "SymbolSpec",
    "SymbolTable",
    "canonical_name",
    "parse_math",
    "parse_symbol_list",
    "show",
]
