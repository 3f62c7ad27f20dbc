import math

import torch


def self_attention(x, W_q, W_k, W_v):
    """x [b, n, d]; W_q, W_k, W_v [d, d]. Returns [b, n, d]."""
    q, k, v = x @ W_q, x @ W_k, x @ W_v
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))
    weights = torch.softmax(scores, dim=-1)
    return weights @ v
