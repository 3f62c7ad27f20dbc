"""Reference for tblocks Q4(b): cross-entropy with label smoothing, written out (no torch shortcut).

The smoothed target puts ``1 - eps + eps / C`` on the true class and ``eps / C``
on every other one; the loss is the mean over the batch of ``-sum_c target_c log p_c``.
"""

import torch


def label_smoothed_cross_entropy(logits: torch.Tensor, target: torch.Tensor, eps: float) -> torch.Tensor:
    """logits [N, C], target [N] (class indices), eps in [0, 1) -> the mean loss (a scalar tensor)."""
    C = logits.size(-1)
    log_p = torch.log_softmax(logits, dim=-1)
    smoothed = torch.full_like(log_p, eps / C)
    smoothed.scatter_(-1, target.unsqueeze(-1), 1 - eps + eps / C)
    return -(smoothed * log_p).sum(dim=-1).mean()
