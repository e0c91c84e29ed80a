"""The inference form of a lifting network: a new module with its constant parts precomputed.

:func:`inference_form` walks a trained network and replaces, in a copy,

* every :class:`~posegcn.nn.blocks.GraphConvBlock` (graph layer → BatchNorm → ReLU → dropout)
  whose layer is a decoupled graph convolution with one affinity by a
  :class:`~posegcn.nn.inference.FoldedGraphConv` (affinity computed, BatchNorm folded into the
  weights, dropout dropped: it is the identity at test time);
* likewise every block of DG-Net's FTG (:class:`~posegcn.nn.inference.FoldedTemporalConv`), and
  every bare such layer (the output projections) without ReLU;
* every :class:`~posegcn.nn.blocks.ResidualGraphBlock` by an
  :class:`~posegcn.nn.inference.InferenceResidual` (skip added in place).

Everything else — non-local blocks, DG-Net's DSG/DTG, SemGCN's channel-wise layers,
weight unsharing — is kept as it is, in eval mode.  SemGCN and Modulated GCN, which are
chains of such stages, become one :class:`InferenceChain` that checks the input pose once
at the entry (as :class:`~posegcn.models.base.GraphLiftingNetwork`) and then runs the
stages; other networks (DG-Net) keep their class and forward with the folded stages
inside.  The result computes ``net.eval()(x)`` up to float32 rounding
(``tests/test_inference_form.py``); the training form is left untouched.

It is for test-time inference: the folded constants are computed once from the current
parameters and running statistics, so a later change to ``net`` is not seen.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from posegcn.models.base import GraphLiftingNetwork
from posegcn.models.modgcn import ModulatedGCN
from posegcn.models.semgcn import SemGCN
from posegcn.nn.blocks import GraphConvBlock, ResidualGraphBlock
from posegcn.nn.inference import InferenceResidual, folded_graph_conv

__all__ = ["InferenceChain", "inference_form"]


class InferenceChain(GraphLiftingNetwork):
    """A single-frame lifting network as a chain of stages, ``[..., J, 2] → [..., J, 3]``.

    The inference form of :class:`~posegcn.models.SemGCN` and
    :class:`~posegcn.models.ModulatedGCN` (their ``lift`` is ``input → residual blocks
    (→ non-local) → output``).  :meth:`forward` is the base class's: the pose is checked
    against the skeleton once, the stages do not check again.  The stages are run through
    their ``forward`` (no per-stage ``Module.__call__``: ≈7 % of a batch-1 forward), so hooks
    registered on a stage do not fire; hook the chain itself, or the training form.
    """

    def __init__(self, skeleton, stages: list[nn.Module]) -> None:
        super().__init__(skeleton)
        self.stages = nn.ModuleList(stages)
        self.eval()

    def lift(self, x: torch.Tensor) -> torch.Tensor:
        for stage in self.stages:
            x = stage.forward(x)
        return x


def _fold(module: nn.Module) -> nn.Module:
    """The inference form of ``module``, a private copy that may be changed in place."""
    if isinstance(module, GraphConvBlock):
        folded = folded_graph_conv(module.gconv, module.bn, relu=True)
        return module if folded is None else folded
    if isinstance(module, ResidualGraphBlock):
        return InferenceResidual(_fold(module.gconv1), _fold(module.gconv2))
    folded = folded_graph_conv(module)
    if folded is not None:
        return folded
    for name, child in module.named_children():  # containers: DG-Net's blocks and heads
        setattr(module, name, _fold(child))
    return module


@torch.no_grad()
def inference_form(net: nn.Module) -> nn.Module:
    """A new module, in eval mode, that computes ``net.eval()(x)`` with constants precomputed.

    See the module docstring.  ``net`` itself is neither modified nor switched to eval mode.
    Works for :class:`~posegcn.models.SemGCN` (with or without non-local blocks),
    :class:`~posegcn.models.ModulatedGCN` (every ablation setting; weight-unsharing layers
    stay unfolded) and :class:`~posegcn.models.DGNet` (its FSG and FTG layers folded, DSG/DTG
    and non-local blocks kept), and for any module built from the same blocks.

    Shapes: those of ``net`` (``[B, J, 2]`` or ``[B, T, J, 2]`` for the single-frame networks).
    """
    net = copy.deepcopy(net).eval()
    if isinstance(net, (SemGCN, ModulatedGCN)):
        stages = [*net.gconv_input, *net.gconv_layers]
        if isinstance(net, ModulatedGCN) and net.non_local is not None:
            stages.append(net.non_local)
        stages.append(net.gconv_output)
        return InferenceChain(net.skeleton, [_fold(stage) for stage in stages])
    return _fold(net)
