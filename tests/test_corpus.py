"""The reply corpus (tests/corpus/): conversations in many models' styles, graded as a TA labelled them.

bench/styles.py prints the same numbers with a per-style table and timings.
"""

from __future__ import annotations

import pytest

from tests.corpus_cases import LABELS, SUITES, SuiteCache, grade_corpus, suite_name


@pytest.fixture(scope="module")
def outcomes():
    return list(grade_corpus())


def test_the_corpus_is_large_and_varied() -> None:
    parts = [key for e in LABELS for key in (e.get("parts") or {})]
    styles = {s for e in LABELS for s in e.get("styles", ())}
    wrong = [p for e in LABELS for p in (e.get("parts") or {}).values() if p["final"] == "incorrect"]
    assert len(LABELS) >= 20 and len(styles) >= 12 and len(parts) >= 150
    assert 0.25 <= len(wrong) / len(parts) <= 0.45


def test_every_entry_names_a_known_suite_and_parts_of_its_problems() -> None:
    suites = SuiteCache()
    for e in LABELS:
        assert suite_name(e) in SUITES, f"{e['file']}: unknown suite {suite_name(e)!r}"
        known = {f"{p.id}.{part.id}" for p in suites(e).problems for part in p.problem.parts}
        unknown = sorted(set(e.get("parts") or {}) - known)
        assert not unknown, f"{e['file']}: parts not in suite {suite_name(e)}: {unknown}"


def test_no_false_correct_and_at_least_97_percent_right(outcomes) -> None:
    parts = [p for c in outcomes for p in c.parts]
    false_correct = [f"{p.file} {p.key}: {p.explanation}" for p in parts if p.false_correct]
    assert false_correct == []
    wrong = [
        f"{p.file} {p.key}: {p.final} (label {p.label_final}): {p.explanation[:200]}"
        for p in parts
        if not p.right
    ]
    assert len(wrong) <= 0.03 * len(parts), "\n".join(wrong)


def test_questions_outside_the_set_are_skipped_not_graded(outcomes) -> None:
    for c in outcomes:
        assert not c.extra, f"{c.file} graded problems it does not ask: {c.extra}"
        if c.outside_expected:
            assert c.skipped, f"{c.file}: the question outside the set was not skipped"
