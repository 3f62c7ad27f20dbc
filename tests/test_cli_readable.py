"""The CLI as a person reads it: help without type names, whole run ids, plurals, validate like run."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from rich.console import Console

from evalkit import cli
from evalkit.progress import ProgressDisplay, plural
from tests.helpers import run_cli

ROOT = Path(__file__).parent.parent
LONG_ID = "20261202T030032Z-anthropic-claude-opus-4-5-20251101-hw9-and-tblocks-s8"


@pytest.mark.parametrize(
    "command", [[], ["run"], ["check"], ["validate"], ["compare"], ["grade"], ["show"], ["cache", "info"]]
)
def test_help_shows_no_type_names(command: list[str], capsys, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    result = run_cli([*command, "--help"], capsys, monkeypatch)
    assert result.code == 0, result.err
    assert "Usage" in result.out
    assert "<bool>" not in result.out and "<list[" not in result.out, result.out


def test_run_help_keeps_its_defaults_and_names_its_values(capsys, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    out = run_cli(["run", "--help"], capsys, monkeypatch).out
    # rich reads '[default: ...]' in a help text as markup and drops it; these must survive
    for said in ("(default: 8192; local: 2048)", "(default: 8)", "(default: half the CPUs)", "(local: 0)"):
        assert said in out, said
    assert "MODEL" in out and "RUN" in out
    check = run_cli(["check", "--help"], capsys, monkeypatch).out
    assert "ASSUMPTION" in check and "ANSWER" in check and "KIND" in check
    assert "PATH" in run_cli(["validate", "--help"], capsys, monkeypatch).out


@pytest.fixture
def runs_dir(tmp_path: Path, capsys, monkeypatch) -> Path:
    """A runs directory with one finished run under a long id (and one under its own)."""
    from evalkit.models.registry import register_provider
    from evalkit.models.scripted import ScriptedModel
    from tests.test_cli import MINI, _tutor

    register_provider(
        "scripted", lambda model_id, settings: ScriptedModel(_tutor, name=f"scripted:{model_id}")
    )
    args = ["run", "--model", "scripted:tutor", "--problems", str(MINI / "problems" / "*.yaml"), "--rubrics",
            str(MINI / "rubrics"), "--out", str(tmp_path / "runs"), "--no-report", "--quiet"]  # fmt: skip
    assert run_cli(args, capsys, monkeypatch).code == 0
    (made,) = (tmp_path / "runs").iterdir()
    shutil.copytree(made, tmp_path / "runs" / LONG_ID)
    return tmp_path / "runs"


def _run_column(table: str) -> list[str]:
    """The run column's text, each row's lines joined (a folded id is whole again)."""
    lines = table.splitlines()
    head = next(i for i, line in enumerate(lines) if line.lstrip().startswith("run "))
    start, end, counts = (lines[head].index(name) for name in ("run", "model", "correct"))
    rows: list[str] = []
    for line in lines[head + 2 :]:
        cell = line[start:end].strip()
        if not cell:
            continue
        if line[counts:].strip():  # a row starts where its counts are (they never wrap)
            rows.append(cell)
        elif rows:
            rows[-1] += cell
    return rows


def test_runs_never_cut_an_id_in_a_pipe(runs_dir: Path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    result = run_cli(["runs", "--dir", str(runs_dir)], capsys, monkeypatch)
    assert result.code == 0
    assert "…" not in result.out
    assert LONG_ID in result.out  # on one line: a pipe gets the table as wide as it is
    assert "scripted:tutor" in result.out and "3/3" in result.out


@pytest.mark.parametrize("width", [60, 80, 120])
def test_runs_never_cut_an_id_in_a_terminal(width: int, runs_dir: Path, capsys, monkeypatch) -> None:
    terminal = Console(force_terminal=True, width=width, color_system=None, highlight=False)
    monkeypatch.setattr(cli, "out_console", terminal)  # run_cli points it at the captured stdout
    result = run_cli(["runs", "--dir", str(runs_dir)], capsys, monkeypatch)
    assert result.code == 0
    table = result.out
    assert "…" not in table
    assert all(len(line) <= width for line in table.splitlines())
    ids = _run_column(table)
    assert LONG_ID in ids and len(ids) == 2
    if width == 120:
        assert LONG_ID in table  # wide enough: not even folded


def test_plurals() -> None:
    assert [plural(n, "hint") for n in (0, 1, 2, 1234)] == ["0 hints", "1 hint", "2 hints", "1,234 hints"]
    assert plural(1, "reply", "replies") == "1 reply" and plural(3, "reply", "replies") == "3 replies"
    display = ProgressDisplay(Console(quiet=True))
    display.turns, display.hints = 1, 1
    assert "1 turn, 1 hint;" in display._line()
    display.turns, display.hints = 2, 0
    assert "2 turns, 0 hints;" in display._line()


def test_verdicts_say_one_hint() -> None:
    part = {
        "problem": "q",
        "part": "a",
        "status": "incorrect",
        "first_attempt_status": "incorrect",
        "hints": 1,
    }
    assert cli._verdict(part).endswith("(1 hint)")
    assert cli._verdict({**part, "hints": 2}).endswith("(2 hints)")


def test_validate_takes_problems_and_rubrics_as_run_does(tmp_path: Path, capsys, monkeypatch) -> None:
    for sub in ("problems", "rubrics"):
        (tmp_path / sub).mkdir()
        shutil.copy(ROOT / sub / "hw9_q1.yaml", tmp_path / sub / "hw9_q1.yaml")
    pattern = str(tmp_path / "problems" / "hw9_*.yaml")
    glob = run_cli(
        ["validate", "--problems", pattern, "--rubrics", str(tmp_path / "rubrics")], capsys, monkeypatch
    )
    assert glob.code == 0 and "ok 2 files valid" in glob.err, glob.err
    alone = run_cli(["validate", "--problems", str(tmp_path / "problems")], capsys, monkeypatch)
    assert alone.code == 0 and "ok 1 file valid" in alone.err, alone.err  # its rubric is found beside it
    positional = run_cli(["validate", str(tmp_path / "problems" / "hw9_q1.yaml")], capsys, monkeypatch)
    assert positional.code == 0 and "ok 1 file valid" in positional.err
    nothing = run_cli(["validate", "--problems", str(tmp_path / "none_*.yaml")], capsys, monkeypatch)
    assert nothing.code == 1 and "none_*.yaml: not found" in nothing.err
    lonely = tmp_path / "lonely" / "problems"
    lonely.mkdir(parents=True)
    shutil.copy(ROOT / "problems" / "hw9_q1.yaml", lonely)
    no_rubric = run_cli(["validate", "--problems", str(lonely)], capsys, monkeypatch)
    assert no_rubric.code == 1 and "no rubric" in no_rubric.err, no_rubric.err


def test_a_line_number_is_printed_as_a_number_never_as_an_emoji(tmp_path, capsys, monkeypatch) -> None:
    """rich turns ':100:' into an emoji unless told not to: an error at line 100 must say ':100:'."""
    from tests.helpers import run_cli

    problem = tmp_path / "problems" / "p1.yaml"
    problem.parent.mkdir()
    body = "id: p1\ntitle: P\nparts:\n  - {id: a, prompt: 'What?', expected: '1', points: 1}\n"
    problem.write_text("# a comment\n" * 95 + body + "promt: typo\n")  # the typo is line 100
    result = run_cli(["validate", str(problem)], capsys, monkeypatch)
    assert result.code == 1
    assert f"{problem}:100:" in result.err and "💯" not in result.err
