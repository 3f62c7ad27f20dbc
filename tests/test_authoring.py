"""`evalkit new problem NAME`: scaffolds that validate and self-test as written, and never overwrite."""

from __future__ import annotations

import json
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


# --- a code part against the author's own reference -------------------------------------------------------


def test_code_scaffold_validates_and_selftests(tmp_path: Path) -> None:
    paths = new_problem("demo", root=tmp_path, code=True)
    folder = tmp_path / "problems" / "demo"
    assert paths[2:] == [folder / "reference.py", folder / "skeleton.py"]
    suite = load_suite(tmp_path / "problems", tmp_path / "rubrics")
    lp = suite.get("demo")
    (check,) = lp.part_rubric("a").checks
    assert check.kind == "code" and check.params.reference == "reference.py:FeedForward"
    assert "____(a)____" in lp.problem.givens[0].content  # the skeleton file, shown to the model
    assert run_selftests(tmp_path / "problems", tmp_path / "rubrics") == []


def test_code_scaffold_selftests_really_run_the_reference(tmp_path: Path) -> None:
    new_problem("demo", root=tmp_path, code=True)
    reference = tmp_path / "problems" / "demo" / "reference.py"
    reference.write_text(reference.read_text().replace("torch.relu(", "torch.tanh("))
    failures = run_selftests(tmp_path / "problems", tmp_path / "rubrics")
    assert len(failures) == 2  # the two answers declared correct now differ from the changed reference
    assert all("expected correct, got incorrect" in f and "differs from the reference" in f for f in failures)


def test_code_scaffold_refuses_when_a_reference_file_exists(tmp_path: Path) -> None:
    (tmp_path / "problems" / "demo").mkdir(parents=True)
    (tmp_path / "problems" / "demo" / "skeleton.py").write_text("# mine\n")
    with pytest.raises(SpecError, match=r"skeleton.py: already exists"):
        new_problem("demo", root=tmp_path, code=True)
    assert not (tmp_path / "problems" / "demo.yaml").exists()
    assert (tmp_path / "problems" / "demo" / "skeleton.py").read_text() == "# mine\n"


RMSNORM_REFERENCE = """\
import torch
from torch import nn


class RMSNorm(nn.Module):
    def __init__(self, d, eps=1e-6):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(d))

    def forward(self, x):
        return self.weight * x / torch.sqrt(x.pow(2).mean(-1, keepdim=True) + self.eps)
"""

RMSNORM_SKELETON = """\
import torch
import torch.nn as nn


class RMSNorm(nn.Module):
    def __init__(self, d, eps=1e-6):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(d))

    def forward(self, x):
        ms = x.pow(2).mean(dim=____(a)____, keepdim=True)
        return self.weight * x / torch.sqrt(____(b)____)
"""

ANSWER = """\
## User

Question 1: fill in the blanks of the RMSNorm module, then name the function that turns scores into weights.

## Assistant

**Part (a)**

(a) = `-1`

(b) = `ms + self.eps`

**Part (b)**

That is the `argmax`.
"""


def test_a_new_ta_adds_a_code_problem_in_a_fresh_clone(project_copy: Path, capsys, monkeypatch) -> None:
    """The issue's acceptance: scaffold, own RMSNorm reference and skeleton, self-tests, a graded answer, a report."""
    result = run_cli(["new", "problem", "hw10_q1", "--code"], capsys, monkeypatch)
    assert result.code == 0, result.err
    folder = project_copy / "problems" / "hw10_q1"
    (folder / "reference.py").write_text(RMSNORM_REFERENCE)
    (folder / "skeleton.py").write_text(RMSNORM_SKELETON)
    rubric = project_copy / "rubrics" / "hw10_q1.yaml"
    text = rubric.read_text()
    text = text.replace("reference.py:FeedForward", "reference.py:RMSNorm")
    text = text.replace(
        "{init: {d_model: 8, d_hidden: 32}, inputs: {x: [2, 5, 8]}}", "{init: {d: 8}, inputs: {x: [2, 5, 8]}}"
    )
    text = text.replace(
        "{init: {d_model: 6, d_hidden: 12}, inputs: {x: [3, 6]}}", "{init: {d: 6}, inputs: {x: [3, 6]}}"
    )
    start, end = text.index("    examples:"), text.index("  b:")
    text = (
        text[:start]
        + (
            "    examples:\n"
            '      - {answer: "(a) = `-1`\\n(b) = `ms + self.eps`", verdict: correct}\n'
            '      - {answer: "(a) = `x.ndim - 1`\\n(b) = `self.eps + ms`", verdict: correct}\n'
            '      - {answer: "(a) = `0`\\n(b) = `ms + self.eps`", verdict: incorrect}\n'
            "      - {answer: \"(a) = `-1`\\n(b) = `ms.sqrt() + self.eps`\", verdict: incorrect, note: 'a square root too many'}\n"
        )
        + text[end:]
    )
    rubric.write_text(text)
    result = run_cli(["validate", "--selftest"], capsys, monkeypatch)
    assert result.code == 0, result.err
    assert "every rubric example gets its declared verdict" in result.err
    (project_copy / "answer.md").write_text(ANSWER)
    args = ["grade-transcript", "answer.md", "--suite", "hw10", "--out", "runs", "--json"]
    result = run_cli(args, capsys, monkeypatch)
    assert result.code == 0, result.err
    data = json.loads(result.out)
    assert [(p["part"], p["status"]) for p in data["parts"]] == [("a", "correct"), ("b", "incorrect")]
    assert "matches the reference" in data["parts"][0]["explanation"]
    assert (Path(data["run_dir"]) / "report.html").is_file()
