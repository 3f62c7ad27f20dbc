"""A reviewer's notes on a run: ``runs/<id>/notes.yaml``, shown in the report's margins.

The format (every key but ``text`` is optional; ``text`` is Markdown with math)::

    overview: |                  # a paragraph added to the Overview/Recap
      Strong on the algebra; one hint needed in Q3(b).
    notes:
      - question: q1             # beside the heading of question q1 (its problem id)
        text: Great overview!
      - question: q3
        part: b                  # beside part (b)'s final verdict, and in its table row
        text: split_heads and combine_heads have to agree.
      - question: q3
        turn: 3                  # beside turn 3 of q3's conversation (turns are numbered in the report)
        text: This is what led me to ask this.
      - question: opening        # the opening exchange shared by every question
        turn: 2
        text: I like that it's already giving me conceptual background.

A note names a question, and at most one of ``part`` or ``turn``. Every
reference is checked against the run; an error reads
``runs/<id>/notes.yaml:7: notes[1].part: question q3 has no part 'z' (parts: a, b)``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from evalkit.errors import SpecError
from evalkit.spec.loading import read_yaml, validation_to_spec_error

__all__ = ["NOTES_FILE", "Note", "Notes", "load_notes"]

NOTES_FILE = "notes.yaml"
OPENING = "opening"


class Note(BaseModel):
    """One note: where it goes (question, and part or turn) and what it says."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    question: str = Field(min_length=1, description="a problem id of the run, or 'opening'")
    part: str | None = Field(default=None, description="a part id of that question")
    turn: int | None = Field(default=None, ge=1, description="a turn number of that conversation")
    text: str = Field(min_length=1, description="Markdown with TeX math")

    @model_validator(mode="after")
    def _one_target(self) -> Note:
        if self.part is not None and self.turn is not None:
            raise ValueError("a note goes beside a part or beside a turn, not both; write two notes")
        if self.question == OPENING and self.part is not None:
            raise ValueError("the opening exchange has no parts; use 'turn'")
        return self


class NotesFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    overview: str | None = None
    notes: list[Note] = Field(default_factory=list)


@dataclass(frozen=True)
class Notes:
    """Notes looked up by where they go."""

    overview: str | None = None
    items: tuple[Note, ...] = ()

    def for_question(self, question: str) -> list[str]:
        return [n.text for n in self.items if n.question == question and n.part is None and n.turn is None]

    def for_part(self, question: str, part: str) -> list[str]:
        return [n.text for n in self.items if n.question == question and n.part == part]

    def for_turn(self, question: str, turn: int) -> list[str]:
        return [n.text for n in self.items if n.question == question and n.turn == turn]


def load_notes(path: Path, parts: Mapping[str, Sequence[str]], turns: Mapping[str, int]) -> Notes:
    """Read ``path`` and check each note against the run.

    ``parts`` maps each question id to its part ids; ``turns`` maps each
    question id (and ``opening``) to its number of turns. A missing file is
    no notes.
    """
    if not path.exists():
        return Notes()
    data, lines = read_yaml(path)
    if data is None:
        return Notes()
    if not isinstance(data, dict):
        raise SpecError("expected a mapping with 'notes' (and optionally 'overview')", path=path, line=1)
    try:
        parsed = NotesFile.model_validate(data)
    except ValidationError as err:
        raise validation_to_spec_error(err, path, lines) from None
    for i, note in enumerate(parsed.notes):

        def fail(key: str, message: str, i: int = i) -> SpecError:
            loc = ("notes", i, key)
            return SpecError(
                message, path=path, line=lines.get(loc, lines.get(("notes", i))), field=f"notes[{i}].{key}"
            )

        known = [OPENING, *parts]
        if note.question not in known:
            raise fail(
                "question", f"no question {note.question!r} in this run (questions: {', '.join(known)})"
            )
        if note.part is not None and note.part not in parts[note.question]:
            raise fail(
                "part",
                f"question {note.question} has no part {note.part!r} (parts: {', '.join(parts[note.question])})",
            )
        count = turns.get(note.question, 0)
        if note.turn is not None and note.turn > count:
            raise fail(
                "turn",
                f"the conversation of {note.question} has {count} turn(s); there is no turn {note.turn}",
            )
    return Notes(parsed.overview, tuple(parsed.notes))
