"""Reports of runs: like the hand-made participation write-up, as HTML, LaTeX and PDF; comparisons; exports.

- :func:`write_report` one run as ``html`` (self-contained), ``latex`` or ``pdf``;
- :func:`write_run_reports` ``report.html`` (+ ``report.pdf`` with TeX) at the end of ``evalkit run``;
- :func:`compare_runs` / :func:`write_comparison` several runs side by side, per part;
- :func:`export_parts` per-part results of runs as CSV or Parquet;
- :func:`build_report` the data a report shows, for other front ends.

Reviewer notes live in ``runs/<id>/notes.yaml`` (see :mod:`evalkit.report.notes`).

Example::

    from evalkit.report import write_report
    write_report("runs/latest-run-dir", "html")
"""

from evalkit.report.compare import Comparison, compare_runs, comparison_table, write_comparison
from evalkit.report.document import RunReport, build_report
from evalkit.report.export import export_parts, parts_frame
from evalkit.report.output import render_html, write_report, write_run_reports

__all__ = [
    "Comparison",
    "RunReport",
    "build_report",
    "compare_runs",
    "comparison_table",
    "export_parts",
    "parts_frame",
    "render_html",
    "write_comparison",
    "write_report",
    "write_run_reports",
]
