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

    def forward_relu(self, x: torch.Tensor) -> torch.Tensor:
        """``ReLU(self(x))`` as one op (:class:`_BatchNormReLU`): same values, gradients and
        running-statistics updates as ``F.relu(self(x))``, one autograd node and one tensor fewer."""
        # The bookkeeping of ``_BatchNorm.forward``: which statistics, and the running-average factor.
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats and self.num_batches_tracked is not None:
            self.num_batches_tracked.add_(1)
            factor = 1.0 / float(self.num_batches_tracked) if self.momentum is None else self.momentum
        batch_stats = self.training or (self.running_mean is None and self.running_var is None)
        track = not self.training or self.track_running_stats
        rows = _BatchNormReLU.apply(
            x.reshape(-1, x.shape[-1]),
            self.weight,
            self.bias,
            self.running_mean if track else None,
            self.running_var if track else None,
            batch_stats,
            factor,
            self.eps,
        )
        return rows.view(x.shape)


class _BatchNormReLU(torch.autograd.Function):
    """``ReLU(BatchNorm(x))`` over rows ``[R, C]``: ATen's batch norm, the ReLU in place on its output.

    The ReLU's mask is read from the saved output (``y > 0``) and the batch-norm backward reuses
    the batch statistics of the forward (``native_batch_norm_backward``, the kernel autograd of
    ``BatchNorm1d`` calls), so the pair costs one output tensor and one autograd node instead of two.
    """

    @staticmethod
    def forward(ctx, x, weight, bias, running_mean, running_var, batch_stats, momentum, eps):
        out, mean, invstd = torch.native_batch_norm(
            x, weight, bias, running_mean, running_var, batch_stats, momentum, eps
        )
        out.clamp_min_(0)
        # With batch statistics the backward needs only (mean, invstd), not the running buffers
        # (which the next forward updates in place).
        running = (None, None) if batch_stats else (running_mean, running_var)
        ctx.save_for_backward(x, out, weight, *running, mean, invstd)
        ctx.batch_stats, ctx.eps = batch_stats, eps
        return out

    @staticmethod
    def backward(ctx, grad_out):
        x, out, weight, running_mean, running_var, mean, invstd = ctx.saved_tensors
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        grad = torch.ops.aten.threshold_backward(grad_out, out, 0)
        grad_x, grad_w, grad_b = torch.ops.aten.native_batch_norm_backward(
            grad, x, weight, running_mean, running_var, mean, invstd, ctx.batch_stats, ctx.eps,
            [need_x, need_w and weight is not None, need_b and weight is not None],
        )  # fmt: skip
        return grad_x, grad_w, grad_b, None, None, None, None, None


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
        fused: BatchNorm and ReLU as one op (:meth:`RowBatchNorm.forward_relu`, default); ``False``
            runs ``self.relu(self.bn(·))`` (same values and gradients;
            :func:`~posegcn.nn.graph_conv.set_fused` switches it with the graph layers).
    """

    def __init__(self, gconv: nn.Module, dropout: float = 0.0, fused: bool = True) -> None:
        super().__init__()
        self.gconv = gconv
        self.bn = RowBatchNorm(gconv.out_channels)
        self.relu = nn.ReLU()
        self.dropout = nn.Dropout(dropout) if dropout > 0 else None
        self.fused = fused

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.gconv(x)
        # Under autocast the module form lets autocast pick the batch norm's dtype.
        if self.fused and not torch.is_autocast_enabled(y.device.type):
            y = self.bn.forward_relu(y)
        else:
            y = self.relu(self.bn(y))
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
