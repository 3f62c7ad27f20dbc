"""Rubric self-tests: the bundled rubrics pass; a wrong declared verdict is reported with file:line."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from evalkit.checks.base import get_checker
from evalkit.selftest import grade_examples, run_selftests
from evalkit.spec.suite import load_suite
from tests.helpers import run_cli

ROOT = Path(__file__).parent.parent
MINI = ROOT / "tests" / "fixtures" / "mini"
HW9 = ["q1", "q2", "q3", "q4", "q6"]


@pytest.fixture(scope="module")
def hw9():
    return load_suite(ROOT / "problems" / "hw9_*.yaml", ROOT / "rubrics")


def test_bundled_rubrics_pass_their_selftests() -> None:
    assert run_selftests(ROOT / "problems", ROOT / "rubrics") == []


def test_hw9_covers_every_question_but_q5(hw9) -> None:
    assert [lp.id for lp in hw9.problems] == HW9


def test_every_auto_checked_hw9_part_has_two_correct_and_two_incorrect_examples(hw9) -> None:
    for lp in hw9.problems:
        for part in lp.problem.parts:
            rubric = lp.part_rubric(part.id)
            verdicts = [e.verdict for e in rubric.examples]
            where = f"{lp.id}.{part.id}"
            assert verdicts.count("correct") >= 2, where
            assert verdicts.count("incorrect") >= 2, where
            assert rubric.hints, f"{where} has no hint ladder"


def test_hw9_uses_checks_that_compute(hw9) -> None:
    """Verdicts come from checks that run code, compare formulas or vectors, not from transcript regexes."""
    kinds = {
        (lp.id, p.id): {c.kind for c in lp.part_rubric(p.id).checks}
        for lp in hw9.problems
        for p in lp.problem.parts
    }
    assert "code" in kinds[("q3", "a")] and "code" in kinds[("q3", "b")]
    assert "vector" in kinds[("q2", "a")]
    assert "criteria" in kinds[("q2", "b")] and "criteria" in kinds[("q6", "a")]
    for part in ("a", "b", "c"):
        assert "formula" in kinds[("q1", part)]
    for key in [("q4", "f"), ("q4", "g"), ("q6", "c"), ("q6", "d")]:
        assert "complexity" in kinds[key]
    for key, used in kinds.items():
        assert used != {"regex"}, f"{key} is graded by a regex alone"
        for kind in used:
            get_checker(kind)


def test_q3b_examples_run_code(hw9) -> None:
    lp = hw9.get("q3")
    outcomes = [o for o in grade_examples(lp) if o.part == "b"]
    assert {o.expected for o in outcomes} == {"correct", "incorrect"}
    for o in outcomes:
        assert o.ok, o.failure_line()
        assert any(c.kind == "code" for c in o.grade.checks)


def test_a_wrong_declared_verdict_is_reported(tmp_path: Path) -> None:
    shutil.copytree(MINI, tmp_path / "mini")
    rubric = tmp_path / "mini" / "rubrics" / "mini_arith.yaml"
    rubric.write_text(
        rubric.read_text().replace(
            '    hints: ["Multiply carefully."]',
            '    hints: ["Multiply carefully."]\n'
            "    examples:\n"
            "      - {answer: '$\\boxed{15}$', verdict: correct}\n"
            "      - {answer: '$\\boxed{16}$', verdict: correct, note: deliberately wrong}\n",
        )
    )
    failures = run_selftests(tmp_path / "mini" / "problems", tmp_path / "mini" / "rubrics")
    assert len(failures) == 1
    line = failures[0]
    assert line.startswith(f"{rubric}:")
    assert "arith.b example 2 [deliberately wrong]: expected correct, got incorrect" in line
    assert "expected 15" in line
    line_number = int(line.split(":")[1])
    assert "deliberately wrong" in rubric.read_text().splitlines()[line_number - 1]


def test_validate_selftest_cli(tmp_path: Path, capsys, monkeypatch) -> None:
    for name in ("problems", "rubrics"):  # one quick problem is enough here
        (tmp_path / name).mkdir()
        shutil.copy(ROOT / name / "hw9_q2.yaml", tmp_path / name)
    shutil.copytree(ROOT / "prompts", tmp_path / "prompts")
    monkeypatch.chdir(tmp_path)
    result = run_cli(["validate", "--selftest"], capsys, monkeypatch)
    assert result.code == 0, result.err
    rubric = tmp_path / "rubrics" / "hw9_q2.yaml"
    text = rubric.read_text()
    assert "verdict: correct" in text
    rubric.write_text(text.replace("verdict: correct", "verdict: incorrect", 1))
    result = run_cli(["validate", "--selftest"], capsys, monkeypatch)
    assert result.code == 1
    assert "self-test" in result.err and "expected incorrect, got correct" in result.err
    assert "1 rubric example graded differently than declared" in result.err


def test_an_expected_answer_that_does_not_parse_is_a_spec_error_at_its_checks(tmp_path) -> None:
    """Found when the self-test grades (plain validate does not parse formulas): every such part, each at
    its rubric line, not one unlocated line."""
    import shutil

    from evalkit.errors import SpecError
    from evalkit.selftest import run_selftests

    root = tmp_path / "s"
    (root / "problems").mkdir(parents=True)
    (root / "rubrics").mkdir()
    shutil.copy(ROOT / "problems" / "hw9_q1.yaml", root / "problems")
    import yaml

    rubric = yaml.safe_load((ROOT / "rubrics" / "hw9_q1.yaml").read_text())
    for part in ("a", "b"):
        (check,) = [c for c in rubric["parts"][part]["checks"] if c["kind"] == "formula"]
        check["expected"] = "\\frac{d"  # unbalanced: does not parse
    (root / "rubrics" / "hw9_q1.yaml").write_text(yaml.safe_dump(rubric, sort_keys=False))
    with pytest.raises(SpecError) as err:
        run_selftests(root / "problems", root / "rubrics")
    lines = str(err.value).splitlines()
    assert len(lines) == 2 and all(f"{root / 'rubrics' / 'hw9_q1.yaml'}:" in line for line in lines)
    assert all(".checks: formula: expected answer" in line and "does not parse" in line for line in lines)
