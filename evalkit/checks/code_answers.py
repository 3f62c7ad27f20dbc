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
from evalkit.extract import HEADING_MARKER
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


def _blank_fences(text: str) -> str:
    """``text`` with its fenced blocks blanked out (line breaks kept, so offsets stay those of ``text``)."""
    return _FENCE.sub(lambda f: re.sub(r"[^\n]", " ", f.group(0)), text)


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


# -- which of several statements is the answer ------------------------------------------------------
#
# A reply may state a blank, an einsum or a shape more than once. Three readings decide which counts:
# a retraction ('Wait — let me redo that', 'scratch that', 'Correction:') drops what came before it;
# candidates labelled as options ('**Option A:** ...', 'Alternative 2 —') are a hedge unless the reply
# picks one ('Go with A', 'Recommendation: B', 'Option B is the right one'); and two different
# candidates joined by 'or' are both offered. An offered set is graded as a whole (each must be right),
# so a hedge between a right and a wrong answer is never correct.

_RETRACTION = re.compile(
    r"\b(?:wait|hold on|oops|whoops)\b\s*[,.!:;—–-]"
    r"|\blet\s+me\s+(?:redo|re-do|fix|correct|reconsider|re-?think|try\s+(?:that\s+|this\s+)?again"
    r"|start\s+over|revise|re-?compute|re-?state|re-?write)\b"
    r"|\b(?:scratch|strike|ignore)\s+that\b|\bignore\s+(?:the\s+above|what\s+i\s+(?:said|wrote))"
    r"|\bcorrection\s*[:—–-]|\b(?:corrected|fixed|revised)\s*(?:version|answer|einsum|shape|line|value)?\s*:"
    r"|\bon\s+second\s+thought\b|\bi\s+made\s+(?:a|an)\s+(?:mistake|error|typo)\b"
    r"|\b(?:that|this)(?:'s|\s+is|\s+was)\s+(?:wrong|incorrect|not\s+right|a\s+mistake|a\s+typo)\b"
    r"|\bmy\s+(?:mistake|bad)\b|\bno,?\s+wait\b|\bi\s+mean\b|\bsorry,?\s+(?:no\b|i\s+mean|that)"
    r"|(?:^|(?<=[.!?]\s)|(?<=\n))[\s*_>]*actually\s*,",
    re.IGNORECASE,
)


def _retracted_before(text: str, starts: Sequence[int]) -> int:
    """The offset from which ``text`` is read for an answer: just after the last retraction that has a
    candidate (at ``starts``) both before and after it, else 0 ('`X`. Wait — let me redo that. `Y`')."""
    if len(starts) < 2:
        return 0
    first, last = min(starts), max(starts)
    cut = 0
    for m in _RETRACTION.finditer(text, first):
        if m.start() >= last:
            break
        if any(s < m.start() for s in starts) and not _in_code_span(m.start(), text):
            cut = m.start()
    return cut


def _in_code_span(at: int, text: str) -> bool:
    """Whether ``at`` sits inside a code span of its line (a marker word in code is no retraction)."""
    line_start = text.rfind("\n", 0, at) + 1
    return text.count("`", line_start, at) % 2 == 1


_OPTION_WORDS = r"option|alternative|approach|choice|variant|version|candidate|possibility"
_OPTION = re.compile(
    rf"(?<![\w])(?:{_OPTION_WORDS})\s*(?P<label>[A-Za-z]|\d{{1,2}}|I{{1,3}}|IV)\b[*_]*\s*(?:[:—–)=]|-\s|is\b|[*_]*\s*$)",
    re.IGNORECASE | re.MULTILINE,
)


def _option_of(text: str, starts: Sequence[int]) -> list[str | None]:
    """The option label (``A`` for '**Option A:** `[h, d, q]`') each candidate at ``starts`` is given:
    that of the nearest option defined before it, unless a paragraph of prose came between."""
    defined = [(m.start(), m.end(), m.group("label").upper()) for m in _OPTION.finditer(text)]
    out: list[str | None] = []
    for at in starts:
        before = [d for d in defined if d[1] <= at]
        if not before:
            out.append(None)
            continue
        _, end, label = before[-1]
        fence = next((f.start() for f in _FENCE.finditer(text) if f.start() <= at < f.end()), at)
        gap = text[end:fence]
        loose = "\n\n" in gap and gap.strip(" \t\n*_:.—–-") != ""
        out.append(None if loose else label)
    return out


_NEGATED = re.compile(
    r"\b(?:not|never|don'?t|do\s+not|wouldn'?t|won'?t|shouldn'?t|can'?t|cannot)\s+(?:\w+\s+)?$", re.IGNORECASE
)


def _picked(texts: Sequence[str], labels: set[str]) -> str | None:
    """The option a reply settles on ('Go with A', 'Recommendation: B', 'Option A is correct'), last one
    wins; None when it picks none (or names no option defined)."""
    if not labels:
        return None
    alternation = "|".join(re.escape(lab) for lab in sorted(labels, key=len, reverse=True))
    pick = re.compile(
        r"\b(?:go(?:ing)?\s+with|pick(?:ing)?|choos(?:e|ing)|chose|use|using|prefer|recommend(?:ed|ation)?|select"
        r"|take|opt\s+for|stick\s+with|answer(?:\s+is)?|final(?:\s+answer)?(?:\s+is)?|i'?d\s+(?:go\s+with|pick|choose|use|take))"
        rf"\s*[:\-—–]?\s*[*_`]*\s*(?:the\s+)?(?P<word>(?:{_OPTION_WORDS})\s*)?(?P<a>{alternation})\b"
        r"(?![*_]*\s*(?:and|or|/)\s)"
        rf"|\b(?:(?:{_OPTION_WORDS})\s*)(?P<b>{alternation})\b[*_]*\s*(?:is|it\s+is|'s)\s+(?:the\s+)?(?:correct|right"
        r"|answer|one\s+to\s+use|better|best|way\s+to\s+go|recommended|what\s+you\s+want)\b",
        re.IGNORECASE,
    )
    chosen = None
    for text in texts:
        for m in pick.finditer(text):
            if _NEGATED.search(text[max(0, m.start() - 30) : m.start()]):
                continue  # "I wouldn't go with B"
            if m.group("a") and not m.group("word") and m.group("a") not in labels:
                continue  # 'use a per-head layout': a bare label is written as defined ('use A')
            chosen = (m.group("a") or m.group("b")).upper()
    return chosen


def _settle(
    text: str, starts: Sequence[int], keys: Sequence[object], later: Sequence[str] = ()
) -> tuple[list[int], bool]:
    """Which candidates (at ``starts``, with values ``keys``) ``text`` settles on, and whether they are a
    hedge: ``(indices, True)`` when different values are offered as options with no pick (each is
    graded), else ``(indices to choose from, False)``. ``later`` are later replies that may pick."""
    cut = _retracted_before(text, starts)
    kept = [i for i, s in enumerate(starts) if s >= cut]
    labels = _option_of(text, [starts[i] for i in kept])
    labelled = {lab for lab in labels if lab}
    if len(labelled) < 2 or len({keys[i] for i, lab in zip(kept, labels, strict=True) if lab}) < 2:
        return kept, False
    choice = _picked([text[cut:], *later], labelled)
    if choice is not None:
        return [i for i, lab in zip(kept, labels, strict=True) if lab in (None, choice)], False
    last_defined = max(starts[i] for i, lab in zip(kept, labels, strict=True) if lab)
    after = [i for i, lab in zip(kept, labels, strict=True) if lab is None and starts[i] > last_defined]
    offered = {keys[i] for i, lab in zip(kept, labels, strict=True) if lab}
    stated = [
        i
        for i in after
        if keys[i] in offered and _PICK_LINE.search(text[text.rfind("\n", 0, starts[i]) + 1 : starts[i]])
    ]
    if stated:  # 'Option A: X; Option B: Y. **Answer:** X' picks by restating one
        return stated[-1:], False
    return [i for i, lab in zip(kept, labels, strict=True) if lab], True


_PICK_LINE = re.compile(
    rf"\b(?:go(?:ing)?\s+with|pick|choose|use|recommend\w*|i'?d|{ANSWER_WORDS})\b[^\n]*$", re.IGNORECASE
)

_OR_BETWEEN = re.compile(
    r"^[\s,;*_$`]*(?:\(\s*)?(?:either\s+)?(?:or|or\s+(?:possibly|perhaps|maybe|alternatively|equivalently|else)"
    r"|alternatively|/|and/or|or,?\s*equivalently,?)[\s,;*_:$`]*$",
    re.IGNORECASE,
)


def _offered_beside(text: str, spans: Sequence[tuple[int, int]], chosen: int) -> list[int]:
    """``chosen`` and the candidates joined to it by 'or' ('`[h, d, q]` or `[d, q]`'), as indices."""
    group = [chosen]
    for k in range(chosen - 1, -1, -1):
        if _OR_BETWEEN.match(text[spans[k][1] : spans[group[0]][0]]):
            group.insert(0, k)
        else:
            break
    for k in range(chosen + 1, len(spans)):
        if _OR_BETWEEN.match(text[spans[group[-1]][1] : spans[k][0]]):
            group.append(k)
        else:
            break
    return group


def _reading_order(text: str) -> str:
    """``text`` with the answer written beside the part's label (appended after
    :data:`HEADING_MARKER`) put back first, where the reply wrote it."""
    at = text.rfind(HEADING_MARKER)
    if at < 0:
        return text
    end = text.find("\n", at)
    line = text[at + len(HEADING_MARKER) : len(text) if end < 0 else end].strip()
    body = (text[:at] + ("" if end < 0 else text[end:])).strip("\n")
    return body if body.lstrip().startswith(line) else f"{line}\n\n{body}"


_SKELETON_BLANK = re.compile(r"_{2,}\s*\(\s*([A-Za-z0-9]+)\s*\)\s*_{2,}|_{3,}([A-Za-z0-9]+?)_{3,}")


_LIST_LEAD = re.compile(
    r"^(?:(?:so|thus|i\.e\.|that is|in short)\s*[:,]?\s*)?(?:(?:final\s+)?(?:answers?|blanks?|solutions?|results?"
    rf"|fill(?:ed)?(?:[\s-]+ins?)?|(?:{ANSWER_WORDS})s?)\s*)?[:：]\s*",
    re.IGNORECASE,
)


_VALUE_SPAN = re.compile(r"`([^`\n]+)`|<code>(.*?)</code>|\$([^$\n]+)\$|\\\((.+?)\\\)")


def _value_alternatives(raw: str) -> list[str]:
    """The value(s) a blank's answer text names: one, or several offered side by side
    ('`self.num_heads` or `self.d_k`'); a retraction keeps what follows it ('`sigmoid` — no wait,
    `softmax`') and a rejection keeps what precedes it ('`Q`, not `K`')."""
    spans = list(_VALUE_SPAN.finditer(raw))
    if len(spans) < 2:
        return [_clean_value(raw)]
    chosen = [spans[0]]
    for prev, span in itertools.pairwise(spans):
        gap = raw[prev.end() : span.start()]
        if _RETRACTION.search(gap):
            chosen = [span]
        elif _OR_BETWEEN.match(gap) or re.fullmatch(r"[\s,;]*(?:\(\s*)?or\b[^`$]{0,30}?", gap, re.IGNORECASE):
            if not _REJECTED.search(gap):
                chosen.append(span)
        else:
            break
    if chosen == spans[:1]:
        return [_clean_value(raw)]
    values = [_clean_value(m.group(0)) for m in chosen]
    return list(dict.fromkeys(v for v in values if v))


_OPTION_LEAD = re.compile(rf"^(?:{_OPTION_WORDS})\s*[A-Za-z0-9]{{1,2}}\b[*_]*\s*[:—–)-]\s*", re.IGNORECASE)


def _mask_code(line: str) -> str:
    return re.sub(r"`[^`\n]*`", lambda m: "`" + "x" * (len(m.group(0)) - 2) + "`", line)


def _unmarked(raw: str) -> tuple[str, list[int]]:
    """A line without bold markers and its leading quote, list and heading marks, and for each of its
    characters (and its end) the offset in ``raw`` it came from."""
    kept: list[int] = []
    i = 0
    while i < len(raw):  # as raw.replace("**", ""), left to right
        if raw.startswith("**", i):
            i += 2
            continue
        kept.append(i)
        i += 1
    line = "".join(raw[i] for i in kept)
    lead = len(line) - len(re.sub(r"^[\s>#|*-]+", "", line))
    return line[lead:], [*kept[lead:], len(raw)]


def _blank_lines(text: str, names: Sequence[str]) -> list[tuple[int, str, tuple[str, ...]]]:
    """Blank answers stated in prose: '(a) = `d_model`', '**Blank (d):** Q', a table row, and inline lists
    ('a) `d_model`  b) `d_model` ...', 'A = `-1`, B = `x / rms`'), as (offset, name, values): one value,
    or several the reply offers side by side."""
    found = []
    alternation = "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))
    item = re.compile(
        rf"(?:^|(?<=\s)|(?<=[;,|]))(?:(?i:blank)\s*)?(?:\(\s*(?P<p>{alternation})\s*\)|(?P<q>{alternation})\))"
        rf"\s*(?:=|:|\||\t|is\b|->|→)?\s*"
    )
    # 'A = `-1`, B = `x / rms`': bare names, the first at the line's start, the others after a separator
    bare_item = re.compile(rf"(?:^|(?<=[,;·•|])\s*|(?<=\s\s))(?P<n>{alternation})\s*(?:=|:)\s*")
    offset = 0
    for raw in text.splitlines(keepends=True):
        line, where = _unmarked(raw)
        option = _OPTION_LEAD.match(line)  # '**Option A:** (g) = `self.num_heads`'
        start = option.end() if option else 0
        items = [m for m in item.finditer(line, start)]
        opening = _LIST_LEAD.match(line, start)  # '**Answer:** (a) `d_model` · (b) ...'
        if items and items[0].start() in (start, opening.end() if opening else start):
            for k, m in enumerate(items):
                stop = items[k + 1].start() if k + 1 < len(items) else len(line)
                values = _value_alternatives(line[m.end() : stop].strip(" ,;|\t·•"))
                if values:
                    found.append((offset + where[m.start()], m.group("p") or m.group("q"), tuple(values)))
        else:
            masked = _mask_code(line)
            bare = [m for m in bare_item.finditer(masked, start)]
            if bare and bare[0].start() == start and line[start:].rstrip():
                for k, m in enumerate(bare):
                    stop = bare[k + 1].start() if k + 1 < len(bare) else len(line)
                    part = line[m.end() : stop].rstrip()
                    if k + 1 < len(bare):
                        part = part.rstrip(" ,;·•|")
                    values = _value_alternatives(part) if part.strip() else []
                    if values and values != [""]:
                        found.append((offset + where[m.start()], m.group("n"), tuple(values)))
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


def _blank_readings(text: str, names: Sequence[str], skeleton: str | None = None) -> dict[str, list[str]]:
    """Each blank's answer in ``text``: the last place that states it (summaries come last), after any
    retraction; several values when the reply offers them side by side ('`X` or `Y`') or as options
    with no pick ('**Option A:** (g) = `X`' / '**Option B:** (g) = `Y`'). Each is graded.

    Read from '(a) = `d_model`' lines, tables and inline lists, and, given the
    ``skeleton``, from the whole class with its blanks filled in.
    """
    text = _reading_order(text)
    stated = _blank_lines(text, names)
    if skeleton:
        stated += [(at, name, (value,)) for at, name, value in _filled_skeleton(text, skeleton, names)]
    found: dict[str, list[str]] = {}
    for name in names:
        mine = sorted(s for s in stated if s[1] == name)
        if not mine:
            continue
        kept, hedge = _settle(text, [s[0] for s in mine], [s[2] for s in mine])
        if hedge:
            found[name] = list(dict.fromkeys(v for i in kept for v in mine[i][2]))
        elif kept:
            found[name] = list(mine[kept[-1]][2])
    return found


def _blank_values(text: str, names: Sequence[str], skeleton: str | None = None) -> dict[str, str]:
    """Each blank's answer in ``text`` (see :func:`_blank_readings`); of several offered, the last."""
    return {name: values[-1] for name, values in _blank_readings(text, names, skeleton).items()}


def _einsum_calls_at(code: str) -> list[tuple[int, int, str, list[str] | None]]:
    """The ``einsum("...", a, b)`` calls with a literal equation in ``code``, as (line, column,
    equation, operand names), in the order written."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        tree = None
    calls: list[tuple[int, int, str, list[str] | None]] = []
    for node in ast.walk(tree) if tree else ():
        if (
            isinstance(node, ast.Call)
            and (getattr(node.func, "attr", None) == "einsum" or getattr(node.func, "id", None) == "einsum")
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            names = [a.id if isinstance(a, ast.Name) else "?" for a in node.args[1:]]
            calls.append((node.lineno, node.col_offset, node.args[0].value, names or None))
    return sorted(calls, key=lambda c: (c[0], c[1]))


def _einsum_calls(code: str) -> list[tuple[str, list[str] | None]]:
    return [(eq, names) for _, _, eq, names in _einsum_calls_at(code)]


_EQUATION = re.compile(r"""["'`]\s*([A-Za-z.]+(?:\s*,\s*[A-Za-z.]+)*\s*->\s*[A-Za-z.]*)\s*["'`]""")

_Einsum = tuple[str, list[str] | None]


def _einsum_candidates(text: str) -> list[tuple[int, int, str, _Einsum]]:
    """Every einsum ``text`` states, as (start, end, where, (equation, operands)), in reading order;
    ``where`` is ``block`` (a fenced code block), ``inline`` (a code span) or ``bare`` (an equation
    string alone, read only when there is no call)."""
    out: list[tuple[int, int, str, _Einsum]] = []
    for m in _FENCE.finditer(text):
        code = _block_code(m.group(2), m.group(3))
        if code is None:
            continue
        lines = list(itertools.accumulate((len(x) for x in code.splitlines(keepends=True)), initial=0))
        for line, col, eq, names in _einsum_calls_at(code):
            at = m.start(3) + (lines[line - 1] + col if code == m.group(3) and line <= len(lines) else 0)
            out.append((at, at + 1, "block", (eq, names)))
    prose = _blank_fences(text)
    for m in re.finditer(r"`([^`\n]+)`", prose):
        out += [(m.start(), m.end(), "inline", c) for c in _einsum_calls(m.group(1))]
    if not out:
        out = [(m.start(), m.end(), "bare", (m.group(1), None)) for m in _EQUATION.finditer(prose)]
    return sorted(out, key=lambda c: c[0])


_OFFERED_BESIDE = re.compile(r"\b(?:or|either|alternatively|equivalently)\b", re.IGNORECASE)
_REJECTED = re.compile(r"\b(?:not|instead|rather|wrong|incorrect|fails?|never|don'?t|avoid)\b", re.IGNORECASE)


def _einsum_reading(text: str, operands: Sequence[str], later: Sequence[str] = ()) -> list[_Einsum]:
    """The einsum(s) ``text`` answers with: one, or several it offers for the blank (each is graded).

    Calls on the declared ``operands`` are preferred, code blocks over code spans, the first over
    later ones (a justification may quote wrong forms after the answer), except that a retraction
    ('Wait — let me redo that') drops what precedes it. Einsums labelled as options with no pick
    ('**Option A:** ... **Option B:** ...'; ``later`` replies may pick), or joined by 'or'
    without a word rejecting one, are all offered."""
    text = _reading_order(text)
    found = _einsum_candidates(text)
    matching = [c for c in found if c[3][1] is not None and set(c[3][1]) == set(operands)]
    relevant = matching or found
    if not relevant:
        return []
    kept, hedge = _settle(text, [c[0] for c in relevant], [c[3][0] for c in relevant], later)
    if hedge:
        return list({relevant[i][3][0]: relevant[i][3] for i in kept}.values())
    chosen = [relevant[i] for i in kept]
    if not chosen:
        return []
    answer = next((c for c in chosen if c[2] == "block"), chosen[0])
    inline = [c for c in chosen if c[2] == "inline" and c[3][1] is not None and set(c[3][1]) == set(operands)]
    for (_, end, _, first), (start, _, _, second) in itertools.pairwise(inline):
        gap = text[end:start]
        if (
            first[0] != second[0]
            and len(gap) <= 80
            and _OFFERED_BESIDE.search(gap)
            and not _REJECTED.search(gap)
        ):
            return [first, second]  # '`einsum("bd,dk->bk", ...)`, or `einsum("bd,hdk->bhk", ...)` per head'
    return [answer[3]]


def _einsum_answer(text: str, operands: Sequence[str]) -> _Einsum | None:
    """The einsum the reply gives (the first of :func:`_einsum_reading`), or None."""
    found = _einsum_reading(text, operands)
    return found[0] if found else None


def _einsum_alternatives(text: str, operands: Sequence[str]) -> list[_Einsum]:
    """The einsums a reply offers side by side for one blank (see :func:`_einsum_reading`); empty
    when it gives one."""
    found = _einsum_reading(text, operands)
    return found if len(found) > 1 else []


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
        if bound and re.search(rf"(?i:{_OPTION_WORDS})[\s*_]*$", before[: bound.start("name")]):
            name = None  # '**Option B:** `[h, d, k]`': an option's label, not the blank B
        if bound and name and _prose_word_before_colon(before, bound):
            name = None  # 'so `W_q` still has a head axis: `[h, d, q]`': a sentence leads to the shape
        out.append((m.start(), dims, name))
    return out


def _prose_word_before_colon(before: str, bound: re.Match[str]) -> bool:
    """Whether a shape's binding is a colon after an ordinary word in the middle of a sentence
    ('... has a head axis: [h, d, q]'), not a label ('W_q: [h, d, q]', '- keys: [b, n, k]')."""
    rest = before[bound.end("name") :]
    if not re.match(r"[\s`$*]*:", rest):
        return False
    name = bound.group("name")
    if (
        not re.fullmatch(r"[a-z]{3,}", name)
        or before[max(0, bound.start("name") - 1) : bound.start("name")] == "`"
    ):
        return False
    lead = before[: bound.start("name")]
    return len(re.findall(r"[A-Za-z]{2,}", lead)) >= 2


def _shape_answers(
    text: str, blank: str | None, names: Sequence[str] = (), later: Sequence[str] = ()
) -> list[list[str]]:
    """The shape(s) the reply states for a blank: those given its name (``A = [...]``,
    ``W_q ∈ ℝ^{h×d×q}``), boxed or on an answer line; else the last shape given no other name.
    A retraction ('Wait — let me redo that') drops the shapes before it; shapes labelled as options
    with no pick ('**Option A:** `[h, d, q]`'; ``later`` replies may pick), or joined by 'or'
    ('`[h, d, q]` or `[d, q]`'), are all offered. With none in the prose, a short code block that
    holds only shapes is read.

    Several different shapes stated for the blank are all returned (each is graded).
    """
    text = _reading_order(text)
    prose = _blank_fences(text)
    ours = {n.lower().replace("_", "") for n in (blank, *names) if n}
    mentions = _shape_mentions(prose)
    if not mentions:
        prose, mentions = _shapes_in_blocks(text)
    relevant = [m for m in mentions if m[2] is None or m[2].lower().replace("_", "") in ours]
    if relevant:
        kept, hedge = _settle(prose, [m[0] for m in relevant], [tuple(m[1]) for m in relevant], later)
        if hedge:
            return _distinct([relevant[i][1] for i in kept])
        keep = {relevant[i][0] for i in kept}
        mentions = [
            m for m in mentions if m[0] in keep or (m not in relevant and m[0] >= min(keep, default=0))
        ]
    chosen = _chosen_shapes(prose, mentions, ours)
    # '`W_q` is `[h, d, q]` or `[d, q]`': a shape offered beside a chosen one is offered too
    spans = [(m[0], m[0] + _span_length(prose, m[0])) for m in mentions]
    beside = {
        k
        for c in chosen
        for k in _offered_beside(prose, spans, mentions.index(c))
        if mentions[k][2] is None or mentions[k] in chosen
    }
    return _distinct([mentions[k][1] for k in sorted(beside)])


def _distinct(shapes: Sequence[list[str]]) -> list[list[str]]:
    out: list[list[str]] = []
    for dims in shapes:
        if dims not in out:
            out.append(dims)
    return out


def _span_length(prose: str, at: int) -> int:
    m = _SHAPE_FORMS.match(prose, at)
    return len(m.group(0)) if m else 1


def _shapes_in_blocks(text: str) -> tuple[str, list[tuple[int, list[str], str | None]]]:
    """Shapes in short code blocks that hold nothing else ('```\nW_q: [h, d, q]\n```'), offsets into
    the returned text (``text`` with code blocks other than those blanked)."""
    keep: list[tuple[int, int]] = []
    for m in _FENCE.finditer(text):
        body = m.group(3)
        lines = [x for x in body.splitlines() if x.strip()]
        if lines and len(lines) <= 4 and all(_SHAPE_LINE.fullmatch(x.strip()) for x in lines):
            keep.append((m.start(3), m.end(3)))
    chars = list(_blank_fences(text))
    for lo, hi in keep:
        chars[lo:hi] = text[lo:hi]
    shown = "".join(chars)
    return shown, _shape_mentions(shown) if keep else []


_SHAPE_LINE = re.compile(
    r"(?:[#/\s]*)?(?:[A-Za-z_][\w.]*\s*(?:[:=]|\.shape\s*[=:]*)\s*)?[\[(][\w\s,*/+-]+[\])][\s,;.]*(?:#.*)?"
)


def _chosen_shapes(
    prose: str, mentions: list[tuple[int, list[str], str | None]], ours: set[str]
) -> list[tuple[int, list[str], str | None]]:
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
    bound = [(s, d, n) for s, d, n in mentions if n and n.lower().replace("_", "") in ours]
    chosen = bound + [m for m in boxed + answer_line if m not in bound and (m[2] is None or m in bound)]
    if not chosen:
        free = [m for m in mentions if m[2] is None]
        # '`[d, k]` for MQA (for MHA it would be `[h, d, k]`)': an aside about another model is no answer
        stated = [m for m in free if not _ASIDE.search(_clause_before(prose, m[0]))]
        chosen = (stated or free)[-1:]
    return sorted(chosen)


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
    about other models or hypotheticals ("in MHA, W_k is [h, d, k]") and statements it takes back
    ('`W_k` is `[h, d, k]`. Wait — let me redo that: `W_k` is `[d, k]`')."""
    prose = _blank_fences(_reading_order(reply))
    ours = {n.lower().replace("_", "") for n in (blank, *names) if n and len(n) > 1}
    named = [m for m in _shape_mentions(prose) if m[2] and m[2].lower().replace("_", "") in ours]
    cut = _retracted_before(prose, [m[0] for m in named])
    out: list[list[str]] = []
    for start, dims, _ in named:
        if start < cut:
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
