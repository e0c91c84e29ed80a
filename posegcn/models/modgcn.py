"""Modulated Graph Convolutional Network (Zou & Tang, ICCV 2021)."""

from __future__ import annotations

import torch
from torch import nn

from posegcn.models.base import GraphLiftingNetwork
from posegcn.nn.blocks import GraphConvBlock, ResidualGraphBlock
from posegcn.nn.graph_conv import WeightUnsharingGraphConv
from posegcn.nn.modulated_graph_conv import ModulatedGraphConv
from posegcn.nn.non_local import EmbeddedGaussianNonLocal
from posegcn.skeleton import Skeleton

__all__ = ["ModulatedGCN"]


class ModulatedGCN(GraphLiftingNetwork):
    """Modulated GCN (paper Fig. 3, §3.4) as in the original code.

    ``gconv 2→H + BN + ReLU`` → ``num_blocks`` residual blocks of two
    ``gconv + BN + ReLU`` → (optional embedded-Gaussian non-local) → ``gconv H→3``,
    with ``gconv`` a :class:`~posegcn.nn.modulated_graph_conv.ModulatedGraphConv`
    on the skeleton affinity ``skeleton.adjacency("degree_diag1")``.

    Settings of the paper / original code:

    * GT 2D (16 joints): defaults — 287,923 parameters (0.29M).
    * CPN 2D: ``ModulatedGCN(H36M_17, hidden=384, dropout=0.2, non_local=True,
      modulation_init="xavier")`` — 2,731,840 parameters (without the refinement module).
    * Ablations (Tables 1–3): ``affinity`` in ``"skeleton" | "mul" | "add" | "mix" |
      "no_skeleton"``, ``symmetric``, ``low_rank`` (7/9/11), ``weight_modulation=False``
      (weight sharing) or ``weight_unsharing=True`` (4.22M parameters at 128 channels;
      needs ``weight_modulation=False``); the ℓ1 sparsity term is
      :meth:`affinity_l1` (or :func:`posegcn.losses.affinity_sparsity`).

    Shapes:
        ``[B, J, 2] → [B, J, 3]`` (also ``[B, T, J, 2] → [B, T, J, 3]``).
    """

    def __init__(
        self,
        skeleton: Skeleton,
        hidden: int = 128,
        num_blocks: int = 4,
        dropout: float = 0.0,
        non_local: bool = False,
        affinity: str = "add",
        weight_modulation: bool = True,
        weight_unsharing: bool = False,
        symmetric: bool | str = True,
        low_rank: int | None = None,
        modulation_init: str = "ones",
        weight_init: str = "original",
    ) -> None:
        super().__init__(skeleton)
        if weight_unsharing and weight_modulation:
            raise ValueError(
                "ModulatedGCN: weight_unsharing=True gives every node its own W, which subsumes weight "
                "modulation; set weight_modulation=False as well (Modulated GCN Table 3)"
            )
        adjacency = skeleton.adjacency("degree_diag1")
        self.hidden = hidden

        def gconv(c_in: int, c_out: int) -> nn.Module:
            if weight_unsharing:
                return WeightUnsharingGraphConv(
                    c_in, c_out, adjacency, affinity, symmetric, low_rank, weight_init=weight_init
                )
            return ModulatedGraphConv(
                c_in,
                c_out,
                adjacency,
                weight_modulation=weight_modulation,
                affinity=affinity,
                symmetric=symmetric,
                low_rank=low_rank,
                modulation_init=modulation_init,
                weight_init=weight_init,
            )

        def block(c_in: int, c_out: int) -> GraphConvBlock:
            return GraphConvBlock(gconv(c_in, c_out), dropout)

        self.gconv_input = nn.Sequential(block(self.in_features, hidden))
        self.gconv_layers = nn.Sequential(
            *(ResidualGraphBlock(block(hidden, hidden), block(hidden, hidden)) for _ in range(num_blocks))
        )
        self.non_local = EmbeddedGaussianNonLocal(hidden) if non_local else None
        self.gconv_output = gconv(hidden, self.out_features)

    def lift(self, x: torch.Tensor) -> torch.Tensor:
        h = self.gconv_layers(self.gconv_input(x))
        if self.non_local is not None:
            h = self.non_local(h)
        return self.gconv_output(h)

    def affinity_l1(self) -> torch.Tensor:
        """Σ over graph layers of the ℓ1 norm of the learned affinity (sparsity regulariser)."""
        return torch.stack([layer.affinity_l1() for layer in self.graph_layers()]).sum()
