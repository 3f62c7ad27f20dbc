"""Reading a transcript: its input formats, and the write-up's margin notes.

* **write-up** — a document like the HW9 participation write-up: role markers
  ``User`` / ``Claude`` (or ``Assistant``) as headings of any level ``#``..``###``
  or as bare lines; a marker repeated across page breaks (``## Claude`` twice)
  continues the same turn; text before the first marker is preamble. The
  student's margin notes are removed (see :func:`strip_margin_notes`).
* **json** — a list of ``{"role": "user"|"assistant", "content": ...}`` messages
  (or ``{"messages": [...]}``); ``system`` messages are skipped.
* **markdown** — ``## User`` / ``## Assistant`` headings, no margin notes.
* **chatgpt**, **claude** — the data exports of ChatGPT and Claude.ai
  (``conversations.json``), one conversation picked by id or title;
  **pdf** — a write-up as PDF (see :mod:`evalkit.transcript.exports`).

Example::

    transcript = read_transcript("seeds/hw9.txt")   # format detected: "writeup"
    [(t.role, t.line) for t in transcript.turns]
    read_transcript("conversations.json", conversation="HW9")    # detected: "chatgpt" or "claude"
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from evalkit.errors import TranscriptError
from evalkit.transcript.exports import detect_export, export_messages, pdf_text

__all__ = [
    "Format",
    "Role",
    "Transcript",
    "TranscriptTurn",
    "parse_transcript",
    "read_transcript",
    "strip_margin_notes",
]

Role = Literal["user", "assistant"]
Format = Literal["auto", "writeup", "json", "markdown", "chatgpt", "claude", "pdf"]
FORMATS = ("auto", "writeup", "json", "markdown", "chatgpt", "claude", "pdf")
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
        try:
            return detect_export(json.loads(text)) or "json"
        except json.JSONDecodeError:
            return "json"  # reported with its line by the JSON reader
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
    return _from_messages(data, source)


def _from_messages(data: list[Any], source: str) -> list[TranscriptTurn]:
    """Turns from ``{role, content}`` messages; consecutive messages of one role make one turn."""
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


def parse_transcript(
    text: str, *, format: Format = "auto", source: str = "<text>", conversation: str | None = None
) -> Transcript:
    """Read a transcript from ``text`` in one of the formats (``auto`` detects it).

    ``conversation`` picks one conversation of a ChatGPT or Claude.ai export by id or title.
    """
    fmt = _detect_format(text, source) if format == "auto" else format
    if conversation is not None and fmt not in ("chatgpt", "claude"):
        raise TranscriptError(
            f"{source}: --conversation picks from a ChatGPT or Claude.ai export; this is {fmt}"
        )
    if fmt == "json":
        turns = _from_json(text, source)
    elif fmt in ("chatgpt", "claude"):
        messages = export_messages(text, fmt, source, conversation)  # type: ignore[arg-type]
        turns = _from_messages([{"role": m.role, "content": m.content} for m in messages], source)
    elif fmt == "pdf":
        raise TranscriptError(f"{source}: a PDF is read from its file (read_transcript), not from text")
    elif fmt == "markdown":
        turns = _split_turns(text, bare=False, clean=_tidy)
    elif fmt == "writeup":
        turns = _split_turns(text, bare=True, clean=strip_margin_notes)
    else:
        raise TranscriptError(f"unknown transcript format {format!r}; expected one of {', '.join(FORMATS)}")
    if not any(t.role == "assistant" for t in turns):
        raise TranscriptError(f"{source}: the transcript has no assistant replies")
    return Transcript(tuple(turns), fmt, source)


def read_transcript(
    path: str | Path, *, format: Format = "auto", conversation: str | None = None
) -> Transcript:
    """Read the transcript file at ``path`` (a ``.pdf`` is a write-up read through ``pdftotext``)."""
    path = Path(path)
    try:
        if path.stat().st_size > _MAX_BYTES:
            raise TranscriptError(f"{path}: larger than {_MAX_BYTES // 1_000_000} MB")
        if format == "pdf" or (format == "auto" and path.suffix.lower() == ".pdf"):
            if conversation is not None:
                raise TranscriptError(
                    f"{path}: --conversation picks from a ChatGPT or Claude.ai export, not a PDF"
                )
            transcript = parse_transcript(pdf_text(path), format="writeup", source=str(path))
            return Transcript(transcript.turns, "pdf", transcript.source)
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise TranscriptError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise TranscriptError(f"{path}: is a directory, expected a transcript file") from None
    except UnicodeDecodeError as err:
        raise TranscriptError(f"{path}: not UTF-8 text ({err.reason} at byte {err.start})") from None
    return parse_transcript(text, format=format, source=str(path), conversation=conversation)


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
