"""The seccomp filter: its syscall numbers, and what it does to a process that installs it."""

from __future__ import annotations

import ctypes
import errno
import json
import os
import re
import sys
import threading
from pathlib import Path

import pytest

from evalkit.sandbox import _seccomp

HEADERS = {
    "x86_64": Path("/usr/include/x86_64-linux-gnu/asm/unistd_64.h"),
    "aarch64": Path("/usr/include/asm-generic/unistd.h"),
}


@pytest.mark.parametrize("machine", sorted(_seccomp.ARCHES))
def test_syscall_numbers_match_the_kernel_headers(machine: str) -> None:
    header = HEADERS[machine]
    if not header.exists():
        pytest.skip(f"{header} is not installed")
    defined = {
        name: int(number)
        for name, number in re.findall(r"#define __NR(?:3264)?_(\w+)\s+(\d+)\b", header.read_text())
    }
    _, numbers, _ = _seccomp.ARCHES[machine]
    assert {name: defined.get(name) for name in numbers} == numbers
    missing = [n for n in _seccomp.DENIED if n not in numbers]
    assert missing == ([] if machine == "x86_64" else ["iopl", "ioperm", "modify_ldt", "uselib"])


def test_the_filter_fits_classic_bpf() -> None:
    for machine in _seccomp.ARCHES:
        program = _seccomp.build_filter(machine)
        assert len(program) % 8 == 0 and len(program) // 8 < 4096
    with pytest.raises(OSError, match="no seccomp filter for the sparc"):
        _seccomp.build_filter("sparc")


PROBE = r"""
import ctypes, errno, os, subprocess, sys, threading
libc = ctypes.CDLL(None, use_errno=True)
def result(*args):
    r = libc.syscall(*args)
    return "ok" if r >= 0 else errno.errorcode[ctypes.get_errno()]
out = {
    "unshare(CLONE_NEWUSER)": result(272, 0x10000000),
    "clone(CLONE_NEWNET)": result(56, 0x40000000 | 17, 0, 0, 0, 0),
    "clone3": result(435, 0, 0),
    "keyctl": result(250, 0, -3, 0),
    "io_uring_setup": result(425, 4, ctypes.create_string_buffer(120)),
    "mount": result(165, b"none", b"/tmp", b"tmpfs", 0, None),
}
seen = []
thread = threading.Thread(target=lambda: seen.append("thread"))
thread.start(); thread.join()
child = os.fork()
if child == 0:
    os._exit(7)
out["fork"] = os.waitpid(child, 0)[1] >> 8
out["thread"] = seen
out["subprocess"] = subprocess.run([sys.executable, "-c", "print('hi')"], capture_output=True).stdout.decode()
"""


@pytest.mark.skipif(sys.platform != "linux", reason="seccomp is Linux's")
def test_denied_calls_fail_with_eperm_and_the_rest_still_work() -> None:
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            assert ctypes.CDLL(None, use_errno=True).prctl(38, 1, 0, 0, 0) == 0  # no_new_privs
            _seccomp.install()
            namespace: dict = {}
            exec(compile(PROBE, "probe", "exec"), namespace)
            os.write(write, json.dumps(namespace["out"]).encode())
        finally:
            os._exit(0)
    os.close(write)
    output = b""
    while chunk := os.read(read, 4096):
        output += chunk
    os.close(read)
    assert os.waitpid(pid, 0)[1] == 0
    facts = json.loads(output)
    assert facts == {
        "unshare(CLONE_NEWUSER)": "EPERM",
        "clone(CLONE_NEWNET)": "EPERM",
        "clone3": "ENOSYS",  # libc then falls back to clone, which the filter reads
        "keyctl": "EPERM",
        "io_uring_setup": "EPERM",
        "mount": "EPERM",
        "fork": 7,
        "thread": ["thread"],
        "subprocess": "hi\n",
    }


def test_a_thread_running_at_install_is_filtered_too() -> None:
    """TSYNC: the filter covers every thread of the process, not only the one that installed it."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        libc = ctypes.CDLL(None, use_errno=True)
        go, done = threading.Event(), []
        worker = threading.Thread(
            target=lambda: (go.wait(), done.append(libc.syscall(250, 0, -3, 0) < 0 and ctypes.get_errno()))
        )
        worker.start()
        libc.prctl(38, 1, 0, 0, 0)
        _seccomp.install()
        go.set()
        worker.join()
        os.write(write, str(done[0]).encode())
        os._exit(0)
    os.close(write)
    answer = os.read(read, 64)
    os.close(read)
    os.waitpid(pid, 0)
    assert answer == str(errno.EPERM).encode()
