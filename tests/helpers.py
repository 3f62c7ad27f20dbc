"""Shared test helpers: run the CLI in-process the way the console script does."""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass
class CliResult:
    code: int
    out: str
    err: str


def run_cli(
    args: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> CliResult:
    """Call ``evalkit.cli.main`` with ``args``; return exit code and captured output."""
    from evalkit import cli

    monkeypatch.setattr(sys, "argv", ["evalkit", *args])
    cli.err_console.file = sys.stderr  # rich caches the stream; point it at the captured one
    cli.out_console.file = sys.stdout
    capsys.readouterr()
    code = 0
    try:
        cli.main()
    except SystemExit as exit_:
        code = int(exit_.code or 0) if not isinstance(exit_.code, str) else 1
    captured = capsys.readouterr()
    return CliResult(code, captured.out, captured.err)


ROOT = Path(__file__).parent.parent


def copy_suite(root: Path, names: tuple[str, ...]) -> Path:
    """A suite of the repository's problems ``names`` (each file, folder and rubric) under ``root``."""
    (root / "rubrics").mkdir(parents=True, exist_ok=True)
    (root / "problems").mkdir(exist_ok=True)
    for name in names:
        if (ROOT / "problems" / name).is_dir():
            shutil.copytree(ROOT / "problems" / name, root / "problems" / name)
        shutil.copy(ROOT / "problems" / f"{name}.yaml", root / "problems")
        shutil.copy(ROOT / "rubrics" / f"{name}.yaml", root / "rubrics")
    return root


def markdown_transcript(*turns: tuple[str, str]) -> str:
    """A Markdown transcript of (user, assistant) turns, as ``evalkit grade-transcript`` reads it."""
    return "".join(f"## User\n\n{u}\n\n## Assistant\n\n{a}\n\n" for u, a in turns)


def cli_process(*args: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """``python -m evalkit.cli ARGS`` started in the repository, its output piped (for signals and resumes)."""
    return subprocess.Popen(
        [sys.executable, "-m", "evalkit.cli", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
