"""Where in a reply each part's answer starts, so the report puts its margin verdict beside it.

The reply is read the way the grader read it (:func:`evalkit.extract.read_reply`
on :func:`~evalkit.extract.spans.plain_markup` of the text, with the parts'
labels, prompts and the question's number), and each part that has a section
gets the line its heading is on. The reply is then cut into stretches (:class:`Stretch`)
at those lines, only where Markdown can be cut without changing what it shows:
the start of a top-level block, or of an item of a top-level list. A heading
inside a blockquote or a paragraph moves its cut up to where that block starts.

Example::

    lines = part_lines(reply, problem, whole=True)   # {'a': 4, 'b': 31}
    [(s.line, s.parts) for s in cut_reply(reply, lines)]   # [(0, ()), (4, ('a',)), (31, ('b',))]
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from evalkit.extract import read_reply
from evalkit.extract.spans import plain_markup
from evalkit.report.markdown import parse
from evalkit.spec.models import Problem

__all__ = ["Stretch", "cut_reply", "part_lines"]


@dataclass(frozen=True)
class Stretch:
    """Lines ``line`` … of a reply, and the parts whose answers start in them."""

    line: int
    text: str
    parts: tuple[str, ...] = ()


def _labels(problem: Problem) -> dict[str, str]:
    """Part id → the label replies use for it (``b.ii`` for ``(b)(ii)``), as the grader reads them."""
    return {p.id: (p.label or p.id).strip("()").replace(")(", ".") for p in problem.parts}


def _question_number(problem: Problem) -> int | None:
    m = re.search(r"(\d+)\D*$", problem.id)
    return int(m.group(1)) if m else None


def _line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset)


def part_lines(reply: str, problem: Problem, *, whole: bool = True) -> dict[str, int]:
    """Part id → the line of ``reply`` (from 0) its section's heading is on, for the parts that have one.

    ``whole`` says the turn asked every part (a numbered list may then be the parts).
    """
    labels = _labels(problem)
    read = plain_markup(reply)
    layout = read_reply(
        read,
        list(labels.values()),
        prompts={labels[p.id]: p.prompt for p in problem.parts},
        question=_question_number(problem),
        numbered=whole,
    )
    found: dict[str, int] = {}
    if read == reply:
        for pid, label in labels.items():
            if label in layout.starts:
                found[pid] = _line_of(reply, layout.starts[label])
        return found
    # HTML read as Markdown: find each heading's line of text among the reply's own lines
    lines = [_words(line) for line in reply.splitlines()]
    for pid, label in sorted(labels.items(), key=lambda kv: layout.starts.get(kv[1], -1)):
        if label not in layout.starts:
            continue
        at = layout.starts[label]
        end = read.find("\n", at)
        heading = " ".join(_words(read[at : end if end >= 0 else len(read)]).split()[:3])  # 'part (a): the'
        after = max(found.values(), default=-1)
        hit = next((i for i in range(after + 1, len(lines)) if heading and heading in lines[i]), None)
        if hit is not None:
            found[pid] = hit
    return found


def _words(line: str) -> str:
    """A line's words, without markup, to match an HTML line with the Markdown read from it."""
    return " ".join(re.sub(r"<[^>]*>|[*_#>`]|&[a-z]+;", " ", line).split()).lower()


def _cuttable(text: str) -> list[int]:
    """Lines where ``text`` can be cut into pieces that render as the whole does."""
    lines = {0}
    top_list = False
    for token in parse(text):
        if token.map is None:
            continue
        if token.level == 0 and token.nesting >= 0:
            lines.add(token.map[0])
            top_list = token.type in ("bullet_list_open", "ordered_list_open")
        elif token.level == 1 and token.type == "list_item_open" and top_list:
            lines.add(token.map[0])
    return sorted(lines)


def cut_reply(text: str, lines: Mapping[str, int]) -> list[Stretch]:
    """``text`` cut where each part's answer starts (``lines``: part id → line); the first stretch holds
    what comes before the first part, and the parts whose line is not known go nowhere."""
    cuttable = _cuttable(text)
    source = text.split("\n")
    starts: dict[int, list[str]] = {}
    for pid, line in sorted(lines.items(), key=lambda kv: kv[1]):
        at = max((c for c in cuttable if c <= line), default=0)
        starts.setdefault(at, []).append(pid)
    bounds = sorted({0, *starts})
    out = []
    for i, start in enumerate(bounds):
        end = bounds[i + 1] if i + 1 < len(bounds) else len(source)
        out.append(Stretch(start, "\n".join(source[start:end]), tuple(starts.get(start, ()))))
    return out
