"""An einsum equation checked against operand shapes without torch: its result's shape, or why it fails.

A rubric's ``mode: einsum`` check declares the expected equation and its
operands' symbolic shapes (``operands: {x: [b, d], W_q: [h, d, q]}``, ``expected:
'bd,hdq->bhq'``). Validating the rubric asks whether ``torch.einsum`` accepts the
equation on operands of those shapes; :func:`einsum_shape` answers with torch's own
rules and no torch, so a validation that runs no reference needs no torch import
(over a second). tests/reference/test_equations.py holds it to ``torch.einsum`` on
random equations and shapes. Example::

    einsum_shape("bd,hdq->bhq", [(2, 3), (5, 3, 7)])    # (2, 5, 7)
    einsum_shape("bd,dk->bk", [(2, 3), (4, 7)])         # ValueError: subscript d is 3 in operand 0 …
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["einsum_shape"]

_ELLIPSIS = "..."


@dataclass(frozen=True)
class _Term:
    labels: tuple[str, ...]  # in order, without the ellipsis
    ellipsis_at: int | None  # how many labels come before the ellipsis (None: no ellipsis)


def _term(text: str, start: int, where: str) -> _Term:
    """One operand's (or the output's) subscripts: letters, spaces, at most one ``...``."""
    labels: list[str] = []
    ellipsis_at: int | None = None
    i = 0
    while i < len(text):
        char = text[i]
        if char == ".":
            if text[i : i + 3] != _ELLIPSIS or ellipsis_at is not None:
                raise ValueError(f"'.' at index {start + i} of {where} is not part of one ellipsis '...'")
            ellipsis_at = len(labels)
            i += 3
            continue
        if char == " ":
            i += 1
            continue
        if not ("a" <= char <= "z" or "A" <= char <= "Z"):
            raise ValueError(f"{char!r} at index {start + i} is not a subscript (subscripts are a-z, A-Z)")
        labels.append(char)
        i += 1
    return _Term(tuple(labels), ellipsis_at)


def _broadcast(sizes: Sequence[int]) -> int | None:
    """The size that sizes broadcast to (equal, or 1), or None if they cannot."""
    others = {s for s in sizes if s != 1}
    if len(others) > 1:
        return None
    return others.pop() if others else 1


def einsum_shape(equation: str, shapes: Sequence[Sequence[int]]) -> tuple[int, ...]:
    """The shape ``torch.einsum(equation, *operands)`` returns for operands of ``shapes``.

    Raises ValueError saying why torch would refuse them: a character that is not a
    subscript, too few or too many operands, a term with more or fewer subscripts than its
    operand has dimensions, a subscript whose sizes differ (repeated in one operand they must
    be equal; across operands, equal or 1), an output subscript that is repeated or in no input.
    """
    lhs, arrow, rhs = equation.partition("->")
    parts = lhs.split(",")
    if len(parts) < len(shapes):
        raise ValueError(f"the equation has {len(parts)} operand(s), but {len(shapes)} are given")
    if len(parts) > len(shapes):
        raise ValueError(f"the equation has {len(parts)} operands, but only {len(shapes)} are given")
    terms: list[_Term] = []
    offset = 0
    for index, part in enumerate(parts):
        terms.append(_term(part, offset, f"operand {index}"))
        offset += len(part) + 1
    output = _term(rhs, len(lhs) + 2, "the output") if arrow else None

    sizes: dict[str, list[int]] = {}
    ellipses: list[tuple[int, ...]] = []
    for index, (term, shape) in enumerate(zip(terms, shapes, strict=True)):
        count = len(term.labels)
        if (term.ellipsis_at is None and count != len(shape)) or count > len(shape):
            raise ValueError(
                f"operand {index} has {len(shape)} dimension(s), but the equation gives it "
                f"{count} subscript(s) ({''.join(term.labels) or 'none'})"
            )
        dims = list(shape)
        if term.ellipsis_at is not None:
            cut = term.ellipsis_at
            width = len(shape) - count
            ellipses.append(tuple(dims[cut : cut + width]))
            dims = dims[:cut] + dims[cut + width :]
        mine: dict[str, int] = {}
        for label, size in zip(term.labels, dims, strict=True):
            if label in mine and mine[label] != size:
                raise ValueError(
                    f"subscript {label} is repeated in operand {index} with sizes {mine[label]} and {size}"
                )
            mine[label] = size
        for label, size in mine.items():
            sizes.setdefault(label, []).append(size)
    size_of: dict[str, int] = {}
    for label, seen in sizes.items():
        common = _broadcast(seen)
        if common is None:
            raise ValueError(f"subscript {label} has sizes {sorted(set(seen))} in different operands")
        size_of[label] = common
    width = max((len(e) for e in ellipses), default=0)
    padded = [(1,) * (width - len(e)) + e for e in ellipses]
    ellipsis_shape: list[int] = []
    for column in zip(*padded, strict=True):
        common = _broadcast(column)
        if common is None:
            raise ValueError(f"the dimensions covered by '...' do not broadcast: {list(map(list, ellipses))}")
        ellipsis_shape.append(common)

    if output is None:  # implicit: the broadcast ellipsis, then every subscript seen once, sorted
        counts: dict[str, int] = {}
        for term in terms:
            for label in term.labels:
                counts[label] = counts.get(label, 0) + 1
        return (*ellipsis_shape, *(size_of[label] for label in sorted(counts) if counts[label] == 1))
    out: list[int] = []
    seen_labels: set[str] = set()
    for position, label in enumerate(output.labels):
        if output.ellipsis_at == position:
            out.extend(ellipsis_shape)
        if label in seen_labels:
            raise ValueError(f"output subscript {label} appears more than once")
        if label not in size_of:
            raise ValueError(f"output subscript {label} is in no operand")
        seen_labels.add(label)
        out.append(size_of[label])
    if output.ellipsis_at == len(output.labels):
        out.extend(ellipsis_shape)
    return tuple(out)
