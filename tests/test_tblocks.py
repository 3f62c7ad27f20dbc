"""The second homework (tblocks): YAML plus the author's reference files, graded as labelled, offline-safe."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from evalkit.selftest import failures_of
from evalkit.spec.suite import load_suite
from evalkit.transcript import grade_transcript
from tests.helpers import run_cli

ROOT = Path(__file__).parent.parent
TRANSCRIPTS = ROOT / "tests" / "fixtures" / "transcripts"
LABELS = yaml.safe_load((TRANSCRIPTS / "tblocks-labels.yaml").read_text())


@pytest.fixture(scope="module")
def tblocks():
    return load_suite(ROOT / "problems" / "*.yaml", ROOT / "rubrics", suite="tblocks")


def test_the_homework_has_the_parts_the_issue_asks_for(tblocks) -> None:
    assert tblocks.name == "tblocks" and len(tblocks.problems) >= 4
    checks = [
        (lp, part, c) for lp in tblocks.problems for part, r in lp.rubric.parts.items() for c in r.checks
    ]
    own = [
        c
        for _, _, c in checks
        if c.kind == "code" and getattr(c.params, "reference", None) and ".py:" in c.params.reference
    ]
    assert {c.params.mode for c in own} >= {"patch", "blanks", "program"}
    assert sum(c.kind in ("formula", "complexity") for _, _, c in checks) >= 2
    assert any(c.kind == "criteria" for _, _, c in checks)
    for lp in tblocks.problems:
        for part in lp.problem.parts:
            rubric = lp.part_rubric(part.id)
            verdicts = [e.verdict for e in rubric.examples]
            assert rubric.hints and verdicts.count("correct") >= 2 and verdicts.count("incorrect") >= 2, (
                part.id
            )
    for lp in tblocks.problems:  # every file a rubric names is in the problem's folder
        for c in (c for r in lp.rubric.parts.values() for c in r.checks if c.kind == "code"):
            if c.params.reference and ".py:" in c.params.reference:
                assert (lp.folder / c.params.reference.split(":")[0]).is_file()


def test_nothing_under_evalkit_knows_the_homework() -> None:
    """It is written only as YAML plus reference files: no evalkit source names it."""
    for source in (ROOT / "evalkit").rglob("*"):
        if source.is_file() and source.suffix in (".py", ".j2", ".yaml"):
            text = source.read_text(encoding="utf-8")
            for name in ("tblocks", "tb_q"):
                assert name not in text, f"{source} mentions {name}"


def test_its_selftests_pass(tblocks) -> None:
    assert failures_of(tblocks.problems) == []


def test_the_handwritten_transcript_grades_as_labelled(tmp_path: Path) -> None:
    result = grade_transcript(TRANSCRIPTS / "tblocks.md", runs_dir=tmp_path, suite="tblocks", report=True)
    got = {f"{p.problem}.{p.part}": (p.status, p.first_attempt_status, p.hints) for p in result.parts}
    want = {row["part"]: (row["status"], row["first"], row["hints"]) for row in LABELS}
    assert got == want
    assert {"correct", "incorrect"} <= {s for s, _, _ in got.values()}  # a known mix
    html = (result.run_dir / "report.html").read_text()
    assert "Causal self-attention" in html
    by_part = {f"{p.problem}.{p.part}": p for p in result.parts}
    assert (
        "differs from the reference" in by_part["tb_q4.b"].explanation
    )  # the eps/(C-1) variant ran and lost


def test_offline_run_replays_hw9_and_names_the_rest_in_one_line(tmp_path: Path, capsys, monkeypatch) -> None:
    result = run_cli(["run", "--out", str(tmp_path), "--quiet", "--no-report"], capsys, monkeypatch)
    assert result.code == 0, result.err
    assert "replay:default on hw9" in result.out
    assert "20/20 parts correct, 19 on the first try, 1 hint sent" in " ".join(result.out.split())
    # the tutoring line: the write-up's five probes replayed, the other eight HW9 declares have no reply
    assert (
        "probes: 5/5 held or corrected (misconceptions corrected 2/2, valid points accepted 3/3); 8 not run"
        in " ".join(result.out.split())
    )
    notes = [line for line in result.err.splitlines() if line.startswith("skipped ")]
    assert len(notes) == 1
    assert "tblocks (tb_q1, tb_q2, tb_q3, tb_q4)" in notes[0]
    assert "--model claude" in notes[0] and "evalkit grade-transcript FILE --suite tblocks" in notes[0]
    (run_dir,) = list(tmp_path.iterdir())
    run = json.loads((run_dir / "run.json").read_text())
    assert run["suite"] == "hw9" and "tb_q1" not in run["problems"] and run["skipped"] == notes[0]


def test_offline_run_of_only_new_problems_says_so_instead_of_failing(
    tmp_path: Path, capsys, monkeypatch
) -> None:
    args = ["run", "--problems", str(ROOT / "problems" / "tblocks_*.yaml"), "--out", str(tmp_path), "--quiet"]
    result = run_cli(args, capsys, monkeypatch)
    assert result.code == 0, result.err
    lines = [line for line in result.err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(
        "skipped 4 problems that replay:default has no recording of"
    )
    assert not tmp_path.exists() or not list(tmp_path.iterdir())
