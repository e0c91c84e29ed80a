"""Semantic Graph Convolutional Network (Zhao et al., CVPR 2019)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from posegcn.models.base import GraphLiftingNetwork
from posegcn.nn.blocks import GraphConvBlock, ResidualGraphBlock
from posegcn.nn.non_local import SEMGCN_JOINT_GROUPS_16, GroupedNonLocal
from posegcn.nn.sem_graph_conv import SemGraphConv
from posegcn.skeleton import H36M_16, Skeleton

__all__ = ["SemGCN"]


class SemGCN(GraphLiftingNetwork):
    """SemGCN (paper Fig. 2, §3.3) as in the original code.

    ``SemGraphConv 2→H + BN + ReLU`` → ``num_blocks`` residual blocks of two
    ``SemGraphConv + BN + ReLU`` → ``SemGraphConv H→3``.  With ``non_local`` a
    :class:`~posegcn.nn.non_local.GroupedNonLocal` follows the input layer and every
    block.  The learnable-edge mask is ``A + I`` (``skeleton.adjacency("self_loops")``).

    Parameters (16 joints, ``hidden=128``, 4 blocks): 267,343; 434,703 with non-local.

    Shapes:
        ``[B, J, 2] → [B, J, 3]`` (also ``[B, T, J, 2] → [B, T, J, 3]``).

    Args:
        skeleton: joint layout; the graph is derived from it.
        hidden: channels ``H`` (128).
        num_blocks: residual blocks (4).
        non_local: add the grouped non-local layers (paper's full model).
        channelwise: channel-wise edge weights (Eq. 3) instead of scalar (Eq. 2).
        dropout: dropout after every hidden ReLU (0 = none, as the original default).
        joint_groups: joint pairs for the non-local pooling; defaults to
            :data:`~posegcn.nn.non_local.SEMGCN_JOINT_GROUPS_16` for ``H36M_16``.
        weight_init: ``"original"`` (3-D xavier) or ``"per_matrix"``.
    """

    def __init__(
        self,
        skeleton: Skeleton,
        hidden: int = 128,
        num_blocks: int = 4,
        non_local: bool = False,
        channelwise: bool = False,
        dropout: float = 0.0,
        joint_groups: Sequence[Sequence[int]] | None = None,
        weight_init: str = "original",
    ) -> None:
        super().__init__(skeleton)
        adjacency = skeleton.adjacency("self_loops")
        if non_local and joint_groups is None:
            if skeleton.parents != H36M_16.parents:
                raise ValueError(
                    f"SemGCN(non_local=True): no default joint grouping for skeleton {skeleton.name!r} "
                    f"({skeleton.num_joints} joints); pass joint_groups (equal-size groups of neighbouring joints)"
                )
            joint_groups = SEMGCN_JOINT_GROUPS_16
        self.hidden = hidden

        def block(c_in: int, c_out: int) -> GraphConvBlock:
            gconv = SemGraphConv(c_in, c_out, adjacency, channelwise=channelwise, weight_init=weight_init)
            return GraphConvBlock(gconv, dropout)

        def nonlocal_layer() -> list[nn.Module]:
            return [GroupedNonLocal(hidden, joint_groups)] if non_local else []

        self.gconv_input = nn.Sequential(block(self.in_features, hidden), *nonlocal_layer())
        layers: list[nn.Module] = []
        for _ in range(num_blocks):
            layers.append(ResidualGraphBlock(block(hidden, hidden), block(hidden, hidden)))
            layers.extend(nonlocal_layer())
        self.gconv_layers = nn.Sequential(*layers)
        self.gconv_output = SemGraphConv(
            hidden, self.out_features, adjacency, channelwise=channelwise, weight_init=weight_init
        )

    def lift(self, x: torch.Tensor) -> torch.Tensor:
        return self.gconv_output(self.gconv_layers(self.gconv_input(x)))
