"""Reference for tblocks Q1(b): RMSNorm, the skeleton's class with its blanks filled.

Trusted code: it runs in evalkit's process to compute the ground truth and never
reaches the sandbox. The model's class receives this module's state dict, so the
parameter is called ``weight`` as in the skeleton.
"""

import torch
from torch import nn


class RMSNorm(nn.Module):
    """``weight * x / sqrt(mean(x**2 over the last axis) + eps)``."""

    def __init__(self, d: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(d))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rms = torch.sqrt(x.pow(2).mean(dim=-1, keepdim=True) + self.eps)
        return self.weight * (x / rms)
