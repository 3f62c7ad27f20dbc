"""Escaping text for pdflatex: every character of model or user text comes out as inert TeX.

ASCII specials become their text commands; non-ASCII characters are kept
when the document's encodings (T1, TS1, OMS, OT1 under ``inputenc`` utf8)
or the preamble's own ``\\DeclareUnicodeCharacter`` lines (:data:`DECLARED`)
define them, and become a visible ``[U+XXXX]`` otherwise, because pdflatex
stops with an error at an undefined character.

Example::

    escape_text("50% of $x_1 \\\\input{x}")
    # '50\\% of \\$x\\_1 \\textbackslash{}input\\{x\\}'
"""

from __future__ import annotations

import re

__all__ = [
    "DECLARED",
    "MATH_UNICODE",
    "escape_text",
    "escape_verbatim_unicode",
    "is_native",
    "unicode_declarations",
]

_ASCII = {
    "\\": r"\textbackslash{}",
    "{": r"\{",
    "}": r"\}",
    "$": r"\$",
    "&": r"\&",
    "#": r"\#",
    "%": r"\%",
    "_": r"\_",
    "^": r"\textasciicircum{}",
    "~": r"\textasciitilde{}",
    "<": r"\textless{}",  # ``<<`` would be a guillemet ligature in T1
    ">": r"\textgreater{}",
    "`": r"\textasciigrave{}",
    "\t": " ",
}

# Code points the T1/TS1/OMS/OT1 encoding files define (generated from the .dfu files of TeX Live).
_NATIVE_RANGES = (
    (0xA0, 0x125), (0x128, 0x137), (0x139, 0x13E), (0x141, 0x148), (0x14A, 0x165), (0x168, 0x17E),
    (0x192, 0x192), (0x1C4, 0x1D4), (0x1E2, 0x1E3), (0x1E6, 0x1EB), (0x1F0, 0x1F0), (0x1F4, 0x1F5),
    (0x218, 0x21B), (0x232, 0x233), (0x237, 0x237), (0x2C7, 0x2C7), (0x2D8, 0x2D9), (0x2DB, 0x2DB),
    (0x2DD, 0x2DD), (0x2010, 0x2016), (0x2018, 0x201A), (0x201C, 0x201E), (0x2020, 0x2022),
    (0x2030, 0x2031), (0x2039, 0x203B), (0x203D, 0x203D), (0x2044, 0x2044), (0x20AC, 0x20AC),
    (0x2122, 0x2122), (0x2190, 0x2193), (0x27E8, 0x27E9), (0xFB00, 0xFB06),
)  # fmt: skip

# Math symbols: the character and the math command that draws it (used in text via \ensuremath).
MATH_UNICODE: dict[str, str] = {
    **{
        c: "\\" + name
        for c, name in zip(
            "αβγδεζηθικλμνξπρστυφχψωΓΔΘΛΞΠΣΥΦΨΩϵϑϕϖϱς",
            "alpha beta gamma delta varepsilon zeta eta theta iota kappa lambda mu nu xi pi rho sigma tau "
            "upsilon varphi chi psi omega Gamma Delta Theta Lambda Xi Pi Sigma Upsilon Phi Psi Omega "
            "epsilon vartheta phi varpi varrho varsigma".split(),
            strict=True,
        )
    },
    "ο": "o",
    "≤": r"\leq",
    "≥": r"\geq",
    "≠": r"\neq",
    "≈": r"\approx",
    "≡": r"\equiv",
    "∼": r"\sim",
    "≃": r"\simeq",
    "≅": r"\cong",
    "∝": r"\propto",
    "≪": r"\ll",
    "≫": r"\gg",
    "≔": r"\coloneqq",
    "≜": r"\triangleq",
    "×": r"\times",
    "÷": r"\div",
    "·": r"\cdot",
    "⋅": r"\cdot",
    "∘": r"\circ",
    "±": r"\pm",
    "∓": r"\mp",
    "−": "-",
    "∗": r"\ast",
    "⊙": r"\odot",
    "⊗": r"\otimes",
    "⊕": r"\oplus",
    "∞": r"\infty",
    "∂": r"\partial",
    "∇": r"\nabla",
    "∑": r"\sum",
    "∏": r"\prod",
    "∫": r"\int",
    "√": r"\surd",
    "∈": r"\in",
    "∉": r"\notin",
    "∋": r"\ni",
    "⊂": r"\subset",
    "⊆": r"\subseteq",
    "⊃": r"\supset",
    "⊇": r"\supseteq",
    "∪": r"\cup",
    "∩": r"\cap",
    "∅": r"\emptyset",
    "∀": r"\forall",
    "∃": r"\exists",
    "¬": r"\neg",
    "∧": r"\wedge",
    "∨": r"\vee",
    "⊤": r"\top",
    "⊥": r"\perp",
    "∥": r"\parallel",
    "∣": r"\mid",
    "′": r"\prime",
    "″": r"\prime\prime",
    "→": r"\to",
    "←": r"\leftarrow",
    "↔": r"\leftrightarrow",
    "⇒": r"\Rightarrow",
    "⇐": r"\Leftarrow",
    "⇔": r"\Leftrightarrow",
    "⟹": r"\implies",
    "⟸": r"\impliedby",
    "⟺": r"\iff",
    "↦": r"\mapsto",
    "↑": r"\uparrow",
    "↓": r"\downarrow",
    "↪": r"\hookrightarrow",
    "⟶": r"\longrightarrow",
    "ℝ": r"\mathbb{R}",
    "ℕ": r"\mathbb{N}",
    "ℤ": r"\mathbb{Z}",
    "ℚ": r"\mathbb{Q}",
    "ℂ": r"\mathbb{C}",
    "𝔼": r"\mathbb{E}",
    "ℓ": r"\ell",
    "ℏ": r"\hbar",
    "∴": r"\therefore",
    "∵": r"\because",
    "⋯": r"\cdots",
    "⋮": r"\vdots",
    "⋱": r"\ddots",
    "⟨": r"\langle",
    "⟩": r"\rangle",
    "⌊": r"\lfloor",
    "⌋": r"\rfloor",
    "⌈": r"\lceil",
    "⌉": r"\rceil",
    "‖": r"\|",
    "²": "^{2}",
    "³": "^{3}",
    "¹": "^{1}",
    "⁰": "^{0}",
    "⁴": "^{4}",
    "ⁿ": "^{n}",
    "ᵀ": r"^{\top}",
    "⁻": "^{-}",
    "₀": "_{0}",
    "₁": "_{1}",
    "₂": "_{2}",
    "₃": "_{3}",
    "₄": "_{4}",
    "ᵢ": "_{i}",
    "ⱼ": "_{j}",
    "ₖ": "_{k}",
    "ₙ": "_{n}",
}

# Text symbols the preamble declares (beyond MATH_UNICODE, which it declares via \ensuremath).
_TEXT_UNICODE: dict[str, str] = {
    "✓": r"\ensuremath{\checkmark}",
    "✔": r"\ensuremath{\checkmark}",
    "✅": r"\ensuremath{\checkmark}",
    "✗": r"\ding{55}",
    "✘": r"\ding{56}",
    "❌": r"\ding{55}",
    "★": r"\ding{72}",
    "☆": r"\ding{73}",
    "●": r"\ensuremath{\bullet}",
    "◦": r"\ensuremath{\circ}",
    "■": r"\ensuremath{\blacksquare}",
    "□": r"\ensuremath{\square}",
    "▪": r"\ensuremath{\blacksquare}",
    "⚠": r"\textbf{!}",
    "…": r"\dots{}",
    "\u200b": "",
    "\u2060": "",
    "\ufeff": "",
    "\u2009": r"\,",
    "\u202f": r"\,",
    "\u2002": r"\enspace{}",
    "\u2003": r"\quad{}",
}

# Every character the preamble declares, and what it expands to.
DECLARED: dict[str, str] = {
    **{c: f"\\ensuremath{{{tex}}}" for c, tex in MATH_UNICODE.items() if c not in ("·", "×", "÷", "±", "¬")},
    **_TEXT_UNICODE,
}

# Box-drawing characters (code comments, directory trees) are declared by the pmboxdraw package.
_BOX_DRAWING = (0x2500, 0x257F)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def is_native(char: str) -> bool:
    """Whether pdflatex with the report's preamble can typeset ``char`` as it is."""
    cp = ord(char)
    if cp < 0x80:
        return True
    if char in DECLARED:
        return True
    if _BOX_DRAWING[0] <= cp <= _BOX_DRAWING[1]:
        return True
    return any(lo <= cp <= hi for lo, hi in _NATIVE_RANGES)


def _unknown(char: str) -> str:
    return f"\\ekunichar{{{ord(char):04X}}}"


def escape_text(text: str) -> str:
    """``text`` as TeX that prints exactly these characters (paragraph breaks are the caller's)."""
    text = _CONTROL.sub("", text)
    out: list[str] = []
    for char in text:
        if char in _ASCII:
            out.append(_ASCII[char])
        elif ord(char) < 0x80 or is_native(char):
            out.append(char)
        else:
            out.append(_unknown(char))
    return "".join(out)


def escape_verbatim_unicode(text: str) -> str:
    """In TeX that is already safe (Pygments output), replace characters pdflatex cannot typeset."""
    text = _CONTROL.sub("", text)
    return "".join(c if ord(c) < 0x80 or is_native(c) else _unknown(c) for c in text)


def unicode_declarations() -> str:
    """The preamble lines that define :data:`DECLARED`."""
    lines = []
    for char, tex in DECLARED.items():
        if ord(char) < 0x80:
            continue
        lines.append(f"\\DeclareUnicodeCharacter{{{ord(char):04X}}}{{{tex}}}")
    return "\n".join(lines)
