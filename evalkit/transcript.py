"""Grade a finished conversation (a transcript) with the same code as a live run.

Three input formats are read:

* **write-up** — a document like the HW9 participation write-up: role markers
  ``User`` / ``Claude`` (or ``Assistant``) as headings of any level ``#``..``###``
  or as bare lines; a marker repeated across page breaks (``## Claude`` twice)
  continues the same turn; text before the first marker is preamble. The
  student's margin notes are removed (see :func:`strip_margin_notes`).
* **json** — a list of ``{"role": "user"|"assistant", "content": ...}`` messages
  (or ``{"messages": [...]}``); ``system`` messages are skipped.
* **markdown** — ``## User`` / ``## Assistant`` headings, no margin notes.

The turns are then aligned to the problem set: a user turn that names a
question ("question 3", "Q4", "Let's move onto question 4") starts that
problem; one that names no question continues the current one; the first
exchange, if it names none, is the opening. Grading follows the live loop: the
first reply to a question is attempt 1 of every part; each later user turn
about the same question is a *hint* for the parts failing at that point (they
are re-graded on the reply: attempt + 1, hints + 1) or, when no part is
failing, a *follow-up* that changes nothing.

Example::

    result = grade_transcript("seeds/hw9.txt")      # a RunResult, like api.run
    print(result.to_json()["totals"])
    grade_transcript("chat.json", problems="problems/hw9_q2.yaml", judge="claude")   # criteria by a judge
"""

from __future__ import annotations

import importlib.metadata
import json
import platform
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from evalkit.api import RunResult
from evalkit.conversation import ConversationResult, PartState, grade_attempt, part_result
from evalkit.errors import TranscriptError
from evalkit.grading import needs_help, sections_for
from evalkit.models.base import Message, Usage
from evalkit.paths import default_dir
from evalkit.spec.suite import LoadedProblem, Suite, load_suite
from evalkit.store import RunStore

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

Role = Literal["user", "assistant"]
Format = Literal["auto", "writeup", "json", "markdown"]
_MAX_BYTES = 20_000_000


@dataclass(frozen=True)
class TranscriptTurn:
    role: Role
    content: str
    line: int | None = None  # 1-based line of the turn's first marker in the file, if known


@dataclass(frozen=True)
class Transcript:
    turns: tuple[TranscriptTurn, ...]
    format: str
    source: str = "<text>"


# --- reading ---------------------------------------------------------------------------------------

_USER_NAMES = r"user|human|student|me|you"
_ASSISTANT_NAMES = r"assistant|claude|model|ai|chatgpt|gpt|gemini|llm"
_ROLE_LINE = re.compile(
    rf"^[ \t]*(?P<hashes>#{{1,3}}[ \t]*)?(?P<bold>\*\*)?(?P<name>{_USER_NAMES}|{_ASSISTANT_NAMES})"
    r"(?P=bold)?[ \t]*:?[ \t]*$",
    re.IGNORECASE,
)
_FENCE = re.compile(r"^[ \t]*(```|~~~)")


def _role_of(name: str) -> Role:
    return "user" if re.fullmatch(_USER_NAMES, name, re.IGNORECASE) else "assistant"


def _markers(text: str, *, bare: bool) -> Iterator[tuple[int, Role, str]]:
    """Role-marker lines outside code fences: (line index, role, how it was spelled)."""
    in_fence = False
    for i, line in enumerate(text.splitlines()):
        if _FENCE.match(line):
            in_fence = not in_fence
            continue
        if in_fence:
            continue
        m = _ROLE_LINE.match(line)
        if not m or m.group("bold"):  # **User** is emphasis in prose, not a turn marker
            continue
        # a bare marker is a capitalized name alone on a line ("Claude"); "claude" is prose
        if not m.group("hashes") and not (bare and m.group("name")[0].isupper()):
            continue
        yield i, _role_of(m.group("name")), ("#" if m.group("hashes") else "") + m.group("name")


def _detect_format(text: str, source: str = "<text>") -> str:
    stripped = text.lstrip()
    if stripped.startswith(("[", "{")):
        return "json"
    marks = list(_markers(text, bare=True))
    if not marks:
        raise TranscriptError(
            f"{source}: no turns found: expected role headings such as '## User' / '## Assistant' (or 'Claude'), "
            "or a JSON list of {role, content} messages"
        )
    names = {spelling.lstrip("#").lower() for _, _, spelling in marks}
    hashed = all(spelling.startswith("#") for _, _, spelling in marks)
    if hashed and names <= {"user", "assistant"}:
        return "markdown"
    return "writeup"


def _split_turns(text: str, *, bare: bool, clean: Callable[[str, Role], str]) -> list[TranscriptTurn]:
    lines = text.splitlines()
    marks = list(_markers(text, bare=bare))
    turns: list[TranscriptTurn] = []
    for n, (index, role, _) in enumerate(marks):
        end = marks[n + 1][0] if n + 1 < len(marks) else len(lines)
        body = clean("\n".join(lines[index + 1 : end]), role)
        if turns and turns[-1].role == role:  # a repeated marker (page break) continues the turn
            prev = turns[-1]
            merged = (prev.content + "\n\n" + body).strip() if body else prev.content
            turns[-1] = TranscriptTurn(role, merged, prev.line)
        elif body or role == "user":
            turns.append(TranscriptTurn(role, body, index + 1))
    return [t for t in turns if t.content.strip()]


def _tidy(text: str, role: Role) -> str:
    return _collapse_blank_lines("\n".join(line.rstrip() for line in text.splitlines())).strip()


def _from_json(text: str, source: str) -> list[TranscriptTurn]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise TranscriptError(f"{source}:{err.lineno}: not valid JSON ({err.msg})") from None
    if isinstance(data, dict) and isinstance(data.get("messages"), list):
        data = data["messages"]
    if not isinstance(data, list):
        raise TranscriptError(f"{source}: expected a JSON list of {{role, content}} messages")
    turns: list[TranscriptTurn] = []
    for i, item in enumerate(data):
        if not isinstance(item, dict) or not isinstance(item.get("role"), str):
            raise TranscriptError(f"{source}: message {i} is not an object with a 'role'")
        role = item["role"].lower()
        content = item.get("content")
        if isinstance(content, list):  # provider-style content blocks
            content = "\n\n".join(
                str(b.get("text", "")) for b in content if isinstance(b, dict) and b.get("type") == "text"
            )
        if not isinstance(content, str):
            raise TranscriptError(f"{source}: message {i} has no text 'content'")
        if role == "system":
            continue
        if role not in ("user", "assistant"):
            raise TranscriptError(
                f"{source}: message {i} has role {role!r}; expected user, assistant or system"
            )
        r: Role = "user" if role == "user" else "assistant"
        if turns and turns[-1].role == r:
            turns[-1] = TranscriptTurn(r, turns[-1].content + "\n\n" + content.strip(), None)
        else:
            turns.append(TranscriptTurn(r, content.strip(), None))
    return turns


def parse_transcript(text: str, *, format: Format = "auto", source: str = "<text>") -> Transcript:
    """Read a transcript from ``text`` in one of the three formats (``auto`` detects it)."""
    fmt = _detect_format(text, source) if format == "auto" else format
    if fmt == "json":
        turns = _from_json(text, source)
    elif fmt == "markdown":
        turns = _split_turns(text, bare=False, clean=_tidy)
    elif fmt == "writeup":
        turns = _split_turns(text, bare=True, clean=strip_margin_notes)
    else:
        raise TranscriptError(
            f"unknown transcript format {format!r}; expected auto, writeup, json or markdown"
        )
    if not any(t.role == "assistant" for t in turns):
        raise TranscriptError(f"{source}: the transcript has no assistant replies")
    return Transcript(tuple(turns), fmt, source)


def read_transcript(path: str | Path, *, format: Format = "auto") -> Transcript:
    """Read the transcript file at ``path``."""
    path = Path(path)
    try:
        if path.stat().st_size > _MAX_BYTES:
            raise TranscriptError(f"{path}: larger than {_MAX_BYTES // 1_000_000} MB")
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise TranscriptError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise TranscriptError(f"{path}: is a directory, expected a transcript file") from None
    except UnicodeDecodeError as err:
        raise TranscriptError(f"{path}: not UTF-8 text ({err.reason} at byte {err.start})") from None
    return parse_transcript(text, format=format, source=str(path))


# --- margin notes ------------------------------------------------------------------------------------
#
# The write-up interleaves the student's annotations with the model's text. They are removed by
# these heuristics (each one is tested against the write-up's notes, and against the model's text
# that resembles them):
#
# 1. Document section headings ("## 4 Question 2: Argmax Attention", "7 Question 6: ...") with
#    anything after them on the line.
# 2. Lines starting with "↪", and the rest of a line from "←" on (an arrow pointing at the text).
# 3. Lines that are entirely one *italic* span (single asterisks; math and code inside are fine);
#    the model's italics are single words inside sentences.
# 4. Italic spans of five or more words inside a line: a note that the PDF conversion merged into
#    a paragraph (the model italicizes one or two words: "*why*", "*where*").
# 5. Margin columns: paragraphs of two or more lines that are all short (≤ 24 characters) and
#    plain (no math, code, table cells, list markers or headings) — "great / overview!".
# 6. One-line reactions: a plain paragraph of at most 140 characters (no math, code or bold, not
#    a question, not a heading) that starts with "✓ word" or uses the reader's voice
#    ("one-shot", "super helpful", "makes sense to me", "for my liking", "I love", "I really
#    appreciate", "I was surprised", ...).
#
# Code fences are never touched. Tab-separated rows (the PDF conversion's tables) become Markdown
# pipe tables, so a table's cells stay recognisable (a summary row "| (a) | `d_model` |").

_SECTION_HEADING = re.compile(r"^[ \t]*(?:#{1,6}[ \t]*)?\d+[ \t]+Question[ \t]+\d+\b.*$", re.IGNORECASE)
_PROTECTED = re.compile(r"\$\$.*?\$\$|\$[^$\n]+\$|`[^`\n]+`")
_ITALIC_LINE = re.compile(r"^[ \t]*\*(?!\*)[^*]+(?<!\*)\*[ \t]*$")
_ITALIC_SPAN = re.compile(r"(?<![*\w])\*(?![*\s])([^*\n]+?)(?<![*\s])\*(?![*\w])")
_REACTION = re.compile(
    r"one[- ]shot|super helpful|great overview|makes sense to me|for my liking|\bpersonally\b"
    r"|\bI (?:really |also )?(?:love|like|appreciate)\b|\bI was (?:surprised|confused|impressed)\b"
    r"|\bimpressed me\b|\bwhoops\b|\bbrain fart\b|\bwell clarified\b",
    re.IGNORECASE,
)
_PLAIN_BLOCKERS = re.compile(r"[$`|\t]|\*\*|^\s*(?:#|>|\d+\.)")


def _mask(line: str) -> tuple[str, list[str]]:
    """Replace math and inline code with placeholders, so asterisks inside them are not emphasis."""
    saved: list[str] = []

    def keep(m: re.Match[str]) -> str:
        saved.append(m.group(0))
        return f"\x00{len(saved) - 1}\x00"

    return _PROTECTED.sub(keep, line), saved


def _unmask(line: str, saved: list[str]) -> str:
    return re.sub(r"\x00(\d+)\x00", lambda m: saved[int(m.group(1))], line)


def _strip_line(line: str) -> str | None:
    """One line with notes removed; None when the whole line is a note."""
    if _SECTION_HEADING.match(line) or line.lstrip().startswith("↪"):
        return None
    masked, saved = _mask(line)
    if "←" in masked:
        masked = masked.split("←", 1)[0].rstrip()
        if not masked.strip():
            return None
    if _ITALIC_LINE.match(masked):
        return None

    def drop_long(m: re.Match[str]) -> str:
        return "" if len(m.group(1).split()) >= 5 else m.group(0)

    dropped = _ITALIC_SPAN.sub(drop_long, masked)
    if dropped != masked:  # close the gap the note leaves
        dropped = re.sub(r"(?<=\S)[ \t]{2,}(?=\S)", " ", dropped)
        if not dropped.strip():
            return None
    return _unmask(dropped, saved).rstrip()


def _is_plain(line: str) -> bool:
    return not _PLAIN_BLOCKERS.search(line) and not re.match(r"^\s*[-*+]\s", line)


def _is_margin_column(paragraph: list[str]) -> bool:
    return len(paragraph) >= 2 and all(len(x.strip()) <= 24 and _is_plain(x) for x in paragraph)


def _is_reaction(paragraph: list[str]) -> bool:
    if len(paragraph) != 1:
        return False
    text = re.sub(r"^\s*[-*+]\s+", "", paragraph[0]).strip()
    if not text or len(text) > 140 or text.endswith(("?", ":")) or not _is_plain(text):
        return False
    return bool(re.match(r"^✓\s*[A-Za-z]", text) or _REACTION.search(text))


def _collapse_blank_lines(text: str) -> str:
    return re.sub(r"\n{3,}", "\n\n", text)


def _pipe_tables(lines: list[str]) -> list[str]:
    """Tab-separated rows (how the PDF conversion writes tables) as a Markdown pipe table."""
    out: list[str] = []
    in_fence = False
    i = 0
    while i < len(lines):
        if _FENCE.match(lines[i]):
            in_fence = not in_fence
        if in_fence or "\t" not in lines[i] or lines[i].lstrip().startswith("|"):
            out.append(lines[i])
            i += 1
            continue
        rows: list[list[str]] = []
        while i < len(lines) and "\t" in lines[i] and not _FENCE.match(lines[i]):
            rows.append([cell.strip() for cell in lines[i].split("\t")])
            i += 1
        width = max(len(r) for r in rows)
        for n, row in enumerate(rows):
            out.append("| " + " | ".join(row + [""] * (width - len(row))) + " |")
            if n == 0:
                out.append("|" + "---|" * width)
    return out


def strip_margin_notes(text: str, role: Role = "assistant") -> str:
    """Remove the student's margin notes from one turn of a write-up (see the heuristics above).

    Tab-separated tables of the PDF conversion become Markdown pipe tables.
    """
    out: list[str] = []
    paragraph: list[str] = []

    def flush() -> None:
        if paragraph and not (_is_margin_column(paragraph) or _is_reaction(paragraph)):
            out.extend(paragraph)
        paragraph.clear()

    in_fence = False
    for raw in text.splitlines():
        line = raw.rstrip()
        if _FENCE.match(line):
            if not in_fence:
                flush()
            in_fence = not in_fence
            out.append(line)
            continue
        if in_fence:
            out.append(line)
            continue
        stripped = _strip_line(line)
        if stripped is None:
            continue
        if not stripped.strip():
            flush()
            out.append("")
            continue
        paragraph.append(stripped)
    flush()
    return _collapse_blank_lines("\n".join(_pipe_tables(out))).strip()


# --- alignment ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Exchange:
    """A user turn and the assistant's reply to it."""

    user: str
    assistant: str
    line: int | None = None


@dataclass(frozen=True)
class AlignedTranscript:
    """The exchanges of a transcript, placed: the opening, then per problem in order of appearance."""

    transcript: Transcript
    opening: Exchange | None
    problems: dict[str, tuple[Exchange, ...]]
    skipped: tuple[tuple[Exchange, str], ...] = ()


_QUESTION_REF = re.compile(r"\b(?:question|problem|exercise)\s*#?\s*(\d+)\b|\bQ(\d+)\b", re.IGNORECASE)
_NEXT_QUESTION = re.compile(r"\bnext (?:question|problem|one)\b|\bmove on(?:to)?\b", re.IGNORECASE)
_PART_HEADING = re.compile(r"(?:^|\n)\s*(?:\*\*)?(?:part\s*)?\([a-z]\)", re.IGNORECASE)


def _exchanges(turns: tuple[TranscriptTurn, ...]) -> tuple[list[Exchange], list[tuple[Exchange, str]]]:
    out: list[Exchange] = []
    skipped: list[tuple[Exchange, str]] = []
    pending: TranscriptTurn | None = None
    for turn in turns:
        if turn.role == "user":
            pending = turn
        elif pending is not None:
            out.append(Exchange(pending.content, turn.content, pending.line))
            pending = None
        elif not out:  # a reply before any user turn: the opening, with no recorded request
            out.append(Exchange("", turn.content, turn.line))
        else:  # unreachable after merging consecutive turns, kept for JSON oddities
            prev = out[-1]
            out[-1] = Exchange(prev.user, prev.assistant + "\n\n" + turn.content, prev.line)
    if pending is not None:
        skipped.append((Exchange(pending.content, "", pending.line), "the last user turn has no reply"))
    return out, skipped


def _problem_numbers(suite: Suite) -> dict[int, str]:
    """Question number → problem id: the last number in the id (``q6`` → 6), else the position."""
    numbers: dict[int, str] = {}
    for pos, lp in enumerate(suite.problems, 1):
        m = re.search(r"(\d+)\D*$", lp.id)
        numbers.setdefault(int(m.group(1)) if m else pos, lp.id)
    return numbers


def _named_problem(text: str, suite: Suite, numbers: dict[int, str]) -> tuple[str | None, int | None]:
    """The problem a user turn names (by number, else by title), and a named number not in the suite."""
    refs = [int(a or b) for a, b in _QUESTION_REF.findall(text)]
    if refs:
        return numbers.get(refs[-1]), (None if refs[-1] in numbers else refs[-1])
    lowered = text.lower()
    for lp in suite.problems:
        if len(lp.problem.title) >= 8 and lp.problem.title.lower() in lowered:
            return lp.id, None
    return None, None


def _looks_like_question(text: str, suite: Suite) -> bool:
    if _PART_HEADING.search(text):
        return True
    return any(p.prompt[:40].lower() in text.lower() for lp in suite.problems for p in lp.problem.parts[:1])


def align(transcript: Transcript, suite: Suite) -> AlignedTranscript:
    """Place each exchange: the opening, or the problem it is about (see the module docstring)."""
    exchanges, skipped = _exchanges(transcript.turns)
    numbers = _problem_numbers(suite)
    order = [lp.id for lp in suite.problems]
    placed: dict[str, list[Exchange]] = {}
    opening: Exchange | None = None
    current: str | None = None
    outside: int | None = None  # a question outside the problem set, whose follow-ups are skipped too
    for i, ex in enumerate(exchanges):
        named, unknown = _named_problem(ex.user, suite, numbers)
        if unknown is not None:
            skipped.append((ex, f"asks about question {unknown}, which is not in the problem set"))
            outside = unknown
            continue
        if named is None and outside is not None and not _NEXT_QUESTION.search(ex.user):
            skipped.append((ex, f"follows up on question {outside}, which is not in the problem set"))
            continue
        outside = None
        if named is None and i == 0 and len(exchanges) > 1 and not _looks_like_question(ex.user, suite):
            opening = ex
            continue
        if named is None and (current is None or _NEXT_QUESTION.search(ex.user)):
            after = order.index(current) + 1 if current is not None else 0
            named = next((pid for pid in order[after:] if pid not in placed), None)
            if named is None:
                skipped.append((ex, "no question of the problem set is left to assign it to"))
                continue
        if named is not None:
            current = named
        assert current is not None
        placed.setdefault(current, []).append(ex)
    return AlignedTranscript(
        transcript, opening, {pid: tuple(exs) for pid, exs in placed.items()}, tuple(skipped)
    )


# --- grading -------------------------------------------------------------------------------------------


class _NullRecorder:
    def event(self, type: str, **data: Any) -> None:
        return None


@dataclass(frozen=True)
class TurnVerdict:
    """What one exchange of a problem turned out to be: the question, a hint, or a follow-up."""

    problem: str
    index: int  # 0 = the question; n = the n-th later user turn about the problem
    kind: Literal["question", "hint", "followup"]
    parts: tuple[str, ...]  # graded on the reply: all for the question, the failing ones for a hint


def _message(recorder: Any, conv: str, index: int, role: Role, content: str, turn: dict[str, Any]) -> None:
    recorder.event("message", conv=conv, index=index, role=role, content=content, turn=turn)


def grade_problem(
    lp: LoadedProblem,
    exchanges: tuple[Exchange, ...],
    opening: tuple[Message, ...] = (),
    *,
    sandbox: Any = None,
    recorder: Any = None,
    conv: str | None = None,
) -> tuple[ConversationResult, list[TurnVerdict]]:
    """Grade one problem's exchanges the way the live loop grades its conversation."""
    recorder = recorder or _NullRecorder()
    conv = conv or lp.id
    part_ids = [p.id for p in lp.problem.parts]
    states = {pid: PartState(pid) for pid in part_ids}
    messages = list(opening)
    verdicts: list[TurnVerdict] = []
    recorder.event("conversation_start", conv=conv, problem=lp.id, sample=0, prefix=len(messages))
    hint_number = 0
    for index, ex in enumerate(exchanges):
        if index == 0:
            kind: Literal["question", "hint", "followup"] = "question"
            graded = part_ids
            turn = {"kind": "question", "problem": lp.id, "hint": 0}
        else:
            graded = [pid for pid in part_ids if needs_help(states[pid].attempts[-1].grade)]
            kind = "hint" if graded else "followup"
            if graded:
                hint_number += 1
                for pid in graded:
                    states[pid].hints_sent.append(ex.user)
                recorder.event(
                    "hint",
                    conv=conv,
                    problem=lp.id,
                    number=hint_number,
                    parts=graded,
                    texts=[ex.user] * len(graded),
                )
            else:
                recorder.event("followup", conv=conv, problem=lp.id, number=index)
            turn = {"kind": kind, "problem": lp.id, "hint": hint_number if graded else 0}
        messages.append(Message("user", ex.user))
        _message(recorder, conv, len(messages) - 1, "user", ex.user, turn)
        messages.append(Message("assistant", ex.assistant))
        _message(recorder, conv, len(messages) - 1, "assistant", ex.assistant, turn)
        if graded:
            sections = sections_for(ex.assistant, lp, list(graded))
            for pid in graded:
                grade_attempt(lp, states[pid], sections[pid], ex.assistant, sandbox, recorder, conv)
        verdicts.append(TurnVerdict(lp.id, index, kind, tuple(graded)))
    parts = tuple(part_result(lp, states[pid]) for pid in part_ids)
    for part in parts:
        recorder.event("part_result", conv=conv, **part.to_json())
    recorder.event("conversation_end", conv=conv, problem=lp.id, usage=Usage().to_json())
    result = ConversationResult(
        problem=lp.id,
        title=lp.problem.title,
        parts=parts,
        messages=tuple(messages),
        usage=Usage(),  # a transcript records no token counts
        model_calls=len(exchanges),
    )
    return result, verdicts


def grade_turns(
    aligned: AlignedTranscript, suite: Suite, *, sandbox: Any = None, recorder: Any = None
) -> tuple[list[ConversationResult], list[TurnVerdict]]:
    """Grade every problem of ``suite`` that the transcript asks, in suite order."""
    recorder = recorder or _NullRecorder()
    opening: tuple[Message, ...] = ()
    if aligned.opening is not None:
        opening = (Message("user", aligned.opening.user), Message("assistant", aligned.opening.assistant))
        turn = {"kind": "opening", "problem": None, "hint": 0}
        _message(recorder, "opening", 0, "user", aligned.opening.user, turn)
        _message(recorder, "opening", 1, "assistant", aligned.opening.assistant, turn)
    results: list[ConversationResult] = []
    verdicts: list[TurnVerdict] = []
    for lp in suite.problems:
        exchanges = aligned.problems.get(lp.id)
        if not exchanges:
            recorder.event("problem_not_in_transcript", problem=lp.id)
            continue
        result, turns = grade_problem(
            lp, exchanges, opening, sandbox=sandbox, recorder=recorder, conv=f"s0/{lp.id}"
        )
        results.append(result)
        verdicts.extend(turns)
    return results, verdicts


# --- the api-level entry point --------------------------------------------------------------------------


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for pkg in ("evalkit", "pydantic", "sympy", "torch"):
        try:
            out[pkg] = importlib.metadata.version(pkg)
        except importlib.metadata.PackageNotFoundError:
            pass
    return out


@contextmanager
def _judging(judge: Any) -> Iterator[str | None]:
    """Grade ``criteria`` checks with ``judge`` (a model name or Model) inside the block."""
    if judge is None:
        yield None
        return
    from evalkit.checks.criteria import use_judge
    from evalkit.models.registry import resolve_model

    model = resolve_model(judge) if isinstance(judge, str) else judge
    with use_judge(model) as session:
        try:
            yield session.name
        finally:
            if isinstance(judge, str):
                session.call(model.aclose())


def grade_transcript(
    path: str | Path,
    problems: str | Path | None = None,
    rubrics: str | Path | None = None,
    runs_dir: str | Path | None = None,
    judge: Any = None,
    *,
    format: Format = "auto",
    progress: Callable[[str], None] | None = None,
) -> RunResult:
    """Grade the transcript at ``path`` and write a run directory, like ``evalkit run``.

    ``problems`` is a file, directory or glob (default ``problems/*.yaml``); ``judge``
    is an optional model (name or :class:`~evalkit.models.base.Model`) that grades
    ``criteria`` checks. Returns an :class:`evalkit.api.RunResult` whose model is
    ``transcript:<file stem>``; problems the transcript never asks are left out.

    Example::

        result = grade_transcript("seeds/hw9.txt", problems="problems/hw9_*.yaml")
        [(p.problem, p.part, p.status) for p in result.parts]
    """

    progress = progress or (lambda _msg: None)
    path = Path(path)
    paths = {
        "problems": str(problems or default_dir("problems") / "*.yaml"),
        "rubrics": str(rubrics or default_dir("rubrics")),
        "runs_dir": str(runs_dir or default_dir("runs")),
    }
    transcript = read_transcript(path, format=format)
    suite = load_suite(paths["problems"], paths["rubrics"])
    aligned = align(transcript, suite)
    asked = [lp.id for lp in suite.problems if lp.id in aligned.problems]
    if not asked:
        raise TranscriptError(
            f"{path}: no question of the problem set ({', '.join(lp.id for lp in suite.problems)}) is asked "
            "in the transcript; name them in the user turns ('question 3') or pass --problems"
        )
    model_name = f"transcript:{path.stem}"
    config = {
        "model": model_name,
        "requested_model": model_name,
        "transcript": str(path),
        "transcript_format": transcript.format,
        "suite": suite.name,
        "problems": asked,
        "problem_files": [str(lp.path) for lp in suite.problems if lp.id in asked],
        "content_hash": suite.content_hash,
        "paths": paths,
        "judge": judge if isinstance(judge, str) or judge is None else getattr(judge, "name", "judge"),
        "versions": _versions(),
    }
    store = RunStore.create(Path(paths["runs_dir"]), model_name, suite.name, config)
    progress(f"run directory: {store.path}")
    store.event("run_start", model=model_name, suite=suite.name, source="transcript")
    for ex, why in aligned.skipped:
        store.event("transcript_skipped", line=ex.line, user=ex.user[:500], reason=why)
    try:
        with _judging(judge):
            conversations, _ = grade_turns(aligned, suite, recorder=store)
        result = RunResult(store.path, model_name, suite.name, tuple(conversations))
        store.write_results(result.to_json())
        store.event("run_end", status="complete")
        return result
    except BaseException as err:
        store.event("run_end", status="interrupted", error=type(err).__name__)
        raise
    finally:
        store.close()
