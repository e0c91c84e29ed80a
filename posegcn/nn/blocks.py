"""Building blocks shared by SemGCN and Modulated GCN (the original ``_GraphConv`` / ``_ResGraphConv``)."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["GraphConvBlock", "ResidualGraphBlock"]


class GraphConvBlock(nn.Module):
    """graph conv → BatchNorm → ReLU (→ dropout), the original ``_GraphConv``.

    BatchNorm normalises each channel over all samples and joints; it runs on
    ``[B·J, C]`` rows (same statistics as the original ``BatchNorm1d`` on
    ``[B, C, J]``, without the transposes).

    Shapes:
        ``[B, J, C_in] → [B, J, C_out]`` (any leading dims).
    """

    def __init__(self, gconv: nn.Module, dropout: float = 0.0) -> None:
        super().__init__()
        self.gconv = gconv
        self.bn = nn.BatchNorm1d(gconv.out_channels)
        self.relu = nn.ReLU()
        self.dropout = nn.Dropout(dropout) if dropout > 0 else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.gconv(x)
        y = self.relu(self.bn(y.reshape(-1, y.shape[-1])).view(y.shape))
        return y if self.dropout is None else self.dropout(y)


class ResidualGraphBlock(nn.Module):
    """Two :class:`GraphConvBlock` with an identity skip, ``x + f₂(f₁(x))`` (original ``_ResGraphConv``).

    Shapes:
        ``[B, J, C] → [B, J, C]``.
    """

    def __init__(self, gconv1: GraphConvBlock, gconv2: GraphConvBlock) -> None:
        super().__init__()
        self.gconv1 = gconv1
        self.gconv2 = gconv2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.gconv2(self.gconv1(x))
