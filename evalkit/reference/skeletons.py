"""The homework's code as handed out: skeletons with named blanks, and the start of Q3(b).

A blank is written as the homework writes it — ``____(a)___``, ``___ (d) ___``
or ``_____C_____`` — and named by the letter inside. :func:`fill_blanks`
substitutes answers into a skeleton the way a student would: an answer in
attribute position (``self._____(h)_____``, ``torch.__(e)____``) must be a
dotted name and loses a repeated prefix (``self.W_o`` after ``self.`` becomes
``W_o``); any other answer is parenthesized, so it stays one expression. Example::

    source = fill_blanks(MHA_SKELETON, {"a": "d_model", ..., "h": "W_o"})
"""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping
from dataclasses import dataclass

from evalkit.errors import SpecError

__all__ = [
    "MHA_SKELETON",
    "MHA_WIDE_V_START",
    "MQA_STEP_SKELETON",
    "BlankError",
    "Skeleton",
    "fill_blanks",
    "find_blanks",
    "get_skeleton",
    "skeleton_names",
]

PRELUDE = "import math\n\nimport torch\nimport torch.nn as nn\nimport torch.nn.functional as F\n"

MHA_SKELETON = (
    PRELUDE
    + """

class MultiHeadAttention(nn.Module):
    def __init__(self, d_model, num_heads):
        super(MultiHeadAttention, self).__init__()
        assert d_model % num_heads == 0, "d_model must be divisible by num_heads"
        self.d_model = d_model
        self.num_heads = num_heads
        self.d_k = d_model // num_heads
        self.W_q = nn.Linear(d_model, d_model)
        self.W_k = nn.Linear(d_model, ____(a)___)
        self.W_v = nn.Linear(____(b)____, d_model)
        self.W_o = nn.Linear(d_model, ____(c)___)

    def scaled_dot_product_attention(self, Q, K, V, mask=None):
        attn_scores = torch.matmul(___ (d) ___, K.transpose(-2, -1)) / math.sqrt(self.d_k)
        if mask is not None:
            attn_scores = attn_scores.masked_fill(mask == 0, -1e9)
        attn_probs = torch.__(e)____(attn_scores, dim=-1)
        output = torch.matmul(attn_probs, ____ (f) ____)
        return output

    def split_heads(self, x):
        batch_size, seq_length, d_model = x.size()
        return x.view(batch_size, seq_length, _____ (g) _____, self.d_k).transpose(1, 2)

    def combine_heads(self, x):
        batch_size, _, seq_length, d_k = x.size()
        return x.transpose(1, 2).contiguous().view(batch_size, seq_length, self.d_model)

    def forward(self, Q, K, V, mask=None):
        Q = self.split_heads(self.W_q(Q))
        K = self.split_heads(self.W_k(K))
        V = self.split_heads(self.W_v(V))
        attn_output = self.scaled_dot_product_attention(Q, K, V, mask)
        output = self._____(h)_____(self.combine_heads(attn_output))
        return output
"""
)

MHA_WIDE_V_START = (
    PRELUDE
    + """

class MultiHeadAttention(nn.Module):
    def __init__(self, d_model, num_heads):
        super(MultiHeadAttention, self).__init__()
        assert d_model % num_heads == 0, "d_model must be divisible by num_heads"
        self.d_model = d_model
        self.num_heads = num_heads
        self.d_k = d_model // num_heads
        self.W_q = nn.Linear(d_model, d_model)
        self.W_k = nn.Linear(d_model, d_model)
        self.W_v = nn.Linear(in_features=d_model, out_features=2 * d_model)
        self.W_o = nn.Linear(d_model, d_model)

    def scaled_dot_product_attention(self, Q, K, V, mask=None):
        attn_scores = torch.matmul(Q, K.transpose(-2, -1)) / math.sqrt(self.d_k)
        if mask is not None:
            attn_scores = attn_scores.masked_fill(mask == 0, -1e9)
        attn_probs = torch.softmax(attn_scores, dim=-1)
        output = torch.matmul(attn_probs, V)
        return output

    def split_heads(self, x):
        batch_size, seq_length, d_model = x.size()
        return x.view(batch_size, seq_length, self.num_heads, self.d_k).transpose(1, 2)

    def combine_heads(self, x):
        batch_size, _, seq_length, d_k = x.size()
        return x.transpose(1, 2).contiguous().view(batch_size, seq_length, self.d_model)

    def forward(self, Q, K, V, mask=None):
        Q = self.split_heads(self.W_q(Q))
        K = self.split_heads(self.W_k(K))
        V = self.split_heads(self.W_v(V))
        attn_output = self.scaled_dot_product_attention(Q, K, V, mask)
        output = self.W_o(self.combine_heads(attn_output))
        return output
"""
)

MQA_STEP_SKELETON = (
    PRELUDE
    + '''

def multiquery_attention_step(x, prev_K, prev_V, W_q, W_k, W_v, W_o):
    """x [b, d]; prev_K [b, n, k]; prev_V [b, n, v]; W_q: A; W_k: B; W_v [d, v]; W_o [h, v, d]."""
    q = _____C_____
    k = _____D_____
    v = _____E_____
    new_K = torch.cat([prev_K, k.unsqueeze(1)], dim=1)
    new_V = torch.cat([prev_V, v.unsqueeze(1)], dim=1)
    logits = torch.einsum("bhk,bnk->bhn", q, new_K)
    weights = torch.softmax(logits, dim=-1)
    o = torch.einsum("bhn,bnv->bhv", weights, new_V)
    y = torch.einsum("bhv,hvd->bd", o, W_o)
    return y, new_K, new_V
'''
)

# ``____(a)___`` / ``___ (d) ___`` (parenthesized) or ``_____C_____`` (three or more underscores each side).
_BLANK = re.compile(r"_{2,}\s*\(\s*(?P<p>[A-Za-z0-9]+)\s*\)\s*_{2,}|_{3,}(?P<b>[A-Za-z0-9]+?)_{3,}")
_PREFIX = re.compile(r"((?:[A-Za-z_][A-Za-z0-9_]*\.)+)$")
_DOTTED = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*$")
_FORBIDDEN_NODES = (
    ast.Lambda,
    ast.NamedExpr,
    ast.comprehension,
    ast.Await,
    ast.Yield,
    ast.YieldFrom,
    ast.Starred,
)
MAX_BLANK_CHARS = 200


class BlankError(ValueError):
    """An answer cannot stand in a blank (not one expression, or not a name where a name goes)."""


@dataclass(frozen=True)
class Skeleton:
    """A named piece of homework code: its source and the blanks in it (empty for a patch base)."""

    name: str
    source: str
    entry: str
    summary: str

    @property
    def blanks(self) -> tuple[str, ...]:
        return find_blanks(self.source)


def find_blanks(source: str) -> tuple[str, ...]:
    """The blank names in ``source``, in order of first appearance."""
    names: list[str] = []
    for match in _BLANK.finditer(source):
        name = match.group("p") or match.group("b")
        if name not in names:
            names.append(name)
    return tuple(names)


def check_blank_value(name: str, value: str) -> str:
    """``value`` stripped, if it is one Python expression without lambdas, walruses or dunders."""
    value = value.strip()
    if not value:
        raise BlankError(f"blank ({name}) is empty")
    if len(value) > MAX_BLANK_CHARS:
        raise BlankError(f"blank ({name}) is {len(value)} characters long (limit {MAX_BLANK_CHARS})")
    try:
        tree = ast.parse(value, mode="eval")
    except SyntaxError as err:
        raise BlankError(f"blank ({name}) = {value!r} is not a Python expression ({err.msg})") from None
    for node in ast.walk(tree):
        if isinstance(node, _FORBIDDEN_NODES):
            raise BlankError(
                f"blank ({name}) = {value!r} uses {type(node).__name__}, which a blank cannot hold"
            )
        if isinstance(node, ast.Name | ast.Attribute):
            ident = node.id if isinstance(node, ast.Name) else node.attr
            if ident.startswith("__"):
                raise BlankError(f"blank ({name}) = {value!r} uses the dunder name {ident}")
    return value


def fill_blanks(source: str, values: Mapping[str, str]) -> str:
    """``source`` with every blank replaced by its value; BlankError if a value is missing or unfit."""
    out: list[str] = []
    pos = 0
    for match in _BLANK.finditer(source):
        name = match.group("p") or match.group("b")
        if name not in values:
            raise BlankError(f"no value for blank ({name})")
        value = check_blank_value(name, values[name])
        before = source[pos : match.start()]
        prefix = _PREFIX.search(before)
        if prefix is not None:  # attribute position: `self.____(h)___`
            chain = prefix.group(1)
            if value.startswith(chain):
                value = value[len(chain) :]
            if not _DOTTED.match(value):
                raise BlankError(f"blank ({name}) follows {chain!r}, so it must be a name, not {value!r}")
            out.append(before + value)
        else:
            simple = _DOTTED.match(value) or re.fullmatch(r"-?\d+(\.\d+)?", value)
            out.append(before + (value if simple else f"({value})"))
        pos = match.end()
    out.append(source[pos:])
    return "".join(out)


SKELETONS: dict[str, Skeleton] = {
    s.name: s
    for s in (
        Skeleton(
            "mha", MHA_SKELETON, "MultiHeadAttention", "HW9 Q3(a): MultiHeadAttention with blanks (a)-(h)"
        ),
        Skeleton(
            "mha_wide_v_start",
            MHA_WIDE_V_START,
            "MultiHeadAttention",
            "HW9 Q3(b): the filled class with W_v changed to output 2 * d_model (crashes until fixed)",
        ),
        Skeleton(
            "mqa_step",
            MQA_STEP_SKELETON,
            "multiquery_attention_step",
            "HW9 Q4: one multi-query decoding step with blanks C, D, E (the q, k, v einsums)",
        ),
    )
}


def skeleton_names() -> list[str]:
    """The registered skeleton names, sorted."""
    return sorted(SKELETONS)


def get_skeleton(name: str) -> Skeleton:
    """The skeleton called ``name``; a SpecError naming the known ones otherwise."""
    try:
        return SKELETONS[name]
    except KeyError:
        raise SpecError(f"unknown skeleton {name!r}; expected one of {', '.join(skeleton_names())}") from None
