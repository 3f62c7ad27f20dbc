"""Each isolation layer, observed from inside the sandbox."""

from __future__ import annotations

import json
import os
import socket
import sys
from pathlib import Path

import pytest
import torch

import evalkit
from evalkit.sandbox import Call, Job, Limits, SandboxPool

REPO = Path(evalkit.__file__).resolve().parent.parent
PROBE = r"""
import json, os, socket, sys

def probe(x):
    facts = {"uid": os.getuid(), "gid": os.getgid(), "groups": os.getgroups(), "pid": os.getpid(),
             "ppid": os.getppid(), "cwd": os.getcwd(), "root": sorted(os.listdir("/")),
             "env": dict(os.environ), "evalkit_modules": sorted(m for m in sys.modules if "evalkit" in m),
             "procs": sorted(p for p in os.listdir("/proc") if p.isdigit())}
    with open("/proc/self/status") as status:
        facts["caps"] = [l.split()[1] for l in status if l.startswith(("CapEff", "CapPrm", "CapBnd"))]
    try:
        open("/usr/evil", "w")
        facts["root_writable"] = True
    except OSError as err:
        facts["root_writable"] = err.strerror
    try:
        import evalkit.reference
        facts["evalkit_import"] = "imported"
    except Exception as err:
        facts["evalkit_import"] = type(err).__name__
    try:
        socket.create_connection(("127.0.0.1", PORT), timeout=1)
        facts["net"] = "connected"
    except OSError as err:
        facts["net"] = err.strerror
    facts["repo"] = sorted(os.listdir(REPO)) if os.path.isdir(REPO) else None
    facts["no_new_privs"] = [l.split()[1] for l in open("/proc/self/status") if l.startswith("NoNewPrivs")]
    facts["seccomp"] = [l.split()[1] for l in open("/proc/self/status") if l.startswith("Seccomp:")]
    facts["keys"] = open("/proc/keys").read()
    raise RuntimeError(json.dumps(facts))
"""


@pytest.fixture(scope="module")
def facts(pool: SandboxPool) -> dict:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.setblocking(False)
    port = listener.getsockname()[1]
    source = PROBE.replace("PORT", str(port)).replace("REPO", repr(str(REPO)))
    outcome = pool.run(Job(source, (Call("probe", (torch.zeros(1),)),)))
    with pytest.raises(BlockingIOError):
        listener.accept()  # nothing reached the host's loopback
    listener.close()
    error = outcome.calls[0].error
    assert error is not None and error.type == "RuntimeError", outcome
    return json.loads(error.message)


def test_runs_as_an_unprivileged_uid_without_capabilities(facts: dict, pool: SandboxPool) -> None:
    assert facts["uid"] in pool.uids and facts["gid"] == facts["uid"]
    assert facts["groups"] == []
    assert facts["caps"] == ["0000000000000000"] * 3
    assert facts["no_new_privs"] == ["1"]


def test_runs_under_a_seccomp_filter_with_a_keyring_of_its_own(facts: dict) -> None:
    assert facts["seccomp"] == ["2"]  # SECCOMP_MODE_FILTER
    keys = [line.split(None, 8)[8] for line in facts["keys"].splitlines()]
    assert keys == ["_ses: empty"]  # its own empty session keyring: not evalkit's, not an earlier check's


def test_is_alone_in_a_pid_namespace(facts: dict) -> None:
    assert facts["pid"] == 1 and facts["ppid"] == 0
    assert facts["procs"] == ["1"]


def test_sees_a_minimal_read_only_root_without_the_repo(facts: dict) -> None:
    assert facts["repo"] in (None, [".venv"])  # at most the interpreter prefix that lives in the repo
    assert facts["evalkit_import"] in ("ModuleNotFoundError", "FileNotFoundError")
    assert facts["evalkit_modules"] in ([], ["__editable___evalkit_0_1_0_finder"])
    assert facts["root_writable"] == "Read-only file system"
    prefixes = {os.path.realpath(p) for p in (sys.prefix, sys.base_prefix)} | {sys.prefix, sys.base_prefix}
    under_tmp = any(p == "/tmp" or p.startswith("/tmp/") for p in prefixes)
    assert facts["cwd"] == ("/scratch" if under_tmp else "/tmp")  # the size-capped tmpfs, never the host


def test_environment_is_fixed_and_has_no_secrets(facts: dict) -> None:
    assert set(facts["env"]) == {"PATH", "LANG", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "HOME", "TMPDIR"}


def test_has_no_network(facts: dict) -> None:
    assert facts["net"] == "Network is unreachable"


def test_scratch_directory_is_size_capped(pool: SandboxPool) -> None:
    source = (
        "def fill(x):\n    written = 0\n    try:\n        with open('big', 'wb') as f:\n"
        "            while True:\n                f.write(b'x' * 65536)\n                f.flush()\n"
        "                written += 65536\n    except OSError as err:\n        raise RuntimeError(f'{written} {err.strerror}')\n"
    )
    limits = Limits(file_bytes=64 << 20, scratch_bytes=4 << 20)
    outcome = pool.run(Job(source, (Call("fill", (torch.zeros(1),)),), limits))
    error = outcome.calls[0].error
    assert error is not None
    written, reason = error.message.split(" ", 1)
    assert int(written) <= 4 << 20 and reason == "No space left on device"


def test_outputs_and_gradients_come_back_as_data(pool: SandboxPool) -> None:
    source = "def f(a, b):\n    return a * b, a + b\n"
    a, b, cot1, cot2 = torch.randn(3), torch.randn(3), torch.randn(3), torch.randn(3)
    outcome = pool.run(Job(source, (Call("f", (a, b), grad_of=(0, 1), cotangents=(cot1, cot2)),)))
    call = outcome.calls[0]
    torch.testing.assert_close(call.outputs[0], a * b)
    torch.testing.assert_close(call.grads[0], cot1 * b + cot2)
    torch.testing.assert_close(call.grads[1], cot1 * a + cot2)
    assert json.dumps(outcome.termination) == '"exited"'


LEAVE = r"""
import torch

def leave(x):
    # SOURCE-MARK-c0ffee01: in the first job's program text
    print("STDOUT-MARK-c0ffee02")
    return torch.full((512,), 1234.5678, dtype=torch.float64)
"""
LOOK = r"""
import ctypes, re, struct, torch

def look(x):
    # needles that do not match themselves: what this job holds of them is not a find
    texts = {"code": re.compile(rb"SOURCE-MARK-[0-9a-f]{8}"), "stdout": re.compile(rb"STDOUT-MARK-[0-9a-f]{8}")}
    numbers = {"output": 1234.5678, "input": 8765.4321}  # a run of 64 of them is a find
    bits = {name: struct.unpack("<q", struct.pack("<d", v))[0] for name, v in numbers.items()}
    found = set()
    for line in open("/proc/self/maps").read().splitlines():
        fields = line.split()
        lo, hi = (int(n, 16) for n in fields[0].split("-"))
        if not fields[1].startswith("rw") or fields[5:] not in ([], ["[heap]"]) or hi - lo > 64 << 20:
            continue
        data = ctypes.string_at(lo, hi - lo)
        found |= {name for name, pattern in texts.items() if pattern.search(data)}
        raw = torch.frombuffer(bytearray(data), dtype=torch.uint8)
        for shift in range(8):
            words = raw[shift : shift + (len(raw) - shift) // 8 * 8].clone().view(torch.int64)
            found |= {name for name, b in bits.items() if int((words == b).sum()) >= 64}
    raise RuntimeError(repr(sorted(found)))
"""


def test_a_check_finds_nothing_of_an_earlier_check_in_its_memory() -> None:
    """The same worker runs one job, then another that searches its whole heap for the first's data."""
    secret_input = torch.full((512,), 8765.4321, dtype=torch.float64)
    with SandboxPool.start(workers=1) as pool:
        first = pool.run(Job(LEAVE, (Call("leave", (secret_input,)),)))
        assert first.output == "STDOUT-MARK-c0ffee02\n" and first.calls[0].outputs[0][0] == 1234.5678
        second = pool.run(Job(LOOK, (Call("look", (torch.zeros(1),)),)))
    error = second.calls[0].error
    assert error is not None and error.type == "RuntimeError", second
    assert error.message == "[]"
