"""The pool: thread safety, worker replacement, closing, the fresh-process and bubblewrap modes."""

from __future__ import annotations

import os
import shutil
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import torch

from evalkit.errors import SandboxError
from evalkit.sandbox import Call, Job, Limits, SandboxPool

SOURCE = "def scale(x, k):\n    return x * k\n"


def _scaled(pool: SandboxPool, k: int) -> torch.Tensor:
    x = torch.arange(4.0)
    outcome = pool.run(Job(SOURCE, (Call("scale", (x, k)),)))
    assert outcome.termination == "exited", outcome
    return outcome.calls[0].outputs[0]


def test_threads_share_the_pool_and_get_their_own_results(pool: SandboxPool) -> None:
    with ThreadPoolExecutor(max_workers=6) as executor:
        results = list(executor.map(lambda k: (k, _scaled(pool, k)), range(24)))
    for k, tensor in results:
        assert tensor.tolist() == [0.0, k, 2.0 * k, 3.0 * k]


def test_a_check_does_not_pay_the_torch_import(pool: SandboxPool) -> None:
    _scaled(pool, 1)
    started = time.perf_counter()
    for k in range(10):
        _scaled(pool, k)
    assert (time.perf_counter() - started) / 10 < 0.5  # a fresh interpreter with torch takes 1-2.5 s


def test_a_dead_worker_is_replaced() -> None:
    with SandboxPool.start(workers=1) as pool:
        (pid,) = pool.worker_pids()
        os.kill(pid, signal.SIGKILL)
        time.sleep(0.1)
        assert _scaled(pool, 3).tolist() == [0.0, 3.0, 6.0, 9.0]
        assert pool.worker_pids() != [pid]
    # the killed worker could not remove its cgroup; the one that replaced it did
    assert not list(Path("/sys/fs/cgroup").rglob(f"evalkit-{pid}"))


def test_a_closed_pool_refuses_work() -> None:
    pool = SandboxPool.start(workers=1)
    pids = pool.worker_pids()
    pool.close()
    with pytest.raises(SandboxError, match="closed"):
        _scaled(pool, 1)
    time.sleep(0.2)
    assert all(
        not os.path.exists(f"/proc/{pid}/status") or "zombie" in open(f"/proc/{pid}/status").read()
        for pid in pids
    )


def test_limits_travel_with_the_job(pool: SandboxPool) -> None:
    source = "def spin(x):\n    while True:\n        x = x + 1\n"
    outcome = pool.run(Job(source, (Call("spin", (torch.zeros(1),)),), Limits(cpu_s=1, wall_s=5)))
    assert outcome.termination == "cpu_limit" and 1.0 <= outcome.cpu_s < 3.0
    assert outcome.failure(Limits(cpu_s=1)) == "the code ran out of CPU time (limit 1 s)"


def test_sleeping_code_hits_the_wall_time_limit(pool: SandboxPool) -> None:
    source = "import time\ndef nap(x):\n    time.sleep(30)\n"
    started = time.monotonic()
    outcome = pool.run(Job(source, (Call("nap", (torch.zeros(1),)),), Limits(cpu_s=1, wall_s=1)))
    assert outcome.termination == "wall_limit" and time.monotonic() - started < 5


@pytest.mark.slow
def test_fresh_process_mode_gives_the_same_answers() -> None:
    with SandboxPool.start(workers=1, warm=False) as pool:
        assert not pool.warm and pool.worker_pids() == []
        assert _scaled(pool, 2).tolist() == [0.0, 2.0, 4.0, 6.0]


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap is not installed")
def test_bubblewrap_fallback_isolates_too() -> None:
    source = (
        "import os\ndef who(x):\n    raise RuntimeError(f'{os.getuid()} {sorted(os.listdir(\"/\"))} '"
        'f\'{open("/proc/self/status").read().split("CapEff:")[1].split()[0]}\')\n'
    )
    with SandboxPool.start(workers=1, isolation="bwrap") as pool:
        assert pool.isolation == "bwrap"
        outcome = pool.run(Job(source, (Call("who", (torch.zeros(1),)),)))
        error = outcome.calls[0].error
        assert error is not None
        uid, rest = error.message.split(" ", 1)
        assert int(uid) in pool.uids and rest.endswith("0000000000000000")
        assert "'main'" not in rest and "evalkit" not in rest
        assert _scaled(pool, 5).tolist() == [0.0, 5.0, 10.0, 15.0]


def test_ignoring_sigxcpu_buys_no_cpu_time(pool: SandboxPool) -> None:
    source = (
        "import signal\ndef spin(x):\n    signal.signal(signal.SIGXCPU, signal.SIG_IGN)\n"
        "    while True:\n        x = x + 1\n"
    )
    outcome = pool.run(Job(source, (Call("spin", (torch.zeros(1),)),), Limits(cpu_s=1, wall_s=20)))
    assert outcome.termination == "cpu_limit" and outcome.signal == "SIGKILL"
    assert outcome.cpu_s < 1.4  # CPU time, not wall time: the same however loaded the machine is


SPINNERS = """
import os, sys, time

def spin(x):
    for _ in range(3):
        if os.fork() == 0:
            break
    while True:  # every process, the first included, says how much CPU it has used
        spent = time.process_time()
        while time.process_time() < spent + 0.05:
            pass
        os.write(1, f"{os.getpid()} {time.process_time():.3f}\\n".encode())
"""


def test_the_cpu_limit_counts_every_process_of_the_check(pool: SandboxPool) -> None:
    if "cpu" not in pool.cgroups:
        pytest.skip(f"no cgroup here ({pool.cgroups_missing}): the CPU limit is per process")
    outcome = pool.run(Job(SPINNERS, (Call("spin", (torch.zeros(1),)),), Limits(cpu_s=1, wall_s=20)))
    spent: dict[str, float] = {}
    for line in outcome.output.splitlines():
        pid, cpu = line.split()
        spent[pid] = float(cpu)
    assert outcome.termination == "cpu_limit" and len(spent) == 4
    assert sum(spent.values()) < 1.5  # the four together, not each


MEMORY = """
import os, time

def hog(x):
    ready_r, ready_w = os.pipe()
    for _ in range(2):
        if os.fork() == 0:
            block = b"\\1" * (100 << 20)
            os.write(ready_w, b"+")
            time.sleep(10)
    mine = b"\\2" * (200 << 20)  # the biggest: the one the kernel kills
    held = 1 + len(os.read(ready_r, 1)) + len(os.read(ready_r, 1))
    raise RuntimeError(f"{held} processes held {len(mine) >> 20} + 2 x 100 MiB")
"""


def test_the_memory_limit_counts_every_process_of_the_check(pool: SandboxPool) -> None:
    if "memory" not in pool.cgroups:
        pytest.skip(f"no cgroup here ({pool.cgroups_missing}): the memory limit is per process")
    limits = Limits(cpu_s=5, wall_s=20, memory_bytes=256 << 20)
    outcome = pool.run(Job(MEMORY, (Call("hog", (torch.zeros(1),)),), limits))
    assert outcome.termination == "memory_limit", outcome
    assert (
        outcome.failure(limits) == "the code ran out of memory (limit 256 MiB for all its processes together)"
    )


_STOP_PROBE = """
import json, sys, threading, time
from evalkit.sandbox import Call, Job, Limits, SandboxPool, default_pool
from evalkit.sandbox import pool as pools

outcomes = {}

def attempt(name, work):
    try:
        outcomes[name] = repr(work())
    except BaseException as err:
        outcomes[name] = type(err).__name__

if sys.argv[1] == "starting":
    thread = threading.Thread(target=attempt, args=("start", default_pool))
    thread.start()
    while not pools._live:
        time.sleep(0.005)
else:
    started = default_pool()
    job = Job("import time\\ndef nap():\\n    time.sleep(30)\\n", (Call("nap", ()),), Limits(cpu_s=30, wall_s=60))
    thread = threading.Thread(target=attempt, args=("job", lambda: started.run(job)))
    thread.start()
    time.sleep(1.0)
pools.stop()
thread.join(timeout=20)
attempt("later", default_pool)
print(json.dumps({**outcomes, "alive": thread.is_alive(), "live": len(pools._live)}))
"""


@pytest.mark.parametrize("when", ["starting", "busy"])
def test_stop_turns_a_start_or_a_job_into_keyboard_interrupt(when: str) -> None:
    """After stop() (Ctrl-C) nothing the sandbox was doing becomes a SandboxError, which a check would
    report as an unscored verdict; run in a child process, since stop() is for good."""
    import json
    import subprocess
    import sys

    if os.geteuid() != 0 and shutil.which("bwrap") is None:
        pytest.skip("needs root (namespaces) or bubblewrap")
    done = subprocess.run(
        [sys.executable, "-c", _STOP_PROBE, when],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=Path(__file__).parents[2],
    )
    assert done.returncode == 0, done.stderr
    outcome = json.loads(done.stdout.strip().splitlines()[-1])
    first = "start" if when == "starting" else "job"
    assert outcome == {first: "KeyboardInterrupt", "later": "KeyboardInterrupt", "alive": False, "live": 0}
