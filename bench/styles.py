"""Benchmark: how well evalkit reads replies written the way many models write them.

Grades every labelled conversation of ``tests/corpus/`` (32 conversations in
GPT, Gemini, Claude, Llama, Qwen, DeepSeek, Mistral, terse, plain-text,
summary-table ... styles; see tests/corpus/README.md) through the transcript
grader and compares each part's final verdict with the TA's label. Then times
the write-up's transcript (the baseline the grader was built on) in the same
process, and prints::

    parts_right=N/M false_correct=N unscored=N first_right=N/M outside_skipped=N/M extra=N
    corpus_ms_per_part=X writeup_ms_per_part=Y ratio=Z

``false_correct`` counts parts evalkit calls correct that the TA labelled
incorrect (the worst defect); ``unscored`` parts count as not right;
``outside_skipped`` counts conversations about questions outside the set
whose extra questions were skipped, not graded as something else; ``extra``
counts problems graded that a conversation does not ask.

Entries with ``suite: tblocks`` are graded against the tblocks homework; when the
selection holds more than one suite, a ``suite=NAME parts_right=...`` line per suite follows.

Usage: ``python bench/styles.py [--batch 1|2|3|4|5|6|7] [--verbose]``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from evalkit.sandbox import default_pool  # noqa: E402
from evalkit.transcript import align, grade_turns, read_transcript  # noqa: E402
from tests.corpus_cases import (  # noqa: E402
    LABELS,
    ConversationOutcome,
    PartOutcome,
    SuiteCache,
    grade_entry,
    hw9_suite,
)

WRITEUP = ROOT / "tests" / "fixtures" / "transcripts" / "hw9-writeup.txt"


def _time_writeup(suite, pool, repeat: int) -> float:
    """Median seconds per graded part for the write-up's transcript."""
    transcript = read_transcript(WRITEUP)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        results, _ = grade_turns(align(transcript, suite), suite, sandbox=pool)
        elapsed = time.perf_counter() - start
        times.append(elapsed / sum(len(r.parts) for r in results))
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, choices=(1, 2, 3, 4, 5, 6, 7), help="only this batch of the corpus")
    parser.add_argument("--repeat", type=int, default=3, help="timing runs of the write-up and the corpus")
    parser.add_argument("--verbose", action="store_true", help="print every part that is not right")
    args = parser.parse_args()

    suite = hw9_suite()
    suites = SuiteCache()
    pool = default_pool()
    entries = [e for e in LABELS if args.batch is None or int(e.get("batch", 1)) == args.batch]
    grade_entry(entries[0], suites(entries[0]), pool)  # warm-up: workers, sandbox, imports

    corpus_times: list[float] = []
    outcomes: list[ConversationOutcome] = []
    for run in range(args.repeat):
        start = time.perf_counter()
        current = [grade_entry(e, suites(e), pool) for e in entries]
        elapsed = time.perf_counter() - start
        corpus_times.append(elapsed / max(1, sum(len(c.parts) for c in current)))
        if run == 0:
            outcomes = current
    writeup = _time_writeup(suite, pool, args.repeat)

    parts: list[PartOutcome] = [p for c in outcomes for p in c.parts]
    by_style: dict[str, list[PartOutcome]] = defaultdict(list)
    for p in parts:
        for style in p.styles:
            by_style[style].append(p)
    print(f"{'style':28} {'parts':>5} {'right':>5} {'false✓':>6} {'?':>3}")
    for style, ps in sorted(by_style.items()):
        print(
            f"{style:28} {len(ps):5d} {sum(p.right for p in ps):5d} "
            f"{sum(p.false_correct for p in ps):6d} {sum(p.final == 'unscored' for p in ps):3d}"
        )
    if args.verbose:
        for p in parts:
            if not p.right or p.first != p.label_first:
                print(
                    f"  {p.file} {p.key}: final {p.final} (label {p.label_final}), "
                    f"first {p.first} (label {p.label_first}) — {p.explanation[:300]}"
                )
        for c in outcomes:
            if c.extra:
                print(f"  {c.file}: graded problems it does not ask: {', '.join(c.extra)}")
    outside = [c for c in outcomes if c.outside_expected]
    outside_ok = sum(1 for c in outside if c.skipped and not c.extra)
    right = sum(p.right for p in parts)
    first_right = sum(p.first == p.label_first for p in parts)
    print(
        f"parts_right={right}/{len(parts)} false_correct={sum(p.false_correct for p in parts)} "
        f"unscored={sum(p.final == 'unscored' for p in parts)} first_right={first_right}/{len(parts)} "
        f"outside_skipped={outside_ok}/{len(outside)} extra={sum(len(c.extra) for c in outcomes)}"
    )
    by_suite: dict[str, list[PartOutcome]] = defaultdict(list)
    for p in parts:
        by_suite[p.suite].append(p)
    if len(by_suite) > 1:
        for name, ps in sorted(by_suite.items()):
            print(
                f"suite={name} parts_right={sum(p.right for p in ps)}/{len(ps)} "
                f"false_correct={sum(p.false_correct for p in ps)} "
                f"unscored={sum(p.final == 'unscored' for p in ps)} "
                f"first_right={sum(p.first == p.label_first for p in ps)}/{len(ps)}"
            )
    corpus = statistics.median(corpus_times)
    print(
        f"corpus_ms_per_part={corpus * 1000:.1f} writeup_ms_per_part={writeup * 1000:.1f} "
        f"ratio={corpus / writeup:.2f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
