"""Linux isolation steps for one sandboxed child, through libc (stdlib only; runs in the zygote's fork).

:func:`enter_namespaces` gives the child (already pid 1 of a fresh pid
namespace) its own mount, network, IPC and UTS namespaces and a new root: a
read-only tmpfs holding read-only binds of the interpreter's prefixes and
``/usr``, empty read-only tmpfs masks over the evalkit sources, a few device
nodes, a fresh ``/proc`` of the new pid namespace, and a size-capped tmpfs at
``/tmp`` (the working directory). The host filesystem is detached (``pivot_root``), so the repo, the
reference modules and ``/proc/<parent>`` are out of reach.

:func:`drop_privileges` empties the capability bounding set, clears
supplementary groups, switches to the worker's unprivileged uid/gid (which
clears every capability), and sets ``no_new_privs``.

:func:`new_session_keyring` gives the process an empty session keyring of its
own, so no key of evalkit's session, nor one an earlier check left, is in reach.
"""

from __future__ import annotations

import ctypes
import os
import platform
import resource
import signal
from typing import Any

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
MNT_DETACH = 2
PR_SET_PDEATHSIG, PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS = 1, 24, 38
_SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41}
_SYS_KEYCTL = {"x86_64": 250, "aarch64": 219}
KEYCTL_JOIN_SESSION_KEYRING = 1
DEVICES = ("null", "zero", "full", "random", "urandom")

_libc = ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def _b(value: str | None) -> bytes | None:
    return value.encode() if value is not None else None


def mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    _check(
        _libc.mount(_b(source), _b(target), _b(fstype), ctypes.c_ulong(flags), _b(data)), f"mount {target}"
    )


def unshare(flags: int) -> None:
    _check(_libc.unshare(flags), "unshare")


def setns(fd: int, nstype: int) -> None:
    _check(_libc.setns(fd, nstype), "setns")


def new_pid_namespace_for_children(own_pid_ns: int) -> None:
    """Make the next fork pid 1 of a fresh pid namespace (repeatable: reset to our own first)."""
    setns(own_pid_ns, CLONE_NEWPID)
    unshare(CLONE_NEWPID)


def _bind_readonly(source: str, target: str) -> None:
    mount(source, target, None, MS_BIND | MS_REC)
    mount(None, target, None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)


def enter_namespaces(plan: dict[str, Any], limits: dict[str, Any], uid: int) -> None:
    """Build and enter the child's private filesystem and network (see the module docstring)."""
    unshare(CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS)
    mount(None, "/", None, MS_REC | MS_PRIVATE)
    root = plan["root"]
    mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,nr_inodes=4096,mode=755")
    for path in plan["binds"]:
        os.makedirs(root + path, exist_ok=True)
        _bind_readonly(path, root + path)
    for name, target in plan["symlinks"]:
        os.symlink(target, f"{root}/{name}")
    for path in plan["masks"]:
        if os.path.isdir(root + path):
            mount(
                "tmpfs",
                root + path,
                "tmpfs",
                MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
                "size=4k,mode=755",
            )
    os.makedirs(f"{root}/dev")
    for name in DEVICES:
        with open(f"{root}/dev/{name}", "w"):
            pass
        mount(f"/dev/{name}", f"{root}/dev/{name}", None, MS_BIND)
    scratch = root + plan["scratch"]
    os.makedirs(scratch)
    mount(
        "tmpfs",
        scratch,
        "tmpfs",
        MS_NOSUID | MS_NODEV,
        f"size={limits['scratch_bytes']},nr_inodes={limits['scratch_inodes']},mode=700,uid={uid},gid={uid}",
    )
    os.makedirs(f"{root}/proc")
    os.makedirs(f"{root}/.old")
    os.chdir(root)
    _check(_libc.syscall(_SYS_PIVOT_ROOT[platform.machine()], b".", b".old"), "pivot_root")
    os.chdir("/")
    _check(_libc.umount2(b"/.old", MNT_DETACH), "umount old root")
    os.rmdir("/.old")
    mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    mount(None, "/", None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)
    _check(_libc.sethostname(b"sandbox", 7), "sethostname")
    os.chdir(plan["scratch"])


def set_limits(limits: dict[str, Any]) -> None:
    """CPU (backstop), address space (above what the zygote maps), file size, processes, files, core."""
    with open("/proc/self/statm") as statm:
        mapped = int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    # The zygote stops the check at its CPU limit; this is the backstop for each process, a second
    # later. Soft = hard: SIGKILL, never a SIGXCPU the code could ignore to run on.
    cpu = max(1, int(limits["cpu_s"] + 0.999)) + 1
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
    address_space = mapped + limits["memory_bytes"]
    resource.setrlimit(resource.RLIMIT_AS, (address_space, address_space))
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits["file_bytes"], limits["file_bytes"]))
    resource.setrlimit(resource.RLIMIT_NPROC, (limits["nproc"], limits["nproc"]))
    resource.setrlimit(resource.RLIMIT_NOFILE, (limits["nofile"], limits["nofile"]))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def drop_privileges(uid: int) -> None:
    """Become ``uid``/``uid`` with no groups, no capabilities and no way to gain any."""
    cap = 0
    while _libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) == 0:
        cap += 1
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)
    _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
    if os.getuid() != uid or os.geteuid() != uid:
        raise OSError("the uid did not change")


def new_session_keyring() -> None:
    """Join a new, empty, anonymous session keyring."""
    key = _libc.syscall(_SYS_KEYCTL[platform.machine()], KEYCTL_JOIN_SESSION_KEYRING, None)
    if key < 0:
        _check(-1, "join a new session keyring")


def die_with_parent() -> None:
    _check(_libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "pdeathsig")


def capabilities() -> int:
    """The effective capability mask of this process."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("CapEff:"):
                return int(line.split()[1], 16)
    return -1
