"""`evalkit new problem NAME`: scaffolds that validate and self-test as written, and never overwrite."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from evalkit.authoring import new_problem
from evalkit.errors import SpecError
from evalkit.selftest import run_selftests
from evalkit.spec.suite import load_suite
from tests.helpers import run_cli

ROOT = Path(__file__).parent.parent


def test_scaffold_validates_and_selftests(tmp_path: Path) -> None:
    problem, rubric = new_problem("demo", root=tmp_path)
    assert problem == tmp_path / "problems" / "demo.yaml" and rubric == tmp_path / "rubrics" / "demo.yaml"
    suite = load_suite(tmp_path / "problems", tmp_path / "rubrics")
    lp = suite.get("demo")
    assert [p.id for p in lp.problem.parts] == ["a", "b"]
    for part in lp.problem.parts:  # at least two correct and two incorrect examples per part
        verdicts = [e.verdict for e in lp.part_rubric(part.id).examples]
        assert verdicts.count("correct") >= 2 and verdicts.count("incorrect") >= 2
        assert lp.part_rubric(part.id).hints
    assert run_selftests(tmp_path / "problems", tmp_path / "rubrics") == []


def test_refuses_to_overwrite(tmp_path: Path) -> None:
    new_problem("demo", root=tmp_path)
    before = (tmp_path / "problems" / "demo.yaml").read_text()
    with pytest.raises(SpecError, match="already exists; not overwriting"):
        new_problem("demo", root=tmp_path)
    assert (tmp_path / "problems" / "demo.yaml").read_text() == before


def test_refuses_when_only_the_rubric_exists(tmp_path: Path) -> None:
    (tmp_path / "rubrics").mkdir()
    (tmp_path / "rubrics" / "demo.yaml").write_text("problem: demo\n")
    with pytest.raises(SpecError, match=r"rubrics/demo.yaml: already exists"):
        new_problem("demo", root=tmp_path)
    assert not (tmp_path / "problems" / "demo.yaml").exists()  # nothing half-written


def test_refuses_an_id_used_by_another_file(tmp_path: Path) -> None:
    (tmp_path / "problems").mkdir()
    (tmp_path / "problems" / "hw9_q1.yaml").write_text("id: q1\ntitle: x\nparts: []\n")
    with pytest.raises(SpecError, match="problem id 'q1' is already used"):
        new_problem("q1", root=tmp_path)


@pytest.mark.parametrize("name", ["", "-x", "a b", "../evil", "q/1"])
def test_bad_names(name: str, tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="invalid problem name"):
        new_problem(name, root=tmp_path)


@pytest.fixture
def project_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the project's problems, rubrics and prompts; the CWD is the copy."""
    for name in ("problems", "rubrics", "prompts"):
        shutil.copytree(ROOT / name, tmp_path / name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_cli_new_problem_then_validate_selftest(project_copy: Path, capsys, monkeypatch) -> None:
    result = run_cli(["new", "problem", "demo"], capsys, monkeypatch)
    assert result.code == 0, result.err
    assert "created problems/demo.yaml" in result.err.replace(str(project_copy) + "/", "")
    result = run_cli(["validate", "--selftest"], capsys, monkeypatch)
    assert result.code == 0, result.err
    assert "every rubric example gets its declared verdict" in result.err
    again = run_cli(["new", "problem", "demo"], capsys, monkeypatch)
    assert again.code == 1 and "not overwriting" in again.err and len(again.err.strip().splitlines()) == 1
