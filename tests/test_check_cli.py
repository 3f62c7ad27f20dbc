"""`evalkit check KIND`: the verdict as JSON, for problem authors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import run_cli

CODE_CASES = Path(__file__).parent / "checks" / "code_cases"


@pytest.mark.parametrize(
    ("args", "status"),
    [
        (
            [
                "complexity",
                "--answer",
                "O(d^2 + bd + bnk)",
                "--expected",
                "O(d^2 + bd + \\frac{bnd}{h})",
                "--assume",
                "k = d/h",
                "--symbols",
                "b n d h k",
            ],
            "correct",
        ),
        (
            ["complexity", "--answer", "O(N^2)", "--expected", "O(N^2 + ND + NM)", "--symbols", "N D M"],
            "incorrect",
        ),
        (["formula", "--answer", "\\sqrt{d}", "--expected", "d^{1/2}", "--symbols", "d"], "correct"),
        (["formula", "--answer", "d\\sigma^2", "--expected", "d\\mu^2", "--symbols", "d"], "incorrect"),
        (
            ["vector", "--answer", "\\begin{bmatrix}1\\\\4\\\\3\\end{bmatrix}", "--expected", "[1, 4, 3]"],
            "correct",
        ),
        (["condition", "--answer", "\\text{sim}(q,k) > 0", "--expected", "\\text{sim}(q,k) > 0"], "correct"),
        (["formula", "--answer", "\\frac{d}{", "--expected", "d"], "unscored"),
    ],
)
def test_check_json(args, status, capsys, monkeypatch) -> None:
    result = run_cli(["check", *args, "--json"], capsys, monkeypatch)
    data = json.loads(result.out)
    assert data["status"] == status, data
    assert data["explanation"]
    assert result.code == (0 if status == "correct" else 1)


def test_check_code_names_split_heads(tmp_path, capsys, monkeypatch) -> None:
    answer = tmp_path / "reply.md"
    answer.write_text("Part (b)\n```python\nself.W_o = nn.Linear(2 * d_model, d_model)\n```\n")
    result = run_cli(
        ["check", "code", "--problem", "q3", "--part", "b", "--answer-file", str(answer), "--json"],
        capsys,
        monkeypatch,
    )
    data = json.loads(result.out)
    assert data["status"] == "incorrect" and "split_heads" in data["explanation"]


def test_check_needs_its_arguments(capsys, monkeypatch) -> None:
    result = run_cli(["check", "formula", "--answer", "d"], capsys, monkeypatch)
    assert result.code == 1 and "--expected" in result.err
    result = run_cli(["check", "code", "--problem", "q3"], capsys, monkeypatch)
    assert result.code == 1 and "--answer-file" in result.err
