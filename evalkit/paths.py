"""Where evalkit finds its bundled problems, rubrics, prompts and cassettes.

Paths given by the user are used as given. Defaults are looked up first in the
current directory (a checkout, or a user's own project laid out the same way),
then beside the installed package (the repository evalkit was installed from).
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["cache_dir", "default_dir", "project_root"]


def project_root() -> Path:
    return Path(__file__).resolve().parent.parent


def default_dir(name: str) -> Path:
    """``problems``, ``rubrics``, ``prompts``, ``cassettes`` or ``runs``: in the CWD if present, else the project's."""
    local = Path.cwd() / name
    if local.is_dir() or name == "runs":
        return local
    return project_root() / name


def cache_dir(name: str, env: str) -> Path:
    """evalkit's cache directory ``name`` (``responses``, ``models``, ``verified``): ``$env`` if set, else
    ``$XDG_CACHE_HOME/evalkit/name`` (``~/.cache/evalkit/name``)."""
    given = os.environ.get(env)
    if given:
        return Path(given)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "evalkit" / name
