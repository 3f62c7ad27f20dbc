"""Code checks that passed are not run again: until anything they depend on changes, and never a failure."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import textwrap
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from evalkit import api
from evalkit.checks.code import CodeParams
from evalkit.errors import SpecError
from evalkit.reference import cases
from evalkit.spec import verified as verified_module
from evalkit.spec.verified import VerifiedChecks

ROOT = Path(__file__).parent.parent.parent


@pytest.fixture
def runs(monkeypatch: pytest.MonkeyPatch) -> Iterator[Counter[str]]:
    """How often validation ran a reference on a case (Q1 has two), and an einsum on its operands."""
    counted: Counter[str] = Counter()
    reference_trials, einsum_trials = cases.reference_trials, cases.einsum_trials

    def reference(*args, **kwargs):  # type: ignore[no-untyped-def]
        counted["reference"] += 1
        return reference_trials(*args, **kwargs)

    def einsum(*args, **kwargs):  # type: ignore[no-untyped-def]
        counted["einsum"] += 1
        return einsum_trials(*args, **kwargs)

    monkeypatch.setattr(cases, "reference_trials", reference)
    monkeypatch.setattr(cases, "einsum_trials", einsum)
    yield counted


def _entries(store: Path) -> list[Path]:
    return sorted(p for p in store.rglob("*") if p.is_file()) if store.is_dir() else []


def _break_rmsnorm(suite: Path) -> None:
    reference = suite / "problems" / "tblocks_q1" / "rmsnorm.py"
    text = reference.read_text()
    assert "keepdim=True" in text
    reference.write_text(text.replace("keepdim=True", "keepdim=False"))  # [2, 5, 8] / [2, 5] fails


def test_a_passed_check_is_not_run_again_until_its_reference_changes(
    suite: Path, store: Path, runs: Counter[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert api.validate([str(suite)]).ok
    assert runs == {"reference": 2, "einsum": 1}
    assert len(_entries(store)) == 2
    runs.clear()
    assert api.validate([str(suite)]).ok
    assert runs == {}  # both recorded as passed, with the same content

    _break_rmsnorm(suite)
    report = api.validate([str(suite)])
    assert runs == {"reference": 1}  # the changed folder's check ran again (failing on case 1); Q3's did not
    line = next(
        i for i, text in enumerate((suite / "rubrics/tblocks_q1.yaml").read_text().splitlines(), 1)
        if "- kind: code" in text
    )  # fmt: skip
    assert len(report.errors) == 1
    assert report.errors[0].startswith(
        f"{suite / 'rubrics/tblocks_q1.yaml'}:{line}: parts.b.checks[0]: the reference rmsnorm.py:RMSNorm "
        "fails on case 1 (RuntimeError: "
    )
    # exactly what a validation that never saw the file pass says, and said again: a failure is not recorded
    monkeypatch.setenv("EVALKIT_VERIFIED_DIR", str(store.parent / "fresh"))
    assert api.validate([str(suite)]).errors == report.errors
    monkeypatch.setenv("EVALKIT_VERIFIED_DIR", str(store))
    assert api.validate([str(suite)]).errors == report.errors
    assert len(_entries(store)) == 2


def test_any_file_of_the_folder_and_any_parameter_is_part_of_the_key(
    suite: Path, store: Path, runs: Counter[str]
) -> None:
    assert api.validate([str(suite)]).ok
    runs.clear()
    (suite / "problems" / "tblocks_q1" / "notes.txt").write_text("the reference may read this\n")
    assert api.validate([str(suite)]).ok
    assert runs == {"reference": 2}
    rubric = suite / "rubrics" / "tblocks_q3.yaml"
    rubric.write_text(
        rubric.read_text().replace("K: [b, n, d]}", "K: [b, n, d]}, dims: [{b: 2, n: 3, d: 4}]")
    )
    runs.clear()
    assert api.validate([str(suite)]).ok
    assert runs == {"einsum": 1}


def test_evalkits_code_and_torchs_version_are_part_of_the_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / "evalkit"
    shutil.copytree(ROOT / "evalkit" / "reference", package / "reference")
    fingerprint = verified_module.code_fingerprint.__wrapped__
    monkeypatch.setattr(verified_module, "_PACKAGE", package)
    before = fingerprint()
    assert fingerprint() == before
    mha = package / "reference" / "mha.py"
    mha.write_text(mha.read_text() + "\n# changed\n")
    assert fingerprint() != before
    key = VerifiedChecks.key("{}", None)
    monkeypatch.setattr(verified_module, "code_fingerprint", lambda: "another torch")
    assert VerifiedChecks.key("{}", None) != key


@pytest.mark.parametrize("damage", ["garbage", "empty", "other key", "directory"])
def test_a_damaged_entry_is_ignored_and_replaced(
    suite: Path, store: Path, runs: Counter[str], damage: str, caplog: pytest.LogCaptureFixture
) -> None:
    assert api.validate([str(suite)]).ok
    entries = _entries(store)
    good = {p: p.read_bytes() for p in entries}
    for path in entries:
        if damage == "garbage":
            path.write_bytes(b"\x00\xffnot an entry")
        elif damage == "empty":
            path.write_bytes(b"")
        elif damage == "other key":
            path.write_bytes(good[entries[0] if path != entries[0] else entries[1]])
        else:
            path.unlink()
            path.mkdir()
    runs.clear()
    with caplog.at_level(logging.WARNING, logger="evalkit.verified"):
        assert api.validate([str(suite)]).ok
    assert runs == {"reference": 2, "einsum": 1}  # both run again
    if damage != "directory":
        assert len([r for r in caplog.records if "ignoring the damaged" in r.getMessage()]) == 2
    assert {p: p.read_bytes() for p in _entries(store)} == good  # and recorded again
    runs.clear()
    assert api.validate([str(suite)]).ok and runs == {}


def test_a_reference_changed_after_validation_is_refused_when_first_used(suite: Path, store: Path) -> None:
    assert api.validate([str(suite)]).ok
    report = api.validate([str(suite)])  # its references not imported: they passed with this content
    lp = next(lp for lp in report.problems if lp.id == "tb_q1")
    params = lp.part_rubric("b").checks[0].params
    assert isinstance(params, CodeParams) and params._reference is None
    _break_rmsnorm(suite)
    with pytest.raises(SpecError, match=r"rmsnorm\.py changed after its rubric was validated"):
        params.resolved_reference()
    fresh = next(lp for lp in api.validate([str(suite)]).problems if lp.id == "tb_q3")
    einsum = fresh.part_rubric("c").checks[0].params
    assert isinstance(einsum, CodeParams) and einsum._reference is None  # Q3 passed before, unchanged
    reference = einsum.resolved_reference()  # resolved now, from the folder, as validated
    assert reference.entry == "cached_scores" and reference.origin.startswith(str(suite.resolve()))


def test_an_unwritable_store_records_nothing_and_fails_nothing(
    suite: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, runs: Counter[str]
) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    monkeypatch.setenv("EVALKIT_VERIFIED_DIR", str(blocker / "verified"))
    assert api.validate([str(suite)]).ok
    assert api.validate([str(suite)]).ok
    assert runs == {"reference": 4, "einsum": 2}  # twice each: once per case of Q1 (two), once for Q3


def test_a_run_validates_every_check_in_full(suite: Path, store: Path, runs: Counter[str]) -> None:
    from evalkit.spec.suite import load_suite

    assert api.validate([str(suite)]).ok
    runs.clear()
    loaded = load_suite(suite / "problems" / "*.yaml", suite / "rubrics")
    assert runs == {"reference": 2, "einsum": 1}
    params = loaded.get("tb_q1").part_rubric("b").checks[0].params
    assert isinstance(params, CodeParams) and params._reference is not None


def test_the_default_suite_is_validated_without_torch_the_second_time(tmp_path: Path) -> None:
    """`evalkit validate` in a fresh interpreter: torch once, then none while nothing changed."""
    code = textwrap.dedent(
        """
        import json, sys
        from evalkit import api
        report = api.validate()
        print(json.dumps({"ok": report.ok, "checked": len(report.checked), "torch": "torch" in sys.modules}))
        """
    )
    env = {**os.environ, "EVALKIT_VERIFIED_DIR": str(tmp_path / "verified")}
    seen = []
    for _ in range(2):
        done = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=ROOT, env=env
        )
        assert done.returncode == 0, done.stderr
        seen.append(json.loads(done.stdout.strip().splitlines()[-1]))
    checked = seen[0]["checked"]
    assert checked > 0
    assert seen == [
        {"ok": True, "checked": checked, "torch": True},
        {"ok": True, "checked": checked, "torch": False},
    ]


def test_cache_clear_forgets_the_recorded_validations(tmp_path, capsys, monkeypatch) -> None:
    from evalkit.spec.verified import VerifiedChecks
    from tests.helpers import run_cli

    record = tmp_path / "verified"
    monkeypatch.setenv("EVALKIT_VERIFIED_DIR", str(record))
    monkeypatch.setenv("EVALKIT_CACHE_DIR", str(tmp_path / "replies"))
    checks = VerifiedChecks(record)
    key = checks.key("{}", None)
    checks.add(key)
    assert checks.has(key)
    result = run_cli(["cache", "clear"], capsys, monkeypatch)
    assert result.code == 0 and "1 recorded validation" in result.err
    assert not checks.has(key)
