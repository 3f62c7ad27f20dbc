"""The reply corpus (tests/corpus/): load its labels, grade its conversations, compare part by part.

Shared by tests/test_corpus.py and bench/styles.py; the conversations and labels
are data (tests/corpus/README.md describes them), this module only runs them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from evalkit.spec.suite import Suite, load_suite
from evalkit.transcript import align, grade_turns, read_transcript

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "corpus"
LABELS: list[dict[str, Any]] = yaml.safe_load((CORPUS / "labels.yaml").read_text(encoding="utf-8"))


def hw9_suite() -> Suite:
    return load_suite(ROOT / "problems" / "hw9_*.yaml", ROOT / "rubrics")


def tblocks_suite() -> Suite:
    return load_suite(ROOT / "problems" / "tblocks_*.yaml", ROOT / "rubrics")


# an entry's `suite:` names the homework it is graded against (keys like `tb_q1.a`); HW9 is the default
SUITES = {"hw9": hw9_suite, "tblocks": tblocks_suite}


def suite_name(entry: dict[str, Any]) -> str:
    return str(entry.get("suite", "hw9"))


class SuiteCache:
    """Loads each suite once, on first use."""

    def __init__(self) -> None:
        self._loaded: dict[str, Suite] = {}

    def __call__(self, entry: dict[str, Any]) -> Suite:
        name = suite_name(entry)
        if name not in self._loaded:
            self._loaded[name] = SUITES[name]()
        return self._loaded[name]


@dataclass(frozen=True)
class PartOutcome:
    """One labelled part: what the TA said and what evalkit said."""

    file: str
    key: str  # q1.a
    styles: tuple[str, ...]
    batch: int
    label_first: str
    label_final: str
    first: str | None  # evalkit's verdict of the first answer; None when the part was not graded
    final: str | None
    explanation: str
    suite: str = "hw9"

    @property
    def right(self) -> bool:
        return self.final == self.label_final

    @property
    def false_correct(self) -> bool:
        return self.final == "correct" and self.label_final != "correct"


@dataclass(frozen=True)
class ConversationOutcome:
    file: str
    parts: tuple[PartOutcome, ...]
    extra: tuple[str, ...]  # parts evalkit graded that the labels do not ask
    skipped: tuple[str, ...]  # why exchanges were skipped
    outside_expected: bool


def grade_entry(entry: dict[str, Any], suite: Suite, sandbox: Any = None) -> ConversationOutcome:
    """Grade one labelled conversation and compare it with its labels."""
    transcript = read_transcript(CORPUS / entry["file"])
    aligned = align(transcript, suite)
    results, _ = grade_turns(aligned, suite, sandbox=sandbox)
    got = {f"{p.problem}.{p.part}": p for r in results for p in r.parts}
    labels: dict[str, dict[str, str]] = entry.get("parts") or {}
    outcomes = []
    for key, label in labels.items():
        part = got.get(key)
        outcomes.append(
            PartOutcome(
                entry["file"],
                key,
                tuple(entry.get("styles", ())),
                int(entry.get("batch", 1)),
                label["first"],
                label["final"],
                part.first_attempt_status if part else None,
                part.status if part else None,
                part.explanation if part else "not graded: the question was not found in the transcript",
                suite_name(entry),
            )
        )
    graded_problems = {r.problem for r in results}
    labelled_problems = {key.split(".")[0] for key in labels}
    extra = tuple(sorted(f"{p}.*" for p in graded_problems - labelled_problems))
    return ConversationOutcome(
        entry["file"],
        tuple(outcomes),
        extra,
        tuple(why for _, why in aligned.skipped),
        bool(entry.get("outside")),
    )


def grade_corpus(batch: int | None = None, sandbox: Any = None) -> Iterator[ConversationOutcome]:
    suites = SuiteCache()
    for entry in LABELS:
        if batch is None or int(entry.get("batch", 1)) == batch:
            yield grade_entry(entry, suites(entry), sandbox)
