"""The pool of sandbox workers: warm zygotes (or a fresh interpreter per job), shared by threads.

``SandboxPool.start()`` picks the isolation: ``namespaces`` when running as
root (the warm, fast path), else ``bwrap`` (bubblewrap, a fresh interpreter
per job), else it refuses with a SandboxError saying what to install.
``run(job)`` takes a free worker (blocking while all are busy), so any number
of threads may call it; a worker that breaks is replaced. Example::

    with SandboxPool.start() as pool:
        outcome = pool.run(job)
"""

from __future__ import annotations

import atexit
import fcntl
import json
import os
import queue
import secrets
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import IO, Any, Literal

from evalkit.errors import SandboxError
from evalkit.sandbox.jobs import CallOutcome, ErrorInfo, Job, Limits, RunOutcome, Termination, parse_report

__all__ = ["Isolation", "SandboxPool", "default_pool", "stop"]

Isolation = Literal["auto", "namespaces", "bwrap"]
ZYGOTE = Path(__file__).with_name("_zygote.py")
# Worker uids come from the systemd dynamic-user range, where no account or file of the host lives.
# Each pool takes a random block of 64, so concurrent pools (two test runs, two evalkit processes)
# share neither process counts (RLIMIT_NPROC is per uid) nor uids.
UID_RANGE = range(61184, 65520)
MAX_WORKERS = 64
START_TIMEOUT_S = 120.0
SLACK_S = 15.0
ZYGOTE_ENV = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
PROBE_LIMITS = Limits(cpu_s=10, wall_s=30)
SETUP_DONE = b"R"  # the child's first byte on its report pipe: isolation is complete
MAX_REPLY_BYTES = 1 << 16
EXIT_GRACE_S = 1.0
_SEALS = fcntl.F_SEAL_SEAL | fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW | fcntl.F_SEAL_WRITE


def _masks() -> list[str]:
    """Directories the sandbox must not see even if an interpreter prefix contains them: evalkit's own
    package (this file's grandparent), read from the path rather than by importing the package."""
    return [str(Path(__file__).resolve().parent.parent)]


def _stderr_tail(log: IO[bytes]) -> str:
    log.seek(0)
    return log.read()[-2000:].decode("utf-8", "replace").strip()


class _Process:
    """One zygote process (warm: many jobs; once: a single job) and its socket."""

    def __init__(self, command: list[str], root: str | None = None) -> None:
        self.root = (
            root  # the empty mount point for the children's roots; removed here, even if the zygote is killed
        )
        self.log = tempfile.TemporaryFile()
        self.channel, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            self.proc = subprocess.Popen(
                command,
                stdin=theirs.fileno(),
                stdout=subprocess.DEVNULL,
                stderr=self.log,
                env=ZYGOTE_ENV,
                cwd="/",
                close_fds=True,
            )
        finally:
            theirs.close()
        self.ready: dict[str, Any] = {}
        with _live_lock:
            _live.add(self)
        if _stopping.is_set():  # stop() ran while this one was being spawned
            self.proc.kill()

    def receive(self, deadline: float) -> dict[str, Any] | None:
        """The zygote's next message; None if it exited; TimeoutError after ``deadline``."""
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([self.channel], [], [], left)[0]:
            raise TimeoutError
        data = self.channel.recv(MAX_REPLY_BYTES)
        return json.loads(data) if data else None

    def wait_ready(self) -> None:
        try:
            ready = self.receive(time.monotonic() + START_TIMEOUT_S) or {"ready": False}
        except (OSError, TimeoutError, ValueError) as err:
            ready = {"ready": False, "error": repr(err)}
        if not ready.get("ready"):
            self.kill()
            if _stopping.is_set():
                raise _stopped()
            raise SandboxError(
                f"the sandbox worker did not start: {ready.get('error') or _stderr_tail(self.log) or 'no output'}"
            )
        self.ready = ready

    def exchange(self, job: Job) -> RunOutcome:
        """Run ``job``: its data goes straight to the child, its report and output straight back here."""
        control, message = job.encode()
        limits = job.limits
        report_r, report_w = os.pipe2(os.O_CLOEXEC)
        output_r, output_w = os.pipe2(os.O_CLOEXEC)
        job_fd = _job_file(message)
        try:
            socket.send_fds(self.channel, [control], [job_fd, report_w, output_w])
        except OSError as err:
            for fd in (report_r, output_r):
                os.close(fd)
            self.kill()
            raise SandboxError(f"the sandbox worker broke down ({err!r}): {_stderr_tail(self.log)}") from None
        finally:
            for fd in (job_fd, report_w, output_w):
                os.close(fd)
        streams = _Streams({report_r: limits.report_bytes + 9, output_r: limits.output_bytes})
        try:
            info = streams.collect(self, time.monotonic() + limits.hard_wall_s + SLACK_S)
        except (OSError, TimeoutError, ValueError) as err:
            self.kill()
            raise SandboxError(f"the sandbox worker broke down ({err!r}): {_stderr_tail(self.log)}") from None
        finally:
            streams.close()
        if info is None or "termination" not in info:
            self.kill()
            why = (info or {}).get("error") or _stderr_tail(self.log) or "no output"
            raise SandboxError(f"the sandbox worker exited: {why}")
        report, output = streams.data[report_r], streams.data[output_r]
        termination: Termination = info["termination"] if report[:1] == SETUP_DONE else "setup_failed"
        load_error: ErrorInfo | None = None
        calls: tuple[CallOutcome, ...] = ()
        problem: str | None = None
        if termination in ("exited", "signaled"):
            load_error, calls, problem = parse_report(bytes(report[1:]), limits)
        return RunOutcome(
            termination=termination,
            exit_code=info["exit_code"],
            signal=info["signal"],
            cpu_s=info["cpu_s"],
            wall_s=info["wall_s"],
            output=bytes(output).decode("utf-8", "replace"),
            output_truncated=streams.truncated[output_r],
            load_error=load_error,
            calls=calls,
            report_problem=problem
            or ("the report exceeded its size cap" if streams.truncated[report_r] else None),
            queued_s=info.get("queued_s", 0.0),
        )

    def alive(self) -> bool:
        return self.proc.poll() is None

    def close(self) -> None:
        try:
            self.channel.shutdown(socket.SHUT_WR)
            self.proc.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            self.kill()
        self.channel.close()
        self.log.close()
        self._remove_root()
        with _live_lock:
            _live.discard(self)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._remove_root()
        with _live_lock:
            _live.discard(self)

    def _remove_root(self) -> None:
        if self.root is not None:
            try:
                os.rmdir(self.root)  # only ever empty on the host: the children mount over it privately
            except OSError:
                pass


def _job_file(message: bytes) -> int:
    """A sealed memfd holding ``message``: the child reads it; the zygote only passes it on."""
    fd = os.memfd_create("evalkit-job", os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
    try:
        view = memoryview(message)
        while view:
            view = view[os.write(fd, view) :]
        fcntl.fcntl(fd, fcntl.F_ADD_SEALS, _SEALS)
    except BaseException:
        os.close(fd)
        raise
    return fd


class _Streams:
    """The report and output pipes of one run, read here up to their caps while the zygote supervises."""

    def __init__(self, caps: dict[int, int]) -> None:
        self.caps = caps
        self.data = {fd: bytearray() for fd in caps}
        self.truncated = dict.fromkeys(caps, False)
        self.open = set(caps)

    def collect(self, process: _Process, deadline: float) -> dict[str, Any] | None:
        """Read until the zygote says how the run ended and the pipes close (or a grace period passes)."""
        info: dict[str, Any] | None = None
        replied = False
        while self.open or not replied:
            left = deadline - time.monotonic()
            if left <= 0:
                if replied:  # without a pid namespace (bubblewrap), a leftover process may hold a pipe
                    break
                raise TimeoutError
            watch = [*self.open, *([] if replied else [process.channel.fileno()])]
            for fd in select.select(watch, [], [], left)[0]:
                if fd in self.open:
                    self._read(fd)
                    continue
                info, replied = process.receive(deadline), True
                deadline = min(deadline, time.monotonic() + EXIT_GRACE_S)
                if info is None:
                    return None
        return info

    def _read(self, fd: int) -> None:
        chunk = os.read(fd, 1 << 16)
        room = self.caps[fd] - len(self.data[fd])
        self.data[fd] += chunk[:room]
        if not chunk or len(chunk) > room:  # at end of file, or over the cap: the child's next write fails
            self.truncated[fd] = bool(chunk)
            self.open.discard(fd)
            os.close(fd)

    def close(self) -> None:
        for fd in self.open:
            os.close(fd)
        self.open = set()


class SandboxPool:
    """Runs jobs in isolated children, ``workers`` at a time. Thread-safe; use :meth:`start`."""

    def __init__(self, workers: int, isolation: Literal["namespaces", "bwrap"], warm: bool) -> None:
        if not 1 <= workers <= MAX_WORKERS:
            raise SandboxError(f"workers must be between 1 and {MAX_WORKERS}, not {workers}")
        self.workers = workers
        self.isolation = isolation
        first = UID_RANGE.start + MAX_WORKERS * secrets.randbelow(len(UID_RANGE) // MAX_WORKERS)
        self.uids = tuple(range(first, first + workers))
        self.warm = warm and isolation == "namespaces"
        self._masks = _masks()
        self._idle: queue.Queue[int] = queue.Queue()
        self._zygotes: dict[int, _Process] = {}
        self._lock = threading.Lock()
        self._closed = False
        self.cgroups: tuple[
            str, ...
        ] = ()  # e.g. ("v1", "cpu", "memory", "pids"); () where only rlimits bound
        self.cgroups_missing = ""  # why not, then
        for slot in range(workers):
            self._idle.put(slot)

    @classmethod
    def start(
        cls, workers: int | None = None, *, isolation: Isolation = "auto", warm: bool = True
    ) -> SandboxPool:
        """A started pool; ``workers`` defaults to the number of usable cores.

        ``isolation="auto"`` uses namespaces as root and bubblewrap otherwise, and
        falls back to bubblewrap when namespaces fail (root without
        CAP_SYS_ADMIN, as in a default Docker container). ``warm=False`` runs
        every job in a fresh interpreter (the benchmark's baseline).
        """
        count = workers or len(os.sched_getaffinity(0)) or 1
        chosen = _choose_isolation(isolation)
        try:
            try:
                return cls._launch(count, chosen, warm)
            except SandboxError as first:
                if isolation != "auto" or chosen != "namespaces" or shutil.which("bwrap") is None:
                    raise
                try:
                    return cls._launch(count, "bwrap", warm)
                except SandboxError as second:
                    raise SandboxError(f"{first}; the bubblewrap fallback failed too: {second}") from None
        except SandboxError:
            if _stopping.is_set():  # its zygotes were killed while they started
                raise _stopped() from None
            raise

    @classmethod
    def _launch(cls, count: int, isolation: Literal["namespaces", "bwrap"], warm: bool) -> SandboxPool:
        pool = cls(count, isolation, warm)
        try:
            if pool.warm:
                starters = [pool._spawn(slot) for slot in range(count)]
                for slot, process in enumerate(starters):
                    pool._zygotes[slot] = process
                for process in starters:
                    process.wait_ready()
                pool._bounded_by(starters[0])
            else:
                pool._probe()
        except BaseException:
            pool.close()
            raise
        return pool

    def _spawn(self, slot: int, once: bool = False) -> _Process:
        root = tempfile.mkdtemp(prefix="evalkit-sandbox-") if self.isolation == "namespaces" else None
        return _Process(self._command(slot, once, root), root)

    def _command(self, slot: int, once: bool = False, root: str | None = None) -> list[str]:
        isolation = "none" if self.isolation == "bwrap" else "namespaces"
        config = {
            "root": root,
            "isolation": isolation,
            "uid": self.uids[slot],
            "masks": self._masks,
            "probe_limits": PROBE_LIMITS.to_wire(),
        }
        zygote = str(ZYGOTE)
        prefix: list[str] = []
        if self.isolation == "bwrap":
            zygote = "/opt/evalkit-sandbox/_zygote.py"
            prefix = _bwrap_command(self._masks, self.uids[slot])
        return [
            *prefix,
            sys.executable,
            "-I",
            "-B",
            zygote,
            *(["--once"] if once else []),
            json.dumps(config),
        ]

    def _probe(self) -> None:
        outcome = self._run_once(0, Job("", ()))
        if outcome.termination != "exited" or outcome.report_problem:
            problem = outcome.failure(Limits()) or outcome.output
            raise SandboxError(f"the {self.isolation} sandbox does not work here: {problem}")

    def _run_once(self, slot: int, job: Job) -> RunOutcome:
        process = self._spawn(slot, once=True)
        try:
            process.wait_ready()
            self._bounded_by(process)
            return process.exchange(job)
        finally:
            process.close()

    def _bounded_by(self, process: _Process) -> None:
        self.cgroups = tuple(process.ready.get("cgroups") or ())
        self.cgroups_missing = str(process.ready.get("cgroups_missing") or "")

    def run(self, job: Job) -> RunOutcome:
        """Run ``job`` on a free worker; SandboxError if the sandbox itself fails (never for bad code).

        After :func:`stop` it raises KeyboardInterrupt instead, in flight or not: the code was not graded.
        """
        try:
            return self._run(job)
        except SandboxError:
            if _stopping.is_set():
                raise _stopped() from None
            raise

    def _run(self, job: Job) -> RunOutcome:
        if _stopping.is_set():
            raise _stopped()
        if self._closed:
            raise SandboxError("the sandbox pool is closed")
        slot = self._idle.get()
        try:
            if not self.warm:
                return self._run_once(slot, job)
            with self._lock:
                process = self._zygotes.get(slot)
            if process is None or not process.alive():
                if process is not None:
                    process.close()
                process = self._spawn(slot)
                process.wait_ready()
                with self._lock:
                    self._zygotes[slot] = process
            return process.exchange(job)
        finally:
            self._idle.put(slot)

    def worker_pids(self) -> list[int]:
        """The pids of the warm workers (for diagnostics)."""
        with self._lock:
            return [p.proc.pid for p in self._zygotes.values() if p.alive()]

    def close(self) -> None:
        """Stop every worker; running jobs fail with SandboxError."""
        self._closed = True
        with self._lock:
            zygotes, self._zygotes = list(self._zygotes.values()), {}
        for process in zygotes:
            process.close()

    def __enter__(self) -> SandboxPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _choose_isolation(isolation: Isolation) -> Literal["namespaces", "bwrap"]:
    if isolation == "namespaces" or (isolation == "auto" and os.geteuid() == 0):
        if os.geteuid() != 0:
            raise SandboxError("namespaces isolation needs root; run as root or use isolation='bwrap'")
        return "namespaces"
    if shutil.which("bwrap") is None:
        raise SandboxError(
            "cannot isolate model code: not root and bubblewrap is missing; "
            "install bubblewrap (apt-get install bubblewrap) or run evalkit as root in a container"
        )
    return "bwrap"


def _bwrap_command(masks: list[str], uid: int) -> list[str]:
    """bubblewrap around a fresh interpreter: every namespace, no capabilities, read-only prefixes."""
    command = [
        "bwrap",
        "--unshare-all",
        "--cap-drop",
        "ALL",
        "--die-with-parent",
        "--new-session",
        "--clearenv",
    ]
    prefixes = {
        "/usr",
        sys.prefix,
        sys.base_prefix,
        os.path.realpath(sys.prefix),
        os.path.realpath(sys.base_prefix),
    }
    for path in sorted(prefixes):
        if not any(path != q and path.startswith(q + "/") for q in prefixes):
            command += ["--ro-bind", path, path]
    for name in ("bin", "sbin", "lib", "lib64"):
        if os.path.islink("/" + name):
            command += ["--symlink", os.readlink("/" + name), "/" + name]
    for mask in masks:
        if any(mask.startswith(p + "/") for p in prefixes):
            command += ["--tmpfs", mask, "--remount-ro", mask]
    command += ["--ro-bind", str(ZYGOTE.parent), "/opt/evalkit-sandbox"]
    # the working tmpfs must not hide the interpreter: with a venv under /tmp it goes to /scratch
    under_tmp = any(p == "/tmp" or p.startswith("/tmp/") for p in prefixes)
    scratch = "/scratch" if under_tmp else "/tmp"
    command += ["--dev", "/dev", "--proc", "/proc", "--size", str(Limits().scratch_bytes), "--tmpfs", scratch]
    command += ["--chdir", scratch, "--unshare-user", "--uid", str(uid), "--gid", str(uid)]
    for key, value in ZYGOTE_ENV.items():
        command += ["--setenv", key, value]
    return command


_default: SandboxPool | None = None
_default_lock = threading.Lock()
_live: set[_Process] = set()  # every zygote of this process, starting ones included
_live_lock = threading.Lock()
_stopping = threading.Event()


def _stopped() -> KeyboardInterrupt:
    return KeyboardInterrupt("the sandbox was stopped")


def stop() -> None:
    """Kill every sandbox worker of this process now, starting and busy ones too; for good.

    The CLI calls it on Ctrl-C and SIGTERM, so that a run's grading threads do not wait for zygotes
    to start or jobs to end: a job in flight, a pool starting, and every later :meth:`SandboxPool.run`
    raise KeyboardInterrupt, never a SandboxError (which a check would report as ``unscored``).
    """
    _stopping.set()
    with _live_lock:
        processes = list(_live)
    for process in processes:
        try:
            process.kill()
        except OSError:
            pass


def default_pool() -> SandboxPool:
    """The process-wide pool, started on first use and closed at exit."""
    global _default
    if _stopping.is_set():
        raise _stopped()
    with _default_lock:
        if _stopping.is_set():
            raise _stopped()
        if _default is None or _default._closed:
            _default = SandboxPool.start()
            atexit.register(_default.close)
        return _default
