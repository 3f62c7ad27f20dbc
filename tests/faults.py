"""Filesystem faults for tests: a small filesystem of their own, full or read-only.

Mounting needs root (as the sandbox tests do); without it the test is skipped.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


@contextmanager
def small_disk(path: Path, size: int = 4 << 20, read_only: bool = False) -> Iterator[Path]:
    """A tmpfs of ``size`` bytes mounted at ``path`` for the duration."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a small filesystem needs root")
    path.mkdir(parents=True, exist_ok=True)
    options = f"size={size},mode=755" + (",ro" if read_only else "")
    subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], check=True)
    try:
        yield path
    finally:
        subprocess.run(["umount", "--lazy", str(path)], check=False)


def fill(directory: Path, leave: int = 0) -> None:
    """Take the free space of ``directory``'s filesystem, all but about ``leave`` bytes."""
    stats = os.statvfs(directory)
    free = stats.f_bavail * stats.f_frsize - leave
    fd = os.open(directory / ".filler", os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        chunk = b"\0" * (1 << 16)
        while free > 0:
            try:
                free -= os.write(fd, chunk[: min(len(chunk), free)])
            except OSError:
                break
    finally:
        os.close(fd)
