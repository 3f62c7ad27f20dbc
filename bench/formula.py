"""Benchmark: evalkit's math checks vs HuggingFace math-verify on both formula case tables.

Runs every labelled pair of ``tests/checks/formula_cases.yaml`` (HW9's notation) and
``tests/checks/general_cases.yaml`` (general math answers) through both graders in one
process and prints a per-category table for each, then one summary line per table and a
final timing line::

    homework: pairs=120 evalkit_accuracy=1.000 evalkit_false_correct=0 mathverify_accuracy=0.592 mathverify_false_correct=2
    general: pairs=339 ...
    timing: evalkit_median_ms=<x> evalkit_p99_ms=<x> mathverify_median_ms=<x> mathverify_p99_ms=<x> median_ratio=<x>

A grader is right on a pair when its verdict is the pair's label (an evalkit ``unscored``
counts as wrong); a *false correct* is "correct" on a pair whose label is not. Homework
pairs labelled ``unscored`` (evalkit's contract, not a truth) are left out. math-verify gets
the expected answer and the ``accept`` alternatives as its gold list; it cannot take
assumptions, symbols or check options. Times are per pair, parsing both sides included,
median of ``--repeat`` passes over the table after one warm-up pass; evalkit's time includes the round trip
to its worker process. ``median_ratio`` is evalkit's median over math-verify's, both
measured on the same pairs in the same run.

Usage: ``python bench/formula.py [--repeat 3] [--verbose] [--table homework|general]``
(needs the ``bench`` extra: ``pip install -e '.[bench]'``).
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from evalkit.checks.quick import check_expression  # noqa: E402
from evalkit.errors import SpecError  # noqa: E402

TABLES = {
    "homework": ROOT / "tests" / "checks" / "formula_cases.yaml",
    "general": ROOT / "tests" / "checks" / "general_cases.yaml",
}


def evalkit_verdict(case: dict[str, Any]) -> str:
    """evalkit's status, or ``spec_error`` when it rejects the expected answer itself."""
    try:
        result = check_expression(
            case.get("kind", "formula"),
            case["answer"],
            case["expected"],
            assumptions=case.get("assumptions", ()),
            symbols=[case["symbols"]] if case.get("symbols") else (),
            accept=case.get("accept", ()),
            options=case.get("options"),
        )
    except SpecError:
        return "spec_error"
    return result.status


def _dollars(text: str) -> str:
    return text if "$" in text else f"${text}$"


def mathverify_verdict(case: dict[str, Any]) -> str:
    from math_verify import parse, verify

    gold = []
    for text in [case["expected"], *case.get("accept", [])]:
        gold.extend(parse(_dollars(text)))
    target = parse(_dollars(case["answer"]))
    ok = bool(gold) and bool(target) and verify(gold, target)
    return "correct" if ok else "incorrect"


def timed(grader: Any, case: dict[str, Any]) -> tuple[str, float]:
    start = time.perf_counter()
    verdict = grader(case)
    return verdict, (time.perf_counter() - start) * 1000


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]


@dataclass(frozen=True)
class Row:
    case: dict[str, Any]
    evalkit: str
    mathverify: str
    evalkit_ms: float
    mathverify_ms: float


def load_pairs(table: str) -> list[dict[str, Any]]:
    pairs = yaml.safe_load(TABLES[table].read_text(encoding="utf-8"))["pairs"]
    return [c for c in pairs if c["label"] != "unscored"]


def run_table(table: str, repeat: int, verbose: bool) -> list[Row]:
    """Grade every pair ``repeat`` times, a whole pass at a time, and keep each pair's median.

    Whole passes (not back-to-back repeats of one pair) keep math-verify's small parse cache
    (20 entries) from answering a pair's repeats, which would flatter it.
    """
    pairs = load_pairs(table)
    runs: list[list[tuple[str, float, str, float]]] = [[] for _ in pairs]
    for _ in range(repeat):
        for k, case in enumerate(pairs):
            ek, ek_ms = timed(evalkit_verdict, case)
            mv, mv_ms = timed(mathverify_verdict, case)
            runs[k].append((ek, ek_ms, mv, mv_ms))
    rows = []
    for case, results in zip(pairs, runs, strict=True):
        ek, mv = results[-1][0], results[-1][2]
        ek_ms = statistics.median(r[1] for r in results)
        mv_ms = statistics.median(r[3] for r in results)
        rows.append(Row(case, ek, mv, ek_ms, mv_ms))
        if verbose:
            print(
                f"{case['id']:34} {case['label']:9} evalkit={ek:9} {ek_ms:6.1f}ms  "
                f"math-verify={mv:9} {mv_ms:6.1f}ms"
            )
    return rows


def summarize(table: str, rows: list[Row]) -> None:
    by_category: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        by_category[row.case["category"]].append(row)
    print(f"\n{table}\n{'category':18} {'pairs':>5} {'evalkit':>8} {'math-verify':>12}")
    for category, group in sorted(by_category.items()):
        n = len(group)
        ek = sum(r.evalkit == r.case["label"] for r in group) / n
        mv = sum(r.mathverify == r.case["label"] for r in group) / n
        print(f"{category:18} {n:5d} {ek:8.2f} {mv:12.2f}")
    n = len(rows)

    def false_correct(verdict: str) -> int:
        return sum(1 for r in rows if getattr(r, verdict) == "correct" and r.case["label"] != "correct")

    ek_acc = sum(r.evalkit == r.case["label"] for r in rows) / n
    mv_acc = sum(r.mathverify == r.case["label"] for r in rows) / n
    unscored = sum(r.evalkit == "unscored" for r in rows)
    print(
        f"{table}: pairs={n} evalkit_accuracy={ek_acc:.3f} evalkit_false_correct={false_correct('evalkit')} "
        f"evalkit_unscored={unscored} mathverify_accuracy={mv_acc:.3f} "
        f"mathverify_false_correct={false_correct('mathverify')}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per pair; the median is kept")
    parser.add_argument("--verbose", action="store_true", help="print every pair")
    parser.add_argument("--table", choices=sorted(TABLES), action="append", help="only these tables")
    args = parser.parse_args()
    try:
        import math_verify  # noqa: F401
    except ImportError:
        print("math-verify is not installed: pip install -e '.[bench]'", file=sys.stderr)
        return 2
    logging.disable(logging.CRITICAL)  # math-verify logs every parse failure

    tables = args.table or sorted(TABLES, reverse=True)
    for table in tables:  # warm-up: worker start, grammar loading, caches
        for case in load_pairs(table):
            evalkit_verdict(case)
            mathverify_verdict(case)
    all_rows: list[Row] = []
    for table in tables:
        rows = run_table(table, args.repeat, args.verbose)
        summarize(table, rows)
        all_rows.extend(rows)
    ek_times = [r.evalkit_ms for r in all_rows]
    mv_times = [r.mathverify_ms for r in all_rows]
    ek_median, mv_median = statistics.median(ek_times), statistics.median(mv_times)
    print(
        f"timing: pairs={len(all_rows)} evalkit_median_ms={ek_median:.2f} evalkit_p99_ms={p99(ek_times):.2f} "
        f"mathverify_median_ms={mv_median:.2f} mathverify_p99_ms={p99(mv_times):.2f} "
        f"median_ratio={ek_median / mv_median:.2f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
