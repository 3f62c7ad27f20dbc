"""Writing a run's reports: HTML, LaTeX source, PDF.

Example::

    from evalkit.report import write_report
    write_report("runs/20250101T000000Z-replay-hw9", "pdf")   # runs/.../report.pdf
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from evalkit.errors import EvalkitError, ReportError
from evalkit.report.document import RunReport, build_report
from evalkit.report.html import html_environment, page_context
from evalkit.report.latex import build_pdf, render_latex
from evalkit.store import RunDir, open_run, write_text_atomic

__all__ = ["Format", "render_html", "write_report", "write_run_reports"]

Format = Literal["html", "latex", "pdf"]
_SUFFIX = {"html": ".html", "latex": ".tex", "pdf": ".pdf"}


def render_html(report: RunReport) -> str:
    """The report as one self-contained HTML page."""
    template = html_environment().get_template("report.html.j2")
    return template.render(r=report, **page_context())


def _run(run: RunDir | str | Path) -> RunDir:
    return run if isinstance(run, RunDir) else open_run(Path(run))


def write_report(
    run: RunDir | str | Path, fmt: Format = "html", out: str | Path | None = None, sample: int | None = None
) -> Path:
    """Write the report of ``run`` as ``fmt``; by default to ``<run>/report.<html|tex|pdf>``.

    A run with several samples per question shows every sample, or only ``sample`` (from 0).
    """
    if fmt not in _SUFFIX:
        raise ReportError(f"unknown report format {fmt!r}; expected one of html, latex, pdf")
    run_dir = _run(run)
    samples = int(run_dir.config.get("samples") or 1)
    if sample is not None and not 0 <= sample < samples:
        raise ReportError(f"{run_dir.id} has {samples} sample(s); --sample must be 0..{samples - 1}")
    report = build_report(run_dir, sample)
    path = Path(out) if out is not None else run_dir.path / f"report{_SUFFIX[fmt]}"
    if fmt == "pdf":
        return build_pdf(render_latex(report), path)
    text = render_html(report) if fmt == "html" else render_latex(report)
    _write(path, text)
    return path


def _write(path: Path, text: str) -> None:
    """Atomically (a reader sees the old report or the new one), or ReportError saying where and why."""
    try:
        write_text_atomic(path, text)
    except EvalkitError as err:
        raise ReportError(str(err)) from None


def write_run_reports(run_dir: str | Path, progress: Callable[[str], None] | None = None) -> list[Path]:
    """Write ``report.html``, and ``report.pdf`` when ``latexmk`` is installed, into ``run_dir``.

    For the end of ``evalkit run``: a report that cannot be written is said
    through ``progress`` rather than raised, since the run itself is done.
    """
    say = progress or (lambda _msg: None)
    written: list[Path] = []
    try:
        run = _run(run_dir)
        report = build_report(run, None)  # every sample of a run with --samples
    except EvalkitError as err:
        say(f"report not written: {err}")
        return written
    html_path = run.path / "report.html"
    try:
        _write(html_path, render_html(report))
    except ReportError as err:
        say(f"report.html not written: {err}")
    else:
        written.append(html_path)
    if shutil.which("latexmk") is None:
        say("report.pdf skipped: no TeX engine found (install latexmk and TeX Live for PDF reports)")
        return written
    try:
        written.append(build_pdf(render_latex(report), run.path / "report.pdf"))
    except ReportError as err:
        say(f"report.pdf not written: {err}")
    return written
