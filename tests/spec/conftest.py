"""Fixtures of the validation tests: a record of verified checks of the test's own, and a suite to edit."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import copy_suite


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty record of verified checks, used by every validation of the test."""
    path = tmp_path / "verified"
    monkeypatch.setenv("EVALKIT_VERIFIED_DIR", str(path))
    return path


@pytest.fixture
def suite(tmp_path: Path) -> Path:
    """A copy of tblocks Q1 (a module reference run on its cases) and Q3 (an einsum reference)."""
    return copy_suite(tmp_path / "suite", ("tblocks_q1", "tblocks_q3"))
