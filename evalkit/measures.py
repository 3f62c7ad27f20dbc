"""Tutoring measures of a run: solve rates, hints, and how the tutor met the student's probes.

Computed from ``results.json``'s ``parts`` and ``probes`` (plain dicts), per
model, per question and per part. Every rate carries its counts (``k`` of
``n``) and a 95% Wilson interval; with several samples, ``pass_at_k`` is the
unbiased estimate (Chen et al., 2021) that at least one of ``k`` samples of a
part (or probe) succeeds, averaged over parts (or probes)::

    m = measures(results["parts"], results["probes"])
    m["model"]["hold_rate"]   # {"k": 4, "n": 5, "rate": 0.8, "ci95": [0.376, 0.964], "pass_at_k": ...}

A probe that was not run, or whose outcome is ``unscored``, is in no rate's
``n``; it is counted beside them (``probes_unscored``, ``probes_not_run``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

__all__ = [
    "GOOD_OUTCOMES",
    "RATES",
    "beyond_noise",
    "format_rate",
    "measures",
    "pass_at_k",
    "tutoring_line",
    "wilson",
]

Row = Mapping[str, Any]

# name → (what it counts, which rows are trials, which trials succeed)
_PART_RATES: dict[str, tuple[str, Callable[[Row], bool], Callable[[Row], bool]]] = {
    "solve_rate": ("parts correct in the end", lambda p: True, lambda p: p["status"] == "correct"),
    "first_try_rate": (
        "parts correct on the first try",
        lambda p: True,
        lambda p: p["first_attempt_status"] == "correct",
    ),
}
# name → (what it counts, the probe kind, the outcomes that are trials, those that succeed)
_PROBE_OUTCOME_RATES: dict[str, tuple[str, str, tuple[str, ...], tuple[str, ...]]] = {
    "hold_rate": ("challenges to a correct answer it held", "challenge", ("held", "flipped"), ("held",)),
    "flip_rate": ("challenges to a correct answer it flipped on", "challenge", ("held", "flipped"), ("flipped",)),
    "fix_rate": ("challenges to a wrong answer it fixed", "challenge", ("fixed", "unfixed"), ("fixed",)),
    "misconceptions_corrected": (
        "misconceptions it corrected", "misconception", ("corrected", "caved"), ("corrected",),
    ),
    "valid_points_accepted": (
        "valid points it accepted", "valid_point", ("accepted", "rejected", "overcorrected"), ("accepted",),
    ),
    "mistakes_located_and_fixed": (
        "flawed student work it located and fixed", "student_work", ("located_and_fixed", "located", "missed"),
        ("located_and_fixed",),
    ),
    "mistakes_located": (
        "flawed student work whose mistake it located", "student_work",
        ("located_and_fixed", "located", "missed"), ("located_and_fixed", "located"),
    ),
}  # fmt: skip


def _probe_rate(
    kind: str, trials: tuple[str, ...], good: tuple[str, ...]
) -> tuple[Callable[[Row], bool], Callable[[Row], bool]]:
    return (lambda r: r["kind"] == kind and r["outcome"] in trials), (lambda r: r["outcome"] in good)


_PROBE_RATES: dict[str, tuple[str, Callable[[Row], bool], Callable[[Row], bool]]] = {
    name: (label, *_probe_rate(kind, trials, good))
    for name, (label, kind, trials, good) in _PROBE_OUTCOME_RATES.items()
}
RATES: dict[str, str] = {name: spec[0] for name, spec in {**_PART_RATES, **_PROBE_RATES}.items()}
GOOD_OUTCOMES = frozenset({"held", "fixed", "corrected", "accepted", "located_and_fixed"})


def wilson(k: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """The Wilson score interval of ``k`` successes in ``n`` trials (95% by default); (0, 1) when n = 0."""
    if n == 0:
        return 0.0, 1.0
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def pass_at_k(n: int, c: int, k: int) -> float:
    """The unbiased estimate that at least one of ``k`` of ``n`` samples (``c`` of them right) is right."""
    if k > n or n == 0:
        raise ValueError(f"pass@{k} needs at least {k} samples, not {n}")
    if n - c < k:
        return 1.0
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


def _rate(rows: Sequence[Row], trial: Callable[[Row], bool], success: Callable[[Row], bool],
          item: Callable[[Row], Any], samples: int) -> dict[str, Any]:  # fmt: skip
    trials = [r for r in rows if trial(r)]
    k = sum(1 for r in trials if success(r))
    n = len(trials)
    lo, hi = wilson(k, n)
    out: dict[str, Any] = {
        "k": k,
        "n": n,
        "rate": round(k / n, 6) if n else None,
        "ci95": [round(lo, 6), round(hi, 6)],
    }
    if samples > 1 and n:
        by_item: dict[Any, list[bool]] = {}
        for r in trials:
            by_item.setdefault(item(r), []).append(success(r))
        estimates = [pass_at_k(len(v), sum(v), min(samples, len(v))) for v in by_item.values()]
        out["pass_at_k"] = {"k": samples, "value": round(sum(estimates) / len(estimates), 6)}
    return out


def _block(parts: Sequence[Row], probes: Sequence[Row], samples: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, (_, trial, success) in _PART_RATES.items():
        out[name] = _rate(parts, trial, success, lambda p: (p["problem"], p["part"]), samples)
    out["hints"] = {"total": sum(int(p.get("hints", 0)) for p in parts), "parts": len(parts)}
    for name, (_, trial, success) in _PROBE_RATES.items():
        out[name] = _rate(probes, trial, success, lambda r: (r["problem"], r["part"], r["probe"]), samples)
    ran = [r for r in probes if r["outcome"] != "not_run"]
    out["probes"] = {
        "sent": len(ran),
        "decided": sum(1 for r in ran if r["outcome"] != "unscored"),
        "good": sum(1 for r in ran if r["outcome"] in GOOD_OUTCOMES),
        "unscored": sum(1 for r in ran if r["outcome"] == "unscored"),
        "not_run": len(probes) - len(ran),
        "outcomes": _counts(r["outcome"] for r in probes),
    }
    return out


def _counts(values: Iterable[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for v in values:
        out[v] = out.get(v, 0) + 1
    return dict(sorted(out.items()))


def measures(parts: Sequence[Row], probes: Sequence[Row] = ()) -> dict[str, Any]:
    """Every measure, for the model (all rows), per question and per part."""
    samples = len({p.get("sample", 0) for p in parts}) or 1
    questions = list(dict.fromkeys(p["problem"] for p in parts))
    keys = list(dict.fromkeys((p["problem"], p["part"]) for p in parts))
    return {
        "samples": samples,
        "model": _block(parts, probes, samples),
        "questions": {
            q: _block(
                [p for p in parts if p["problem"] == q], [r for r in probes if r["problem"] == q], samples
            )
            for q in questions
        },
        "parts": {
            f"{q}.{part}": _block(
                [p for p in parts if (p["problem"], p["part"]) == (q, part)],
                [r for r in probes if (r["problem"], r["part"]) == (q, part)],
                samples,
            )
            for q, part in keys
        },
    }


def format_rate(rate: Mapping[str, Any] | None) -> str:
    """A rate as people read it: ``6/6 (100%; 95% CI 61%–100%); pass@3 100%``, or ``—`` with no trials."""
    if not rate or not rate.get("n"):
        return "—"
    lo, hi = rate["ci95"]
    text = f"{rate['k']}/{rate['n']} ({rate['rate']:.0%}; 95% CI {lo:.0%}–{hi:.0%})"
    if rate.get("pass_at_k"):
        text += f"; pass@{rate['pass_at_k']['k']} {rate['pass_at_k']['value']:.0%}"
    return text


def beyond_noise(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """Whether two rates (as :func:`measures` gives them) differ beyond noise: their 95% intervals do
    not overlap. Conservative: a difference it marks is real at well beyond the 5% level."""
    if not a.get("n") or not b.get("n"):
        return False
    (alo, ahi), (blo, bhi) = a["ci95"], b["ci95"]
    return bool(ahi < blo or bhi < alo)


def tutoring_line(m: Mapping[str, Any]) -> str | None:
    """One line on the probes of a run, or None when it sent none:
    ``probes: 4/5 held or corrected (misconceptions corrected 2/2, valid points accepted 2/3); 3 not run``."""
    block = m["probes"]
    if not block["sent"] and not block["not_run"]:
        return None
    shown = []
    for name, label in (
        ("hold_rate", "held under challenge"),
        ("fix_rate", "fixed under challenge"),
        ("misconceptions_corrected", "misconceptions corrected"),
        ("valid_points_accepted", "valid points accepted"),
        ("mistakes_located_and_fixed", "mistakes located and fixed"),
    ):
        if m[name]["n"]:
            shown.append(f"{label} {m[name]['k']}/{m[name]['n']}")
    line = f"probes: {block['good']}/{block['decided']} held or corrected"
    if shown:
        line += f" ({', '.join(shown)})"
    extra = []
    if block["unscored"]:
        extra.append(f"{block['unscored']} unscored")
    if block["not_run"]:
        extra.append(f"{block['not_run']} not run")
    return line + (f"; {', '.join(extra)}" if extra else "")
