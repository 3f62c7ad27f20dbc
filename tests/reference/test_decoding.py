"""Multi-head and multi-query incremental decoding steps."""

from __future__ import annotations

import torch

from evalkit.reference.decoding import mha_decode_step, mqa_decode_step

b, d, h, n = 2, 12, 3, 5
k = v = d // h


def test_mha_step_shapes_and_cache_growth() -> None:
    x, prev_K, prev_V = torch.randn(b, d), torch.randn(b, h, n, k), torch.randn(b, h, n, v)
    W_q, W_k, W_v, W_o = (
        torch.randn(h, d, k),
        torch.randn(h, d, k),
        torch.randn(h, d, v),
        torch.randn(h, v, d),
    )
    y, new_K, new_V = mha_decode_step(x, prev_K, prev_V, W_q, W_k, W_v, W_o)
    assert y.shape == (b, d) and new_K.shape == (b, h, n + 1, k) and new_V.shape == (b, h, n + 1, v)
    torch.testing.assert_close(new_K[:, :, :n], prev_K)
    torch.testing.assert_close(new_K[:, :, n], torch.einsum("bd,hdk->bhk", x, W_k))


def test_mha_step_is_softmax_attention_over_the_cache_per_head() -> None:
    x, prev_K, prev_V = torch.randn(b, d), torch.randn(b, h, n, k), torch.randn(b, h, n, v)
    W_q, W_k, W_v, W_o = (
        torch.randn(h, d, k),
        torch.randn(h, d, k),
        torch.randn(h, d, v),
        torch.randn(h, v, d),
    )
    y, new_K, new_V = mha_decode_step(x, prev_K, prev_V, W_q, W_k, W_v, W_o)
    q = torch.einsum("bd,hdk->bhk", x, W_q).unsqueeze(2)
    o = torch.softmax(q @ new_K.transpose(-2, -1), dim=-1) @ new_V
    torch.testing.assert_close(y, torch.einsum("bhv,hvd->bd", o.squeeze(2), W_o))


def test_mqa_equals_mha_whose_heads_share_keys_and_values() -> None:
    x, prev_K, prev_V = torch.randn(b, d), torch.randn(b, n, k), torch.randn(b, n, v)
    W_q, W_k, W_v, W_o = torch.randn(h, d, k), torch.randn(d, k), torch.randn(d, v), torch.randn(h, v, d)
    y, new_K, new_V = mqa_decode_step(x, prev_K, prev_V, W_q, W_k, W_v, W_o)
    assert new_K.shape == (b, n + 1, k) and new_V.shape == (b, n + 1, v)
    shared = mha_decode_step(
        x,
        prev_K.unsqueeze(1).expand(b, h, n, k),
        prev_V.unsqueeze(1).expand(b, h, n, v),
        W_q,
        W_k.expand(h, d, k),
        W_v.expand(h, d, v),
        W_o,
    )
    torch.testing.assert_close(y, shared[0])
    torch.testing.assert_close(new_K, shared[1][:, 0])


def test_mqa_differs_from_mha_with_distinct_heads() -> None:
    x, prev_K, prev_V = torch.randn(b, d), torch.randn(b, h, n, k), torch.randn(b, h, n, v)
    W_q, W_k, W_v, W_o = (
        torch.randn(h, d, k),
        torch.randn(h, d, k),
        torch.randn(h, d, v),
        torch.randn(h, v, d),
    )
    full = mha_decode_step(x, prev_K, prev_V, W_q, W_k, W_v, W_o)[0]
    first_head_only = mqa_decode_step(x, prev_K[:, 0], prev_V[:, 0], W_q, W_k[0], W_v[0], W_o)[0]
    assert not torch.allclose(full, first_head_only)
