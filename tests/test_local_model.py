"""The real local model (SmolLM2-135M-Instruct through llama.cpp's server), through the real CLI.

These tests assert the pipeline, never the model's score: every part gets a verdict with a reason,
the journal and the report are written, a run killed with SIGKILL resumes by asking only what is
missing, a second run is served from the response cache without starting a server, and the server
never outlives evalkit (Ctrl-C, SIGTERM, SIGKILL, an error). Replies are kept short
(``--max-tokens``) so the whole file costs about a minute on two busy cores.

They need the ``[local]`` extra (``pip install -e '.[local]'``); without it they are skipped,
except under CI (``CI=true``), where a missing extra fails them.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
PROBLEM = ROOT / "problems" / "hw9_q2.yaml"  # two parts, at most two hints each

pytestmark = pytest.mark.local_model


@pytest.fixture(scope="module", autouse=True)
def local_extra() -> None:
    import importlib.util

    if importlib.util.find_spec("xllamacpp") is None:
        if os.environ.get("CI"):
            pytest.fail("CI runs the real local model: .ci/run must install the [local] extra")
        pytest.skip("needs the [local] extra: pip install -e '.[local]'")
    from evalkit.models.local import default_model_file

    default_model_file()  # fetched once (hash-checked), before any test's clock starts


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    env["EVALKIT_CACHE_DIR"] = str(tmp_path / "cache")
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _run_args(tmp_path: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "evalkit.cli",
        "run",
        "--model",
        "local",
        "--problems",
        str(PROBLEM),
        "--max-connections",
        "2",
        "--threads",
        "1",
        "--ctx",
        "2048",
        "--out",
        str(tmp_path / "runs"),
        *extra,
    ]


def _spawn(args: list[str], tmp_path: Path, name: str) -> tuple[subprocess.Popen[bytes], Path]:
    err = tmp_path / f"{name}.err"
    proc = subprocess.Popen(
        args,
        cwd=ROOT,
        env=_env(tmp_path),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=open(err, "wb"),
        start_new_session=True,  # its own process group, as a terminal would give it
    )
    return proc, err


def _wait_for(condition: Any, timeout_s: float, what: str) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout_s:g}s waiting for {what}")


def _server_pid(err: Path) -> int | None:
    match = re.search(r"local server: .* pid (\d+)", err.read_text(errors="replace"))
    return int(match.group(1)) if match else None


def _server_url(err: Path) -> str:
    match = re.search(r"local server: .* at (http://127\.0\.0\.1:\d+)", err.read_text(errors="replace"))
    assert match, err.read_text()
    return match.group(1)


def _alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie waiting for its parent to reap it does not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state not in ("Z", "X")


def _refuses(url: str) -> bool:
    host, port = url.removeprefix("http://").split(":")
    try:
        socket.create_connection((host, int(port)), timeout=1).close()
    except OSError:
        return True
    return False


def _events(run_dir: Path) -> list[dict[str, Any]]:
    journal = run_dir / "journal.jsonl"
    if not journal.exists():  # the run directory is made a moment before its journal
        return []
    lines = journal.read_text().splitlines()
    return [json.loads(line) for line in lines if line.strip() and line.endswith("}")]


def _replies(events: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    """Assistant messages by (conversation, turn), the key the response cache's entries also carry."""
    return {
        (e["conv"], json.dumps(e["turn"], sort_keys=True)): e
        for e in events
        if e.get("type") == "message" and e.get("role") == "assistant"
    }


def _run_dir(tmp_path: Path) -> Path:
    runs = [p for p in (tmp_path / "runs").iterdir() if p.is_dir()] if (tmp_path / "runs").is_dir() else []
    return runs[0] if len(runs) == 1 else Path("/nonexistent")


def test_a_local_run_end_to_end_killed_resumed_and_cached(tmp_path: Path) -> None:
    # 1. a run, killed with SIGKILL once two replies (the opening and the question's) are journaled
    proc, err = _spawn(_run_args(tmp_path, "--max-tokens", "96", "--no-report"), tmp_path, "first")
    try:
        run_dir = _wait_for(
            lambda: _run_dir(tmp_path) if _run_dir(tmp_path).exists() else None, 60, "a run dir"
        )
        _wait_for(lambda: len(_replies(_events(run_dir))) >= 2 or proc.poll() is not None, 120, "two replies")
        server = _server_pid(err)
        proc.kill()
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert server is not None, err.read_text()
    _wait_for(lambda: not _alive(server), 10, "the server to die with evalkit")
    stored = _replies(_events(run_dir))
    assert len(stored) >= 2
    run_json = json.loads((run_dir / "run.json").read_text())
    assert run_json["local"]["sha256"] == "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
    assert run_json["options"]["temperature"] == 0.0 and run_json["options"]["seed"] == 0

    # 2. resume: the stored replies come from the journal; only the missing ones are asked
    cache = tmp_path / "cache"
    cached_before = {
        (m["conv"], json.dumps(m["turn"], sort_keys=True))
        for m in (json.loads(f.read_text())["meta"] for f in cache.glob("*/*.json"))
    }
    resumed = subprocess.run(
        [sys.executable, "-m", "evalkit.cli", "run", "--resume", str(run_dir), "--threads", "1"],
        cwd=ROOT,
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert resumed.returncode == 0, resumed.stderr
    events = _events(run_dir)
    replies = _replies(events)
    missing = set(replies) - set(stored)
    in_cache_only = len((cached_before - set(stored)) & missing)  # replied before the kill, not yet journaled
    run_ends = [e for e in events if e["type"] == "run_end"]
    assert run_ends[-1]["status"] == "complete"
    assert run_ends[-1]["calls"] == len(missing) - in_cache_only
    for key, event in stored.items():  # nothing stored was asked again or rewritten
        assert replies[key]["seq"] == event["seq"]

    # every part has a verdict with a reason; journal, results and report exist
    results = json.loads((run_dir / "results.json").read_text())
    assert [p["part"] for p in results["parts"]] == ["a", "b"]
    for part in results["parts"]:
        assert part["status"] in ("correct", "incorrect", "unscored")
        assert part["explanation"].strip(), part
        assert part["attempt_history"] and all(
            c["status"] for a in part["attempt_history"] for c in a["checks"]
        )
    assert results["totals"]["truncated_replies"] == sum(
        1 for e in replies.values() if e["response"]["truncated"]
    )
    # the rubric's student probes went out on branches of their own, and each has an outcome or a reason
    from evalkit.spec.models import PROBE_OUTCOMES

    declared = ["a:challenge", "b:max-index-gradient", "b:gradient-one", "b:selected-value", "b:challenge"]
    assert [f"{r['part']}:{r['probe']}" for r in results["probes"]] == declared
    for r in results["probes"]:
        assert r["outcome"] in (*PROBE_OUTCOMES[r["kind"]], "not_run") and r["explanation"].strip(), r
    sent = {e["conv"] for e in events if e["type"] == "probe"}
    answered = {f"s0/q2/{r['part']}:{r['probe']}" for r in results["probes"] if r["outcome"] != "not_run"}
    assert answered <= sent <= {f"s0/q2/{key}" for key in declared}
    html = (run_dir / "report.html").read_text()
    assert "Argmax attention" in html and "local:smollm2-135m-instruct" in html

    # 3. the same run again: every reply comes from the response cache; no server is started
    again = subprocess.run(
        [*_run_args(tmp_path, "--max-tokens", "96", "--no-report", "--json")],
        cwd=ROOT,
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert again.returncode == 0, again.stderr
    assert "local server:" not in again.stderr
    second = json.loads(again.stdout)
    second_dir = Path(second["run_dir"])
    assert [e for e in _events(second_dir) if e["type"] == "run_end"][-1]["calls"] == 0
    strip = ("attempt_history",)
    assert [{k: v for k, v in p.items() if k not in strip} for p in second["parts"]] == [
        {k: v for k, v in p.items() if k not in strip} for p in results["parts"]
    ]


@pytest.mark.parametrize("how", ["ctrl-c", "sigterm", "sigkill"])
def test_the_server_never_outlives_evalkit(tmp_path: Path, how: str) -> None:
    proc, err = _spawn(_run_args(tmp_path, "--no-cache", "--no-report"), tmp_path, how)
    try:
        server = _wait_for(lambda: _server_pid(err) or (proc.poll() is not None and -1), 120, "the server")
        assert server > 0, err.read_text()
        url = _server_url(err)
        assert _alive(server) and not _refuses(url)
        time.sleep(0.5)  # generating now
        if how == "ctrl-c":
            os.killpg(proc.pid, signal.SIGINT)  # what the terminal sends to the foreground group
        else:
            proc.send_signal(signal.SIGTERM if how == "sigterm" else signal.SIGKILL)
        code = proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    _wait_for(lambda: not _alive(server), 10, f"the server to stop after {how}")
    # (its port is free again now, and on a busy machine another process may soon listen on it)
    if how != "sigkill":
        assert code == 130, err.read_text()
        assert "interrupted; nothing is lost" in err.read_text()
        assert not list(Path("/tmp").glob(f"evalkit-llamacpp-*{server}*"))


def test_a_prompt_too_long_for_the_context_is_one_line_and_stops_the_server(tmp_path: Path) -> None:
    args = _run_args(tmp_path, "--no-cache", "--no-report", "--max-tokens", "32")
    args[args.index("--ctx") + 1] = "256"  # the opening fits; the question (the whole problem) does not
    proc, err = _spawn(args, tmp_path, "ctx")
    code = proc.wait(timeout=300)
    text = err.read_text()
    server = _server_pid(err)
    assert code == 1, text
    errors = [line for line in text.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in text
    assert "does not fit the context of 256 tokens per conversation" in errors[0] and "--ctx" in errors[0]
    assert server is not None and not _alive(server)
