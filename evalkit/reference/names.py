"""The built-in references by name, without importing torch: what a rubric may name, and what each is.

:mod:`evalkit.reference.registry` builds its :class:`~evalkit.reference.registry.Reference`
objects from this table (importing torch and the implementing modules); validation
that runs no torch checks a rubric's ``reference:`` against it. Example::

    BUILTIN["mha"].is_module           # True: cases build it from their 'init' keywords
    BUILTIN["sdpa"].target             # 'attention:scaled_dot_product_attention'
"""

from __future__ import annotations

from dataclasses import dataclass

from evalkit.errors import SpecError

__all__ = ["BUILTIN", "Builtin", "builtin", "builtin_names"]


@dataclass(frozen=True)
class Builtin:
    """A built-in reference: ``target`` is ``module:attribute`` in :mod:`evalkit.reference`."""

    target: str
    entry: str
    summary: str
    is_module: bool = False


BUILTIN: dict[str, Builtin] = {
    "sdpa": Builtin("attention:scaled_dot_product_attention", "scaled_dot_product_attention",
                    "softmax(QKᵀ/√d) V, with an optional mask (mask == 0 is excluded)"),
    "argmax_attention": Builtin("attention:argmax_attention", "argmax_attention",
                                "one-hot(argmax QKᵀ) V: values get gradients, queries and keys do not"),
    "mha": Builtin("mha:MultiHeadAttention", "MultiHeadAttention",
                   "HW9 Q3(a): the homework's MultiHeadAttention(d_model, num_heads), filled", is_module=True),
    "mha_wide_v": Builtin("mha:MultiHeadAttentionWideValues", "MultiHeadAttention",
                          "HW9 Q3(b): values of 2 * d_model features, W_o back to d_model", is_module=True),
    "mha_step": Builtin("decoding:mha_decode_step", "multihead_attention_step",
                        "HW9 Q4: one multi-head decoding step (prev_K [b, h, n, k])"),
    "mqa_step": Builtin("decoding:mqa_decode_step", "multiquery_attention_step",
                        "HW9 Q4: one multi-query decoding step (prev_K [b, n, k])"),
    "quadratic_feature_map": Builtin("linear:quadratic_feature_map", "phi",
                                     "HW9 Q6: φ with φ(q)·φ(k) = (q·k + 1)², dimension 1 + D + D(D+1)/2"),
    "kernel_attention": Builtin("linear:kernel_attention", "kernel_attention",
                                "HW9 Q6: linearized attention φ(Q)(φ(K)ᵀV) / φ(Q)Σφ(K) with the quadratic φ"),
    "quadratic_kernel_attention": Builtin("linear:quadratic_kernel_attention", "kernel_attention",
                                          "HW9 Q6: the O(N²) form with sim(q, k) = (qᵀk + 1)²"),
    "softmax_attention": Builtin("linear:softmax_attention", "softmax_attention",
                                 "HW9 Q6: exp(qᵀk/√D)-weighted average of the values"),
}  # fmt: skip


def builtin_names() -> list[str]:
    """The built-in reference names, sorted."""
    return sorted(BUILTIN)


def builtin(name: str) -> Builtin:
    """The built-in reference called ``name``; a SpecError naming the known ones otherwise."""
    try:
        return BUILTIN[name]
    except KeyError:
        raise SpecError(f"unknown reference {name!r}; expected one of {', '.join(builtin_names())}") from None
