"""The run directory: ``runs/<UTC timestamp>-<model>-<suite>/``.

- ``run.json``: configuration, model, package versions, content hash of the problem set.
- ``journal.jsonl``: append-only, one event per line (message, check, hint, part result...),
  written as it happens, so a crash of evalkit loses at most the line being written; replies
  are fsynced (grouped, off the event loop) before anything more is asked of a provider.
- ``results.json``: per question and part, the verdicts, attempts, hints, points and tokens.
- ``.lock``: held (``flock``) by the process writing the run, whose pid it names.

Whole files are written atomically (temporary file, fsync, rename). A journal
line is written with one ``write``; if the disk refuses part of it, the file is
cut back to the last whole line and :class:`~evalkit.errors.StoreError` says
what and where. The journal is read by event identity, not line order: events
are put back in the order of their ``seq`` and an event seen twice counts once.
"""

from __future__ import annotations

import asyncio
import errno
import fcntl
import functools
import importlib.metadata
import json
import os
import platform
import re
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from evalkit.errors import StoreError

__all__ = [
    "RunDir",
    "RunStore",
    "conv_id",
    "list_runs",
    "open_run",
    "package_versions",
    "write_bytes_atomic",
    "write_json_atomic",
    "write_text_atomic",
]

JOURNAL = "journal.jsonl"
RUN_JSON = "run.json"
RESULTS = "results.json"
LOCK = ".lock"


def _why(err: OSError) -> str:
    """What went wrong, and for the usual cases what to do."""
    reason = err.strerror or type(err).__name__
    if err.errno == errno.ENOSPC or err.errno == errno.EDQUOT:
        return f"{reason} (free some space)"
    if err.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return f"{reason} (make it writable, or choose another place)"
    return reason


# Whole files get the journal's mode, 0644 less the umask (``mkstemp`` would make them 0600).
_FILE_MODE = 0o644


def _temporary_beside(path: Path) -> tuple[int, str]:
    """A new file ``.<name>.<random>`` in ``path``'s directory, opened for writing, mode 0644 less the umask."""
    while True:
        tmp = str(path.parent / f".{path.name}.{secrets.token_hex(6)}")
        try:
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, _FILE_MODE), tmp
        except FileExistsError:  # pragma: no cover - 48 random bits
            continue


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write ``path`` so that readers see the old file or the new one, never half; StoreError if refused."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = _temporary_beside(path)
    except OSError as err:
        raise StoreError(f"cannot write {path}: {_why(err)}") from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as err:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(err, OSError):
            raise StoreError(f"cannot write {path}: {_why(err)}") from None
        raise


def write_text_atomic(path: Path, text: str) -> None:
    """:func:`write_bytes_atomic` for UTF-8 text."""
    write_bytes_atomic(path, text.encode("utf-8"))


def write_json_atomic(path: Path, data: Any) -> None:
    """:func:`write_bytes_atomic` for JSON."""
    write_text_atomic(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


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


# Events that must reach the disk (fsync) before the run asks a provider for anything more,
# writes its results or ends: a model's reply (it costs money and time to get again), a batch
# submitted, the end of the run. Every event is written at once (it survives a crash of evalkit);
# the others reach the disk with the next of these and are re-derived on resume if a power loss
# takes them (a question sent is worded again from the prompts).
_DURABLE = frozenset({"batch_submitted", "run_end"})


def _durable(type: str, data: dict[str, Any]) -> bool:
    return type in _DURABLE or (type == "message" and data.get("role") == "assistant")


def conv_id(sample: int, problem: str | None) -> str:
    """The journal's id of a conversation: ``s<sample>/<problem>``, or a sample's opening exchange."""
    if problem is None:
        return "opening" if sample == 0 else f"s{sample}/opening"
    return f"s{sample}/{problem}"


def event_key(event: dict[str, Any]) -> tuple[Any, ...] | None:
    """The identity of a conversation event (None for run-level events such as run_start)."""
    fields = _KEYS.get(event.get("type", ""))
    if fields is None:
        return None
    return (event["type"], *(event.get(f) for f in fields))


class _RunLock:
    """An exclusive ``flock`` on ``<run>/.lock``, which names the holder; released when the holder dies."""

    def __init__(self, path: Path) -> None:
        lock = path / LOCK
        try:
            self.fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, _FILE_MODE)
        except OSError as err:
            raise StoreError(f"cannot lock {lock}: {_why(err)}") from None
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.pread(self.fd, 200, 0).decode("utf-8", "replace").strip() or "another process"
            os.close(self.fd)
            raise StoreError(
                f"{path} is in use by {holder}; wait for it to finish or stop it, then run again"
            ) from None
        stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        note = f"process {os.getpid()} (evalkit, since {stamp})\n".encode()
        os.ftruncate(self.fd, 0)
        os.pwrite(self.fd, note, 0)

    def release(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


class RunStore:
    """A run directory being written, locked against any other writer; the journal is the source of truth.

    A resumed run re-executes its conversations against the stored replies;
    events already in the journal are not written twice, so a resumed journal
    reads like an uninterrupted one.

    Group commit: :meth:`event` writes its line at once, and a thread of the store fsyncs
    the journal whenever durable events (replies) are waiting, one fsync for all written
    since the last, so neither the event loop nor the grading threads wait for the disk.
    :meth:`synced` (async) waits until the durable events so far of some conversations are
    on disk: the runner awaits it before each call to a provider for the replies the call
    is built on (its conversation's and its sample's opening); the results and the end of
    the run wait for all of them (:meth:`sync`). A power loss can thus take only replies
    nothing was done with yet, as if they had never arrived.
    """

    def __init__(
        self,
        path: Path,
        existing: set[tuple[Any, ...]] | None = None,
        seq: int = 0,
        lock: _RunLock | None = None,
    ) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._seq = seq
        self._existing = existing or set()
        self._run_lock = lock or _RunLock(path)
        self._broken: StoreError | None = None
        # group commit, under self._lock: the seq of the last durable event written, and of the last on disk
        self._changed = threading.Condition(self._lock)
        self._written = self._synced = 0
        self._last_durable: dict[str, int] = {}  # per conversation ("" for the run's own events)
        self._waiters: list[tuple[int, asyncio.AbstractEventLoop, asyncio.Future[None]]] = []
        self._fsyncer: threading.Thread | None = None
        self._closing = False
        journal = path / JOURNAL
        try:
            self._fd = os.open(journal, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, _FILE_MODE)
            self._end = os.fstat(self._fd).st_size  # where the next line starts: the store is the one writer
        except OSError as err:
            self._run_lock.release()
            raise StoreError(f"cannot write the journal {journal}: {_why(err)}") from None

    @classmethod
    def reopen(cls, path: Path) -> tuple[RunStore, list[dict[str, Any]]]:
        """Open a run directory to continue it: lock it, drop a torn last line, return the stored events."""
        lock = _RunLock(path)
        try:
            journal = path / JOURNAL
            if journal.exists():
                data = journal.read_bytes()
                if data and not data.endswith(b"\n"):
                    with open(journal, "r+b") as f:
                        f.truncate(data.rfind(b"\n") + 1)
                        f.flush()
                        os.fsync(f.fileno())
            events = RunDir(path, {}, None).journal()
        except OSError as err:
            lock.release()
            raise StoreError(f"cannot continue {path}: {_why(err)}") from None
        except BaseException:
            lock.release()
            raise
        keys = {k for k in (event_key(e) for e in events) if k is not None}
        seq = max((e["seq"] for e in events if type(e.get("seq")) is int), default=0)
        return cls(path, keys, seq, lock), events

    @classmethod
    def create(cls, runs_dir: Path, model: str, suite: str, config: dict[str, Any]) -> RunStore:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        base = f"{stamp}-{_slug(model)}-{_slug(suite)}"
        try:
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
        except OSError as err:
            raise StoreError(
                f"cannot create a run directory under {runs_dir}: {_why(err)}; --out chooses another"
            ) from None
        store = cls(path)
        try:
            write_json_atomic(path / RUN_JSON, config)
        except StoreError:
            store.close()
            raise
        return store

    def event(self, type: str, **data: Any) -> None:
        """Append an event; StoreError if the disk refuses it (the journal keeps only whole lines)."""
        key = event_key({"type": type, **data})
        with self._lock:
            if self._broken is not None:
                if type == "run_end":  # the run is stopping because of that error: nothing more to say
                    return
                raise self._broken
            if key is not None and key in self._existing:
                return
            record = {"seq": self._seq + 1, "ts": round(time.time(), 3), "type": type, **data}
            self._append((json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8"))
            self._seq += 1
            if key is not None:
                self._existing.add(key)
            if _durable(type, data):
                self._written = self._last_durable[str(data.get("conv") or "")] = self._seq
                self._start_fsyncer()
                self._changed.notify_all()

    def _append(self, line: bytes) -> None:
        try:
            written = os.write(self._fd, line)
            if written != len(line):
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        except OSError as err:
            try:
                os.ftruncate(self._fd, self._end)  # no torn line: the journal ends with the last whole event
            except OSError:
                pass  # a torn last line is dropped on resume
            raise self._break(err) from None
        self._end += written

    def _break(self, err: OSError) -> StoreError:
        self._broken = StoreError(
            f"cannot write the journal {self.path / JOURNAL}: {_why(err)}; "
            f"what was written is kept: 'evalkit run --resume {self.path}' continues from there"
        )
        return self._broken

    # -- group commit ---------------------------------------------------------------------------

    def _start_fsyncer(self) -> None:
        if self._fsyncer is None:
            self._fsyncer = threading.Thread(
                target=self._fsync_forever, name="evalkit-journal-fsync", daemon=True
            )
            self._fsyncer.start()

    def _fsync_forever(self) -> None:
        """The store's thread: fsync the journal whenever durable events wait, until the store closes."""
        while True:
            with self._changed:
                while self._synced >= self._written and not self._closing and self._broken is None:
                    self._changed.wait()
                # broken, or closing with everything on disk: this thread's work is done
                if self._broken is not None or self._synced >= self._written:
                    self._settle()
                    return
                target = self._written
            try:
                os.fsync(self._fd)  # without the lock: events go on being written meanwhile
            except OSError as err:
                with self._changed:
                    self._break(err)
                    self._settle()
                    self._changed.notify_all()
                return
            with self._changed:
                self._synced = target
                self._settle()
                self._changed.notify_all()

    def _settle(self) -> None:
        """Wake the :meth:`synced` waiters whose events are on disk (all of them, with the error, if broken)."""
        broken, done = self._broken, []
        for waiter in self._waiters:
            if broken is not None or waiter[0] <= self._synced:
                done.append(waiter)
        self._waiters = [w for w in self._waiters if w not in done]
        for _, loop, future in done:
            try:
                loop.call_soon_threadsafe(_resolve, future, broken)
            except RuntimeError:  # its loop has closed: nobody waits any more
                pass

    async def synced(self, *convs: str) -> None:
        """Wait until the durable events written so far (only those of ``convs``, if given) are on disk.

        StoreError if the disk refused them. Returns at once when they are there already.
        """
        with self._changed:
            if self._broken is not None:
                raise self._broken
            target = max((self._last_durable.get(c, 0) for c in convs), default=0) if convs else self._written
            if self._synced >= target:
                return
            future = asyncio.get_running_loop().create_future()
            self._waiters.append((target, asyncio.get_running_loop(), future))
        await future

    def sync(self) -> None:
        """:meth:`synced`, blocking."""
        with self._changed:
            target = self._written
            while self._synced < target and self._broken is None:
                self._changed.wait()
            if self._broken is not None:
                raise self._broken

    def write_results(self, results: dict[str, Any]) -> None:
        """``results.json``, once the journal it is read from is on disk."""
        self.sync()
        write_json_atomic(self.path / RESULTS, results)

    def close(self) -> None:
        """Put what is waiting on disk, close the journal and release the run."""
        with self._changed:
            self._closing = True
            self._changed.notify_all()
            fsyncer = self._fsyncer
        if fsyncer is not None:
            fsyncer.join()
        with self._lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1
            self._run_lock.release()


def _resolve(future: asyncio.Future[None], error: StoreError | None) -> None:
    if future.done():  # the waiter was cancelled (Ctrl-C)
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(None)


@dataclass(frozen=True)
class RunDir:
    """A run directory on disk, read back."""

    path: Path
    config: dict[str, Any]
    results: dict[str, Any] | None

    @property
    def id(self) -> str:
        return self.path.name

    def journal(self) -> list[dict[str, Any]]:
        """The journal's events by identity: in ``seq`` order, each event once (its first record).

        A line moved or copied by hand, or a duplicate, changes nothing; a torn last line (a crash
        while it was written) is an event that never happened.
        """
        path = self.path / JOURNAL
        if not path.exists():
            return []
        records: list[tuple[float, int, dict[str, Any]]] = []
        try:
            with open(path, "rb") as f:
                lines = f.read().split(b"\n")
        except OSError as err:
            raise StoreError(f"cannot read {path}: {_why(err)}") from None
        for n, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                event = json.loads(line)
                if not isinstance(event, dict):
                    raise ValueError("not an event")
            except ValueError:
                if n == len(lines):  # no newline after it: the event was never done
                    break
                raise StoreError(f"{path}:{n}: corrupt journal line; the run cannot be read") from None
            seq = event.get("seq")
            records.append((seq if type(seq) is int else float("inf"), n, event))
        records.sort(key=lambda r: (r[0], r[1]))
        seen: set[str] = set()
        events = []
        for _, _, event in records:
            key = event_key(event)
            identity = json.dumps(key if key is not None else event, sort_keys=True, default=str)
            if identity not in seen:
                seen.add(identity)
                events.append(event)
        return events


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
