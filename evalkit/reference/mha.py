"""The homework's ``MultiHeadAttention`` class (HW9 Q3), filled in, and its wide-values variant.

``MultiHeadAttention(d_model, num_heads)`` is the class of Q3(a) with every
blank filled; ``MultiHeadAttentionWideValues`` is the working answer to Q3(b):
``W_v`` outputs ``2 * d_model`` features, so each head's values have
``d_v = 2 * d_model // num_heads`` features, ``split_heads`` and
``combine_heads`` use the head width of what they reshape, and ``W_o`` maps
``2 * d_model`` back to ``d_model``. Both keep the homework's parameter names
(``W_q``, ``W_k``, ``W_v``, ``W_o``) so a state dict can be copied into a
model's class. Example::

    mha = MultiHeadAttention(16, 4)
    out = mha(Q, K, V)        # Q [b, n_q, 16], K, V [b, n_k, 16] -> [b, n_q, 16]
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

__all__ = ["MultiHeadAttention", "MultiHeadAttentionWideValues"]


class MultiHeadAttention(nn.Module):
    """Multi-head attention exactly as the homework writes it, blanks filled."""

    def __init__(self, d_model: int, num_heads: int) -> None:
        super().__init__()
        assert d_model % num_heads == 0, "d_model must be divisible by num_heads"
        self.d_model = d_model
        self.num_heads = num_heads
        self.d_k = d_model // num_heads
        self.W_q = nn.Linear(d_model, d_model)
        self.W_k = nn.Linear(d_model, d_model)
        self.W_v = nn.Linear(d_model, d_model)
        self.W_o = nn.Linear(d_model, d_model)

    def scaled_dot_product_attention(
        self, Q: Tensor, K: Tensor, V: Tensor, mask: Tensor | None = None
    ) -> Tensor:
        attn_scores = torch.matmul(Q, K.transpose(-2, -1)) / math.sqrt(self.d_k)
        if mask is not None:
            attn_scores = attn_scores.masked_fill(mask == 0, -1e9)
        attn_probs = torch.softmax(attn_scores, dim=-1)
        return torch.matmul(attn_probs, V)

    def split_heads(self, x: Tensor) -> Tensor:
        batch_size, seq_length, _ = x.size()
        return x.view(batch_size, seq_length, self.num_heads, self.d_k).transpose(1, 2)

    def combine_heads(self, x: Tensor) -> Tensor:
        batch_size, _, seq_length, _ = x.size()
        return x.transpose(1, 2).contiguous().view(batch_size, seq_length, self.d_model)

    def forward(self, Q: Tensor, K: Tensor, V: Tensor, mask: Tensor | None = None) -> Tensor:
        Q = self.split_heads(self.W_q(Q))
        K = self.split_heads(self.W_k(K))
        V = self.split_heads(self.W_v(V))
        attn_output = self.scaled_dot_product_attention(Q, K, V, mask)
        return self.W_o(self.combine_heads(attn_output))


class MultiHeadAttentionWideValues(MultiHeadAttention):
    """Q3(b): values of ``2 * d_model`` features, projected back to ``d_model`` by ``W_o``."""

    def __init__(self, d_model: int, num_heads: int) -> None:
        super().__init__(d_model, num_heads)
        self.d_v = 2 * d_model // num_heads
        self.W_v = nn.Linear(d_model, 2 * d_model)
        self.W_o = nn.Linear(2 * d_model, d_model)

    def split_heads(self, x: Tensor, head_dim: int | None = None) -> Tensor:
        batch_size, seq_length, _ = x.size()
        width = self.d_k if head_dim is None else head_dim
        return x.view(batch_size, seq_length, self.num_heads, width).transpose(1, 2)

    def combine_heads(self, x: Tensor) -> Tensor:
        batch_size, _, seq_length, head_dim = x.size()
        return x.transpose(1, 2).contiguous().view(batch_size, seq_length, self.num_heads * head_dim)

    def forward(self, Q: Tensor, K: Tensor, V: Tensor, mask: Tensor | None = None) -> Tensor:
        Q = self.split_heads(self.W_q(Q))
        K = self.split_heads(self.W_k(K))
        V = self.split_heads(self.W_v(V), self.d_v)
        attn_output = self.scaled_dot_product_attention(Q, K, V, mask)
        return self.W_o(self.combine_heads(attn_output))
