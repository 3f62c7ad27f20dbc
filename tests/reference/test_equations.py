"""evalkit.reference.equations against torch.einsum itself: the same shapes and the same refusals."""

from __future__ import annotations

import random

import pytest
import torch

from evalkit.reference.equations import einsum_shape

_LABELS = "abcAB"
_NOISE = ["1", "-", ".", "..", "...", " ", ",", ">", "->"]


def _random_term(rng: random.Random) -> str:
    term = "".join(rng.choice(_LABELS) for _ in range(rng.randint(0, 4)))
    if rng.random() < 0.2:
        at = rng.randint(0, len(term))
        term = term[:at] + "..." + term[at:]
    if rng.random() < 0.08:
        at = rng.randint(0, len(term))
        term = term[:at] + rng.choice(_NOISE) + term[at:]
    return term


def _random_case(rng: random.Random) -> tuple[str, list[tuple[int, ...]]]:
    terms = [_random_term(rng) for _ in range(rng.randint(1, 3))]
    equation = ",".join(terms)
    if rng.random() < 0.7:
        equation += "->" + _random_term(rng)
    count = len(terms) + (rng.random() < 0.1) - (rng.random() < 0.1)
    size_of = {label: rng.choice([1, 2, 3]) for label in _LABELS}
    shapes = []
    for k in range(max(count, 1)):
        term = terms[k] if k < len(terms) else "ab"
        shape = [size_of[c] if rng.random() < 0.9 else rng.choice([1, 2, 3]) for c in term if c.isalpha()]
        if "..." in term or rng.random() < 0.1:  # the ellipsis's dimensions, or a wrong rank
            shape[rng.randint(0, len(shape)) : 0] = [rng.choice([1, 2]) for _ in range(rng.randint(0, 2))]
        if rng.random() < 0.05 and shape:
            shape.pop()
        shapes.append(tuple(shape))
    return equation, shapes


def _torch_shape(equation: str, shapes: list[tuple[int, ...]]) -> tuple[int, ...] | None:
    try:
        return tuple(torch.einsum(equation, *[torch.zeros(s) for s in shapes]).shape)
    except RuntimeError:
        return None


def _ours(equation: str, shapes: list[tuple[int, ...]]) -> tuple[int, ...] | None:
    try:
        return einsum_shape(equation, shapes)
    except ValueError:
        return None


def test_random_equations_get_torchs_shape_or_its_refusal() -> None:
    rng = random.Random(20261202)
    refused = accepted = 0
    for _ in range(6000):
        equation, shapes = _random_case(rng)
        want = _torch_shape(equation, shapes)
        assert _ours(equation, shapes) == want, (equation, shapes)
        refused += want is None
        accepted += want is not None
    assert refused > 1000 and accepted > 1000  # both sides of the rule were exercised


@pytest.mark.parametrize(
    ("equation", "shapes", "shape"),
    [
        ("bd,hdq->bhq", [(2, 3), (5, 3, 7)], (2, 5, 7)),
        ("b d , d k -> b k", [(2, 3), (3, 5)], (2, 5)),
        ("ij,jk", [(2, 3), (3, 5)], (2, 5)),  # implicit output: subscripts seen once, sorted
        ("ij,jk->", [(2, 3), (3, 5)], ()),
        ("...ij,jk->...ik", [(7, 2, 3), (3, 5)], (7, 2, 5)),
        ("ij,jk->ik", [(2, 1), (3, 5)], (2, 5)),  # a size 1 broadcasts
    ],
)
def test_the_shape_of_a_valid_equation(equation: str, shapes: list[tuple[int, ...]], shape: tuple) -> None:
    assert einsum_shape(equation, shapes) == shape == _torch_shape(equation, shapes)


@pytest.mark.parametrize(
    ("equation", "shapes", "why"),
    [
        ("bd,dk->bk", [(2, 3), (4, 5)], r"subscript d has sizes \[3, 4\] in different operands"),
        ("ii->i", [(2, 3)], r"subscript i is repeated in operand 0 with sizes 2 and 3"),
        ("bd,dk->bk", [(2, 3)], r"the equation has 2 operands, but only 1 are given"),
        ("bd->b", [(2, 3), (3,)], r"the equation has 1 operand\(s\), but 2 are given"),
        ("bdq,dk->bk", [(2, 3), (3, 5)], r"operand 0 has 2 dimension\(s\), but the equation gives it 3"),
        ("bd,dk->bz", [(2, 3), (3, 5)], r"output subscript z is in no operand"),
        ("bd,dk->bbk", [(2, 3), (3, 5)], r"output subscript b appears more than once"),
        ("b1,dk->bk", [(2, 3), (3, 5)], r"'1' at index 1 is not a subscript"),
        ("b.,dk->bk", [(2, 3), (3, 5)], r"'\.' at index 1 of operand 0 is not part of one ellipsis"),
    ],
)
def test_what_torch_refuses_is_refused_with_why(equation: str, shapes: list, why: str) -> None:
    assert _torch_shape(equation, shapes) is None
    with pytest.raises(ValueError, match=why):
        einsum_shape(equation, shapes)
