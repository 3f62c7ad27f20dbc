"""Resume a crashed run from its journal; re-grade a finished run with changed rubrics."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from evalkit import api
from evalkit.errors import StoreError
from evalkit.models.registry import register_provider
from evalkit.models.scripted import ScriptedModel
from evalkit.store import RunStore
from tests.helpers import run_cli

ROOT = Path(__file__).parent.parent
MINI = ROOT / "tests" / "fixtures" / "mini"


def tutor(request) -> str:
    turn = request.turn
    if turn.kind == "opening":
        return "Sure, one question at a time."
    if turn.kind == "question":
        return "**Part (a)** $\\boxed{5}$\n\n**Part (b)** $\\boxed{15}$\n\n**Part (c)** Paris"
    return f"Sorry: $\\boxed{{4}}$ (hint {turn.hint})."


class Crash(Exception):
    pass


@pytest.fixture
def specs(tmp_path):
    shutil.copytree(MINI, tmp_path / "mini")
    return tmp_path / "mini"


def config(specs: Path, tmp_path: Path, model: str) -> api.RunConfig:
    return api.RunConfig(
        model=model,
        problems=str(specs / "problems"),
        rubrics=str(specs / "rubrics"),
        runs_dir=str(tmp_path / "runs"),
        cache=False,
    )


def parts_of(results: dict) -> list[tuple]:
    return [
        (p["problem"], p["part"], p["status"], p["first_attempt_status"], p["attempts"], p["hints"])
        for p in results["parts"]
    ]


@pytest.mark.parametrize("crash_at", [0, 1, 2])
def test_resume_after_crash_asks_only_what_is_missing(specs, tmp_path, crash_at) -> None:
    reference = ScriptedModel(tutor)
    register_provider("scripted", lambda model_id, settings: reference)
    full = api.run(config(specs, tmp_path / "a", "scripted:t"))

    calls = {"n": 0}

    def crashing(request):
        calls["n"] += 1
        if calls["n"] == crash_at + 1:
            raise Crash("power loss")
        return tutor(request)

    register_provider("scripted", lambda model_id, settings: ScriptedModel(crashing, name="scripted:t"))
    with pytest.raises(Crash):
        api.run(config(specs, tmp_path / "b", "scripted:t"))
    run_dir = next((tmp_path / "b" / "runs").iterdir())
    assert not (run_dir / "results.json").exists()

    second = ScriptedModel(tutor, name="scripted:t")
    register_provider("scripted", lambda model_id, settings: second)
    resumed = api.resume(run_dir)
    assert parts_of(resumed.to_json()) == parts_of(full.to_json())
    # only the turns after the crash were asked again
    assert len(second.requests) == len(reference.requests) - crash_at
    events = [json.loads(line) for line in (run_dir / "journal.jsonl").read_text().splitlines()]
    keys = [(e["conv"], e["index"]) for e in events if e["type"] == "message"]
    assert len(keys) == len(set(keys)), "no message is journaled twice"
    assert json.loads((run_dir / "results.json").read_text())["parts"] == resumed.to_json()["parts"]


def test_resume_refuses_changed_problems(specs, tmp_path) -> None:
    register_provider("scripted", lambda model_id, settings: ScriptedModel(tutor, name="scripted:t"))
    result = api.run(config(specs, tmp_path, "scripted:t"))
    rubric = specs / "rubrics" / "mini_arith.yaml"
    rubric.write_text(rubric.read_text().replace("expected: 4", "expected: 5"))
    with pytest.raises(Exception, match="changed since"):
        api.resume(result.run_dir)


def test_regrade_without_changes_changes_nothing(specs, tmp_path) -> None:
    register_provider("scripted", lambda model_id, settings: ScriptedModel(tutor, name="scripted:t"))
    result = api.run(config(specs, tmp_path, "scripted:t"))

    def no_model(model_id, settings):
        raise AssertionError("re-grading must not create a model client")

    register_provider("scripted", no_model)
    regraded = api.grade(result.run_dir)
    assert regraded.changes == [] and regraded.divergences == []
    assert parts_of(regraded.results) == parts_of(result.to_json())
    assert regraded.path.parent == result.run_dir and regraded.path.name.startswith("results.regrade-")
    assert (result.run_dir / "results.json").exists()  # the old results are kept


def _journaled_usage(run_dir: Path) -> tuple[int, int, int]:
    """Input and output tokens of every reply in the journal, and how many replies: what the run was paid."""
    replies = [
        json.loads(line)["response"]
        for line in (run_dir / "journal.jsonl").read_text().splitlines()
        if '"role": "assistant"' in line
    ]
    usage = [r["usage"] for r in replies]
    return sum(u["input_tokens"] for u in usage), sum(u["output_tokens"] for u in usage), len(replies)


def test_regrade_counts_the_tokens_and_calls_of_the_run(specs, tmp_path) -> None:
    register_provider("scripted", lambda model_id, settings: ScriptedModel(tutor, name="scripted:t"))
    result = api.run(replace(config(specs, tmp_path, "scripted:t"), samples=2))  # two openings
    ran = result.to_json()
    regraded = api.grade(result.run_dir)
    assert regraded.changes == [] and regraded.divergences == []
    paid_in, paid_out, replies = _journaled_usage(result.run_dir)
    for results in (ran, regraded.results):
        totals = results["totals"]
        assert (totals["input_tokens"], totals["output_tokens"]) == (paid_in, paid_out)
        assert sum(q["model_calls"] for q in results["questions"]) == replies
    per_question = [(q["problem"], q["sample"], q["usage"], q["model_calls"]) for q in ran["questions"]]
    assert [
        (q["problem"], q["sample"], q["usage"], q["model_calls"]) for q in regraded.results["questions"]
    ] == per_question


def test_regrade_reports_where_the_conversation_would_diverge(specs, tmp_path) -> None:
    register_provider("scripted", lambda model_id, settings: ScriptedModel(tutor, name="scripted:t"))
    result = api.run(config(specs, tmp_path, "scripted:t"))
    stored_a = next(p for p in result.to_json()["parts"] if p["part"] == "a")
    assert stored_a["hints"] == 1
    # an improved rubric now accepts 5 for part (a): the hint would never have been sent
    rubric = specs / "rubrics" / "mini_arith.yaml"
    rubric.write_text(rubric.read_text().replace("expected: 4", "expected: 5"))
    regraded = api.grade(result.run_dir)
    change = next(c for c in regraded.changes if c["part"] == "a")
    assert change["before"]["first_attempt_status"] == "incorrect"
    assert change["after"]["first_attempt_status"] == "correct" and change["after"]["hints"] == 0
    (divergence,) = regraded.divergences
    assert divergence.conv == "s0/arith" and divergence.index == 4  # the hint turn, after opening + question
    assert "would not" in divergence.reason


def test_regrade_detects_a_hint_that_was_never_sent(specs, tmp_path) -> None:
    register_provider("scripted", lambda model_id, settings: ScriptedModel(tutor, name="scripted:t"))
    result = api.run(config(specs, tmp_path, "scripted:t"))
    # a stricter rubric now rejects part (c): a hint would be sent that the journal has no reply for
    rubric = specs / "rubrics" / "mini_arith.yaml"
    text = rubric.read_text().replace("expected: paris}]", "expected: lyon}]\n    hints: ['Are you sure?']")
    rubric.write_text(text)
    regraded = api.grade(result.run_dir)
    assert any(d.reason.startswith("a new verdict sends a hint") for d in regraded.divergences)
    c = next(p for p in regraded.results["parts"] if p["part"] == "c")
    assert c["status"] == "incorrect"


# --- the journal is read by event identity, and a stored reply is never asked for again -------------------


def _lines(run_dir: Path) -> list[str]:
    return (run_dir / "journal.jsonl").read_text().splitlines()


def _rewrite(run_dir: Path, lines: list[str]) -> None:
    (run_dir / "journal.jsonl").write_text("\n".join(lines) + "\n")


def _reply_before_its_message(lines: list[str]) -> list[str]:
    """Move the first reply of the arith conversation above the message it answers."""
    events = [json.loads(line) for line in lines]
    reply = next(
        i
        for i, e in enumerate(events)
        if e["type"] == "message" and e["conv"] == "s0/arith" and e["role"] == "assistant"
    )
    moved = lines[:]
    moved.insert(reply - 1, moved.pop(reply))
    return moved


EDITS = {
    "reply_before_its_message": _reply_before_its_message,
    "every_line_reversed": lambda lines: lines[::-1],
    "every_line_twice": lambda lines: [line for line in lines for _ in range(2)],
    "shuffled": lambda lines: sorted(lines, key=lambda line: hashlib.sha256(line.encode()).digest()),
}


@pytest.mark.parametrize("edit", sorted(EDITS))
def test_a_reordered_or_duplicated_journal_changes_nothing(specs, tmp_path, edit) -> None:
    register_provider("scripted", lambda model_id, settings: ScriptedModel(tutor, name="scripted:t"))
    result = api.run(config(specs, tmp_path, "scripted:t"))
    _rewrite(result.run_dir, EDITS[edit](_lines(result.run_dir)))

    regraded = api.grade(result.run_dir)
    assert regraded.divergences == [] and parts_of(regraded.results) == parts_of(result.to_json())

    for _ in range(2):  # twice: nothing is asked, so nothing is left to ask the second time either
        again = ScriptedModel(tutor, name="scripted:t")
        register_provider("scripted", lambda model_id, settings, again=again: again)
        resumed = api.resume(result.run_dir, cache=False)
        assert again.requests == [], "a stored reply was asked for again"
        assert parts_of(resumed.to_json()) == parts_of(result.to_json())


def _without_first_message_of_arith(lines: list[str]) -> list[str]:
    events = [json.loads(line) for line in lines]
    first = next(i for i, e in enumerate(events) if e["type"] == "message" and e["conv"] == "s0/arith")
    return lines[:first] + lines[first + 1 :]


def _question_reworded(lines: list[str]) -> list[str]:
    events = [json.loads(line) for line in lines]
    first = next(i for i, e in enumerate(events) if e["type"] == "message" and e["conv"] == "s0/arith")
    events[first]["content"] = "Reworded: " + events[first]["content"]
    return [*lines[:first], json.dumps(events[first]), *lines[first + 1 :]]


@pytest.mark.parametrize(
    "edit", [_without_first_message_of_arith, _question_reworded], ids=["lost", "reworded"]
)
def test_a_stored_reply_is_never_asked_for_again(specs, tmp_path, edit) -> None:
    """The journal has a reply whose message is gone or different: the resume stops and says why."""
    register_provider("scripted", lambda model_id, settings: ScriptedModel(tutor, name="scripted:t"))
    result = api.run(config(specs, tmp_path, "scripted:t"))
    _rewrite(result.run_dir, edit(_lines(result.run_dir)))
    again = ScriptedModel(tutor, name="scripted:t")
    register_provider("scripted", lambda model_id, settings: again)
    with pytest.raises(
        StoreError, match=r"s0/arith turn 2: the journal holds a reply .* never asked for again"
    ):
        api.resume(result.run_dir, cache=False)
    assert again.requests == []


# --- one writer per run directory ------------------------------------------------------------------------------


def test_a_run_directory_in_use_is_refused_in_one_line(specs, tmp_path, capsys, monkeypatch) -> None:
    register_provider("scripted", lambda model_id, settings: ScriptedModel(tutor, name="scripted:t"))
    result = api.run(config(specs, tmp_path, "scripted:t"))
    before = _lines(result.run_dir)
    holder, _ = RunStore.reopen(result.run_dir)  # as a resume running in another process would
    try:
        second = ScriptedModel(tutor, name="scripted:t")
        register_provider("scripted", lambda model_id, settings: second)
        cli = run_cli(["run", "--resume", str(result.run_dir), "--quiet"], capsys, monkeypatch)
        assert cli.code == 1
        (line,) = [line for line in cli.err.splitlines() if line.strip()]
        assert f"{result.run_dir} is in use by process {os.getpid()} (evalkit, since " in line
        assert second.requests == [] and _lines(result.run_dir) == before
    finally:
        holder.close()
    resumed = api.resume(result.run_dir)  # free again once the holder is done
    assert parts_of(resumed.to_json()) == parts_of(result.to_json())
