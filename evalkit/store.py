"""The run directory: ``runs/<UTC timestamp>-<model>-<suite>/``.

- ``run.json``: configuration, model, package versions, content hash of the problem set.
- ``journal.jsonl``: append-only, one event per line (message, check, hint, part result...),
  flushed and fsynced as it happens, so a crash loses at most the line being written.
- ``results.json``: per question and part, the verdicts, attempts, hints, points and tokens.

Whole files are written atomically (temporary file, fsync, rename).
"""

from __future__ import annotations

import functools
import importlib.metadata
import json
import os
import platform
import re
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from evalkit.errors import StoreError

__all__ = ["RunDir", "RunStore", "list_runs", "open_run", "package_versions", "write_json_atomic"]

JOURNAL = "journal.jsonl"
RUN_JSON = "run.json"
RESULTS = "results.json"


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON to ``path`` so that readers see the old file or the new one, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=2, ensure_ascii=False)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@functools.cache
def package_versions() -> dict[str, str]:
    """Python's and the relevant packages' versions, recorded in every ``run.json``."""
    out = {"python": platform.python_version()}
    for pkg in ("evalkit", "anthropic", "openai", "pydantic", "sympy", "torch", "jinja2"):
        try:
            out[pkg] = importlib.metadata.version(pkg)
        except importlib.metadata.PackageNotFoundError:
            pass
    return out


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.]+", "-", text).strip("-")[:60] or "run"


_KEYS: dict[str, tuple[str, ...]] = {
    "message": ("conv", "index"),
    "check": ("conv", "part", "attempt"),
    "hint": ("conv", "number"),
    "conversation_start": ("conv",),
    "part_result": ("conv", "part"),
    "conversation_end": ("conv",),
}


# Events fsynced as they are written: a model's reply costs money and time to get again.
# Everything else is flushed (it survives a crash of evalkit) and is re-derived on resume
# if a power loss takes it.
_DURABLE = frozenset({"message", "batch_submitted", "run_end"})


def event_key(event: dict[str, Any]) -> tuple[Any, ...] | None:
    """The identity of a conversation event (None for run-level events such as run_start)."""
    fields = _KEYS.get(event.get("type", ""))
    if fields is None:
        return None
    return (event["type"], *(event.get(f) for f in fields))


class RunStore:
    """A run directory being written; the journal is the single source of truth.

    A resumed run re-executes its conversations against the stored replies;
    events already in the journal are not written twice, so a resumed journal
    reads like an uninterrupted one.
    """

    def __init__(self, path: Path, existing: set[tuple[Any, ...]] | None = None, seq: int = 0) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._seq = seq
        self._existing = existing or set()
        self._journal = open(path / JOURNAL, "a", encoding="utf-8")

    @classmethod
    def reopen(cls, path: Path) -> tuple[RunStore, list[dict[str, Any]]]:
        """Open a run directory to continue it: drop a torn last line, return the stored events."""
        journal = path / JOURNAL
        if journal.exists():
            data = journal.read_bytes()
            if data and not data.endswith(b"\n"):
                cut = data.rfind(b"\n") + 1
                with open(journal, "r+b") as f:
                    f.truncate(cut)
                    f.flush()
                    os.fsync(f.fileno())
        events = list(RunDir(path, {}, None).journal())
        keys = {k for k in (event_key(e) for e in events) if k is not None}
        seq = max((int(e.get("seq", 0)) for e in events), default=0)
        return cls(path, keys, seq), events

    @classmethod
    def create(cls, runs_dir: Path, model: str, suite: str, config: dict[str, Any]) -> RunStore:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        base = f"{stamp}-{_slug(model)}-{_slug(suite)}"
        runs_dir.mkdir(parents=True, exist_ok=True)
        for n in range(1000):
            path = runs_dir / (base if n == 0 else f"{base}-{n}")
            try:
                path.mkdir()
                break
            except FileExistsError:
                continue
        else:  # pragma: no cover
            raise StoreError(f"could not create a run directory under {runs_dir}")
        write_json_atomic(path / RUN_JSON, config)
        return cls(path)

    def event(self, type: str, **data: Any) -> None:
        key = event_key({"type": type, **data})
        with self._lock:
            if key is not None:
                if key in self._existing:
                    return
                self._existing.add(key)
            self._seq += 1
            record = {"seq": self._seq, "ts": round(time.time(), 3), "type": type, **data}
            self._journal.write(json.dumps(record, ensure_ascii=False) + "\n")
            self._journal.flush()
            if type in _DURABLE:
                os.fsync(self._journal.fileno())

    def write_results(self, results: dict[str, Any]) -> None:
        write_json_atomic(self.path / RESULTS, results)

    def close(self) -> None:
        with self._lock:
            self._journal.close()


@dataclass(frozen=True)
class RunDir:
    """A run directory on disk, read back."""

    path: Path
    config: dict[str, Any]
    results: dict[str, Any] | None

    @property
    def id(self) -> str:
        return self.path.name

    def journal(self) -> Iterator[dict[str, Any]]:
        path = self.path / JOURNAL
        if not path.exists():
            return
        with open(path, encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    yield json.loads(line)
                except json.JSONDecodeError:
                    if not line.endswith("\n"):  # a torn last line from a crash: the event was never done
                        return
                    raise StoreError(f"{path}:{n}: corrupt journal line; the run cannot be read") from None


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise StoreError(f"{path}: missing; is this a run directory written by 'evalkit run'?") from None
    except json.JSONDecodeError as err:
        raise StoreError(f"{path}:{err.lineno}: not valid JSON ({err.msg})") from None


def open_run(ref: str | Path, runs_dir: Path | None = None) -> RunDir:
    """A run by path, by directory name under ``runs_dir``, or ``latest``."""
    candidates: list[Path] = []
    ref_path = Path(ref)
    if ref_path.is_dir():
        candidates.append(ref_path)
    elif runs_dir is not None:
        if str(ref) == "latest":
            runs = list_runs(runs_dir)
            if not runs:
                raise StoreError(f"no runs in {runs_dir}; start one with 'evalkit run'")
            candidates.append(runs[-1])
        else:
            name = str(ref)
            if "/" in name or "\\" in name or any(c in name for c in "*?["):
                matches = []  # a path that does not exist, not a run name
            else:
                matches = sorted(p for p in runs_dir.glob(f"{name}*") if p.is_dir())
            if len(matches) > 1:
                raise StoreError(f"{ref!r} matches {len(matches)} runs in {runs_dir}; give more of the name")
            candidates.extend(matches)
    if not candidates:
        raise StoreError(f"run {str(ref)!r} not found (looked in {runs_dir}); 'evalkit runs' lists them")
    path = candidates[0]
    config = _read_json(path / RUN_JSON)
    results = _read_json(path / RESULTS) if (path / RESULTS).exists() else None
    return RunDir(path, config, results)


def list_runs(runs_dir: Path) -> list[Path]:
    """Run directories under ``runs_dir``, oldest first."""
    if not runs_dir.is_dir():
        return []
    return sorted(p for p in runs_dir.iterdir() if p.is_dir() and (p / RUN_JSON).exists())
