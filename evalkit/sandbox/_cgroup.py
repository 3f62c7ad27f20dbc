"""A cgroup per worker: memory, process and CPU bounds for all of a check's processes together.

Stdlib only: the zygote imports it as a top-level module. Rlimits are per
process (three processes of 900 MiB each stay under a 1 GiB ``RLIMIT_AS``), so
where the zygote may write to a cgroup hierarchy it makes a cgroup of its own,
``evalkit-<zygote pid>``, moves itself in once it has warmed up, and each
check's child is born in it (a fork inherits the cgroup; moving every child in
would cost about 11 ms per check). Before each check the zygote sets:

- ``memory``: the check's memory, its scratch tmpfs included, with swap
  counted (v1 ``memory.limit_in_bytes``/``memory.memsw.limit_in_bytes``, v2
  ``memory.max``/``memory.swap.max``). Only memory charged from then on counts:
  the zygote's own pages were charged before it moved in. The child raises its
  ``oom_score_adj`` to 1000, so the OOM killer takes the check's processes,
  never the zygote;
- ``pids``: the check's processes and threads (``pids.max``, above the zygote's own);
- ``cpu``: at most one CPU's worth of time (``cpu.cfs_quota_us`` / ``cpu.max``),
  at the same weight as any other worker, so spinning processes in one check
  cannot starve the check beside it; and the CPU time of all the check's
  processes (``cpuacct.usage`` / ``cpu.stat``, read as a difference), which the
  zygote holds to the check's CPU limit.

The cgroup lives inside the zygote's own cgroup (v1), or (v2) in the first
place of the hierarchy where the controllers are enabled for a new child, the
zygote's own cgroup or the root. Where neither works (no cgroupfs in the
container, not root, a v2 cgroup that holds processes), :func:`detect` says why
and the sandbox keeps to rlimits.
"""

from __future__ import annotations

import os
from typing import Any

__all__ = ["CheckCgroups", "detect"]

PERIOD_US = 100_000
_V1 = ("memory", "pids", "cpu", "cpuacct")


def _write(path: str, value: str) -> None:
    with open(path, "w") as f:
        f.write(value)


def _read(path: str) -> str:
    with open(path) as f:
        return f.read()


def _field(text: str, name: str) -> int:
    """The number after ``name`` in a ``key value`` file (memory.events, cpu.stat, memory.oom_control)."""
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        if key == name:
            return int(value)
    return 0


def _mounts() -> list[tuple[str, str, str, set[str]]]:
    """(fs type, mount point, root inside the hierarchy, super options) of each cgroup mount."""
    out = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            dash = fields.index("-")
            fstype = fields[dash + 1]
            if fstype in ("cgroup", "cgroup2"):
                out.append((fstype, fields[4], fields[3], set(fields[dash + 3].split(","))))
    return out


def _own_paths() -> dict[str, str]:
    """This process's cgroup path per v1 controller, and under ``""`` in v2."""
    out: dict[str, str] = {}
    with open("/proc/self/cgroup") as f:
        for line in f:
            _, controllers, path = line.rstrip("\n").split(":", 2)
            for name in controllers.split(",") if controllers else [""]:
                out[name] = path
    return out


def _inside(mount_point: str, mount_root: str, path: str) -> str | None:
    if mount_root == "/":
        return mount_point + (path if path != "/" else "")
    if path == mount_root or path.startswith(mount_root + "/"):
        return mount_point + path[len(mount_root) :]
    return None


def _sweep(parent: str) -> None:
    """Remove the empty cgroups of zygotes that are gone (killed before they could remove them)."""
    try:
        names = os.listdir(parent)
    except OSError:
        return
    for name in names:
        pid = name.removeprefix("evalkit-")
        if pid == name or not pid.isdigit() or os.path.exists(f"/proc/{pid}"):
            continue
        base = os.path.join(parent, name)
        try:
            for child in os.listdir(base):
                if os.path.isdir(os.path.join(base, child)):
                    os.rmdir(os.path.join(base, child))
            os.rmdir(base)
        except OSError:
            pass


class CheckCgroups:
    """The cgroup (v1: one per controller hierarchy) that this zygote and its children are in."""

    def __init__(self, version: int, dirs: dict[str, str]) -> None:
        self.version = version
        self.dirs = dirs  # controller -> this zygote's directory (v2: one directory, under every name)
        self.controllers = tuple(sorted(c for c in dirs if c != "cpuacct"))
        self._cpu_start = 0.0
        self._ooms_start = 0

    def enter(self) -> None:
        """Move this process into the cgroup; OSError if refused."""
        for procs in sorted({f"{d}/cgroup.procs" for d in self.dirs.values()}):
            _write(procs, "0")

    def prepare(self, limits: dict[str, Any]) -> None:
        """Set the next check's bounds, and start counting its CPU time and OOM kills."""
        memory = limits["memory_bytes"] + limits["scratch_bytes"]
        dirs = self.dirs
        if self.version == 1:
            if "memory" in dirs:
                if os.path.exists(f"{dirs['memory']}/memory.memsw.limit_in_bytes"):
                    self._memory_v1(memory)
                else:
                    _write(f"{dirs['memory']}/memory.limit_in_bytes", str(memory))
            if "cpu" in dirs:
                _write(f"{dirs['cpu']}/cpu.cfs_period_us", str(PERIOD_US))
                _write(f"{dirs['cpu']}/cpu.cfs_quota_us", str(PERIOD_US))
        else:
            path = next(iter(dirs.values()))
            _write(f"{path}/memory.max", str(memory))
            if os.path.exists(f"{path}/memory.swap.max"):
                _write(f"{path}/memory.swap.max", "0")
            if "cpu" in dirs:
                _write(f"{path}/cpu.max", f"{PERIOD_US} {PERIOD_US}")
        if "pids" in dirs:
            current = int(_read(f"{dirs['pids']}/pids.current"))
            _write(f"{dirs['pids']}/pids.max", str(current + limits["nproc"]))
        self._cpu_start = self._cpu_total() or 0.0
        self._ooms_start = self._ooms()

    def _memory_v1(self, memory: int) -> None:
        """memsw (memory + swap) may not go under memory's limit: set them in the order that keeps that."""
        limit, both = (f"{self.dirs['memory']}/memory.{n}limit_in_bytes" for n in ("", "memsw."))
        order = [(limit, memory), (both, memory)]
        if memory > int(_read(limit)):
            order.reverse()
        for path, value in order:
            _write(path, str(value))

    def _cpu_total(self) -> float | None:
        try:
            if self.version == 1:
                if "cpuacct" not in self.dirs:
                    return None
                return int(_read(f"{self.dirs['cpuacct']}/cpuacct.usage")) / 1e9
            path = next(iter(self.dirs.values()))
            return _field(_read(f"{path}/cpu.stat"), "usage_usec") / 1e6
        except (OSError, ValueError):
            return None

    def cpu_s(self) -> float | None:
        """CPU time used by all of the check's processes since :meth:`prepare`; None if not measured."""
        total = self._cpu_total()
        return None if total is None else max(0.0, total - self._cpu_start)

    def _ooms(self) -> int:
        if "memory" not in self.dirs:
            return 0
        name = "memory.oom_control" if self.version == 1 else "memory.events"
        try:
            return _field(_read(f"{self.dirs['memory']}/{name}"), "oom_kill")
        except (OSError, ValueError):
            return 0

    def oom_killed(self) -> bool:
        """Whether the kernel killed a process of the check for going over its memory limit."""
        return self._ooms() > self._ooms_start

    def close(self) -> None:
        """Leave the cgroup and remove it (a zygote killed before this is swept by the next one)."""
        for d in sorted(set(self.dirs.values())):
            try:
                _write(f"{os.path.dirname(d)}/cgroup.procs", "0")
                os.rmdir(d)
            except OSError:
                pass


def _make_base(parent: str) -> str:
    _sweep(parent)
    base = f"{parent}/evalkit-{os.getpid()}"
    os.mkdir(base)
    return base


def _detect_v1(mounts: list[tuple[str, str, str, set[str]]], own: dict[str, str]) -> dict[str, str]:
    bases: dict[str, str] = {}
    made: dict[str, str] = {}  # mount point -> base, for co-mounted controllers (cpu,cpuacct)
    for fstype, point, root, options in mounts:
        if fstype != "cgroup":
            continue
        for controller in _V1:
            if controller not in options or controller not in own:
                continue
            parent = _inside(point, root, own[controller])
            if parent is None or not os.access(parent, os.W_OK):
                continue
            try:
                bases[controller] = made[point] if point in made else _make_base(parent)
                made[point] = bases[controller]
            except OSError:
                continue
    return bases


def _detect_v2(mounts: list[tuple[str, str, str, set[str]]], own: dict[str, str]) -> dict[str, str]:
    for fstype, point, root, _ in mounts:
        if fstype != "cgroup2" or "" not in own:
            continue
        mine = _inside(point, root, own[""])
        for parent in dict.fromkeys(p for p in (mine, point) if p is not None):
            try:
                available = set(_read(f"{parent}/cgroup.controllers").split())
                wanted = [c for c in ("memory", "pids", "cpu") if c in available]
                if "memory" not in wanted:
                    continue
                enabled = set(_read(f"{parent}/cgroup.subtree_control").split())
                if not set(wanted) <= enabled:  # refused unless it holds no process, or is the root
                    _write(f"{parent}/cgroup.subtree_control", " ".join(f"+{c}" for c in wanted))
                return dict.fromkeys(wanted, _make_base(parent))
            except OSError:
                continue
    return {}


def detect() -> tuple[CheckCgroups | None, str]:
    """This zygote's per-check cgroups, or None and why they are not available."""
    if os.geteuid() != 0:
        return None, "not root"
    try:
        mounts, own = _mounts(), _own_paths()
    except (OSError, ValueError) as err:
        return None, f"cannot read the cgroup mounts: {err}"
    v1 = any(t == "cgroup" and "memory" in o for t, _, _, o in mounts)
    bases = _detect_v1(mounts, own) if v1 else _detect_v2(mounts, own)
    if "memory" not in bases:
        for base in set(bases.values()):
            os.rmdir(base)
        where = "v1 memory hierarchy" if v1 else "cgroup v2 hierarchy"
        return None, f"no writable {where} with the memory controller"
    return CheckCgroups(1 if v1 else 2, bases), ""
