"""The warm worker: imports torch once, then forks one isolated child per job.

Started by the pool as ``python -I -B _zygote.py CONFIG_JSON`` with an empty
environment; it never imports evalkit (the reference modules stay out of its
memory, hence out of every child's). Protocol on stdin/stdout, one frame each
(see ``_wire``)::

    zygote -> parent   {"ready": true, ...} | {"ready": false, "error": str}
    parent -> zygote   control {"limits": {...}}, then the job message
    zygote -> parent   control {"termination": ..., "exit_code", "signal", "cpu_s", "wall_s",
                                "output": str, "output_truncated", "report_truncated"}, then the report bytes

Per job: (namespaces isolation) the next fork is made pid 1 of a fresh pid
namespace; the child enters its own mount/net/ipc/uts namespaces and root,
sets rlimits, drops to the worker's uid, sends the byte ``R`` on its report
pipe (setup done), runs the job and writes the report. The zygote reads the
report and output pipes with caps (closing a pipe at its cap), kills the child
at the wall-time limit, and reaps it; the kernel then kills everything left
in its pid namespace. With ``--once`` it serves one job and exits (a fresh
interpreter per check: the benchmark's baseline, and the bubblewrap fallback,
where bubblewrap has already built the namespaces and ``isolation`` is
``none``).
"""

from __future__ import annotations

import gc
import json
import os
import select
import signal
import sys
import tempfile
import time
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _isolate
import _runner
import _wire
import torch
import torch.nn
import torch.nn.functional

SETUP_DONE = b"R"
SANDBOX_ENV = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
MAX_JOB_BYTES = 256 << 20
EXIT_GRACE_S = 1.0


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


class Zygote:
    """Forks, isolates and supervises one child per job."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.isolation = config["isolation"]
        self.uid = config["uid"]
        self.root = config.get("root") or tempfile.mkdtemp(prefix="evalkit-sandbox-")
        self.plan = {**_bind_plan(config["masks"]), "root": self.root}
        self.own_pid_ns = os.open("/proc/self/ns/pid", os.O_RDONLY) if self.isolation == "namespaces" else -1

    def close(self) -> None:
        try:
            os.rmdir(self.root)
        except OSError:
            pass

    def run(self, limits: dict[str, Any], job: bytes) -> tuple[dict[str, Any], bytes]:
        report_r, report_w = os.pipe()
        output_r, output_w = os.pipe()
        if self.isolation == "namespaces":
            _isolate.new_pid_namespace_for_children(self.own_pid_ns)
        started = time.monotonic()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child never returns
            self._child(limits, job, report_w, output_w)
        os.close(report_w)
        os.close(output_w)
        return self._supervise(pid, limits, started, report_r, output_r)

    def _child(self, limits: dict[str, Any], job: bytes, report_w: int, output_w: int) -> None:
        code = 0
        try:
            os.dup2(output_w, 1)
            os.dup2(output_w, 2)
            os.dup2(report_w, 3)
            os.closerange(4, 1 << 16)
            os.setsid()
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
            header, tensors = _wire.unpack(job, MAX_JOB_BYTES)
            os.write(3, SETUP_DONE)
        except BaseException as err:
            os.write(2, f"sandbox setup failed: {type(err).__name__}: {err}\n".encode())
            os._exit(121)
        try:
            _wire.write_frame(3, _runner.run_job(header, tensors))
        except BaseException:
            code = 1
        os._exit(code)

    def _supervise(
        self, pid: int, limits: dict[str, Any], started: float, report_r: int, output_r: int
    ) -> tuple[dict[str, Any], bytes]:
        caps = {report_r: limits["report_bytes"] + 9, output_r: limits["output_bytes"]}
        buffers: dict[int, bytearray] = {report_r: bytearray(), output_r: bytearray()}
        truncated = {report_r: False, output_r: False}
        open_fds = {report_r, output_r}
        pidfd = os.pidfd_open(pid)
        deadline = started + limits["wall_s"]
        timed_out = exited = False
        while open_fds:
            left = deadline - time.monotonic()
            if left <= 0:
                timed_out = not exited
                break
            ready, _, _ = select.select([*open_fds, *([] if exited else [pidfd])], [], [], left)
            for fd in ready:
                if fd == pidfd:
                    # Keep draining: the pipes close once the namespace is gone. Without a pid
                    # namespace of its own, a leftover process may hold them: wait a grace second.
                    exited = True
                    deadline = min(deadline, time.monotonic() + EXIT_GRACE_S)
                    continue
                chunk = os.read(fd, 1 << 16)
                if not chunk:
                    open_fds.discard(fd)
                    os.close(fd)
                    continue
                room = caps[fd] - len(buffers[fd])
                buffers[fd] += chunk[:room]
                if len(chunk) > room:  # over the cap: stop reading; the child's next write fails
                    truncated[fd] = True
                    open_fds.discard(fd)
                    os.close(fd)
        if timed_out:
            os.kill(pid, signal.SIGKILL)
        _, status, usage = os.wait4(pid, 0)
        wall = time.monotonic() - started
        os.close(pidfd)
        for fd in open_fds:
            os.close(fd)
        report = bytes(buffers[report_r])
        setup_done = report[:1] == SETUP_DONE
        cpu = usage.ru_utime + usage.ru_stime
        if not setup_done:
            termination = "setup_failed"
        elif timed_out:
            termination = "wall_limit"
        elif os.WIFSIGNALED(status) and cpu >= max(1, int(limits["cpu_s"] + 0.999)) - 0.05:
            termination = "cpu_limit"
        else:
            termination = "signaled" if os.WIFSIGNALED(status) else "exited"
        control = {
            "termination": termination,
            "exit_code": os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
            "signal": signal.Signals(os.WTERMSIG(status)).name if os.WIFSIGNALED(status) else None,
            "cpu_s": round(cpu, 4),
            "wall_s": round(wall, 4),
            "max_rss_kb": usage.ru_maxrss,
            "output": bytes(buffers[output_r]).decode("utf-8", "replace"),
            "output_truncated": truncated[output_r],
            "report_truncated": truncated[report_r],
        }
        body = report[1:] if setup_done else b""
        return control, body

    def probe(self, limits: dict[str, Any]) -> str | None:
        """Run an empty job through the full isolation; the reason it failed, or None."""
        job = _wire.pack({"source": "", "filename": "answer.py", "calls": [], "result_bytes": 1 << 20}, [])
        control, body = self.run(limits, job)
        if control["termination"] != "exited" or control["exit_code"] != 0 or not body:
            return f"{control['termination']} (exit {control['exit_code']}, {control['signal']}): {control['output'][-800:]}"
        return None


def main() -> int:
    once = "--once" in sys.argv
    config = json.loads(sys.argv[-1])
    torch.set_num_threads(1)
    if not once:
        _warm_up()
    zygote = Zygote(config)
    try:
        if not once:
            problem = zygote.probe(config["probe_limits"])
            if problem is not None:
                _wire.write_frame(1, json.dumps({"ready": False, "error": problem}).encode())
                return 1
            gc.collect()
            gc.freeze()  # keeps the collector from touching (and copying) the zygote's pages in each child
        _wire.write_frame(
            1, json.dumps({"ready": True, "pid": os.getpid(), "torch": torch.__version__}).encode()
        )
        while True:
            control = _wire.read_frame(0, 1 << 20)
            job = _wire.read_frame(0, MAX_JOB_BYTES) if control is not None else None
            if job is None:
                return 0
            reply, body = zygote.run(json.loads(control)["limits"], job)
            _wire.write_frame(1, json.dumps(reply).encode())
            _wire.write_frame(1, body)
            if once:
                return 0
    finally:
        zygote.close()


if __name__ == "__main__":
    sys.exit(main())
