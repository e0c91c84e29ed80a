"""Dynamical spatial graph convolution (DSG) of DG-Net, Eq. 3–7.

For every frame the graph is rebuilt from the features themselves: each joint is
connected to the ``K`` joints nearest to it in feature space (Eq. 3–4), each edge is
weighted by a learned importance score (Eq. 5–6) and the weighted neighbours are
aggregated and transformed (Eq. 7).  Unlike the fixed skeleton affinity of FSG, the
affinity ``B_t`` differs per sample and per frame.
"""

from __future__ import annotations

import torch
from torch import nn

from posegcn.nn.knn import (
    aggregate_neighbours,
    check_neighbour_options,
    dense_affinity,
    edge_weights,
    neighbour_indices,
)

__all__ = ["DynamicalSpatialGraphConv"]


class DynamicalSpatialGraphConv(nn.Module):
    r"""Dynamical spatial graph convolution (DSG), DG-Net Eq. 3–7 without ``σ``.

    For frame ``t`` with joint features ``X_t = [x_t^1, …, x_t^N]``:

    .. math::
        Ω_t^i = \operatorname{KNN}(x_t^i, X_t, K)                      \quad (3) \\
        D_t(i, j) = [\, j ∈ Ω_t^i \,]                                  \quad (4) \\
        R_t(i, j) = γ([x_t^i, x_t^j])                                  \quad (5) \\
        B_t = D_t ⊙ R_t                                                 \quad (6) \\
        Y_t = B_t X_t Φ                                                 \quad (7)

    with Euclidean distances between feature vectors and ``γ`` a fully-connected layer
    ``2C_in → 1``.  Implementation: pairwise distances and ``topk`` over all frames at
    once (:func:`~posegcn.nn.knn.knn_indices`), ``γ`` evaluated on the ``K`` selected
    pairs only, then the weighted sum of the neighbours
    (:func:`~posegcn.nn.knn.aggregate_neighbours`).  The neighbour selection carries no
    gradient; ``γ`` and ``Φ`` do.

    Shapes:
        ``[..., N, C_in] → [..., N, C_out]``, e.g. ``[B, T, N, C_in] → [B, T, N, C_out]``
        with one graph per sample and frame.

    Args:
        in_channels: ``C_in``.
        out_channels: ``C_out``.
        k: ``K`` neighbours per joint (paper: 3, best in Table VI).
        weighting: how ``γ``'s scores become edge weights (see
            :func:`posegcn.nn.knn.neighbour_weights`): ``"softmax"`` over the ``K``
            neighbours (default; the paper leaves it open), ``"sigmoid"``, ``"raw"``
            (Eq. 6 literally) or ``"none"`` (``B_t = D_t``, Table VII "W/O"; no ``γ`` is built).
        include_self: whether a joint may be its own neighbour (distance 0, so it
            always would be).  Off by default: the fixed graph and the residual already
            carry the self term, and ``K`` then counts other joints.
        bias: add a bias to ``Y_t``.
        fixed_neighbours: ``[N, K]`` joint indices used for every sample and frame instead
            of the KNN search (e.g. :func:`~posegcn.nn.knn.skeleton_neighbours`): Table VII's
            fixed graph connections, with the same weighting and aggregation.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        k: int = 3,
        weighting: str = "softmax",
        include_self: bool = False,
        bias: bool = False,
        fixed_neighbours: torch.Tensor | None = None,
    ) -> None:
        super().__init__()
        check_neighbour_options("DynamicalSpatialGraphConv", k, weighting, fixed_neighbours)
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.k = k
        self.weighting = weighting
        self.include_self = include_self
        self.register_buffer("fixed_neighbours", fixed_neighbours, persistent=False)
        self.phi = nn.Parameter(torch.empty(in_channels, out_channels))
        self.gamma = nn.Linear(2 * in_channels, 1) if weighting != "none" else None
        self.bias = nn.Parameter(torch.empty(out_channels)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.xavier_uniform_(self.phi)
        if self.gamma is not None:
            self.gamma.reset_parameters()
        if self.bias is not None:
            nn.init.zeros_(self.bias)

    def _check(self, x: torch.Tensor) -> None:
        if x.dim() < 2 or x.shape[-1] != self.in_channels:
            raise ValueError(
                f"DynamicalSpatialGraphConv: expected input [..., N, {self.in_channels}], got {tuple(x.shape)}"
            )

    def graph(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Neighbour indices ``Ω_t`` (Eq. 3) and edge weights ``R_t`` on them (Eq. 5).

        Shapes:
            ``[..., N, C_in] → ([..., N, K] int64, [..., N, K])``.
        """
        self._check(x)
        idx = neighbour_indices(x, self.k, self.include_self, self.fixed_neighbours)
        return idx, edge_weights(self.gamma, x, x, idx, self.weighting)

    def affinity(self, x: torch.Tensor) -> torch.Tensor:
        """The dense dynamical affinity ``B_t = D_t ⊙ R_t`` (Eq. 6), ``K`` non-zeros per row.

        Shapes:
            ``[..., N, C_in] → [..., N, N]`` (row ``i``: joint ``i``; column ``j``: its neighbour).
        """
        idx, weights = self.graph(x)
        return dense_affinity(idx, weights, x.shape[-2])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        idx, weights = self.graph(x)
        # (B_t X_t) Φ = B_t (X_t Φ): transform once per joint, then aggregate K rows.
        y = aggregate_neighbours(x @ self.phi, idx, weights)
        return y if self.bias is None else y + self.bias

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, k={self.k}, weighting={self.weighting!r}, "
            f"include_self={self.include_self}, bias={self.bias is not None}"
        )
