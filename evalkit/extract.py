"""Pull per-part answers out of a model's prose reply.

Two steps, each recording where it looked:

* :func:`split_parts` cuts a reply into the sections that answer each part,
  by headings such as ``Part (a)``, ``### (b)(ii)``, ``**Blank (d)**`` or
  ``Q4(f)``, and, for a part with no heading, by a summary-table row whose
  first cell names it (``| (a) | d_model |``).
* :func:`final_answers` finds the final answer inside one section, in this
  order: the ``\\boxed{...}`` answers (all boxes in the same equation as the
  last box, so ``\\boxed{A} \\text{ or } \\boxed{B}`` yields both), else the
  last display equation, else the last inline math, else the last inline
  code span, else the last line unless it is prose. With ``prefer="code"`` (blanks in code),
  inline code comes before math. With ``anchor`` (a regular expression),
  only the text after its last match is searched and the *first* answer
  there is taken (``anchor: 'total space complexity'``).

Example::

    sections = split_parts(reply, ["a", "b.ii"])
    found = final_answer(sections["a"])
    found.text, found.where, found.line     # 'd\\mu^2', 'boxed', 14
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["FoundAnswer", "final_answer", "final_answers", "split_parts", "table_rows"]

_MAX_SCAN = 200_000
_DISPLAY = re.compile(
    r"\$\$(?P<a>.+?)\$\$|\\\[(?P<b>.+?)\\\]"
    r"|\\begin\{(?P<env>equation|align|gather|multline|displaymath)(?P<star>\*?)\}(?P<c>.+?)\\end\{(?P=env)(?P=star)\}",
    re.DOTALL,
)
_INLINE = re.compile(r"(?<![\\$])\$(?!\$)(?P<a>[^$\n]+?)(?<!\\)\$|\\\((?P<b>.+?)\\\)")
_CODE = re.compile(r"(?<!`)`(?!`)([^`\n]+)`|<code>(.+?)</code>")
_FENCE = re.compile(r"```.*?```", re.DOTALL)
_LABEL_PREFIX = r"^[ \t>#*_]*(?:(?:part|blank|question|problem|subpart|q)\s*)?(?:\d+\s*)?"


@dataclass(frozen=True)
class FoundAnswer:
    """An answer found in a section: its text, what kind of place it came from, and where.

    ``where`` is one of ``boxed``, ``display math``, ``inline math``,
    ``inline code`` or ``line`` (a bare line, not prose); ``line`` is 1-based within the searched
    text; ``start``/``end`` are character offsets into it.
    """

    text: str
    where: str
    line: int
    start: int
    end: int

    def describe(self) -> str:
        return f"{self.where} on line {self.line}"


# -- splitting a reply into parts -----------------------------------------------------------


def _label_regex(label: str) -> str:
    pieces = [re.escape(p) for p in label.split(".")]
    return r"\s*".join(rf"\(\s*{p}\s*\)" for p in pieces)


def _table_cells(line: str) -> list[str]:
    if "|" in line:
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
    elif "\t" in line:
        cells = [c.strip() for c in line.split("\t")]
    else:
        return []
    return cells if len(cells) >= 2 else []


def table_rows(text: str) -> list[tuple[int, list[str]]]:
    """Rows of the Markdown (``|``) or tab-separated tables in ``text``: (offset, cells)."""
    rows = []
    offset = 0
    for line in text.splitlines(keepends=True):
        cells = _table_cells(line)
        if cells and not all(re.fullmatch(r":?-{2,}:?", c) for c in cells if c):
            rows.append((offset, cells))
        offset += len(line)
    return rows


def _label_in_cell(cell: str, label: str) -> bool:
    cell = re.sub(r"[*_`]", "", cell).strip()
    return bool(re.fullmatch(rf"(?:part|blank)?\s*{_label_regex(label)}|{re.escape(label)}", cell, re.I))


def _heading_strength(heading: str) -> int:
    """How surely a matched line is a part heading: ``### Part (b)`` beats ``Blank (b):``."""
    text = heading.lower()
    strength = 2 if re.search(r"\b(?:part|question|problem|subpart)\b", text) else 0
    if text.lstrip().startswith(("#", "**")):
        strength += 1
    return strength - (1 if "blank" in text else 0)


def split_parts(reply: str, labels: Sequence[str]) -> dict[str, str]:
    """Map each part label (``a``, ``b.ii``) to the section of ``reply`` that answers it.

    A section runs from its heading to the next part's heading. When a label
    has several candidate headings, the strongest wins (``### Part (b)`` over
    ``Blank (b):``, a blank inside part (a)), then the earliest. A label with
    no heading but a summary-table row (first cell ``(a)``) maps to the rest
    of that row. Labels found nowhere are absent from the result.
    """
    reply = reply[:_MAX_SCAN]
    starts: list[tuple[int, str]] = []
    for label in labels:
        pattern = re.compile(
            rf"{_LABEL_PREFIX}{_label_regex(label)}(?![\s(]*\(\s*[a-z0-9]{{1,4}}\s*\))",
            re.IGNORECASE | re.MULTILINE,
        )
        candidates = []
        for match in pattern.finditer(reply):
            line_end = reply.find("\n", match.start())
            line = reply[match.start() : None if line_end < 0 else line_end]
            if not _table_cells(line):
                candidates.append((-_heading_strength(match.group(0)), match.start()))
        if candidates:
            starts.append((min(candidates)[1], label))
    starts.sort()
    sections: dict[str, str] = {}
    for i, (start, label) in enumerate(starts):
        end = starts[i + 1][0] if i + 1 < len(starts) else len(reply)
        sections[label] = reply[start:end].strip()
    missing = [label for label in labels if label not in sections]
    if missing:
        rows = table_rows(reply)
        for label in missing:
            for _, cells in rows:
                if _label_in_cell(cells[0], label):
                    sections[label] = " | ".join(cells[1:])
                    break
    return sections


# -- finding the final answer in a section --------------------------------------------------


def _balanced(text: str, open_at: int) -> int:
    """Index just after the brace group opening at ``text[open_at]``, or -1 if unbalanced."""
    depth = 0
    i = open_at
    while i < len(text):
        ch = text[i]
        if ch == "\\":
            i += 2
            continue
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return -1


def _boxes(text: str) -> list[tuple[int, int, str]]:
    """Every ``\\boxed{...}`` (or ``\\fbox``) as (start, end, content), braces balanced."""
    out = []
    for match in re.finditer(r"\\(?:boxed|fbox)\s*\{", text):
        end = _balanced(text, match.end() - 1)
        if end > 0:
            out.append((match.start(), end, text[match.end() : end - 1]))
    return out


def _math_blocks(text: str) -> tuple[list[tuple[int, int, str]], list[tuple[int, int, str]]]:
    """Display and inline math blocks as (start, end, content)."""
    display = []
    masked = list(text)
    for m in _DISPLAY.finditer(text):
        content = m.group("a") or m.group("b") or m.group("c") or ""
        display.append((m.start(), m.end(), content))
        masked[m.start() : m.end()] = " " * (m.end() - m.start())
    masked_text = "".join(masked)
    inline = [(m.start(), m.end(), m.group("a") or m.group("b") or "") for m in _INLINE.finditer(masked_text)]
    return display, inline


def _line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def _found(text: str, base: int, start: int, end: int, content: str, where: str) -> FoundAnswer:
    return FoundAnswer(content.strip(), where, _line_of(text, base + start), base + start, base + end)


def final_answers(text: str, *, prefer: str = "math", anchor: str | None = None) -> list[FoundAnswer]:
    """The final answer(s) of a section; several only for sibling boxes (see the module docstring).

    Returns an empty list when the section is blank.
    """
    full = text[:_MAX_SCAN]
    base = 0
    if anchor:
        matches = list(re.finditer(anchor, full, re.IGNORECASE))
        if not matches:
            return []
        base = matches[-1].end()
    region = full[base:]
    pick = (lambda items: items[0]) if anchor else (lambda items: items[-1])
    boxes = _boxes(region)
    display, inline = _math_blocks(region)
    if boxes:
        chosen = pick(boxes)
        blocks = [b for b in display + inline if b[0] <= chosen[0] < b[1]]
        if blocks:
            lo, hi = blocks[0][0], blocks[0][1]
        else:
            lo = region.rfind("\n", 0, chosen[0]) + 1
            nl = region.find("\n", chosen[1])
            hi = len(region) if nl < 0 else nl
        group = [b for b in boxes if lo <= b[0] and b[1] <= hi]
        return [_found(full, base, s, e, c, "boxed") for s, e, c in group]
    code = [(m.start(), m.end(), m.group(1) or m.group(2)) for m in _CODE.finditer(_FENCE.sub(" ", region))]
    order = [("inline code", code), ("display math", display), ("inline math", inline)]
    if prefer != "code":
        order = [order[1], order[2], order[0]]
    for where, items in order:
        if items:
            s, e, c = pick(items)
            if c.strip():
                return [_found(full, base, s, e, c, where)]
    lines = [(m.start(), m.end(), m.group(0)) for m in re.finditer(r"[^\n]*\S[^\n]*", region)]
    if not lines:
        return []
    s, e, c = pick(lines)
    c = re.sub(r"^(?:[\s>#*_]|[-+]\s)+|[*_\s]+$", "", c)  # markdown bullets and emphasis, not a minus sign
    if not c or _is_prose(c):
        return []
    return [_found(full, base, s, e, c, "line")]


def _is_prose(line: str) -> bool:
    """A line of words (three or more words with vowels, no LaTeX commands) rather than an expression."""
    if "\\" in line:
        return False
    words = [w for w in re.findall(r"[A-Za-z]{3,}", line) if re.search(r"[aeiouAEIOU]", w)]
    return len(words) >= 3


def final_answer(text: str, *, prefer: str = "math", anchor: str | None = None) -> FoundAnswer | None:
    """The last of :func:`final_answers`, or None when nothing was found."""
    found = final_answers(text, prefer=prefer, anchor=anchor)
    return found[-1] if found else None
