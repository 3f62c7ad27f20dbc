"""Fixtures shared by all tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from evalkit.models.retry import retry_timing
from tests.fakeserver import FAKE_ANTHROPIC_KEY, FAKE_OPENAI_KEY, FakeProvider

if TYPE_CHECKING:
    from evalkit.spec.suite import Suite

# --- the fake provider server (see tests/fakeserver.py) ---------------------------------------------


@pytest.fixture
def fake_provider() -> Iterator[FakeProvider]:
    """A fake Anthropic + OpenAI API server on 127.0.0.1, closed (threads joined) after the test.

    Point models at it with ``ModelSettings(base_url=fake_provider.anthropic_base_url)`` or
    ``ModelSettings(base_url=fake_provider.openai_base_url)``; script it with ``reply``,
    ``respond_with``, ``fail`` and ``latency_s``.
    """
    with FakeProvider() as fake:
        yield fake


@pytest.fixture
def provider_env(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Fake keys in ANTHROPIC_API_KEY / OPENAI_API_KEY; no base URL or key leaks in from the real environment."""
    for name in (
        "ANTHROPIC_BASE_URL",
        "OPENAI_BASE_URL",
        "ANTHROPIC_AUTH_TOKEN",
        "OPENAI_ORG_ID",
        "OPENAI_PROJECT_ID",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ANTHROPIC_API_KEY", FAKE_ANTHROPIC_KEY)
    monkeypatch.setenv("OPENAI_API_KEY", FAKE_OPENAI_KEY)
    return {"ANTHROPIC_API_KEY": FAKE_ANTHROPIC_KEY, "OPENAI_API_KEY": FAKE_OPENAI_KEY}


@pytest.fixture
def fast_retries() -> Iterator[list[float]]:
    """Models created during the test retry without waiting; yields the delays they would have slept."""
    delays: list[float] = []

    async def record(seconds: float) -> None:
        delays.append(seconds)

    with retry_timing(sleep=record):
        yield delays


# --- the record of verified code checks (see evalkit/spec/verified.py) ------------------------------


@pytest.fixture(autouse=True, scope="session")
def _verified_checks_of_the_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Validations in the tests (and the evalkit processes they start) record code checks in a
    directory of the session's, never in the user's ~/.cache/evalkit/verified."""
    import os

    before = os.environ.get("EVALKIT_VERIFIED_DIR")
    os.environ["EVALKIT_VERIFIED_DIR"] = str(tmp_path_factory.mktemp("verified"))
    yield
    if before is None:
        os.environ.pop("EVALKIT_VERIFIED_DIR", None)
    else:
        os.environ["EVALKIT_VERIFIED_DIR"] = before


@pytest.fixture(scope="session")
def hw9() -> Suite:
    """The HW9 suite as the repository defines it (loaded once: tests only read it)."""
    from evalkit.spec.suite import load_suite

    root = Path(__file__).parent.parent
    return load_suite(root / "problems" / "hw9_*.yaml", root / "rubrics")
