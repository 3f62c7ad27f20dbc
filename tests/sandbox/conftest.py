"""A sandbox pool shared by the sandbox tests, and helpers to run snippets in it."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest

from evalkit.sandbox import SandboxPool


@pytest.fixture(scope="session")
def pool() -> Iterator[SandboxPool]:
    if os.geteuid() != 0 and shutil.which("bwrap") is None:
        pytest.skip("needs root (namespaces) or bubblewrap")
    with SandboxPool.start(workers=2) as started:
        yield started


def sandbox_processes(pool: SandboxPool) -> list[int]:
    """Host pids running as one of ``pool``'s uids (there must be none between checks)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status") as status:
                uid = next(int(line.split()[1]) for line in status if line.startswith("Uid:"))
        except (OSError, StopIteration):
            continue
        if uid in pool.uids:
            found.append(int(entry))
    return found
