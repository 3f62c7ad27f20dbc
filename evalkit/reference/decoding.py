"""One incremental decoding step of multi-head and multi-query attention (HW9 Q4), einsum style.

Shapes use the homework's letters: ``b`` batch, ``d`` model width, ``h``
heads, ``n`` cached positions, ``k``/``v`` per-head key/value width.
Multi-head attention caches keys and values per head (``prev_K [b, h, n, k]``);
multi-query attention shares one key and one value head across all query
heads (``prev_K [b, n, k]``), which is what shrinks the cache by ``h``. Example::

    y, new_K, new_V = mqa_decode_step(x, prev_K, prev_V, W_q, W_k, W_v, W_o)
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["mha_decode_step", "mqa_decode_step"]


def mha_decode_step(
    x: Tensor, prev_K: Tensor, prev_V: Tensor, W_q: Tensor, W_k: Tensor, W_v: Tensor, W_o: Tensor
) -> tuple[Tensor, Tensor, Tensor]:
    """x [b, d]; prev_K [b, h, n, k]; prev_V [b, h, n, v]; W_q, W_k [h, d, k]; W_v [h, d, v]; W_o [h, v, d].

    Returns ``y [b, d]``, ``new_K [b, h, n+1, k]``, ``new_V [b, h, n+1, v]``.
    """
    q = torch.einsum("bd,hdk->bhk", x, W_q)
    k = torch.einsum("bd,hdk->bhk", x, W_k)
    v = torch.einsum("bd,hdv->bhv", x, W_v)
    new_K = torch.cat([prev_K, k.unsqueeze(2)], dim=2)
    new_V = torch.cat([prev_V, v.unsqueeze(2)], dim=2)
    logits = torch.einsum("bhk,bhnk->bhn", q, new_K)
    weights = torch.softmax(logits, dim=-1)
    o = torch.einsum("bhn,bhnv->bhv", weights, new_V)
    y = torch.einsum("bhv,hvd->bd", o, W_o)
    return y, new_K, new_V


def mqa_decode_step(
    x: Tensor, prev_K: Tensor, prev_V: Tensor, W_q: Tensor, W_k: Tensor, W_v: Tensor, W_o: Tensor
) -> tuple[Tensor, Tensor, Tensor]:
    """x [b, d]; prev_K [b, n, k]; prev_V [b, n, v]; W_q [h, d, k]; W_k [d, k]; W_v [d, v]; W_o [h, v, d].

    Returns ``y [b, d]``, ``new_K [b, n+1, k]``, ``new_V [b, n+1, v]``.
    """
    q = torch.einsum("bd,hdk->bhk", x, W_q)
    k = torch.einsum("bd,dk->bk", x, W_k)
    v = torch.einsum("bd,dv->bv", x, W_v)
    new_K = torch.cat([prev_K, k.unsqueeze(1)], dim=1)
    new_V = torch.cat([prev_V, v.unsqueeze(1)], dim=1)
    logits = torch.einsum("bhk,bnk->bhn", q, new_K)
    weights = torch.softmax(logits, dim=-1)
    o = torch.einsum("bhn,bnv->bhv", weights, new_V)
    y = torch.einsum("bhv,hvd->bd", o, W_o)
    return y, new_K, new_V
