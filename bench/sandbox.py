"""Checks per second through the warm sandbox pool, and with a fresh interpreter per check.

Each check is a real ``code`` check: HW9 Q3(a)'s blanks from the write-up,
filled into the skeleton, run in the sandbox on 2 shapes × 2 seeds with the
reference weights copied in, and compared with the reference in this process.
Both modes use every isolation layer and as many workers as there are cores.
The warm run also says which cgroup controllers bound each check and what a
check costs in CPU time (this process, the zygotes and their children): unlike
checks/s, that does not move with the load other processes put on the machine.
The last line is machine-readable::

    warm_checks_per_s=<n> fresh_checks_per_s=<n> speedup=<n>

Run: ``python bench/sandbox.py [--warm-checks 300] [--fresh-checks 8] [--workers N]``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from evalkit.checks.base import Answer, CheckContext
from evalkit.checks.code import CodeChecker, CodeParams
from evalkit.sandbox import SandboxPool
from evalkit.spec.models import Problem

ANSWER = Path(__file__).resolve().parent.parent / "tests" / "checks" / "code_cases" / "q3a_blanks.md"
PARAMS = CodeParams(
    mode="blanks",
    skeleton="mha",
    reference="mha",
    cases=[
        {
            "init": {"d_model": 16, "num_heads": 4},
            "inputs": {"Q": [2, 5, 16], "K": [2, 7, 16], "V": [2, 7, 16]},
        },
        {
            "init": {"d_model": 12, "num_heads": 2},
            "inputs": {"Q": [3, 4, 12], "K": [3, 6, 12], "V": [3, 6, 12]},
        },
    ],
    seeds=[0, 1],
)
PROBLEM = Problem(
    id="hw9_q3", title="Multi-head attention", parts=[{"id": "a", "prompt": "Fill in the blanks."}]
)


def measure(pool: SandboxPool, checks: int, workers: int) -> tuple[float, float]:
    """Checks per second over ``checks`` checks run by ``workers`` threads, and the median latency."""
    answer = Answer(ANSWER.read_text())
    ctx = CheckContext(problem=PROBLEM, part=PROBLEM.parts[0], sandbox=pool)
    checker = CodeChecker()

    def one(_: int) -> float:
        started = time.perf_counter()
        result = checker.check(PARAMS, answer, ctx)
        if result.status != "correct":
            raise SystemExit(f"benchmark check failed: {result.explanation}")
        return time.perf_counter() - started

    one(0)  # reference trials are computed once per spec; keep that out of the timing
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as executor:
        latencies = sorted(executor.map(one, range(checks)))
    elapsed = time.perf_counter() - started
    return checks / elapsed, latencies[len(latencies) // 2]


def _cpu_s(pids: list[int]) -> float:
    """CPU time of this process and of ``pids`` with their reaped children."""
    ticks = 0
    for pid in pids:
        with open(f"/proc/{pid}/stat") as f:
            ticks += sum(int(x) for x in f.read().rsplit(")", 1)[1].split()[11:15])
    return ticks / os.sysconf("SC_CLK_TCK") + sum(os.times()[:2])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--warm-checks", type=int, default=300)
    parser.add_argument("--fresh-checks", type=int, default=8)
    parser.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0)))
    args = parser.parse_args()

    started = time.perf_counter()
    with SandboxPool.start(workers=args.workers) as pool:
        bounds = ", ".join(pool.cgroups[1:]) + f" (cgroup {pool.cgroups[0]})" if pool.cgroups else "rlimits"
        print(
            f"warm pool: {args.workers} workers, isolation={pool.isolation}, bounds: {bounds}, "
            f"started in {time.perf_counter() - started:.2f} s"
        )
        if not pool.cgroups:
            print(f"  no cgroup: {pool.cgroups_missing}")
        pids = pool.worker_pids()
        cpu_before = _cpu_s(pids)
        warm, warm_latency = measure(pool, args.warm_checks, args.workers)
        cpu_per_check = (_cpu_s(pids) - cpu_before) / (args.warm_checks + 1)
    print(
        f"warm:  {args.warm_checks} checks, {warm:.1f} checks/s, median latency {warm_latency * 1000:.1f} ms, "
        f"{cpu_per_check * 1000:.1f} ms of CPU per check"
    )

    with SandboxPool.start(workers=args.workers, warm=False) as pool:
        fresh, fresh_latency = measure(pool, args.fresh_checks, args.workers)
    print(
        f"fresh: {args.fresh_checks} checks, {fresh:.2f} checks/s, median latency {fresh_latency * 1000:.0f} ms"
    )
    print(f"warm_checks_per_s={warm:.1f} fresh_checks_per_s={fresh:.2f} speedup={warm / fresh:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
