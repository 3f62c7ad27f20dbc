"""Reference for tblocks Q2(a): causal self-attention (position i attends to positions j <= i)."""

import math

import torch


def causal_self_attention(x: torch.Tensor, W_q: torch.Tensor, W_k: torch.Tensor, W_v: torch.Tensor) -> torch.Tensor:
    """x [b, n, d]; W_q, W_k, W_v [d, d] -> [b, n, d], with the scores above the diagonal masked out."""
    q, k, v = x @ W_q, x @ W_k, x @ W_v
    n = x.size(-2)
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))
    future = torch.triu(torch.ones(n, n, dtype=torch.bool), diagonal=1)
    weights = torch.softmax(scores.masked_fill(future, float("-inf")), dim=-1)
    return weights @ v
