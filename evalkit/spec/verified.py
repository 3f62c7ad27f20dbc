"""Code checks whose torch part already passed: validating an unchanged rubric runs no torch.

Validating a ``code`` check runs torch: its reference is resolved (an author's
``file.py:Name`` is imported), run once on each case, an einsum is run on
random operands, a reference's output shape is computed. Importing torch alone
takes over a second. :class:`VerifiedChecks` records a check that passed all of
that under a hash of everything the result depends on:

* the check's parameters, every field, defaults included;
* for a check that names a file (``reference: rmsnorm.py:RMSNorm``, ``skeleton: skeleton.py``),
  the name and content of every file in the problem's folder (the reference, and anything
  it could read beside it);
* evalkit's code that does the work (``evalkit/reference/*.py``, ``evalkit/checks/code*.py``,
  ``evalkit/spec/files.py`` and this module), and the versions of torch (its ``version.py``:
  version and git commit) and Python.

Only passes are recorded, so a failure is always found again, and a change to anything
above is a new key, so it is validated afresh. An entry is one small file,
``<key[:2]>/<key>``, written atomically; one whose content is not exactly what is
written here is ignored (named in a warning) and replaced, and a directory that
cannot be written just records nothing. The directory is
``~/.cache/evalkit/verified`` (``$XDG_CACHE_HOME``), or ``EVALKIT_VERIFIED_DIR``;
deleting it makes the next validation run every reference again. Example::

    verified = VerifiedChecks.default()
    key = verified.key(params_json, folder)
    if not verified.has(key):
        ...  # run the reference; if it passes:
        verified.add(key)
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import json
import logging
import os
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from evalkit.paths import cache_dir
from evalkit.spec.files import folder_files

__all__ = ["NOT_RUN_KEY", "VERIFIED_KEY", "VerifiedChecks", "not_run_from", "verified_from"]

log = logging.getLogger("evalkit.verified")

#: The validation-context key that holds the :class:`VerifiedChecks` a loader may consult.
VERIFIED_KEY = "verified_checks"
#: The validation-context key of a list: given one, a code check that would run torch and did not pass
#: before is validated without torch, and what it did not run is appended (a line each).
NOT_RUN_KEY = "references_not_run"
_PACKAGE = Path(__file__).resolve().parent.parent
_SOURCES = ("reference/*.py", "checks/code.py", "checks/code_params.py", "spec/files.py", "spec/verified.py")
_FORMAT = "evalkit verified code check 1"


@functools.cache
def code_fingerprint() -> str:
    """A hash of the code a code check's validation runs: evalkit's own, torch's version, Python's."""
    digest = hashlib.sha256(_FORMAT.encode() + b"\0" + sys.version.encode() + b"\0")
    for pattern in _SOURCES:
        for path in sorted(_PACKAGE.glob(pattern)):
            digest.update(str(path.relative_to(_PACKAGE)).encode() + b"\0" + path.read_bytes() + b"\0")
    spec = importlib.util.find_spec("torch")  # finds the package; runs none of it
    version = Path(spec.origin).parent / "version.py" if spec is not None and spec.origin else None
    digest.update(version.read_bytes() if version is not None and version.is_file() else b"no torch")
    return digest.hexdigest()


def folder_digests(folder: Path) -> dict[str, str]:
    """The sha256 of every file in a problem's folder, by its path inside the folder."""
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in folder_files(folder)
    }


class VerifiedChecks:
    """A directory of content keys of code checks that passed validation (see the module docstring)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    @classmethod
    def default(cls) -> VerifiedChecks:
        return cls(cache_dir("verified", "EVALKIT_VERIFIED_DIR"))

    @staticmethod
    def key(params: str, files: Mapping[str, str] | None) -> str:
        """The key of a check: its parameters (JSON), the folder's file digests (None: names no file)."""
        payload = {"params": params, "files": dict(files) if files is not None else None}
        blob = json.dumps(payload, sort_keys=True, ensure_ascii=False).encode()
        return hashlib.sha256(code_fingerprint().encode() + b"\0" + blob).hexdigest()

    def _file(self, key: str) -> Path:
        return self.path / key[:2] / key

    def clear(self) -> int:
        """Forget every recorded pass (the next validate runs every check); returns how many there were."""
        count = 0
        for entry in self.path.glob("*/*"):
            if entry.is_file():
                entry.unlink(missing_ok=True)
                count += 1
        return count

    def _entry(self, key: str) -> bytes:
        return f"{_FORMAT}\n{key}\n".encode()

    def has(self, key: str) -> bool:
        """Whether ``key`` passed before; a damaged entry is not a pass (it is warned about)."""
        path = self._file(key)
        try:
            with open(path, "rb") as f:
                data = f.read(4096)
        except (FileNotFoundError, NotADirectoryError):  # not recorded (or nowhere to record it)
            return False
        except OSError as err:
            log.warning("ignoring the verified-check entry %s (%s)", path, err.strerror)
            return False
        if data != self._entry(key):
            log.warning("ignoring the damaged verified-check entry %s; the check is run again", path)
            return False
        return True

    def add(self, key: str) -> None:
        """Record that ``key`` passed; a directory that cannot be written records nothing."""
        path = self._file(key)
        try:
            if path.is_dir():  # a damaged entry can be a directory in the file's place
                path.rmdir()
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
            try:
                with os.fdopen(fd, "wb") as f:
                    f.write(self._entry(key))
                os.replace(tmp, path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError as err:
            log.debug("cannot record the verified check %s: %s", path, err)


def verified_from(context: Mapping[str, Any] | None) -> VerifiedChecks | None:
    """The :class:`VerifiedChecks` a validation context carries, if any."""
    value = (context or {}).get(VERIFIED_KEY)
    return value if isinstance(value, VerifiedChecks) else None


def not_run_from(context: Mapping[str, Any] | None) -> list[str] | None:
    """The list a validation context gives for the checks validated without torch, if any."""
    value = (context or {}).get(NOT_RUN_KEY)
    return value if isinstance(value, list) else None
