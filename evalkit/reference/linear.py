"""Kernelized linear attention with the quadratic polynomial kernel (HW9 Q6), and softmax attention.

All three attention functions share one interface: ``Q [..., N, D]``,
``K [..., N, D]``, ``V [..., N, M]`` → ``[..., N, M]``, each row a weighted
average of the values ``V'_i = Σ_j sim(Q_i, K_j) V_j / Σ_j sim(Q_i, K_j)``.

* ``kernel_attention`` computes it in O(N) by associativity:
  ``φ(Q) (φ(K)ᵀ V) / φ(Q) Σ_j φ(K_j)``;
* ``quadratic_kernel_attention`` computes the same thing the O(N²) way with
  ``sim(q, k) = (qᵀk + 1)²``;
* ``softmax_attention`` uses ``sim(q, k) = exp(qᵀk / √D)``.

``quadratic_feature_map`` is the φ with ``φ(q)·φ(k) = (q·k + 1)²``, of
dimension ``1 + D + D(D+1)/2``. Example::

    out = kernel_attention(Q, K, V)                       # equals quadratic_kernel_attention(Q, K, V)
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

__all__ = [
    "kernel_attention",
    "quadratic_feature_dim",
    "quadratic_feature_map",
    "quadratic_kernel_attention",
    "softmax_attention",
]


def quadratic_feature_dim(D: int) -> int:
    """The dimension of φ for inputs of dimension ``D``: ``1 + D + D(D+1)/2``."""
    return 1 + D + D * (D + 1) // 2


def quadratic_feature_map(x: Tensor) -> Tensor:
    """``φ(x) = [1, √2·x_i, x_i², √2·x_i x_j (i<j)]`` over the last axis."""
    D = x.size(-1)
    rows, cols = torch.triu_indices(D, D, offset=1)
    return torch.cat(
        [
            torch.ones_like(x[..., :1]),
            math.sqrt(2.0) * x,
            x * x,
            math.sqrt(2.0) * x[..., rows] * x[..., cols],
        ],
        dim=-1,
    )


def kernel_attention(
    Q: Tensor, K: Tensor, V: Tensor, feature_map: Callable[[Tensor], Tensor] = quadratic_feature_map
) -> Tensor:
    """Linearized kernel attention: ``φ(Q) S / φ(Q) z`` with ``S = φ(K)ᵀ V`` and ``z = Σ_j φ(K_j)``."""
    phi_q, phi_k = feature_map(Q), feature_map(K)
    S = torch.matmul(phi_k.transpose(-2, -1), V)
    z = phi_k.sum(dim=-2)
    return torch.matmul(phi_q, S) / torch.matmul(phi_q, z.unsqueeze(-1))


def _normalized(sim: Tensor, V: Tensor) -> Tensor:
    return torch.matmul(sim, V) / sim.sum(dim=-1, keepdim=True)


def quadratic_kernel_attention(Q: Tensor, K: Tensor, V: Tensor) -> Tensor:
    """The O(N²) form with ``sim(q, k) = (qᵀk + 1)²``."""
    return _normalized((torch.matmul(Q, K.transpose(-2, -1)) + 1.0) ** 2, V)


def softmax_attention(Q: Tensor, K: Tensor, V: Tensor) -> Tensor:
    """The same weighted average with ``sim(q, k) = exp(qᵀk / √D)`` (numerically stabilized)."""
    return torch.softmax(torch.matmul(Q, K.transpose(-2, -1)) / math.sqrt(Q.size(-1)), dim=-1) @ V
