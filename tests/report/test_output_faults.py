"""Reports under faults: a full disk leaves the old report whole; a killed PDF build leaves no TeX behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from evalkit.errors import ReportError
from evalkit.report import write_report
from tests.faults import fill, small_disk

ROOT = Path(__file__).parent.parent.parent
# TeX that keeps pdflatex busy for minutes: long enough to be killed in the middle
SLOW_TEX = r"""\documentclass{article}
\begin{document}
\count255=0 \loop\ifnum\count255<2000000000 \advance\count255 by 1 \repeat
done
\end{document}
"""


def _processes_in(directory: Path) -> list[int]:
    """Pids whose working directory is ``directory`` (or under it)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                cwd = os.readlink(f"/proc/{entry}/cwd")
            except OSError:
                continue
            if cwd == str(directory) or cwd.startswith(f"{directory}/"):
                found.append(int(entry))
    return found


def _until(condition, timeout_s: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


@pytest.mark.tex
@pytest.mark.usefixtures("tex")
def test_sigkill_during_the_pdf_build_leaves_no_tex_directory_and_no_tex_running(tmp_path: Path) -> None:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    build = (
        "import sys; from pathlib import Path; from evalkit.report.latex import build_pdf; "
        "build_pdf(sys.stdin.read(), Path(sys.argv[1]))"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", build, str(tmp_path / "report.pdf")],
        cwd=ROOT,
        env={**os.environ, "TMPDIR": str(tmp)},
        stdin=subprocess.PIPE,
    )
    assert proc.stdin is not None
    proc.stdin.write(SLOW_TEX.encode())
    proc.stdin.close()
    assert _until(lambda: any(_processes_in(d) for d in tmp.glob("evalkit-tex-*"))), "TeX started"
    (work,) = tmp.glob("evalkit-tex-*")
    assert (work / "report.tex").read_text() == SLOW_TEX  # the transcript, in a real report

    proc.send_signal(signal.SIGKILL)
    proc.wait()

    assert _until(lambda: not work.exists() and not _processes_in(work), timeout_s=30)
    assert not list(tmp.iterdir())


@pytest.mark.tex
@pytest.mark.usefixtures("tex")
def test_a_latex_timeout_stops_tex_and_removes_its_directory(tmp_path: Path, monkeypatch) -> None:
    from evalkit.report.latex import build_pdf

    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr("tempfile.tempdir", None)
    with pytest.raises(ReportError, match="did not finish within 2s"):
        build_pdf(SLOW_TEX, tmp_path / "out" / "report.pdf", timeout_s=2)
    assert _until(lambda: not list(tmp_path.glob("evalkit-tex-*")), timeout_s=30)
    assert not (tmp_path / "out" / "report.pdf").exists()


def test_a_report_on_a_full_disk_leaves_the_old_one_whole(fake_runs, tmp_path: Path) -> None:
    with small_disk(tmp_path / "disk") as disk:
        old = disk / "report.html"
        old.write_text("<html>the report of yesterday</html>")
        fill(disk)
        with pytest.raises(ReportError) as info:
            write_report(fake_runs["a"], "html", old)
        assert old.read_text() == "<html>the report of yesterday</html>"
        assert sorted(p.name for p in disk.iterdir()) == [".filler", "report.html"]  # no temporary file left
    assert str(info.value) == f"cannot write {old}: No space left on device (free some space)"


def test_a_report_in_a_read_only_directory_says_so(fake_runs, tmp_path: Path) -> None:
    with small_disk(tmp_path / "disk", read_only=True) as disk:
        with pytest.raises(ReportError) as info:
            write_report(fake_runs["a"], "html", disk / "report.html")
        assert not (disk / "report.html").exists()
    message = str(info.value)
    assert message.startswith(f"cannot write {disk / 'report.html'}: Read-only file system (make it writable")
