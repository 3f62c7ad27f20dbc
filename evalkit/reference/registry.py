"""Name registries of reference implementations and homework skeletons.

Code checks name their ground truth (``reference: mha_wide_v``) and their
starting code (``skeleton: mha``); an unknown name is a SpecError that lists
the known ones. Example::

    ref = get_reference("sdpa")
    expected = ref.call({}, (Q, K, V))
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from evalkit.errors import SpecError
from evalkit.reference import attention, decoding, linear, mha
from evalkit.reference.skeletons import get_skeleton, skeleton_names

__all__ = ["Reference", "get_reference", "get_skeleton", "reference_names", "skeleton_names"]


@dataclass(frozen=True)
class Reference:
    """A trusted implementation: a function, or an ``nn.Module`` class built from ``init`` keywords.

    ``entry`` is the name the homework gives it, the default name looked up in
    a model's code. ``origin`` tells apart references of the same name: empty
    for the built-in ones, the file's path and content digest for an author's
    (:mod:`evalkit.reference.files`).
    """

    name: str
    target: Callable[..., Any]
    entry: str
    summary: str
    is_module: bool = False
    origin: str = ""

    def build(self, init: Mapping[str, Any], seed: int) -> nn.Module:
        """The module with weights drawn from ``seed`` (its state dict is what a model's class receives)."""
        if not self.is_module:
            raise SpecError(f"reference {self.name!r} is a function; it has no weights to copy")
        torch.manual_seed(seed)
        module = self.target(**init)
        assert isinstance(module, nn.Module)
        return module.eval()

    def call(self, init: Mapping[str, Any], args: Sequence[Any], module: nn.Module | None = None) -> Any:
        """Run the reference on ``args`` (for a module: ``module`` or a fresh one built from ``init``)."""
        if self.is_module:
            module = module if module is not None else self.target(**init)
            return module(*args)
        return self.target(*args, **init)


def outputs_of(value: Any) -> tuple[Tensor, ...]:
    """A call's result as a tuple of tensors (a single tensor becomes a 1-tuple)."""
    if isinstance(value, Tensor):
        return (value,)
    if isinstance(value, tuple | list) and all(isinstance(v, Tensor) for v in value):
        return tuple(value)
    raise TypeError(f"expected a tensor or a tuple of tensors, got {type(value).__name__}")


_REFERENCES: dict[str, Reference] = {
    r.name: r
    for r in (
        Reference("sdpa", attention.scaled_dot_product_attention, "scaled_dot_product_attention",
                  "softmax(QKᵀ/√d) V, with an optional mask (mask == 0 is excluded)"),
        Reference("argmax_attention", attention.argmax_attention, "argmax_attention",
                  "one-hot(argmax QKᵀ) V: values get gradients, queries and keys do not"),
        Reference("mha", mha.MultiHeadAttention, "MultiHeadAttention",
                  "HW9 Q3(a): the homework's MultiHeadAttention(d_model, num_heads), filled", is_module=True),
        Reference("mha_wide_v", mha.MultiHeadAttentionWideValues, "MultiHeadAttention",
                  "HW9 Q3(b): values of 2 * d_model features, W_o back to d_model", is_module=True),
        Reference("mha_step", decoding.mha_decode_step, "multihead_attention_step",
                  "HW9 Q4: one multi-head decoding step (prev_K [b, h, n, k])"),
        Reference("mqa_step", decoding.mqa_decode_step, "multiquery_attention_step",
                  "HW9 Q4: one multi-query decoding step (prev_K [b, n, k])"),
        Reference("quadratic_feature_map", linear.quadratic_feature_map, "phi",
                  "HW9 Q6: φ with φ(q)·φ(k) = (q·k + 1)², dimension 1 + D + D(D+1)/2"),
        Reference("kernel_attention", linear.kernel_attention, "kernel_attention",
                  "HW9 Q6: linearized attention φ(Q)(φ(K)ᵀV) / φ(Q)Σφ(K) with the quadratic φ"),
        Reference("quadratic_kernel_attention", linear.quadratic_kernel_attention, "kernel_attention",
                  "HW9 Q6: the O(N²) form with sim(q, k) = (qᵀk + 1)²"),
        Reference("softmax_attention", linear.softmax_attention, "softmax_attention",
                  "HW9 Q6: exp(qᵀk/√D)-weighted average of the values"),
    )
}  # fmt: skip


def reference_names() -> list[str]:
    """The registered reference names, sorted."""
    return sorted(_REFERENCES)


def get_reference(name: str) -> Reference:
    """The reference called ``name``; a SpecError naming the known ones otherwise."""
    try:
        return _REFERENCES[name]
    except KeyError:
        raise SpecError(
            f"unknown reference {name!r}; expected one of {', '.join(reference_names())}"
        ) from None
