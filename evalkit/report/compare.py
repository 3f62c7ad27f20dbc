"""Several runs side by side: per question and part, how each model did (first try, after hints, failed),
and the tutoring measures (solve, hold, flip ... rates), marked different only beyond noise.

Example::

    cmp = compare_runs([load_run("runA"), load_run("runB")])
    console.print(comparison_table(cmp))       # in the terminal (rich)
    write_comparison(cmp)                      # one self-contained page: runs/compare-<UTC>.html
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.table import Table
from rich.text import Text

from evalkit.errors import ReportError
from evalkit.measures import RATES, beyond_noise, format_rate, measures
from evalkit.report.document import PartSummary, QuestionReport, RunReport, build_report
from evalkit.report.html import html_environment, page_context
from evalkit.store import RunDir, write_text_atomic

__all__ = [
    "Comparison",
    "RateRow",
    "compare_runs",
    "comparison_table",
    "rates_table",
    "render_comparison",
    "write_comparison",
]


@dataclass(frozen=True)
class RunColumn:
    run_id: str
    label: str  # the model, made unique among the runs compared
    model: str
    date: str
    points: float
    max_points: float
    first_try: int
    correct: int
    parts: int
    input_tokens: int
    output_tokens: int
    cost_usd: float | None


@dataclass(frozen=True)
class Cell:
    """One part in one run (None in a row: the run did not have the part)."""

    outcome: str
    verdict: str
    points: float
    max_points: float
    hints: int


@dataclass(frozen=True)
class PartRow:
    short: str
    label: str
    cells: tuple[Cell | None, ...]

    @property
    def differs(self) -> bool:
        return len({c.outcome if c else None for c in self.cells}) > 1


@dataclass(frozen=True)
class QuestionRow:
    id: str
    short: str
    title: str
    parts: tuple[PartRow, ...]
    runs: tuple[QuestionReport | None, ...]

    @property
    def differs(self) -> bool:
        return any(p.differs for p in self.parts)


@dataclass(frozen=True)
class RateRow:
    """One tutoring measure across the runs: each run's ``k/n`` with its 95% interval."""

    name: str
    label: str
    cells: tuple[dict[str, Any] | None, ...]  # the measure as results.json has it (None: not in that run)

    @property
    def beyond_noise(self) -> bool:
        """Whether two runs differ on it beyond noise (their intervals do not overlap)."""
        present = [c for c in self.cells if c]
        return any(beyond_noise(a, b) for i, a in enumerate(present) for b in present[i + 1 :])

    @staticmethod
    def shown(cell: dict[str, Any] | None) -> str:
        return format_rate(cell)


@dataclass(frozen=True)
class Comparison:
    runs: tuple[RunColumn, ...]
    questions: tuple[QuestionRow, ...]
    rates: tuple[RateRow, ...] = ()
    beside: Path | None = None  # the directory of the (first) run compared: where the page goes by default

    @property
    def has_cost(self) -> bool:
        return any(r.cost_usd is not None for r in self.runs)


def _label(report: RunReport) -> str:
    return report.recorded_model or report.model.split(":", 1)[-1]


def _cell(part: PartSummary | None) -> Cell | None:
    if part is None:
        return None
    return Cell(part.outcome, part.verdict, part.points, part.max_points, part.hints)


def compare_runs(runs: Sequence[RunDir]) -> Comparison:
    """Line the runs up by question and part (in the order they first appear)."""
    if len(runs) < 2:
        raise ReportError("compare needs at least two runs")
    reports = [build_report(r) for r in runs]
    labels = [_label(r) for r in reports]
    columns = []
    for report, label in zip(reports, labels, strict=True):
        unique = label if labels.count(label) == 1 else f"{label} ({report.run_id[:16]})"
        rc = report.recap
        columns.append(
            RunColumn(
                run_id=report.run_id,
                label=unique,
                model=report.model,
                date=report.date,
                points=rc.points,
                max_points=rc.max_points,
                first_try=rc.first_try,
                correct=rc.correct,
                parts=rc.parts,
                input_tokens=rc.input_tokens,
                output_tokens=rc.output_tokens,
                cost_usd=rc.cost_usd,
            )
        )
    order: dict[str, tuple[str, str]] = {}
    part_order: dict[str, dict[str, str]] = {}
    for report in reports:
        for q in report.questions:
            order.setdefault(q.id, (q.short, q.title))
            for p in q.parts:
                part_order.setdefault(q.id, {}).setdefault(p.id, p.label)
    questions = []
    for qid, (short, title) in order.items():
        per_run = [next((q for q in r.questions if q.id == qid), None) for r in reports]
        rows = []
        for pid, label in part_order.get(qid, {}).items():
            cells = tuple(
                _cell(next((p for p in q.parts if p.id == pid), None) if q else None) for q in per_run
            )
            rows.append(PartRow(short, label, cells))
        questions.append(QuestionRow(qid, short, title, tuple(rows), tuple(per_run)))
    return Comparison(tuple(columns), tuple(questions), _rate_rows(runs), beside=runs[0].path.parent)


def _rate_rows(runs: Sequence[RunDir]) -> tuple[RateRow, ...]:
    """The model-level measures of each run (computed from its parts for a run from before they existed)."""
    blocks = []
    for rd in runs:
        results = rd.results or {}
        m = results.get("measures") or measures(results.get("parts", []), results.get("probes", []))
        blocks.append(m["model"])
    rows = []
    for name, label in RATES.items():
        cells = tuple(b.get(name) for b in blocks)
        if any(c and c.get("n") for c in cells):
            rows.append(RateRow(name, label, cells))
    return tuple(rows)


_STYLE = {"first_try": "green", "after_hint": "yellow", "failed": "red", "unscored": "magenta"}


def comparison_table(cmp: Comparison) -> Table:
    """The comparison as a rich table: a row per part, a column per run, ≠ where they differ."""
    table = Table(title="Per part, per model", title_justify="left", show_lines=False)
    table.add_column("part")
    for run in cmp.runs:
        table.add_column(Text(f"{run.label}\n{run.run_id}", overflow="fold"))
    table.add_column("≠", justify="center")
    for q in cmp.questions:
        cells = []
        for report in q.runs:
            if report is None:
                cells.append(Text("—", style="dim"))
                continue
            cost = f" · ${report.cost_usd:.4f}" if report.cost_usd is not None else ""
            cells.append(
                Text(
                    f"{report.points:g}/{report.max_points:g} pts · "
                    f"{report.input_tokens + report.output_tokens:,} tok{cost}",
                    style="bold",
                )
            )
        table.add_row(Text(f"{q.short}: {q.title}", style="bold"), *cells, "", end_section=False)
        for row in q.parts:
            marks = [
                Text(c.verdict, style=_STYLE.get(c.outcome, "")) if c else Text("(no such part)", style="dim")
                for c in row.cells
            ]
            table.add_row(
                f"  {row.short}{row.label}", *marks, Text("≠", style="bold red") if row.differs else ""
            )
        table.add_section()
    totals = [
        Text(
            f"{r.correct}/{r.parts} correct, {r.first_try} first try; {r.points:g}/{r.max_points:g} pts; "
            f"{r.input_tokens:,} in + {r.output_tokens:,} out tok"
            + (f"; ${r.cost_usd:.4f}" if r.cost_usd is not None else ""),
            style="bold",
        )
        for r in cmp.runs
    ]
    table.add_row(Text("total", style="bold"), *totals, "")
    return table


def rates_table(cmp: Comparison) -> Table:
    """The tutoring measures side by side; ≠ only where two runs' 95% intervals do not overlap."""
    table = Table(title="Tutoring measures (k/n, 95% Wilson interval)", title_justify="left")
    table.add_column("measure")
    for run in cmp.runs:
        table.add_column(Text(run.label, overflow="fold"))
    table.add_column("≠", justify="center")
    for row in cmp.rates:
        table.add_row(
            row.label,
            *(RateRow.shown(c) for c in row.cells),
            Text("≠", style="bold red") if row.beyond_noise else "",
        )
    return table


def render_comparison(cmp: Comparison) -> str:
    """The comparison as one self-contained HTML page."""
    template = html_environment().get_template("compare.html.j2")
    return template.render(c=cmp, **page_context())


def write_comparison(cmp: Comparison, out: str | Path | None = None) -> Path:
    """Write :func:`render_comparison` of ``cmp`` to ``out``; by default beside the runs, ``compare-<UTC>.html``.

    Returns the path written (atomically: a reader sees the old page or the new one).
    """
    if out is not None:
        path = Path(out)
    elif cmp.beside is not None:
        path = cmp.beside / f"compare-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}.html"
    else:
        raise ReportError("say where to write the comparison (--out FILE)")
    write_text_atomic(path, render_comparison(cmp))
    return path
