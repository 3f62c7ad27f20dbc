"""A seccomp filter for the sandboxed child: kernel interfaces no check needs answer ``EPERM``.

Stdlib only (ctypes): the zygote imports it as a top-level module. The filter
is a classic BPF program assembled here and installed with ``seccomp(2)``
after the child has built its namespaces and dropped its privileges, just
before the model's code runs. It is a deny-list of interfaces that widen what
an unprivileged process can reach:

- new namespaces, above all user namespaces, where a process is root again and
  can mount an uncapped tmpfs (``unshare``, ``setns``, ``clone`` with a
  ``CLONE_NEW*`` flag; ``clone3`` answers ``ENOSYS``, since its flags sit
  behind a pointer the filter cannot read, and libc then falls back to
  ``clone``);
- mounting and the new mount API, ``pivot_root``, ``chroot``;
- the kernel keyrings (``keyctl``, ``add_key``, ``request_key``);
- ``io_uring``, ``userfaultfd``, ``bpf``, ``perf_event_open``;
- reaching other processes (``ptrace``, ``process_vm_readv``/``writev``,
  ``kcmp``, ``pidfd_getfd``);
- kexec, kernel modules, swap, reboot, accounting, quotas, clocks, file
  handles, the kernel log and x86 port I/O.

Any other architecture than the one the filter was built for (a 32-bit
syscall from a 64-bit process, or x32) kills the process.
"""

from __future__ import annotations

import ctypes
import errno
import platform
import struct

__all__ = ["DENIED", "build_filter", "install"]

DENIED = (
    "unshare setns mount umount2 pivot_root chroot open_tree move_mount fsopen fsconfig fsmount fspick "
    "mount_setattr keyctl add_key request_key io_uring_setup io_uring_enter io_uring_register userfaultfd "
    "bpf perf_event_open ptrace process_vm_readv process_vm_writev kcmp pidfd_getfd kexec_load "
    "kexec_file_load init_module finit_module delete_module swapon swapoff reboot acct quotactl "
    "quotactl_fd name_to_handle_at open_by_handle_at lookup_dcookie syslog fanotify_init vhangup "
    "settimeofday clock_settime adjtimex clock_adjtime iopl ioperm modify_ldt uselib"
).split()

# Syscall numbers (x86_64: asm/unistd_64.h; aarch64: asm-generic/unistd.h). tests/sandbox checks them
# against the kernel headers where those are installed.
_X86_64 = {
    "unshare": 272, "setns": 308, "mount": 165, "umount2": 166, "pivot_root": 155, "chroot": 161,
    "open_tree": 428, "move_mount": 429, "fsopen": 430, "fsconfig": 431, "fsmount": 432, "fspick": 433,
    "mount_setattr": 442, "keyctl": 250, "add_key": 248, "request_key": 249, "io_uring_setup": 425,
    "io_uring_enter": 426, "io_uring_register": 427, "userfaultfd": 323, "bpf": 321,
    "perf_event_open": 298, "ptrace": 101, "process_vm_readv": 310, "process_vm_writev": 311,
    "kcmp": 312, "pidfd_getfd": 438, "kexec_load": 246, "kexec_file_load": 320, "init_module": 175,
    "finit_module": 313, "delete_module": 176, "swapon": 167, "swapoff": 168, "reboot": 169, "acct": 163,
    "quotactl": 179, "quotactl_fd": 443, "name_to_handle_at": 303, "open_by_handle_at": 304,
    "lookup_dcookie": 212, "syslog": 103, "fanotify_init": 300, "vhangup": 153, "settimeofday": 164,
    "clock_settime": 227, "adjtimex": 159, "clock_adjtime": 305, "iopl": 172, "ioperm": 173,
    "modify_ldt": 154, "uselib": 134, "clone": 56, "clone3": 435,
}  # fmt: skip
_AARCH64 = {
    "unshare": 97, "setns": 268, "mount": 40, "umount2": 39, "pivot_root": 41, "chroot": 51,
    "open_tree": 428, "move_mount": 429, "fsopen": 430, "fsconfig": 431, "fsmount": 432, "fspick": 433,
    "mount_setattr": 442, "keyctl": 219, "add_key": 217, "request_key": 218, "io_uring_setup": 425,
    "io_uring_enter": 426, "io_uring_register": 427, "userfaultfd": 282, "bpf": 280,
    "perf_event_open": 241, "ptrace": 117, "process_vm_readv": 270, "process_vm_writev": 271,
    "kcmp": 272, "pidfd_getfd": 438, "kexec_load": 104, "kexec_file_load": 294, "init_module": 105,
    "finit_module": 273, "delete_module": 106, "swapon": 224, "swapoff": 225, "reboot": 142, "acct": 89,
    "quotactl": 60, "quotactl_fd": 443, "name_to_handle_at": 264, "open_by_handle_at": 265,
    "lookup_dcookie": 18, "syslog": 116, "fanotify_init": 262, "vhangup": 58, "settimeofday": 170,
    "clock_settime": 112, "adjtimex": 171, "clock_adjtime": 266, "clone": 220, "clone3": 435,
}  # fmt: skip
# audit architecture, syscall table, the lowest number that is not this ABI's (x32 sets bit 30)
ARCHES = {
    "x86_64": (0xC000003E, _X86_64, 0x40000000),
    "aarch64": (0xC00000B7, _AARCH64, None),
}
CLONE_NEW_FLAGS = 0x7E020000  # CLONE_NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET

# classic BPF
_LD_W_ABS, _JEQ, _JGE, _JSET, _RET = 0x20, 0x15, 0x35, 0x45, 0x06
_RET_KILL_PROCESS, _RET_ALLOW, _RET_ERRNO = 0x80000000, 0x7FFF0000, 0x00050000
_OFF_NR, _OFF_ARCH, _OFF_ARG0_LOW = 0, 4, 16  # struct seccomp_data, little-endian
SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC = 1, 1
_SYS_SECCOMP = {"x86_64": 317, "aarch64": 277}


def _insn(code: int, k: int, jt: int = 0, jf: int = 0) -> bytes:
    return struct.pack("=HBBI", code, jt, jf, k)


def build_filter(machine: str | None = None) -> bytes:
    """The filter program (``struct sock_filter[]``) for ``machine`` (default: this one)."""
    machine = machine or platform.machine()
    if machine not in ARCHES:
        raise OSError(errno.ENOSYS, f"no seccomp filter for the {machine} architecture")
    audit_arch, numbers, foreign = ARCHES[machine]
    denied = [numbers[name] for name in DENIED if name in numbers]
    # Layout: arch check, then one test per denied number jumping forward to the shared EPERM return.
    head = [
        _insn(_LD_W_ABS, _OFF_ARCH),
        _insn(_JEQ, audit_arch, jt=1),
        _insn(_RET, _RET_KILL_PROCESS),
        _insn(_LD_W_ABS, _OFF_NR),
    ]
    tests: list[tuple[int, int, str]] = []  # (opcode, k, target) with target "eperm" | "enosys" | "clone"
    if foreign is not None:
        tests.append((_JGE, foreign, "kill"))
    tests += [(_JEQ, n, "eperm") for n in denied]
    tests += [(_JEQ, numbers["clone3"], "enosys"), (_JEQ, numbers["clone"], "clone")]
    # after the tests: allow, then the targets in this order
    targets = ["allow", "kill", "eperm", "enosys", "clone"]
    tail = {
        "allow": [_insn(_RET, _RET_ALLOW)],
        "kill": [_insn(_RET, _RET_KILL_PROCESS)],
        "eperm": [_insn(_RET, _RET_ERRNO | errno.EPERM)],
        "enosys": [_insn(_RET, _RET_ERRNO | errno.ENOSYS)],
        "clone": [
            _insn(_LD_W_ABS, _OFF_ARG0_LOW),
            _insn(_JSET, CLONE_NEW_FLAGS, jt=1),
            _insn(_RET, _RET_ALLOW),
            _insn(_RET, _RET_ERRNO | errno.EPERM),
        ],
    }
    start: dict[str, int] = {}
    position = len(tests)
    for name in targets:
        start[name] = position
        position += len(tail[name])
    body = []
    for i, (op, k, target) in enumerate(tests):
        jump = start[target] - i - 1  # from the instruction after this one
        if jump > 255:
            raise ValueError("seccomp filter too long for classic BPF jumps")
        body.append(_insn(op, k, jt=jump))
    return b"".join(head + body + [insn for name in targets for insn in tail[name]])


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def install() -> None:
    """Install the filter on this process (needs ``no_new_privs`` or CAP_SYS_ADMIN); OSError if refused."""
    program = build_filter()
    buffer = ctypes.create_string_buffer(program, len(program))
    fprog = _SockFprog(len(program) // 8, ctypes.addressof(buffer))
    libc = ctypes.CDLL(None, use_errno=True)
    result = libc.syscall(
        _SYS_SECCOMP[platform.machine()],
        SECCOMP_SET_MODE_FILTER,
        SECCOMP_FILTER_FLAG_TSYNC,
        ctypes.byref(fprog),
    )
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"seccomp: {errno.errorcode.get(err, err)}")
