"""What each problem is about, and whether a user turn names it or a reply answers it.

Each problem's vocabulary is the words of its title, statement, givens and
parts, weighted by how distinctive they are within the problem set (``argmax``
marks Q2; ``attention`` marks every question of HW9) and stripped of common
English and homework words. :meth:`Topics.fit` is the weighted share of a
problem's vocabulary that a text uses; :meth:`Topics.named` finds the
problems a user turn names by title or topic ("the kernelized linear attention
problem", "the argmax one").

Example::

    topics = Topics(suite)
    topics.named("Let's do the kernelized linear attention problem")   # ['q6']
    topics.fit("q2", reply_about_layer_norm)                            # 0.03
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass

from evalkit.extract import concedes
from evalkit.extract.words import ROMAN_NUMERALS
from evalkit.spec.models import Problem
from evalkit.spec.suite import LoadedProblem, Suite

__all__ = ["Topics", "agrees", "named_parts", "topic_part", "words"]

_STOP = set(
    """
    the and for are but not you your yours with this that these those from into onto over under than then
    there their they them what which when where while who whom why how all any each every some such own
    same other only also just very can could would should will shall may might must does did doing done
    have has had having been being was were its it's let lets let's use used using given give gives find
    show prove compute calculate derive define determine explain describe write state answer answers
    question questions problem problems part parts subpart below above following follow based assume
    assuming suppose consider note recall term terms case cases way ways one two three four first second
    third next here now see need needs needed make makes made get gets got like about between both more
    most less least much many few well because since thus hence therefore so yes yeah okay please thanks
    thank great good sure right true false work show shows shown step steps solution solutions value values
    number numbers example examples respect result results form order also again still even ever every
    into within without via per our out off above below its itself we us me my mine his her hers him
    begin end bmatrix pmatrix vmatrix matrix frac dfrac tfrac left right quad qquad cdot cdots ldots vdots
    ddots dots top sqrt text textbf mathrm mathbb mathbf mathcal operatorname tag stackrel limits times
    infty hat bar tilde label align aligned equation array displaystyle boxed mid neq leq geq approx
    """.split()
)


def words(text: str) -> list[str]:
    """The content words of ``text``: lower-cased, LaTeX commands unwrapped, stop words and short tokens dropped."""
    text = re.sub(r"\\(?:text|mathrm|mathbb|mathbf|operatorname|textbf|emph)\s*\{([^{}]*)\}", r" \1 ", text)
    text = re.sub(r"\\([A-Za-z]+)", r" \1 ", text)
    out = []
    for raw in re.findall(r"[A-Za-z][A-Za-z0-9]*", text.replace("_", " ")):
        word = raw.lower()
        if len(word) < 3 or word in _STOP:
            continue
        out.append(_stem(word))
    return out


def _stem(word: str) -> str:
    for suffix in (
        "izations",
        "ization",
        "ations",
        "ation",
        "ized",
        "izes",
        "ize",
        "ings",
        "ing",
        "ies",
        "es",
        "s",
    ):
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            return word[: -len(suffix)] + ("y" if suffix == "ies" else "")
    return word


def _problem_text(lp: LoadedProblem) -> str:
    p = lp.problem
    pieces = [p.title, p.title, p.statement, *p.tags]
    pieces += [g.content or "" for g in p.givens]
    for part in p.parts:
        pieces += [part.prompt, part.expected or ""]
    return "\n".join(pieces)


@dataclass(frozen=True)
class _Vocabulary:
    weights: dict[str, float]
    title: frozenset[str]


class Topics:
    """The vocabulary of every problem of a suite (see the module docstring)."""

    def __init__(self, suite: Suite, size: int = 40) -> None:
        counts = {lp.id: Counter(words(_problem_text(lp))) for lp in suite.problems}
        n = len(counts)
        df: Counter[str] = Counter()
        for c in counts.values():
            df.update(set(c))
        self.vocab: dict[str, _Vocabulary] = {}
        self._problems = {lp.id: lp.problem for lp in suite.problems}
        self.known = {pid: frozenset(c) for pid, c in counts.items()}
        titles = {lp.id: set(words(lp.problem.title)) for lp in suite.problems}
        title_df: Counter[str] = Counter()
        for t in titles.values():
            title_df.update(t)
        for pid, c in counts.items():
            scored = {w: (1 + math.log(k)) * math.log(1 + n / df[w]) for w, k in c.items()}
            top = dict(sorted(scored.items(), key=lambda kv: -kv[1])[:size])
            distinct = frozenset(w for w in titles[pid] if title_df[w] == 1 or n == 1)
            self.vocab[pid] = _Vocabulary(top, distinct)

    def problem(self, pid: str) -> Problem:
        return self._problems[pid]

    def fit(self, pid: str, text: str) -> float:
        """The weighted share of problem ``pid``'s vocabulary that ``text`` uses (0..1)."""
        vocab = self.vocab[pid].weights
        total = sum(vocab.values())
        if not total:
            return 0.0
        present = set(words(text))
        return sum(w for t, w in vocab.items() if t in present) / total

    def precision(self, pid: str, text: str) -> float:
        """The share of ``text``'s distinct content words that problem ``pid``'s text uses too."""
        present = set(words(text))
        if not present:
            return 0.0
        return len(present & self.known[pid]) / len(present)

    def best(self, text: str) -> list[tuple[str, float]]:
        """Every problem with its fit to ``text``, best first."""
        return sorted(((pid, self.fit(pid, text)) for pid in self.vocab), key=lambda kv: -kv[1])

    def named(self, text: str) -> list[str]:
        """Problems whose distinctive title words ``text`` uses, in order of first mention."""
        tokens = words(text)
        found: list[tuple[int, str]] = []
        for pid, vocab in self.vocab.items():
            hits = [i for i, t in enumerate(tokens) if t in vocab.title]
            if hits and (len(vocab.title) == 1 or len({tokens[i] for i in hits}) >= min(2, len(vocab.title))):
                found.append((hits[0], pid))
        return [pid for _, pid in sorted(found)]

    @staticmethod
    def substantial(text: str) -> bool:
        """Whether ``text`` says enough to judge what it is about (a one-line reply does not)."""
        return len(set(words(text))) >= 25


# -- which parts a user turn is about ----------------------------------------------------------------


def agrees(reply: str) -> bool:
    """Whether a reply concedes a point to the student ("You're right", "Good catch", "I was wrong")."""
    return concedes(reply)


def _label_patterns(label: str) -> list[str]:
    main, _, sub = label.partition(".")
    m = re.escape(main)
    if sub:
        s = re.escape(sub)
        return [
            rf"\(\s*{m}\s*\)\s*\(\s*{s}\s*\)",
            rf"\b{m}\s*[.(]\s*{s}\b\)?",
            rf"\bparts?\s+{m}\s*\(?\s*{s}\b",
        ]
    return [
        rf"\(\s*{m}\s*\)(?!\s*\()",
        rf"\bparts?\s+\(?{m}\)?(?![\w(])",
        rf"\bparts?\s+(?:\(?[a-z]\)?\s*(?:,|and|&|or)\s*)+\(?{m}\)?(?![\w(])",
        rf"\b[Qq]?\d{{1,2}}\s*\(?{m}\)(?![\w(])",
        rf"\b[Qq]?\d{{1,2}}{m}\b(?![\w-])",  # 2a, 4g
    ]


_OTHER_QUESTIONS_PART = re.compile(
    r"\b[Qq]?(\d{1,2})\s*(?:\(\s*[a-zA-Z]{1,4}\s*\)(?:\s*\(\s*[ivx]{1,4}\s*\))?|[a-z](?![\w-]))"
)


def named_parts(text: str, lp: LoadedProblem) -> list[str]:
    """The parts of ``lp`` a user turn names: 'part (c)', 'parts a and c', '(b)(ii)', 'Q4(g)', or their quantity ('$s$')."""
    from evalkit.extract import asked_quantities
    from evalkit.extract.spans import canonical, math_blocks
    from evalkit.grading import question_number

    number = question_number(lp)
    if number is not None:  # '1(c)' names question 1's part (c), not this problem's
        text = _OTHER_QUESTIONS_PART.sub(lambda m: m.group(0) if int(m.group(1)) == number else " ", text)
    found = []
    for part in lp.problem.parts:
        label = (part.label or part.id).strip("()").replace(")(", ".")
        flags = re.IGNORECASE if len(label) > 1 else 0
        if any(re.search(p, text, flags | re.IGNORECASE) for p in _label_patterns(label)):
            found.append(part.id)
        elif len(label) == 1 and re.search(
            rf"\b(?:for|about|on|in|regarding|blank|answer to|your)\s+{label.upper()}(?![\w(])", text
        ):  # 'for D, why ...': a capital letter after a preposition names a part or blank, 'a' does not
            found.append(part.id)
    mains = list(dict.fromkeys(p.id.split(".")[0] for p in lp.problem.parts))
    if not any(m.lower() in ROMAN_NUMERALS for m in mains):  # 'On Part III — ...': the third part
        for m in re.finditer(r"\b(?i:part)\s+([IVX]{1,4})\b", text):
            numeral = m.group(1).lower()
            index = ROMAN_NUMERALS.index(numeral) if numeral in ROMAN_NUMERALS else -1
            if 0 <= index < len(mains):
                found += [
                    p.id for p in lp.problem.parts if p.id.split(".")[0] == mains[index] and p.id not in found
                ]
    display, inline = math_blocks(text)
    mentioned = {canonical(s.content) for s in [*display, *inline]}
    for part in lp.problem.parts:
        if part.id not in found and mentioned & set(asked_quantities(part.prompt)):
            found.append(part.id)
    return found


def topic_part(text: str, lp: LoadedProblem) -> str | None:
    """The one part whose prompt a user turn's words match best (two distinctive words at least), if any."""
    prompts = {p.id: set(words(f"{p.prompt} {p.expected or ''}")) for p in lp.problem.parts}
    counts: Counter[str] = Counter()
    for vocab in prompts.values():
        counts.update(vocab)
    distinctive = {pid: {w for w in vocab if counts[w] == 1} for pid, vocab in prompts.items()}
    said = set(words(text))
    scores = sorted(((len(said & v), pid) for pid, v in distinctive.items()), reverse=True)
    if not scores or scores[0][0] < 2 or (len(scores) > 1 and scores[1][0] == scores[0][0]):
        return None
    return scores[0][1]
