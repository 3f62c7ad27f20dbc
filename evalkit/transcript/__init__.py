"""Grade a finished conversation (a transcript) with the same code as a live run.

Two steps, one module each:

* :mod:`evalkit.transcript.formats` reads a transcript in one of three formats
  (the write-up, with its margin notes removed; a JSON list of messages;
  Markdown with role headings) into :class:`Transcript` turns.
* :mod:`evalkit.transcript.alignment` aligns the turns to the problem set and
  grades them the way the live loop grades its conversation.

Example::

    result = grade_transcript("seeds/hw9.txt")      # a RunResult, like api.run
    print(result.to_json()["totals"])
    grade_transcript("chat.json", problems="problems/hw9_q2.yaml", judge="claude")   # criteria by a judge
"""

from evalkit.transcript.alignment import (
    AlignedTranscript,
    Exchange,
    TurnVerdict,
    align,
    grade_problem,
    grade_transcript,
    grade_turns,
)
from evalkit.transcript.formats import (
    Transcript,
    TranscriptTurn,
    parse_transcript,
    read_transcript,
    strip_margin_notes,
)

__all__ = [
    "AlignedTranscript",
    "Exchange",
    "Transcript",
    "TranscriptTurn",
    "TurnVerdict",
    "align",
    "grade_problem",
    "grade_transcript",
    "grade_turns",
    "parse_transcript",
    "read_transcript",
    "strip_margin_notes",
]
