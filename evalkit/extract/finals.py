"""The final answer a section *states*, not a line of its derivation.

Candidates are grouped by priority and the best group wins (Math-Verify's
idea, with the homework's habits)::

    1. stated finals   the last \\boxed{...} (and the boxes of the same equation),
                       the last 'Answer:' / 'Final answer:' / 'The answer is' statement,
                       and the reply's summary restatement of the part
    2. named equation  an equation whose left side is the quantity the part asks
                       for (``s = ...`` when the prompt asks "what should $s$ be")
    3. conclusion      inline math after the last display, in a sentence that
                       concludes ("So", "Therefore", "which gives")
    4. display math, then inline math, then math-looking code spans, then
       math in plain text (``s = sqrt(d)``), then a last line that is not prose

Within a group the last candidate is taken, together with the candidates it
is offered beside ("either $d$ or $\\sqrt{d}$", "\\boxed{A} or equivalently
\\boxed{B}"): every one is graded, so a hedge between two different answers
cannot pass. With ``anchor`` (a regular expression), only the text after its
last match is read and the *first* candidate there is taken.

Example::

    found = final_answers("Thus $$s^2 = d$$ and so $s = \\sqrt{d}$.", asks=["s"])
    [(f.text, f.where) for f in found]      # [('s = \\sqrt{d}', 'named equation')]
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from evalkit.extract.spans import (
    Span,
    boxes,
    canonical,
    code_spans,
    concluded,
    equation_sides,
    fence_ranges,
    last_segment,
    mask,
    math_blocks,
    plain_math,
)
from evalkit.extract.words import ANSWER_WORDS, anchor_in_all_languages

__all__ = [
    "HEADING_MARKER",
    "SUMMARY_MARKER",
    "FoundAnswer",
    "asked_quantities",
    "final_answer",
    "final_answers",
]

_MAX_SCAN = 200_000
SUMMARY_MARKER = "Final answer (restated in the reply's summary):"
HEADING_MARKER = "Stated on the part's heading line:"  # before an answer written beside its label ('a) dμ²')


@dataclass(frozen=True)
class FoundAnswer:
    """An answer found in a section: its text, what kind of place it came from, and where.

    ``where`` is one of ``boxed``, ``answer line``, ``summary``, ``named equation``,
    ``display math``, ``inline math``, ``inline code``, ``plain math`` or ``line``;
    ``line`` is 1-based within the searched text; ``start``/``end`` are offsets into it.
    """

    text: str
    where: str
    line: int
    start: int
    end: int

    def describe(self) -> str:
        return f"{self.where} on line {self.line}"


# -- what the part asks for -----------------------------------------------------------------------

_ASKING = re.compile(
    r"\b(?:what\s+(?:should|would|will|is|are|must|does)|find|compute|calculate|derive|define|determine|identify|"
    r"give|express|evaluate|state|write\s+down|obtain|show\s+that)\b[^$.?]{0,60}?(?:\$([^$]+)\$|\\\((.+?)\\\))",
    re.IGNORECASE,
)


def asked_quantities(prompt: str) -> tuple[str, ...]:
    """The quantities a part's prompt asks for, as canonical names (``What should $s$ be`` → ``s``).

    Only math right after an asking word counts ("Define $\\mathbb{E}[q^\\top k]$");
    equations in the prompt (``$\\mu = 0$``) are givens, not quantities.
    """
    out = []
    for m in _ASKING.finditer(prompt or ""):
        content = m.group(1) or m.group(2) or ""
        if "=" in content or len(content) > 80:
            continue
        key = canonical(content)
        if key and key not in out:
            out.append(key)
    return tuple(out)


_RELATION = re.compile(r"\\(?:neq|ne|geq|ge|leq|le|gt|lt)(?![a-zA-Z])|[<>≤≥≠]|!=")


def expected_names(*answers: str) -> tuple[str, ...]:
    """The quantities expected answers are written about: the left side of ``\\text{sim}(q, k) > 0``
    or ``s = \\sqrt{d}`` (``sim(q,k)``, ``s``), so a reply's statement about that quantity is preferred.
    A numeric left side (``0 < \\eta < 2/L``) names nothing."""
    out: list[str] = []
    for answer in answers:
        sides = equation_sides(answer)
        if len(sides) < 2:
            sides = _RELATION.split(answer, maxsplit=1)
        if len(sides) < 2 or not re.search(r"[A-Za-z]", sides[0].replace("\\", "")):
            continue
        key = canonical(sides[0])
        if key and not re.fullmatch(r"[\d.+\-*/()^]*", key) and key not in out:
            out.append(key)
    return tuple(out)


def _names_quantity(content: str, asks: Sequence[str]) -> bool:
    """Whether ``content`` is an equation (or relation) whose left side is one of ``asks``."""
    step = last_segment(_unwrap(content))
    sides = equation_sides(step)
    if len(sides) < 2:
        sides = _RELATION.split(step, maxsplit=1)
    if len(sides) < 2 or not sides[-1].strip():
        return False
    left = canonical(sides[0])
    for ask in asks:
        if left == ask:
            return True
        if (
            "(*)" in ask or "(cdot)" in ask or "(" not in ask
        ):  # \phi(\cdot) or a bare function name: any argument
            head = ask.split("(")[0]
            if left.startswith(head + "(") and left.endswith(")"):
                return True
    return False


def _unwrap(content: str) -> str:
    inner = boxes(content)
    if len(inner) == 1 and inner[0].start == 0 and inner[0].end >= len(content.rstrip()):
        return inner[0].content
    return content


# -- stated answers ----------------------------------------------------------------------------------

_MARKER = re.compile(
    r"^[ \t>#*_\-•]*(?:(?:\d+|[IVX]{1,4}|[ivx]{1,4})\.(?:\*\*|__)?\s*)?(?:[✅✔→➡]\s*)?(?:\*\*|__)?[ \t]*"
    rf"(?P<word>{ANSWER_WORDS}|total|overall)"
    r"(?:\s+(?:to|for)(?:\s+part)?)?(?:\s*\([^)\n]{0,30}\)){0,3}\s*(?:\*\*|__)?\s*[:：]\s*(?:\*\*|__)?"
    r"|(?:^|(?<=[.!]\s))(?:so\s+|thus\s+|hence\s+)?the\s+(?:final\s+|correct\s+)?answer\s+(?:is|would be|should be)\s*:?"
    # after a sentence on the same line: '... each. Total: **O(d² + b·d + b·n·k)**.'
    r"|(?<=[.!?] )(?:\*\*|__)?(?:final\s+answer|answer|total|overall|in\s+total)\s*(?:\*\*|__)?\s*[:：]\s*(?:\*\*|__)?",
    re.IGNORECASE | re.MULTILINE,
)
_CONCLUDING = re.compile(
    r"(?:^|[.!:]\s+|\n|\$\$\s*|\\\]\s*)[*_\s]*(?:so|thus|therefore|hence|this gives|which gives|giving|we get|we obtain|"
    r"in total|overall|altogether|that is|i\.e\.|finally|the result is|the answer is|it equals)\b[^.\n]*$"
    r"|\b(?:gives|yields)\s+(?:us\s+)?$",  # '... Summing d coordinates gives dμ².'
    re.IGNORECASE,
)
_ALTERNATIVE = re.compile(
    r"^[\s,;*_]*(?:either\s+)?(?:or|or\s+(?:possibly|perhaps|maybe|alternatively|equivalently|else)|"
    r"alternatively|/|and/or|or,\s*equivalently,?)[\s,;*_:]*$",
    re.IGNORECASE,
)


# Markdown emphasis and check marks around plain-text math ('✅ **s = √d**')
_EMPHASIS = re.compile(
    r"(?<![\w*\\)\]])(?:\*{1,3}|_{2,3})(?=[^\s*_])|(?<=[^\s*_\\])(?:\*{1,3}|_{2,3})(?![\w*])|[✅✔☑✓✗❌➡️]"
)


_BOLD_LINE = re.compile(r"^[ \t>*\-•✅✔→]*\*\*[^*\n]{1,200}\*\*[^\n]*$", re.MULTILINE)
_NOT_STATED = re.compile(
    r"\b(?:mistakes?|wrong|naive|incorrect|not|never|would|might|could|errors?|tempting|instead|guess|suppose|if)\b|n't",
    re.IGNORECASE,
)
# a whole line in bold that ends by stating its math: '**The output of the layer is $v_2 = [1, 4, 3]^\top$.**'
_BOLD_SENTENCE = re.compile(
    r"^[ \t>\-•✅✔→]*\*\*[^*\n]{0,200}?\b(?:is|are|equals|becomes|gives|=)\s*"
    r"(?P<math>\$[^$\n]+\$|\\\([^\n]+?\\\)|`[^`\n]+`)\s*[.!]?\s*\*\*[ \t]*$",
    re.MULTILINE,
)


def _line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def _is_prose(line: str) -> bool:
    """A line of words (three or more words with vowels, no LaTeX commands) rather than an expression."""
    if "\\" in line:
        return False
    words = [w for w in re.findall(r"[A-Za-z]{3,}", line) if re.search(r"[aeiouAEIOU]", w)]
    return len(words) >= 3


_WORD_VALUES = {
    "nan",
    "inf",
    "infinity",
    "undefined",
    "none",
    "dne",
    "does not exist",
    "true",
    "false",
    "yes",
    "no",
}


def _all_math(line: str) -> bool:
    """Whether every word of a line looks like math (``O(N^2 D)``, ``d_model``), not 'See part (c).'"""
    spans = plain_math(line)
    covered = sum(len(s.content) for s in spans)
    return bool(spans) and covered >= 0.8 * len(line.strip(" .,;:"))


def _code_mathlike(content: str) -> bool:
    """A code span that holds an expression (``d * mu**2``, ``O(N^2 D)``), not a bare identifier."""
    body = content.strip()
    if re.fullmatch(r"[A-Za-z_][\w.]*", body):
        return False
    return bool(re.search(r"[=+*/^()√²·]|\d", body))


_RETRACT = re.compile(
    r"\b(?:no,?\s+wait|wait,?\s+no|actually,?\s+(?:no|wait)|scratch that|i mean|sorry,?\s+(?:no|i mean)|correction)\b",
    re.IGNORECASE,
)


def _in_question(prose: str, span: Span) -> bool:
    """Whether ``span`` sits in a sentence that ends with a question mark (``prose``: math masked)."""
    end = re.search(r"[.!?\n]", prose[span.end : span.end + 300])
    return end is not None and end.group(0) == "?"


_CONDITIONAL = re.compile(
    r"(?:^|\b(?:and|but|even|so|then)\s+)(?<!only )(?:if|suppose|supposing|assuming|had|were)\b[^,;:]{0,40}$"
    r"|(?:^|\b(?:and|but)\s+)with\s*$",
    re.IGNORECASE,
)


def _in_condition(prose: str, span: Span) -> bool:
    """Whether ``span`` is the hypothesis of a sentence that goes on ('If $s = d$, the variance is $1/d$',
    'With $s = d$ the variance would be ...'): a case considered, not an answer given (``prose``: math
    masked). 'With' counts only in a sentence that says what *would* happen."""
    start = max((prose.rfind(c, 0, span.start) for c in ".!?\n;:,"), default=-1) + 1
    clause = prose[start : span.start].strip()
    m = _CONDITIONAL.search(clause)
    if m is None or len(clause.split()) > 6:
        return False
    rest = prose[span.end : span.end + 300]
    stop = re.search(r"[.!?\n]", rest)
    after = rest[: stop.start()] if stop else rest
    if not re.search(r"\w", after):
        return False  # the sentence ends with it: 'This holds if $s = \sqrt{d}$.' states a condition
    return not clause.lower().rstrip().endswith("with") or re.search(r"\bwould\b", after) is not None


_NEGATED = re.compile(
    r"(?:\bnot|n't|\bnever|\brather\s+than|\binstead\s+of|\bas\s+opposed\s+to)[ \t]*(?:\*\*|__|\*|_)?[ \t]*"
    r"(?:(?:equal|equivalent|proportional)\s+to[ \t]+|just[ \t]+|simply[ \t]+)?$",
    re.IGNORECASE,
)


def _negated(prose: str, span: Span) -> bool:
    """Whether ``span`` is a value the sentence rejects: right after 'not', 'rather than', 'instead of'
    ('The scale is $s = \\sqrt{d}$, not $s = d$.'; ``prose``: math masked)."""
    return _NEGATED.search(prose[max(0, span.start - 60) : span.start]) is not None


_TRIED_AFTER = re.compile(
    r"\b(?:you|we|one)\s+(?:would\s+|'d\s+)?(?:get|obtain|have|end\s+up)\b|\b(?:gives|yields|becomes)\b",
    re.IGNORECASE,
)


def _tried(prose: str, span: Span) -> bool:
    """Whether ``span`` is a value tried in a 'With $s = d$ you get …' sentence (``prose``: math masked)."""
    start = max((prose.rfind(c, 0, span.start) for c in ".!?\n;:"), default=-1) + 1
    if not re.fullmatch(
        r"(?:(?:and|but|so|now)\s+)?with", prose[start : span.start].strip(" *_,"), re.IGNORECASE
    ):
        return False
    rest = prose[span.end : span.end + 300]
    stop = re.search(r"[.!?\n]", rest)
    return _TRIED_AFTER.search(rest[: stop.start()] if stop else rest) is not None


def _named_side(content: str) -> str | None:
    """The name an equation gives a value (``s`` of ``s = \\sqrt{d}``), or None."""
    m = re.match(r"\s*([A-Za-z](?:_\{?\w+\}?)?)\s*=(?!=)", content)
    return m.group(1) if m else None


# an aside that illustrates: "(e.g. ...)", "(for a 3×3 kernel: ...)", "(for a $3 \times 3$ kernel)" with the
# math masked to spaces; not "(for a total of ...)"
_EXAMPLE_ASIDE = re.compile(
    r"(?:e\.\s?g\.|eg\b|for\s+(?:example|instance)\b|for\s+an?\s+(?:\d|\s{2,}|single|specific|concrete|typical)"
    r"|(?:for|with|when|at)\s+[A-Za-z]\w*\s*=\s*\d"  # '(for d = 64, s = 8)'
    r"|(?:for|with|when|at)\s{3,}(?=[,:;]|\S)"  # '(for $d = 64$: ...)', the math masked
    r"|say\b|such\s+as\b)",
    re.IGNORECASE,
)
_EXAMPLE_SENTENCE = re.compile(
    r"(?:for\s+(?:example|instance)|e\.\s?g\.|as\s+an\s+example|example|numerically|concretely|to\s+illustrate)\b",
    re.IGNORECASE,
)


def _in_example(prose: str, span: Span) -> bool:
    """Whether ``span`` illustrates rather than answers: inside an aside that opens with 'e.g.', 'for
    example' or 'for a' ('$(k^2 C + 1) C'$ (for a 3×3 kernel: $9 C C' + C'$)'), or in a sentence that
    opens with 'For example', 'Numerically' (``prose``: math masked)."""
    line_start = prose.rfind("\n", 0, span.start) + 1
    depth = 0
    for k in range(span.start - 1, max(line_start, span.start - 300) - 1, -1):
        if prose[k] == ")":
            depth += 1
        elif prose[k] == "(":
            if depth == 0:
                if _EXAMPLE_ASIDE.match(prose[k + 1 : span.start].lstrip()):
                    return True
                break
            depth -= 1
    start = max((prose.rfind(c, 0, span.start) for c in ".!?\n"), default=-1) + 1
    return _EXAMPLE_SENTENCE.match(prose[start : span.start].lstrip(" *_-")) is not None


_TICKS = "✅✔✓☑"
_CROSSES = "❌✗✘❎🚫"
_MARKS = re.compile(
    rf"[{_TICKS}{_CROSSES}]|:(?:x|white_check_mark|heavy_check_mark|negative_squared_cross_mark):"
)


def _marked(region: str, every: Sequence[Span]) -> dict[tuple[int, int], tuple[str, bool]]:
    r"""The ✅/❌ mark that owns each candidate of a line with marks, and whether the mark *leads* it
    ('- ✅ $d\mu^2$', the first candidate after it): the mark before a candidate when the line's
    marks come first ('✅ $d$ ❌ $d^2$'), else the mark after it ('$d$ ✅, $d^2$ ❌')."""
    out: dict[tuple[int, int], tuple[str, bool]] = {}
    lines: dict[int, list[Span]] = {}
    for span in every:
        lines.setdefault(region.rfind("\n", 0, span.start) + 1, []).append(span)
    for start, spans in lines.items():
        end = region.find("\n", start)
        end = len(region) if end < 0 else end
        marks = [(m.start(), m.group(0)) for m in _MARKS.finditer(region, start, end)]
        if not marks or region[start:end].lstrip().startswith("|"):
            continue  # a table's ✗ column judges a row ('| 4(f) | $O(bnd)$ | $O(bd^2 + bnd)$ | ✗ |')
        leading = marks[0][0] < spans[0].start
        for k, span in enumerate(spans):
            if leading:
                owner = [(at, mark) for at, mark in marks if at < span.start][-1:]
                first = bool(owner) and (k == 0 or spans[k - 1].start < owner[0][0])
            else:  # the mark right after it, nothing but punctuation between ('$d^2$ ❌')
                owner = [
                    (at, mark)
                    for at, mark in marks
                    if at >= span.end and not region[span.end : at].strip(" \t,;:.)*_")
                ][:1]
                first = False
            if owner:
                out[(span.start, span.end)] = (owner[0][1], first)
    return out


def _is_cross(mark: str) -> bool:
    return mark in _CROSSES or mark in (":x:", ":negative_squared_cross_mark:")


class _Reader:
    """The candidates of one region of text, found once and shared by the priority groups."""

    def __init__(self, region: str, prefer: str, asks: Sequence[str] = ()) -> None:
        self.region = region
        self.prefer = prefer
        self.asks = tuple(asks)
        self.hidden = mask(region, fence_ranges(region))
        self.boxes = [b for b in boxes(self.hidden)]
        self.display, self.inline = math_blocks(region)
        self.code = [c for c in code_spans(region)]
        self._join_dangling()
        delimited = [*self.display, *self.inline, *self.code]
        bare = _EMPHASIS.sub(lambda m: " " * len(m.group(0)), mask(self.hidden, delimited))
        self.plain = [p for p in plain_math(bare) if not _is_prose(p.content)]
        # math in a question ('Is it $s = \sqrt{d}$? I am not sure.') is asked, not answered; the
        # hypothesis of an 'if' ('If $s = d$, the variance would be $1/d$') is considered, not answered;
        # '…, not $s = d$', 'It is **not** $\\sqrt{d}$', 'rather than $O(N)$': a value rejected
        self._keep(
            lambda s: not _in_question(bare, s) and not _in_condition(bare, s) and not _negated(bare, s)
        )
        # 'With $s = d$ you get exactly the $1/d$ you computed': a value tried, not given, where the section
        # states that quantity elsewhere
        tried = [s for s in self.candidates() if _tried(bare, s)]
        if tried:
            stated = {_named_side(s.content) for s in self.candidates() if s not in tried} - {None}
            self._keep(lambda s: s not in tried or _named_side(s.content) not in stated)
        # math that illustrates ('for a 3×3 kernel: $9C + C$', 'For example, with d = 64: $8$') is not
        # the answer, unless the region holds nothing else
        if any(not _in_example(bare, s) for s in self.candidates()):
            self._keep(lambda s: not _in_example(bare, s))
        # a candidate marked ❌ ('- ✅ $d\mu^2$' / '- ❌ $\mu^2$') is rejected, never the answer; one a ✅
        # leads is the reply's pick
        every = self.candidates()
        marked = _marked(region, every)
        self._keep(lambda s: (s.start, s.end) not in marked or not _is_cross(marked[(s.start, s.end)][0]))
        self.ticked = [
            s for s in every if (mark := marked.get((s.start, s.end))) and not _is_cross(mark[0]) and mark[1]
        ]

    def candidates(self) -> list[Span]:
        """Every math, code and plain-text candidate, in the order of the text."""
        return sorted([*self.display, *self.inline, *self.code, *self.plain], key=lambda s: s.start)

    def _keep(self, wanted: Callable[[Span], bool]) -> None:
        """Keep only the candidates ``wanted`` accepts, in each kind."""
        self.display, self.inline, self.code, self.plain = (
            [s for s in spans if wanted(s)] for spans in (self.display, self.inline, self.code, self.plain)
        )

    def _join_dangling(self) -> None:
        """Join inline math that ends in '=' with the code span right after it (``$x =$ `d` ``)."""
        joined = []
        for k, span in enumerate(self.inline):
            if not re.search(r"(?:=|\\approx|\\sim)\s*$", span.content):
                continue
            after = next(
                (c for c in self.code if c.start >= span.end and not self.region[span.end : c.start].strip()),
                None,
            )
            if after is not None:
                self.inline[k] = Span(span.start, after.end, f"{span.content} {after.content}", span.kind)
                joined.append(after)
        self.code = [c for c in self.code if c not in joined]

    def math(self) -> list[Span]:
        return sorted([*self.display, *self.inline], key=lambda s: s.start)

    def statement_spans(self, start: int, end: int) -> list[Span]:
        """The answer inside an 'Answer: ...' statement at ``region[start:end]``."""
        inside = [s for s in self.math() if start <= s.start < end]
        inside_boxes = [b for b in self.boxes if start <= b.start < end]
        if inside_boxes:
            return inside_boxes
        if inside:
            return inside
        code = [c for c in self.code if start <= c.start < end]
        if code and (self.prefer == "code" or _code_mathlike(code[0].content)):
            return code[:1]
        plain = [p for p in self.plain if start <= p.start < end]
        if plain:
            return plain
        rest = self.region[start:end].strip(" *_`.\t")
        if rest and not _is_prose(rest) and len(rest) <= 200:
            offset = self.region.index(rest, start)
            return [Span(offset, offset + len(rest), rest, "line")]
        return []

    def statements(self) -> list[tuple[str, list[Span]]]:
        """Each 'Answer:' statement's answer: (where, spans), in order."""
        out = []
        for m in _MARKER.finditer(self.hidden):
            line_end = self.region.find("\n", m.end())
            line_end = len(self.region) if line_end < 0 else line_end
            start, end = m.end(), line_end
            if not self.region[start:end].strip(" *_:"):  # the answer is on the next line(s)
                nxt = re.search(r"\S[^\n]*", self.region[end:])
                if nxt:
                    start, end = end + nxt.start(), end + nxt.end()
                    block = next((d for d in self.display if d.start <= start < d.end), None)
                    if block:
                        end = max(end, block.end)
            spans = self.statement_spans(start, end)
            if spans and canonical(spans[0].content) in self.asks:
                continue  # '(a) E[q^T k]' names the quantity: a title, not an answer
            if spans:
                out.append((m.start(), "answer line", self.first_or_named(spans)))
        out += self.bold_statements()
        return [(where, spans) for _, where, spans in sorted(out, key=lambda item: item[0])]

    def bold_statements(self) -> list[tuple[int, str, list[Span]]]:
        """Lines that open with math in bold: '**O(b·d² + b·n·d)**', '✅ **s = √d**', '**Memory access: O(d²)**',
        with the bold answers an 'or equivalently' joins to it."""
        out = []
        for m in _BOLD_LINE.finditer(self.hidden):
            spans: list[Span] = []
            for bold in re.finditer(r"\*\*([^*\n]{1,200})\*\*", m.group(0)):
                start = m.start() + bold.start(1)
                body = bold.group(1)
                if body.rstrip().endswith((":", "：")):
                    break  # '**Answer (b)(i):**' labels the answer after it
                if re.fullmatch(r"\s*\(?(?:[IVX]{1,4}|[ivx]{1,4}|\d{1,2}|[A-Za-z])[.)]\s*", body):
                    continue  # '**IV.** Total: ...': a step's number, not a bold answer
                label = re.match(r"^\s*[A-Za-z][A-Za-z \-]{0,30}:\s*", body)
                if label:
                    start, body = start + label.end(), body[label.end() :]
                if spans and not re.search(r"\bor\b|\bi\.e\.", self.hidden[spans[-1].end : start]):
                    break
                inner = [s for s in self.statement_spans(start, start + len(body)) if s.kind != "line"]
                words = re.findall(r"[A-Za-z]{3,}", re.sub(r"\$[^$]*\$|`[^`]*`|\\\(.*?\\\)", " ", body))
                if not inner or sum(1 for w in words if re.search(r"[aeiou]", w)) >= 2:
                    break  # bold words with some math in them ('**Part (c): Find $s$ ...**'), not a bold answer
                spans += inner[:1]
            if spans:
                out.append((m.start(), "answer line", spans))
        for m in _BOLD_SENTENCE.finditer(self.hidden):
            if any(start == m.start() for start, _, _ in out) or _NOT_STATED.search(m.group(0)):
                continue  # '**A common mistake is $s = d$.**' states no answer
            inner = [s for s in self.statement_spans(m.start("math"), m.end("math")) if s.kind != "line"]
            if inner:
                out.append((m.start(), "answer line", inner[:1]))
        return out

    def first_or_named(self, spans: list[Span]) -> list[Span]:
        """The answer among a statement's math: the one naming the quantity, else the first."""
        if len(spans) == 1 or spans[0].kind == "boxed":
            return spans
        # '$O(d^2 + bd + bnk)$ — no wait, $O(d^2 + bd + bnd)$': what follows the retraction is the answer
        retracted = [
            k for k in range(1, len(spans)) if _RETRACT.search(self.hidden[spans[k - 1].end : spans[k].start])
        ]
        if retracted:
            spans = spans[retracted[-1] :]
            if len(spans) == 1:
                return spans
        named = [s for s in spans if self.asks and _names_quantity(s.content, self.asks)]
        return named[-1:] or spans[:1]


def _box_group(reader: _Reader, chosen: Span) -> list[Span]:
    """The boxes of the same equation or line as ``chosen`` (``\\boxed{A} \\text{ or } \\boxed{B}``)."""
    region = reader.region
    blocks = [b for b in reader.display + reader.inline if b.start <= chosen.start < b.end]
    if blocks:
        lo, hi = blocks[0].start, blocks[0].end
    else:
        lo = region.rfind("\n", 0, chosen.start) + 1
        nl = region.find("\n", chosen.end)
        hi = len(region) if nl < 0 else nl
    group = [b for b in reader.boxes if lo <= b.start and b.end <= hi]
    if (
        blocks and blocks[0].kind == "inline math"
    ):  # '$\\boxed{6}$ and $\\boxed{8}$': boxes side by side on a line
        line_start = region.rfind("\n", 0, chosen.start) + 1
        line_end = region.find("\n", chosen.end)
        line_end = len(region) if line_end < 0 else line_end
        beside = [b for b in reader.boxes if line_start <= b.start and b.end <= line_end]
        joined = all(
            re.fullmatch(r"[\s$,;]*(?:and|or|&|,)?[\s$,;]*", reader.hidden[a.end : b.start])
            for a, b in itertools.pairwise(beside)
        )
        if joined:
            group = beside
    return group


def _with_alternatives(reader: _Reader, items: list[Span], chosen: Span) -> list[Span]:
    """``chosen`` and the candidates it is offered beside: 'either A or B', 'A or equivalently B'."""
    group = [chosen]
    index = items.index(chosen)
    for k in range(index - 1, -1, -1):
        between = reader.hidden[items[k].end : group[0].start]
        if _ALTERNATIVE.match(re.sub(r"\$", "", between)):
            group.insert(0, items[k])
        else:
            break
    for k in range(index + 1, len(items)):
        between = reader.hidden[group[-1].end : items[k].start]
        if _ALTERNATIVE.match(re.sub(r"\$", "", between)):
            group.append(items[k])
        else:
            break
    return group


def _dedupe(spans: list[tuple[str, Span]]) -> list[tuple[str, Span]]:
    out: list[tuple[str, Span]] = []
    for where, span in spans:
        if any(o.start <= span.start < o.end or span.start <= o.start < span.end for _, o in out):
            continue
        out.append((where, span))
    return out


# '... $\sqrt{d}$, but it could be $d$': the sentence offers every answer in it
_MAYBE = re.compile(
    r"\b(?:but|or)\s+(?:it|this|that)?\s*(?:could|might|may)\s+(?:also\s+|well\s+)?be\b", re.IGNORECASE
)
_HEDGE = re.compile(
    r"\beither\b|\b(?:is|are|would be)\s+(?:also\s+|equally\s+)?(?:acceptable|fine|valid|correct|ok(?:ay)?|right)\b"
    r"|\balso\s+(?:acceptable|correct|valid|works|fine)\b|\bboth\s+(?:forms|answers|versions|are)\b"
    r"|\(\s*or\b|\bdepending on\b|" + _MAYBE.pattern,
    re.IGNORECASE,
)


_EITHER_WORKS = re.compile(
    r"\b(?:either|both)\s+(?:one\s+|form\s+|answer\s+|of them\s+|is\s+|are\s+)*(?:is|are|would be)?\s*"
    r"(?:equally\s+|also\s+)?(?:acceptable|fine|valid|correct|ok(?:ay)?|right)\b"
    r"|\b(?:is|would be)\s+(?:also|equally)\s+(?:acceptable|fine|valid|correct|right)\b",
    re.IGNORECASE,
)


def _hedges(reader: _Reader) -> list[Span]:
    """Answers offered side by side in one sentence ("either $A$ or $B$ is acceptable"): each must be right."""
    out: list[Span] = []
    items = sorted([*reader.inline, *reader.display, *reader.plain], key=lambda s: s.start)
    for m in re.finditer(r"[^.!?\n]*(?:[.!?](?!\d)|\n|$)", reader.hidden):
        sentence = m.group(0)
        if not _HEDGE.search(sentence):
            continue
        inside = [s for s in items if m.start() <= s.start < m.end()]
        if _EITHER_WORKS.search(sentence) or _MAYBE.search(
            sentence
        ):  # 'quote $\\sqrt{d}$ here ...; either is acceptable': beside the answer
            out += inside
            continue
        if not re.search(r"\bor\b", sentence):
            continue
        joined = [
            s
            for k, s in enumerate(inside)
            if (k + 1 < len(inside) and re.search(r"\bor\b", reader.hidden[s.end : inside[k + 1].start]))
            or (k > 0 and re.search(r"\bor\b", reader.hidden[inside[k - 1].end : s.start]))
        ]
        if len(joined) >= 2:
            out += joined
    return out


def _stated(reader: _Reader) -> list[tuple[str, Span]]:
    found: list[tuple[str, Span]] = []
    if reader.boxes:
        found += [("boxed", b) for b in _box_group(reader, reader.boxes[-1])]
    statements = reader.statements()
    normal = [s for s in statements if s[0] == "answer line"]
    if normal:
        found += [("answer line", s) for s in normal[-1][1]]
    return _dedupe(found)


_AGREEING = re.compile(
    r"\b(?:you'?re (?:absolutely |completely |totally )?(?:right|correct)|you are (?:absolutely |completely )?"
    r"(?:right|correct)|good catch|great catch|nice catch|i stand corrected|my (?:mistake|apologies|bad)|"
    r"i apologi[sz]e|i was wrong|i made (?:a|an) (?:mistake|error)|let me correct|thanks for (?:catching|"
    r"the correction|pointing|pushing back)|that'?s a (?:good|great|fair|valid) point|(?:a|you make a|you raise a) "
    r"(?:good|great|fair|valid) point|i (?:overstated|misspoke|was too (?:strong|quick|hasty))|let me revise|"
    r"you'?ve caught (?:a|an|my)|on second thought|you'?re onto something)\b",
    re.IGNORECASE,
)


def concedes(reply: str) -> bool:
    """Whether a reply concedes a point to the student ("You're right", "Good catch", "I was wrong")."""
    return bool(_AGREEING.search(reply[:3000]))


def _on_heading_line(reader: _Reader) -> list[tuple[str, Span]]:
    """The answer written beside the part's label (``a) dμ²``), marked by :data:`HEADING_MARKER`."""
    at = reader.region.rfind(HEADING_MARKER)
    if at < 0:
        return []
    start = at + len(HEADING_MARKER)
    end = reader.region.find("\n", start)
    spans = reader.statement_spans(start, len(reader.region) if end < 0 else end)
    if not spans or canonical(spans[0].content) in reader.asks:
        return []
    return [("answer line", s) for s in reader.first_or_named(spans)]


def _named(reader: _Reader, asks: Sequence[str]) -> list[tuple[str, Span]]:
    if not asks:
        return []
    items = sorted([*reader.display, *reader.inline, *reader.plain], key=lambda s: s.start)
    named = [s for s in items if _names_quantity(s.content, asks)]
    if not named:
        return []
    group = _with_alternatives(reader, named, named[-1])
    return [("named equation", _conclusion(s)) for s in group]


def _conclusion(span: Span) -> Span:
    """The last step of ``s^2 = d \\implies s = \\sqrt{d}`` (the span itself when there is no implication)."""
    last = last_segment(span.content)
    if last == span.content.strip():
        return span
    return Span(span.start, span.end, last, span.kind)


def _concluding(reader: _Reader) -> list[tuple[str, Span]]:
    last_display = reader.display[-1].end if reader.display else -1
    # plain-text math concludes only where it ends its sentence ('... gives dμ².', not 'gives [0, 1], so ...')
    ends = [
        s
        for s in reader.plain
        if re.match(r"[*_]*(?:[.!?](?:\s|$)|[ \t]*(?:\n|$))", reader.hidden[s.end : s.end + 4])
    ]
    later = sorted((s for s in [*reader.inline, *ends] if s.start > last_display), key=lambda s: s.start)
    for span in reversed(later):
        sentence = reader.hidden[max(0, span.start - 200) : span.start]
        if _CONCLUDING.search(sentence):
            where = "inline math" if span in reader.inline else "plain math"
            return [(where, s) for s in _with_alternatives(reader, later, span)]
    return []


def _by_kind(reader: _Reader, want: re.Pattern[str] | None = None) -> list[tuple[str, Span]]:
    code = [c for c in reader.code if reader.prefer == "code" or _code_mathlike(c.content)]
    order: list[tuple[str, list[Span]]] = [
        ("display math", reader.display),
        ("inline math", reader.inline),
        ("inline code", code),
        ("plain math", reader.plain),
    ]
    if reader.prefer == "code":
        order = [order[2], order[0], order[1], order[3]]
    for where, items in order:
        items = [s for s in items if s.content.strip()]
        if want is not None and any(_looks_wanted(s.content, want) for s in items):
            items = [s for s in items if _looks_wanted(s.content, want)]
        if items:
            return [(where, s) for s in _with_alternatives(reader, items, items[-1])]
    return []


def _last_line(reader: _Reader) -> list[tuple[str, Span]]:
    lines = [m for m in re.finditer(r"[^\n]*\S[^\n]*", reader.hidden)]
    if not lines:
        return []
    m = lines[-1]
    content = re.sub(r"^(?:[\s>#*_]|[-+]\s)+|[*_\s]+$", "", reader.region[m.start() : m.end()])
    if not content or _is_prose(content):
        return []
    # a bare word answer such as 'odd' or 'not defined', when it is all the section says
    whole_text = len(lines) == 1 and bool(re.fullmatch(r"[A-Za-z\-]+(?:\s+[A-Za-z\-]+)?\.?", content))
    if not _all_math(content) and content.lower().strip(" .") not in _WORD_VALUES and not whole_text:
        return []
    return [("line", Span(m.start(), m.end(), content, "line"))]


_LABEL_AFTER = re.compile(
    r"\s*(?:\*\*|__)?\s*(?:\([^)\n]{0,30}\))?\s*(?:\*\*|__)?\s*(?::|=|\bis\b|\$|\\\(|\})"
)
_NEXT_LABEL = re.compile(r"(?<![\w$\\])(?:\*\*|__)?[A-Za-z][A-Za-z \-]{1,30}(?:\*\*|__)?\s*:(?=\s)")


def _parallel_label(prose: str, m: re.Match[str]) -> bool:
    """Whether ``m`` starts a label of its own after a sentence ('. Total space:', '; Memory:'), naming
    something ('Total space', not 'but overall'), rather than ending a phrase ('... and the output:')."""
    named = _FILLER.sub("", m.group(0)).strip(" *_:-")
    before = prose[: m.start()].rstrip()
    words = len(m.group(0).split())
    return (
        bool(named)
        and words <= 3
        and (not before or before[-1] in ".;|" or (before[-1] == "," and words <= 2))
    )


_FILLER = re.compile(
    r"\b(?:overall|total|in total|altogether|so|thus|hence|therefore|but|and|or|the|final|answer|result)\b",
    re.IGNORECASE,
)
_CUE_NEAR = re.compile(
    r"\b(?:overall|total|in total|altogether|so|thus|hence|therefore)\b|[→⟹]|=>|\\implies"
    r"|(?<=[A-Za-z)$]):[\s*_]*$",  # '... on top of the O(ND) inputs: O(N^2 + ND)'
    re.IGNORECASE,
)


_DEFINITION = re.compile(r"^\s*\\?[A-Za-z]{1,6}(?:_\{?\w+\}?)?\s*(?:=|\\approx|≈|\\sim)")


def _looks_wanted(content: str, want: re.Pattern[str] | None) -> bool:
    """Whether a candidate looks like the answer sought, and is not a definition such as ``M = \\Theta(D)``."""
    if want is None:
        return True
    return bool(want.search(content)) and not _DEFINITION.match(content)


def _bounded(anchor: str) -> str:
    """``anchor`` as whole words: 'time' is not found in '\\times' or 'sometimes'."""
    return rf"(?<![A-Za-z\\])(?:{anchor_in_all_languages(anchor)})(?![A-Za-z])"


def _anchor_at(full: str, anchor: str) -> int | None:
    """Where the answer an anchor introduces begins: after its last match written as a label
    (``Time:``, ``**Total space complexity:**``, ``\\text{Total time: }``), else after its last match."""
    matches = list(re.finditer(_bounded(anchor), full, re.IGNORECASE))
    if not matches:
        return None

    def labelled(m: re.Match[str]) -> bool:
        before = full[full.rfind("\n", 0, m.start()) + 1 : m.start()]
        return bool(_LABEL_AFTER.match(full, m.end())) or not before.strip(" \t>*_#-•")

    return (
        [m for m in matches if labelled(m)][-1:][0].end()
        if any(labelled(m) for m in matches)
        else matches[-1].end()
    )


def _value_before(
    full: str, at: int, anchor: str, prefer: str, asks: Sequence[str]
) -> tuple[str, Span] | None:
    """The answer written just before its label on one line: ``$O(ND^2 M)$ time, $O(ND)$ space``."""
    m = next((m for m in re.finditer(_bounded(anchor), full, re.IGNORECASE) if m.end() == at), None)
    if m is None:
        return None
    line_start = full.rfind("\n", 0, m.start()) + 1
    reader = _Reader(full[line_start : m.start()], prefer, asks)
    items = sorted([*reader.boxes, *reader.display, *reader.inline, *reader.plain], key=lambda s: s.end)
    items = [s for s in items if s.content.strip()]
    if not items or reader.region[items[-1].end :].strip(" $\\)*_`") != "":
        return None
    last = items[-1]
    return last.kind, Span(line_start + last.start, line_start + last.end, last.content, last.kind)


def _anchored(
    reader: _Reader, want: re.Pattern[str] | None, same_line: bool = False
) -> list[tuple[str, Span]]:
    """The answer right after an anchor: in the rest of its line, else the next line or block."""
    region = reader.region
    line_end = region.find("\n")
    line_end = len(region) if line_end < 0 else line_end
    code = [c for c in reader.code if reader.prefer == "code" or _code_mathlike(c.content)]
    items = sorted([*reader.display, *reader.inline, *code, *reader.plain], key=lambda s: s.start)
    items = [s for s in items if s.content.strip()]
    if not items:
        return _last_line(reader)
    prose = mask(region, [*reader.display, *reader.inline, *reader.code])
    ended = re.search(r"[.!?](?:\*\*|__)?\s+(?=(?:\*\*|__)?[A-Z])", prose[: items[0].start])
    if ended and re.search(r"[A-Za-z]{2}", prose[: ended.start()]):
        return []  # 'The time is right. For space, ... O(N^2)': the anchor's sentence states no value
    statement = [s for s in items if s.start < line_end]
    sentence_end = re.search(r"[.!?](?:\*\*|__)?\s+(?=(?:\*\*|__)?[A-Z])", prose[items[0].end : line_end])
    if sentence_end:  # 'The time is $O(N^2 D)$. For space, ...': the anchor's sentence holds its answer
        statement = [s for s in statement if s.start < items[0].end + sentence_end.start()]
    if len(statement) > 1:  # 'Total time: $A$. Total space: $B$': B belongs to the next label
        prose = mask(region, [*reader.display, *reader.inline, *reader.code])
        labels = _NEXT_LABEL.finditer(prose, statement[0].end, line_end)
        # 'but overall:' cues the same answer's conclusion; 'Total space:' names another quantity
        label = next((m for m in labels if _parallel_label(prose, m)), None)
        if label is not None:
            statement = [s for s in statement if s.start < label.start()]
    if reader.ticked and not any(_looks_wanted(s.content, want) for s in statement):
        return [("ticked", reader.ticked[0])]  # 'Space — you're right, the N × N weights…' then '✅ O(N²)'
    if not statement and same_line:
        return []
    if not statement:
        nxt = items[0]
        stop = region.find("\n", nxt.end)
        statement = [s for s in items if s.start < (len(region) if stop < 0 else stop)]
    wanted = [s for s in statement if _looks_wanted(s.content, want)]
    pool = wanted or statement

    def cued_at(span: Span) -> bool:
        line_start = region.rfind("\n", 0, span.start) + 1
        return bool(_CUE_NEAR.search(region[max(line_start, span.start - 14) : span.start]))

    cued = [s for s in pool if cued_at(s)]
    chosen = cued[-1] if cued and len(pool) > 1 else pool[0]
    inner = [b for b in reader.boxes if chosen.start <= b.start < chosen.end]
    if inner:
        return [("boxed", b) for b in inner]
    return [(chosen.kind, s) for s in _with_alternatives(reader, pool, chosen)]


def _inside_math(full: str, at: int) -> Span | None:
    """The math block holding offset ``at``, with its content after ``at`` (an anchor inside ``\\text{}``)."""
    display, inline = math_blocks(full)
    for block in [*display, *inline]:
        if block.start < at < block.end:
            offset = full.find(block.content, block.start)
            rest = block.content[max(0, at - offset) :]
            cut = re.match(r"^[^{}]*\}\s*", rest)
            if cut:
                rest = rest[cut.end() :]
            # the row of an align, up to the next label
            # ... up to the next row or label: '\\text{Space: }', '\\qquad \\text{space }'
            rest = re.split(
                r"\\\\(?!\w)|\\text\s*\{[^{}]*:\s*\}|(?:,\s*)?\\q?quad\s*\\text\s*\{[^{}]*\}", rest
            )[0]
            rest = re.sub(r"^(?:\s|&|\\q?quad|\\[,;])+", "", rest).rstrip(" \t\n,.;&")
            while rest.endswith("}") and rest.count("}") > rest.count("{"):  # the box around 'Space: O(...)'
                rest = rest[:-1].rstrip(" \t\n,;&")
            rest = re.sub(r"(?:\\q?quad|\\[,;!])+\s*$", "", rest).rstrip(" \t\n,;&")
            rest = rest.strip(" :")
            if rest:
                return Span(block.end - len(rest) - 2, block.end, rest, block.kind)
    return None


def _read(
    full: str,
    base: int,
    prefer: str,
    anchor: str | None,
    asks: Sequence[str],
    named_only: bool,
    want: re.Pattern[str] | None,
) -> list[tuple[str, Span, int]]:
    if anchor:
        at = _anchor_at(full, anchor)
        if at is None:
            return []
        held = _inside_math(full, at)
        if held is not None:
            return [(held.kind, held, base)]
        reader = _Reader(full[at:], prefer, asks)
        found = _anchored(reader, want, same_line=True)
        if not found:
            found_before = _value_before(full, at, anchor, prefer, asks)
            if found_before:
                return [(found_before[0], found_before[1], base)]
            found = _anchored(reader, want)
        return [(w, s, base + at) for w, s in found]
    reader = _Reader(full, prefer, asks)
    if named_only:
        found = _named(reader, asks)
    else:
        found = (
            [("ticked", s) for s in reader.ticked[-1:]]
            or _stated(reader)
            or _named(reader, asks)
            or _on_heading_line(reader)
            or _concluding(reader)
            or _by_kind(reader, want)
            or _last_line(reader)
        )
        if found:  # a hedge anywhere in the section is graded beside the answer it hedges
            found = _dedupe(found + [("hedge", s) for s in _hedges(reader)])
    return [(w, s, base) for w, s in found]


def final_answers(
    text: str,
    *,
    prefer: str = "math",
    anchor: str | None = None,
    asks: Sequence[str] = (),
    named_only: bool = False,
    want: str | None = None,
) -> list[FoundAnswer]:
    """The final answer(s) of a section (see the module docstring); ``[]`` when it states none.

    ``asks`` are the canonical names of the quantities the part asks for
    (:func:`asked_quantities`); ``prefer="code"`` puts code spans first (blanks in code);
    ``named_only`` reads only equations naming one of ``asks`` (a text several parts share);
    ``want`` (a regular expression) is what an answer looks like (``O\\(`` for big-O), so where
    several candidates compete, one that matches it is taken. With ``anchor``, the section and
    its summary restatement are each read after their last match.
    """
    full = text[:_MAX_SCAN]
    wanted = re.compile(want) if want else None
    pieces = [(full, 0)]
    out: list[FoundAnswer] = []
    for piece, base in pieces:
        for where, span, offset in _read(piece, base, prefer, anchor, asks, named_only, wanted):
            text_of = (
                _from_code(span.content) if span.kind == "inline code" and prefer != "code" else span.content
            )
            for content in alternatives(strip_label(concluded(text_of))):
                if content and content not in [f.text for f in out]:
                    start = offset + span.start
                    out.append(FoundAnswer(content, where, _line_of(full, start), start, offset + span.end))
    return out


_TEXT_LABEL = re.compile(
    r"^\s*\\(?:text|textbf|mathrm|textit)\s*\{[^{}]*[:=]\s*\}\s*(?:\\quad|\\qquad|&|\\,|\\;)*\s*"
)
_OR = re.compile(
    r"\\(?:q?quad)?\s*\\text\s*\{\s*(?:or|either)(?:\s+equivalently)?\s*\}\s*(?:\\q?quad)?"
    r"|\\q?quad\s+or\s+\\q?quad|\\text\s*\{\s*,?\s*or\s*,?\s*\}"
)


def _from_code(content: str) -> str:
    """Math written as Python in a code span (``d ** 0.5``, ``math.sqrt(d)``), in math notation."""
    content = re.sub(r"\b(?:math|np|numpy|torch)\.(sqrt|exp|log|pi|e)\b", r"\1", content)
    return re.sub(r"\*\*\s*(\([^()]*\)|[\w.]+)", lambda m: "^{" + m.group(1).strip("()") + "}", content)


def strip_label(content: str) -> str:
    """An answer without a leading ``\\text{Total time: }``-style label (display math that names its value)."""
    return _TEXT_LABEL.sub("", content, count=1).strip()


_STATES_A_RELATION = re.compile(r"=|<|>|\\(?:le|ge|leq|geq|neq|ne|lt|gt|in)(?![a-zA-Z])|[≤≥≠∈]")


def alternatives(content: str) -> list[str]:
    """The answers one math block offers joined by 'or' (``A \\quad \\text{or} \\quad B``): each is graded.

    Relations or equations joined by 'or' (``x < 1 \\text{ or } x > 2``, ``x = 1 \\text{ or } x = 2``) are one
    answer, a union or a set of solutions, which the math checks read as such.
    """
    if not _OR.search(content):
        return [content.strip()]
    pieces = [piece.strip(" ,;") for piece in _OR.split(content) if piece.strip(" ,;")]
    equivalently = re.search(r"equivalently|i\.e\.", content)
    if not equivalently and any(_STATES_A_RELATION.search(p) for p in pieces):
        return [content.strip()]
    return pieces


def final_answer(
    text: str, *, prefer: str = "math", anchor: str | None = None, asks: Sequence[str] = ()
) -> FoundAnswer | None:
    """The last of :func:`final_answers`, or None when nothing was found."""
    found = final_answers(text, prefer=prefer, anchor=anchor, asks=asks)
    return found[-1] if found else None
