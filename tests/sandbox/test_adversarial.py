"""Hostile answers: the harness survives, the verdict is incorrect or unscored, the host is untouched."""

from __future__ import annotations

import ctypes
import hashlib
import json
import os
import re
import resource
import socket
import string
import textwrap
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml

import evalkit.reference.attention
from evalkit.checks.base import Answer, CheckContext, CheckResult
from evalkit.checks.code import CodeChecker, CodeParams
from evalkit.sandbox import SandboxPool
from evalkit.spec.models import Problem
from tests.sandbox.conftest import sandbox_processes

CASES = yaml.safe_load((Path(__file__).with_name("adversarial.yaml")).read_text())
FAKE_KEY = "planted-test-key-not-a-secret-evalkit-sandbox-0123456789"
PLANTED_KEY = "evalkit-test-planted-key"
HONEST = "return torch.softmax(Q @ K.transpose(-2, -1) / Q.shape[-1] ** 0.5, dim=-1) @ V"
REFERENCE_DIR = Path(evalkit.reference.attention.__file__).resolve().parent
REPO = REFERENCE_DIR.parent.parent
PARAMS = CodeParams(
    mode="program",
    reference="sdpa",
    cases=[{"inputs": {"Q": [2, 3, 4], "K": [2, 5, 4], "V": [2, 5, 6]}}],
    seeds=[0],
    time_limit_s=1.0,
)
PROBLEM = Problem(id="q1", title="attention", parts=[{"id": "a", "prompt": "Implement attention."}])


def _answer(body: str, **values: object) -> str:
    code = textwrap.indent(string.Template(body).substitute(**values).rstrip() + "\n", "    ")
    imports = "import ctypes, os, shutil, socket, sys, time\nimport torch\n\n"
    return f"Here is my implementation:\n\n```python\n{imports}def scaled_dot_product_attention(Q, K, V, mask=None):\n{code}```\n"


def _digest(directory: Path) -> str:
    hasher = hashlib.sha256()
    for path in sorted(directory.rglob("*.py")):
        hasher.update(path.name.encode() + path.read_bytes())
    return hasher.hexdigest()


def _plant_session_key() -> None:
    """Give this process a session keyring of its own holding the fake key (what a keyring-using parent has)."""
    libc = ctypes.CDLL(None, use_errno=True)
    assert libc.syscall(250, 1, None) >= 0, "KEYCTL_JOIN_SESSION_KEYRING"
    payload = FAKE_KEY.encode()
    assert libc.syscall(248, b"user", PLANTED_KEY.encode(), payload, len(payload), -3) >= 0, "add_key"


@pytest.fixture(scope="module")
def hostile_pool() -> Iterator[SandboxPool]:
    """A pool started while the parent's environment and session keyring hold a (fake) API key."""
    _plant_session_key()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ANTHROPIC_API_KEY", FAKE_KEY)
        with SandboxPool.start(workers=2) as started:
            yield started


@pytest.fixture()
def listener() -> Iterator[socket.socket]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    sock.setblocking(False)
    yield sock
    sock.close()


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_hostile_answer_is_contained(
    case: dict,
    hostile_pool: SandboxPool,
    tmp_path: Path,
    listener: socket.socket,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    canary_dir = tmp_path / "parent-cwd"
    canary_dir.mkdir()
    canary_file = canary_dir / "keep.txt"
    canary_file.write_text("precious")
    monkeypatch.chdir(canary_dir)
    monkeypatch.setenv("ANTHROPIC_API_KEY", FAKE_KEY)
    reference_before = _digest(REFERENCE_DIR)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    values = {
        "canary_dir": canary_dir,
        "canary_file": canary_file,
        "ref_path": evalkit.reference.attention.__file__,
        "parent_pid": os.getpid(),
        "port": listener.getsockname()[1],
        "repo": REPO,
        "planted_key": PLANTED_KEY,
    }
    text = _answer(case["body"], **values)
    control = _answer(case.get("control", HONEST), **values)
    limit = float(case.get("time_limit_s", 1.0))
    ctx = CheckContext(problem=PROBLEM, part=PROBLEM.parts[0], sandbox=hostile_pool, time_limit_s=limit)
    params = PARAMS.model_copy(update={"time_limit_s": limit})

    def check(answer: str) -> CheckResult:
        return CodeChecker().check(params, Answer(answer), ctx)

    if case.get("control_first"):  # once on every worker: the pool hands out workers in turn
        controls = [check(control) for _ in range(hostile_pool.workers)]
        result = check(text)
    else:
        with ThreadPoolExecutor(max_workers=2) as beside:
            attack = beside.submit(check, text)
            controls = [beside.submit(check, control).result()]
            result = attack.result()

    assert [c.status for c in controls] == ["correct"] * len(controls), [c.explanation for c in controls]
    assert result.status in ("incorrect", "unscored"), result
    assert result.status == case.get("status", result.status), result
    assert re.search(case["explains"], result.explanation), result.explanation
    assert FAKE_KEY not in json.dumps(result.to_json())
    assert canary_file.read_text() == "precious" and sorted(os.listdir(canary_dir)) == ["keep.txt"]
    assert _digest(REFERENCE_DIR) == reference_before
    with pytest.raises(BlockingIOError):
        listener.accept()
    assert sandbox_processes(hostile_pool) == []
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before < 200_000  # KiB: output was capped
    assert not list(Path(os.sep, "tmp").glob("evalkit-sandbox-*/*"))  # mount points stay empty on the host


def test_pool_still_grades_correctly_after_the_hostile_answers(hostile_pool: SandboxPool) -> None:
    honest = _answer(HONEST)
    ctx = CheckContext(problem=PROBLEM, part=PROBLEM.parts[0], sandbox=hostile_pool, time_limit_s=1.0)
    result = CodeChecker().check(PARAMS, Answer(honest), ctx)
    assert result.status == "correct", result.explanation
