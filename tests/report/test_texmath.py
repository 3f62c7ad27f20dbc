"""Model math re-emitted from an allow-list: exact outputs for a case table, and invariants under fuzzing."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest
import yaml

from evalkit.report.allowlist import ENVS, ONE_ARG, SIZES, TEXT_CMDS, TWO_ARG, ZERO_ARG
from evalkit.report.texescape import _ASCII, DECLARED
from evalkit.report.texmath import MathTooComplex, sanitize_math

CASES = yaml.safe_load((Path(__file__).parent / "cases" / "math.yaml").read_text(encoding="utf-8"))

ALLOWED_COMMANDS = (
    ZERO_ARG
    | ONE_ARG
    | TWO_ARG
    | TEXT_CMDS
    | SIZES
    | {"begin", "end", "left", "right", "middle", "limits", "nolimits", "ekunichar"}
    | {name for text in [*_ASCII.values(), *DECLARED.values()] for name in re.findall(r"\\([A-Za-z]+)", text)}
)
ALLOWED_ENVIRONMENTS = {name or key for key, (name, _) in ENVS.items()} - {"group"}
# a control word, or a control symbol; "\\" (a row break) is allowed and skipped first
_COMMAND = re.compile(r"\\\\|\\([A-Za-z]+)|\\(.)")


def _commands(tex: str) -> list[str]:
    return [m.group(1) or m.group(2) for m in _COMMAND.finditer(tex) if m.group(0) != "\\\\"]


def _balanced(tex: str) -> bool:
    depth = 0
    for m in re.finditer(r"\\.|[{}]", tex):
        token = m.group(0)
        if token == "{":
            depth += 1
        elif token == "}":
            depth -= 1
            if depth < 0:
                return False
    return depth == 0


@pytest.mark.parametrize("case", CASES, ids=[c["tex"] for c in CASES])
def test_case_table(case: dict) -> None:
    out = sanitize_math(case["tex"])
    if "latex" in case:
        assert out == case["latex"]
    for piece in case.get("shown", []):
        assert piece in out


def _check_invariants(source: str) -> None:
    out = sanitize_math(source)
    assert _balanced(out), (source, out)
    for name in _commands(out):
        assert name in ALLOWED_COMMANDS or not name.isalpha(), (source, out, name)
        if not name.isalpha():
            assert name in ",:;! |{}#$%&_", (source, out, name)
    for env in re.findall(r"\\(?:begin|end)\{([^}]*)\}", out):
        assert env in ALLOWED_ENVIRONMENTS, (source, out)
    assert "^^" not in out.replace("^{}{}^", "")
    assert out.count(r"\begin{") == out.count(r"\end{")


_PIECES = [
    "x", "1", " ", "{", "}", "^", "_", "&", "\\\\", "$", "%", "#", "'", "~", "[", "]", "(", ")",
    r"\frac", r"\sqrt", r"\left(", r"\right)", r"\middle|", r"\big(", r"\text{", r"\begin{aligned}",
    r"\end{aligned}", r"\begin{bmatrix}", r"\end{bmatrix}", r"\begin{array}{c}", r"\end{array}",
    r"\input", r"\write18", r"\def", r"\csname", r"\end{document}", r"\catcode", r"\limits", r"\sum",
    r"\operatorname*{op}", r"\mathbb", "α", "😀", "\\", r"\not", r"\begin{cases}", r"\end{cases}",
]  # fmt: skip


def test_fuzzed_math_only_ever_uses_the_allow_list() -> None:
    rng = random.Random(182)
    for _ in range(600):
        source = "".join(rng.choice(_PIECES) for _ in range(rng.randint(1, 25)))
        _check_invariants(source)
    for case in CASES:
        _check_invariants(case["tex"])


def test_size_and_depth_are_bounded() -> None:
    with pytest.raises(MathTooComplex):
        sanitize_math("x+" * 5000)
    with pytest.raises(MathTooComplex):
        sanitize_math("{" * 100 + "x" + "}" * 100)


def test_mathml_target_renames_environments_latex2mathml_reads() -> None:
    assert sanitize_math(r"a&=b\\c&=d", "mathml").startswith(r"\begin{align*}")
    assert sanitize_math(r"\begin{gather}a\\b\end{gather}", "mathml").startswith(r"\begin{array}{c}")
