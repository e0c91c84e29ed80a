"""Semantic graph convolution (SemGCN, Zhao et al. CVPR 2019, §3.2)."""

from __future__ import annotations

import torch
from torch import nn

from posegcn.nn.affinity import check_adjacency, off_diagonal_mask
from posegcn.nn.graph_conv import _stack_slots, check_graph_input, decoupled_graph_conv
from posegcn.nn.init import init_graph_weight_, uniform_bias_

__all__ = ["SemGraphConv"]


class SemGraphConv(nn.Module):
    r"""Semantic graph convolution: a learnable, softmax-normalised weight per edge.

    SemGCN Eq. 2, ``X' = σ(W X ρ_i(M ⊙ A))``: a learnable value ``e`` for every non-zero
    of the mask ``A`` (``A + I``: 46 entries for the 16-joint skeleton), a softmax
    ``ρ_i`` over each row ``i`` restricted to the mask, and — as in the original code —
    decoupled self/neighbour weights:

    .. math::
        Ã = \operatorname{softmax}_j(\text{mask}_A(e)), \qquad
        X' = (Ã ⊙ I)\, X W_0 + (Ã ⊙ (1 − I))\, X W_1 + b

    Channel-wise variant (Eq. 3, ``channelwise=True``): ``e`` has one row per output
    channel, giving one softmax-normalised ``Ã_d`` per channel ``d``:
    ``X'_{:,d} = (Ã_d ⊙ I) X W_{0,:,d} + (Ã_d ⊙ (1 − I)) X W_{1,:,d} + b_d``.

    Masked entries are filled with ``torch.finfo(dtype).min`` (not the original
    ``−9e15``, which overflows in half precision); rows still sum to one and are
    exactly zero outside the mask.

    Shapes:
        ``[B, J, C_in] → [B, J, C_out]`` (any leading dims).

    Parameters:
        ``W`` ``(2, C_in, C_out)``; ``e`` ``(1, nnz)`` (or ``(C_out, nnz)``), entries in the
        row-major order of the mask's non-zeros as in the original ``adj[mask] = e``;
        bias ``(C_out)``.

    Init:
        ``W``: xavier-uniform over the 3-D tensor, gain 1.414 (original code) or per
        matrix; ``e = 1`` (uniform weights over each neighbourhood); bias ``U(±1/√C_out)``.

    Args:
        adjacency: ``[J, J]``; its non-zeros define the mask (pass ``A + I``, e.g.
            ``Skeleton.adjacency("self_loops")``, so that every node sees itself).
        channelwise: Eq. 3 instead of Eq. 2.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        adjacency: torch.Tensor,
        channelwise: bool = False,
        bias: bool = True,
        weight_init: str = "original",
        fused: bool = True,
    ) -> None:
        super().__init__()
        adjacency = check_adjacency(adjacency, type(self).__name__)
        mask = adjacency != 0
        if not mask.any(dim=1).all():
            empty = torch.nonzero(~mask.any(dim=1)).flatten().tolist()
            raise ValueError(
                f"SemGraphConv: rows {empty} of the adjacency mask are empty; add self-loops (A + I)"
            )
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.channelwise = channelwise
        self.weight_init = weight_init
        self.fused = fused
        self.register_buffer("adjacency", adjacency)
        self.register_buffer("mask", mask, persistent=False)
        # Flat row-major positions of the mask's non-zeros: where e is written each step.
        self.register_buffer("edge_index", torch.nonzero(mask.flatten()).flatten(), persistent=False)
        self.register_buffer("off_diagonal", off_diagonal_mask(adjacency), persistent=False)
        self.W = nn.Parameter(torch.empty(2, in_channels, out_channels))
        self.e = nn.Parameter(torch.empty(out_channels if channelwise else 1, self.num_edges))
        self.bias = nn.Parameter(torch.empty(out_channels)) if bias else None
        self.reset_parameters()

    @property
    def num_joints(self) -> int:
        return self.adjacency.shape[0]

    @property
    def num_edges(self) -> int:
        """Number of learnable edges (non-zeros of the mask, self-loops included)."""
        return self.edge_index.numel()

    def reset_parameters(self) -> None:
        init_graph_weight_(self.W, self.weight_init)
        nn.init.ones_(self.e)
        if self.bias is not None:
            uniform_bias_(self.bias, self.out_channels)

    def edge_weights(self) -> torch.Tensor:
        """``Ã = ρ_i(M ⊙ A)``: ``[J, J]`` (or ``[C_out, J, J]`` channel-wise); rows sum to one."""
        j = self.num_joints
        logits = self.e.new_full((self.e.shape[0], j * j), torch.finfo(self.e.dtype).min)
        logits = logits.index_copy(1, self.edge_index, self.e).view(-1, j, j)
        weights = torch.softmax(logits, dim=-1)
        return weights if self.channelwise else weights[0]

    def effective_affinity(self) -> torch.Tensor:
        """Alias of :meth:`edge_weights` (the affinity the forward uses)."""
        return self.edge_weights()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_graph_input(x, self.num_joints, self.in_channels, type(self).__name__)
        a = self.edge_weights()
        if not self.channelwise:
            return decoupled_graph_conv(x, self.W, a, self.off_diagonal, bias=self.bias, fused=self.fused)
        # a: [C, J, J]; one [J, J] mix per output channel
        h_self, h_neigh = (x @ _stack_slots(self.W)).split(self.out_channels, dim=-1)
        diag = a.diagonal(dim1=-2, dim2=-1).T  # [J, C]
        out = diag * h_self + torch.einsum("dij,...jd->...id", a * self.off_diagonal, h_neigh)
        return out if self.bias is None else out + self.bias

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, num_joints={self.num_joints}, "
            f"num_edges={self.num_edges}, channelwise={self.channelwise}, bias={self.bias is not None}"
        )
