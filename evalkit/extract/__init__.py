"""Pulling per-part answers out of a model's prose reply, the way a careful TA reads it.

Three steps, one module each, each recording where it looked:

* :mod:`~evalkit.extract.spans` finds math (``$``, ``$$``, ``\\(``, ``\\[``,
  environments, boxes), code spans and fences, and math written in plain text
  (``s = sqrt(d)``, ``O(N^2 D)``, ``dμ²``);
* :mod:`~evalkit.extract.layout` cuts a reply into the section answering each
  part (every heading style models use, numbered parts, inline lists, nested
  subparts) and reads a closing summary or final-answers table per part;
* :mod:`~evalkit.extract.finals` finds the answer a section *states*, by
  priority: boxes, answer lines and the summary; an equation naming the asked
  quantity; a concluding sentence; then the last math.

Example::

    layout = read_reply(reply, ["a", "b.ii"])
    found = final_answer(layout.sections["a"], asks=asked_quantities(part.prompt))
    found.text, found.where, found.line     # 'd\\mu^2', 'boxed', 14
"""

from evalkit.extract.finals import (
    HEADING_MARKER,
    SUMMARY_MARKER,
    FoundAnswer,
    asked_quantities,
    concedes,
    expected_names,
    final_answer,
    final_answers,
)
from evalkit.extract.layout import (
    ReplyLayout,
    headed_questions,
    read_reply,
    split_parts,
    split_questions,
    table_rows,
)

__all__ = [
    "HEADING_MARKER",
    "SUMMARY_MARKER",
    "FoundAnswer",
    "ReplyLayout",
    "asked_quantities",
    "concedes",
    "expected_names",
    "final_answer",
    "final_answers",
    "headed_questions",
    "read_reply",
    "split_parts",
    "split_questions",
    "table_rows",
]
