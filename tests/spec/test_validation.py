"""`evalkit validate`: every error printed, misspelt keys named with the nearest known one, rubric coverage anywhere."""

from __future__ import annotations

import shutil
from pathlib import Path

from evalkit import api
from tests.helpers import copy_suite, run_cli

ROOT = Path(__file__).parent.parent.parent


def _copy(tmp_path: Path, *names: str) -> Path:
    for sub in ("problems", "rubrics"):
        (tmp_path / sub).mkdir(exist_ok=True)
        for name in names:
            if (ROOT / sub / name).exists():
                shutil.copy(ROOT / sub / name, tmp_path / sub / name)
    return tmp_path


def test_every_error_is_printed_and_a_typo_names_the_key(tmp_path: Path, capsys, monkeypatch) -> None:
    root = _copy(tmp_path, "hw9_q2.yaml")
    problem = root / "problems" / "hw9_q2.yaml"
    problem.write_text(problem.read_text().replace("prompt:", "promt:", 1).replace("title:", "titel:", 1))
    result = run_cli(["validate", str(root / "problems")], capsys, monkeypatch)
    assert result.code == 1
    lines = [line for line in result.err.splitlines() if line.startswith("error")]
    assert "and 1 more" not in result.err and len(lines) == 4
    text = problem.read_text().splitlines()
    for line in (x for x in lines if "unknown field" in x):  # each points at the line of the key
        number = int(line.split(":")[1])
        field = line.split(": ")[1]
        key = field.split(".")[-1].split("[")[0]
        assert key in text[number - 1], (line, text[number - 1])
    assert any("parts[0].promt: unknown field 'promt'; did you mean 'prompt'?" in line for line in lines)
    assert any("titel: unknown field 'titel'; did you mean 'title'?" in line for line in lines)
    assert any("parts[0].prompt: required field is missing" in line for line in lines)


def test_a_problem_without_a_rubric_fails_in_any_directory(tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    shutil.copy(ROOT / "problems" / "hw9_q2.yaml", other)
    report = api.validate([str(other)])
    assert not report.ok
    assert report.errors == [f"{other / 'hw9_q2.yaml'}: no rubric for problem 'q2': add a file in rubrics/ "
                             "beside the problems' directory (or give it to validate) with 'problem: q2'"]  # fmt: skip


def test_a_rubric_beside_the_problems_directory_is_found_and_checked(tmp_path: Path) -> None:
    root = _copy(tmp_path, "hw9_q2.yaml")
    assert api.validate([str(root / "problems")]).ok
    rubric = root / "rubrics" / "hw9_q2.yaml"
    rubric.write_text(rubric.read_text().replace("  b:\n", "  z:\n", 1))
    report = api.validate([str(root / "problems")])
    assert any("rubric names part 'z'" in e for e in report.errors)
    assert any("no rubric for part 'b'" in e for e in report.errors)


def test_a_project_folder_validates_with_its_problems_and_rubrics(tmp_path: Path) -> None:
    root = _copy(tmp_path, "tblocks_q1.yaml")
    shutil.copytree(ROOT / "problems" / "tblocks_q1", root / "problems" / "tblocks_q1")
    report = api.validate([str(root)])
    assert report.ok, report.errors
    assert [lp.id for lp in report.problems] == ["tb_q1"]
    (root / "problems" / "tblocks_q1" / "rmsnorm.py").unlink()
    report = api.validate([str(root)])
    assert len(report.errors) == 1 and "has no file 'rmsnorm.py'" in report.errors[0]


def test_a_rubric_that_does_not_parse_is_one_error_at_its_line_not_also_a_missing_rubric(
    tmp_path: Path,
) -> None:
    root = copy_suite(tmp_path / "s", ("tblocks_q1", "hw9_q1"))
    rubric = root / "rubrics" / "hw9_q1.yaml"  # problem id q1: the file name is what ties them
    lines = rubric.read_text().splitlines()
    at = next(k for k, line in enumerate(lines) if "hints:" in line)
    lines[at] = "    hints: [Use $C_{in}$ here.]"  # braces inside a flow list: not YAML
    rubric.write_text("\n".join(lines) + "\n")
    for target in ([str(root)], [str(root / "problems"), str(root / "rubrics")], [str(rubric)]):
        report = api.validate(target)
        assert report.errors == [f"{rubric}:{at + 1}: invalid YAML: expected ',' or ']', but got '{{'"], (
            target
        )
