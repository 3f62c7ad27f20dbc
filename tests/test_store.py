"""The run directory's files (evalkit/store.py): every file a run writes has the same mode."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from evalkit.store import RunStore, write_bytes_atomic, write_json_atomic, write_text_atomic


@pytest.fixture(params=[0o022, 0o027, 0o077], ids=lambda mask: f"umask-{mask:03o}")
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    old = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_whole_files_get_the_journals_mode(tmp_path: Path, umask: int) -> None:
    store = RunStore.create(tmp_path / "runs", "scripted:t", "mini", {"model": "scripted:t"})
    try:
        store.event("run_start", model="scripted:t")
        store.write_results({"parts": []})
        write_text_atomic(store.path / "report.html", "<!DOCTYPE html>")
        write_bytes_atomic(store.path / "report.pdf", b"%PDF-1.5")
        write_json_atomic(store.path / "results.json", {"parts": [], "again": True})  # replaced in place
    finally:
        store.close()
    modes = {p.name: _mode(p) for p in store.path.iterdir()}
    assert set(modes) == {".lock", "journal.jsonl", "run.json", "results.json", "report.html", "report.pdf"}
    assert set(modes.values()) == {0o644 & ~umask}, modes  # 644 less the umask, as the journal is
