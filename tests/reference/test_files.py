"""The author's reference files: found in the problem's folder, imported in the parent, never sent to the sandbox."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
import torch

from evalkit.checks.base import Answer
from evalkit.errors import SpecError
from evalkit.grading import grade_part
from evalkit.reference.cases import InputSpec
from evalkit.reference.files import inspect_file_reference, load_file_reference
from evalkit.sandbox import default_pool
from evalkit.spec.suite import load_suite

PROBLEM = """\
id: p1
title: Scale
parts:
  - {id: a, prompt: 'Write scale(x, k).', points: 1}
"""
RUBRIC = """\
problem: p1
parts:
  a:
    checks:
      - kind: code
        mode: program
        reference: ref.py:scale
        cases:
          - {inputs: {x: [3, 4], k: {value: 2.5}}}
        grad_of: [x]
"""
ANSWER = "```python\ndef scale(x, k):\n    return x * 2.5\n```"


def _project(root: Path, factor: str) -> Path:
    (root / "problems" / "p1").mkdir(parents=True)
    (root / "rubrics").mkdir()
    (root / "problems" / "p1.yaml").write_text(PROBLEM)
    (root / "rubrics" / "p1.yaml").write_text(RUBRIC)
    secret = f"# REFERENCE-SECRET-{factor}\n"
    (root / "problems" / "p1" / "ref.py").write_text(f"{secret}def scale(x, k):\n    return x * {factor}\n")
    return root


class SpyPool:
    """Records every job sent to the sandbox, then runs it in the real one."""

    def __init__(self) -> None:
        self.jobs: list[Any] = []

    def run(self, job: Any) -> Any:
        self.jobs.append(job)
        return default_pool().run(job)


def _grade(root: Path, sandbox: Any = None) -> str:
    lp = load_suite(root / "problems", root / "rubrics").get("p1")
    part = lp.problem.part("a")
    return grade_part(lp.problem, part, lp.part_rubric("a"), Answer(ANSWER, ANSWER), sandbox=sandbox).status


def test_the_reference_file_grades_and_never_reaches_the_sandbox(tmp_path: Path) -> None:
    root = _project(tmp_path, "k")
    spy = SpyPool()
    assert _grade(root, spy) == "correct"
    (job,) = spy.jobs
    assert "REFERENCE-SECRET" not in job.source and "def scale(x, k):\n    return x * 2.5" in job.source
    for call in job.calls:  # only the inputs (a tensor and the literal 2.5) and cotangents go in
        assert [type(a) for a in call.args] == [torch.Tensor, float] and call.state is None


def test_same_name_different_content_is_a_different_reference(tmp_path: Path) -> None:
    """Trials are cached per reference *content*: a second problem's ref.py:scale is not the first one's."""
    assert _grade(_project(tmp_path / "one", "k")) == "correct"
    assert _grade(_project(tmp_path / "two", "(k + 1)")) == "incorrect"


def test_a_changed_reference_file_is_imported_again(tmp_path: Path) -> None:
    root = _project(tmp_path, "k")
    first = load_file_reference(root / "problems" / "p1", "ref.py:scale")
    (root / "problems" / "p1" / "ref.py").write_text("def scale(x, k):\n    return x * k * 2\n")
    second = load_file_reference(root / "problems" / "p1", "ref.py:scale")
    assert first.origin != second.origin
    assert float(second.call({}, (torch.ones(1), 3.0))[0]) == 6.0


@pytest.mark.parametrize(
    ("source", "spec", "message"),
    [
        ("def f(x):\n    return x\n", "ref.py:g", r"defines no function or class 'g' \(it defines: f\)"),
        ("import nonexistent_mod\n", "ref.py:f", r"fails to import \(ModuleNotFoundError"),
        ("class C:\n    pass\n", "ref.py:C", r"C is a class but not a torch.nn.Module"),
        ("def f(x):\n    return x\n", "other.py:f", r"has no file 'other.py'"),
        ("def f(x):\n    return x\n", "../ref.py:f", r"inside the problem's folder"),
    ],
)
def test_bad_references_are_one_clear_error(tmp_path: Path, source: str, spec: str, message: str) -> None:
    folder = tmp_path / "p1"
    folder.mkdir()
    (folder / "ref.py").write_text(source)
    with pytest.raises(SpecError, match=message):
        load_file_reference(folder, spec)
    if "not a torch.nn.Module" in message:  # only running the file shows it
        assert inspect_file_reference(folder, spec) == (True, hashlib.sha256(source.encode()).hexdigest())
    else:  # reading it (plain `evalkit validate`) refuses it too, with the same words where it can
        read = (
            message if "import" not in message else r"defines no function or class 'f' \(it defines: nothing"
        )
        with pytest.raises(SpecError, match=read):
            inspect_file_reference(folder, spec)


@pytest.mark.parametrize(
    ("source", "kind"),
    [
        ("def f(x):\n    return x\n", False),
        ("async def f(x):\n    return x\n", False),
        ("from torch import nn\nclass f(nn.Module):\n    pass\n", True),
        ("from torch.nn.functional import relu as f\n", None),
        ("import f\n", None),
        ("f = lambda x: x\n", None),
        ("try:\n    from fast import f\nexcept ImportError:\n    def f(x):\n        return x\n", None),
        ("if True:\n    (g, f) = (1, lambda x: x)\n", None),
    ],
)
def test_reading_a_reference_says_whether_it_is_a_class_or_that_only_running_it_can(
    tmp_path: Path, source: str, kind: bool | None
) -> None:
    (tmp_path / "ref.py").write_text(source)
    assert inspect_file_reference(tmp_path, "ref.py:f")[0] is kind


def test_reading_a_reference_that_does_not_parse_gives_its_line(tmp_path: Path) -> None:
    (tmp_path / "ref.py").write_text("import torch\n\ndef f(x)\n    return x\n")
    with pytest.raises(SpecError, match=r"ref\.py:3: the reference module does not parse \(expected ':'\)"):
        inspect_file_reference(tmp_path, "ref.py:f")
    (tmp_path / "ref.py").write_bytes(b"def f(x):\n    return x\0\n")
    with pytest.raises(SpecError, match=r"ref\.py: the reference module does not parse \(.*null bytes"):
        inspect_file_reference(tmp_path, "ref.py:f")


def test_a_reference_error_in_a_rubric_points_at_its_check(tmp_path: Path) -> None:
    root = _project(tmp_path, "k")
    rubric = root / "rubrics" / "p1.yaml"
    rubric.write_text(RUBRIC.replace("ref.py:scale", "ref.py:scael"))
    with pytest.raises(
        SpecError, match=r"p1.yaml:5: parts.a.checks\[0\]: .*defines no function or class 'scael'"
    ):
        load_suite(root / "problems", root / "rubrics")
    rubric.write_text(RUBRIC.replace("grad_of: [x]", "grad_of: [x]\n        atoll: 1\n    hint: [Multiply.]"))
    with pytest.raises(SpecError) as err:
        load_suite(root / "problems", root / "rubrics")
    lines = str(err.value).splitlines()
    assert len(lines) == 2  # both errors, each at its own line
    assert any(":11: parts.a.checks[0].atoll" in line and "did you mean 'atol'" in line for line in lines)
    assert any(":12: parts.a.hint: unknown field 'hint'; did you mean 'hints'" in line for line in lines)


def test_a_reference_that_fails_on_the_declared_inputs_is_caught_when_loading(tmp_path: Path) -> None:
    root = _project(tmp_path, "k")
    (root / "rubrics" / "p1.yaml").write_text(RUBRIC.replace("k: {value: 2.5}", "k: [5, 5]"))
    with pytest.raises(SpecError, match=r"the reference ref.py:scale fails on case 1 \(RuntimeError"):
        load_suite(root / "problems", root / "rubrics")


def test_a_reference_is_run_on_every_case_when_loading_not_only_the_first(tmp_path: Path) -> None:
    root = _project(tmp_path, "k")
    rubric = root / "rubrics" / "p1.yaml"
    text = rubric.read_text()
    first = next(line for line in text.splitlines() if "inputs:" in line)
    rubric.write_text(text.replace(first, first + "\n" + first.replace("k: {value: 2.5}", "k: [5, 5]")))
    with pytest.raises(
        SpecError, match=r"p1\.yaml:\d+: .*the reference ref.py:scale fails on case 2 \(RuntimeError"
    ):
        load_suite(root / "problems", root / "rubrics")


def test_input_specs_draw_the_declared_dtypes_and_ranges() -> None:
    g = torch.Generator().manual_seed(0)
    labels = InputSpec((200,), "int64", 2, 5).draw(g)
    assert labels.dtype == torch.int64 and int(labels.min()) == 2 and int(labels.max()) == 4
    mask = InputSpec((50,), "bool").draw(g)
    assert mask.dtype == torch.bool and 0 < int(mask.sum()) < 50
    assert InputSpec((2, 3), "float64").draw(g).dtype == torch.float64
    assert InputSpec(value=0.1, literal=True).draw(g) == 0.1
    same = torch.Generator().manual_seed(7)  # a plain shape draws exactly as before (HW9's trials)
    assert torch.equal(
        InputSpec((4, 3)).draw(same), torch.randn(4, 3, generator=torch.Generator().manual_seed(7))
    )


LSE_PROBLEM = """\
id: p2
title: Log-sum-exp
parts:
  - {id: a, prompt: 'Write a numerically stable logsumexp(x) over the last axis.', points: 1}
"""
LSE_RUBRIC = """\
problem: p2
parts:
  a:
    checks:
      - kind: code
        mode: program
        entry: logsumexp
        reference: lse.py:logsumexp
        cases:
          - {inputs: {x: [3, 5]}}
          - {inputs: {x: {shape: [2, 6], low: -300, high: 300}}}
"""
STABLE = "```python\nimport torch\ndef logsumexp(x):\n    m = x.max(dim=-1, keepdim=True).values\n    return (m + (x - m).exp().sum(dim=-1, keepdim=True).log()).squeeze(-1)\n```"
NAIVE = "```python\nimport torch\ndef logsumexp(x):\n    return torch.log(torch.exp(x).sum(dim=-1))\n```"


def test_float_inputs_with_low_and_high_are_drawn_from_that_range_so_stability_is_tested(
    tmp_path: Path,
) -> None:
    (tmp_path / "problems" / "p2").mkdir(parents=True)
    (tmp_path / "rubrics").mkdir()
    (tmp_path / "problems" / "p2.yaml").write_text(LSE_PROBLEM)
    (tmp_path / "problems" / "p2" / "lse.py").write_text(
        "import torch\n\ndef logsumexp(x):\n    return torch.logsumexp(x, dim=-1)\n"
    )
    (tmp_path / "rubrics" / "p2.yaml").write_text(LSE_RUBRIC)
    lp = load_suite(tmp_path / "problems", tmp_path / "rubrics").get("p2")
    part = lp.problem.part("a")

    def status(reply: str) -> str:
        return grade_part(
            lp.problem, part, lp.part_rubric("a"), Answer(reply, reply), sandbox=default_pool()
        ).status

    assert status(STABLE) == "correct"
    assert status(NAIVE) == "incorrect"  # exp(300) overflows: inf, where the reference is finite
    spec = lp.part_rubric("a").checks[0].params.cases[1].specs()["x"]
    drawn = spec.draw(torch.Generator().manual_seed(0))
    assert drawn.dtype == torch.float32 and float(drawn.min()) >= -300 and float(drawn.max()) < 300
    assert float(drawn.abs().max()) > 50  # the range, not standard normals


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("{shape: [2], low: -3}", "float inputs with 'low' need 'high' too"),
        ("{shape: [2], low: 3, high: 3}", "float inputs with 'high' need it above 'low'"),
        ("{shape: [2], dtype: bool, high: 2}", "bool inputs are fair coins"),
        ("{shape: [2], dtype: int64, low: 0.5, high: 4}", "need whole numbers"),
    ],
)
def test_an_input_range_that_cannot_be_drawn_is_a_spec_error(tmp_path: Path, spec: str, message: str) -> None:
    (tmp_path / "problems" / "p2").mkdir(parents=True)
    (tmp_path / "rubrics").mkdir()
    (tmp_path / "problems" / "p2.yaml").write_text(LSE_PROBLEM)
    (tmp_path / "problems" / "p2" / "lse.py").write_text("import torch\n\ndef logsumexp(x):\n    return x\n")
    (tmp_path / "rubrics" / "p2.yaml").write_text(
        LSE_RUBRIC.replace("{shape: [2, 6], low: -300, high: 300}", spec)
    )
    with pytest.raises(SpecError, match=message):
        load_suite(tmp_path / "problems", tmp_path / "rubrics")
