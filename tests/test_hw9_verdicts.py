"""The write-up's verdicts, part by part: from the transcript, and from the offline replay run.

| question | parts | first attempt | became correct at |
|---|---|---|---|
| Q1 | a, b, c | correct | 1 |
| Q2 | a, b | correct | 1 |
| Q3 | a | correct | 1 |
| Q3 | b | incorrect (split_heads not updated) | 2, after the one real hint |
| Q4 | a-g | correct | 1 |
| Q6 | a, b.i, b.ii, b.iii, c, d | correct | 1 |

Follow-ups that were not hints (Q1(a)'s norm rewrite, Q2(b)'s gradient discussion,
Q4(g)'s simplification) change nothing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from evalkit import api
from evalkit.models.replay import load_cassette
from tests.helpers import run_cli

ROOT = Path(__file__).parent.parent
WRITEUP = ROOT / "tests" / "fixtures" / "transcripts" / "hw9-writeup.txt"
CASSETTE = ROOT / "cassettes" / "hw9-claude-opus-4-5.yaml"
PROBLEMS = str(ROOT / "problems" / "hw9_*.yaml")
RUBRICS = str(ROOT / "rubrics")

FIRST_TRY = [
    *(("q1", p) for p in "abc"),
    ("q2", "a"),
    ("q2", "b"),
    ("q3", "a"),
    *(("q4", p) for p in "abcdefg"),
    *(("q6", p) for p in ("a", "b.i", "b.ii", "b.iii", "c", "d")),
]
EXPECTED: dict[tuple[str, str], tuple[str, str, int, int]] = {
    # (problem, part): (first attempt, final status, became correct at, hints)
    **{key: ("correct", "correct", 1, 0) for key in FIRST_TRY},
    ("q3", "b"): ("incorrect", "correct", 2, 1),
}
SPLIT_HEADS_HINT = "Would you have to modify `split_heads` at all?"


def verdicts(data: dict[str, Any]) -> dict[tuple[str, str], tuple[str, str, int | None, int]]:
    return {
        (p["problem"], p["part"]): (
            p["first_attempt_status"],
            p["status"],
            p["became_correct_at"],
            p["hints"],
        )
        for p in data["parts"]
    }


@pytest.fixture(scope="module")
def transcript_results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from evalkit.transcript import grade_transcript

    result = grade_transcript(
        WRITEUP, problems=PROBLEMS, rubrics=RUBRICS, runs_dir=tmp_path_factory.mktemp("runs")
    )
    return result.to_json()


@pytest.fixture(scope="module")
def replay_results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    config = api.RunConfig(
        model="replay", problems=PROBLEMS, rubrics=RUBRICS, runs_dir=str(tmp_path_factory.mktemp("runs"))
    )
    return api.run(config).to_json()


def test_transcript_reproduces_the_students_verdicts(transcript_results: dict[str, Any]) -> None:
    assert transcript_results["model"] == "transcript:hw9-writeup"
    assert verdicts(transcript_results) == EXPECTED


def test_the_one_real_hint(transcript_results: dict[str, Any]) -> None:
    b = next(p for p in transcript_results["parts"] if (p["problem"], p["part"]) == ("q3", "b"))
    assert b["hint_texts"] == [SPLIT_HEADS_HINT]
    first, second = b["attempt_history"]
    # graded by running the patched class: the first answer crashes in split_heads, the second runs
    assert any(c["kind"] == "code" and c["status"] == "incorrect" for c in first["checks"])
    assert any(c["kind"] == "code" and c["status"] == "correct" for c in second["checks"])
    assert transcript_results["totals"]["hints"] == 1


def test_followups_do_not_change_correct_parts(transcript_results: dict[str, Any]) -> None:
    events = [
        json.loads(x)
        for x in (Path(transcript_results["run_dir"]) / "journal.jsonl").read_text().splitlines()
    ]
    followups = [(e["problem"], e["number"]) for e in events if e["type"] == "followup"]
    assert followups == [("q1", 1), ("q2", 1), ("q2", 2), ("q2", 3), ("q4", 1)]
    hints = [(e["problem"], e["parts"]) for e in events if e["type"] == "hint"]
    assert hints == [("q3", ["b"])]
    for key in [("q1", "a"), ("q2", "b"), ("q4", "g")]:
        part = next(p for p in transcript_results["parts"] if (p["problem"], p["part"]) == key)
        assert part["attempts"] == 1 and part["hints"] == 0


def test_cli_grade_transcript_json(tmp_path: Path, capsys, monkeypatch) -> None:
    args = [
        "grade-transcript",
        str(WRITEUP),
        "--problems",
        PROBLEMS,
        "--rubrics",
        RUBRICS,
        "--out",
        str(tmp_path),
        "--json",
    ]
    result = run_cli(args, capsys, monkeypatch)
    assert result.code == 0, result.err
    assert verdicts(json.loads(result.out)) == EXPECTED


def test_replay_run_reaches_the_same_verdicts(
    replay_results: dict[str, Any], transcript_results: dict[str, Any]
) -> None:
    assert verdicts(replay_results) == EXPECTED
    assert replay_results["totals"]["hints"] == 1
    b = next(p for p in replay_results["parts"] if (p["problem"], p["part"]) == ("q3", "b"))
    assert b["hint_texts"] == [SPLIT_HEADS_HINT]  # the rubric's first hint is the student's question
    assert set(verdicts(replay_results)) == set(verdicts(transcript_results))


def test_replay_sends_exactly_one_hint(replay_results: dict[str, Any]) -> None:
    events = [
        json.loads(x) for x in (Path(replay_results["run_dir"]) / "journal.jsonl").read_text().splitlines()
    ]
    hints = [e for e in events if e["type"] == "hint"]
    assert [(e["problem"], e["parts"]) for e in hints] == [("q3", ["b"])]


def test_cassette_is_generated_from_the_writeup() -> None:
    """The committed cassette is what scripts/make_cassette.py makes from the write-up."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_cassette", ROOT / "scripts" / "make_cassette.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    made = module.make(WRITEUP, PROBLEMS, RUBRICS, None)
    committed = CASSETTE.read_text(encoding="utf-8")
    assert made.split("\n", 1)[1] == committed.split("\n", 1)[1]  # the first line names the seed file


def test_cassette_contents() -> None:
    cassette = load_cassette(CASSETTE)
    assert cassette.recorded_model == "anthropic:claude-opus-4-5"
    assert cassette.opening is not None and cassette.opening.startswith("Absolutely, I understand!")
    assert list(cassette.problems) == ["q1", "q2", "q3", "q4", "q6"]
    hints = {pid: len(p.hints) for pid, p in cassette.problems.items()}
    assert hints == {"q1": 0, "q2": 0, "q3": 1, "q4": 0, "q6": 0}
    # every follow-up of the write-up is a probe the rubrics declare, in the student's words
    followups = {pid: len(p.followups) for pid, p in cassette.problems.items()}
    assert followups == {"q1": 0, "q2": 0, "q3": 0, "q4": 0, "q6": 0}
    probes = {pid: list(p.probes) for pid, p in cassette.problems.items() if p.probes}
    assert probes == {
        "q1": ["a:squared-norm"],
        "q2": ["b:max-index-gradient", "b:gradient-one", "b:selected-value"],
        "q4": ["g:simplify"],
    }
    assert cassette.problems["q3"].hints[0].startswith("Great catch—yes, you're absolutely right!")
    assert "is_value=True" in cassette.problems["q3"].hints[0]
    assert cassette.problems["q4"].probes["g:simplify"].startswith("You're right! Since  $hv = d$")
    assert cassette.problems["q2"].probes["b:gradient-one"].startswith("I think you might be conflating")
    text = yaml.safe_dump(cassette.model_dump())
    for note in ("One-shot!", "super helpful", "makes sense to me", "↪", "brain fart", "Staff"):
        assert note not in text
