"""Benchmark: how long each evalkit command takes to answer, against ``python -c pass`` in the same run.

Every command runs as a whole process (start-up, imports and exit included), ``--runs`` times,
interleaved with the baseline ``python -c pass`` so that a machine that speeds up or slows down
moves both; the table gives the median, min and max seconds, the median's ratio to the
baseline's, and the median CPU seconds (the command and the processes it waited for: unlike the
wall time, this does not move with the load of the machine), and checks that each command said
what it should (a fast wrong answer is no pass).

    python bench/cli.py [--runs 5] [--only NAME ...]

Targets: a command that grades nothing answers within 1 s (``--help``, ``runs``, ``show``,
``validate``, a run without its key or without its local server); a command that grades one answer
(``check formula``, and ``check complexity``, which grades the same way) within 1.5 s; Ctrl-C ends a run within 1 s of the signal, while the run's first
reply is being graded (the sandbox starting); a refused connection to a server on this machine
fails within 2 s, through the real SDKs inside a run (no retries). Commands that grade a whole
run (``grade``, ``validate --selftest``, which runs every reference) are timed without a target.
``validate`` is timed as it is run again and again on a suite: its code checks passed a full
validation once before, untimed, so they are recorded as passed (a store of its own,
``EVALKIT_VERIFIED_DIR``; see evalkit/spec/verified.py); ``validate_cold`` is the first
validation after a change, with a store it cannot write: it reads every reference without
running it (no torch) and must say which it did not run. Ends with one line:

    PASS (or FAIL: name, ...)   slowest_grade_nothing=<name> <x>s ratio=<x> ctrl_c_s=<x> refused_s=<x>

where ratio is the slowest grade-nothing command's median over ``python -c pass``'s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import resource
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fakeserver import FAKE_OPENAI_KEY, FakeProvider  # noqa: E402
from tests.test_interrupt import REPLY, graded_next, sandbox_workers  # noqa: E402

PYTHON = sys.executable
_SCRIPT = Path(PYTHON).with_name("evalkit")  # the console script pip installed beside the interpreter
EVALKIT = [str(_SCRIPT)] if _SCRIPT.exists() else [PYTHON, "-m", "evalkit.cli"]


@dataclass
class Case:
    name: str
    argv: list[str]
    target_s: float | None  # None: timed, no target
    expect_code: int = 0
    expect_text: str = ""  # must appear in stdout or stderr
    env: dict[str, str] = field(default_factory=dict)
    drop_env: tuple[str, ...] = ()
    times: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    failure: str = ""


def _env(case: Case, base: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in base.items() if k not in case.drop_env}
    return {**env, **case.env}


def time_process(argv: list[str], env: dict[str, str]) -> tuple[float, float, int, str]:
    """Wall seconds, CPU seconds (the process and the children it waited for), exit code, output."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, done.returncode, done.stdout + done.stderr


def closed_port() -> tuple[socket.socket, int]:
    """A port on 127.0.0.1 that refuses connections: bound, not listening (kept for the whole run)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    return sock, sock.getsockname()[1]


def cases(runs_dir: Path, port: int) -> list[Case]:
    closed = f"http://127.0.0.1:{port}/v1"
    no_keys = ("ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", "OPENAI_API_KEY", "OPENAI_BASE_URL")
    return [
        Case("help", [*EVALKIT, "--help"], 1.0, expect_text="Usage"),
        Case("run_help", [*EVALKIT, "run", "--help"], 1.0, expect_text="--problems"),
        Case("runs", [*EVALKIT, "runs", "--dir", str(runs_dir)], 1.0, expect_text="replay"),
        Case("show", [*EVALKIT, "show", "latest", "--dir", str(runs_dir)], 1.0, expect_text="parts correct"),
        Case("validate", [*EVALKIT, "validate"], 1.0, expect_text="valid"),
        Case(
            "validate_cold",
            [*EVALKIT, "validate"],
            1.0,
            expect_text="4 references read, not run",
            env={"EVALKIT_VERIFIED_DIR": "/dev/null/verified"},  # nothing recorded, nothing found
        ),
        Case(
            "validate_math",
            [*EVALKIT, "validate", "problems/hw9_q1.yaml", "rubrics/hw9_q1.yaml"],
            1.0,
            expect_text="valid",
        ),
        Case(
            "run_no_key",
            [*EVALKIT, "run", "--model", "claude"],
            1.0,
            expect_code=1,
            expect_text="no Anthropic API key",
            drop_env=no_keys,
        ),
        Case(
            "run_no_server",
            [*EVALKIT, "run", "--model", "openai:llama3", "--base-url", closed],
            1.0,
            expect_code=1,
            expect_text="nothing is listening",
            drop_env=no_keys,
        ),
        Case(
            "check_complexity",
            [
                *EVALKIT,
                "check",
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
            1.5,
            expect_text="correct",
        ),
        Case(
            "check_formula",
            [
                *EVALKIT,
                "check",
                "formula",
                "--answer",
                "\\sqrt{d}",
                "--expected",
                "d^{1/2}",
                "--symbols",
                "d",
            ],
            1.5,
            expect_text="correct",
        ),
        Case("grade", [*EVALKIT, "grade", "latest", "--dir", str(runs_dir)], None, expect_text="new results"),
        Case("validate_selftest", [*EVALKIT, "validate", "--selftest"], None, expect_text="declared verdict"),
    ]


# --- Ctrl-C in the middle of grading, and a refused connection inside a run ----------------------------


def _serve(conn) -> None:  # type: ignore[no-untyped-def]
    with FakeProvider(latency_s=0.05) as fake:
        fake.respond_with(lambda call: REPLY)
        conn.send(fake.openai_base_url)
        conn.recv()  # stop


def ctrl_c_once(base_url: str, out: Path, env: dict[str, str]) -> tuple[float, str]:
    """Seconds from SIGINT to exit, sent once the first reply is journaled and its sandbox is starting."""
    argv = [*EVALKIT, "run", "--model", "openai:m", "--base-url", base_url, "--no-report", "--no-cache"]
    argv += ["--problems", "problems/hw9_q3.yaml", "--rubrics", "rubrics", "--out", str(out)]
    proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        journals = list(out.glob("*/journal.jsonl"))
        if journals and sandbox_workers(proc.pid):
            lines = journals[0].read_text().splitlines()
            if any(graded_next(json.loads(line)) for line in lines if line.endswith("}")):
                break
        time.sleep(0.005)
    if proc.poll() is not None:
        return float("nan"), "the run ended before the signal"
    started = time.perf_counter()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    took = time.perf_counter() - started
    message = err.decode()
    if proc.returncode != 130 or "evalkit run --resume" not in message:
        return took, f"exit {proc.returncode}: {message[-300:]}"
    return took, ""


def refused_in_a_run(port: int) -> tuple[float, str]:
    """Seconds for a model call to a closed port on 127.0.0.1 to fail, through each real SDK (no retries)."""
    from evalkit.errors import ModelError
    from evalkit.models import anthropic as anthropic_provider
    from evalkit.models import openai as openai_provider
    from evalkit.models.base import Message, ModelRequest, Turn
    from evalkit.models.registry import ModelSettings

    request = ModelRequest(messages=(Message("user", "hi"),), turn=Turn("opening"))
    worst, failure = 0.0, ""
    for create, model_id, suffix in ((openai_provider.create, "llama3", "/v1"),
                                     (anthropic_provider.create, "claude-x", "")):  # fmt: skip
        model = create(model_id, ModelSettings(base_url=f"http://127.0.0.1:{port}{suffix}", max_retries=6))

        async def call(model=model) -> str:  # type: ignore[no-untyped-def]
            try:
                await model.generate(request)
                return "a reply from a closed port"
            except ModelError as err:
                return "" if "nothing is listening" in str(err) and not err.retryable else str(err)
            finally:
                await model.aclose()

        started = time.perf_counter()
        failure = failure or asyncio.run(call())
        worst = max(worst, time.perf_counter() - started)
    return worst, failure


# --- the table ---------------------------------------------------------------------------------------


def row(
    name: str,
    times: list[float],
    base: float,
    target: float | None,
    failure: str,
    cpu: list[float] | None = None,
) -> tuple[str, bool]:
    median = statistics.median(times) if times else float("nan")
    cpu_s = f"{statistics.median(cpu):6.2f}" if cpu else "     -"
    ok = not failure and (target is None or median < target)
    verdict = "-" if target is None and not failure else ("ok" if ok else "FAIL")
    spread = f"{min(times):6.2f} {max(times):6.2f}" if times else "     -      -"
    limit = f"< {target:g}" if target is not None else "(none)"
    text = f"{name:18} {median:7.2f} {spread} {median / base:7.1f}x {cpu_s} {limit:>7}  {verdict}"
    return text + (f"  ({failure})" if failure else ""), ok


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5, help="runs of each command (median reported)")
    parser.add_argument("--only", nargs="*", help="only these cases (names from the table)")
    args = parser.parse_args()
    base_env = dict(os.environ)
    sock, port = closed_port()
    with tempfile.TemporaryDirectory() as tmp:
        runs_dir = Path(tmp) / "runs"
        base_env["EVALKIT_VERIFIED_DIR"] = str(Path(tmp) / "verified")
        made = subprocess.run(
            [*EVALKIT, "run", "--problems", "problems/hw9_q1.yaml", "--out", str(runs_dir), "--no-report",
             "--quiet"], cwd=ROOT, capture_output=True, text=True, timeout=600,
        )  # fmt: skip
        assert made.returncode == 0, made.stderr
        primed = subprocess.run([*EVALKIT, "validate", "--selftest"], cwd=ROOT, env=base_env, capture_output=True,
                                text=True, timeout=600)  # fmt: skip
        assert primed.returncode == 0, primed.stderr
        todo = [c for c in cases(runs_dir, port) if not args.only or c.name in args.only]
        baseline: list[float] = []
        for _ in range(args.runs):  # interleaved: a drift of the machine moves the baseline too
            baseline.append(time_process([PYTHON, "-c", "pass"], base_env)[0])
            for case in todo:
                took, cpu, code, said = time_process(case.argv, _env(case, base_env))
                case.times.append(took)
                case.cpu.append(cpu)
                if code != case.expect_code or case.expect_text not in said:
                    case.failure = case.failure or f"exit {code}: {' '.join(said.split())[-200:]}"
        base = statistics.median(baseline)

        ctrl_c: list[float] = []
        ctrl_c_failure = ""
        if not args.only or "ctrl_c" in args.only:
            ctx = multiprocessing.get_context("fork")
            conn, child = ctx.Pipe()
            server = ctx.Process(target=_serve, args=(child,), daemon=True)
            server.start()
            url = conn.recv()
            env = {k: v for k, v in base_env.items() if not k.startswith(("OPENAI_", "ANTHROPIC_"))}
            env |= {"OPENAI_API_KEY": FAKE_OPENAI_KEY}
            try:
                for i in range(max(1, min(args.runs, 3))):
                    took, failure = ctrl_c_once(url, Path(tmp) / f"ctrl_c{i}", env)
                    ctrl_c.append(took)
                    ctrl_c_failure = ctrl_c_failure or failure
            finally:
                conn.send("stop")
                server.join(timeout=10)

        refused: list[float] = []
        refused_failure = ""
        if not args.only or "refused" in args.only:
            os.environ.setdefault("OPENAI_API_KEY", FAKE_OPENAI_KEY)
            os.environ.setdefault("ANTHROPIC_API_KEY", "bench-key")
            for _ in range(args.runs):
                took, failure = refused_in_a_run(port)
                refused.append(took)
                refused_failure = refused_failure or failure
    sock.close()

    print(f"python -c pass: median {base:.3f} s over {len(baseline)} runs (the ratio's unit)")
    print(f"{'command':18} {'median':>7} {'min':>6} {'max':>6} {'ratio':>8} {'cpu':>6} {'target':>7}")
    failed: list[str] = []
    for case in todo:
        text, ok = row(case.name, case.times, base, case.target_s, case.failure, case.cpu)
        print(text)
        if not ok:
            failed.append(case.name)
    extra = (("ctrl_c", ctrl_c, 1.0, ctrl_c_failure), ("refused", refused, 2.0, refused_failure))
    for name, times, target, failure in extra:
        if times:
            text, ok = row(name, times, base, target, failure)
            print(text + ("  (seconds after SIGINT)" if name == "ctrl_c" else "  (a model call, in-process)"))
            if not ok:
                failed.append(name)
    targeted = [c for c in todo if c.target_s == 1.0 and c.times]
    slowest = max(targeted, key=lambda c: statistics.median(c.times)) if targeted else None
    summary = ""
    if slowest is not None:
        median = statistics.median(slowest.times)
        summary += f"slowest_grade_nothing={slowest.name} {median:.2f}s ratio={median / base:.1f}"
    if ctrl_c:
        summary += f" ctrl_c_s={statistics.median(ctrl_c):.2f}"
    if refused:
        summary += f" refused_s={statistics.median(refused):.2f}"
    print(("PASS" if not failed else "FAIL: " + ", ".join(failed)) + "   " + summary.strip())


if __name__ == "__main__":
    main()
