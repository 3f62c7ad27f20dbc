"""Reading a reply for the ``code`` check: code fences, blank answers, einsums and shapes.

The helpers find what an answer states and return it as text (or ``None`` when
it states nothing); they run nothing and give no verdict: :mod:`evalkit.checks.code`
runs and compares. An answer's texts are ``answer.history`` (oldest first), then
``answer.text`` (:func:`_attempts`).

Example::

    _blank_values("(a) = `d_model`\n(b) = `num_heads`", ["a", "b"])   # {"a": "d_model", "b": "num_heads"}
    _shape_answer("A = [h, d, k]", "A")                                # ["h", "d", "k"]
"""

from __future__ import annotations

import ast
import re
from collections.abc import Sequence

from evalkit.checks.base import Answer

_FENCE = re.compile(r"^[ \t]*(```|~~~)[ \t]*([\w+-]*)[^\n]*\n(.*?)(?:^[ \t]*\1[ \t]*$|\Z)", re.M | re.S)
_CODE_LANGS = {"", "python", "py", "python3", "torch", "pytorch"}
_CHECKS = "✓✔✅✗✘❌"


def _code_blocks(text: str) -> list[str]:
    """The fenced code blocks of ``text`` that may be Python, in order."""
    return [m.group(3) for m in _FENCE.finditer(text) if m.group(2).lower() in _CODE_LANGS]


def _attempts(answer: Answer) -> list[str]:
    return [*answer.history, answer.text]


def _delatex(text: str) -> str:
    text = re.sub(r"\\(?:text|mathrm|texttt|operatorname|mathtt|mathit)\{([^{}]*)\}", r"\1", text)
    text = re.sub(r"_\{([^{}]*)\}", r"_\1", text)
    for latex, plain in (("\\cdot", "*"), ("\\times", "*"), ("\\left", ""), ("\\right", ""), ("\\,", " ")):
        text = text.replace(latex, plain)
    return text.replace("\\_", "_").replace("{", "").replace("}", "").strip()


def _parses(value: str) -> bool:
    try:
        ast.parse(value, mode="eval")
    except SyntaxError:
        return False
    return True


def _clean_value(raw: str) -> str:
    """The code a blank's answer names, from a table cell or the rest of a line."""
    for pattern in (r"`([^`]+)`", r"<code>(.*?)</code>"):
        match = re.search(pattern, raw)
        if match:
            return match.group(1).replace("\\_", "_").strip()
    match = re.search(r"\$([^$]+)\$|\\\((.+?)\\\)", raw)
    if match:
        return _delatex(match.group(1) or match.group(2))
    plain = raw.replace("\\_", "_").replace("*", " ").strip(" |\t" + _CHECKS).rstrip(".,;:")
    plain = plain.strip(" " + _CHECKS)
    if _parses(plain):
        return plain
    tokens = [t.rstrip(".,;:") for t in plain.split()]
    return next((t for t in reversed(tokens) if _parses(t)), plain)


def _blank_values(text: str, names: Sequence[str]) -> dict[str, str]:
    """Each blank's answer in ``text``: the last line that states it (summaries come last)."""
    found: dict[str, str] = {}
    lines = [re.sub(r"^[\s>#|*-]+", "", line.replace("**", "")) for line in text.splitlines()]
    for name in names:
        n = re.escape(name)
        pattern = re.compile(
            rf"^(?:(?i:blank)\s*)?\(\s*{n}\s*\)\s*(?:=|:|\||\t|is\b|->|→)\s*(?P<v>.+)$"
            rf"|^{n}\s*(?:=|:)\s*(?P<w>.+)$"
        )
        for line in lines:
            match = pattern.match(line)
            if match:
                value = _clean_value(match.group("v") or match.group("w"))
                if value:
                    found[name] = value
    return found


def _einsum_calls(code: str) -> list[tuple[str, list[str] | None]]:
    try:
        tree = ast.parse(code)
    except SyntaxError:
        tree = None
    calls: list[tuple[str, list[str] | None]] = []
    for node in ast.walk(tree) if tree else ():
        if (
            isinstance(node, ast.Call)
            and (getattr(node.func, "attr", None) == "einsum" or getattr(node.func, "id", None) == "einsum")
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            names = [a.id if isinstance(a, ast.Name) else "?" for a in node.args[1:]]
            calls.append((node.args[0].value, names or None))
    return calls


_EQUATION = re.compile(r"""["'`]\s*([A-Za-z.]+(?:\s*,\s*[A-Za-z.]+)*\s*->\s*[A-Za-z.]*)\s*["'`]""")


def _einsum_answer(text: str, operands: Sequence[str]) -> tuple[str, list[str] | None] | None:
    """The einsum the reply gives: from code blocks first (calls on the declared operands preferred)."""
    in_blocks = [c for block in _code_blocks(text) for c in _einsum_calls(block)]
    inline = [c for span in re.findall(r"`([^`\n]+)`", text) for c in _einsum_calls(span)]
    for group in (in_blocks, inline):
        matching = [c for c in group if c[1] is not None and set(c[1]) == set(operands)]
        if matching or group:
            return (matching or group)[0]
    bare = _EQUATION.search(re.sub(_FENCE, "", text))
    return (bare.group(1), None) if bare else None


_SHAPE = r"\[\s*([^\[\]\n]+?)\s*\]"
_RN = r"\\mathbb\{R\}\^\{([^{}]+)\}"


def _shape_answer(text: str, blank: str | None) -> list[str] | None:
    """The shape the reply gives: ``BLANK = [...]``, ``\\boxed{[...]}`` or a line holding only a shape."""
    prose = re.sub(_FENCE, "", text)
    patterns = []
    if blank:
        patterns.append(
            rf"(?<![A-Za-z_]){re.escape(blank)}\s*(?:=|:|is|\\in|∈)\s*[$`*]*\s*(?:{_SHAPE}|{_RN})"
        )
    patterns.append(rf"\\boxed\{{\s*(?:{_SHAPE}|{_RN})\s*\}}")
    patterns.append(rf"^[\s$`*>]*(?:{_SHAPE}|{_RN})[\s$`*.]*$")
    for pattern in patterns:
        match = re.search(pattern, prose, re.M)
        if match:
            inner = match.group(1) or match.group(2)
            sep = "," if match.group(1) else "\\times"
            return [_delatex(part) for part in inner.split(sep)]
    return None
