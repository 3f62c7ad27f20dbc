"""Bounded execution: results, timeouts from any thread or process, crashes, errors."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from evalkit.bounded import BoundedTimeout, WorkerCrashed, WorkerPool


@pytest.fixture
def pool() -> Iterator[WorkerPool]:
    """A one-worker pool without preloads (starts in ~50 ms), closed after the test."""
    pool = WorkerPool(size=1, preload=())
    yield pool
    pool.close()


def test_result_and_errors_come_back(pool):
    assert pool.run(math.factorial, (20,), 5.0) == math.factorial(20)
    with pytest.raises(ValueError, match="math domain error"):
        pool.run(math.sqrt, (-1.0,), 5.0)
    assert pool.run(pow, (2, 10), 5.0) == 1024  # the worker survived the error


def test_timeout_kills_the_worker_and_the_pool_recovers(pool):
    started = time.monotonic()
    with pytest.raises(BoundedTimeout, match=r"0\.3 s"):
        pool.run(time.sleep, (30,), 0.3)
    assert time.monotonic() - started < 5
    assert pool.run(pow, (3, 2), 5.0) == 9


def test_timeout_works_from_threads(pool):
    outcomes: list[str] = []

    def call() -> None:
        try:
            pool.run(time.sleep, (30,), 0.2)
        except BoundedTimeout:
            outcomes.append("timeout")

    threads = [threading.Thread(target=call) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert outcomes == ["timeout", "timeout"]
    with ThreadPoolExecutor(max_workers=3) as executor:
        assert list(executor.map(lambda n: pool.run(pow, (n, 2), 5.0), range(6))) == [0, 1, 4, 9, 16, 25]


def test_worker_death_is_reported(pool):
    with pytest.raises(WorkerCrashed):
        pool.run(os._exit, (3,), 5.0)
    assert pool.run(pow, (2, 2), 5.0) == 4


def test_timeout_works_inside_a_daemonic_child_process():
    script = textwrap.dedent(
        """
        import multiprocessing, time
        from evalkit.bounded import BoundedTimeout, WorkerPool

        def child(queue):
            pool = WorkerPool(size=1, preload=())
            try:
                pool.run(time.sleep, (30,), 0.3)
                queue.put("finished")
            except BoundedTimeout:
                queue.put("timeout")
            finally:
                pool.close()

        if __name__ == "__main__":
            queue = multiprocessing.Queue()
            proc = multiprocessing.Process(target=child, args=(queue,), daemon=True)
            proc.start()
            print(queue.get(timeout=60))
            proc.join()
        """
    )
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = {**os.environ, "PYTHONPATH": root}
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, env=env)
    assert out.stdout.strip() == "timeout", out.stderr


def test_time_limit_must_be_positive():
    from evalkit.bounded import run_bounded

    with pytest.raises(ValueError, match="positive"):
        run_bounded(pow, 2, 2, time_limit_s=0)


def test_prestart_starts_one_worker_that_the_next_call_takes():
    pool = WorkerPool(size=2, preload=())
    try:
        pool.prestart()
        pool.prestart()  # one is starting already: no second one
        assert pool._count == 1
        assert pool.run(pow, (2, 5), 5.0) == 32  # waits for the prestarted worker rather than start another
        assert pool._count == 1 and len(pool._idle) == 1
        pool.prestart()  # one is idle: nothing to do
        assert pool._count == 1
    finally:
        pool.close()
    assert pool._count == 0


def test_stop_interrupts_calls_in_flight_waiting_and_starting():
    pool = WorkerPool(size=1, preload=())
    outcomes: dict[str, BaseException | object] = {}

    def call(name: str, seconds: float) -> None:
        try:
            outcomes[name] = pool.run(time.sleep, (seconds,), 60.0)
        except BaseException as err:
            outcomes[name] = err

    busy = threading.Thread(target=call, args=("busy", 30))
    busy.start()
    while not pool._procs or pool._count == 0 or pool._idle:
        time.sleep(0.01)
    waiting = threading.Thread(target=call, args=("waiting", 0))  # the pool's one worker is busy
    waiting.start()
    time.sleep(0.2)
    procs = set(pool._procs)
    pool.stop()
    for thread in (busy, waiting):
        thread.join(timeout=10)
        assert not thread.is_alive()
    assert isinstance(outcomes["busy"], KeyboardInterrupt), outcomes  # not WorkerCrashed: no verdict
    assert isinstance(outcomes["waiting"], KeyboardInterrupt), outcomes
    assert all(p.poll() is not None for p in procs)
    with pytest.raises(KeyboardInterrupt):
        pool.run(pow, (2, 2), 5.0)  # for good


def test_stop_interrupts_a_worker_that_is_starting():
    pool = WorkerPool(size=1, preload=("evalkit.checks.formula",))  # imports sympy: slow to start
    outcome: list[BaseException | object] = []

    def call() -> None:
        try:
            outcome.append(pool.run(pow, (2, 2), 60.0))
        except BaseException as err:
            outcome.append(err)

    thread = threading.Thread(target=call)
    thread.start()
    while not pool._procs:
        time.sleep(0.005)
    pool.stop()
    thread.join(timeout=10)
    assert len(outcome) == 1 and isinstance(outcome[0], KeyboardInterrupt), outcome


def test_a_bounded_call_inside_a_worker_runs_there(pool):
    """A worker's call is bounded already: run_bounded inside it runs inline, not in a worker of its own."""
    import functools

    from evalkit.bounded import run_bounded

    worker = pool.run(os.getpid, (), 5.0)
    nested = pool.run(functools.partial(run_bounded, os.getpid, time_limit_s=5.0), (), 5.0)
    assert nested == worker != os.getpid()
