"""The graph block and the residual block of SemGCN, Modulated GCN and DG-Net.

All three networks stack the same unit, ``σ(G(x))`` with ``σ`` = BatchNorm over the
channels followed by ReLU (and optional dropout), and pair two units with an identity
skip, ``x + σ(G₂ σ(G₁ x))`` — the original SemGCN / Modulated GCN code calls them
``_GraphConv`` and ``_ResGraphConv``; DG-Net (§III-C) builds every "graph-convolution type"
(FSG, DSG, FTG, DTG) as that residual module.  Only the graph convolution ``G`` differs.

The attribute names (``gconv``, ``bn``, ``gconv1``, ``gconv2``) are those of the original
code, so the original checkpoints load with a prefix-only mapping
(:mod:`posegcn.models.original_checkpoints`).
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["GraphConvBlock", "ResidualGraphBlock", "RowBatchNorm"]


class RowBatchNorm(nn.BatchNorm1d):
    """BatchNorm of each channel over all samples, frames and joints, for channels-last features.

    ``BatchNorm1d`` expects ``[N, C]`` or ``[N, C, L]``; the graph networks keep features as
    ``[..., J, C]``.  Flattening to ``[N·J, C]`` rows gives the statistics of the original
    ``BatchNorm1d`` on ``[B, C, J]`` without the two transposes.  Same parameters and
    buffers (and state-dict keys) as ``nn.BatchNorm1d``.

    Shapes:
        ``[..., C] → [..., C]``.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.reshape(-1, x.shape[-1])).view(x.shape)


class GraphConvBlock(nn.Module):
    """``σ(G(x))``: graph convolution → BatchNorm → ReLU (→ dropout), the original ``_GraphConv``.

    ``G`` is any graph layer with an ``out_channels`` attribute: SemGCN's
    :class:`~posegcn.nn.sem_graph_conv.SemGraphConv`, Modulated GCN's
    :class:`~posegcn.nn.modulated_graph_conv.ModulatedGraphConv`, DG-Net's FSG / DSG / FTG / DTG.
    The layer should have no bias when it matters: the BatchNorm shift plays that role.

    Shapes:
        ``[..., J, C_in] → [..., J, C_out]`` (e.g. ``[B, J, C]`` or DG-Net's ``[B, T, J, C]``).

    Args:
        gconv: the graph convolution ``G``.
        dropout: dropout probability after the ReLU (0: no dropout module).
    """

    def __init__(self, gconv: nn.Module, dropout: float = 0.0) -> None:
        super().__init__()
        self.gconv = gconv
        self.bn = RowBatchNorm(gconv.out_channels)
        self.relu = nn.ReLU()
        self.dropout = nn.Dropout(dropout) if dropout > 0 else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.relu(self.bn(self.gconv(x)))
        return y if self.dropout is None else self.dropout(y)


class ResidualGraphBlock(nn.Module):
    """Two :class:`GraphConvBlock` with an identity skip, ``x + f₂(f₁(x))`` (the original ``_ResGraphConv``).

    Shapes:
        ``[..., J, C] → [..., J, C]``.
    """

    def __init__(self, gconv1: GraphConvBlock, gconv2: GraphConvBlock) -> None:
        super().__init__()
        self.gconv1 = gconv1
        self.gconv2 = gconv2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.gconv2(self.gconv1(x))
