"""Modulated graph convolution (Modulated GCN, Zou & Tang ICCV 2021, §3.2–3.3)."""

from __future__ import annotations

import torch
from torch import nn

from posegcn.nn.affinity import AffinityModulation, off_diagonal_mask
from posegcn.nn.graph_conv import check_graph_input, decoupled_graph_conv
from posegcn.nn.init import GAIN, init_graph_weight_, uniform_bias_

__all__ = ["ModulatedGraphConv", "MODULATION_INITS"]

#: Initialisations of the weight-modulation vectors ``M``.
MODULATION_INITS = ("ones", "xavier")


class ModulatedGraphConv(nn.Module):
    r"""Graph convolution with weight modulation and affinity modulation.

    **Weight modulation** (Eq. 4–5): one shared ``W`` but a learnable modulation vector
    ``m_j ∈ R^{C_out}`` per node, ``h'_i = σ(Σ_j (m_j ⊙ W) h_j â_ij)``, i.e.
    ``H' = σ((M ⊙ (W H)) Â)``: the transformed features of every node are scaled by
    its own ``m_j`` before aggregation.

    **Affinity modulation** (Eq. 6–9): ``Â`` is learnable around the skeleton affinity,
    see :class:`~posegcn.nn.affinity.AffinityModulation` (variants ``"skeleton"``,
    ``"mul"``, ``"add"`` (default), ``"mix"``, ``"no_skeleton"``; symmetry, low rank).

    Forward, as the original code (decoupled self-connection, Modulated GCN §4.1):

    .. math::
        Y = (Â ⊙ I)(M ⊙ X W_0) + (Â ⊙ (1 − I))(M ⊙ X W_1) + b

    With ``weight_modulation=False`` the ``M ⊙`` disappears (plain shared ``W``).

    Shapes:
        ``[B, J, C_in] → [B, J, C_out]`` (any leading dims).

    Parameters (default ``affinity="add"``):
        ``W`` ``(2, C_in, C_out)``, ``M`` ``(J, C_out)``, ``affinity.Q`` ``(J, J)`` (the
        original ``adj2``), bias ``(C_out)``: ``2·C_in·C_out + J·C_out + J² + C_out``.

    Init:
        ``W``: xavier-uniform over the 3-D tensor, gain 1.414 (original) or per matrix;
        ``M``: ones (``modulation_init="ones"``, GT setting) or xavier-uniform gain 1.414
        over ``(J, C_out)`` (``"xavier"``, the original CPN setting); ``Q = 1e-6``,
        ``P = 1``; bias ``U(±1/√C_out)``.

    Args:
        in_channels, out_channels: ``C_in``, ``C_out``.
        adjacency: the skeleton affinity ``A`` ``[J, J]`` (``Skeleton.adjacency("degree_diag1")``).
        weight_modulation: learn ``M`` (Eq. 5); off = weight sharing (Eq. 1).
        affinity: affinity-modulation variant.
        symmetric: ``True``/``"affinity"`` = ``(Â + Âᵀ)/2`` (original code, default),
            ``"modulation"`` = only ``(Q + Qᵀ)/2`` (paper), ``False`` = none.
        low_rank: ``Q = L Lᵀ`` with ``L`` of rank ``low_rank``.
        modulation_init: ``"ones"`` or ``"xavier"``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        adjacency: torch.Tensor,
        weight_modulation: bool = True,
        affinity: str = "add",
        symmetric: bool | str = True,
        low_rank: int | None = None,
        modulation_init: str = "ones",
        bias: bool = True,
        weight_init: str = "original",
        fused: bool = True,
    ) -> None:
        super().__init__()
        if modulation_init not in MODULATION_INITS:
            raise ValueError(
                f"unknown modulation_init {modulation_init!r}; expected one of {MODULATION_INITS}"
            )
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.modulation_init = modulation_init
        self.weight_init = weight_init
        self.fused = fused
        self.affinity = AffinityModulation(adjacency, affinity, symmetric, low_rank)
        j = self.affinity.num_joints
        self.register_buffer("off_diagonal", off_diagonal_mask(self.affinity.adjacency), persistent=False)
        self.W = nn.Parameter(torch.empty(2, in_channels, out_channels))
        self.M = nn.Parameter(torch.empty(j, out_channels)) if weight_modulation else None
        self.bias = nn.Parameter(torch.empty(out_channels)) if bias else None
        self.reset_parameters()

    @property
    def num_joints(self) -> int:
        return self.affinity.num_joints

    @property
    def weight_modulation(self) -> bool:
        return self.M is not None

    def reset_parameters(self) -> None:
        init_graph_weight_(self.W, self.weight_init)
        if self.M is not None:
            if self.modulation_init == "ones":
                nn.init.ones_(self.M)
            else:
                nn.init.xavier_uniform_(self.M, gain=GAIN)
        self.affinity.reset_parameters()
        if self.bias is not None:
            uniform_bias_(self.bias, self.out_channels)

    def effective_affinity(self) -> torch.Tensor:
        """The ``[J, J]`` affinity ``Â`` the forward uses (after variant, low rank, symmetry)."""
        return self.affinity()

    def affinity_l1(self) -> torch.Tensor:
        """ℓ1 of the learned affinity part (sparsity regulariser, weight applied by the caller)."""
        return self.affinity.l1()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_graph_input(x, self.num_joints, self.in_channels, type(self).__name__)
        return decoupled_graph_conv(
            x, self.W, self.affinity(), self.off_diagonal, self.M, self.bias, fused=self.fused
        )

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, num_joints={self.num_joints}, "
            f"weight_modulation={self.weight_modulation}, bias={self.bias is not None}"
        )
