"""Per-part results of one or more runs as a table (pandas): CSV or Parquet.

One row per run and part: the run, model and suite; the question and part;
the final status, the first attempt's status and the outcome (``first_try``,
``after_hint``, ``failed``, ``unscored``); attempts, hints and the hint
texts; points; the checker's explanation; the question's tokens; cost
when the runs recorded it; and the part's student probes (``probe (kind):
outcome`` each, with how many were decided and how many went well).

By default the table is written beside the runs: ``RUN/parts.csv`` for one run,
``<runs dir>/parts-<UTC>.csv`` for several.

Example::

    export_parts([load_run("latest")], "csv")   # runs/<id>/parts.csv
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from evalkit.errors import ReportError
from evalkit.measures import GOOD_OUTCOMES
from evalkit.report.document import build_report
from evalkit.store import RunDir, write_bytes_atomic, write_text_atomic

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["default_export_path", "export_parts", "parts_frame"]

ExportFormat = Literal["csv", "parquet"]


def parts_frame(runs: Sequence[RunDir]) -> pd.DataFrame:
    """A DataFrame with one row per run and part (``hint_texts`` is a list per row)."""
    import pandas as pd

    rows: list[dict[str, Any]] = []
    for run in runs:
        samples = sorted({int(q.get("sample", 0)) for q in (run.results or {}).get("questions", [])} or {0})
        probes = (run.results or {}).get("probes", [])
        for sample in samples:
            rows.extend(
                _rows(build_report(run, sample), sample, [r for r in probes if r.get("sample", 0) == sample])
            )
    frame = pd.DataFrame(rows)
    if not rows:
        return frame
    frame["became_correct_at"] = frame["became_correct_at"].astype("Int64")
    for column in ("cost_usd", "question_cost_usd"):
        if frame[column].isna().all():
            frame = frame.drop(columns=[column])
    return frame


def _rows(report: Any, sample: int, probes: Sequence[dict[str, Any]] = ()) -> list[dict[str, Any]]:
    rows = []
    for q in report.questions:
        for p in q.parts:
            mine = [r for r in probes if (r["problem"], r["part"]) == (q.id, p.id)]
            decided = [r for r in mine if r["outcome"] not in ("not_run", "unscored")]
            rows.append(
                {
                    "run": report.run_id,
                    "model": report.model,
                    "recorded_model": report.recorded_model,
                    "suite": report.suite,
                    "sample": sample,
                    "problem": q.id,
                    "question": q.short,
                    "title": q.title,
                    "part": p.id,
                    "label": p.label,
                    "status": p.status,
                    "outcome": p.outcome,
                    "verdict": p.verdict,
                    "attempts": p.attempts,
                    "became_correct_at": p.became_correct_at,
                    "hints": p.hints,
                    "hint_texts": list(p.hint_texts),
                    "points": p.points,
                    "max_points": p.max_points,
                    "explanation": p.explanation,
                    "question_input_tokens": q.input_tokens,
                    "question_output_tokens": q.output_tokens,
                    "cost_usd": p.cost_usd,
                    "question_cost_usd": q.cost_usd,
                    "probes": [f"{r['probe']} ({r['kind']}): {r['outcome']}" for r in mine],
                    "probes_decided": len(decided),
                    "probes_good": sum(1 for r in decided if r["outcome"] in GOOD_OUTCOMES),
                }
            )
    return rows


def default_export_path(runs: Sequence[RunDir], fmt: ExportFormat) -> Path:
    """Where an export goes unless told: ``RUN/parts.<fmt>`` for one run, else ``parts-<UTC>.<fmt>`` beside them."""
    if len(runs) == 1:
        return runs[0].path / f"parts.{fmt}"
    return runs[0].path.parent / f"parts-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}.{fmt}"


def export_parts(runs: Sequence[RunDir], fmt: ExportFormat = "csv", out: str | Path | None = None) -> Path:
    """Write :func:`parts_frame` of ``runs`` as ``fmt`` to ``out`` (default :func:`default_export_path`).

    Returns the path written (atomically).
    """
    if fmt not in ("csv", "parquet"):
        raise ReportError(f"unknown export format {fmt!r}; expected csv or parquet")
    if not runs:
        raise ReportError("export needs at least one run")
    frame = parts_frame(runs)
    path = Path(out) if out is not None else default_export_path(runs, fmt)
    if fmt == "csv":
        if len(frame):
            frame = frame.assign(
                hint_texts=frame["hint_texts"].map(" | ".join), probes=frame["probes"].map(" | ".join)
            )
        write_text_atomic(path, frame.to_csv(index=False))
    else:
        write_bytes_atomic(path, frame.to_parquet(index=False))
    return path
