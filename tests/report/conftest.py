"""Run directories the report tests render: two scripted tutors on a small suite, and the offline HW9 run;
and the system tools the PDF and browser tests need, which fail them under CI rather than skip them."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from evalkit import api
from evalkit.models.registry import register_provider
from evalkit.models.scripted import ScriptedModel
from evalkit.store import RunDir, open_run
from tests.report.fake_tutor import reply

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).parent / "fixtures"
ARTIFACTS = ROOT / "test-artifacts"
CASSETTE = ROOT / "cassettes" / "hw9-claude-opus-4-5.yaml"

NOTES = """\
overview: |
  The tutor was strong on the algebra; **Q3(b)** needed one hint about $W_o$ and `split_heads`.
notes:
  - question: q1
    text: great overview!
  - question: q3
    part: b
    text: split-heads and combine-heads have to agree.
  - question: q3
    turn: 3
    text: This is what led me to ask this.
  - question: opening
    turn: 2
    text: I like that it's already giving me conceptual background.
"""


def _register_fake() -> None:
    register_provider(
        "fake",
        lambda model_id, settings: ScriptedModel(lambda r: reply(model_id, r), name=f"fake:{model_id}"),
    )


def _run(model: str, runs_dir: Path) -> RunDir:
    config = api.RunConfig(
        model=model,
        problems=str(FIXTURES / "problems" / "*.yaml"),
        rubrics=str(FIXTURES / "rubrics"),
        runs_dir=str(runs_dir),
    )
    return open_run(api.run(config).run_dir)


@pytest.fixture(scope="session")
def fake_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, RunDir]:
    """``a``: Q3(b) right after one hint, Q4 failed, hostile text in Q2(b), reviewer notes.
    ``b``: Q3(b) right at once, Q4 right after one hint."""
    _register_fake()
    runs_dir = tmp_path_factory.mktemp("fake-runs")
    a = _run("fake:tutor-a", runs_dir)
    (a.path / "notes.yaml").write_text(NOTES, encoding="utf-8")
    b = _run("fake:tutor-b", runs_dir)
    return {"a": a, "b": b}


@pytest.fixture
def run_copy(fake_runs: dict[str, RunDir], tmp_path: Path) -> Path:
    """A private copy of run ``a`` that a test may change."""
    target = tmp_path / fake_runs["a"].path.name
    shutil.copytree(fake_runs["a"].path, target)
    return target


@pytest.fixture(scope="session")
def hw9_run(tmp_path_factory: pytest.TempPathFactory) -> RunDir:
    """The offline HW9 run: what ``evalkit run`` does by default, in a temporary runs directory."""
    if not CASSETTE.exists():  # the problems and cassette are another engineer's; say what is missing
        pytest.fail(f"{CASSETTE} is missing: the offline HW9 run cannot be made")
    runs_dir = tmp_path_factory.mktemp("hw9-runs")
    return open_run(api.run(api.RunConfig(model="replay", runs_dir=str(runs_dir))).run_dir)


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


def on_ci() -> bool:
    """Whether this is a CI run (``CI=true``, as GitHub Actions and ``.ci/run`` set it)."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def tex_missing() -> str | None:
    """What of TeX the PDF report needs is not installed (latexmk, the Latin Modern fonts, poppler), if any."""
    missing = [
        tool for tool in ("latexmk", "kpsewhich", "pdftotext", "pdftoppm") if shutil.which(tool) is None
    ]
    if not missing:
        found = subprocess.run(
            ["kpsewhich", "lmodern.sty"], capture_output=True, text=True, timeout=60
        ).stdout
        missing += [] if found.strip() else ["lmodern.sty"]
    return ", ".join(missing) or None


def require(missing: str | None, what: str) -> None:
    """Skip a test whose tool is ``missing`` (None: nothing is); under CI fail it, loudly, instead: CI must
    not pass because the tests that would have caught a broken PDF or page were skipped."""
    if missing is None:
        return
    if on_ci():
        pytest.fail(
            f"{missing} not installed, and CI={os.environ['CI']}: .ci/run installs {what}", pytrace=False
        )
    pytest.skip(f"{missing} not installed ({what})")


@pytest.fixture
def tex() -> None:
    """TeX Live with latexmk and lmodern, and poppler: the PDF report and the tools that read it."""
    require(tex_missing(), "TeX Live (latexmk, texlive-latex-extra, lmodern) and poppler-utils")
