"""Tokens of LaTeX math as it appears in homework answers, plain text included.

The lexer drops what never changes a value (``$``, ``\\left``, ``\\,``,
``\\quad``, ``\\displaystyle``, alignment ``&`` inside ``aligned``, a code
span's backticks, a currency ``\\$``), folds Unicode spellings (``·``, ``≠``,
``μ``, ``ᵀ``, ``₂``, ``⁻¹``, ``ℝ``, ``°``) into their LaTeX commands, and reads
the argument of ``\\text{...}``-like commands as one ``WORD`` token. Letters
come as runs (``IDENT "bnd"``); the parser decides how to split them because
that depends on the declared symbols.

Numbers are read as people write them: digit groups (``1 000``, ``1\\,000``,
``7,425,000``, ``1{,}000``) are one number, and so is ``1.5e-3``. A decimal
comma (``1,22``) is only recognised for a whole answer, by the chain reader,
because ``[0,1)`` and ``(1,2)`` are not numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["MAX_INPUT_CHARS", "LatexSyntaxError", "Token", "raw_text", "tokenize"]

MAX_INPUT_CHARS = 4000

_UNICODE = {
    "·": r"\cdot ",
    "∙": r"\cdot ",
    "∗": "*",
    "÷": r"\div ",
    "⁄": "/",
    "±": r"\pm ",
    "∓": r"\mp ",
    "≡": r"\equiv ",
    "∝": r"\propto ",
    "∼": r"\sim ",
    "∉": r"\notin ",
    "∪": r"\cup ",
    "∩": r"\cap ",
    "∖": r"\setminus ",
    "∅": r"\emptyset ",
    "⊂": r"\subset ",
    "⊆": r"\subseteq ",
    "∏": r"\prod ",
    "∫": r"\int ",
    "∛": r"\sqrt[3]",
    "⌊": r"\lfloor ",
    "⌋": r"\rfloor ",
    "⌈": r"\lceil ",
    "⌉": r"\rceil ",
    "…": r"\ldots ",
    "⟨": r"\langle ",
    "⟩": r"\rangle ",
    "°": r"^{\circ}",
    "½": r"\tfrac{1}{2}",
    "⅓": r"\tfrac{1}{3}",
    "¼": r"\tfrac{1}{4}",
    "¾": r"\tfrac{3}{4}",
    "ℕ": r"\mathbb{N}",
    "ℤ": r"\mathbb{Z}",
    "ℚ": r"\mathbb{Q}",
    "ℂ": r"\mathbb{C}",
    "‐": "-",
    "—": "-",
    "⋅": r"\cdot ",
    "×": r"\times ",
    "−": "-",
    "–": "-",
    "≠": r"\neq ",
    "≤": r"\le ",
    "≥": r"\ge ",
    "≈": r"\approx ",
    "≪": r"\ll ",
    "≫": r"\gg ",
    "⊤": r"\top ",
    "√": r"\sqrt ",
    "∞": r"\infty ",
    "Θ": r"\Theta ",
    "Ω": r"\Omega ",
    "∑": r"\sum ",
    "‖": r"\| ",
    "∀": r"\forall ",
    "∈": r"\in ",
    "⇒": r"\implies ",
    "⟹": r"\implies ",
    "→": r"\to ",
    "′": "'",
    "ℝ": r"\mathbb{R}",
    "𝔼": r"\mathbb{E}",
    "✓": " ",
    "✔": " ",
    "\u00a0": " ",
    "\u2009": " ",
    "\u202f": " ",
    "`": " ",
}
_GREEK_LETTERS = dict(
    zip(
        "αβγδεϵζηθϑικλμνξπρϱστυφϕχψωΓΔΘΛΞΠΣΥΦΨΩ",
        "alpha beta gamma delta epsilon epsilon zeta eta theta vartheta iota kappa lambda mu nu xi pi rho "
        "varrho sigma tau upsilon phi phi chi psi omega Gamma Delta Theta Lambda Xi Pi Sigma Upsilon Phi "
        "Psi Omega".split(),
        strict=True,
    )
)
_UNICODE.update({ch: f"\\{name} " for ch, name in _GREEK_LETTERS.items()})
# Unicode super- and subscripts; a run of them becomes one group: x⁻¹ is x^{-1}, μ₂ is mu_{2}.
_SUPERSCRIPTS = dict(
    zip("⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁼⁽⁾ⁿⁱᵀᵗᵃᵇᶜᵈᵉᶠᵍʰʲᵏˡᵐᵒᵖʳˢᵘᵛʷˣʸᶻ", "0123456789+-=()niTtabcdefghjklmoprsuvwxyz", strict=True)
)
_SUBSCRIPTS = dict(zip("₀₁₂₃₄₅₆₇₈₉₊₋₌₍₎ₐₑₒₓₕₖₗₘₙₚₛₜᵢⱼᵣᵤᵥ", "0123456789+-=()aeoxhklmnpstijruv", strict=True))

# Commands that only change typesetting.
_IGNORED = frozenset(
    "left right big Big bigg Bigg bigl bigr Bigl Bigr biggl biggr Biggl Biggr middle displaystyle "
    "textstyle scriptstyle limits nolimits quad qquad nonumber notag hfill mathop enspace thinspace "
    "medspace thickspace negthinspace".split()
)
# Commands whose braced argument is text: one WORD token.
_TEXT_COMMANDS = frozenset(
    "text textrm textit textbf texttt textsf mathrm mathit mathsf mathtt operatorname mbox".split()
)
# Commands whose braced argument is dropped entirely.
_DROPPED_WITH_ARG = frozenset("label tag".split())
# Environments that only lay out equations: their '&' and '\\' are not structure.
_LAYOUT_ENVS = frozenset(
    "aligned align align* alignat alignat* split gather gather* gathered equation equation* eqnarray "
    "eqnarray* multline multline* cases".split()
)
_COMPOUND = ("<=", ">=", "!=", "<<", ">>", ":=", "||")
_SINGLE = set("+-*/^_()[]{},=<>!'&|:;.%")
# Separators inside a grouped number: 1 000, 1\,000, 1~000, 1{,}000, 7,425,000.
_GROUP_SEPARATORS = (" ", "\\,", "\\ ", "\\;", "~", "{,}", ",")


class LatexSyntaxError(ValueError):
    """The text is not math this parser can read; the message says where and why."""

    def __init__(self, message: str, text: str = "", pos: int | None = None) -> None:
        self.message = message
        self.pos = pos
        if pos is not None and text:
            lo = max(0, pos - 20)
            message = f"{message} at column {pos + 1} near '{text[lo : pos + 20]}'"
        super().__init__(message)


@dataclass(frozen=True)
class Token:
    """One token: ``kind`` is NUM, IDENT, CMD, WORD, CHAR, BEGIN, END or EOF."""

    kind: str
    text: str
    pos: int
    space_before: bool = False

    def is_char(self, *chars: str) -> bool:
        return self.kind == "CHAR" and self.text in chars

    def is_cmd(self, *names: str) -> bool:
        return self.kind == "CMD" and self.text in names


def normalize_unicode(text: str) -> str:
    """Replace Unicode math characters with their LaTeX spelling (``x⁻¹`` becomes ``x^{-1}``)."""
    if text.isascii():
        return text.replace("`", " ")
    out: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        for table, mark in ((_SUPERSCRIPTS, "^"), (_SUBSCRIPTS, "_")):
            if ch in table:
                j = i
                while j < len(text) and text[j] in table:
                    j += 1
                out.append(f"{mark}{{{''.join(table[c] for c in text[i:j])}}}")
                i = j
                break
        else:
            out.append(_UNICODE.get(ch, ch))
            i += 1
    return "".join(out)


def _digits_end(text: str, i: int) -> int:
    while i < len(text) and text[i].isdigit():
        i += 1
    return i


def _number_end(text: str, i: int, in_brackets: bool) -> tuple[int, str]:
    """The end of the number starting at ``text[i]`` and its digits without group separators.

    Inside brackets a comma separates entries (``[100,200]``), so only spaces group digits there.
    """
    n = len(text)
    j = _digits_end(text, i)
    digits = text[i:j]
    if 1 <= j - i <= 3 and (i == 0 or text[i - 1] != "."):
        separator = None
        allowed = _GROUP_SEPARATORS[:-1] if in_brackets else _GROUP_SEPARATORS
        while True:
            for sep in (separator,) if separator else allowed:
                k = j + len(sep)
                if text.startswith(sep, j) and _digits_end(text, k) == k + 3:
                    break
            else:
                break
            separator = sep
            digits += text[k : k + 3]
            j = k + 3
    if j < n - 1 and text[j] == "." and text[j + 1].isdigit():
        k = _digits_end(text, j + 1)
        digits += text[j:k]
        j = k
    # 1.5e-3, 2E5: an exponent written straight after the digits
    if j < n and text[j] in "eE":
        k = j + 1 + (j + 1 < n and text[j + 1] in "+-")
        end = _digits_end(text, k)
        if end > k and not (end < n and text[end].isalpha()):
            return end, digits + "e" + text[j + 1 : end]
    return j, digits


def _read_group(text: str, i: int) -> tuple[str, int]:
    """The raw content of the brace group starting at ``text[i] == '{'`` and the index after it."""
    depth = 0
    for j in range(i, len(text)):
        ch = text[j]
        if ch == "\\":
            continue
        if ch == "{" and (j == 0 or text[j - 1] != "\\"):
            depth += 1
        elif ch == "}" and text[j - 1] != "\\":
            depth -= 1
            if depth == 0:
                return text[i + 1 : j], j + 1
    raise LatexSyntaxError("unbalanced '{'", text, i)


def _skip_space(text: str, i: int) -> int:
    while i < len(text) and text[i].isspace():
        i += 1
    return i


def tokenize(text: str) -> list[Token]:
    """Split ``text`` into tokens, ending with an EOF token.

    Raises :class:`LatexSyntaxError` for input over ``MAX_INPUT_CHARS`` or
    characters that cannot be math.
    """
    if len(text) > MAX_INPUT_CHARS:
        raise LatexSyntaxError(f"expression is {len(text)} characters long; the limit is {MAX_INPUT_CHARS}")
    text = normalize_unicode(text)
    tokens: list[Token] = []
    envs: list[str] = []
    space = False
    brackets = 0
    i, n = 0, len(text)

    def emit(kind: str, value: str, pos: int) -> None:
        nonlocal space
        tokens.append(Token(kind, value, pos, space))
        space = False

    while i < n:
        ch = text[i]
        if ch.isspace() or ch == "$" or ch == "~":
            space, i = True, i + 1
        elif ch.isdigit() or (ch == "." and i + 1 < n and text[i + 1].isdigit()):
            j, digits = _number_end(text, i, brackets > 0)
            emit("NUM", digits, i)
            i = j
        elif ch.isascii() and ch.isalpha():
            j = i
            while j < n and text[j].isascii() and text[j].isalpha():
                j += 1
            emit("IDENT", text[i:j], i)
            i = j
        elif ch == "\\":
            i = _lex_command(text, i, emit, envs)
            if tokens and tokens[-1].kind == "SPACE":
                tokens.pop()
                space = True
        elif ch == "&":
            if not (envs and envs[-1] in _LAYOUT_ENVS):
                emit("CHAR", "&", i)
            i += 1
        elif (
            text.startswith("**", i)
            and tokens
            and (
                tokens[-1].kind in ("IDENT", "NUM")
                or (tokens[-1].kind == "CHAR" and tokens[-1].text in ")]}")
            )
        ):
            emit("CHAR", "^", i)  # Python's power in plain text: d*mu**2
            i += 2
        elif text.startswith(_COMPOUND, i):
            pair = text[i : i + 2]
            emit("CHAR", "‖" if pair == "||" else pair, i)  # ||mu|| is a norm in plain text
            i += 2
        elif ch in _SINGLE:
            brackets += (ch in "([") - (ch in ")]")
            emit("CHAR", ch, i)
            i += 1
        else:
            raise LatexSyntaxError(f"unexpected character {ch!r}", text, i)
    tokens.append(Token("EOF", "", n, space))
    return tokens


def _lex_command(text: str, i: int, emit, envs: list[str]) -> int:
    """Lex the command at ``text[i] == '\\\\'``; returns the index after it."""
    n = len(text)
    if i + 1 >= n:
        raise LatexSyntaxError("dangling backslash", text, i)
    nxt = text[i + 1]
    if not nxt.isalpha():
        if nxt == "\\":
            if not (envs and envs[-1] in _LAYOUT_ENVS):
                emit("CMD", "\\", i)
            return i + 2
        if nxt in ",;:! >":
            emit("SPACE", " ", i)
            return i + 2
        if nxt == "|":
            emit("CHAR", "‖", i)
        elif nxt in "{}":
            emit("CHAR", "\\" + nxt, i)  # set braces \{ \}
        elif nxt == "$":
            emit("SPACE", " ", i)  # a currency sign: \$5 is 5
        elif nxt in "_%#":
            emit("CHAR", nxt, i)
        else:
            raise LatexSyntaxError(f"unknown command '\\{nxt}'", text, i)
        return i + 2
    j = i + 1
    while j < n and text[j].isalpha():
        j += 1
    name = text[i + 1 : j]
    if name == "operatorname" and j < n and text[j] == "*":
        j += 1
    if name in ("langle", "rangle"):
        emit("CHAR", "(" if name == "langle" else ")", i)  # ⟨1, 2⟩ is a tuple
        return j
    if name in _IGNORED:
        if name in ("left", "right", "middle") or name.startswith(("big", "Big")):
            k = _skip_space(text, j)
            if k < n and text[k] == ".":
                return k + 1
        emit("SPACE", " ", i)
        return j
    if name in ("begin", "end"):
        k = _skip_space(text, j)
        if k >= n or text[k] != "{":
            raise LatexSyntaxError(f"\\{name} needs an environment name", text, i)
        env, k = _read_group(text, k)
        env = env.strip()
        if name == "begin":
            envs.append(env)
            k2 = _skip_space(text, k)
            if env in ("array", "alignat", "alignat*") and k2 < n and text[k2] == "{":
                _, k = _read_group(text, k2)
            if env not in _LAYOUT_ENVS:
                emit("BEGIN", env, i)
        else:
            if envs:
                envs.pop()
            if env not in _LAYOUT_ENVS:
                emit("END", env, i)
        return k
    if name in _TEXT_COMMANDS or name in _DROPPED_WITH_ARG:
        k = _skip_space(text, j)
        if k < n and text[k] == "{":
            content, k = _read_group(text, k)
        elif k < n:
            content, k = text[k], k + 1
        else:
            raise LatexSyntaxError(f"\\{name} needs an argument", text, i)
        if name in _TEXT_COMMANDS:
            emit("WORD", content.replace("\\_", "_").replace("\\ ", " ").strip(), i)
        return k
    emit("CMD", name, i)
    return j


def raw_text(tokens: list[Token]) -> str:
    """A compact name built from tokens, for subscripts: ``{\\text{model}}`` gives ``model``."""
    out: list[str] = []
    for tok in tokens:
        if tok.kind in ("NUM", "IDENT", "WORD"):
            out.append(tok.text.replace(" ", "_"))
        elif tok.kind == "CMD":
            if tok.text in ("cdot", "ldots", "cdots", "mathbf", "boldsymbol", "bm", "mathit"):
                continue
            out.append(tok.text)
        elif tok.kind == "CHAR" and tok.text not in "{}":
            out.append(tok.text)
    return "".join(out)
