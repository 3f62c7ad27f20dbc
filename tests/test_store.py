"""The run directory (evalkit/store.py): the files' modes, and the journal's group commit."""

from __future__ import annotations

import errno
import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from evalkit import api
from evalkit.errors import StoreError
from evalkit.models.base import ModelRequest
from evalkit.models.registry import register_provider
from evalkit.models.scripted import ScriptedModel
from evalkit.store import RunStore, conv_id, write_bytes_atomic, write_json_atomic, write_text_atomic
from tests.test_reliability import verdicts
from tests.tutor import TRIO, answer, expected_parts


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


# --- group commit: replies reach the disk before anything more is asked -----------------------------


class _Fsyncs:
    """``os.fsync`` that records, for the journal, how many of its bytes each call put on disk."""

    def __init__(self, fail: OSError | None = None) -> None:
        self.journal_bytes: list[int] = []
        self.fail = fail
        self._real = os.fsync

    def __call__(self, fd: int) -> None:
        is_journal = os.readlink(f"/proc/self/fd/{fd}").endswith("journal.jsonl")
        if is_journal and self.fail is not None:
            raise self.fail
        size = os.fstat(fd).st_size
        self._real(fd)
        if is_journal:
            self.journal_bytes.append(size)


def _replies_before(journal: Path, request: ModelRequest) -> int:
    """The offset just after the last reply ``request`` is built on: its conversation's or its opening's."""
    ours = {request.conv, conv_id(request.sample, None)}
    end = offset = 0
    for line in journal.read_bytes().splitlines(keepends=True):
        offset += len(line)
        event = json.loads(line)
        if event.get("role") == "assistant" and event.get("conv") in ours:
            end = offset
    return end


def _trio(tmp_path: Path, **changes: object) -> api.RunConfig:
    return api.RunConfig(
        model="scripted:t",
        problems=str(TRIO / "problems"),
        rubrics=str(TRIO / "rubrics"),
        runs_dir=str(tmp_path / "runs"),
        cache=False,
        **changes,  # type: ignore[arg-type]
    )


def test_every_reply_is_on_disk_before_the_next_request_goes_out(tmp_path, monkeypatch) -> None:
    fsyncs = _Fsyncs()
    monkeypatch.setattr(os, "fsync", fsyncs)
    unsynced: list[int] = []

    def tutee(request: ModelRequest) -> str:  # runs as the request reaches the provider
        (journal,) = (tmp_path / "runs").glob("*/journal.jsonl")
        on_disk = max(fsyncs.journal_bytes, default=0)
        if _replies_before(journal, request) > on_disk:
            unsynced.append(_replies_before(journal, request) - on_disk)
        return answer(request.messages[-1].content)

    register_provider("scripted", lambda model_id, settings: ScriptedModel(tutee, name="scripted:t"))
    result = api.run(_trio(tmp_path, samples=2))
    assert verdicts(result.to_json()) == expected_parts()
    assert unsynced == [], "a request went out while a reply it is built on could still be lost"
    requests = sum(q["model_calls"] for q in result.to_json()["questions"])
    assert (
        1 <= len(fsyncs.journal_bytes) <= requests + 1
    )  # grouped: never more than one per reply (+ run_end)
    assert (
        fsyncs.journal_bytes[-1] == (result.run_dir / "journal.jsonl").stat().st_size
    )  # all of it, at the end


def test_a_journal_the_disk_cannot_sync_stops_the_run_in_one_line(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(os, "fsync", _Fsyncs(fail=OSError(errno.EIO, os.strerror(errno.EIO))))
    asked: list[str] = []

    def tutee(request: ModelRequest) -> str:
        asked.append(request.turn.kind)
        return answer(request.messages[-1].content)

    register_provider("scripted", lambda model_id, settings: ScriptedModel(tutee, name="scripted:t"))
    with pytest.raises(StoreError, match=r"cannot write the journal .*journal\.jsonl: Input/output error"):
        api.run(_trio(tmp_path))
    assert asked == ["opening"], "nothing is asked on the strength of a reply that may not be on disk"
