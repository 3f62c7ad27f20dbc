"""Aligning a transcript's turns to the problem set, and grading them like the live loop.

A user turn that names a question ("question 3", "Q4", "Let's move onto
question 4") starts that problem; one that names no question continues the
current one; the first exchange, if it names none, is the opening. Grading
follows the live loop: the first reply to a question is attempt 1 of every
part; each later user turn about the same question is a *hint* for the parts
failing at that point (they are re-graded on the reply: attempt + 1, hints + 1)
or, when no part is failing, a *follow-up* that changes nothing.
:func:`grade_transcript` reads, aligns and grades a file and writes a run
directory, like ``evalkit run``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from evalkit.api import RunResult
from evalkit.checks.base import Status
from evalkit.conversation import ConversationResult, NullRecorder, PartState, grade_reply, part_result
from evalkit.errors import TranscriptError
from evalkit.extract import headed_questions, read_reply, split_questions
from evalkit.extract.layout import MAX_SCAN
from evalkit.extract.spans import plain_markup
from evalkit.extract.words import (
    QUESTION_PLURALS,
    QUESTION_PREFIXES,
    QUESTION_SUFFIXES,
    QUESTION_WORDS,
    halfwidth,
)
from evalkit.grading import needs_help
from evalkit.models.base import Message, Usage
from evalkit.paths import default_dir
from evalkit.probes import (
    ProbeResult,
    classify_turn,
    grade_probe,
    matching_probe,
    probe_key,
    undeclared_probe,
)
from evalkit.spec.models import Probe
from evalkit.spec.suite import LoadedProblem, Suite, load_suite
from evalkit.store import RunStore, package_versions
from evalkit.transcript.formats import Format, Role, Transcript, TranscriptTurn, read_transcript
from evalkit.transcript.topics import Topics, agrees, named_parts, topic_part

__all__ = [
    "AlignedTranscript",
    "Exchange",
    "TurnVerdict",
    "align",
    "grade_problem",
    "grade_transcript",
    "grade_turns",
]

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


# 'and', 'then', a range ... between two question numbers, in the languages of evalkit.extract.words
_JOIN = r",|and|&|/|\+|-|–|to|then|e|y|et|und|和|与|與|及|跟|と|~|〜|至|到"
_QUESTION_LIST = re.compile(
    rf"(?<![A-Za-z])(?:questions?|problems?|exercises?|q|{QUESTION_PLURALS}|{QUESTION_WORDS})\s*#?\s*(\d{{1,2}}[a-z]?"
    r"(?:\s*\([^()\n]{0,60}\))?"  # 'questions 2 (argmax attention) and 6 (kernels)'
    rf"(?:\s*(?:{_JOIN})\s*(?:(?:q|{QUESTION_WORDS})\s*)?\d{{1,2}}[a-z]?(?:\s*\([^()\n]{{0,60}}\))?)*)(?![0-9])"
    # '第4题', '第1、4题', '第1和第4题', '第 2 問'
    rf"|(?:{QUESTION_PREFIXES})\s*(\d{{1,2}}(?:\s*(?:{_JOIN})\s*(?:{QUESTION_PREFIXES})?\s*\d{{1,2}})*)\s*(?:{QUESTION_SUFFIXES})",
    re.IGNORECASE,
)
_NEXT_QUESTION = re.compile(r"\bnext (?:question|problem|one)\b|\bmove on(?:to)?\b", re.IGNORECASE)
_NEW_REQUEST = re.compile(
    r"\b(?:let'?s (?:do|start|try|move|go|look|tackle|work)|move on|next|now (?:the|let'?s|on to|for)|"
    r"what about|how about|can you (?:do|solve|answer|help|walk)|could you (?:do|solve|answer|help|walk)|"
    r"walk me through|on to|onto|start with|begin with|turn to)\b",
    re.IGNORECASE,
)
_OFF_TOPIC = re.compile(
    r"\b(?:unrelated|off[- ]topic|side question|different topic|general question|random question|"
    r"not (?:part of|about|related to|for) (?:the|my|this) (?:homework|hw|assignment|problem set|questions?))\b",
    re.IGNORECASE,
)
_PART_HEADING = re.compile(r"(?:^|\n)\s*(?:\*\*)?(?:part\s*)?\([a-z]\)", re.IGNORECASE)
_MIN_FIT = 0.2  # below this, a substantial reply is not about the problem (HW9's own replies fit 0.33-0.89)


_PART_REF = re.compile(r"\b[Qq]?(\d{1,2})\s*(?:\(\s*([a-z])\s*\)|([a-hA-H])\b(?![\w-]))")


def _question_refs(text: str, parts: dict[int, set[str]] | None = None) -> list[int]:
    """The question numbers a user turn names, in order: 'question 3', 'questions 1 and 4', 'Q2',
    'Q1-Q3', and a question's part ('4(g)', '2a') when that question has such a part (``parts``)."""
    found: list[tuple[int, int]] = []
    text = halfwidth(text)  # '第1、4题', '問１' as '第1,4题', '問1'
    for m in _QUESTION_LIST.finditer(text):
        listed = m.group(1) or m.group(2)
        items = re.findall(r"(\d{1,2})[a-z]?|(-|–|to|~|〜|至|到)", re.sub(r"\([^()]*\)", " ", listed))
        prev = None
        span = False
        for number, dash in items:
            if dash:
                span = True
                continue
            n = int(number)
            if span and prev is not None and prev < n <= prev + 10:
                found += [(m.start(), k) for k in range(prev + 1, n + 1)]
            else:
                found.append((m.start(), n))
            prev, span = n, False
    for m in _PART_REF.finditer(text):
        n, letter = int(m.group(1)), (m.group(2) or m.group(3)).lower()
        if parts is not None and letter in parts.get(n, set()):
            found.append((m.start(), n))
    seen: list[int] = []
    for _, n in sorted(found):
        if n not in seen:
            seen.append(n)
    return seen


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


def _looks_like_question(text: str, suite: Suite) -> bool:
    if _PART_HEADING.search(text):
        return True
    return any(p.prompt[:40].lower() in text.lower() for lp in suite.problems for p in lp.problem.parts[:1])


@dataclass(frozen=True)
class _Named:
    """What a user turn names: problems of the suite (in order), and question numbers outside it."""

    problems: tuple[str, ...]
    outside: tuple[int, ...]


def _named(
    text: str, numbers: dict[int, str], topics: Topics, *, request: bool, parts: dict[int, set[str]]
) -> _Named:
    refs = _question_refs(text, parts)
    if refs:
        inside = tuple(dict.fromkeys(numbers[n] for n in refs if n in numbers))
        return _Named(inside, tuple(n for n in refs if n not in numbers))
    if request:  # by title or topic, only where the turn asks for a new question
        return _Named(tuple(topics.named(text)), ())
    return _Named((), ())


_UNQUALIFIED_PART = re.compile(r"(?<![\w(])(?:parts?\s*)?\(\s*([a-h])\s*\)|\bpart\s+([a-h])\b", re.IGNORECASE)


def _about_current(user: str, current: tuple[str, ...], suite: Suite) -> bool:
    """Whether a turn that asks for a new question first follows up on a part of the current one:
    a part named without a question number ('For (a): ...') before the new question is named."""
    first_ref = re.search(
        r"\b(?:q|question|problem|exercise)\s*\d|\b\d{1,2}\s*\(?[a-h]\b", user, re.IGNORECASE
    )
    before = user[: first_ref.start()] if first_ref else user
    letters = {p.id.split(".")[0].lower() for pid in current for p in suite.get(pid).problem.parts}
    return any((m.group(1) or m.group(2)).lower() in letters for m in _UNQUALIFIED_PART.finditer(before))


def _split_reply(reply: str, pids: tuple[str, ...], numbers: dict[int, str], suite: Suite) -> dict[str, str]:
    """The portion of a reply that answers each of several problems asked in one turn; the first of
    them, when the reply gives it no question heading, gets the text before the others' headings."""
    by_number = {pid: n for n, pid in numbers.items()}
    # a reply in HTML ('<b>Question 6: ...</b><br>') is split by the headings it shows
    parts = split_questions(plain_markup(reply), [by_number[pid] for pid in pids], lead=by_number[pids[0]])
    if parts:
        return {pid: parts.get(by_number[pid], "") for pid in pids}
    return {pid: reply for pid in pids}


def _by_content(ex: Exchange, topics: Topics, placed: dict[str, list[Exchange]]) -> tuple[str, ...]:
    """The question an exchange that names none is about, when its words clearly fit one not yet asked."""
    text = f"{ex.user}\n{ex.assistant}"
    if not Topics.substantial(text):
        return ()
    fits = [(fit, pid) for pid, fit in topics.best(text) if pid not in placed]
    if not fits or fits[0][0] < _MIN_FIT or (len(fits) > 1 and fits[0][0] < 1.5 * fits[1][0]):
        return ()
    pid = fits[0][1]
    labels = [(p.label or p.id).strip("()").replace(")(", ".") for p in topics.problem(pid).parts]
    # an answer to it, not talk about it: the reply has headings for its parts
    return (pid,) if read_reply(ex.assistant, labels).headed else ()


def _best_fitting(current: tuple[str, ...], ex: Exchange, topics: Topics) -> tuple[str, ...]:
    """Of the questions a follow-up may be about, the one its words clearly fit, else all of them."""
    if len(current) < 2:
        return current
    text = f"{ex.user}\n{ex.assistant}"
    fits = sorted(((topics.fit(pid, text), pid) for pid in current), reverse=True)
    if fits[0][0] > 0 and fits[0][0] >= 1.5 * fits[1][0]:
        return (fits[0][1],)
    return current


def align(transcript: Transcript, suite: Suite) -> AlignedTranscript:
    """Place each exchange: the opening, or the problem(s) it is about (see the module docstring)."""
    exchanges, skipped = _exchanges(transcript.turns)
    numbers = _problem_numbers(suite)
    topics = Topics(suite)
    letters = {
        n: {p.id.split(".")[0].lower() for p in suite.get(pid).problem.parts} for n, pid in numbers.items()
    }
    order = [lp.id for lp in suite.problems]
    placed: dict[str, list[Exchange]] = {}
    opening: Exchange | None = None
    current: tuple[str, ...] = ()
    outside: tuple[int, ...] = ()  # a question outside the problem set, whose follow-ups are skipped too
    for i, ex in enumerate(exchanges):
        request = i == 0 or bool(_NEW_REQUEST.search(ex.user)) or not placed
        named = _named(ex.user, numbers, topics, request=request, parts=letters)
        if not named.problems and not named.outside and request:
            named = _Named(_by_content(ex, topics, placed), ())
        if named.outside and not named.problems:
            asked = ", ".join(map(str, named.outside))
            which = "question" if len(named.outside) == 1 else "questions"
            skipped.append(
                (
                    ex,
                    f"asks about {which} {asked}, which {'is' if len(named.outside) == 1 else 'are'} not in the problem set",
                )
            )
            outside = named.outside
            continue
        if not named.problems and outside and not _NEXT_QUESTION.search(ex.user):
            skipped.append((ex, f"follows up on question {outside[0]}, which is not in the problem set"))
            continue
        outside = ()
        if current and _OFF_TOPIC.search(ex.user) and not _PART_REF.search(ex.user):
            skipped.append((ex, "a question the student calls unrelated to the homework"))
            continue
        if not named.problems and i == 0 and len(exchanges) > 1 and not _looks_like_question(ex.user, suite):
            opening = ex
            continue
        targets = named.problems
        if (
            targets
            and current
            and not set(current) & set(targets)
            and _about_current(ex.user, current, suite)
        ):
            targets = (
                *current,
                *targets,
            )  # 'For (a): ... Also can you do Q2?': the current one and the new one
        if not targets and (not current or _NEXT_QUESTION.search(ex.user)):
            after = max(order.index(p) for p in current) + 1 if current else 0
            nxt = next((pid for pid in order[after:] if pid not in placed), None)
            if nxt is None:
                skipped.append((ex, "no question of the problem set is left to assign it to"))
                continue
            targets = (nxt,)
        if not targets:
            targets = _best_fitting(current, ex, topics)
        portions = (
            _split_reply(ex.assistant, targets, numbers, suite)
            if len(targets) > 1
            else {targets[0]: ex.assistant}
        )
        kept = []
        for pid in targets:
            portion = portions[pid]
            if (
                pid not in placed
                and Topics.substantial(portion)
                and topics.fit(pid, portion) < _MIN_FIT
                and not headed_questions(portion) & {n for n, q in numbers.items() if q == pid}
                and not any(_labels_question(portion, n) for n, q in numbers.items() if q == pid)
            ):  # (a reply in another language, or in LaTeX alone, fits no English vocabulary; its
                # headings and labels ('**Question 1(a)**', '### 1(c)') still name the question)
                title = suite.get(pid).problem.title
                skipped.append(
                    (
                        ex,
                        f"the reply does not fit {pid} ({title}): it is about something else, so it is not graded against it",
                    )
                )
                continue
            placed.setdefault(pid, []).append(Exchange(ex.user, portion, ex.line))
            kept.append(pid)
        if kept:
            current = tuple(kept)
    return AlignedTranscript(
        transcript, opening, {pid: tuple(exs) for pid, exs in placed.items()}, tuple(skipped)
    )


# --- grading -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TurnVerdict:
    """What one exchange of a problem turned out to be: the question, a hint, or a follow-up."""

    problem: str
    index: int  # 0 = the question; n = the n-th later user turn about the problem
    kind: Literal["question", "hint", "followup", "probe"]
    parts: tuple[str, ...]  # graded on the reply: all for the question, the failing ones for a hint
    changed: tuple[str, ...] = ()  # parts that got a new attempt from the reply
    probe: str | None = None  # a probe the rubric declares, as part:probe (a cassette replays its reply)


def _message(recorder: Any, conv: str, index: int, role: Role, content: str, turn: dict[str, Any]) -> None:
    recorder.event("message", conv=conv, index=index, role=role, content=content, turn=turn)


def _unanswered(state: PartState) -> bool:
    """Whether no reply has answered the part yet (every attempt found no answer)."""
    return bool(state.attempts) and all(a.grade.reason == "no_answer" for a in state.attempts)


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
    recorder = recorder or NullRecorder()
    conv = conv or lp.id
    part_ids = [p.id for p in lp.problem.parts]
    states = {pid: PartState(pid) for pid in part_ids}
    messages = list(opening)
    verdicts: list[TurnVerdict] = []
    recorder.event("conversation_start", conv=conv, problem=lp.id, sample=0, prefix=len(messages))
    hint_number = 0
    probes: list[ProbeResult] = []
    probing: tuple[str, Probe] | None = None
    asked: set[str] = set()  # the parts a turn has asked for so far (the question's first turn: all it names)
    for index, ex in enumerate(exchanges):
        also: list[str] = []
        whole: list[str] | None = None
        if index == 0:
            kind: Literal["question", "hint", "followup", "probe"] = "question"
            graded = part_ids
            # 'give me the blanks (a)-(h)' asks part (a) only: an answer without headings is (a)'s
            whole = [pid for pid in named_parts(ex.user, lp) if pid in part_ids] or None
            asked.update(whole or part_ids)
            turn = {"kind": "question", "problem": lp.id, "hint": 0}
        else:
            # a later turn is a hint for the failing parts it names (all failing parts if it names none);
            # the other parts it names, or the one its words are about when the reply concedes a point,
            # are re-graded too, and change only if the reply changed their verdict
            named = named_parts(ex.user, lp)
            # a part no turn asked for yet, asked now, starts here; one the model was asked for and skipped
            # (cut off, refused, forgot) keeps that first unanswered attempt, as in a live run
            fresh = [pid for pid in named if _unanswered(states[pid]) and pid not in asked]
            asked.update(named)
            for pid in fresh:
                states[pid] = PartState(pid)
            failing = [pid for pid in part_ids if pid not in fresh and needs_help(states[pid].latest.grade)]
            graded = [pid for pid in failing if pid in named] if named else failing
            also = [pid for pid in named if pid not in graded]
            if not named and agrees(ex.assistant):
                about = topic_part(ex.user, lp)
                if about is not None and about not in graded:
                    also.append(about)
            kind = "hint" if graded else "followup"
            probing = None if graded or fresh else _probe_of(lp, ex.user, states, named)
            if probing is not None:
                kind = "probe"
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
                recorder.event("followup", conv=conv, problem=lp.id, number=index, parts=also)
            turn = {"kind": kind, "problem": lp.id, "hint": hint_number if graded else 0}
            if probing is not None:
                turn["probe"] = probe_key(probing[0], probing[1].name)
                before = {pid: st.latest.status for pid, st in states.items() if st.attempts}
                history = tuple(states[probing[0]].sections)
        messages.append(Message("user", ex.user))
        _message(recorder, conv, len(messages) - 1, "user", ex.user, turn)
        messages.append(Message("assistant", ex.assistant))
        _message(recorder, conv, len(messages) - 1, "assistant", ex.assistant, turn)
        if index > 0 and fresh:
            also = [pid for pid in also if pid not in fresh]
            changed = grade_reply(
                lp, states, ex.assistant, [*graded, *fresh], sandbox, recorder, conv, also=also
            )
        else:
            changed = grade_reply(
                lp, states, ex.assistant, graded, sandbox, recorder, conv, also=also, whole=whole
            )
        if index > 0 and probing is not None:
            probes.append(
                _graded_probe(lp, probing, ex, before[probing[0]], history, sandbox, recorder, conv)
            )
        declared = (
            probe_key(probing[0], probing[1].name)
            if index > 0 and probing is not None and probing[1] in lp.part_rubric(probing[0]).probes
            else None
        )
        verdicts.append(TurnVerdict(lp.id, index, kind, tuple(graded), tuple(changed), declared))
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
        probes=tuple(probes),
    )
    return result, verdicts


def _probe_of(
    lp: LoadedProblem, user: str, states: dict[str, PartState], named: list[str]
) -> tuple[str, Probe] | None:
    """The probe a later user turn is, when it is one: a probe the rubric declares that it matches, or
    (classified by its words) a challenge, a claim or the student's own work about one answered part."""
    answers = {pid: st.latest.answer_text for pid, st in states.items() if st.attempts}
    declared = matching_probe(lp, user, answers)
    if declared is not None:
        return declared
    kind = classify_turn(user)
    target = named[0] if len(named) == 1 else topic_part(user, lp) if not named else None
    if kind is None or target is None or not states[target].attempts:
        return None
    return target, undeclared_probe(kind, user)


def _graded_probe(
    lp: LoadedProblem,
    probing: tuple[str, Probe],
    ex: Exchange,
    before: Status,
    history: tuple[str, ...],
    sandbox: Any,
    recorder: Any,
    conv: str,
) -> ProbeResult:
    """Grade a transcript's probe turn as a live run grades a probe's reply, and journal it."""
    part_id, probe = probing
    graded = grade_probe(lp, part_id, probe, ex.assistant, before, history=history, sandbox=sandbox)
    result = ProbeResult.graded(lp, part_id, probe, ex.user, ex.assistant, before, graded)
    recorder.event("probe_result", conv=conv, **result.event())
    return result


def grade_turns(
    aligned: AlignedTranscript, suite: Suite, *, sandbox: Any = None, recorder: Any = None
) -> tuple[list[ConversationResult], list[TurnVerdict]]:
    """Grade every problem of ``suite`` that the transcript asks, in suite order."""
    recorder = recorder or NullRecorder()
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


def _labels_question(reply: str, number: int) -> bool:
    """Whether ``reply`` labels a part with question ``number`` at a line's start: '**Question 1(a)**',
    '### Q1(b)', '1(c):'."""
    return (
        re.search(
            rf"^[ \t>]*(?:#{{1,6}}[ \t]+)?(?:\*\*|__)?[ \t]*(?:question|problem|q)?[ \t]*{number}[ \t]*\([a-h]\)",
            reply[:MAX_SCAN],
            re.IGNORECASE | re.MULTILINE,
        )
        is not None
    )


def grade_transcript(
    path: str | Path,
    problems: str | Path | None = None,
    rubrics: str | Path | None = None,
    runs_dir: str | Path | None = None,
    judge: Any = None,
    *,
    format: Format = "auto",
    progress: Callable[[str], None] | None = None,
    conversation: str | None = None,
    suite: str | None = None,
    report: bool = False,
) -> RunResult:
    """Grade the transcript at ``path`` and write a run directory, like ``evalkit run``.

    ``problems`` is a file, directory or glob (default ``problems/*.yaml``) and
    ``suite`` keeps one homework of them; ``judge`` is an optional model (name or
    :class:`~evalkit.models.base.Model`) that grades ``criteria`` checks;
    ``conversation`` picks one conversation of a ChatGPT or Claude.ai export.
    Returns an :class:`evalkit.api.RunResult` whose model is
    ``transcript:<file stem>``; problems the transcript never asks are left out.
    With ``report`` (as ``evalkit grade-transcript`` does unless ``--no-report``),
    ``report.html`` and, where TeX is installed, ``report.pdf`` are written into
    the run directory, as ``evalkit run`` does.

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
    transcript = read_transcript(path, format=format, conversation=conversation)
    problem_set = load_suite(paths["problems"], paths["rubrics"], suite=suite)
    result = _grade_aligned(path, transcript, problem_set, paths, judge, progress)
    if report:
        from evalkit.report import write_run_reports

        for written in write_run_reports(result.run_dir, progress):
            progress(f"wrote {written}")
    return result


def _grade_aligned(
    path: Path,
    transcript: Transcript,
    suite: Suite,
    paths: dict[str, str],
    judge: Any,
    progress: Callable[[str], None],
) -> RunResult:
    """Align ``transcript`` to ``suite``, grade it and write the run directory (no report)."""
    aligned = align(transcript, suite)
    asked = [lp.id for lp in suite.problems if lp.id in aligned.problems]
    misfits = [why for _, why in aligned.skipped if why.startswith("the reply does not fit")]
    if not asked and misfits:
        raise TranscriptError(
            f"{path}: the transcript's questions do not match the problem set ({misfits[0]}); "
            "pass the problems it is about with --problems or --suite"
        )
    for why in misfits:
        progress(f"not graded: {why}")
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
        "versions": package_versions(),
    }
    store = RunStore.create(Path(paths["runs_dir"]), model_name, suite.name, config)
    progress(f"run directory: {store.path}")
    store.event("run_start", model=model_name, suite=suite.name, source="transcript")
    for ex, why in aligned.skipped:
        store.event("transcript_skipped", line=ex.line, user=ex.user[:500], reason=why)
    try:
        from evalkit.cache import ResponseCache, cached
        from evalkit.checks.criteria import judging, metering  # the check kinds import torch: only now
        from evalkit.runner import JudgeTally

        tally = JudgeTally()  # what the judge costs, in the totals as a run's judge is
        with judging(judge, wrap=lambda model: cached(model, ResponseCache.default())), metering(tally):
            conversations, _ = grade_turns(aligned, suite, recorder=store)
        result = RunResult(store.path, model_name, suite.name, tuple(conversations), judge=tally.spent())
        store.write_results(result.to_json())
        store.event("run_end", status="complete")
        return result
    except BaseException as err:
        store.event("run_end", status="interrupted", error=type(err).__name__)
        raise
    finally:
        store.close()
