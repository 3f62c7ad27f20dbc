"""Benchmark: evalkit's math checks vs HuggingFace math-verify on the HW9 case table.

Runs every labeled pair of ``tests/checks/formula_cases.yaml`` whose label is
``correct`` or ``incorrect`` through both graders in one process and prints a
per-category table, then one summary line::

    evalkit_accuracy=<x> mathverify_accuracy=<x> evalkit_median_ms=<x> evalkit_p99_ms=<x> mathverify_median_ms=<x>

A grader is right on a pair when it says "correct" exactly for the pairs
labeled correct (an evalkit ``unscored`` counts as wrong). math-verify gets
the expected answer and the ``accept`` alternatives as its gold list; it has
no way to take the assumptions. Times are per pair, parsing both sides
included, median of ``--repeat`` runs after one warm-up pass; evalkit's time
includes the round trip to its worker process.

Usage: ``python bench/formula.py [--repeat 3] [--verbose]`` (needs the
``bench`` extra: ``pip install -e '.[bench]'``).
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from evalkit.checks.quick import check_expression  # noqa: E402

CASES = ROOT / "tests" / "checks" / "formula_cases.yaml"


def evalkit_verdict(case: dict[str, Any]) -> str:
    result = check_expression(
        case["kind"],
        case["answer"],
        case["expected"],
        assumptions=case.get("assumptions", ()),
        symbols=[case["symbols"]] if case.get("symbols") else (),
        accept=case.get("accept", ()),
        options=case.get("options"),
    )
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


def timed(grader: Any, case: dict[str, Any], repeat: int) -> tuple[str, float]:
    times, verdict = [], ""
    for _ in range(repeat):
        start = time.perf_counter()
        verdict = grader(case)
        times.append((time.perf_counter() - start) * 1000)
    return verdict, statistics.median(times)


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per pair; the median is kept")
    parser.add_argument("--verbose", action="store_true", help="print every pair")
    args = parser.parse_args()
    try:
        import math_verify  # noqa: F401
    except ImportError:
        print("math-verify is not installed: pip install -e '.[bench]'", file=sys.stderr)
        return 2
    logging.disable(logging.CRITICAL)  # math-verify logs every parse failure

    pairs = [
        c for c in yaml.safe_load(CASES.read_text(encoding="utf-8"))["pairs"] if c["label"] != "unscored"
    ]
    for case in pairs:  # warm-up: worker start, grammar loading, caches
        evalkit_verdict(case)
        mathverify_verdict(case)

    rows = []
    for case in pairs:
        ek, ek_ms = timed(evalkit_verdict, case, args.repeat)
        mv, mv_ms = timed(mathverify_verdict, case, args.repeat)
        rows.append((case, ek == case["label"], mv == case["label"], ek_ms, mv_ms, ek, mv))
        if args.verbose:
            print(
                f"{case['id']:30} {case['label']:9} evalkit={ek:9} {ek_ms:6.1f}ms  math-verify={mv:9} {mv_ms:6.1f}ms"
            )

    by_category: dict[str, list[tuple[bool, bool]]] = defaultdict(list)
    for case, ek_ok, mv_ok, *_ in rows:
        by_category[case["category"]].append((ek_ok, mv_ok))
    print(f"{'category':18} {'pairs':>5} {'evalkit':>8} {'math-verify':>12}")
    for category, results in sorted(by_category.items()):
        n = len(results)
        print(
            f"{category:18} {n:5d} {sum(r[0] for r in results) / n:8.2f} {sum(r[1] for r in results) / n:12.2f}"
        )
    false_correct = {
        "evalkit": sum(1 for r in rows if r[5] == "correct" and r[0]["label"] != "correct"),
        "math-verify": sum(1 for r in rows if r[6] == "correct" and r[0]["label"] != "correct"),
    }
    print(
        f"pairs={len(rows)} false_correct: evalkit={false_correct['evalkit']} math-verify={false_correct['math-verify']}"
    )
    ek_acc = sum(r[1] for r in rows) / len(rows)
    mv_acc = sum(r[2] for r in rows) / len(rows)
    ek_times = [r[3] for r in rows]
    mv_times = [r[4] for r in rows]
    print(
        f"evalkit_accuracy={ek_acc:.3f} mathverify_accuracy={mv_acc:.3f} "
        f"evalkit_median_ms={statistics.median(ek_times):.2f} evalkit_p99_ms={p99(ek_times):.2f} "
        f"mathverify_median_ms={statistics.median(mv_times):.2f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
