"""Answers a reply gives as data: a JSON or YAML block whose keys name the parts.

A model asked for machine-readable answers writes them as ``{"A": "(h, d, q)", "f": "O(...)"}`` or as
YAML nested by question (``q1: {a: ..., b: ...}``). Each leaf becomes an entry: the question number
its keys name (``q1``, ``Q4``, ``question_2``; None when they name none), the part key as written
(``b_ii``, ``(f)``, ``A``) and its value as text. A call or an identifier goes in a code span, so a
code reader sees it as written (``torch.einsum("bd,dv->bv", x, W_k)`` keeps its operands); math and
prose stay as written. Parsing is bounded: blocks over 64 KiB, deeper than 4 levels or with more
than 500 leaves are not read (a YAML alias bomb expands nothing here).
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import yaml

__all__ = ["DataEntry", "data_entries"]

_FENCE = re.compile(
    r"^[ \t]*(?P<fence>```|~~~)[ \t]*(?P<lang>[\w+-]*)[^\n]*\n(?P<body>.*?)^[ \t]*(?P=fence)[ \t]*$",
    re.MULTILINE | re.DOTALL,
)
_QUESTION_KEY = re.compile(
    r"^(?:q|question|problem|exercise|hw\d*[_\-. ]?q)?[_\-. ]?(\d{1,2})$", re.IGNORECASE
)
_CODE = re.compile(r"^[A-Za-z_][\w.]*\(.*\)$|^self\.\w+$|^[A-Za-z_]\w*$")
_MAX_BODY = 64 * 1024
_MAX_DEPTH = 4
_MAX_LEAVES = 500


@dataclass(frozen=True)
class DataEntry:
    offset: int  # where the block starts in the reply
    question: int | None
    key: str
    value: str


def _parse(lang: str, body: str) -> Any:
    if len(body) > _MAX_BODY:
        return None
    lang = lang.lower()
    try:
        if lang in ("json", "jsonc", "json5") or (not lang and body.lstrip().startswith("{")):
            return json.loads(body)
        if lang in ("yaml", "yml"):
            return yaml.safe_load(body)
        if lang in ("python", "py", "python3", ""):
            return _python_dict(body)
    except (ValueError, yaml.YAMLError, RecursionError):
        return None
    return None


def _python_dict(body: str) -> Any:
    """A Python block that is one dict literal (``answers = {"A": "[h, d, q]", ...}``), read with
    ``ast.literal_eval``: literals only, nothing of it is run. None for any other code."""
    try:
        tree = ast.parse(body)
    except (SyntaxError, ValueError, MemoryError):
        return None
    if len(tree.body) != 1:
        return None
    node = tree.body[0]
    value = node.value if isinstance(node, ast.Assign | ast.Expr) else None
    if not isinstance(value, ast.Dict):
        return None
    try:
        return ast.literal_eval(value)
    except (ValueError, TypeError, SyntaxError, MemoryError):
        return None


def _leaves(data: Any, path: tuple[str, ...], budget: list[int]) -> Iterator[tuple[tuple[str, ...], Any]]:
    if budget[0] <= 0:
        return
    if isinstance(data, dict):
        if len(path) >= _MAX_DEPTH:
            return
        for key, value in data.items():
            yield from _leaves(value, (*path, str(key)), budget)
    elif path:
        budget[0] -= 1
        yield path, data


def _text(value: Any) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return f"`{value}`"
    if isinstance(value, list):
        if len(value) > 64 or not all(
            isinstance(v, int | float | str) and not isinstance(v, bool) for v in value
        ):
            return None
        return "`[" + ", ".join(str(v) for v in value) + "]`"
    if not isinstance(value, str) or not value.strip():
        return None
    value = value.strip()
    if "`" not in value and "\n" not in value and _CODE.search(value):
        return f"`{value}`"  # a call keeps its operands: torch.einsum("bd,dv->bv", x, W_k)
    return value  # math or prose, read as written


def data_entries(text: str) -> list[DataEntry]:
    """Every part answer given in a JSON or YAML block of ``text``, in order."""
    out: list[DataEntry] = []
    for m in _FENCE.finditer(text):
        data = _parse(m.group("lang"), m.group("body"))
        if not isinstance(data, dict):
            continue
        for path, value in _leaves(data, (), [_MAX_LEAVES]):
            rendered = _text(value)
            if rendered is None:
                continue
            numbers = [int(q.group(1)) for k in path[:-1] if (q := _QUESTION_KEY.match(k.strip()))]
            out.append(DataEntry(m.start(), numbers[-1] if numbers else None, path[-1].strip(), rendered))
    return out
