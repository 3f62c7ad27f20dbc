"""Reading a reply for the ``code`` check: code fences, blank answers, einsums and shapes.

The helpers find what an answer states and return it as text (or ``None`` when
it states nothing); they run nothing and give no verdict: :mod:`evalkit.checks.code`
runs and compares. An answer's texts are ``answer.history`` (oldest first), then
``answer.text`` (:func:`_attempts`).

Example::

    _blank_values("(a) = `d_model`\n(b) = `num_heads`", ["a", "b"])   # {"a": "d_model", "b": "num_heads"}
    _shape_answer("A = [h, d, k]", "A")                                # ["h", "d", "k"]
"""

from __future__ import annotations

import ast
import itertools
import re
import textwrap
from collections.abc import Sequence

from evalkit.checks.base import Answer
from evalkit.extract.words import ANSWER_WORDS

_FENCE = re.compile(r"^[ \t]*(```|~~~)[ \t]*([\w+-]*)[^\n]*\n(.*?)(?:^[ \t]*\1[ \t]*$|\Z)", re.M | re.S)
_CODE_LANGS = {"", "python", "py", "python3", "torch", "pytorch"}
_CHECKS = "✓✔✅✗✘❌"


_DIFF_LANGS = {"diff", "patch", "udiff"}


def _post_image(diff: str) -> str:
    """The code a unified diff leaves (its ``+`` and context lines), hunk by hunk and dedented, without
    hunk headers or ``-`` lines."""
    hunks: list[list[str]] = [[]]
    for line in diff.splitlines():
        if line.startswith(("@@", "diff ", "index ")):
            hunks.append([])
        elif not line.startswith(("+++", "---", "-")):
            hunks[-1].append(line[1:] if line[:1] in ("+", " ") else line)
    return (
        "\n\n".join(textwrap.dedent("\n".join(h)).strip("\n") for h in hunks if any(x.strip() for x in h))
        + "\n"
    )


def _block_code(lang: str, body: str) -> str | None:
    """The Python a fenced block holds: itself, or a diff's result; None for other languages."""
    lang = lang.lower()
    if lang in _CODE_LANGS:
        return body
    if lang in _DIFF_LANGS:
        return _post_image(body)
    return None


def _code_blocks(text: str) -> list[str]:
    """The fenced code blocks of ``text`` that may be Python (a diff as the code it leaves), in order."""
    return [code for m in _FENCE.finditer(text) if (code := _block_code(m.group(2), m.group(3))) is not None]


def _attempts(answer: Answer) -> list[str]:
    return [*answer.history, answer.text]


def _delatex(text: str) -> str:
    text = re.sub(r"\\(?:text|mathrm|texttt|operatorname|mathtt|mathit)\{([^{}]*)\}", r"\1", text)
    text = re.sub(r"_\{([^{}]*)\}", r"_\1", text)
    for latex, plain in (("\\cdot", "*"), ("\\times", "*"), ("\\left", ""), ("\\right", ""), ("\\,", " ")):
        text = text.replace(latex, plain)
    return text.replace("\\_", "_").replace("{", "").replace("}", "").strip()


def _parses(value: str) -> bool:
    try:
        ast.parse(value, mode="eval")
    except SyntaxError:
        return False
    return True


def _clean_value(raw: str) -> str:
    """The code a blank's answer names, from a table cell or the rest of a line."""
    for pattern in (r"`([^`]+)`", r"<code>(.*?)</code>"):
        match = re.search(pattern, raw)
        if match:
            return match.group(1).replace("\\_", "_").strip()
    match = re.search(r"\$([^$]+)\$|\\\((.+?)\\\)", raw)
    if match:
        return _delatex(match.group(1) or match.group(2))
    plain = raw.replace("\\_", "_").replace("*", " ").strip(" |\t" + _CHECKS).rstrip(".,;:")
    plain = plain.strip(" " + _CHECKS)
    if _parses(plain):
        return plain
    tokens = [t.rstrip(".,;:") for t in plain.split()]
    return next((t for t in reversed(tokens) if _parses(t)), plain)


_SKELETON_BLANK = re.compile(r"_{2,}\s*\(\s*([A-Za-z0-9]+)\s*\)\s*_{2,}|_{3,}([A-Za-z0-9]+?)_{3,}")


_LIST_LEAD = re.compile(
    r"^(?:(?:so|thus|i\.e\.|that is|in short)\s*[:,]?\s*)?(?:(?:final\s+)?(?:answers?|blanks?|solutions?|results?"
    rf"|fill(?:ed)?(?:[\s-]+ins?)?|(?:{ANSWER_WORDS})s?)\s*)?[:：]\s*",
    re.IGNORECASE,
)


def _blank_lines(text: str, names: Sequence[str]) -> list[tuple[int, str, str]]:
    """Blank answers stated in prose: '(a) = `d_model`', '**Blank (d):** Q', a table row, and inline lists
    ('a) `d_model`  b) `d_model` ...'), as (offset, name, value)."""
    found = []
    alternation = "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))
    item = re.compile(
        rf"(?:^|(?<=\s)|(?<=[;,|]))(?:(?i:blank)\s*)?(?:\(\s*(?P<p>{alternation})\s*\)|(?P<q>{alternation})\))"
        rf"\s*(?:=|:|\||\t|is\b|->|→)?\s*"
    )
    offset = 0
    for raw in text.splitlines(keepends=True):
        line = re.sub(r"^[\s>#|*-]+", "", raw.replace("**", ""))
        lead = len(raw) - len(raw.lstrip())
        items = [m for m in item.finditer(line)]
        opening = _LIST_LEAD.match(line)  # '**Answer:** (a) `d_model` · (b) ...'
        if items and items[0].start() in (0, opening.end() if opening else 0):
            for k, m in enumerate(items):
                stop = items[k + 1].start() if k + 1 < len(items) else len(line)
                value = _clean_value(line[m.end() : stop].strip(" ,;|\t·•"))
                if value:
                    found.append((offset + lead + m.start(), m.group("p") or m.group("q"), value))
        else:
            bare = re.match(rf"^(?P<n>{alternation})\s*(?:=|:)\s*(?P<w>.+)$", line)
            if bare:
                value = _clean_value(bare.group("w"))
                if value:
                    found.append((offset + lead, bare.group("n"), value))
        offset += len(raw)
    return found


def _filled_skeleton(text: str, skeleton: str, names: Sequence[str]) -> list[tuple[int, str, str]]:
    """Blank answers read from the whole filled-in code: each skeleton line with a blank, matched
    against the reply's code lines (``self.W_k = nn.Linear(d_model, d_model)`` gives (a) = ``d_model``)."""
    patterns = []
    for line in skeleton.splitlines():
        blanks = list(_SKELETON_BLANK.finditer(line))
        if not blanks or len(blanks) > 1:
            continue
        name = blanks[0].group(1) or blanks[0].group(2)
        if name not in names:
            continue
        before, after = line[: blanks[0].start()].strip(), line[blanks[0].end() :].strip()
        loose = lambda part: r"\s*".join(re.escape(tok) for tok in re.findall(r"\w+|[^\w\s]", part))  # noqa: E731
        patterns.append((name, re.compile(rf"^{loose(before)}\s*(?P<v>.+?)\s*{loose(after)}\s*(?:#.*)?$")))
    found = []
    for m in _FENCE.finditer(text):
        code = _block_code(m.group(2), m.group(3))
        if code is None:
            continue
        base = m.start(3)
        offset = 0
        for code_line in code.splitlines(keepends=True):
            stripped = code_line.strip()
            for name, pattern in patterns:
                hit = pattern.match(stripped)
                if hit and len(hit.group("v")) <= 80:
                    found.append((base + offset, name, hit.group("v").strip()))
            offset += len(code_line)
    return found


def _blank_values(text: str, names: Sequence[str], skeleton: str | None = None) -> dict[str, str]:
    """Each blank's answer in ``text``: the last place that states it (summaries come last).

    Read from '(a) = `d_model`' lines, tables and inline lists, and, given the
    ``skeleton``, from the whole class with its blanks filled in.
    """
    stated = _blank_lines(text, names)
    if skeleton:
        stated += _filled_skeleton(text, skeleton, names)
    found: dict[str, str] = {}
    for _, name, value in sorted(stated):
        found[name] = value
    return found


def _einsum_calls(code: str) -> list[tuple[str, list[str] | None]]:
    try:
        tree = ast.parse(code)
    except SyntaxError:
        tree = None
    calls: list[tuple[str, list[str] | None]] = []
    for node in ast.walk(tree) if tree else ():
        if (
            isinstance(node, ast.Call)
            and (getattr(node.func, "attr", None) == "einsum" or getattr(node.func, "id", None) == "einsum")
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            names = [a.id if isinstance(a, ast.Name) else "?" for a in node.args[1:]]
            calls.append((node.args[0].value, names or None))
    return calls


_EQUATION = re.compile(r"""["'`]\s*([A-Za-z.]+(?:\s*,\s*[A-Za-z.]+)*\s*->\s*[A-Za-z.]*)\s*["'`]""")


def _einsum_answer(text: str, operands: Sequence[str]) -> tuple[str, list[str] | None] | None:
    """The einsum the reply gives: from code blocks first (calls on the declared operands preferred)."""
    in_blocks = [c for block in _code_blocks(text) for c in _einsum_calls(block)]
    inline = [c for span in re.findall(r"`([^`\n]+)`", text) for c in _einsum_calls(span)]
    for group in (in_blocks, inline):
        matching = [c for c in group if c[1] is not None and set(c[1]) == set(operands)]
        if matching or group:
            return (matching or group)[0]
    bare = _EQUATION.search(re.sub(_FENCE, "", text))
    return (bare.group(1), None) if bare else None


_OFFERED_BESIDE = re.compile(r"\b(?:or|either|alternatively|equivalently)\b", re.IGNORECASE)
_REJECTED = re.compile(r"\b(?:not|instead|rather|wrong|incorrect|fails?|never|don'?t|avoid)\b", re.IGNORECASE)


def _einsum_alternatives(text: str, operands: Sequence[str]) -> list[tuple[str, list[str] | None]]:
    """The einsums a reply offers side by side for one blank ('`einsum("bd,dk->bk", x, W_k)`, or
    `einsum("bd,hdk->bhk", x, W_k)` with a per-head layout'): calls on the same operands joined by
    'or' without a word rejecting one. Every one of them is graded; empty when there is no such hedge."""
    calls: list[tuple[int, int, tuple[str, list[str] | None]]] = []
    for m in re.finditer(r"`([^`\n]+)`", re.sub(_FENCE, lambda f: " " * len(f.group(0)), text)):
        calls += [(m.start(), m.end(), c) for c in _einsum_calls(m.group(1))]
    calls = [c for c in calls if c[2][1] is not None and set(c[2][1]) == set(operands)]
    for (_, end, first), (start, _, second) in itertools.pairwise(calls):
        gap = text[end:start]
        if (
            first[0] != second[0]
            and len(gap) <= 80
            and _OFFERED_BESIDE.search(gap)
            and not _REJECTED.search(gap)
        ):
            return [first, second]
    return []


def _einsum_on(text: str, operands: Sequence[str]) -> tuple[str, list[str] | None] | None:
    """The einsum call in ``text``'s code applied to exactly ``operands``, if there is one: how a
    part whose section only points at the code ('the three einsum lines above') is answered."""
    calls = [c for block in _code_blocks(text) for c in _einsum_calls(block)]
    calls += [c for span in re.findall(r"`([^`\n]+)`", text) for c in _einsum_calls(span)]
    matching = {c[0]: c for c in calls if c[1] is not None and set(c[1]) == set(operands)}
    return next(iter(matching.values())) if len(matching) == 1 else None


# -- shapes ---------------------------------------------------------------------------------------

_DIM = r"(?:\d+\s*\*\s*)?[A-Za-z_][A-Za-z0-9_]*(?:\s*[/+-]\s*[A-Za-z0-9_]+)?|\d+"
_TIMES = r"(?:×|\\times|\\cdot|\*|(?<=\s)x(?=\s))"
_SHAPE_FORMS = re.compile(
    rf"(?P<reals>(?:ℝ|\\mathbb\s*\{{\s*R\s*\}}|\\R\b|\bR)\s*\^\s*(?:\{{(?P<rin>[^{{}}\n]+)\}}|\((?P<rpar>[^()\n]+)\)|(?P<rbare>{_DIM}(?:\s*{_TIMES}\s*(?:{_DIM}))+)))"
    rf"|(?<![\w\\\]])(?P<nested>(?:\[\s*(?:{_DIM})\s*\]){{2,}})(?![\w\[])"  # [h][d][q], nested array dims
    rf"|(?<![\w\\])(?P<list>[\[(]\s*(?:{_DIM})(?:\s*,\s*(?:{_DIM}))+\s*[\])])"
    rf"|(?<![\w\\/])(?P<times>(?:{_DIM})(?:\s*{_TIMES}\s*(?:{_DIM}))+)(?=\s*(?:tensor|matrix|array|weight|shape|$|[,.;:)`$*]))",
)
_BINDING = re.compile(
    r"(?<!\w)(?P<name>[A-Za-z_][A-Za-z0-9_]*(?:\\?_\{?[A-Za-z0-9]+\}?)?)\s*[`$*]*\s*(?:=|:|∈|\\in|is|has|→|->|of|with|as|shaped)"
    r"(?:\s*(?:of\s+)?(?:the\s+)?(?:an?\s+)?(?:shape|size|dimensions?)?\s*(?:of|is|=|:)?)?[\s`$*\\(]*$"
)
_NOT_NAMES = {
    "shape",
    "size",
    "tensor",
    "matrix",
    "it",
    "this",
    "that",
    "which",
    "so",
    "answer",
    "is",
    "has",
    "dimension",
}


def _dims(raw: str) -> list[str]:
    raw = raw.strip().strip("[]()")
    parts = re.split(r"\s*,\s*" if "," in raw else rf"\s*{_TIMES}\s*", raw)
    return [_delatex(p) for p in parts if p.strip()]


def _shape_mentions(text: str) -> list[tuple[int, list[str], str | None]]:
    """Every shape written in ``text`` (``[h, d, q]``, ``(h, d, q)``, ``ℝ^{h×d×q}``, 'an h × d × q tensor'),
    with its offset and the name it is given (``W_q ∈ ...``, ``A = ...``), if any."""
    out = []
    for m in _SHAPE_FORMS.finditer(text):
        if m.group("reals"):
            inner = m.group("rin") or m.group("rpar") or m.group("rbare") or ""
            dims = _dims(inner)
        elif m.group("nested"):
            dims = [_delatex(d.strip()) for d in re.findall(r"\[([^\[\]]+)\]", m.group("nested"))]
        else:
            dims = _dims(m.group("list") or m.group("times") or "")
        if len(dims) < 2 or any(len(d) > 20 for d in dims):
            continue
        line_start = text.rfind("\n", 0, m.start()) + 1
        before = text[max(line_start, m.start() - 60) : m.start()]
        before = re.sub(r"\b(?:an?|the)\s*$", "", before.rstrip()).rstrip()
        before = re.sub(r"\b(?:an?|the)\s+$", "", before + " ").rstrip()
        bound = _BINDING.search(before + " ")
        name = bound.group("name").replace("\\", "").replace("{", "").replace("}", "") if bound else None
        if name and (name.lower() in _NOT_NAMES or re.fullmatch(ANSWER_WORDS, name, re.IGNORECASE)):
            name = None
        out.append((m.start(), dims, name))
    return out


def _shape_answers(text: str, blank: str | None, names: Sequence[str] = ()) -> list[list[str]]:
    """The shape(s) the reply states for a blank: those given its name (``A = [...]``,
    ``W_q ∈ ℝ^{h×d×q}``), boxed or on an answer line; else the last shape given no other name.

    Several different shapes stated for the blank are all returned (each is graded).
    """
    prose = re.sub(_FENCE, "", text)
    ours = {n.lower() for n in (blank, *names) if n}
    mentions = _shape_mentions(prose)
    boxed = [
        (s, d, n) for s, d, n in mentions if re.search(r"\\boxed\{\s*[^{}]{0,40}$", prose[max(0, s - 40) : s])
    ]
    answer_line = [
        (s, d, n)
        for s, d, n in mentions
        if re.search(
            r"(?:^|\n)[^\n]*(?:answer|final)[^\n]*:[^\n]*$", prose[max(0, s - 80) : s], re.IGNORECASE
        )
    ]
    bound = [
        (s, d, n)
        for s, d, n in mentions
        if n and n.lower().replace("_", "") in {o.replace("_", "") for o in ours}
    ]
    chosen = bound + [m for m in boxed + answer_line if m not in bound and (m[2] is None or m in bound)]
    if not chosen:
        free = [m for m in mentions if m[2] is None]
        # '`[d, k]` for MQA (for MHA it would be `[h, d, k]`)': an aside about another model is no answer
        stated = [m for m in free if not _ASIDE.search(_clause_before(prose, m[0]))]
        chosen = (stated or free)[-1:]
    out: list[list[str]] = []
    for _, dims, _ in sorted(chosen):
        if dims not in out:
            out.append(dims)
    return out


_ASIDE = re.compile(
    r"\b(?:MHA|multi-?head|standard attention|instead of|rather than|compared?|vs\.?|versus|would (?:be|have)|"
    r"not|isn'?t|wasn'?t|if|unlike|before|originally)\b",
    re.IGNORECASE,
)


def _clause_before(prose: str, at: int) -> str:
    """The text of the clause that leads up to offset ``at``: from the last '.', ';', '(' or line break."""
    start = max(prose.rfind(c, 0, at) for c in ".;(\n") + 1
    return prose[start:at]


def bound_shapes(reply: str, blank: str | None, names: Sequence[str]) -> list[list[str]]:
    """Shapes the whole reply gives the blank's variable by name (``So W_k is [h, d, k]``), outside asides
    about other models or hypotheticals ("in MHA, W_k is [h, d, k]")."""
    prose = re.sub(_FENCE, "", reply)
    ours = {n.lower().replace("_", "") for n in (blank, *names) if n and len(n) > 1}
    out: list[list[str]] = []
    for start, dims, name in _shape_mentions(prose):
        if not name or name.lower().replace("_", "") not in ours:
            continue
        sentence_start = max(prose.rfind(".", 0, start), prose.rfind("\n", 0, start)) + 1
        if _ASIDE.search(prose[sentence_start:start]) or dims in out:
            continue
        out.append(dims)
    return out


def _shape_answer(text: str, blank: str | None, names: Sequence[str] = ()) -> list[str] | None:
    """The last of :func:`_shape_answers`, or None."""
    found = _shape_answers(text, blank, names)
    return found[-1] if found else None


def blank_names(given_code: str, blank: str) -> list[str]:
    """The variable a blank of a given stands for: ``W_q`` for ``W_q: _____A_____`` in a docstring."""
    pattern = rf"([A-Za-z_][A-Za-z0-9_]*)\s*[:=]\s*_{{3,}}\s*{re.escape(blank)}\s*_{{3,}}"
    return list(dict.fromkeys(re.findall(pattern, given_code)))
