"""Run a function under a hard time limit, from any thread or process.

Parsing and simplifying untrusted math can take forever (``(a+b)^{999}``) or
eat memory. :func:`run_bounded` sends the call to a small pool of worker
processes and waits on a pipe with a deadline; a worker that misses it is
killed (SIGKILL) and replaced. Unlike a ``SIGALRM`` timer this needs no main
thread, works inside threads, daemonic processes and async code, and stops
C-level loops too. Workers run with an address-space limit
(``EVALKIT_WORKER_MEMORY_MB``, default 2048).

Workers are fresh interpreters (``python -c``), not forks, so they inherit no
locks from the caller's other threads; ``preload`` modules are imported once
at start (about 0.5 s for sympy and the math checks) so each call pays only a
pipe round trip (~0.1 ms).

Example::

    from evalkit.bounded import BoundedTimeout, run_bounded
    try:
        value = run_bounded(parse_and_compare, request, time_limit_s=5.0)
    except BoundedTimeout:
        ...  # report the answer as unscored, reason "answer_timeout"

``fn`` must be importable by reference (a module-level function) and its
arguments and result picklable. An exception raised by ``fn`` is re-raised
in the caller.
"""

from __future__ import annotations

import atexit
import os
import pickle
import select
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

__all__ = ["BoundedError", "BoundedTimeout", "WorkerCrashed", "WorkerPool", "prestart", "run_bounded", "stop"]

T = TypeVar("T")
_HEADER = struct.Struct("!Q")
_MAX_MESSAGE = 64 << 20
_START_TIMEOUT_S = 120.0
_DEFAULT_PRELOAD = (
    "evalkit.checks.formula",
    "evalkit.checks.complexity",
    "evalkit.checks.vector",
    "evalkit.checks.condition",
)
# The worker imports evalkit's math modules without running the package __init__ files of
# ``evalkit`` and ``evalkit.checks`` (they import every subsystem, torch included: seconds and
# hundreds of MB per worker). Stub package objects with the right __path__ stand in for them.
_BOOTSTRAP = """
import os, sys, types
root = sys.argv[1]
parent = None
for name, path in (("evalkit", root), ("evalkit.checks", os.path.join(root, "checks"))):
    if name not in sys.modules:
        module = types.ModuleType(name)
        module.__path__ = [path]
        sys.modules[name] = module
        if parent is not None:
            setattr(parent, name.rpartition(".")[2], module)
    parent = sys.modules[name]
from evalkit.bounded import _worker_main
_worker_main(sys.argv[2:])
"""


class BoundedError(Exception):
    """Base of the errors of bounded execution (not of the function run)."""


class BoundedTimeout(BoundedError):
    """The call did not finish within its time limit; its worker was killed."""


class WorkerCrashed(BoundedError):
    """The worker died during the call (out of memory, a crash in C code)."""


def _write_frame(fd: int, payload: bytes) -> None:
    data = _HEADER.pack(len(payload)) + payload
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _read_exact(fd: int, size: int, deadline: float | None) -> bytes:
    chunks: list[bytes] = []
    while size:
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
                raise BoundedTimeout
        chunk = os.read(fd, min(size, 1 << 20))
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def _read_frame(fd: int, deadline: float | None) -> bytes:
    (size,) = _HEADER.unpack(_read_exact(fd, _HEADER.size, deadline))
    if size > _MAX_MESSAGE:
        raise EOFError(f"message of {size} bytes is too large")
    return _read_exact(fd, size, deadline)


class _Worker:
    """One worker process and its two pipes."""

    def __init__(
        self, preload: Sequence[str], spawned: Callable[[subprocess.Popen[bytes]], None] | None = None
    ) -> None:
        package_root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH", "")) if p)
        self.stderr = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _BOOTSTRAP, os.path.join(package_root, "evalkit"), *preload],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.stderr,
            env=env,
            start_new_session=True,
            close_fds=True,
        )
        if spawned is not None:
            spawned(self.proc)
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.to_fd = self.proc.stdin.fileno()
        self.from_fd = self.proc.stdout.fileno()
        try:
            ready = pickle.loads(_read_frame(self.from_fd, time.monotonic() + _START_TIMEOUT_S))
        except (BoundedTimeout, EOFError, pickle.UnpicklingError):
            self.kill()
            raise WorkerCrashed(f"the math worker failed to start: {self.stderr_tail()}") from None
        if ready != ("ready",):
            self.kill()
            raise WorkerCrashed(f"the math worker failed to start: {ready!r}")

    def stderr_tail(self) -> str:
        try:
            self.stderr.seek(0)
            return self.stderr.read()[-2000:].decode("utf-8", "replace").strip() or "no output"
        except (OSError, ValueError):
            return "no output"

    def call(self, fn: Callable[..., Any], args: tuple[Any, ...], time_limit_s: float) -> Any:
        _write_frame(self.to_fd, pickle.dumps((fn, args), protocol=pickle.HIGHEST_PROTOCOL))
        status, value = pickle.loads(_read_frame(self.from_fd, time.monotonic() + time_limit_s))
        if status == "ok":
            return value
        raise value

    def kill(self) -> None:
        try:
            self.proc.kill()
        except OSError:
            pass
        self.close()

    def close(self) -> None:
        for stream in (self.proc.stdin, self.proc.stdout):
            try:
                if stream is not None:
                    stream.close()
            except OSError:
                pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.stderr.close()


class WorkerPool:
    """A fixed-size, thread-safe pool of math workers (see the module docstring)."""

    def __init__(self, size: int | None = None, preload: Sequence[str] = _DEFAULT_PRELOAD) -> None:
        self.size = max(1, size or min(2, os.cpu_count() or 1))
        self.preload = tuple(preload)
        self._idle: list[_Worker] = []
        self._count = 0
        self._starting = 0  # workers :meth:`prestart` is starting in the background
        self._cond = threading.Condition()
        self._closed = False
        self._stopped = False
        self._procs: set[subprocess.Popen[bytes]] = set()  # every worker process, starting ones included

    def run(self, fn: Callable[..., T], args: tuple[Any, ...], time_limit_s: float) -> T:
        """Call ``fn(*args)`` in a worker; see :func:`run_bounded`."""
        worker = self._acquire()
        healthy = False
        try:
            result = worker.call(fn, args, time_limit_s)
            healthy = True
            return result
        except BoundedTimeout:
            raise BoundedTimeout(f"no result within {time_limit_s:g} s") from None
        except (EOFError, OSError, pickle.UnpicklingError):
            if self._stopped:
                raise _stopped() from None
            raise WorkerCrashed(f"the math worker died: {worker.stderr_tail()}") from None
        except BaseException as err:
            healthy = not isinstance(err, KeyboardInterrupt)
            raise
        finally:
            self._release(worker, healthy)

    def prestart(self) -> None:
        """Start a worker in the background unless one is idle or starting: a call is coming soon.

        Its interpreter imports the math modules (about half a second) while the caller does
        other work; the next call takes it instead of starting one of its own.
        """
        with self._cond:
            if self._idle or self._starting or self._count >= self.size or self._closed:
                return
            self._count += 1
            self._starting += 1
        threading.Thread(target=self._start_idle, name="evalkit-math-prestart", daemon=True).start()

    def _start_idle(self) -> None:
        try:
            worker: _Worker | None = self._new_worker()
        except BaseException:  # the call that needs a worker starts one and reports why it fails
            worker = None
        with self._cond:
            self._starting -= 1
            if worker is not None and not self._closed:
                self._idle.append(worker)
                worker = None
            else:
                self._count -= 1
            self._cond.notify_all()
        if worker is not None:  # the pool closed while it started
            worker.close()

    def _new_worker(self) -> _Worker:
        def spawned(proc: subprocess.Popen[bytes]) -> None:
            with self._cond:
                self._procs.add(proc)
                stopped = self._stopped
            if stopped:  # stop() ran while this one was being spawned
                proc.kill()

        try:
            return _Worker(self.preload, spawned)
        except WorkerCrashed:
            if self._stopped:
                raise _stopped() from None
            raise

    def _acquire(self) -> _Worker:
        with self._cond:
            while not self._idle and (self._starting or self._count >= self.size):
                if self._stopped:
                    raise _stopped()
                self._cond.wait()
            if self._stopped:
                raise _stopped()
            if self._idle:
                return self._idle.pop()
            self._count += 1
        try:
            return self._new_worker()
        except BaseException:
            with self._cond:
                self._count -= 1
                self._cond.notify()
            raise

    def _release(self, worker: _Worker, healthy: bool) -> None:
        if not healthy:
            worker.kill()
        with self._cond:
            if not healthy or self._closed:
                self._procs.discard(worker.proc)
            if healthy and not self._closed:
                self._idle.append(worker)
            else:
                self._count -= 1
                if healthy:
                    worker.close()
            self._cond.notify()

    def close(self) -> None:
        """Stop the idle workers; calls in flight finish and their workers stop afterwards."""
        with self._cond:
            self._closed = True
            idle, self._idle = self._idle, []
            self._count -= len(idle)
        for worker in idle:
            worker.close()
        with self._cond:
            for worker in idle:
                self._procs.discard(worker.proc)

    def stop(self) -> None:
        """Kill every worker now, busy and starting ones too (Ctrl-C: the run is over, its grading is not).

        A call in flight or waiting for a worker, and every later one, raises KeyboardInterrupt:
        never a crash or a timeout, which a check would report as an ``unscored`` verdict.
        """
        with self._cond:
            self._closed = self._stopped = True
            procs, self._idle = list(self._procs), []
            self._cond.notify_all()
        for proc in procs:
            try:
                proc.kill()
            except OSError:
                pass


_pool: WorkerPool | None = None
_pool_pid: int | None = None
_in_worker = False  # this process is a worker: see run_bounded
_pool_lock = threading.Lock()


def _shared_pool() -> WorkerPool:
    global _pool, _pool_pid
    with _pool_lock:
        # A forked child must not share its parent's pipes: it gets its own pool.
        if _pool is None or _pool_pid != os.getpid():
            _pool, _pool_pid = WorkerPool(), os.getpid()
        return _pool


def _stopped() -> KeyboardInterrupt:
    return KeyboardInterrupt("math grading was stopped")


def stop() -> None:
    """Stop this process's shared math workers now (see :meth:`WorkerPool.stop`); for good: no
    :func:`run_bounded` call succeeds afterwards. The CLI calls it on Ctrl-C and SIGTERM."""
    with _pool_lock:
        pool = _pool if _pool_pid == os.getpid() else None
    if pool is not None:
        pool.stop()


def prestart() -> None:
    """Start the shared pool's first worker in the background, for a :func:`run_bounded` call coming soon."""
    _shared_pool().prestart()


def run_bounded(fn: Callable[..., T], *args: Any, time_limit_s: float) -> T:
    """Return ``fn(*args)`` computed in a worker process, or raise within ``time_limit_s``.

    Raises :class:`BoundedTimeout` when the limit passes (the worker is
    killed), :class:`WorkerCrashed` when the worker dies, and whatever ``fn``
    raised otherwise. Safe to call from any thread.
    """
    if time_limit_s <= 0:
        raise ValueError(f"time_limit_s must be positive, got {time_limit_s!r}")
    if _in_worker:  # inside a worker's call, which is bounded already: no worker of a worker
        return fn(*args)
    return _shared_pool().run(fn, args, time_limit_s)


@atexit.register
def _close_shared_pool() -> None:
    # At exit the workers hold nothing worth a goodbye: killed, they do not make this process wait
    # for their interpreters' teardown (a quarter of a second with sympy loaded).
    if _pool is not None and _pool_pid == os.getpid():
        _pool.stop()
        for proc in list(_pool._procs):
            try:
                proc.wait(timeout=1.0)  # reaped: killed, it is gone at once
            except (subprocess.TimeoutExpired, OSError):
                pass


def _worker_main(preload: Sequence[str]) -> None:
    """Entry point of a worker process: import the preload modules, then serve calls until EOF."""
    import importlib

    global _in_worker
    _in_worker = True
    proto_in, proto_out = os.dup(0), os.dup(1)
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(2, 1)  # stray prints go to stderr, not into the protocol
    try:
        import resource

        limit = int(os.environ.get("EVALKIT_WORKER_MEMORY_MB", "2048")) << 20
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    except (ImportError, ValueError, OSError):
        pass
    for module in preload:
        importlib.import_module(module)
    _write_frame(proto_out, pickle.dumps(("ready",)))
    while True:
        try:
            fn, args = pickle.loads(_read_frame(proto_in, None))
        except EOFError:
            return
        try:
            reply = ("ok", fn(*args))
            payload = pickle.dumps(reply, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as err:  # the caller re-raises it
            try:
                payload = pickle.dumps(("err", err), protocol=pickle.HIGHEST_PROTOCOL)
            except Exception:
                payload = pickle.dumps(("err", RuntimeError(f"{type(err).__name__}: {err}")))
        _write_frame(proto_out, payload)
