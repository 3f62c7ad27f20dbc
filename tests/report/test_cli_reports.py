"""``evalkit report``, ``compare`` and ``export`` end to end (in-process)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from evalkit.report import compare_runs
from tests.helpers import run_cli


def test_report_html_and_latex(fake_runs, tmp_path, capsys, monkeypatch) -> None:
    run = str(fake_runs["a"].path)
    result = run_cli(["report", run, "--out", str(tmp_path / "r.html")], capsys, monkeypatch)
    assert result.code == 0, result.err
    assert "wrote" in result.err and (tmp_path / "r.html").read_text(encoding="utf-8").startswith(
        "<!DOCTYPE html>"
    )
    result = run_cli(["report", run, "-f", "latex", "--out", str(tmp_path / "r.tex")], capsys, monkeypatch)
    assert result.code == 0, result.err
    tex = (tmp_path / "r.tex").read_text(encoding="utf-8")
    assert (
        tex.count(r"\end{document}") == 1
        and r"\section{Question 3: Multi-head attention implementation}" in tex
    )
    assert r"\eknote{split-heads and combine-heads have to agree.}" in tex  # the reviewer's margin note


def test_report_by_name_in_a_runs_directory(fake_runs, capsys, monkeypatch) -> None:
    runs_dir = fake_runs["b"].path.parent
    result = run_cli(["report", fake_runs["b"].id, "--dir", str(runs_dir)], capsys, monkeypatch)
    assert result.code == 0, result.err
    assert (fake_runs["b"].path / "report.html").exists()


def test_report_errors_are_one_line(fake_runs, tmp_path, capsys, monkeypatch) -> None:
    result = run_cli(["report", str(fake_runs["a"].path), "-f", "docx"], capsys, monkeypatch)
    assert result.code == 1 and "unknown report format 'docx'" in result.err
    result = run_cli(["report", "nope", "--dir", str(tmp_path)], capsys, monkeypatch)
    assert result.code == 1 and "not found" in result.err and "Traceback" not in result.err
    result = run_cli(["report", str(fake_runs["a"].path), "--sample", "1"], capsys, monkeypatch)
    assert result.code == 1 and "has 1 sample(s); --sample must be 0..0" in result.err


def test_compare_shows_the_parts_that_differ(fake_runs, tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "160")
    out = tmp_path / "cmp.html"
    args = ["compare", str(fake_runs["a"].path), str(fake_runs["b"].path), "--out", str(out)]
    result = run_cli(args, capsys, monkeypatch)
    assert result.code == 0, result.err
    rows = {line.split("│")[1].strip(): line for line in result.out.splitlines() if line.count("│") >= 4}
    assert "≠" in rows["Q3(b)"] and "after hint 1" in rows["Q3(b)"] and "first try" in rows["Q3(b)"]
    assert "≠" in rows["Q4(a)"] and "≠" not in rows["Q1(a)"]
    page = out.read_text(encoding="utf-8")
    assert page.count('class="differs"') == 4  # two parts, two runs each
    assert "tutor-a vs tutor-b" in page


def test_compare_model(fake_runs) -> None:
    cmp = compare_runs([fake_runs["a"], fake_runs["b"]])
    differing = [(q.short, p.label) for q in cmp.questions for p in q.parts if p.differs]
    assert differing == [("Q3", "(b)"), ("Q4", "(a)")]
    assert [r.label for r in cmp.runs] == ["tutor-a", "tutor-b"]


def test_compare_needs_two_runs(fake_runs, capsys, monkeypatch) -> None:
    result = run_cli(["compare", str(fake_runs["a"].path)], capsys, monkeypatch)
    assert result.code == 1 and "at least two runs" in result.err


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_export(fake_runs, tmp_path, capsys, monkeypatch, fmt: str) -> None:
    out = tmp_path / f"parts.{fmt}"
    args = ["export", str(fake_runs["a"].path), str(fake_runs["b"].path), "--format", fmt, "--out", str(out)]
    result = run_cli(args, capsys, monkeypatch)
    assert result.code == 0, result.err
    frame = pd.read_csv(out) if fmt == "csv" else pd.read_parquet(out)
    assert len(frame) == 16
    row = frame[
        (frame["model"] == "fake:tutor-a") & (frame["problem"] == "q3") & (frame["part"] == "b")
    ].iloc[0]
    assert (row["outcome"], row["attempts"], row["hints"]) == ("after_hint", 2, 1)
    hints = row["hint_texts"] if fmt == "csv" else " | ".join(row["hint_texts"])
    assert hints == "Would you have to modify `split_heads` at all?"


def _written(err: str) -> Path:
    (line,) = [line for line in err.splitlines() if line.startswith("wrote ")]
    return Path(line.removeprefix("wrote "))


def test_compare_and_export_write_beside_the_runs_not_in_the_current_directory(
    fake_runs, tmp_path, capsys, monkeypatch
) -> None:
    runs = tmp_path / "runs"
    a, b = (shutil.copytree(fake_runs[k].path, runs / fake_runs[k].id) for k in ("a", "b"))
    here = tmp_path / "checkout"
    here.mkdir()
    monkeypatch.chdir(here)

    result = run_cli(["compare", str(a), str(b)], capsys, monkeypatch)
    assert result.code == 0, result.err
    page = _written(result.err)
    assert page.parent == runs and page.name.startswith("compare-") and page.suffix == ".html"
    assert "tutor-a vs tutor-b" in page.read_text(encoding="utf-8")

    result = run_cli(["export", str(a)], capsys, monkeypatch)
    assert result.code == 0, result.err
    assert _written(result.err) == a / "parts.csv" and len(pd.read_csv(a / "parts.csv")) == 8

    result = run_cli(["export", str(a), str(b), "-f", "parquet"], capsys, monkeypatch)
    assert result.code == 0, result.err
    table = _written(result.err)
    assert table.parent == runs and table.name.startswith("parts-") and table.suffix == ".parquet"
    assert len(pd.read_parquet(table)) == 16

    assert list(here.iterdir()) == [], "nothing is written where the command was typed"
    out = here / "mine" / "cmp.html"
    result = run_cli(["compare", str(a), str(b), "--out", str(out)], capsys, monkeypatch)
    assert result.code == 0 and _written(result.err) == out and out.exists()


def test_public_api() -> None:
    import evalkit.report

    for name in evalkit.report.__all__:
        assert getattr(evalkit.report, name).__doc__, name
