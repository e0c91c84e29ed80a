"""Dynamical temporal graph convolution (DTG) of DG-Net, Eq. 10–14.

The fixed temporal graph (FTG, Eq. 9) links a joint at frame ``t`` only to the same
joint at ``t ± 1``.  DTG instead links joint ``i`` at ``t`` to the ``K`` joints at
``t + 1`` (forward) and at ``t − 1`` (backward) that *move* most like it: the nearest
feature motions ``x_{t+1} − x_t`` (forward) and ``x_t − x_{t−1}`` (backward).
"""

from __future__ import annotations

import torch
from torch import nn

from posegcn.nn.fixed_graphs import neighbour_frames, temporal_transform
from posegcn.nn.knn import (
    aggregate_neighbours,
    check_neighbour_options,
    dense_affinity,
    edge_weights,
    neighbour_indices,
)

__all__ = ["DynamicalTemporalGraphConv", "feature_motions"]


def feature_motions(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Forward and backward feature motions of every joint and frame (the KNN keys of Eq. 10).

    Forward: ``x_{t+1} − x_t``; backward: ``x_t − x_{t−1}``.  Edge rule: at the last
    frame there is no ``t + 1``, and replicating the last frame would give zero motion
    for every joint, so all distances would tie and the neighbours would be arbitrary.
    Instead the *motion* is replicated (constant velocity): the forward motion of the
    last frame is that of the frame before, ``x_{T−1} − x_{T−2}``, and the backward motion
    of the first frame is ``x_1 − x_0``.  The *features* aggregated from ``t ± 1``
    follow :func:`~posegcn.nn.fixed_graphs.neighbour_frames` (frame replication), as in FTG.

    Shapes:
        ``[..., T, N, C] → ([..., T, N, C], [..., T, N, C])``, ``T ≥ 2``.
    """
    if x.dim() < 3 or x.shape[-3] < 2:
        raise ValueError(
            f"feature_motions: expected x of shape [..., T, N, C] with T >= 2 frames, got {tuple(x.shape)}"
        )
    diff = x[..., 1:, :, :] - x[..., :-1, :, :]  # diff[t] = x_{t+1} − x_t, T − 1 frames
    forward = torch.cat([diff, diff[..., -1:, :, :]], dim=-3)
    backward = torch.cat([diff[..., :1, :, :], diff], dim=-3)
    return forward, backward


class DynamicalTemporalGraphConv(nn.Module):
    r"""Dynamical temporal graph convolution (DTG), DG-Net Eq. 10–14 without ``σ``.

    For joint ``i`` at frame ``t``:

    .. math::
        f_{t+1}^i = \operatorname{KNN}(x_{t+1}^i - x_t^i,\; X_{t+1} - X_t,\; K)      \quad (10) \\
        L_{t+1}(i, j) = [\, j ∈ f_{t+1}^i \,]                                       \quad (11) \\
        H_{t+1}(i, j) = α([x_t^i, x_{t+1}^j]),\quad H_{t-1}(i, j) = β([x_t^i, x_{t-1}^j])  \quad (12) \\
        Q_{t±1} = L_{t±1} ⊙ H_{t±1}                                                 \quad (13) \\
        Y_t = X_t U_x + Q_{t+1} X_{t+1} U_f + Q_{t-1} X_{t-1} U_b                   \quad (14)

    and ``f_{t−1}^i = KNN(x_t^i − x_{t−1}^i, X_t − X_{t−1}, K)``.  ``α`` and ``β`` are
    fully-connected layers ``2C_in → 1``.  Window ends: see :func:`feature_motions`
    (motion replicated for the KNN) and
    :func:`~posegcn.nn.fixed_graphs.neighbour_frames` (features of ``t ± 1`` replicated).
    ``U_x, U_f, U_b`` are stored stacked in ``weight`` and applied in one matmul
    (:func:`~posegcn.nn.fixed_graphs.temporal_transform`).

    Shapes:
        ``[..., T, N, C_in] → [..., T, N, C_out]``, ``T ≥ 2``.

    Args:
        in_channels: ``C_in``.
        out_channels: ``C_out``.
        k: ``K`` neighbours in each of the two adjacent frames (paper: 4).
        weighting: edge weighting of ``α``/``β``'s scores — ``"softmax"`` over the ``K``
            (default), ``"sigmoid"``, ``"raw"`` or ``"none"`` (no ``α``/``β`` built); see
            :func:`posegcn.nn.knn.neighbour_weights`.
        include_self: whether joint ``i`` at ``t ± 1`` may be among the neighbours of
            joint ``i`` at ``t`` (its motion distance is 0, so it always would be).  Off by
            default: that edge is FTG's, which surrounds DTG in the temporal unit.
        bias: add a bias to ``Y_t``.
        fixed_neighbours: ``[N, K]`` joint indices used for every sample and frame instead
            of the KNN search (e.g. :func:`~posegcn.nn.knn.skeleton_neighbours`): Table VII's
            fixed graph connections, with the same weighting and aggregation.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        k: int = 4,
        weighting: str = "softmax",
        include_self: bool = False,
        bias: bool = False,
        fixed_neighbours: torch.Tensor | None = None,
    ) -> None:
        super().__init__()
        check_neighbour_options("DynamicalTemporalGraphConv", k, weighting, fixed_neighbours)
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.k = k
        self.weighting = weighting
        self.include_self = include_self
        self.register_buffer("fixed_neighbours", fixed_neighbours, persistent=False)
        self.weight = nn.Parameter(torch.empty(3, in_channels, out_channels))
        self.alpha = nn.Linear(2 * in_channels, 1) if weighting != "none" else None
        self.beta = nn.Linear(2 * in_channels, 1) if weighting != "none" else None
        self.bias = nn.Parameter(torch.empty(out_channels)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for w in self.weight:
            nn.init.xavier_uniform_(w)
        for lin in (self.alpha, self.beta):
            if lin is not None:
                lin.reset_parameters()
        if self.bias is not None:
            nn.init.zeros_(self.bias)

    @property
    def u_x(self) -> torch.Tensor:
        return self.weight[0]

    @property
    def u_f(self) -> torch.Tensor:
        return self.weight[1]

    @property
    def u_b(self) -> torch.Tensor:
        return self.weight[2]

    def graph(
        self, x: torch.Tensor
    ) -> tuple[tuple[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]:
        """Forward and backward neighbours (Eq. 10) with their weights ``H_{t±1}`` (Eq. 12).

        Returns ``((idx_f, w_f), (idx_b, w_b))``: ``idx_f[..., t, i, k]`` is the ``k``-th
        neighbour of joint ``i`` at ``t`` among the joints of frame ``t + 1``.

        Shapes:
            ``[..., T, N, C_in] → [..., T, N, K]`` each.
        """
        if x.dim() < 3 or x.shape[-1] != self.in_channels:
            raise ValueError(
                f"DynamicalTemporalGraphConv: expected input [..., T, N, {self.in_channels}], "
                f"got {tuple(x.shape)}"
            )
        motion_f, motion_b = feature_motions(x)
        x_next, x_prev = neighbour_frames(x)
        idx_f = neighbour_indices(motion_f, self.k, self.include_self, self.fixed_neighbours)
        idx_b = neighbour_indices(motion_b, self.k, self.include_self, self.fixed_neighbours)
        w_f = edge_weights(self.alpha, x, x_next, idx_f, self.weighting)
        w_b = edge_weights(self.beta, x, x_prev, idx_b, self.weighting)
        return (idx_f, w_f), (idx_b, w_b)

    def affinity(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Dense ``(Q_{t+1}, Q_{t−1})`` of Eq. 13, ``K`` non-zeros per row.

        Shapes:
            ``[..., T, N, C_in] → ([..., T, N, N], [..., T, N, N])``; row ``i`` is joint ``i``
            at ``t``, column ``j`` joint ``j`` at ``t + 1`` (resp. ``t − 1``).
        """
        (idx_f, w_f), (idx_b, w_b) = self.graph(x)
        n = x.shape[-2]
        return dense_affinity(idx_f, w_f, n), dense_affinity(idx_b, w_b, n)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        (idx_f, w_f), (idx_b, w_b) = self.graph(x)
        # (Q_{t+1} X_{t+1}) U_f = Q_{t+1} (X_{t+1} U_f): transform first, then aggregate C_out rows.
        y_x, y_f, y_b = temporal_transform(x, self.weight)
        y = y_x + aggregate_neighbours(y_f, idx_f, w_f) + aggregate_neighbours(y_b, idx_b, w_b)
        return y if self.bias is None else y + self.bias

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, k={self.k}, weighting={self.weighting!r}, "
            f"include_self={self.include_self}, bias={self.bias is not None}"
        )
