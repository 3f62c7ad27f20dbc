"""Kernelized linear attention with the quadratic feature map, and softmax attention."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from evalkit.reference.linear import (
    kernel_attention,
    quadratic_feature_dim,
    quadratic_feature_map,
    quadratic_kernel_attention,
    softmax_attention,
)


@pytest.mark.parametrize("D", [1, 2, 3, 7])
def test_feature_map_reproduces_the_quadratic_kernel(D: int) -> None:
    g = torch.Generator().manual_seed(D)
    q, k = (
        torch.randn(10, D, generator=g, dtype=torch.float64),
        torch.randn(10, D, generator=g, dtype=torch.float64),
    )
    phi_q, phi_k = quadratic_feature_map(q), quadratic_feature_map(k)
    assert phi_q.shape == (10, 1 + D + D * (D + 1) // 2) == (10, quadratic_feature_dim(D))
    torch.testing.assert_close((phi_q * phi_k).sum(-1), ((q * k).sum(-1) + 1) ** 2)


def test_feature_dim_for_d2_matches_the_write_up() -> None:
    assert quadratic_feature_dim(2) == 6  # 1, √2 x1, √2 x2, x1², x2², √2 x1 x2


def test_linearized_attention_equals_the_quadratic_form() -> None:
    g = torch.Generator().manual_seed(0)
    Q, K = (
        torch.randn(2, 9, 4, generator=g, dtype=torch.float64),
        torch.randn(2, 9, 4, generator=g, dtype=torch.float64),
    )
    V = torch.randn(2, 9, 3, generator=g, dtype=torch.float64)
    torch.testing.assert_close(kernel_attention(Q, K, V), quadratic_kernel_attention(Q, K, V))


def test_kernel_attention_rows_are_weighted_averages() -> None:
    Q, K = torch.randn(6, 3), torch.randn(6, 3)
    V = torch.ones(6, 2) * 5.0
    torch.testing.assert_close(kernel_attention(Q, K, V), V)


def test_softmax_attention_same_interface_matches_torch() -> None:
    Q, K, V = torch.randn(2, 7, 4), torch.randn(2, 7, 4), torch.randn(2, 7, 5)
    torch.testing.assert_close(softmax_attention(Q, K, V), F.scaled_dot_product_attention(Q, K, V))
    assert not torch.allclose(softmax_attention(Q, K, V), kernel_attention(Q, K, V))
