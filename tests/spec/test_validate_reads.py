"""`evalkit validate` reads references without torch; `--selftest` and a run's loading run them.

Plain validation answers in half a second because it imports no torch: a built-in
reference's name is looked up, an author's file is parsed for the name, an einsum is
checked against its operands by torch's rules (tests/reference/test_equations.py). What
only running shows is listed as not run, until a full validation records it as passed.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from evalkit import api
from evalkit.errors import SpecError
from evalkit.spec.suite import load_suite
from tests.helpers import ROOT, copy_suite, run_cli

pytestmark = pytest.mark.usefixtures("store")  # a record of verified checks of each test's own


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, (path, old)
    path.write_text(text.replace(old, new))


def _rmsnorm_fails_when_run(suite: Path) -> None:
    """Shapes [2, 5, 8] / [2, 5] do not broadcast: only running the reference shows it."""
    _edit(suite / "problems/tblocks_q1/rmsnorm.py", "keepdim=True", "keepdim=False")


def _validate_in_a_fresh_interpreter(paths: list[str], env: dict[str, str]) -> dict:
    code = textwrap.dedent(
        """
        import json, sys
        from evalkit import api
        report = api.validate(sys.argv[1:] or None, run_references=False)
        print(json.dumps({"errors": report.errors, "not_run": list(report.not_run),
                          "torch": "torch" in sys.modules}))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code, *paths], capture_output=True, text=True, timeout=300, cwd=ROOT,
        env={**os.environ, **env},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    result: dict = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_a_reference_that_fails_only_when_run_is_named_as_not_run_then_found_by_selftest_and_a_run(
    suite: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _rmsnorm_fails_when_run(suite)
    plain = run_cli(["validate", str(suite)], capsys, monkeypatch)
    assert plain.code == 0, plain.err
    assert "4 files valid" in plain.err
    assert "2 references read, not run" in plain.err and "evalkit validate --selftest runs them" in plain.err
    assert f"{suite / 'rubrics/tblocks_q1.yaml'}: reference rmsnorm.py:RMSNorm on its cases" in plain.err
    assert (
        f"{suite / 'rubrics/tblocks_q3.yaml'}: reference kv_cache.py:cached_scores on the operands"
        in plain.err
    )

    full = run_cli(["validate", "--selftest", str(suite)], capsys, monkeypatch)
    assert full.code == 1
    assert "the reference rmsnorm.py:RMSNorm fails on case 1 (RuntimeError: " in full.err
    with pytest.raises(SpecError, match=r"rmsnorm\.py:RMSNorm fails on case 1"):
        load_suite(suite / "problems" / "*.yaml", suite / "rubrics")  # what `evalkit run` loads

    again = run_cli(["validate", str(suite)], capsys, monkeypatch)  # Q3 passed in full; Q1 never did
    assert again.code == 0
    assert "1 reference read, not run" in again.err and "rmsnorm.py:RMSNorm on its cases" in again.err
    assert "kv_cache.py" not in again.err


def test_once_every_reference_passed_plain_validate_says_nothing_was_left_unrun(
    suite: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run_cli(["validate", "--selftest", str(suite)], capsys, monkeypatch).code == 0
    plain = run_cli(["validate", str(suite)], capsys, monkeypatch)
    assert plain.code == 0 and "not run" not in plain.err
    _edit(suite / "problems/tblocks_q1/rmsnorm.py", "weight * (x / rms)", "weight * x / rms")
    changed = api.validate([str(suite)], run_references=False)
    assert changed.ok and [line.rpartition(": ")[2] for line in changed.not_run] == [
        "reference rmsnorm.py:RMSNorm on its cases"
    ]


def test_what_reading_shows_is_an_error_without_importing_torch(suite: Path, tmp_path: Path) -> None:
    q1, q3 = suite / "rubrics/tblocks_q1.yaml", suite / "rubrics/tblocks_q3.yaml"
    cases = {
        "syntax": (suite / "problems/tblocks_q1/rmsnorm.py", "class RMSNorm(nn.Module):", "class RMSNorm(nn.Module)"),
        "name": (q1, "reference: rmsnorm.py:RMSNorm", "reference: rmsnorm.py:RMSNorn"),
        "file": (q1, "reference: rmsnorm.py:RMSNorm", "reference: rms.py:RMSNorm"),
        "function": (q3, "reference: kv_cache.py:cached_scores", "reference: kv_cache.py:cached_scores, dims: [{b: 2}]"),
    }  # fmt: skip
    expected = {
        "syntax": r"rmsnorm\.py:12: the reference module does not parse \(expected ':'\)",
        "name": r"rmsnorm\.py defines no function or class 'RMSNorn' \(it defines: RMSNorm\)",
        "file": r"rms\.py",
        "function": r"dims \{'b': 2\} give no size to",
    }
    import re

    for name, (path, old, new) in cases.items():
        copy = tmp_path / name
        shutil.copytree(suite, copy)
        _edit(copy / path.relative_to(suite), old, new)
        result = _validate_in_a_fresh_interpreter([str(copy)], {})
        assert result["torch"] is False, name
        assert len(result["errors"]) == 1 and re.search(expected[name], result["errors"][0]), (name, result)


@pytest.mark.parametrize(
    ("old", "new", "why"),
    [
        ("expected: 'bd,hdq->bhq'", "expected: 'bd,hdk->bhq'", r"output subscript q is in no operand"),
        ("expected: 'bd,hdq->bhq'", "expected: 'bd,dq->bq'", r"operand 1 has 3 dimension\(s\), but the equation gives it 2"),
        ("expected: 'bd,dk->bk'", "expected: 'bk,dk->bk'", r"subscript k has sizes \[\d+, \d+\] in different operands"),
        ("reference: mha_wide_v", "reference: mha_wide", r"unknown reference 'mha_wide'; expected one of argmax_attention"),
    ],
)  # fmt: skip
def test_einsums_and_built_in_names_are_checked_in_full_without_torch(
    tmp_path: Path, old: str, new: str, why: str
) -> None:
    root = copy_suite(tmp_path / "hw9", ("hw9_q3", "hw9_q4"))
    target = next(p for p in (root / "rubrics").iterdir() if old in p.read_text())
    _edit(target, old, new)
    result = _validate_in_a_fresh_interpreter([str(root)], {"EVALKIT_VERIFIED_DIR": str(tmp_path / "v")})
    assert result["torch"] is False and result["not_run"] == []
    assert len(result["errors"]) == 1 and re.search(why, result["errors"][0]), result
    # the same error from a validation that runs torch
    full = api.validate([str(root)])
    assert len(full.errors) == 1 and re.search(why, full.errors[0]), full.errors


def test_a_function_reference_with_init_is_refused_by_reading(tmp_path: Path) -> None:
    root = copy_suite(tmp_path / "s", ("tblocks_q2",))
    rubric = root / "rubrics/tblocks_q2.yaml"
    text = rubric.read_text()
    assert "inputs:" in text
    rubric.write_text(text.replace("{inputs:", "{init: {d: 4}, inputs:", 1))
    result = _validate_in_a_fresh_interpreter([str(root)], {})
    assert result["torch"] is False
    assert len(result["errors"]) == 1
    assert (
        "reference 'causal.py:causal_self_attention' is a function: cases take no 'init'"
        in result["errors"][0]
    )


def test_the_default_suite_validates_without_torch_even_the_first_time(tmp_path: Path) -> None:
    result = _validate_in_a_fresh_interpreter([], {"EVALKIT_VERIFIED_DIR": str(tmp_path / "verified")})
    assert result["errors"] == [] and result["torch"] is False
    assert sorted(line.rpartition(": ")[2] for line in result["not_run"]) == [
        "reference causal.py:causal_self_attention on its cases",
        "reference kv_cache.py:cached_scores on the operands",
        "reference rmsnorm.py:RMSNorm on its cases",
        "reference smoothing.py:label_smoothed_cross_entropy on its cases",
    ]


def test_a_reference_changed_after_it_was_read_is_refused_when_first_used(suite: Path) -> None:
    report = api.validate([str(suite)], run_references=False)
    assert report.ok
    _edit(suite / "problems/tblocks_q1/rmsnorm.py", "weight * (x / rms)", "weight * x / rms")
    q1 = next(lp for lp in report.problems if lp.id == "tb_q1")
    params = q1.part_rubric("b").checks[0].params
    with pytest.raises(SpecError, match=r"rmsnorm\.py changed after its rubric was validated"):
        params.resolved_reference()
