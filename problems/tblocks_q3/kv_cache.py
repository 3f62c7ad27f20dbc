"""Reference for tblocks Q3(c): the scores of the new query against the cached keys."""

import torch


def cached_scores(q: torch.Tensor, K: torch.Tensor) -> torch.Tensor:
    """q [b, d] (the new position's query), K [b, n, d] (the cached keys) -> scores [b, n]."""
    return (K @ q.unsqueeze(-1)).squeeze(-1)
