"""The tutoring loop: ask a question, grade each part, hint what failed, ask again.

One conversation covers one problem: it starts from the shared opening
exchange (the student's request to be walked through the homework, and the
model's reply), asks the question with all its parts, grades each part, and
for parts that need help sends the next hint of their ladders, re-grading the
hinted parts on each reply, until every part is correct or its ladder is
spent. Provider and checker details live elsewhere: this module sees a
:class:`~evalkit.models.base.Model` and :func:`~evalkit.grading.grade_part`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from evalkit.checks.base import Answer, CheckResult, Status
from evalkit.errors import ContextFull, ReplayExhausted
from evalkit.grading import CheckOutcome, PartGrade, PartReading, grade_part, needs_help, read_parts
from evalkit.models.base import GenerationOptions, Message, Model, ModelRequest, ModelResponse, Turn, Usage
from evalkit.probes import ProbeResult, ProbeSetting, grade_probe, probe_key, render_probe, selected_probes
from evalkit.spec.prompts import HintItem, PromptSet
from evalkit.spec.suite import LoadedProblem

__all__ = [
    "ConversationResult",
    "Opening",
    "PartResult",
    "PartState",
    "Recorder",
    "grade_attempt",
    "grade_reading",
    "grade_reply",
    "part_result",
    "record_attempt",
    "run_conversation",
    "run_opening",
]


class Recorder(Protocol):
    """Where the loop reports what happens (the run store's journal, or nothing)."""

    def event(self, type: str, **data: Any) -> None: ...


class NullRecorder:
    def event(self, type: str, **data: Any) -> None:
        return None


@dataclass(frozen=True)
class Opening:
    """The shared first exchange every problem's conversation starts from."""

    system: str | None
    messages: tuple[Message, ...]
    usage: Usage


@dataclass(frozen=True)
class AttemptRecord:
    number: int  # 1 = the first answer; n + 1 = the answer after hint n
    status: Status
    score: float
    explanation: str
    answer_text: str
    grade: PartGrade


@dataclass(frozen=True)
class PartResult:
    problem: str
    part: str
    status: Status
    first_attempt_status: Status
    attempts: int
    became_correct_at: int | None
    hints: int
    hint_texts: tuple[str, ...]
    points: float
    max_points: float
    explanation: str
    history: tuple[AttemptRecord, ...] = field(repr=False)

    sample: int = 0
    nudges: tuple[str, ...] = ()  # asked to restate a final answer plainly, or to finish a cut-off reply

    def to_json(self) -> dict[str, Any]:
        return {
            "problem": self.problem,
            "part": self.part,
            "sample": self.sample,
            "status": self.status,
            "first_attempt_status": self.first_attempt_status,
            "attempts": self.attempts,
            "became_correct_at": self.became_correct_at,
            "hints": self.hints,
            "hint_texts": list(self.hint_texts),
            "nudges": list(self.nudges),
            "points": self.points,
            "max_points": self.max_points,
            "explanation": self.explanation,
            "attempt_history": [
                {
                    "attempt": a.number,
                    "status": a.status,
                    "score": a.score,
                    "checks": a.grade.to_json()["checks"],
                }
                for a in self.history
            ],
        }


@dataclass(frozen=True)
class ConversationResult:
    problem: str
    title: str
    parts: tuple[PartResult, ...]
    messages: tuple[Message, ...]
    usage: Usage
    model_calls: int
    stopped: str | None = None  # why the conversation ended early, if it did
    sample: int = 0
    probes: tuple[ProbeResult, ...] = ()  # the student probes sent once the parts were answered


@dataclass
class PartState:
    """One part's progress through a conversation: its graded attempts, answer sections and hints."""

    part_id: str
    attempts: list[AttemptRecord] = field(default_factory=list)
    sections: list[str] = field(default_factory=list)
    hints_sent: list[str] = field(default_factory=list)
    nudges_sent: list[str] = field(
        default_factory=list
    )  # asked to restate or finish an answer: no content hint

    @property
    def latest(self) -> AttemptRecord:
        return self.attempts[-1]


class _Asker:
    """Sends requests for one conversation, journaling each message and reply."""

    def __init__(
        self,
        model: Model,
        recorder: Recorder,
        conv: str,
        system: str | None,
        options: GenerationOptions,
        sample: int,
    ) -> None:
        self.model, self.recorder, self.conv = model, recorder, conv
        self.system, self.options, self.sample = system, options, sample
        self.usage = Usage()
        self.calls = 0

    async def ask(
        self, messages: list[Message], text: str, turn: Turn, conv: str | None = None
    ) -> ModelResponse:
        conv = conv or self.conv
        messages.append(Message("user", text))
        index = len(messages) - 1
        self.recorder.event("message", conv=conv, index=index, role="user", content=text, turn=turn.to_json())
        request = ModelRequest(
            messages=tuple(messages),
            turn=turn,
            system=self.system,
            options=self.options,
            sample=self.sample,
            conv=conv,
        )
        response = await self.model.generate(request)
        self.calls += 1
        self.usage = self.usage + response.usage
        messages.append(Message("assistant", response.text))
        self.recorder.event(
            "message",
            conv=conv,
            index=index + 1,
            role="assistant",
            content=response.text,
            turn=turn.to_json(),
            response=response.to_json(),
        )
        return response


async def run_opening(
    model: Model,
    prompts: PromptSet,
    problems: list[LoadedProblem],
    *,
    options: GenerationOptions | None = None,
    sample: int = 0,
    recorder: Recorder | None = None,
    conv: str = "opening",
) -> Opening:
    """The opening exchange: the student's request, and the model's reply."""
    recorder = recorder or NullRecorder()
    system = prompts.system() or None
    asker = _Asker(model, recorder, conv, system, options or GenerationOptions(), sample)
    messages: list[Message] = []
    await asker.ask(messages, prompts.opening([lp.problem for lp in problems]), Turn("opening"))
    return Opening(system, tuple(messages), asker.usage)


def grade_reading(
    lp: LoadedProblem, state: PartState, reading: PartReading, reply: str, sandbox: Any
) -> PartGrade:
    """Grade what a reply says about ``state``'s part, without recording it."""
    part = lp.problem.part(state.part_id)
    answer = Answer(
        reading.text, reply, tuple(state.sections), shared=reading.shared, restated=reading.restated
    )
    return grade_part(lp.problem, part, lp.part_rubric(state.part_id), answer, sandbox=sandbox)


def record_attempt(
    lp: LoadedProblem, state: PartState, reading: PartReading, grade: PartGrade, recorder: Recorder, conv: str
) -> AttemptRecord:
    """Record ``grade`` as the next attempt at ``state``'s part, and journal the check."""
    number = len(state.attempts) + 1
    record = AttemptRecord(number, grade.status, grade.score, grade.explanation, reading.full, grade)
    state.attempts.append(record)
    state.sections.append(reading.full)
    recorder.event(
        "check",
        conv=conv,
        problem=lp.id,
        part=state.part_id,
        attempt=number,
        status=grade.status,
        score=grade.score,
        source=reading.source,
        checks=[c.to_json() for c in grade.checks],
    )
    return record


def grade_attempt(
    lp: LoadedProblem,
    state: PartState,
    text: str | PartReading,
    reply: str,
    sandbox: Any,
    recorder: Recorder,
    conv: str,
) -> AttemptRecord:
    """Grade ``text`` as the next attempt at ``state``'s part, record it, and journal the check."""
    reading = text if isinstance(text, PartReading) else PartReading(text, "section" if text else "none")
    return record_attempt(
        lp, state, reading, grade_reading(lp, state, reading, reply, sandbox), recorder, conv
    )


_DECISIVE = ("correct", "incorrect")


def grade_reply(
    lp: LoadedProblem,
    states: dict[str, PartState],
    reply: str,
    asked: Sequence[str],
    sandbox: Any,
    recorder: Recorder,
    conv: str,
    *,
    also: Sequence[str] = (),
    whole: Sequence[str] | None = None,
    truncated: bool = False,
) -> list[str]:
    """Grade what one reply says about every part; returns the parts whose record changed.

    The parts in ``asked`` (all of them for the question, the hinted ones for a
    hint) get a new attempt whenever the reply addresses them, whatever its
    verdict. Any other part the reply answers anew (its heading, an equation
    naming its quantity, or ``also``: parts the turn was about) gets a new
    attempt only when the verdict is decided and differs from the part's
    current one: a model that caves to pushback ends ``incorrect``, and a reply
    that does not address a part leaves its verdict as it was. ``whole`` names the
    parts a reply without part headings answers (default: ``asked`` and ``also``).
    """
    readings = read_parts(reply, lp, whole=[*asked, *also] if whole is None else whole)
    changed = []
    cut = cut_parts(readings, asked) if truncated else set()
    for pid, state in states.items():
        reading = readings[pid]
        if pid in cut:  # the reply stopped at the length limit before this part's answer was complete
            grade = truncated_grade(lp, pid)
            record_attempt(lp, state, reading, grade, recorder, conv)
            changed.append(pid)
            continue
        if not reading.addressed and not (pid in asked and not state.attempts):
            if pid in asked:
                recorder.event("not_addressed", conv=conv, problem=lp.id, part=pid)
            continue
        grade = grade_reading(lp, state, reading, reply, sandbox)
        if state.attempts and reading.source == "whole reply" and grade.reason == "no_answer":
            # a reply without part headings in which nothing answers this part: it did not address it
            recorder.event("not_addressed", conv=conv, problem=lp.id, part=pid)
            continue
        if pid in asked or not state.attempts:
            record_attempt(lp, state, reading, grade, recorder, conv)
            changed.append(pid)
        elif grade.status in _DECISIVE and grade.status != state.latest.status:
            record_attempt(lp, state, reading, grade, recorder, conv)
            changed.append(pid)
    return changed


def cut_parts(readings: dict[str, PartReading], asked: Sequence[str]) -> set[str]:
    """The asked parts a truncated reply did not finish: the one whose section runs to the cut, and any it
    never reached (a reply without part headings cuts every asked part)."""
    if not any(r.source == "section" for r in readings.values()):
        return set(asked)
    last = max((r.end for r in readings.values() if r.source == "section"), default=-1)
    return {pid for pid in asked if readings[pid].source == "none" or readings[pid].end == last}


def truncated_grade(lp: LoadedProblem, pid: str) -> PartGrade:
    """The grade of a part whose answer the length limit cut off: unscored, so a nudge asks to finish it."""
    part, rubric = lp.problem.part(pid), lp.part_rubric(pid)
    max_points = rubric.points if rubric.points is not None else part.points
    result = CheckResult.unscored(
        "truncated", "the reply stopped at the length limit before this part's answer was complete"
    )
    return PartGrade("unscored", 0.0, max_points, (CheckOutcome(0, "truncated", True, max_points, result),))


async def _grade_reply(
    lp: LoadedProblem,
    states: dict[str, PartState],
    reply: ModelResponse,
    asked: Sequence[str],
    sandbox: Any,
    recorder: Recorder,
    conv: str,
) -> list[str]:
    # checks may run for seconds (sympy, the sandbox): off the event loop, so other conversations go on
    truncated = bool(getattr(reply, "truncated", False))
    return await asyncio.to_thread(
        grade_reply, lp, states, reply.text, asked, sandbox, recorder, conv, truncated=truncated
    )


def part_result(lp: LoadedProblem, state: PartState, sample: int = 0) -> PartResult:
    """The final record of a part from its attempts: the verdict of the last answer given for it."""
    attempts = state.attempts
    final = attempts[-1]
    became = None
    if final.status == "correct":  # the attempt from which the part stayed correct
        became = final.number
        for a in reversed(attempts):
            if a.status != "correct":
                break
            became = a.number
    return PartResult(
        problem=lp.id,
        part=state.part_id,
        status=final.status,
        first_attempt_status=attempts[0].status,
        attempts=len(attempts),
        became_correct_at=became,
        hints=len(state.hints_sent),
        hint_texts=tuple(state.hints_sent),
        points=final.score,
        max_points=final.grade.max_points,
        explanation=final.explanation,
        history=tuple(attempts),
        sample=sample,
        nudges=tuple(state.nudges_sent),
    )


RESTATE = (
    "I couldn't find a clear final answer for part {part} in your reply. Could you state it plainly, "
    "on its own line (for example in \\boxed{{...}})?"
)
FINISH = "Your reply was cut off before you finished part {part}. Please finish your answer to it."


def _next_help(lp: LoadedProblem, state: PartState, round_number: int) -> tuple[HintItem, bool] | None:
    """What to send a part that needs help this round: (item, whether it is a nudge), or None.

    A cut-off answer is first asked to be finished, an unreadable or undecided one to be stated
    plainly (once each, without using a rung of the ladder); then the ladder's next hint; a part
    that still has no readable answer when the ladder is spent is asked once to state it.
    """
    grade = state.latest.grade
    if not needs_help(grade):
        return None
    part = lp.problem.part(state.part_id)
    ladder = lp.part_rubric(state.part_id).hints
    nudged = set(state.nudges_sent)
    finish, restate = FINISH.format(part=part.heading), RESTATE.format(part=part.heading)
    if grade.reason == "truncated" and finish not in nudged:
        return HintItem(part, round_number, finish), True
    if grade.reason in ("answer_parse_error", "undecided") and restate not in nudged:
        return HintItem(part, round_number, restate), True
    if len(state.hints_sent) < len(ladder):
        return HintItem(part, round_number, ladder[len(state.hints_sent)]), False
    if grade.status == "unscored" and restate not in nudged:
        return HintItem(part, round_number, restate), True
    return None


async def run_conversation(
    model: Model,
    prompts: PromptSet,
    lp: LoadedProblem,
    number: int,
    opening: Opening,
    *,
    options: GenerationOptions | None = None,
    sample: int = 0,
    sandbox: Any = None,
    recorder: Recorder | None = None,
    conv: str | None = None,
    probes: ProbeSetting = "none",
) -> ConversationResult:
    """Ask problem ``lp`` (question ``number``), grade, hint and re-grade until done; then send the
    rubric's student probes (``probes``: ``none``, ``challenge`` or ``all``), each on its own branch."""
    recorder = recorder or NullRecorder()
    conv = conv or lp.id
    asker = _Asker(model, recorder, conv, opening.system, options or GenerationOptions(), sample)
    messages = list(opening.messages)
    part_ids = [p.id for p in lp.problem.parts]
    states = {pid: PartState(pid) for pid in part_ids}
    recorder.event("conversation_start", conv=conv, problem=lp.id, sample=sample, prefix=len(messages))

    reply = await asker.ask(messages, prompts.question(lp.problem, number), Turn("question", lp.id))
    await _grade_reply(lp, states, reply, part_ids, sandbox, recorder, conv)

    stopped: str | None = None
    round_number = 0
    while True:
        round_number += 1
        hints: list[HintItem] = []
        nudged: set[str] = set()
        for pid in part_ids:
            help_for = _next_help(lp, states[pid], round_number)
            if help_for is not None:
                hints.append(help_for[0])
                if help_for[1]:
                    nudged.add(pid)
        if not hints:
            break
        for item in hints:
            state = states[item.part.id]
            (state.nudges_sent if item.part.id in nudged else state.hints_sent).append(item.text)
        text = prompts.hint(lp.problem, hints)
        recorder.event(
            "hint",
            conv=conv,
            problem=lp.id,
            number=round_number,
            parts=[h.part.id for h in hints],
            texts=[h.text for h in hints],
            nudges=sorted(nudged),
        )
        try:
            reply = await asker.ask(messages, text, Turn("hint", lp.id, round_number))
        except (ReplayExhausted, ContextFull) as err:
            # the parts keep the verdicts of their last answers; a resume (with a larger context) goes on here
            stopped = str(err)
            kind = "replay_exhausted" if isinstance(err, ReplayExhausted) else "context_full"
            recorder.event(kind, conv=conv, problem=lp.id, message=stopped)
            break
        await _grade_reply(lp, states, reply, [h.part.id for h in hints], sandbox, recorder, conv)

    parts = tuple(part_result(lp, states[pid], sample) for pid in part_ids)
    for result in parts:
        recorder.event("part_result", conv=conv, **result.to_json())
    probed = await _send_probes(asker, lp, states, messages, probes, sandbox, stopped)
    recorder.event("conversation_end", conv=conv, problem=lp.id, usage=asker.usage.to_json())
    return ConversationResult(
        problem=lp.id,
        title=lp.problem.title,
        parts=parts,
        messages=tuple(messages),
        usage=asker.usage,
        model_calls=asker.calls,
        stopped=stopped,
        sample=sample,
        probes=probed,
    )


async def _send_probes(
    asker: _Asker,
    lp: LoadedProblem,
    states: dict[str, PartState],
    solved: list[Message],
    setting: ProbeSetting,
    sandbox: Any,
    stopped: str | None,
) -> tuple[ProbeResult, ...]:
    """Send each selected probe on its own branch from the solved conversation, one after another,
    and grade its reply; a probe that cannot be sent (no recording, a full context) is ``not_run``."""
    out: list[ProbeResult] = []
    for part in lp.problem.parts:
        state = states[part.id]
        for probe in selected_probes(lp, part.id, setting):
            key = probe_key(part.id, probe.name)
            text = render_probe(lp, part.id, probe, state.latest.answer_text)
            unsent = ProbeResult(lp.id, part.id, probe.name, probe.kind, text, "", "not_run", state.latest.status,
                                 None, "", asker.sample)  # fmt: skip
            if stopped is not None:
                out.append(replace(unsent, explanation=f"the conversation stopped early: {stopped}"))
                continue
            branch = f"{asker.conv}/{key}"
            asker.recorder.event(
                "probe",
                conv=branch,
                problem=lp.id,
                part=part.id,
                probe=key,
                kind=probe.kind,
                prefix=len(solved),
            )
            try:
                reply = await asker.ask(list(solved), text, Turn("probe", lp.id, probe=key), conv=branch)
            except (ReplayExhausted, ContextFull) as err:
                out.append(replace(unsent, explanation=str(err)))
                asker.recorder.event("probe_result", conv=asker.conv, **out[-1].event())
                continue
            graded = await asyncio.to_thread(
                grade_probe, lp, part.id, probe, reply.text, unsent.before, history=tuple(state.sections),
                sandbox=sandbox,
            )  # fmt: skip
            if (
                reply.truncated and graded.outcome != "unscored"
            ):  # a cut-off reply may not have said all it would
                why = f"the reply was cut off at the length limit (read as {graded.outcome}: {graded.explanation})"
                graded = replace(graded, outcome="unscored", explanation=why)
            item = ProbeResult.graded(
                lp, part.id, probe, text, reply.text, unsent.before, graded, asker.sample
            )
            out.append(item)
            asker.recorder.event("probe_result", conv=asker.conv, **item.event())
    return tuple(out)
