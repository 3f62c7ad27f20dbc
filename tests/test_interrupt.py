"""Ctrl-C in the middle of grading: the run stops at once, records nothing half-graded, and resumes.

A SIGINT reaches ``evalkit run`` (the real CLI in a child process, the real OpenAI SDK, the fake
provider server) once the first reply is journaled and its code check is starting the sandbox. How long the exit takes is measured by
``python bench/cli.py`` (``ctrl_c``), not here.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import time
from pathlib import Path

import pytest

from tests.fakeserver import FAKE_OPENAI_KEY, FakeProvider
from tests.helpers import cli_process

ROOT = Path(__file__).parent.parent
# Q3 has a code part (graded in the sandbox) and math parts (graded by the math workers).
REPLY = (
    "**Part (a)** The blanks are `d_model // num_heads` and `self.W_o`, so $d_k = \\boxed{d/h}$.\n\n"
    "**Part (b)**\n```python\nself.W_o = nn.Linear(2 * d_model, d_model)\n```\n"
)
# what a check reports when its grader was killed under it: none of these may be journaled
KILLED = {"sandbox_error", "grader_crash", "grader_error", "checker_error", "answer_timeout"}


def _parts(results: dict) -> dict[tuple[str, str], tuple]:
    return {
        (p["problem"], p["part"]): (p["status"], p["first_attempt_status"], p["attempts"], p["hints"])
        for p in results["parts"]
    }


def _events(run_dir: Path) -> list[dict]:
    lines = (run_dir / "journal.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines if line.endswith("}")]  # the last one may be half written


def sandbox_workers(pid: int) -> list[int]:
    """The sandbox workers (zygotes, under bubblewrap or not) that process ``pid`` started."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes()
        except (OSError, ValueError):
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == pid and (b"_zygote.py" in command or command.startswith(b"bwrap")):
            found.append(int(entry.name))
    return found


def graded_next(event: dict) -> bool:
    """A reply to the question (not the opening exchange): its checks start as it is journaled."""
    return event.get("type") == "message" and event.get("role") == "assistant" and event["conv"] != "opening"


@pytest.mark.slow
def test_ctrl_c_while_grading_stops_and_resumes_to_the_uninterrupted_verdicts(tmp_path: Path) -> None:
    if os.geteuid() != 0 and shutil.which("bwrap") is None:
        pytest.skip("needs root (namespaces) or bubblewrap for the code check")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "ANTHROPIC_"))}
    env |= {"OPENAI_API_KEY": FAKE_OPENAI_KEY, "EVALKIT_CACHE_DIR": str(tmp_path / "cache")}
    with FakeProvider(latency_s=0.05) as fake:
        fake.respond_with(lambda call: REPLY)
        common = ["--model", "openai:m", "--base-url", fake.openai_base_url, "--no-report", "--no-cache"]
        common += ["--problems", "problems/hw9_q3.yaml", "--rubrics", "rubrics"]

        clean = cli_process("run", *common, "--out", str(tmp_path / "clean"), "--quiet", "--json", env=env)
        out, err = clean.communicate(timeout=240)
        assert clean.returncode == 0, err.decode()
        expected = _parts(json.loads(out))

        runs = tmp_path / "runs"
        proc = cli_process("run", *common, "--out", str(runs), env=env)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            journals = list(runs.glob("*/journal.jsonl"))
            if (
                journals
                and any(graded_next(e) for e in _events(journals[0].parent))
                and sandbox_workers(proc.pid)
            ):
                break  # the reply is journaled and its code check is starting the sandbox
            time.sleep(0.01)
        assert proc.poll() is None, "the run ended before it could be interrupted"
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)

        message = err.decode()
        assert proc.returncode == 130, message
        assert "Traceback" not in message and "internal error" not in message
        (run_dir,) = runs.iterdir()
        assert f"interrupted; nothing is lost. Continue with: evalkit run --resume {run_dir}" in message
        events = _events(run_dir)
        assert events[-1]["type"] == "run_end" and events[-1]["status"] == "interrupted"
        assert not (run_dir / "results.json").exists()
        for event in events:
            if event["type"] == "check":
                reasons = {c.get("reason") for c in event["checks"]}
                assert not reasons & KILLED, event  # a killed grader is not a verdict

        resumed = cli_process("run", "--resume", str(run_dir), "--quiet", "--json", "--no-report", env=env)
        out, err = resumed.communicate(timeout=240)
        assert resumed.returncode == 0, err.decode()
        assert _parts(json.loads(out)) == expected
