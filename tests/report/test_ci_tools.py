"""The tools the report tests need: .ci/run installs them, and under CI their absence fails the tests.

A PDF test that skips without TeX lets a CI machine without TeX pass; one that passes because this
machine has more TeX than CI installs hides a preamble CI cannot build. So: without TeX the PDF tests
skip, except under ``CI=true`` where they fail; and every package the report's preamble loads comes
from a Debian package ``.ci/run`` installs (or one of those packages' dependencies).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.report.conftest import ROOT, require

CI_RUN = ROOT / ".ci" / "run"
PREAMBLE = ROOT / "evalkit" / "report" / "templates" / "report.tex.j2"


def _pytest(test: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    args = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", test]
    return subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("ci", ["true", None])
def test_pdf_tests_fail_under_ci_without_tex_and_skip_elsewhere(tmp_path: Path, ci: str | None) -> None:
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env["PATH"] = str(tmp_path)  # no latexmk, kpsewhich or poppler here (python runs by its full path)
    if ci:
        env["CI"] = ci
    done = _pytest("tests/report/test_pdf.py::test_latex_error_names_the_first_error_line", env)
    out = done.stdout + done.stderr
    if ci:
        assert done.returncode != 0, out
        assert (
            "latexmk, kpsewhich, pdftotext, pdftoppm not installed, and CI=true: .ci/run installs TeX" in out
        )
    else:
        assert done.returncode == 0 and "1 skipped" in out, out


def _apt_packages(script: str) -> set[str]:
    """The Debian packages ``.ci/run`` installs for TeX and PDF reading."""
    names = set(re.findall(r"need\+=\(([^)]*)\)", script))
    return {word for group in names for word in group.split()}


def test_ci_installs_tex_lmodern_poppler_and_chromium() -> None:
    script = CI_RUN.read_text(encoding="utf-8")
    packages = _apt_packages(script)
    assert {
        "latexmk",
        "texlive-latex-extra",
        "texlive-latex-recommended",
        "lmodern",
        "poppler-utils",
    } <= packages
    assert {"chromium", "bubblewrap"} <= packages
    assert 'export CI="${CI:-true}"' in script  # its own runs fail, not skip, when a tool is missing
    assert "--no-install-recommends" in script and "kpsewhich lmodern.sty" in script
    checked = set(re.search(r"tex_sty=\(([^)]*)\)", script).group(1).split())  # type: ignore[union-attr]
    loaded = {f"{name}.sty" for name in _preamble_packages()}
    assert checked <= loaded  # it checks for packages the preamble does load


def _preamble_packages() -> list[str]:
    text = PREAMBLE.read_text(encoding="utf-8")
    names = []
    for group in re.findall(r"\\usepackage(?:\[[^\]]*\])?\{([^}]*)\}", text):
        names += [n.strip() for n in group.split(",") if n.strip()]
    return names


def _depends(packages: set[str]) -> set[str]:
    """``packages`` and what they depend on (from the local apt cache; no network)."""
    args = ["apt-cache", "depends", "--recurse", "--no-recommends", "--no-suggests", "--no-conflicts",
            "--no-breaks", "--no-replaces", "--no-enhances", *sorted(packages)]  # fmt: skip
    out = subprocess.run(args, capture_output=True, text=True, timeout=120).stdout
    found = set(packages)
    for line in out.splitlines():
        m = re.match(r"\s*(?:\|)?(?:Pre)?Depends: <?([^>\s]+)>?", line)
        if m:
            found.add(m.group(1).split(":")[0])
    return found


def test_every_package_the_preamble_loads_comes_from_what_ci_installs() -> None:
    tools = ("kpsewhich", "dpkg", "apt-cache")
    require(
        ", ".join(t for t in tools if shutil.which(t) is None) or None, "TeX Live and Debian's dpkg and apt"
    )
    if not subprocess.run(["apt-cache", "show", "texlive-latex-extra"], capture_output=True).stdout:
        require("the apt package lists", "them with apt-get update")
    provided = _depends(_apt_packages(CI_RUN.read_text(encoding="utf-8")))
    owners = {}
    for name in _preamble_packages():
        path = subprocess.run(["kpsewhich", f"{name}.sty"], capture_output=True, text=True).stdout.strip()
        assert path, f"{name}.sty is not installed"
        owner = subprocess.run(["dpkg", "-S", path], capture_output=True, text=True).stdout
        owners[name] = owner.split(":", 1)[0] if owner else f"no Debian package ({path})"
    assert {n: o for n, o in owners.items() if o not in provided} == {}
    assert "texlive-latex-extra" in owners.values() and owners["lmodern"] == "lmodern"
