"""The CLI end to end (in-process): run --json, the run directory, runs, show, schema, missing keys."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evalkit.models.registry import register_provider
from evalkit.models.scripted import ScriptedModel
from tests.helpers import run_cli

ROOT = Path(__file__).parent.parent
MINI = ROOT / "tests" / "fixtures" / "mini"


def _tutor(request) -> str:
    turn = request.turn
    if turn.kind == "opening":
        return "Sure, one question at a time."
    if turn.kind == "question":
        return "**Part (a)** $\\boxed{5}$\n\n**Part (b)** $\\boxed{15}$\n\n**Part (c)** Paris"
    return "Sorry: $\\boxed{4}$."


@pytest.fixture
def mini_run(tmp_path, capsys, monkeypatch):
    register_provider(
        "scripted", lambda model_id, settings: ScriptedModel(_tutor, name=f"scripted:{model_id}")
    )
    args = [
        "run",
        "--model",
        "scripted:tutor",
        "--problems",
        str(MINI / "problems" / "*.yaml"),
        "--rubrics",
        str(MINI / "rubrics"),
        "--out",
        str(tmp_path / "runs"),
        "--json",
    ]
    return run_cli(args, capsys, monkeypatch), tmp_path / "runs"


def test_run_json_shape_and_run_directory(mini_run) -> None:
    result, runs_dir = mini_run
    assert result.code == 0, result.err
    data = json.loads(result.out)  # stdout is only JSON
    parts = {(p["problem"], p["part"]): p for p in data["parts"]}
    assert set(parts) == {("arith", "a"), ("arith", "b"), ("arith", "c")}
    a = parts[("arith", "a")]
    assert (a["status"], a["first_attempt_status"], a["attempts"], a["hints"]) == (
        "correct",
        "incorrect",
        2,
        1,
    )
    for p in data["parts"]:
        assert set(p) >= {"problem", "part", "status", "first_attempt_status", "attempts", "hints"}
    run_dir = Path(data["run_dir"])
    assert run_dir.parent == runs_dir
    assert run_dir.name.endswith("-scripted-tutor-mini")
    config = json.loads((run_dir / "run.json").read_text())
    assert config["model"] == "scripted:tutor" and len(config["content_hash"]) == 16
    assert "pydantic" in config["versions"]
    events = [json.loads(line) for line in (run_dir / "journal.jsonl").read_text().splitlines()]
    types = [e["type"] for e in events]
    assert types[0] == "run_start" and types[-1] == "run_end"
    assert types.count("hint") == 1 and types.count("check") == 4  # 3 first attempts + 1 re-check
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    replies = [e for e in events if e["type"] == "message" and e["role"] == "assistant"]
    assert len(replies) == 3 and replies[-1]["content"] == "Sorry: $\\boxed{4}$."
    results = json.loads((run_dir / "results.json").read_text())
    assert results["parts"] == data["parts"]
    assert "run directory" in result.err


def test_runs_and_show(mini_run, capsys, monkeypatch) -> None:
    _, runs_dir = mini_run
    listed = run_cli(["runs", "--dir", str(runs_dir)], capsys, monkeypatch)
    assert listed.code == 0 and "scripted:tutor" in listed.out and "3/3" in listed.out
    shown = run_cli(["show", "latest", "--dir", str(runs_dir)], capsys, monkeypatch)
    assert shown.code == 0
    assert "arith" in shown.out and "arith.a ✓ after hint 1" in shown.out and "3/3 parts correct" in shown.out


def test_show_unknown_run_is_one_line(tmp_path, capsys, monkeypatch) -> None:
    result = run_cli(["show", "nope", "--dir", str(tmp_path)], capsys, monkeypatch)
    assert result.code == 1
    assert len(result.err.strip().splitlines()) == 1 and "evalkit runs" in result.err


def test_schema_is_json_schema(capsys, monkeypatch) -> None:
    result = run_cli(["schema", "problem"], capsys, monkeypatch)
    schema = json.loads(result.out)
    assert schema["additionalProperties"] is False
    assert {"id", "title", "parts"} <= set(schema["properties"])


def test_claude_without_key_names_the_variable(tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    result = run_cli(
        [
            "run",
            "--model",
            "claude",
            "--problems",
            str(MINI / "problems"),
            "--rubrics",
            str(MINI / "rubrics"),
            "--out",
            str(tmp_path),
        ],
        capsys,
        monkeypatch,
    )
    assert result.code != 0
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, result.err
    assert "ANTHROPIC_API_KEY" in lines[0] and "offline" in lines[0]
    assert not any(tmp_path.iterdir()), "no run directory is created when the model cannot start"


def test_unknown_model_alias(capsys, monkeypatch) -> None:
    result = run_cli(["run", "--model", "clode"], capsys, monkeypatch)
    assert result.code == 1 and "clode" in result.err and "claude" in result.err


@pytest.mark.parametrize(
    "models", [["scripted:a"], ["scripted:a", "scripted:b"], ["scripted:a", "scripted:b", "scripted:c"]]
)
def test_run_json_prints_only_json_for_any_number_of_models(models, tmp_path, capsys, monkeypatch) -> None:
    register_provider(
        "scripted", lambda model_id, settings: ScriptedModel(_tutor, name=f"scripted:{model_id}")
    )
    args = ["run", *[a for m in models for a in ("--model", m)], "--problems", str(MINI / "problems")]
    args += [
        "--rubrics",
        str(MINI / "rubrics"),
        "--out",
        str(tmp_path / "runs"),
        "--no-cache",
        "--no-report",
        "--json",
    ]
    result = run_cli(args, capsys, monkeypatch)
    assert result.code == 0, result.err
    data = json.loads(result.out)  # the whole of stdout: no table before or after
    runs = [data] if len(models) == 1 else data
    assert [r["model"] for r in runs] == models


def test_a_sigterm_that_lands_in_a_finalizer_still_stops_the_run() -> None:
    """Python drops an exception raised in __del__: SIGTERM must stop the run the way Ctrl-C does."""
    import asyncio
    import os
    import signal
    import time

    from evalkit import cli

    class DroppedMidRun:
        def __del__(self) -> None:
            os.kill(os.getpid(), signal.SIGTERM)  # the handler runs here, inside the finalizer

    async def a_run() -> None:
        DroppedMidRun()
        await asyncio.sleep(10)

    before = signal.getsignal(signal.SIGTERM)
    cli._interrupt_on_sigterm()
    try:
        start = time.monotonic()
        with pytest.raises(KeyboardInterrupt):
            asyncio.run(a_run())
        assert time.monotonic() - start < 5
    finally:
        signal.signal(signal.SIGTERM, before)


def test_python_dash_m_evalkit_is_the_command() -> None:
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "evalkit", "--help"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0 and "Usage:" in done.stdout and "validate" in done.stdout
