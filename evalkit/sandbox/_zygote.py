"""The warm worker: imports torch once, then forks one isolated child per job, and holds no job's data.

Started by the pool as ``python -I -B _zygote.py CONFIG_JSON`` with an empty
environment and a ``SOCK_SEQPACKET`` socket as stdin; it never imports evalkit
(the reference modules stay out of its memory, hence out of every child's).

The zygote never reads a job, a report or an output: every child starts as a
copy of the zygote's memory, so whatever the zygote had read (an earlier
check's code, inputs, report or stdout) a later check could find in its own
heap and hand back as its answer. Instead, with each job the parent sends file
descriptors (``SCM_RIGHTS``): a sealed memfd holding the job message, which the
child reads, and the write ends of the report and output pipes, which the
parent reads. Protocol, one JSON message each way per job::

    zygote -> parent   {"ready": true, "pid", "torch", "cgroups": [controllers], "cgroups_missing": str}
                       | {"ready": false, "error": str}
    parent -> zygote   {"limits": {...}}  + fds [job memfd, report pipe, output pipe]
    zygote -> parent   {"termination", "exit_code", "signal", "cpu_s", "wall_s", "queued_s", "max_rss_kb"}

Where cgroups are writable the zygote, once warm, moves into a cgroup of its
own (see ``_cgroup``) and sets its bounds before each job. Per job:
(namespaces isolation) the next fork is made pid 1 of a fresh pid namespace.
The child joins a fresh session keyring, enters its
own mount/net/ipc/uts namespaces and root, sets rlimits, drops to the worker's
uid, reads the job, installs the seccomp filter, sends the byte ``R`` on its
report pipe (setup done), runs the job and writes the report. The zygote kills
the child at the wall-time limit (not counting time it waited for a CPU) and at
the CPU limit (of all the check's processes together where it has a cgroup,
else of the child), and reaps it; the kernel then kills everything left in its pid namespace. With
``--once`` it serves one job and exits (a fresh interpreter per check: the
benchmark's baseline, and the bubblewrap fallback, where bubblewrap has already
built the namespaces and ``isolation`` is ``none``).
"""

from __future__ import annotations

import fcntl
import gc
import json
import os
import select
import signal
import socket
import sys
import tempfile
import time
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _cgroup
import _isolate
import _runner
import _seccomp
import _wire
import torch
import torch.nn
import torch.nn.functional

SETUP_DONE = b"R"
SANDBOX_ENV = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
MAX_JOB_BYTES = 256 << 20
MAX_MESSAGE_BYTES = 1 << 16
POLL_S = 0.1  # how often the wall time (less waiting for a CPU) and the CPU time are looked at
JOB_FD, REPORT_FD = 4, 3
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _warm_up() -> None:
    """Run the ops a check uses once, so lazy initialization happens before the fork, not in every child."""
    x = torch.randn(2, 5, 8, requires_grad=True)
    layer = torch.nn.Linear(8, 8)
    layer.load_state_dict(layer.state_dict())
    y = layer(x).view(2, 5, 2, 4).transpose(1, 2).contiguous()
    s = torch.softmax(torch.matmul(y, y.transpose(-2, -1)) / 2.0, dim=-1)
    z = torch.einsum("bhqk,bhkd->bhqd", s, y).masked_fill(torch.zeros(1, dtype=torch.bool), 0.0)
    torch.cat([z, torch.sigmoid(z)], dim=1).sum().backward()
    _wire.unpack(_wire.pack({}, [x.detach(), torch.zeros(0)]), 1 << 20)


def _bind_plan(masks: list[str]) -> dict[str, Any]:
    """Which host paths the child's root gets: /usr and the interpreter prefixes, read-only."""
    wanted = {"/usr", sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
    paths = sorted({os.path.realpath(p) for p in wanted} | {os.path.abspath(p) for p in wanted})
    binds = [
        p for p in paths if not any(p != q and p.startswith(q + "/") for q in paths) and os.path.isdir(p)
    ]
    symlinks, extra = [], []
    for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        path = "/" + name
        if os.path.islink(path):
            symlinks.append((name, os.readlink(path)))
        elif os.path.isdir(path) and not any(path.startswith(b + "/") or path == b for b in binds):
            extra.append(path)
    masks = [os.path.realpath(m) for m in masks]
    scratch = next(s for s in ("/tmp", "/scratch") if not any(b == s or b.startswith(s + "/") for b in binds))
    return {"binds": binds + extra, "symlinks": symlinks, "masks": masks, "scratch": scratch}


def _read_all(fd: int) -> bytes:
    size = os.fstat(fd).st_size
    if size > MAX_JOB_BYTES:
        raise ValueError(f"job of {size} bytes exceeds the cap of {MAX_JOB_BYTES}")
    chunks, left = [], size
    while left:
        chunk = os.pread(fd, min(left, 1 << 24), size - left)
        if not chunk:
            raise ValueError("job file is truncated")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _place(fds: list[int], targets: list[int]) -> None:
    """dup2 each of ``fds`` onto its target without one clobbering another, then close everything else."""
    high = [fcntl.fcntl(fd, fcntl.F_DUPFD, 100) for fd in fds]
    for fd, target in zip(high, targets, strict=True):
        os.dup2(fd, target)
    os.closerange(max(targets) + 1, 1 << 16)


def _process_cpu_s(pid: int) -> float:
    """CPU time used so far by ``pid``'s threads (0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    except (OSError, ValueError, IndexError):
        return 0.0


def _queued_s(pid: int) -> float:
    """How long ``pid`` has waited for a CPU while runnable (0 where the kernel does not say)."""
    try:
        with open(f"/proc/{pid}/schedstat") as f:
            return int(f.read().split()[1]) / 1e9
    except (OSError, ValueError, IndexError):
        return 0.0


class Zygote:
    """Forks, isolates and supervises one child per job."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.isolation = config["isolation"]
        self.uid = config["uid"]
        self.root = config.get("root") or tempfile.mkdtemp(prefix="evalkit-sandbox-")
        self.plan = {**_bind_plan(config["masks"]), "root": self.root}
        self.own_pid_ns = os.open("/proc/self/ns/pid", os.O_RDONLY) if self.isolation == "namespaces" else -1
        self.cgroups: _cgroup.CheckCgroups | None = None
        self.cgroups_missing = "not root"
        if self.isolation == "namespaces":
            self.cgroups, self.cgroups_missing = _cgroup.detect()

    def enter_cgroup(self) -> None:
        """Move into the per-worker cgroup (after the warm-up, whose memory must not count)."""
        if self.cgroups is None:
            return
        try:
            self.cgroups.enter()
        except OSError as err:
            self.cgroups.close()
            self.cgroups, self.cgroups_missing = None, f"cannot enter the cgroup: {err}"

    def close(self) -> None:
        if self.cgroups is not None:
            self.cgroups.close()
        try:
            os.rmdir(self.root)
        except OSError:
            pass

    def run(self, limits: dict[str, Any], job_fd: int, report_w: int, output_w: int) -> dict[str, Any]:
        """Run one job in a new child; how it ended (the child's report and output go to the pipes)."""
        grouped = self.cgroups is not None
        try:
            if self.cgroups is not None:
                self.cgroups.prepare(limits)
        except (OSError, ValueError):  # the hierarchy went away or is full: this check keeps to the rlimits
            grouped = False
        if self.isolation == "namespaces":
            _isolate.new_pid_namespace_for_children(self.own_pid_ns)
        started = time.monotonic()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child never returns
            self._child(limits, [output_w, output_w, report_w, job_fd])
        for fd in (job_fd, report_w, output_w):
            os.close(fd)
        return self._supervise(pid, limits, started, grouped)

    def _child(self, limits: dict[str, Any], fds: list[int]) -> None:
        code = 0
        try:
            _place(fds, [1, 2, REPORT_FD, JOB_FD])
            os.setsid()
            with open("/proc/self/oom_score_adj", "w") as f:
                f.write("1000")  # the OOM killer's first choice, before the zygote or anything of the host
            _isolate.new_session_keyring()
            if self.isolation == "namespaces":
                _isolate.enter_namespaces(self.plan, limits, self.uid)
            else:
                os.chdir(self.plan["scratch"])
            null = os.open("/dev/null", os.O_RDONLY)
            os.dup2(null, 0)
            os.close(null)
            os.environ.clear()
            os.environ.update(SANDBOX_ENV, HOME=self.plan["scratch"], TMPDIR=self.plan["scratch"])
            _isolate.set_limits(limits)
            if self.isolation == "namespaces":
                _isolate.drop_privileges(self.uid)
            _isolate.die_with_parent()
            job = _read_all(JOB_FD)
            os.close(JOB_FD)
            header, tensors = _wire.unpack(job, MAX_JOB_BYTES)
            del job
            _seccomp.install()
            os.write(REPORT_FD, SETUP_DONE)
        except BaseException as err:
            os.write(2, f"sandbox setup failed: {type(err).__name__}: {err}\n".encode())
            os._exit(121)
        try:
            _wire.write_frame(REPORT_FD, _runner.run_job(header, tensors))
        except BaseException:
            code = 1
        os._exit(code)

    def _supervise(self, pid: int, limits: dict[str, Any], started: float, grouped: bool) -> dict[str, Any]:
        pidfd = os.pidfd_open(pid)
        cpu_limit = limits["cpu_s"]
        hard_deadline = started + limits["hard_wall_s"]
        groups = self.cgroups if grouped else None
        stopped, queued = None, 0.0
        while True:
            now = time.monotonic()
            queued = _queued_s(pid) or queued
            left = limits["wall_s"] - (now - started - queued)
            if left <= 0 or now >= hard_deadline:
                stopped = "wall_limit"
                break
            used = groups.cpu_s() if groups is not None else None
            if (used if used is not None else _process_cpu_s(pid)) >= cpu_limit:
                stopped = "cpu_limit"
                break
            if select.select([pidfd], [], [], min(left, hard_deadline - now, POLL_S))[0]:
                break
        if stopped is not None:
            os.kill(pid, signal.SIGKILL)
        queued = _queued_s(pid) or queued
        _, status, usage = os.wait4(pid, 0)
        wall = time.monotonic() - started
        os.close(pidfd)
        cpu = usage.ru_utime + usage.ru_stime
        if groups is not None:
            cpu = max(cpu, groups.cpu_s() or 0.0)
        signaled = os.WIFSIGNALED(status)
        if stopped is not None:
            termination = stopped
        elif (
            signaled and os.WTERMSIG(status) == signal.SIGKILL and groups is not None and groups.oom_killed()
        ):
            termination = "memory_limit"
        elif signaled and cpu >= cpu_limit - 0.05:  # the rlimit backstop
            termination = "cpu_limit"
        else:
            termination = "signaled" if signaled else "exited"
        return {
            "termination": termination,
            "exit_code": os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
            "signal": signal.Signals(os.WTERMSIG(status)).name if signaled else None,
            "cpu_s": round(cpu, 4),
            "wall_s": round(wall, 4),
            "queued_s": round(queued, 4),
            "max_rss_kb": usage.ru_maxrss,
        }

    def probe(self, limits: dict[str, Any]) -> str | None:
        """Run an empty job through the full isolation; the reason it failed, or None.

        The probe's report and output are read here: they hold nothing but this constant job's.
        """
        job = _wire.pack({"source": "", "filename": "answer.py", "calls": [], "result_bytes": 1 << 20}, [])
        job_fd = os.memfd_create("evalkit-probe", os.MFD_CLOEXEC)
        os.write(job_fd, job)
        report_r, report_w = os.pipe()
        output_r, output_w = os.pipe()
        control = self.run(limits, job_fd, report_w, output_w)
        report, output = _drain(report_r), _drain(output_r)
        if control["termination"] != "exited" or control["exit_code"] != 0 or report[:1] != SETUP_DONE:
            text = output.decode("utf-8", "replace")[-800:]
            return f"{control['termination']} (exit {control['exit_code']}, {control['signal']}): {text}"
        return None


def _drain(fd: int) -> bytes:
    chunks = []
    while chunk := os.read(fd, 1 << 16):
        chunks.append(chunk)
    os.close(fd)
    return b"".join(chunks)


def _send(channel: socket.socket, message: dict[str, Any]) -> None:
    channel.send(json.dumps(message).encode())


def main() -> int:
    once = "--once" in sys.argv
    config = json.loads(sys.argv[-1])
    channel = socket.socket(fileno=0)
    torch.set_num_threads(1)
    if not once:
        _warm_up()
    zygote = Zygote(config)
    try:
        _isolate.new_session_keyring()  # not evalkit's: no key of the parent's session is in reach
        zygote.enter_cgroup()
        if not once:
            problem = zygote.probe(config["probe_limits"])
            if problem is not None:
                _send(channel, {"ready": False, "error": problem})
                return 1
            gc.collect()
            gc.freeze()  # keeps the collector from touching (and copying) the zygote's pages in each child
        cgroups = zygote.cgroups
        _send(
            channel,
            {
                "ready": True,
                "pid": os.getpid(),
                "torch": torch.__version__,
                "cgroups": [] if cgroups is None else [f"v{cgroups.version}", *cgroups.controllers],
                "cgroups_missing": zygote.cgroups_missing,
            },
        )
        while True:
            message, fds, _, _ = socket.recv_fds(channel, MAX_MESSAGE_BYTES, 3)
            if not message:
                return 0
            if len(fds) != 3:
                for fd in fds:
                    os.close(fd)
                _send(channel, {"error": f"a job comes with 3 file descriptors, not {len(fds)}"})
                continue
            _send(channel, zygote.run(json.loads(message)["limits"], *fds))
            if once:
                return 0
    finally:
        zygote.close()


if __name__ == "__main__":
    sys.exit(main())
