"""The numeric check: the number an answer states, never the last number of an expression."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from evalkit.checks.base import Answer
from evalkit.checks.text import NumericChecker, NumericParams

CTX = SimpleNamespace(part=SimpleNamespace(expected="0.443147"))  # ln 2 - 1/4, a KL divergence


@pytest.mark.parametrize(
    ("answer", "status"),
    [
        ("KL = 0.443", "correct"),
        ("$\\mathrm{KL} \\approx 0.4431$ nats", "correct"),
        ("$\\mathrm{KL} = \\log 2 - 0.25 \\approx 0.443$", "correct"),  # the expression, then its value
        ("$\\mathrm{KL} = 0.25$", "incorrect"),
        ("$$\\mathrm{KL} = \\log 2 - 0.25$$", "unscored"),  # its last number, 0.25, is not its value
        ("$\\frac{1}{2} - 0.057$", "unscored"),
        ("KL = 3/8 + 1", "unscored"),
        ("It is $-0.25$.", "incorrect"),
    ],
)
def test_the_stated_number_is_graded_and_an_expression_is_not_read_as_its_last_number(
    answer: str, status: str
) -> None:
    result = NumericChecker().check(NumericParams(tolerance=1e-3), Answer(answer, answer), CTX)  # type: ignore[arg-type]
    assert result.status == status, result.explanation
