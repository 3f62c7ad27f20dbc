"""Benchmark: concurrent conversations against the ideal (the longest conversation) and a serial run.

Runs evalkit on the local fake provider server (in its own process, like a real
provider) with a fixed latency per call,
over P problems x S samples, twice in the same process: with --max-connections
at least the number of conversations, and with one connection (serial).

    python bench/orchestration.py [--problems 5] [--samples 8] [--latency 0.5] [--repeat 5]

Ends with one line:
    measured_s=<x> ideal_s=<x> serial_s=<x> ratio_to_ideal=<x> ratio_median=<x> runs=<n>
where ideal is the longest conversation's turns (opening included) x latency,
measured_s and ratio_to_ideal are the best of ``--repeat`` concurrent runs and
ratio_median their median (on a machine shared with other work the best is the
one least disturbed; stderr lists every run). A one-sample warm-up run first pays
the one-off process costs (imports, the SDK's first request); it is not timed.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from evalkit import api  # noqa: E402
from tests.fakeserver import FAKE_OPENAI_KEY, FakeProvider  # noqa: E402


def write_suite(directory: Path, problems: int) -> None:
    """Problem i has one part answered wrong (i % 3) times before the right answer; the ladder has 2 hints."""
    (directory / "problems").mkdir(parents=True)
    (directory / "rubrics").mkdir()
    for i in range(problems):
        (directory / "problems" / f"bench_p{i}.yaml").write_text(
            f"id: p{i}\ntitle: Problem {i}\nparts:\n  - {{id: a, prompt: 'What is {i} + 1?', expected: '{i + 1}'}}\n"
        )
        (directory / "rubrics" / f"bench_p{i}.yaml").write_text(
            f"problem: p{i}\nparts:\n  a:\n    checks: [{{kind: numeric, expected: {i + 1}}}]\n"
            "    hints: ['Check again.', 'Add one.']\n"
        )


def responder(call) -> str:
    text = call.last_user
    if "Do you understand?" in text:
        return "Yes."
    first_user = next(t for r, t in call.messages if r == "user" and "What is" in t)
    i = int(first_user.split("Problem ")[1].split(".")[0].split(":")[0].split()[0])
    wrong_times = i % 3
    hints_so_far = sum(1 for r, t in call.messages if r == "user" and t in {"Check again.", "Add one."})
    return f"$\\boxed{{{i + 1 if hints_so_far >= wrong_times else i + 7}}}$"


def timed_run(
    base_url: str, specs: Path, runs: Path, max_connections: int, samples: int
) -> tuple[float, dict]:
    config = api.RunConfig(
        model="openai:bench",
        base_url=base_url,
        problems=str(specs / "problems"),
        rubrics=str(specs / "rubrics"),
        runs_dir=str(runs),
        samples=samples,
        max_connections=max_connections,
        cache=False,
    )
    t0 = time.perf_counter()
    result = api.run(config)
    return time.perf_counter() - t0, result.to_json()


class ServerProcess:
    """The fake provider in its own process, as a real provider is: its work does not share our GIL."""

    def __init__(self, latency: float) -> None:
        ctx = multiprocessing.get_context("fork")
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=_serve, args=(child, latency), daemon=True)
        self._proc.start()
        self.url: str = self._conn.recv()

    def ask(self, command: str) -> dict:
        self._conn.send(command)
        return self._conn.recv()

    def close(self) -> None:
        self.ask("stop")
        self._proc.join(timeout=10)


def _serve(conn, latency: float) -> None:
    with FakeProvider(latency_s=latency) as fake:
        fake.respond_with(responder)
        conn.send(fake.openai_base_url)
        while True:
            command = conn.recv()
            if command == "stats":
                conn.send({"requests": fake.request_count, "max_in_flight": fake.max_in_flight})
            elif command == "reset":
                fake.reset()
                fake.respond_with(responder)
                conn.send({})
            else:
                conn.send({})
                return


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--problems", type=int, default=5)
    parser.add_argument("--samples", type=int, default=8)
    parser.add_argument("--latency", type=float, default=0.5)
    parser.add_argument(
        "--repeat", type=int, default=5, help="concurrent runs to time (the best is reported)"
    )
    args = parser.parse_args()
    os.environ["OPENAI_API_KEY"] = FAKE_OPENAI_KEY
    import openai  # noqa: F401  (import the SDK before timing: a one-off process cost, not orchestration)

    server = ServerProcess(args.latency)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            specs = Path(tmp) / "specs"
            write_suite(specs, args.problems)
            conversations = args.problems * args.samples
            # warm-up, not timed: one-off process costs (the SDK's first request builds its types)
            timed_run(server.url, specs, Path(tmp) / "warmup", 1, 1)
            times = []
            for _ in range(max(1, args.repeat)):
                server.ask("reset")
                measured, results = timed_run(
                    server.url, specs, Path(tmp) / "runs", conversations, args.samples
                )
                times.append(measured)
            concurrent = server.ask("stats")
            server.ask("reset")
            serial, serial_results = timed_run(server.url, specs, Path(tmp) / "runs", 1, args.samples)
            assert server.ask("stats")["max_in_flight"] == 1
    finally:
        server.close()
    strip = ("run_dir",)
    assert {k: v for k, v in results.items() if k not in strip} == {
        k: v for k, v in serial_results.items() if k not in strip
    }, "concurrent and serial runs disagree"
    longest_turns = 1 + max(
        1 + p_hints(results, q) for q in results["questions"]
    )  # opening + question + hints
    ideal = longest_turns * args.latency
    summary = {
        "conversations": conversations,
        "model_calls": sum(q["model_calls"] for q in results["questions"]),
        "peak_in_flight": concurrent["max_in_flight"],
        "longest_turns": longest_turns,
        "measured_s": [round(t, 3) for t in times],
    }
    print(json.dumps(summary), file=sys.stderr)
    best = min(times)
    print(
        f"measured_s={best:.2f} ideal_s={ideal:.2f} serial_s={serial:.2f} "
        f"ratio_to_ideal={best / ideal:.3f} ratio_median={statistics.median(times) / ideal:.3f} runs={len(times)}"
    )


def p_hints(results: dict, question: dict) -> int:
    return max(
        p["hints"]
        for p in results["parts"]
        if p["problem"] == question["problem"] and p.get("sample", 0) == question.get("sample", 0)
    )


if __name__ == "__main__":
    main()
