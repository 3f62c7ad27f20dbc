"""Scaled dot-product attention and argmax attention (HW9 Q1–Q2), in torch.

Both take ``Q [..., n_q, d]``, ``K [..., n_k, d]``, ``V [..., n_k, d_v]`` and
return ``[..., n_q, d_v]``. Example::

    out = scaled_dot_product_attention(Q, K, V)          # softmax(QKᵀ/√d) V
    hard = argmax_attention(Q, K, V)                      # one-hot(argmax QKᵀ) V
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = ["argmax_attention", "scaled_dot_product_attention"]


def scaled_dot_product_attention(Q: Tensor, K: Tensor, V: Tensor, mask: Tensor | None = None) -> Tensor:
    """``softmax(Q Kᵀ / √d) V``; positions where ``mask == 0`` are excluded (the homework's -1e9 fill)."""
    scores = torch.matmul(Q, K.transpose(-2, -1)) / math.sqrt(Q.size(-1))
    if mask is not None:
        scores = scores.masked_fill(mask == 0, -1e9)
    return torch.matmul(torch.softmax(scores, dim=-1), V)


def argmax_attention(Q: Tensor, K: Tensor, V: Tensor) -> Tensor:
    """Hard attention: each query takes the value of its highest-scoring key.

    The one-hot weights are built from ``argmax``, which has no gradient, so
    after ``backward`` the values get gradients and the queries and keys get
    none (``Q.grad is None``) — the training problem of HW9 Q2(b).
    """
    scores = torch.matmul(Q, K.transpose(-2, -1))
    weights = torch.nn.functional.one_hot(scores.argmax(dim=-1), num_classes=K.size(-2)).to(V.dtype)
    return torch.matmul(weights, V)
