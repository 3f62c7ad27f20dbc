"""Cutting a reply into the sections that answer each part, the way a TA reads it.

A *part heading* is a line that starts (after Markdown such as ``###``, ``**``,
``>`` or a bullet) with a label in one of the spellings models use::

    Part (a)   (a)   a)   a.   **(a)**   ### (a) Title   Q4(a)   4(a)   4A   Part B   [a]   a:
    #### A — title   #### C, D, E   (c)–(e)   (b)(ii)   b.ii   b(ii)   (ii) under a (b) heading
    1. / **1.** when the parts are numbered

and several labels on one line (``a) dμ²  b) d  c) √d``) are read as one
heading each. Headings are grouped into *families* by how they are written;
a family whose labels run past the problem's parts (``(a)`` ... ``(h)`` for a
question with parts (a) and (b): the blanks of a code skeleton) is a list
inside a part, never a set of part headings. When a label has several
headings, the strongest wins (``### Part (b)`` over ``Blank (b):``), then the
earliest. A heading's label is cut from the section's text (the checks read
what follows it); when the answer sits on the heading's own line (``a) dμ²``,
``**(a)** $d\\mu^2$``), that line is marked as the part's answer line.

A closing *summary* (``## Summary``, ``**Final answers**``, a table whose
first column names the parts, "The final answer is: a. ..., b. ...") restates
answers: its rows are kept per part in :attr:`ReplyLayout.summary`, and it ends
the last part's section. Rows may name the question too (``4(f)``, ``1(a)``);
with ``question=N`` only rows of question N (or of none) count. A section runs
from its heading to the next part heading, the summary, or a closing heading
(``## Key takeaways``, ``**The Intuition**``).

Example::

    layout = read_reply(reply, ["a", "b", "c"])
    layout.sections["b"]      # '### (b) Variance\\n...'
    layout.bodies["b"]        # 'Variance\\n...' (the label cut)
    layout.summary.get("c")   # '$s = \\sqrt{d}$' from a final-answers table
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from evalkit.extract.data import data_entries
from evalkit.extract.spans import fence_ranges, mask
from evalkit.extract.words import (
    CORRECTED_WORDS,
    PART_SUFFIXES,
    PART_WORDS,
    QUESTION_PREFIXES,
    QUESTION_SUFFIXES,
    QUESTION_WORDS,
    ROMAN_NUMERALS,
    SUMMARY_WORDS,
    canonical,
    halfwidth,
)

__all__ = ["ReplyLayout", "headed_questions", "read_reply", "split_parts", "split_questions", "table_rows"]

MAX_SCAN = 200_000

_ROMAN = r"(?:viii|vii|vi|iv|ix|iii|ii|i|v|x)"
_ROMAN_VALUES = list(ROMAN_NUMERALS)
_ATOM = rf"(?:{_ROMAN}|[a-zA-Z]|\d{{1,2}})"
# the label itself, in every spelling; groups: main (a letter, roman or number) and sub (a roman or letter)
_LABEL = (
    rf"\(\s*(?P<m1>{_ATOM})\s*\)(?:\s*\(\s*(?P<s1>{_ATOM})\s*\)|\s*(?:\*\*|__)?\s+(?:{PART_WORDS})\s+(?P<s12>{_ROMAN})(?![\w(]))?"  # (a), (b)(ii), (b) (ii), (b) Part ii
    rf"|\(\s*(?P<m2>[a-zA-Z])\s*[.\-]\s*(?P<s2>{_ROMAN}|\d)\s*\)"  # (b.ii)
    rf"|\[\s*(?P<m3>{_ATOM})\s*\]"  # [a]
    rf"|(?P<m4>[a-zA-Z])\s*[.\-]\s*(?P<s4>{_ROMAN})(?![A-Za-z])\)?"  # b.ii, b-ii
    rf"|(?P<m5>[a-zA-Z])\s*\(\s*(?P<s5>{_ROMAN}|\d)\s*\)"  # b(ii)
    rf"|(?P<m11>[a-zA-Z])\)\s*\(?\s*(?P<s11>{_ROMAN})\s*\)"  # b)(ii), b) ii)
    rf"|(?P<m6>{_ATOM})(?:\)|\.(?=[\s*_:)]|$)|:(?=\s|$|\*))"  # a)  a.  a:  1.  ii)
    rf"|(?P<m10>{_ATOM})(?=\s*(?:\*\*|__)?\s*(?:[—–]|-\s|,\s*{_ATOM}\b|\s(?:and|&)\s+{_ATOM}\b|/{_ATOM}\b|$)|(?:\*\*|__)\s|\s*\((?:{CORRECTED_WORDS})\)|\s+\([^()\n]{{1,40}}\)\s*(?:\*\*|__|:|$))"  # A — ...; C, D; A and B; A (shape of W_q)
)
_KEYWORD = rf"(?P<kw>{PART_WORDS}|{QUESTION_WORDS}|q|blanks?|step|case|answer)"
# bullets models use: '-', '*', '•', and symbols or emoji ('🔹', '👉', '▶', '✅')
_BULLET = r"(?:[-*+•]|[\u2190-\u21ff\u25a0-\u27bf\u2b00-\u2bff\U0001f300-\U0001faff]\ufe0f?)"
_HEAD = re.compile(
    rf"^(?P<prefix>[ \t]*(?:>[ \t]*)*(?P<hashes>#{{1,6}}[ \t]+)?(?:{_BULLET}[ \t]+)*(?P<bold>\*\*|__)?[ \t]*)"
    rf"(?:{_KEYWORD}\.?[ \t]*)?"
    rf"(?P<qnum>\d{{1,2}}(?=[ \t]*[(\[.]?[ \t]*[a-zA-Z(]|[ \t]*[,:—–-][ \t]*(?:{PART_WORDS})\b"
    rf"|[ \t]*(?:{QUESTION_SUFFIXES})[ \t]*[,:—–-]?[ \t]*(?:[(\[]|{PART_WORDS})))?"  # '第4题(a)', '第1問 設問(a)'
    rf"(?(qnum)[ \t]*(?:{QUESTION_SUFFIXES})?)[ \t]*\.?[ \t]*"
    rf"(?:(?<=[\d题題問问])[ \t]*[,:—–-]?[ \t]*(?:{PART_WORDS})(?![A-Za-zÀ-ÿ])\.?[ \t]*)?"  # 'Question 2 Part (a)', 'Q2, part b', '2 — partie a)'
    rf"(?:{_LABEL}|(?<=part )(?P<m7>{_ATOM})\b|(?<=part)(?P<m8>{_ATOM})\b|(?<=\d)(?P<m9>[a-z])(?=[\s:.)*—–-]|$))",
    re.IGNORECASE,
)
_MORE = re.compile(
    rf"\s*(?:(?P<range>[–—-]|to)|,|and|&|/|\+)\s*(?:\*\*)?\s*(?:\(\s*(?P<p>{_ATOM})\s*\)|(?P<b>{_ATOM})(?![A-Za-z(]))",
    re.IGNORECASE,
)
# labels inside a line (an inline list, a final-answer sentence): only the explicit spellings
_INLINE_LABEL = (
    rf"\(\s*(?P<m1>{_ATOM})\s*\)(?:\s*\(\s*(?P<s1>{_ATOM})\s*\))?"
    rf"|(?P<m4>[a-zA-Z])\.(?P<s4>{_ROMAN})(?![A-Za-z])|(?P<m6>{_ATOM})(?:\)|\.(?=\s))"
    r"|(?<=\*\*)(?P<m10>[A-Za-z])(?=\*\*)"  # **B** inside a line
)
_INLINE_ITEM = re.compile(
    rf"(?:(?<=\s)|(?<=^)|(?<=[;,|]))(?:\*\*)?(?:{_INLINE_LABEL})(?=\s|\*\*|$)", re.IGNORECASE
)
_SUMMARY = re.compile(
    r"^[ \t>#*_\-]*(?:\d+\.\s*)?(?:summary(?: of (?:the )?(?:final )?(?:answers|results))?|final answers?|"
    r"final(?=[ \t*_:]*$)|"  # '**Final**' over a list of the answers
    r"answers? summary|in summary|to summari[sz]e|tl;?dr|recap|putting it (?:all )?together|final results?|"
    rf"(?:answers|results) at a glance|quick reference|answer key|all answers|short answers?|{SUMMARY_WORDS})\b[^\n]{{0,60}}$",
    re.IGNORECASE,
)
_SUMMARY_LINE = re.compile(
    r"^[ \t>*_\-]*(?:the\s+)?(?:final\s+answers?|answers?|summary)(?:\s+(?:is|are))?\s*(?:\*\*|__)?\s*:",
    re.IGNORECASE,
)
_CLOSING = re.compile(
    r"^[ \t]*(?:#{1,6}[ \t]+|\*\*|__)[ \t]*(?:the )?(?:key )?(?:intuition|takeaways?|conclusions?|"
    r"why (?:this|it) matters|(?:the )?big picture|next steps|further reading|summary|final answers?)"
    r"[ \t]*[:.!]?[ \t]*(?:\*\*|__)?[ \t]*$",
    re.IGNORECASE,
)
_VALUE_START = re.compile(
    r"^[\s*_:.)\]—–-]*(?:\$|\\\(|\\\[|`|[\[(√‖|∥𝔼μσ\d-]|O\(|[A-Za-z_]\w{0,5}\s*[=∈(^_]|[A-Za-z]\b(?!['’])|\\[a-zA-Z])"
)


@dataclass(frozen=True)
class _Candidate:
    start: int  # where the section begins: the line start, or the item for a label in an inline list
    line_start: int
    line_end: int
    body: int  # where the text after the label begins
    main: str | None  # as written, lower-cased: a letter, roman numeral or number
    sub: str | None
    family: str
    strength: int
    level: int  # Markdown heading level 1-6; 7 bold, 8 plain
    in_list: bool = False
    qnum: int | None = None  # a question number written with the label: 4(f), Q4(a)
    answer_line: bool = False  # the rest of the heading's line is the part's answer
    label: str | None = None  # the part label it names, once mapped


@dataclass(frozen=True)
class ReplyLayout:
    """What a reply holds for each part: its section, and its summary restatement.

    ``sections`` keep their heading line; ``bodies`` are the same text with the
    label cut; ``answer_lines`` hold an answer written on the heading's own line.
    """

    sections: Mapping[str, str]
    summary: Mapping[str, str]
    lists: tuple[str, ...] = ()  # label runs that go past the parts (a code skeleton's blanks)
    starts: Mapping[str, int] = field(default_factory=dict)
    bodies: Mapping[str, str] = field(default_factory=dict)
    answer_lines: Mapping[str, str] = field(default_factory=dict)  # an answer on the part's heading line
    ends: Mapping[str, int] = field(default_factory=dict)  # where each section ends

    @property
    def headed(self) -> bool:
        return bool(self.sections)


# -- lines and tables ----------------------------------------------------------------------------


def _lines(text: str) -> list[tuple[int, int, str]]:
    out, offset = [], 0
    for line in text.splitlines(keepends=True):
        out.append((offset, offset + len(line.rstrip("\r\n")), line.rstrip("\r\n")))
        offset += len(line)
    return out


def _hidden(text: str) -> str:
    """``text`` as the headings are read from: code blocks blanked, full-width punctuation as ASCII
    (``第（a）问：`` as ``第(a)问:``); the same length, so its offsets are ``text``'s."""
    return halfwidth(mask(text, fence_ranges(text)))


_PROTECTED = re.compile(r"\$\$.*?\$\$|\$[^$]*\$|`[^`]*`|\\\||\\\(.*?\\\)")


def _table_cells(line: str) -> list[str]:
    """The cells of a Markdown (``|``) or tab-separated table row; ``[]`` for any other line.

    Pipes inside math (``$\\|\\mu\\|$``), code spans or escaped (``\\|``) do not split cells.
    """
    guarded = _PROTECTED.sub(lambda m: "\0" * len(m.group(0)), line)
    if "|" in guarded and (guarded.strip().startswith("|") or guarded.count("|") >= 2):
        pieces, prev = [], 0
        for i, ch in enumerate(guarded):
            if ch == "|":
                pieces.append(line[prev:i])
                prev = i + 1
        pieces.append(line[prev:])
        if line.strip().startswith("|"):
            pieces = pieces[1:]
        if line.strip().endswith("|") and pieces:
            pieces = pieces[:-1]
        cells = [c.strip() for c in pieces]
    elif "\t" in line:
        cells = [c.strip() for c in line.split("\t")]
    else:
        return []
    return cells if len(cells) >= 2 else []


def table_rows(text: str) -> list[tuple[int, list[str]]]:
    """Rows of the Markdown (``|``) or tab-separated tables in ``text``: (offset, cells)."""
    rows = []
    for start, _, line in _lines(text):
        cells = _table_cells(line)
        if cells and not all(re.fullmatch(r":?-{2,}:?", c) for c in cells if c):
            rows.append((start, cells))
    return rows


# -- heading candidates -----------------------------------------------------------------------------


_UPPER_ROMAN = [r.upper() for r in _ROMAN_VALUES]


def _raw_main(m: re.Match[str]) -> str | None:
    """The main label of a match as written (``II``, not ``ii``)."""
    return next((v for k, v in m.groupdict().items() if v and re.fullmatch(r"m\d+", k)), None)


def _groups(m: re.Match[str]) -> tuple[str | None, str | None, str]:
    """(main, sub, form) of a label match; form names the spelling for grouping into families."""
    forms = (
        (1, "paren"),
        (2, "paren-dot"),
        (3, "bracket"),
        (4, "dot"),
        (5, "call"),
        (11, "suffix-sub"),
        (6, "suffix"),
        (10, "bare"),
    )
    for i, form in forms:
        main = m.groupdict().get(f"m{i}")
        if main:
            sub = m.groupdict().get(f"s{i}") or (m.groupdict().get("s12") if i == 1 else None)
            if i == 6:
                form += ("-n" if main.isdigit() else "-l") + m.group(0).strip()[-1]
            return main.lower(), sub.lower() if sub else None, form
    for i in (7, 8, 9):
        main = m.groupdict().get(f"m{i}")
        if main:
            return main.lower(), None, "word"
    return None, None, "none"


def _expand(first: str, last: str) -> list[str]:
    """The labels of a range ``(c)–(e)``: letters, numbers or roman numerals."""
    if first.isdigit() and last.isdigit():
        return [str(n) for n in range(int(first) + 1, int(last) + 1)][:10]
    if first in _ROMAN_VALUES and last in _ROMAN_VALUES and len(first + last) > 2:
        return _ROMAN_VALUES[_ROMAN_VALUES.index(first) + 1 : _ROMAN_VALUES.index(last) + 1]
    if len(first) == 1 and len(last) == 1 and first < last:
        return [chr(c) for c in range(ord(first) + 1, ord(last) + 1)][:10]
    return []


def _more_labels(line: str, at: int, first: str) -> tuple[list[str], int]:
    """Further labels written after the first in one heading (``C, D, E``, ``(c)–(e)``, ``A and B``)."""
    out: list[str] = []
    prev = first
    while True:
        m = _MORE.match(line, at)
        if not m:
            return out, at
        label = (m.group("p") or m.group("b")).lower()
        out += _expand(prev, label) if m.group("range") else [label]
        prev, at = label, m.end()


def _candidates(text: str) -> list[_Candidate]:
    hidden = _hidden(text)
    out: list[_Candidate] = []
    for start, end, line in _lines(hidden):
        if not line.strip() or _table_cells(line):
            continue
        m = _HEAD.match(line)
        made: list[_Candidate] = []
        if m:
            main, sub, form = _groups(m)
            kw = canonical(m.group("kw") or "")
            if kw == "part" and sub is None and _raw_main(m) in _UPPER_ROMAN:
                main = str(
                    _UPPER_ROMAN.index(_raw_main(m) or "") + 1
                )  # 'Part II.': the second part, numbered
            if main is not None and kw not in ("step", "case", "answer"):
                made = _make(m, line, start, end, main, sub, form, kw)
        if not made:
            made = _mentioning_heading(
                line, start, end, paragraph=start == 0 or hidden[:start].endswith("\n\n")
            )
        out += made
        items = [i for i in _INLINE_ITEM.finditer(line) if _outside_brackets(line, i.start())]
        # several labels on a line that starts with one, each followed by a short answer: 'a) dμ²  b) d'
        if m is not None and len(made) == 1 and _a_list(items) and items[0].start() <= m.end():
            gaps = [items[k + 1].start() - items[k].end() for k in range(len(items) - 1)]
            if max(gaps) <= 80:
                head = out[-1]
                family = f"inline:{head.family.split('|')[0]}"
                out[-1] = replace(head, in_list=True, family=family, line_end=start + items[1].start())
                for k, item in enumerate(items[1:], 1):
                    main, sub, form = _groups(item)
                    if main is None:
                        continue
                    stop = start + items[k + 1].start() if k + 1 < len(items) else end
                    after_item = re.match(r"(?:\*\*|__)?\s*[:.)—–-]?\s*", line[item.end() :])
                    body = start + item.end() + (after_item.end() if after_item else 0)
                    answer = bool(_VALUE_START.match(line[item.end() :]))
                    out.append(
                        _Candidate(
                            start + item.start(), start, stop, body, main, sub, f"inline:{form}", -1, 8,
                            in_list=True, answer_line=answer,
                        )
                    )  # fmt: skip
    return out


_MENTIONING = re.compile(
    rf"^[ \t>]*(?:#{{1,6}}[ \t]+|\*\*)[^\n]*?\b(?:for|of|in|to|answer(?:ing)?)\s+(?:\*\*)?part\s*(?:{_INLINE_LABEL}|\(?(?P<m7>{_ATOM})\)?)(?![\w(])",
    re.IGNORECASE,
)


# a paragraph that opens by naming its part: 'For part (b), if we change ...', 'As for (c): ...'
_OPENER = re.compile(
    r"^[ \t>]*(?:(?:and|now|next|finally|so|then|thus|hence|consequently|similarly|likewise|in turn),?\s+)?"
    r"(?:for|as for|regarding|moving on to|turning to)\s+(?:\*\*)?(?:part\s*)?"
    rf"(?:\(\s*(?P<m1>{_ATOM})\s*\)(?:\s*\(\s*(?P<s1>{_ATOM})\s*\))?|(?P<m6>[a-z])\)|(?<=part )(?P<m7>{_ATOM}))"
    r"(?:\*\*)?\s*[,:]",
    re.IGNORECASE,
)


def _mentioning_heading(line: str, start: int, end: int, paragraph: bool = False) -> list[_Candidate]:
    """A Markdown heading that says which part it is about: '## Step 4: the gradients for part (b)';
    or, opening a ``paragraph``, a phrase that does: 'For part (b), if we change ...'."""
    m = _MENTIONING.match(line)
    body = end  # a heading's text is a title; the section's body follows it
    if not m and paragraph:
        m = _OPENER.match(line)
        body = start + m.end() if m else end  # an opening phrase: the rest of its line is the answer
    if not m:
        return []
    main, sub, _ = _groups(m)
    if main is None:
        return []
    level = len(re.match(r"^[ \t>]*(#*)", line).group(1) or "") or 7  # type: ignore[union-attr]
    return [_Candidate(start, start, end, body, main, sub, f"mention|{level}", -1, level)]


def _a_list(items: list[re.Match[str]]) -> bool:
    """Whether labels on one line are a list (a, b, c ... one after another, one spelling), not a label and
    a reference."""
    if len(items) < 2:
        return False
    keys = []
    for item in items:
        main, sub, form = _groups(item)
        if main is None:
            return False
        keys.append((form, main, sub))
    if len({form for form, _, _ in keys}) != 1:
        return False
    mains = [main for _, main, _ in keys]
    if all(m.isdigit() for m in mains):
        return all(int(b) == int(a) + 1 for a, b in itertools.pairwise(mains))
    if all(m in _ROMAN_VALUES for m in mains) and mains[0] in ("i", "ii"):
        return all(_ROMAN_VALUES.index(b) == _ROMAN_VALUES.index(a) + 1 for a, b in itertools.pairwise(mains))
    return all(len(m) == 1 and m.isalpha() for m in mains) and all(
        ord(b) == ord(a) + 1 for a, b in itertools.pairwise(mains)
    )


def _outside_brackets(line: str, at: int) -> bool:
    """Whether ``line[at]`` is outside brackets: the ``k)`` of ``Var(q^T k)`` is no label."""
    before = line[:at]
    return before.count("(") <= before.count(")") and before.count("[") <= before.count("]")


def _derivation_line(tail: str) -> bool:
    """A label line that is a paragraph of working: a chain of equations, then more sentences
    ('(a) E[qᵢkᵢ] = E[qᵢ]·E[kᵢ] = μ·μ. Summing d coordinates gives dμ².')."""
    sentences = re.split(r"(?<=[.!?])\s+(?=[A-Z])", tail.strip(), maxsplit=1)
    return len(sentences) == 2 and sentences[0].count("=") >= 2


def _make(
    m: re.Match[str], line: str, start: int, end: int, main: str, sub: str | None, form: str, kw: str
) -> list[_Candidate]:
    hashes = m.group("hashes")
    bold_open = bool(m.group("bold")) or line.lstrip(" >").startswith(("**", "__"))
    level = len(hashes.strip()) if hashes else (7 if bold_open else 8)
    dashed = bool(re.match(r"\s*[—–]\s*\S", line[m.end() :]))  # 'D — `torch.einsum(...)`': a label line
    if form == "bare" and level == 8 and not kw and not dashed:
        return []  # 'a - b = c' or 'A and B are ...' in prose: only a heading may name a part this way
    more, after = _more_labels(line, m.end(), main) if sub is None else ([], m.end())
    # '第(a)问', '(b)小问': the word after the label
    suffix = re.match(rf"[ \t]*(?:{PART_SUFFIXES})", line[after:])
    if suffix:
        after += suffix.end()
    rest = line[after:]
    strength = 0
    if kw in ("part", "subpart", "sub-part", "question", "problem", "exercise", "q") or m.group("qnum"):
        strength += 3
    if hashes:
        strength += 2
    elif bold_open:
        strength += 1
    if kw.startswith("blank"):
        strength -= 3
    if re.match(r"^(?:\*\*|__)?\s*(?:=|:=|->|→|⟶|is\b)", rest.strip()):
        strength -= 2  # '(a) = d_model': a value, not a heading
    delimiter = re.match(r"^\s*(?:\*\*|__)?\s*[:.)\]—–-]?\s*(?:\*\*|__)?\s*[:.]?\s*", rest)
    body = start + after + (delimiter.end() if delimiter else 0)
    tail = line[body - start :]
    closed = bold_open and bool(re.match(r"^[^*_]{0,12}(?:\*\*|__)", line[m.end() : m.end() + 16].lstrip()))
    goes_on = bool(
        re.search(r"(?:[:,=]|\b(?:so|then|thus|hence|gives|giving|get|and|where|since|because))\s*$", tail)
        or re.search(
            r"\b(?:therefore|thus|hence|which gives|this gives|we get|setting|so|in total|overall)\b",
            tail,
            re.IGNORECASE,
        )
    ) or _derivation_line(tail)  # the line goes on to a derivation: its first math is a step, not the answer
    answer = (level == 8 or closed) and bool(tail.strip()) and bool(_VALUE_START.match(tail)) and not goes_on
    qnum = int(m.group("qnum")) if m.group("qnum") else None
    family = f"{form}|{kw or '-'}|{'q' if qnum else '-'}|{level}"
    first = _Candidate(
        start, start, end, body, main, sub, family, strength, level, qnum=qnum, answer_line=answer
    )
    return [first, *(replace(first, main=label, family=family + "|+") for label in more)]


# -- mapping labels to parts --------------------------------------------------------------------------


class _Labels:
    """The problem's part labels, split into top-level letters and their subparts."""

    def __init__(self, labels: Sequence[str]) -> None:
        self.labels = list(labels)
        self.top: list[str] = []
        self.subs: dict[str, list[str]] = {}
        for label in labels:
            main, _, sub = label.lower().partition(".")
            if main not in self.top:
                self.top.append(main)
            if sub:
                self.subs.setdefault(main, []).append(sub)
        self.lookup = {label.lower(): label for label in labels}

    def name(self, main: str | None, sub: str | None, parent: str | None = None) -> str | None:
        """The label ``main``/``sub`` stands for, or None; ``parent`` places a bare ``(ii)``."""
        if main is None:
            return None
        if sub is not None:
            return self.lookup.get(f"{main}.{sub}")
        if parent and main in self.subs.get(parent, []) and (main not in self.top or main in _ROMAN_VALUES):
            return self.lookup.get(f"{parent}.{main}")
        return self.lookup.get(main)

    def only_owner(self, main: str | None) -> str | None:
        """The subpart a roman label names when one part alone has it ('iii' → 'b.iii'), else None."""
        if main is None or main not in _ROMAN_VALUES or main in self.top:
            return None
        owners = [parent for parent, subs in self.subs.items() if main in subs]
        return self.lookup.get(f"{owners[0]}.{main}") if len(owners) == 1 else None

    def known(self, main: str) -> bool:
        return main in self.top or any(main in subs for subs in self.subs.values())


def _families(candidates: list[_Candidate]) -> dict[str, list[_Candidate]]:
    families: dict[str, list[_Candidate]] = {}
    for c in candidates:
        families.setdefault(c.family.removesuffix("|+"), []).append(c)
    return families


def _runs_past(members: list[_Candidate], labels: _Labels) -> bool:
    mains = [c.main for c in members if c.sub is None and c.main]
    return len(set(mains)) >= 2 and any(not labels.known(m) and not m.isdigit() for m in mains)


def _map(candidates: list[_Candidate], labels: _Labels, question: int | None) -> list[_Candidate]:
    """Give each candidate the label it names; drop families whose run goes past the parts."""
    if question is not None:  # another question's labels ('Q1(c)' in a summary of Q1 and Q2) run past nothing
        candidates = [c for c in candidates if c.qnum is None or c.qnum == question]
    past = {name for name, members in _families(candidates).items() if _runs_past(members, labels)}
    out: list[_Candidate] = []
    parent: str | None = None
    for c in sorted(candidates, key=lambda c: c.start):
        if c.family.removesuffix("|+") in past:
            continue
        if c.main is not None and c.main.isdigit():
            out.append(c)
            continue
        label = labels.name(c.main, c.sub, parent)
        if (
            label is None
            and parent is None
            and c.sub is None
            and c.family.split("|")[1] in ("part", "subpart")
        ):
            label = labels.only_owner(c.main)  # 'Part iii.' in a reply that continues (b): (b)(iii)
        if (c.sub is None and c.main in labels.subs and not (c.main in _ROMAN_VALUES and parent)) or (
            c.sub is not None and c.main in labels.subs
        ):
            parent = c.main
        if label is not None:
            out.append(replace(c, label=label))
        elif c.main in labels.subs and c.sub is None:
            out.append(replace(c, label=c.main))  # a parent heading such as '### Part (b)'
    return out


def _past_runs(text: str, candidates: list[_Candidate], labels: _Labels) -> list[str]:
    return [
        text[members[0].line_start : max(c.line_end for c in members)]
        for members in _families(candidates).values()
        if _runs_past(members, labels)
    ]


def _numbered(candidates: list[_Candidate], labels: _Labels) -> list[_Candidate]:
    """Numbered headings (``1.`` ... ``n.``) mapped to the parts in order, when the parts are numbered."""
    numbers = [c for c in candidates if c.main is not None and c.main.isdigit() and c.sub is None]
    for members in sorted(_families(numbers).values(), key=lambda ms: -max(c.strength for c in ms)):
        values = [int(c.main or 0) for c in members]
        if values != list(range(1, len(values) + 1)):
            continue  # 1, 2, 3 ... with no gap: 'Q1 ... Q6' of a summary are questions, not parts
        for targets in (labels.labels, labels.top):
            if max(values) == len(targets):
                return [
                    replace(c, label=labels.lookup.get(targets[int(c.main or 1) - 1].lower()))
                    for c in members
                ]
    return []


# -- summaries ---------------------------------------------------------------------------------------

_CELL_LABEL = re.compile(
    rf"^(?:(?:part|blank|question|problem|q)\s*)?(?P<q>\d{{1,2}}(?=\s*[(\[.]?\s*[a-zA-Z(]))?\s*\.?\s*(?:{_LABEL}|(?P<m7>{_ATOM}))"
    r"(?:\s*\([^()]{0,24}\)|\s+[A-Za-z][A-Za-z \-]{0,24})?$",  # 'A (W_q)', '(f) compute'
    re.IGNORECASE,
)


def _label_of_cell(cell: str, labels: _Labels, question: int | None) -> str | None:
    cell = halfwidth(re.sub(r"[*_`$]", "", cell)).strip()
    m = _CELL_LABEL.match(cell)
    if not m:
        return None
    if question is not None and m.group("q") and int(m.group("q")) != question:
        return None
    main, sub, _ = _groups(m)
    return labels.name(main, sub)


def _strip_label(line: str) -> str:
    m = _HEAD.match(line) or _INLINE_ITEM.match(line)
    rest = line[m.end() :] if m else line
    return re.sub(r"^[\s*_:.\-–—=→)]+", "", rest).strip(" *_")


def _quoted(text: str, c: _Candidate) -> bool:
    return text[c.line_start : c.line_start + 8].lstrip(" \t").startswith(">")


def _written_upper(text: str, c: _Candidate) -> bool:
    """Whether the candidate's label is written as a capital letter ('A:', '**B**')."""
    if c.main is None or len(c.main) != 1:
        return False
    m = re.search(
        rf"(?<![A-Za-z]){re.escape(c.main)}(?![A-Za-z])", text[c.start : max(c.body, c.start + 1)], re.I
    )
    return bool(m and m.group(0).isupper())


def _summary_entries(
    text: str, start: int, end: int, labels: _Labels, question: int | None, *, lowercase: bool = False
) -> dict[str, str]:
    """The answers a summary block (``text[start:end]``) restates, per part label.

    With ``lowercase`` (the reply's own headings write this problem's labels in lower case), a
    capital-letter entry ('A: h × d × q') belongs to another question the summary covers."""
    entries: dict[str, str] = {}
    region = text[start:end]
    wrong: set[int] = set()  # columns a header names as wrong answers ('Common wrong answer', 'Pitfall')
    for at, cells in table_rows(region):
        if _RULE_NEXT.match(region, region.find("\n", at) + 1):  # a header row: which columns hold what
            wrong = {k for k, cell in enumerate(cells) if _WRONG_COLUMN.search(cell)}
            continue
        label = _label_of_cell(cells[0], labels, question)
        if label is not None and label not in entries:
            entries[label] = " | ".join(c for k, c in enumerate(cells) if k and c and k not in wrong)
    raw = _candidates(region)
    for c in [*_map(raw, labels, question), *_numbered(raw, labels)]:
        if c.label is None or c.label in entries or c.label not in labels.labels:
            continue
        if lowercase and _written_upper(region, c):
            continue
        entries[c.label] = region[c.body : c.line_end].strip(" *_,;")
    for _, _, line in _lines(region):
        prefix = _QUESTION_PREFIX.match(line)
        if prefix is None:
            continue
        number = int(prefix.group(1))
        if question is not None and number != question:
            continue
        for label, entry in _inline_entries("; " + line[prefix.end() :], labels, None, bare=True).items():
            entries.setdefault(label, entry)
    return {label: entry for label, entry in entries.items() if not _UNSTATED.match(entry)}


_RULE_NEXT = re.compile(r"[ \t]*\|?[ \t]*:?-{2,}:?[ \t]*(?:\|[ \t]*:?-{2,}:?[ \t]*)+\|?[ \t]*$", re.MULTILINE)
_WRONG_COLUMN = re.compile(
    r"\b(?:wrong|incorrect|mistakes?|pitfalls?|misconceptions?|errors?|avoid|rejected|not\s+this)\b|[❌✗✘]",
    re.IGNORECASE,
)
_QUESTION_PREFIX = re.compile(
    rf"^[\s>*_\-•]*(?:q|{QUESTION_WORDS})\s*(\d{{1,2}})\s*(?:\*\*|__)?\s*[:.)—–-]\s*(?:\*\*|__)?",
    re.IGNORECASE,
)
_UNSTATED = re.compile(
    r"^[\s*_]*(?:/[A-H])*\s*(?:as (?:above|before|shown|derived)|see above|same as (?:above|before)|unchanged|—|-|n/?a)?[\s*_.]*$",
    re.IGNORECASE,
)


def _inline_entries(
    text: str, labels: _Labels, question: int | None, *, bare: bool = False
) -> dict[str, str]:
    found = []
    pattern = rf"(?:(?<=\s)|(?<=^)|(?<=[;,]))(?P<q>\d{{1,2}})?\s*(?:{_INLINE_LABEL})"
    if bare:  # '... ; B `[d, k]`' in a summary line: a capital letter after ';' or ':' names a part
        pattern = rf"(?:{pattern}|(?<=[;:,]\s)(?P<cap>[A-H])(?=[\s/]))"
    for m in re.finditer(pattern, text, re.IGNORECASE if not bare else 0):
        main, sub, _ = _groups(m)
        if bare and m.groupdict().get("cap"):
            main, sub = m.group("cap").lower(), None
        if question is not None and m.group("q") and int(m.group("q")) != question:
            continue
        label = labels.name(main, sub)
        before = text[: m.start()]
        if before.count("(") > before.count(")") or before.count("[") > before.count("]"):
            continue  # 'O(N^2 D)' holds 'D)', which is no label
        if label:
            found.append((m.start(), m.end(), label))
    if len(found) < 2:
        return {}
    out: dict[str, str] = {}
    for k, (_, end, label) in enumerate(found):
        stop = found[k + 1][0] if k + 1 < len(found) else len(text)
        out.setdefault(label, text[end:stop].strip(" ,;.*_"))
    return out


def _tables(text: str, labels: _Labels) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """Summary tables (the first column names at least two parts, nothing past them) and tables whose
    first column runs past the parts (a skeleton's blanks), as (start, end) each."""
    out, past = [], []
    block: list[tuple[int, int, str]] = []
    for start, end, line in [*_lines(text), (len(text), len(text), "")]:
        if _table_cells(line):
            block.append((start, end, line))
            continue
        if block:
            firsts = [_table_cells(b[2])[0] for b in block]
            named = [_label_of_cell(f, labels, None) for f in firsts]
            beyond = [
                f
                for f, n in zip(firsts, named, strict=True)
                if n is None and re.fullmatch(r"[*_`\s]*\(?[a-zA-Z]\)?[*_`\s]*", f)
            ]
            # '4(f)', 'Q4 A', '2a' name a question's part; a bare number ('2', a degree) names nothing
            qualified = any(
                re.match(r"[*_`\s]*(?:q\s*)?\d{1,2}\s*[(\[.]?\s*[a-zA-Z]", f, re.IGNORECASE) for f in firsts
            )
            if (len({n for n in named if n}) >= 2 or qualified) and not beyond:
                out.append((block[0][0], block[-1][1]))
            elif beyond and len(firsts) >= 2:
                past.append((block[0][0], block[-1][1]))
            block = []
    return out, past


# -- the layout ----------------------------------------------------------------------------------------


def read_reply(
    reply: str,
    labels: Sequence[str],
    *,
    question: int | None = None,
    numbered: bool = True,
    blanks: frozenset[str] = frozenset(),
    prompts: Mapping[str, str] | None = None,
) -> ReplyLayout:
    """Find each part's section and summary restatement in ``reply`` (see the module docstring).

    ``numbered=False`` reads no numbered list as the parts (a reply to a hint about one part
    numbers its steps, not the parts). ``blanks`` are code blanks written like parts in another case
    (``A``, ``B`` for part (b)'s blanks): headings spelled that way are not part headings.
    ``prompts`` (label → the part's question) find a part whose heading restates its question
    without a label (``**What is A, the shape of `W_q`?**``).
    """
    text = reply[:MAX_SCAN]
    names = _Labels(labels)
    raw = [c for c in _candidates(text) if not _names_a_blank(text, c, blanks)]
    mapped = _map(raw, names, question)
    lettered = [c for c in mapped if c.label is not None and not (c.main or "").isdigit()]
    if numbered and not any(c.label in names.labels for c in lettered):
        lettered = _numbered(raw, names) or lettered
    if prompts:
        named = {c.label for c in lettered}
        lettered += [c for c in _restated_questions(text, prompts) if c.label not in named]
    summary_at = _summary_start(text, lettered, raw)
    tables, past_tables = _tables(text, names)
    chosen: dict[str, _Candidate] = {}
    for c in lettered:
        in_summary = summary_at is not None and summary_at[0] <= c.start < summary_at[1]
        if c.label is None or _inside(c.start, tables) or in_summary:
            continue
        best = chosen.get(c.label)
        # a question restated in a blockquote ('> **Q2(a).** Perform ...') loses to the answer's own heading
        quoted, best_quoted = _quoted(text, c), best is not None and _quoted(text, best)
        if (
            best is None
            or (best_quoted and not quoted)
            or (quoted == best_quoted and c.strength > best.strength)
        ):
            chosen[c.label] = c
    bounds = sorted(
        {c.start for c in chosen.values()}
        | ({summary_at[0]} if summary_at else set())
        | {s for s, _ in tables}
        | _closings(text)
    )
    sections: dict[str, str] = {}
    bodies: dict[str, str] = {}
    answer_lines: dict[str, str] = {}
    ends: dict[str, int] = {}
    for label, c in sorted(chosen.items(), key=lambda kv: kv[1].start):
        end = next((b for b in bounds if b > c.start), len(text))
        if c.in_list:
            end = min(end, c.line_end)
        if label not in names.labels:
            continue
        sections[label] = text[c.start : end].strip()
        ends[label] = end
        bodies[label] = text[c.body : end].strip()
        if c.answer_line:
            answer_lines[label] = text[c.body : min(end, c.line_end)].strip()
    bodies = {label: _picked_option(body) for label, body in bodies.items()}
    summary: dict[str, str] = {}
    if summary_at:
        lowercase = bool(sections) and not any(_written_upper(text, chosen[label]) for label in sections)
        summary.update(
            _summary_entries(text, summary_at[0], summary_at[1], names, question, lowercase=lowercase)
        )
    for start, end in tables:
        for label, entry in _summary_entries(text, start, end, names, question).items():
            summary.setdefault(label, entry)
    _inline_summary(text, names, question, summary)
    _data_summary(text, names, question, summary)
    _mentions(text, names, summary)
    unplaced = [label for label in names.labels if label not in sections and label not in summary]
    if unplaced:  # any table row whose first cell names a part with no heading: '| (a) | d_model |'
        for offset, cells in table_rows(text):
            if _inside(offset, past_tables):
                continue
            row_label = _label_of_cell(cells[0], names, question)
            if row_label in unplaced:
                summary.setdefault(row_label, " | ".join(c for c in cells[1:] if c))
    lists = tuple(_past_runs(text, raw, names)) + tuple(text[a:b] for a, b in past_tables)
    starts = {label: chosen[label].start for label in sections}
    return ReplyLayout(sections, summary, lists, starts, bodies, answer_lines, ends)


# an option a part's section offers: '- **Option A:** $s = d$', '**Option B** — `[d, k]`', 'Choice 2: ...'
_OPTION = re.compile(
    r"^[ \t>]*(?:[-*+•][ \t]+)?(?:\*\*|__)?[ \t]*(?:option|choice|candidate|alternative)[ \t]+"
    r"\(?(?P<o>(?-i:[A-D])|[1-4])\)?[ \t]*(?:\*\*|__)?[ \t]*[:.)—–-][ \t]*(?:\*\*|__)?",
    re.IGNORECASE | re.MULTILINE,
)
# the option the reply picks: 'Go with B', 'Recommendation: A', "I'd pick option B", 'Option B is the right one'
_PICK = re.compile(
    r"(?:\bgo(?:ing)?\s+with|\bi'?d\s+(?:go\s+with|pick|choose|take|recommend)|\bi\s+(?:pick|choose|recommend)"
    r"|\brecommend(?:ation|ed)?|\bmy\s+(?:pick|choice|recommendation|answer)(?:\s+is)?|\bpick)"
    r"\s*[:：]?\s*(?:\*\*|__)?\s*(?:(?:option|choice)\s+\(?(?P<p1>(?-i:[A-D])|[1-4])|\(?(?P<p2>(?-i:[A-D])))\)?(?![\w(=])"
    r"|\b(?:option|choice)\s+\(?(?P<p3>(?-i:[A-D])|[1-4])\)?(?:\*\*|__)?\s+(?:is|it\s+is)\s+(?:the\s+)?"
    r"(?:correct|right|better|one\s+to\s+(?:use|pick|go\s+with))\b",
    re.IGNORECASE,
)
_NOT_PICKED = re.compile(
    r"(?:n't|\bnot|\bnever|\bavoid|\bagainst|\brather\s+than|\binstead\s+of)\W+(?:\w+\W+){0,3}$", re.I
)


def _picked_option(body: str) -> str:
    """A part's section with the options it offers and does not pick left out.

    A section that lists two or more options (``- **Option A:** $s = d$``, ``- **Option B:** $s = \\sqrt{d}$``)
    answers with the one it picks ("**Go with B: $s = \\sqrt{d}$.**", "Recommendation: A"), the way a TA
    reads it: the others are not its answer. With no pick, or picks of different options, none of them is.
    """
    hidden = _hidden(body)
    options = list(_OPTION.finditer(hidden))
    if len({m.group("o") for m in options}) < 2:
        return body
    extents: list[tuple[int, int, int, str]] = []  # each option's lines: to the next option or a blank line
    for k, m in enumerate(options):
        stop = options[k + 1].start() if k + 1 < len(options) else len(hidden)
        blank = re.search(r"\n[ \t]*\n", hidden[m.end() : stop])
        end = m.end() + blank.start() if blank else stop
        extents.append((m.start(), m.end(), end, m.group("o")))
    outside = "".join(
        hidden[a:b]
        for a, b in zip(
            [0, *(e for _, _, e, _ in extents)], [*(s for s, _, _, _ in extents), len(hidden)], strict=True
        )
    )
    picks = {
        next(g for g in m.group("p1", "p2", "p3") if g)
        for m in _PICK.finditer(outside)
        if not _NOT_PICKED.search(re.split(r"[.!?\n]", outside[max(0, m.start() - 40) : m.start()])[-1])
    }
    offered = {letter for _, _, _, letter in extents}
    keep = next(iter(picks)) if len(picks) == 1 and picks <= offered else None
    out, prev = [], 0
    for start, label_end, end, letter in extents:
        out.append(body[prev:start])
        prev = label_end if letter == keep else end  # the picked one stays, without its 'Option B:'
    out.append(body[prev:])
    return "".join(out).strip()


_MENTION = re.compile(
    r"(?:that'?s|this is|which is|which gives|this gives|giving|is)\s+(?:also\s+)?(?:the|our|my)\s+"
    r"(?:final\s+)?answer\s+(?:to|for)\s+(?:part\s*)?(?:\*\*)?\(?(?P<l>[a-z](?:\.[ivx]+)?)\)?(?:\*\*)?"
    r"|\b(?:answers|answering|settles|gives us)\s+(?:part\s*)?(?:\*\*)?\((?P<m>[a-z])\)(?:\*\*)?",
    re.IGNORECASE,
)
_MATH_BEFORE = re.compile(
    r"(\$\$[^$]+\$\$|\$[^$\n]+\$|\\\((?:(?!\\\)).)+\\\)|`[^`\n]+`)[^$`]{0,12}$", re.DOTALL
)


def _data_summary(text: str, names: _Labels, question: int | None, summary: dict[str, str]) -> None:
    """Answers given as JSON or YAML (``{"A": "(h, d, q)"}``, ``q1: {a: ...}``); a later block wins."""
    found: dict[str, str] = {}
    for entry in data_entries(text):
        if question is not None and entry.question is not None and entry.question != question:
            continue
        key = re.sub(r"(?<=[A-Za-z0-9])[_\-](?=[A-Za-z0-9])", ".", entry.key)  # b_ii, b-ii: b.ii
        label = _label_of_cell(key, names, question)
        if label is not None and label in names.labels:
            found[label] = entry.value
    for label, value in found.items():
        summary.setdefault(label, value)


def _mentions(text: str, names: _Labels, summary: dict[str, str]) -> None:
    """An answer given for a part inside another part's section: '$\\mathrm{Var}(q^\\top k) = d$ — that's the answer to (b)'."""
    for m in _MENTION.finditer(text):
        main, _, sub = (m.group("l") or m.group("m") or "").lower().partition(".")
        label = names.name(main or None, sub or None)
        if label is None or label in summary:
            continue
        before = _MATH_BEFORE.search(text[max(0, m.start() - 400) : m.start()])
        if before:
            summary[label] = before.group(1)


def _inline_summary(text: str, names: _Labels, question: int | None, summary: dict[str, str]) -> None:
    """Final-answer lines that list several parts: 'The final answer is: a. ..., b.i ..., c. ...'."""
    hidden = _hidden(text)
    for start, end, line in _lines(hidden):
        head = _SUMMARY_LINE.match(line)
        if head:
            for label, entry in _inline_entries(text[start + head.end() : end], names, question).items():
                summary.setdefault(label, entry)


def _words_of(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9]+", text.lower()))


def _restated_questions(text: str, prompts: Mapping[str, str]) -> list[_Candidate]:
    """Heading lines that restate a part's question (its first words), for parts named no other way."""
    out = []
    hidden = _hidden(text)
    lines = _lines(hidden)
    for label, prompt in prompts.items():
        key = _words_of(prompt)[:48]
        if len(key) < 20:
            continue
        for start, end, line in lines:
            bare = line.strip().strip("*_#> ")
            if key in _words_of(bare) and (
                line.lstrip().startswith(("#", "**", "__", ">")) or len(bare) < 2 * len(prompt)
            ):
                out.append(_Candidate(start, start, end, end, label, None, "restated|7", 1, 7, label=label))
                break
    return out


def _names_a_blank(text: str, c: _Candidate, blanks: frozenset[str]) -> bool:
    """Whether a candidate heading is one of ``blanks``: spelled in the blank's case where the part's differs
    ('A' for blank A, not part a), or written as a value ('(a) = `-1`') rather than as a heading."""
    if not blanks or c.main is None or c.sub is not None:
        return False
    if re.search(rf"\bpart\s*\(?\s*{re.escape(c.main)}(?![A-Za-z])", text[c.start : c.body], re.IGNORECASE):
        return False  # 'For part (b), ...' names the part, not blank (b)
    written = re.search(
        rf"(?<![A-Za-z]){re.escape(c.main)}(?![A-Za-z])", text[c.start : c.body], re.IGNORECASE
    )
    if written is None or written.group(0) not in blanks:
        return False
    # 'A' for a part labelled (a) names the blank; '(a) = ...' is a blank's value unless it is a real heading
    return written.group(0) != c.main or c.strength < 1


def _inside(offset: int, ranges: list[tuple[int, int]]) -> bool:
    return any(start <= offset < end for start, end in ranges)


def _summary_start(
    text: str, headings: list[_Candidate], raw: Sequence[_Candidate] = ()
) -> tuple[int, int] | None:
    """Where a closing summary begins and ends (the next part heading after it, or the end).

    The one-line entries right under the summary's heading (``- Q1(a): ...``, ``- Q2(a): ...``,
    any question's) are the summary, not headings that end it."""
    hidden = _hidden(text)
    lines = _lines(hidden)
    for k, (start, _, line) in reversed(list(enumerate(lines))):
        heading_like = line.lstrip().startswith(("#", "**", "__")) or line.rstrip().endswith(":")
        if _SUMMARY.match(line) and (heading_like or len(line.split()) <= 4):
            # a line that holds a label and something after it, not a Markdown heading
            entries = {
                c.line_start
                for c in raw
                if c.level >= 7 and text[c.body : c.line_end].strip(" *_:") and not c.in_list
            }
            block_end, count = start, 0
            for line_start, line_end, rest in lines[k + 1 :]:
                if not rest.strip():
                    continue
                if line_start not in entries:
                    break
                block_end, count = line_end, count + 1
            floor = block_end if count >= 2 else start
            after = [c.start for c in headings if c.start > floor and c.strength >= 2]
            return start, (min(after) if after else len(text))
    return None


def _closings(text: str) -> set[int]:
    hidden = _hidden(text)
    return {start for start, _, line in _lines(hidden) if _CLOSING.match(line)}


def split_parts(reply: str, labels: Sequence[str]) -> dict[str, str]:
    """Map each part label (``a``, ``b.ii``) to the section of ``reply`` that answers it.

    A label with no heading but a summary row maps to that row's text.
    Labels found nowhere are absent from the result.
    """
    layout = read_reply(reply, labels)
    out = dict(layout.sections)
    for label in labels:
        if label not in out and label in layout.summary:
            out[label] = layout.summary[label]
    return {label: out[label] for label in sorted(out, key=lambda x: layout.starts.get(x, 1 << 30))}


# -- questions -------------------------------------------------------------------------------------------

_QUESTION_OPENER = re.compile(
    r"^[ \t]*(?:(?:starting|beginning|moving on|turning|now|next|finally|then|and)(?:\s+(?:with|to|on to|for))?\s+)"
    r"(?:question|problem|exercise)\s+(\d{1,2})\b[,.:;]()",
    re.IGNORECASE,
)
_QUESTION_HEAD = re.compile(
    rf"^[ \t>]*(?:#{{1,6}}[ \t]+)?(?:{_BULLET}[ \t]+)*(?:\*\*|__)?[ \t]*(?:{_BULLET}[ \t]+)?"
    rf"(?:(?:{QUESTION_WORDS}|q)[ \t]*#?[ \t]*(\d{{1,2}})(?:\b|(?=[^\x00-\x7f]))(?![(\[]|[a-z]\))"  # '問1の解答'
    r"|(?<=#\s)(\d{1,2})\.[ \t]+[A-Z]"  # '# 1. Justifying ...': a numbered question heading
    rf"|(?<=#\s)[ \t]*(?:\*\*|__)?(?:{QUESTION_WORDS}|q)[ \t]*(\d{{1,2}})(?=\s*[(\[][a-z])"
    # '**Q1(a)** — …', '**Q6(c) space** — …': bold labels, each a question's part
    r"|(?<=\*\*|__)[qQ](\d{1,2})(?=\([a-z]\)[^*_\n]{0,30}(?:\*\*|__))"
    # '## 第4题', '**第 1 問**', '### 第4题(a)'
    rf"|(?:{QUESTION_PREFIXES})[ \t]*(\d{{1,2}})[ \t]*(?:{QUESTION_SUFFIXES})"
    # '**1(c)**', '**4A — shape of W_q**', '### 4(f) — compute': a part heading qualified by its question
    r"|(?<=\*\*|__|#\s)(\d{1,2})(?=\(\s*[a-z]\s*\)|[a-h](?:\*\*|__|[ \t]*(?:[—–:.)]|-\s)))"
    r")",  # '### Question 2(a): ...': the first part's heading opens the question
    re.IGNORECASE,
)


def _question_heads(text: str) -> list[tuple[int, int]]:
    """(offset, number) of each question heading (``## Question 4``, ``**Q1.**``, ``## Pregunta 1``) in ``text``."""
    hidden = _hidden(text)
    heads = []
    labelled: list[tuple[int, int]] = []  # '**Question 1(a)**' labels: heads when they name two questions
    for start, _, line in _lines(hidden):
        m = _QUESTION_HEAD.match(line)
        if m is None and (start == 0 or hidden[:start].endswith("\n\n")):
            m = _QUESTION_OPENER.match(line)  # 'Moving on to question 6. For part (a), ...'
        if m and any(m.groups()):
            heads.append((start, int(next(g for g in m.groups() if g))))
        elif (label := _QUESTION_PART_LABEL.match(line)) is not None:
            labelled.append((start, int(label.group(1))))
    if len({number for _, number in labelled}) >= 2:  # one question's alone may follow prose answering others
        heads = sorted([*heads, *labelled])
    return heads


_QUESTION_PART_LABEL = re.compile(
    rf"^[ \t>]*(?:#{{1,6}}[ \t]+)?(?:\*\*|__)[ \t]*(?:{QUESTION_WORDS})[ \t]*(\d{{1,2}})[ \t]*\([a-h]\)[^*_\n]{{0,30}}(?:\*\*|__)",
    re.IGNORECASE,
)


def headed_questions(reply: str) -> set[int]:
    """The question numbers ``reply``'s own headings name: a reply headed ``## Pregunta 1`` is about question 1."""
    return {number for _, number in _question_heads(reply[:MAX_SCAN])}


def split_questions(reply: str, numbers: Sequence[int], lead: int | None = None) -> dict[int, str]:
    """The part of ``reply`` under each question heading (``## Question 4``, ``**Q1.**``) among ``numbers``.

    A closing summary after the last question (``### Final answers``) is given to
    every question, whose rows then name their question (``4(f)``). Returns {}
    when the reply has fewer than two such headings (it answers one question). With ``lead``,
    a question the reply gives no heading gets the text before the first heading (a reply that
    first corrects the current question, then answers the next one).
    """
    text = reply[:MAX_SCAN]
    heads = [(start, number) for start, number in _question_heads(text) if number in numbers]
    closing = _summary_start(text, [])
    if closing and heads and closing[0] > heads[0][0]:
        heads = [
            h for h in heads if h[0] < closing[0]
        ]  # '- **Q1:** (a) ...' lines of the summary head nothing
    if lead is not None and heads and lead not in {n for _, n in heads} and text[: heads[0][0]].strip():
        heads.insert(0, (0, lead))
    if len({n for _, n in heads}) < 2:
        return {}
    tail = ""
    if closing and closing[0] > heads[-1][0]:
        tail = text[closing[0] :]
        text = text[: closing[0]]
    out: dict[int, str] = {}
    for i, (start, number) in enumerate(heads):
        end = heads[i + 1][0] if i + 1 < len(heads) else len(text)
        out[number] = (out.get(number, "") + "\n\n" + text[start:end]).strip()
    if tail:
        out = {n: f"{body}\n\n{tail}" for n, body in out.items()}
    # a JSON or YAML block of every question's answers belongs to each of them
    blocks: dict[int, str] = {}
    for entry in data_entries(reply[:MAX_SCAN]):
        if entry.question in numbers:
            blocks.setdefault(entry.offset, "")
            blocks[entry.offset] += f"{entry.question},"
    for offset, names in blocks.items():
        if len(set(names.strip(",").split(","))) < 2:
            continue
        block = next((reply[a:b] for a, b in fence_ranges(reply[:MAX_SCAN]) if a == offset), "")
        out = {n: body if block in body else f"{body}\n\n{block}" for n, body in out.items()}
    # so does a table whose rows name the parts of several questions ('| 4(f) | ... |', '| 6(c) | ... |')
    for block in _question_tables(reply[:MAX_SCAN], numbers):
        out = {n: body if block in body else f"{body}\n\n{block}" for n, body in out.items()}
    return out


_ROW_QUESTION = re.compile(r"[*_`\s]*(?:q\s*)?(\d{1,2})\s*[(\[.]?\s*[a-zA-Z]", re.IGNORECASE)


def _question_tables(text: str, numbers: Sequence[int]) -> list[str]:
    """The tables of ``text`` whose first column names parts of two or more of ``numbers`` (``4(f)``, ``6(c)``)."""
    out: list[str] = []
    block: list[tuple[int, int, str]] = []
    for start, end, line in [*_lines(_hidden(text)), (len(text), len(text), "")]:
        if _table_cells(line):
            block.append((start, end, line))
            continue
        if block:
            named = set()
            for _, _, row in block:
                m = _ROW_QUESTION.match(_table_cells(row)[0])
                if m and int(m.group(1)) in numbers:
                    named.add(int(m.group(1)))
            if len(named) >= 2:
                out.append(text[block[0][0] : block[-1][1]])
            block = []
    return out
