"""The author's files beside a problem: ``problems/NAME.yaml`` plus the folder ``problems/NAME/``.

A problem's folder holds what its YAML names by file: a reference module
(``reference: rmsnorm.py:RMSNorm`` in a rubric's code check, imported by
:mod:`evalkit.reference.files`), a skeleton (``skeleton: skeleton.py``) or a
given's text (``givens: [{name: code, kind: code, file: skeleton.py}]``). Names
are relative to the folder and may not leave it. This module only finds and
reads files (no torch), so loading specs stays fast. Example::

    problem_folder("problems/hw10_q1.yaml")        # PosixPath('problems/hw10_q1')
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from evalkit.errors import SpecError

__all__ = [
    "FILE_REFERENCE",
    "FOLDER_KEY",
    "folder_files",
    "folder_from",
    "folder_path",
    "is_file_reference",
    "problem_folder",
    "read_folder_file",
]

#: The validation-context key that holds the problem's folder (a :class:`~pathlib.Path`).
FOLDER_KEY = "problem_folder"
#: ``file.py:Name`` (a path inside the folder, then a top-level name in it).
FILE_REFERENCE = re.compile(r"^(?P<file>[A-Za-z0-9_./-]+\.py):(?P<name>[A-Za-z_][A-Za-z0-9_]*)$")
_MAX_FILE_BYTES = 1_000_000


def problem_folder(problem_path: str | Path) -> Path:
    """The folder of a problem's files: ``problems/NAME/`` for ``problems/NAME.yaml``."""
    path = Path(problem_path)
    return path.parent / path.stem


def folder_from(context: Mapping[str, Any] | None) -> Path | None:
    """The problem folder a validation context carries, if any."""
    value = (context or {}).get(FOLDER_KEY)
    return Path(value) if value is not None else None


def is_file_reference(name: str) -> bool:
    """Whether ``name`` names a file in the problem's folder (``x.py:Name`` or ``x.py``)."""
    return name.endswith(".py") or bool(FILE_REFERENCE.match(name))


def folder_path(folder: Path, name: str) -> Path:
    """``name`` inside ``folder``; a SpecError saying where to put it if it is not there."""
    relative = Path(name)
    if relative.is_absolute() or ".." in relative.parts:
        raise SpecError(f"{name!r} must be a path inside the problem's folder {folder}/ (no '..')")
    path = folder / relative
    if not path.is_file():
        where = f"{folder}/ has no file {name!r}" if folder.is_dir() else f"there is no folder {folder}/"
        raise SpecError(f"{where}: put the file there (problems/NAME.yaml keeps its files in problems/NAME/)")
    if path.stat().st_size > _MAX_FILE_BYTES:
        raise SpecError(f"{path} is larger than {_MAX_FILE_BYTES // 1_000_000} MB")
    return path


def read_folder_file(folder: Path, name: str) -> str:
    """The text of ``name`` in the problem's folder; a SpecError that says where it was looked for."""
    path = folder_path(folder, name)
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise SpecError(f"{path}: not UTF-8 text ({err.reason} at byte {err.start})") from None


def folder_files(folder: Path) -> list[Path]:
    """Every file in a problem's folder, sorted (for the suite's content hash); [] if there is none."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
