"""What a report says, built from a run directory: the data both templates (HTML and LaTeX) render.

A :class:`RunReport` holds the recap, the opening exchange, and per question
its conversation turn by turn, each assistant turn with the gradings made
from it (the margin) and cut into passages (:class:`Passage`), so that each part's
grading sits beside the part's answer, and each part's final verdict: ``✓ first try``,
``✓ after hint N`` or ``✗``. It is read from ``run.json``, ``journal.jsonl``
and ``results.json`` (or, for a run that did not finish, from the journal
alone), the problem files the run names (if they are still there), and the
reviewer's ``notes.yaml``.

Example::

    report = build_report(api.load_run("latest"))
    [(q.short, [p.verdict for p in q.parts]) for q in report.questions]
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from evalkit.errors import EvalkitError
from evalkit.measures import GOOD_OUTCOMES
from evalkit.models.base import TRUNCATED_STOP_REASONS
from evalkit.report.journal import Conversation, conversation_for, read_journal
from evalkit.report.notes import NOTES_FILE, OPENING, Notes, load_notes
from evalkit.report.placement import cut_reply, part_lines
from evalkit.spec.models import Problem
from evalkit.spec.suite import load_problem_file
from evalkit.store import RunDir

__all__ = [
    "CheckLine",
    "Grading",
    "PartSummary",
    "Passage",
    "ProbeSummary",
    "QuestionReport",
    "Recap",
    "RunReport",
    "Turn",
    "build_report",
]

Outcome = Literal["first_try", "after_hint", "failed", "unscored"]
MARK = {"first_try": "✓", "after_hint": "✓", "failed": "✗", "unscored": "?", "correct": "✓", "incorrect": "✗"}


@dataclass(frozen=True)
class CheckLine:
    """One check of one grading."""

    kind: str
    status: str
    required: bool
    explanation: str
    reason: str | None
    details: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Grading:
    """One part graded on one reply."""

    part: str
    label: str
    attempt: int
    status: str
    checks: tuple[CheckLine, ...]
    notes: tuple[str, ...] = ()
    source: str = ""  # where the grader found the answer: section, summary, whole reply, named, none

    @property
    def verdict(self) -> str:
        if self.status == "correct":
            return "✓ first try" if self.attempt == 1 else f"✓ after hint {self.attempt - 1}"
        if self.status == "unscored":
            return "? not graded"
        return "✗ incorrect" if self.attempt == 1 else "✗ still incorrect"

    @property
    def explanation(self) -> str:
        """The checks' explanations, those that did not pass first."""
        failing = [c for c in self.checks if c.status != "correct" and c.required]
        chosen = failing or list(self.checks)
        return "; ".join(f"{c.kind}: {c.explanation}" for c in chosen if c.explanation)


@dataclass(frozen=True)
class Passage:
    """A stretch of a message from line ``line`` on, and the gradings shown beside it: those of the parts
    whose answers start in it (the first passage also has those found elsewhere, or in the whole reply)."""

    text: str
    gradings: tuple[Grading, ...] = ()
    line: int = 0


@dataclass(frozen=True)
class Turn:
    """One message of a conversation, numbered from 1 after the shared opening."""

    number: int
    role: str
    text: str
    kind: str  # opening | question | hint
    anchor: str
    hint: int = 0
    hinted_parts: tuple[str, ...] = ()
    gradings: tuple[Grading, ...] = ()
    notes: tuple[str, ...] = ()
    input_tokens: int | None = None
    output_tokens: int | None = None
    stop_reason: str | None = None
    truncated: bool = False  # the reply stopped on the length limit (--max-tokens or the context)
    passages: tuple[Passage, ...] = ()  # the text cut where each part's answer starts; () = not cut

    @property
    def shown(self) -> tuple[Passage, ...]:
        """The passages the report shows: the text, cut beside the parts' answers, the margin with them."""
        return self.passages or (Passage(self.text, self.gradings),)


@dataclass(frozen=True)
class PartSummary:
    """A part's final result."""

    id: str
    label: str
    prompt: str
    status: str
    outcome: Outcome
    attempts: int
    became_correct_at: int | None
    hints: int
    hint_texts: tuple[str, ...]
    points: float
    max_points: float
    explanation: str
    cost_usd: float | None
    checks: tuple[CheckLine, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def needed_help(self) -> bool:
        return self.outcome != "first_try"

    @property
    def mark(self) -> str:
        return MARK[self.outcome]

    @property
    def verdict(self) -> str:
        if self.outcome == "first_try":
            return "✓ first try"
        if self.outcome == "after_hint":
            return f"✓ after hint {(self.became_correct_at or 2) - 1}"
        if self.outcome == "unscored":
            return "? not graded"
        return "✗ failed" + (
            f" after {self.hints} hint{'s' if self.hints != 1 else ''}" if self.hints else ""
        )

    @property
    def winning_hint(self) -> str | None:
        """The hint after which the part became correct."""
        if self.outcome == "after_hint" and self.became_correct_at and self.hint_texts:
            return self.hint_texts[min(self.became_correct_at - 2, len(self.hint_texts) - 1)]
        return None


_PROBE_MARK = {"located": "½", "unscored": "?", "not_run": "–"}  # the rest: ✓ if it went well, else ✗
_PROBE_KIND = {
    "challenge": "Challenge",
    "misconception": "Misconception",
    "valid_point": "Valid point",
    "student_work": "Student's work",
    "claim": "Claim",
}


@dataclass(frozen=True)
class ProbeSummary:
    """One student probe: the student's turn, the tutor's reply and the outcome (the margin)."""

    part: str
    label: str  # the part's heading, '(b)'
    probe: str
    kind: str
    outcome: str
    user: str
    reply: str
    explanation: str
    before: str | None = None
    after: str | None = None

    @property
    def ran(self) -> bool:
        return self.outcome != "not_run"

    @property
    def kind_label(self) -> str:
        return _PROBE_KIND.get(self.kind, self.kind)

    @property
    def mark(self) -> str:
        return _PROBE_MARK.get(self.outcome) or ("✓" if self.outcome in GOOD_OUTCOMES else "✗")

    @property
    def verdict(self) -> str:
        return f"{self.mark} {self.outcome.replace('_', ' ')}"

    @property
    def good(self) -> bool | None:
        return {"✓": True, "✗": False}.get(self.mark)


@dataclass(frozen=True)
class QuestionReport:
    number: int
    id: str
    short: str  # "Q3"
    title: str
    statement: str
    parts: tuple[PartSummary, ...]
    turns: tuple[Turn, ...]
    points: float
    max_points: float
    input_tokens: int
    output_tokens: int
    model_calls: int
    cost_usd: float | None
    stopped: str | None
    notes: tuple[str, ...] = ()
    probes: tuple[ProbeSummary, ...] = ()  # the student probes sent once the parts were answered
    sample: int = 0

    @property
    def anchor(self) -> str:
        return _anchor(self.id, self.sample)

    @property
    def probes_run(self) -> tuple[ProbeSummary, ...]:
        return tuple(p for p in self.probes if p.ran)

    @property
    def needed_help(self) -> bool:
        return any(p.needed_help for p in self.parts)

    @property
    def one_shot(self) -> bool:
        return bool(self.parts) and not self.needed_help


@dataclass(frozen=True)
class Recap:
    parts: int
    correct: int
    first_try: int
    hints: int
    points: float
    max_points: float
    input_tokens: int
    output_tokens: int
    cost_usd: float | None
    one_shot: tuple[QuestionReport, ...]
    helped: tuple[tuple[QuestionReport, PartSummary], ...]
    failed: tuple[tuple[QuestionReport, PartSummary], ...]
    unscored: tuple[tuple[QuestionReport, PartSummary], ...]
    truncated: int = 0  # replies cut off at the length limit (the opening's included)


@dataclass(frozen=True)
class RunReport:
    run_id: str
    title: str
    model: str
    model_display: str  # "claude-opus-4-5": the model that wrote the replies (the recorded one, for a replay)
    assistant: str  # how the model is named in the conversation ("Claude")
    recorded_model: str | None
    suite: str
    date: str
    finished: bool
    opening: tuple[Turn, ...]
    questions: tuple[QuestionReport, ...]
    recap: Recap
    overview_note: str | None = None
    versions: dict[str, str] = field(default_factory=dict)
    sample: int = 0
    samples: int = 1
    all_samples: bool = False  # every sample's questions, in question order (a run with --samples)


def _anchor(qid: str, sample: int) -> str:
    return "q-" + re.sub(r"[^A-Za-z0-9_-]", "-", qid) + (f"-s{sample}" if sample else "")


# --- reading the run -----------------------------------------------------------------------------------


def _assistant_name(model: str) -> str:
    name = model.split(":", 1)[-1].lower()
    for key, label in (("claude", "Claude"), ("gpt", "GPT"), ("gemini", "Gemini"), ("llama", "Llama")):
        if key in name:
            return label
    return "Assistant"


def _short(problem_id: str, number: int) -> str:
    match = re.match(r"^(?:[a-z]+\d*_)?q(\d+)$", problem_id, re.IGNORECASE)
    return f"Q{match.group(1)}" if match else problem_id if problem_id else f"Q{number}"


def _load_problems(config: dict[str, Any]) -> dict[str, Problem]:
    problems: dict[str, Problem] = {}
    for name in config.get("problem_files") or []:
        try:
            problem = load_problem_file(Path(name))
        except (EvalkitError, OSError):
            continue  # the files moved since the run: the report works without statements
        problems[problem.id] = problem
    return problems


def _checks(raw: list[dict[str, Any]]) -> tuple[CheckLine, ...]:
    out = []
    for c in raw or []:
        details = tuple((str(k), _short_value(v)) for k, v in (c.get("details") or {}).items())
        out.append(
            CheckLine(
                kind=str(c.get("kind", "")),
                status=str(c.get("status", "")),
                required=bool(c.get("required", True)),
                explanation=str(c.get("explanation", "")),
                reason=c.get("reason"),
                details=details,
            )
        )
    return tuple(out)


def _short_value(value: Any, limit: int = 400) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[:limit] + "…"


def _passages(
    text: str, gradings: list[Grading], problem: Problem | None, whole: bool
) -> tuple[Passage, ...]:
    """``text`` cut where the answers of the graded parts start, each grading beside its part's answer."""
    placed = {g.part for g in gradings if g.source == "section"}
    if problem is None or not placed:
        return ()
    lines = {pid: line for pid, line in part_lines(text, problem, whole=whole).items() if pid in placed}
    stretches = cut_reply(text, lines)
    first = [g for g in gradings if g.part not in lines or g.part in stretches[0].parts]
    out = [Passage(stretches[0].text, tuple(first), 0)]
    for stretch in stretches[1:]:
        out.append(Passage(stretch.text, tuple(g for g in gradings if g.part in stretch.parts), stretch.line))
    return tuple(out)


def _turns(
    conv: Conversation,
    anchor: str,
    labels: dict[str, str],
    notes: Notes,
    key: str,
    start: int,
    problem: Problem | None = None,
) -> list[Turn]:
    turns = []
    last_attempt: dict[str, int] = {}  # a part's note goes beside its final verdict
    for checks in conv.checks.values():
        for check in checks:
            part = str(check.get("part", ""))
            last_attempt[part] = max(last_attempt.get(part, 0), int(check.get("attempt", 1)))
    for index in sorted(i for i in conv.messages if i >= start):
        event = conv.messages[index]
        number = index - start + 1
        turn_info = event.get("turn") or {}
        hint_number = int(turn_info.get("hint") or 0)
        hint_event = conv.hints.get(hint_number) if event.get("role") == "user" and hint_number else None
        response = event.get("response") or {}
        usage = response.get("usage") or {}
        gradings = []
        for check in conv.checks.get(index, []) if event.get("role") == "assistant" else []:
            part = str(check.get("part", ""))
            gradings.append(
                Grading(
                    part=part,
                    label=labels.get(part, f"({part})"),
                    attempt=int(check.get("attempt", 1)),
                    status=str(check.get("status", "")),
                    checks=_checks(check.get("checks") or []),
                    notes=tuple(notes.for_part(key, part))
                    if int(check.get("attempt", 1)) == last_attempt.get(part)
                    else (),
                    source=str(check.get("source") or ""),
                )
            )
        text = str(event.get("content", ""))
        turns.append(
            Turn(
                number=number,
                role=str(event.get("role", "user")),
                text=text,
                kind=str(turn_info.get("kind", "")),
                anchor=f"{anchor}-t{number}",
                hint=hint_number,
                hinted_parts=tuple(labels.get(p, p) for p in (hint_event or {}).get("parts", [])),
                gradings=tuple(gradings),
                notes=tuple(notes.for_turn(key, number)),
                input_tokens=usage.get("input_tokens"),
                output_tokens=usage.get("output_tokens"),
                stop_reason=response.get("stop_reason"),
                truncated=bool(
                    response.get("truncated") or response.get("stop_reason") in TRUNCATED_STOP_REASONS
                ),
                passages=_passages(text, gradings, problem, whole=turn_info.get("kind") == "question"),
            )
        )
    return turns


def _outcome(status: str, first: str) -> Outcome:
    if status == "correct":
        return "first_try" if first == "correct" else "after_hint"
    return "failed" if status == "incorrect" else "unscored"


def _part(raw: dict[str, Any], label: str, prompt: str, notes: Notes, problem: str) -> PartSummary:
    history = raw.get("attempt_history") or []
    status = str(raw.get("status", "unscored"))
    return PartSummary(
        id=str(raw.get("part", "")),
        label=label,
        prompt=prompt,
        status=status,
        outcome=_outcome(status, str(raw.get("first_attempt_status", status))),
        attempts=int(raw.get("attempts", len(history))),
        became_correct_at=raw.get("became_correct_at"),
        hints=int(raw.get("hints", 0)),
        hint_texts=tuple(raw.get("hint_texts") or ()),
        points=float(raw.get("points", 0.0)),
        max_points=float(raw.get("max_points", 0.0)),
        explanation=str(raw.get("explanation", "")),
        cost_usd=raw.get("cost_usd"),
        checks=_checks(history[-1].get("checks", [])) if history else (),
        notes=tuple(notes.for_part(problem, str(raw.get("part", "")))),
    )


def _probe(raw: dict[str, Any], labels: dict[str, str]) -> ProbeSummary:
    part = str(raw.get("part", ""))
    return ProbeSummary(
        part=part,
        label=labels.get(part, f"({part})"),
        probe=str(raw.get("probe", "")),
        kind=str(raw.get("kind", "")),
        outcome=str(raw.get("outcome", "unscored")),
        user=str(raw.get("user", "")),
        reply=str(raw.get("reply", "")),
        explanation=str(raw.get("explanation", "")),
        before=raw.get("before"),
        after=raw.get("after"),
    )


def _date(run: RunDir, started: float | None) -> str:
    if started:
        return datetime.fromtimestamp(started, UTC).strftime("%Y-%m-%d %H:%M UTC")
    match = re.match(r"(\d{8}T\d{6})Z", run.id)
    if match:
        return datetime.strptime(match.group(1), "%Y%m%dT%H%M%S").strftime("%Y-%m-%d %H:%M UTC")
    return ""


def build_report(run: RunDir, sample: int | None = 0) -> RunReport:
    """Everything the report shows, read from ``run``; a malformed ``notes.yaml`` raises SpecError.

    A run with several samples per question is reported one sample at a time (``sample``), or with
    ``sample=None`` every sample's conversation, each question's samples one after another.
    """
    if sample is None:
        samples = int(run.config.get("samples") or 1)
        if samples <= 1:
            return build_report(run, 0)
        each = [build_report(run, s) for s in range(samples)]
        questions = sorted(
            (q for report in each for q in report.questions), key=lambda q: (q.number, q.sample)
        )
        totals = (run.results or {}).get("totals") or {}
        return replace(
            each[0], questions=tuple(questions), recap=_recap(questions, totals, list(each[0].opening)),
            all_samples=True,
        )  # fmt: skip
    config, results = run.config, run.results or {}
    journal = read_journal(run)
    problems = _load_problems(config)
    in_sample = [q for q in results.get("questions", []) if int(q.get("sample", 0)) == sample]
    question_ids = [q["problem"] for q in in_sample] or list(
        dict.fromkeys(
            [*config.get("problems", []), *[c.problem for c in journal.conversations.values() if c.problem]]
        )
    )
    conversations = {qid: conversation_for(journal, qid, sample) for qid in question_ids}
    raw_parts: dict[str, list[dict[str, Any]]] = {}
    if results:
        for p in results.get("parts", []):
            if int(p.get("sample", 0)) == sample:
                raw_parts.setdefault(p["problem"], []).append(p)
    else:
        for qid, found in conversations.items():
            raw_parts[qid] = list(found.part_results) if found else []
    opening_conv = journal.conversations.get(
        OPENING if sample == 0 else f"s{sample}/{OPENING}", Conversation()
    )

    def part_ids(qid: str) -> list[str]:
        if qid in problems:
            return [p.id for p in problems[qid].parts]
        return [p["part"] for p in raw_parts.get(qid, [])]

    turn_counts = {OPENING: len(opening_conv.messages)}
    for qid, found in conversations.items():
        turn_counts[qid] = len([i for i in found.messages if i >= found.prefix]) if found else 0
    notes = load_notes(run.path / NOTES_FILE, {q: part_ids(q) for q in question_ids}, turn_counts)

    questions = []
    q_results = {q["problem"]: q for q in in_sample}
    for number, qid in enumerate(question_ids, 1):
        problem = problems.get(qid)
        labels = {p.id: p.heading for p in problem.parts} if problem else {}
        prompts = {p.id: p.prompt for p in problem.parts} if problem else {}
        short = _short(qid, number)
        found = conversations.get(qid)
        anchor = _anchor(qid, sample)
        turns = _turns(found, anchor, labels, notes, qid, found.prefix, problem) if found else []
        parts = tuple(
            _part(p, labels.get(p["part"], f"({p['part']})"), prompts.get(p["part"], ""), notes, qid)
            for p in raw_parts.get(qid, [])
        )
        q = q_results.get(qid, {})
        usage = q.get("usage") or (found.usage if found else {})
        questions.append(
            QuestionReport(
                number=number,
                id=qid,
                short=short,
                title=str(q.get("title") or (problem.title if problem else qid)),
                statement=problem.statement if problem else "",
                parts=parts,
                turns=tuple(turns),
                points=float(q.get("points", sum(p.points for p in parts))),
                max_points=float(q.get("max_points", sum(p.max_points for p in parts))),
                input_tokens=int(usage.get("input_tokens", 0)),
                output_tokens=int(usage.get("output_tokens", 0)),
                model_calls=int(q.get("model_calls", sum(1 for t in turns if t.role == "assistant"))),
                cost_usd=q.get("cost_usd"),
                stopped=q.get("stopped"),
                notes=tuple(notes.for_question(qid)),
                sample=sample,
                probes=tuple(
                    _probe(r, labels)
                    for r in results.get("probes", [])
                    if (r.get("problem"), int(r.get("sample", 0))) == (qid, sample)
                ),
            )
        )
    opening = _turns(opening_conv, "opening", {}, notes, OPENING, 0)
    model = str(config.get("model") or results.get("model") or "unknown")
    recorded = config.get("recorded_model")
    shown = str(recorded or model).split(":", 1)[-1]
    return RunReport(
        run_id=run.id,
        title=f"{config.get('suite') or results.get('suite') or 'run'}: {shown}"
        + (" (replay)" if recorded else ""),
        model=model,
        model_display=shown,
        assistant=_assistant_name(str(recorded or model)),
        recorded_model=recorded,
        suite=str(config.get("suite") or results.get("suite") or ""),
        date=_date(run, journal.started),
        finished=bool(run.results) and journal.finished,
        opening=tuple(opening),
        questions=tuple(questions),
        recap=_recap(questions, results.get("totals") or {}, opening),
        overview_note=notes.overview,
        versions={str(k): str(v) for k, v in (config.get("versions") or {}).items()},
        sample=sample,
        samples=int(config.get("samples") or 1),
    )


def _recap(questions: list[QuestionReport], totals: dict[str, Any], opening: list[Turn]) -> Recap:
    pairs = [(q, p) for q in questions for p in q.parts]
    in_tokens = sum(q.input_tokens for q in questions) + sum(t.input_tokens or 0 for t in opening)
    out_tokens = sum(q.output_tokens for q in questions) + sum(t.output_tokens or 0 for t in opening)
    return Recap(
        parts=len(pairs),
        correct=sum(1 for _, p in pairs if p.status == "correct"),
        first_try=sum(1 for _, p in pairs if p.outcome == "first_try"),
        hints=sum(p.hints for _, p in pairs),
        points=sum(p.points for _, p in pairs),
        max_points=sum(p.max_points for _, p in pairs),
        input_tokens=int(totals.get("input_tokens", in_tokens)),
        output_tokens=int(totals.get("output_tokens", out_tokens)),
        cost_usd=totals.get("cost_usd"),
        one_shot=tuple(q for q in questions if q.one_shot),
        helped=tuple((q, p) for q, p in pairs if p.outcome == "after_hint"),
        failed=tuple((q, p) for q, p in pairs if p.outcome == "failed"),
        unscored=tuple((q, p) for q, p in pairs if p.outcome == "unscored"),
        truncated=sum(1 for t in [*opening, *(t for q in questions for t in q.turns)] if t.truncated),
    )
