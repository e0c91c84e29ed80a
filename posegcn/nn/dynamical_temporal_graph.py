"""Dynamical temporal graph convolution (DTG) of DG-Net, Eq. 10–14.

The fixed temporal graph (FTG, Eq. 9) links a joint at frame ``t`` only to the same
joint at ``t ± 1``.  DTG instead links joint ``i`` at ``t`` to the ``K`` joints at
``t + 1`` (forward) and at ``t − 1`` (backward) that *move* most like it: the nearest
feature motions ``x_{t+1} − x_t`` (forward) and ``x_t − x_{t−1}`` (backward).
"""

from __future__ import annotations

import torch
from torch import nn

from posegcn.nn.fixed_graphs import neighbour_frames, shift_frames, shifted_frames, temporal_transform
from posegcn.nn.knn import (
    accumulate_neighbours,
    aggregate_neighbours,
    check_neighbour_options,
    dense_affinity,
    edge_scores,
    edge_weights,
    importance_columns,
    knn_indices,
    neighbour_indices,
    neighbour_weights,
)

__all__ = ["DynamicalTemporalGraphConv", "feature_motions", "motion_frames"]


def motion_frames(num_frames: int, device: torch.device | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Which motion ``x_{s+1} − x_s`` is frame ``t``'s forward and backward motion (:func:`feature_motions`).

    Forward: ``s = min(t, T − 2)``; backward: ``s = max(t − 1, 0)`` (the motion is replicated at the
    window ends).  Both directions index the same ``T − 1`` motions: the backward motion of ``t`` is
    the forward motion of ``t − 1``, so their KNN graphs are built once.

    Shapes:
        ``→ ([T], [T])`` int64, values in ``[0, T − 2]``.
    """
    if num_frames < 2:
        raise ValueError(f"feature_motions: need T >= 2 frames, got {num_frames}")
    t = torch.arange(num_frames, device=device)
    return t.clamp(max=num_frames - 2), (t - 1).clamp(min=0)


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
    diff = x[..., 1:, :, :] - x[..., :-1, :, :]  # diff[s] = x_{s+1} − x_s, T − 1 frames
    forward, backward = motion_frames(x.shape[-3], x.device)
    return diff.index_select(-3, forward), diff.index_select(-3, backward)


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

    ``fused=True`` (default) computes the same quantities with less work: the KNN of the
    ``T − 1`` motions once for both directions (:func:`motion_frames`), ``U_x, U_f, U_b`` and
    the per-node halves of ``α``, ``β`` in one matmul, and only the scalar halves shifted in
    time (a per-frame linear map commutes with the frame shift); without autograd the ``K``
    neighbours are gathered straight from frame ``t ± 1`` of that matmul's output
    (:func:`~posegcn.nn.knn.accumulate_neighbours`) instead of from shifted copies.
    ``fused=False`` is the literal form (same neighbours for the same input, outputs and
    gradients equal to float rounding; the reference of ``tests/test_dgnet_speedpaths.py``
    and of ``benchmarks/bench_dgnet.py``).

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
        fused: the fused form (see above; :func:`~posegcn.nn.graph_conv.set_fused`).
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
        fused: bool = True,
    ) -> None:
        super().__init__()
        check_neighbour_options("DynamicalTemporalGraphConv", k, weighting, fixed_neighbours)
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.k = k
        self.weighting = weighting
        self.include_self = include_self
        self.fused = fused
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

    def _check(self, x: torch.Tensor) -> None:
        if x.dim() < 3 or x.shape[-1] != self.in_channels:
            raise ValueError(
                f"DynamicalTemporalGraphConv: expected input [..., T, N, {self.in_channels}], "
                f"got {tuple(x.shape)}"
            )
        if x.shape[-3] < 2:
            raise ValueError(f"DynamicalTemporalGraphConv: need T >= 2 frames, got {tuple(x.shape)}")

    def graph(
        self, x: torch.Tensor
    ) -> tuple[tuple[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]:
        """Forward and backward neighbours (Eq. 10) with their weights ``H_{t±1}`` (Eq. 12).

        Returns ``((idx_f, w_f), (idx_b, w_b))``: ``idx_f[..., t, i, k]`` is the ``k``-th
        neighbour of joint ``i`` at ``t`` among the joints of frame ``t + 1``.

        Shapes:
            ``[..., T, N, C_in] → [..., T, N, K]`` each.
        """
        self._check(x)
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
        if not self.fused:
            (idx_f, w_f), (idx_b, w_b) = self.graph(x)
            # (Q_{t+1} X_{t+1}) U_f = Q_{t+1} (X_{t+1} U_f): transform first, then aggregate C_out rows.
            y_x, y_f, y_b = temporal_transform(x, self.weight)
            y = y_x + aggregate_neighbours(y_f, idx_f, w_f) + aggregate_neighbours(y_b, idx_b, w_b)
            return y if self.bias is None else y + self.bias
        self._check(x)
        idx_f, idx_b = self._neighbours(x)
        c_in, c_out = self.in_channels, self.out_channels
        columns = [self.weight.transpose(0, 1).reshape(c_in, 3 * c_out)]  # [U_x | U_f | U_b]
        if self.alpha is not None:
            columns += [importance_columns(self.alpha, c_in), importance_columns(self.beta, c_in)]
        h = x @ torch.cat(columns, dim=1)  # one matmul: transforms and α/β halves of every node
        # One split (its backward is one concatenation, not a zero-filled gradient per slice).
        y_x, y_f, y_b, *scores = h.split([c_out, c_out, c_out, h.shape[-1] - 3 * c_out], dim=-1)
        if self.alpha is None:
            w_f = w_b = edge_weights(None, x, x, idx_f, self.weighting)
        else:
            s = scores[0]  # [..., T, N, 4]: α_a, α_b, β_a, β_b
            # w_bᵀ x_{t±1} = (w_bᵀ x)_{t±1}: shift the scalars, not the features.
            s_f = shift_frames(s[..., 1:2], 1).squeeze(-1)
            s_b = shift_frames(s[..., 3:4], -1).squeeze(-1)
            w_f = neighbour_weights(edge_scores(s[..., 0], s_f, idx_f, self.alpha.bias), self.weighting)
            w_b = neighbour_weights(edge_scores(s[..., 2], s_b, idx_b, self.beta.bias), self.weighting)
        if torch.is_grad_enabled():
            y = y_x + aggregate_neighbours(shift_frames(y_f, 1), idx_f, w_f)
            y = y + aggregate_neighbours(shift_frames(y_b, -1), idx_b, w_b)
        else:  # gather the neighbours straight from frames t ± 1 of h: no shifted copies
            y = y_x.clone(memory_format=torch.contiguous_format)  # y_x is a view of h
            out, rows = y.view(-1, c_out), h.view(-1, h.shape[-1])
            for columns, idx, w, offset in ((slice(c_out, 2 * c_out), idx_f, w_f, 1),
                                            (slice(2 * c_out, 3 * c_out), idx_b, w_b, -1)):  # fmt: skip
                accumulate_neighbours(out, rows[:, columns], self._rows(idx, offset), w.reshape(-1, self.k))
        return y if self.bias is None else y + self.bias

    @staticmethod
    def _rows(idx: torch.Tensor, offset: int) -> torch.Tensor:
        """Row numbers, in the flattened ``[..., T, N]`` nodes, of neighbours ``idx [..., T, N, K]`` in frame ``t + offset``."""
        *lead, t, n, k = idx.shape
        windows = torch.arange(idx[..., 0, 0, 0].numel(), device=idx.device).view(*lead, 1)
        first_row = (windows * t + shifted_frames(t, offset, idx.device)) * n  # [..., T]
        return (idx + first_row[..., None, None]).reshape(-1, k)

    def _neighbours(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Forward and backward neighbour indices (Eq. 10) from one KNN of the ``T − 1`` motions."""
        if self.fixed_neighbours is not None:
            idx = neighbour_indices(x, self.k, self.include_self, self.fixed_neighbours)
            return idx, idx
        forward, backward = motion_frames(x.shape[-3], x.device)
        idx = knn_indices(x[..., 1:, :, :] - x[..., :-1, :, :], self.k, self.include_self)
        return idx.index_select(-3, forward), idx.index_select(-3, backward)

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, k={self.k}, weighting={self.weighting!r}, "
            f"include_self={self.include_self}, bias={self.bias is not None}"
        )
