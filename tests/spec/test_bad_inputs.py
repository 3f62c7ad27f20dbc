"""Every malformed input gives one clear line with file:line and a non-zero exit, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.helpers import run_cli

BAD = Path(__file__).parent.parent / "fixtures" / "bad"
CASES = yaml.safe_load((BAD / "cases.yaml").read_text())


def test_there_are_many_cases() -> None:
    assert len(CASES) >= 30


@pytest.mark.parametrize("case", CASES, ids=[c["file"] for c in CASES])
def test_bad_input_is_one_clear_line(case, capsys, monkeypatch, tmp_path) -> None:
    path = BAD / case["file"]

    def fill(text: str) -> str:
        return text.replace("{path}", str(path)).replace("{tmp}", str(tmp_path))

    for name, value in case.get("env", {}).items():
        monkeypatch.setenv(name, fill(value))
    if "env" in case:
        from evalkit import pricing

        pricing._table.cache_clear()
    args = [fill(a) for a in case.get("args", ["validate", "{path}"])]
    result = run_cli(args, capsys, monkeypatch)
    if "env" in case:
        pricing._table.cache_clear()
    assert result.code != 0
    lines = [line for line in result.err.splitlines() if line.strip()]
    assert len(lines) == 1, result.err
    assert "Traceback" not in result.err
    assert str(path) in lines[0]
    for fragment in case["expect"]:
        assert fragment in lines[0], f"{fragment!r} not in {lines[0]!r}"


def test_every_fixture_is_in_the_table() -> None:
    listed = {c["file"] for c in CASES}
    present = {p.name for p in BAD.iterdir() if p.name != "cases.yaml"}
    assert present <= listed, f"fixtures without an expectation: {sorted(present - listed)}"
