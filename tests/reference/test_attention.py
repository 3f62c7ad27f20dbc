"""Scaled dot-product and argmax attention against torch and the homework's numbers."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from evalkit.reference.attention import argmax_attention, scaled_dot_product_attention


@pytest.mark.parametrize(
    "shape_q, shape_k, d_v", [((2, 5, 8), (2, 7, 8), 3), ((1, 4, 3, 16), (1, 4, 9, 16), 16)]
)
def test_sdpa_matches_torch(shape_q: tuple[int, ...], shape_k: tuple[int, ...], d_v: int) -> None:
    g = torch.Generator().manual_seed(0)
    Q, K = torch.randn(*shape_q, generator=g), torch.randn(*shape_k, generator=g)
    V = torch.randn(*shape_k[:-1], d_v, generator=g)
    torch.testing.assert_close(scaled_dot_product_attention(Q, K, V), F.scaled_dot_product_attention(Q, K, V))


def test_sdpa_mask_excludes_positions_like_torch() -> None:
    g = torch.Generator().manual_seed(1)
    Q, K, V = (torch.randn(2, 6, 4, generator=g) for _ in range(3))
    mask = torch.tril(torch.ones(6, 6, dtype=torch.bool))
    ours = scaled_dot_product_attention(Q, K, V, mask)
    torch.testing.assert_close(ours, F.scaled_dot_product_attention(Q, K, V, attn_mask=mask))
    assert not torch.allclose(ours, scaled_dot_product_attention(Q, K, V))


def test_argmax_attention_reproduces_q2a() -> None:
    K = torch.tensor([[1.0, 2, 0], [0, 3, 4], [5, 0, 0], [0, 0, 1]])
    V = torch.tensor([[2.0, 0, 1], [1, 4, 3], [0, -1, 4], [1, 0, -1]])
    q = torch.tensor([[1.0, 1, 2]])
    assert argmax_attention(q, K, V).tolist() == [[1.0, 4.0, 3.0]]


def test_argmax_attention_gradients_reach_values_only() -> None:
    g = torch.Generator().manual_seed(2)
    Q = torch.randn(3, 4, generator=g, requires_grad=True)
    K = torch.randn(5, 4, generator=g, requires_grad=True)
    V = torch.randn(5, 2, generator=g, requires_grad=True)
    argmax_attention(Q, K, V).sum().backward()
    assert Q.grad is None and K.grad is None
    assert V.grad is not None
    picked = (Q @ K.T).argmax(dim=-1)
    expected = torch.zeros(5, 2).index_add_(0, picked, torch.ones(3, 2))
    torch.testing.assert_close(V.grad, expected)


def test_softmax_attention_does_give_queries_gradients() -> None:
    Q = torch.randn(3, 4, requires_grad=True)
    K, V = torch.randn(5, 4), torch.randn(5, 2)
    scaled_dot_product_attention(Q, K, V).pow(2).sum().backward()
    assert Q.grad is not None and Q.grad.abs().sum() > 0
