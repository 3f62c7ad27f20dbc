"""What a report renders of what a model writes: TeX math commands by arity, delimiters and
environments, and the few inline HTML tags a reply may use.

Everything else a model writes in math is shown as text by
:mod:`evalkit.report.texmath`. Each name here must exist in pdflatex with
amsmath, amssymb, mathtools and bm (the report's preamble); latex2mathml
shows the few it does not know as their name. HTML tags not in
:data:`HTML_TAGS` are shown as text by :mod:`evalkit.report.markdown`.
"""

from __future__ import annotations

__all__ = [
    "DELIM_CHARS",
    "DELIM_CMDS",
    "DROP",
    "DROP_WITH_ARG",
    "ENVS",
    "ESCAPED_CHARS",
    "GREEK",
    "HTML_TAGS",
    "LARGE_OPS",
    "ONE_ARG",
    "OPTIONAL",
    "SINGLE_OK",
    "SIZES",
    "STARRED",
    "TEXT_CMDS",
    "TWO_ARG",
    "WITH_COUNT_ARG",
    "ZERO_ARG",
]

GREEK = (
    "alpha beta gamma delta epsilon varepsilon zeta eta theta vartheta iota kappa lambda mu nu xi pi "
    "varpi rho varrho sigma varsigma tau upsilon phi varphi chi psi omega Gamma Delta Theta Lambda Xi "
    "Pi Sigma Upsilon Phi Psi Omega"
)
SYMBOLS = (
    "leq le geq ge neq ne approx sim simeq cong equiv propto ll gg subset subseteq supset supseteq in "
    "ni notin mid nmid parallel perp prec succ preceq succeq vdash models doteq triangleq coloneqq "
    "asymp lesssim gtrsim leqslant geqslant to rightarrow leftarrow gets Rightarrow Leftarrow "
    "leftrightarrow Leftrightarrow longrightarrow longleftarrow Longrightarrow Longleftarrow "
    "longleftrightarrow Longleftrightarrow mapsto longmapsto implies impliedby iff uparrow downarrow "
    "hookrightarrow hookleftarrow rightharpoonup leftharpoonup rightleftharpoons nearrow searrow "
    "times cdot div pm mp ast star circ bullet oplus ominus otimes oslash odot cap cup sqcup sqcap "
    "wedge vee land lor setminus uplus dagger ddagger infty partial nabla forall exists nexists neg "
    "lnot emptyset varnothing ell hbar imath jmath Re Im wp aleph prime angle top bot intercal "
    "checkmark square blacksquare Box triangle diamond surd therefore because colon vdots dots ldots "
    "cdots ddots dotsb dotsc dotsm langle rangle lfloor rfloor lceil rceil vert Vert lvert rvert lVert "
    "rVert backslash lbrace rbrace lbrack rbrack quad qquad enspace thinspace not displaystyle "
    "textstyle scriptstyle log ln exp sin cos tan sec csc cot arcsin arccos arctan sinh cosh tanh "
    "coth arg deg dim hom ker lg bmod gcd det Pr sup inf max min lim limsup liminf sum prod "
    "coprod int iint iiint oint bigcup bigcap bigoplus bigotimes bigodot biguplus bigvee bigwedge"
)
LARGE_OPS = set(
    "sum prod coprod int iint iiint oint bigcup bigcap bigoplus bigotimes bigodot biguplus bigvee "
    "bigwedge lim limsup liminf max min sup inf det Pr gcd operatorname".split()
)
ZERO_ARG = set(GREEK.split()) | set(SYMBOLS.split())
ONE_ARG = set(
    "sqrt mathbb mathbf mathrm mathit mathcal mathsf mathtt mathfrak boldsymbol bm operatorname hat "
    "widehat tilde widetilde bar overline underline vec dot ddot check breve acute grave mathring "
    "overrightarrow overleftarrow underbrace overbrace boxed phantom hphantom vphantom xrightarrow "
    "xleftarrow pmod mod mathop mathrel mathbin mathord".split()
)
TWO_ARG = set("frac dfrac tfrac cfrac binom dbinom tbinom overset underset stackrel".split())
OPTIONAL = {"sqrt", "xrightarrow", "xleftarrow"}
STARRED = {"operatorname"}
TEXT_CMDS = set("text textrm textbf textit textsf texttt textnormal textup textmd mbox emph".split())
DROP_WITH_ARG = {"label", "tag", "hspace", "vspace", "color"}
DROP = {"nonumber", "notag", "displaylimits", "allowbreak", "nobreak"}
SIZES = set("big Big bigg Bigg bigl bigr Bigl Bigr biggl biggr Biggl Biggr bigm Bigm".split())
DELIM_CMDS = set(
    "{ } | langle rangle lfloor rfloor lceil rceil vert Vert lvert rvert lVert rVert uparrow downarrow "
    "Uparrow Downarrow backslash lbrace rbrace".split()
)
DELIM_CHARS = set("()[]|/.<>")
SINGLE_OK = {",": r"\,", ":": r"\:", ";": r"\;", "!": r"\!", " ": r"\ ", "|": r"\|"}
ESCAPED_CHARS = {"{": r"\{", "}": r"\}", "#": r"\#", "$": r"\$", "%": r"\%", "&": r"\&", "_": r"\_"}

# Environments: input name → (canonical name ("" = itself), maximum columns)
ENVS: dict[str, tuple[str, int]] = {
    **dict.fromkeys(("matrix", "pmatrix", "bmatrix", "Bmatrix", "vmatrix", "Vmatrix"), ("", 50)),
    "smallmatrix": ("smallmatrix", 50),
    "cases": ("cases", 2),
    "dcases": ("cases", 2),
    "array": ("array", 50),
    **dict.fromkeys(
        ("align", "align*", "aligned", "alignat", "alignat*", "alignedat", "eqnarray", "eqnarray*",
         "flalign", "flalign*", "split"),
        ("aligned", 50),
    ),
    **dict.fromkeys(("gather", "gather*", "gathered", "multline", "multline*"), ("gathered", 1)),
    **dict.fromkeys(("equation", "equation*", "displaymath", "math"), ("group", 1)),
}  # fmt: skip
WITH_COUNT_ARG = {"alignat", "alignat*", "alignedat"}

# Inline HTML in a reply (``| (a) | <code>d_model</code> |``): tag → what both reports show it as. Attributes
# are never kept, a tag must be closed within its paragraph, and any other tag is shown as text.
HTML_TAGS: dict[str, str] = {
    **dict.fromkeys(("b", "strong"), "strong"),
    **dict.fromkeys(("i", "em", "var", "cite", "dfn"), "em"),
    **dict.fromkeys(("s", "del", "strike"), "s"),
    **dict.fromkeys(("code", "kbd", "samp", "tt"), "code"),
    "sub": "sub",
    "sup": "sup",
    "br": "br",
}  # fmt: skip
