"""Fixed spatial and temporal graph convolutions of DG-Net (FSG, Eq. 2; FTG, Eq. 8–9).

Both layers implement the linear part of their equation; the non-linearity ``σ``
(BatchNorm + ReLU in DG-Net's residual modules) is applied by the caller, so a layer
can also serve as the final projection to 3D.  Features are channels-last:
``[B, T, N, C]`` (``T`` frames, ``N`` joints).
"""

from __future__ import annotations

import torch
from torch import nn

from posegcn.nn.affinity import check_adjacency, off_diagonal_mask
from posegcn.nn.graph_conv import decoupled_graph_conv

__all__ = [
    "FSG_WEIGHTS",
    "FixedSpatialGraphConv",
    "FixedTemporalGraphConv",
    "shift_frames",
    "shifted_frames",
    "neighbour_frames",
    "temporal_transform",
    "temporal_conv",
]

#: Weight layouts of :class:`FixedSpatialGraphConv`: separate self/neighbour weights, or Eq. 2's one ``Θ``.
FSG_WEIGHTS = ("decoupled", "shared")


def shifted_frames(num_frames: int, offset: int, device: torch.device | None = None) -> torch.Tensor:
    """Frame ``t + offset`` for every frame ``t``, clamped to the window (the edge rule of :func:`shift_frames`).

    Shapes:
        ``→ [T]`` int64.
    """
    return (torch.arange(num_frames, device=device) + offset).clamp(0, num_frames - 1)


def shift_frames(x: torch.Tensor, offset: int) -> torch.Tensor:
    """``X_{t+offset}`` for every frame ``t``, frames past the window ends clamped to the edge frame.

    Edge rule (replication): the frame after the last one is the last frame itself and
    the frame before the first one is the first frame — ``replicate`` padding of a
    width-3 temporal convolution (VideoPose3D's convention for sequence ends).

    Shapes:
        ``x [..., T, N, C] → [..., T, N, C]``.
    """
    if x.dim() < 3:
        raise ValueError(f"shift_frames: expected x of shape [..., T, N, C], got {tuple(x.shape)}")
    frames = shifted_frames(x.shape[-3], offset, x.device)
    # index_select (backward: one index_add) rather than slices of a padded copy
    # (backward: a zero-filled full-size gradient per slice).
    return x.index_select(-3, frames)


def neighbour_frames(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(X_{t+1}, X_{t−1})`` for every frame ``t`` with edge replication (:func:`shift_frames`).

    Shapes:
        ``x [..., T, N, C] → ([..., T, N, C], [..., T, N, C])``.
    """
    return shift_frames(x, 1), shift_frames(x, -1)


def temporal_transform(
    x: torch.Tensor, weight: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(X_t W_0, X_{t+1} W_1, X_{t−1} W_2)`` for stacked ``weight [3, C_in, C_out]``.

    The three transforms run as one matmul ``X [W_0 | W_1 | W_2]``; the frame shift is
    applied afterwards (a per-frame linear map commutes with edge replication), so
    only ``C_out``-sized outputs are padded, never a ``3·C_in`` concatenated input.

    Shapes:
        ``x [..., T, N, C_in] → 3 × [..., T, N, C_out]``.
    """
    _, c_in, c_out = weight.shape
    h = x @ weight.transpose(0, 1).reshape(c_in, 3 * c_out)  # [..., T, N, 3·C_out]
    h_x, h_f, h_b = h.split(c_out, dim=-1)
    return h_x, shift_frames(h_f, 1), shift_frames(h_b, -1)


def temporal_conv(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """``X_t W_0 + X_{t+1} W_1 + X_{t−1} W_2`` (Eq. 9) with edge replication, for ``weight [3, C_in, C_out]``.

    The sum of :func:`temporal_transform`'s three terms, in that order.  Without autograd the
    shifted terms are added slice by slice into one output (frame ``t`` receives ``t + 1``,
    the last frame itself; then ``t − 1``, the first frame itself) instead of materialising
    both shifted copies: the same additions, so the same values.

    Shapes:
        ``x [..., T, N, C_in] → [..., T, N, C_out]``.
    """
    if torch.is_grad_enabled() and (x.requires_grad or weight.requires_grad):
        h_x, h_f, h_b = temporal_transform(x, weight)
        return h_x + h_f + h_b
    _, c_in, c_out = weight.shape
    h_x, h_f, h_b = (x @ weight.transpose(0, 1).reshape(c_in, 3 * c_out)).split(c_out, dim=-1)
    y = torch.empty_like(h_x, memory_format=torch.contiguous_format)
    torch.add(h_x[..., :-1, :, :], h_f[..., 1:, :, :], out=y[..., :-1, :, :])
    torch.add(h_x[..., -1:, :, :], h_f[..., -1:, :, :], out=y[..., -1:, :, :])
    y[..., 1:, :, :] += h_b[..., :-1, :, :]
    y[..., :1, :, :] += h_b[..., :1, :, :]
    return y


class FixedSpatialGraphConv(nn.Module):
    r"""Fixed spatial graph convolution (FSG), DG-Net Eq. 2 without ``σ``, self and neighbours decoupled.

    .. math::
        Y_t = (A ⊙ I)\, X_t Θ_0 + (A ⊙ (1 − I))\, X_t Θ_1 \;(+\, b)

    ``A`` is the fixed skeleton affinity.  Eq. 1 writes the binary bone adjacency and
    leaves normalisation and self-loops unstated; DG-Net adopts SemGCN's practices
    (§III-C), so :class:`~posegcn.models.dgnet.DGNet` uses SemGCN's row-normalised
    ``D⁻¹(A + I)`` (``Skeleton.adjacency("row_normalized")``) by default: the self term
    keeps a joint's own feature and the normalisation keeps feature scales independent of
    a joint's degree.

    **Decoupled weights** (``weights="decoupled"``, default).  Eq. 2 writes ``A X_t Θ``
    with one ``Θ`` — the special case ``Θ_0 = Θ_1`` here.  SemGCN's graph convolution, whose
    practices DG-Net adopts, gives a joint and its neighbours separate weights, and the
    difference is not cosmetic: on the 17-joint Human3.6M tree (and the MPI-INF-3DHP tree)
    ``D⁻¹(A + I)`` is singular (rank 16), so with one shared ``Θ`` every output obeys
    ``uᵀY = 0`` for the left null vector ``u`` of ``A`` (``Σu = 0``, so a shared bias keeps
    it): a projection to 3D cannot output most real poses (32.3 mm MPJPE for the best
    such approximation of the real S9/S11 test poses), and the input layer discards the
    2D input's component along the right null vector.  With decoupled weights the map
    ``X ↦ Y`` is onto all ``N × C_out`` outputs whenever ``diag(A) > 0`` and
    ``[Θ_0 | Θ_1]ᵀ`` has full row rank (generic weights with ``C_in ≥ 2·C_out``), and
    one-to-one whenever ``[Θ_0 ; Θ_1]`` has full row rank (``C_out ≥ 2·C_in``): if
    ``(A⊙I) U Θ_0ᵀ + (A⊙(1−I)) U Θ_1ᵀ = 0`` then ``(A⊙I) U = 0``, so ``U = 0``
    (``tests/test_output_rank.py``).  It runs as the fused decoupled graph convolution of
    SemGCN / Modulated GCN (:func:`~posegcn.nn.graph_conv.decoupled_graph_conv`).

    ``weights="shared"``: Eq. 2 literally (one ``Θ``), for the ablation only — rank
    deficient wherever ``A`` is singular.

    Shapes:
        ``[..., N, C_in] → [..., N, C_out]``, applied to every frame of ``[B, T, N, C_in]``.

    Parameters:
        ``weight [S, C_in, C_out]`` with ``S = 2`` slots ``(Θ_0, Θ_1)`` (``S = 1``, ``Θ``,
        when shared), bias ``[C_out]``.

    Init:
        each ``[C_in, C_out]`` slot xavier-uniform (gain 1), bias zero.

    Args:
        in_channels: ``C_in``.
        out_channels: ``C_out``.
        adjacency: ``A`` of shape ``[N, N]`` (stored as a buffer in its own floating dtype, so
            ``.to()`` and the state dict carry it).
        bias: add a bias ``b``; off inside BatchNorm'd modules, whose BN shift plays that
            role, on for the projection to 3D.
        weights: ``"decoupled"`` (``Θ_0``, ``Θ_1``) or ``"shared"`` (one ``Θ``, Eq. 2 as written).
        fused: run the decoupled form as the fused op (``False``: the autograd form, same values;
            :func:`~posegcn.nn.graph_conv.set_fused`).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        adjacency: torch.Tensor,
        bias: bool = False,
        weights: str = "decoupled",
        fused: bool = True,
    ) -> None:
        super().__init__()
        adjacency = check_adjacency(adjacency, type(self).__name__)
        if weights not in FSG_WEIGHTS:
            raise ValueError(
                f"FixedSpatialGraphConv: unknown weights {weights!r}; expected one of {FSG_WEIGHTS}"
            )
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.weights = weights
        self.fused = fused
        self.register_buffer("adjacency", adjacency)
        self.register_buffer("off_diagonal", off_diagonal_mask(adjacency), persistent=False)
        slots = 2 if weights == "decoupled" else 1
        self.weight = nn.Parameter(torch.empty(slots, in_channels, out_channels))
        self.bias = nn.Parameter(torch.empty(out_channels)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for w in self.weight:
            nn.init.xavier_uniform_(w)
        if self.bias is not None:
            nn.init.zeros_(self.bias)

    @property
    def num_joints(self) -> int:
        return self.adjacency.shape[0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = self.num_joints
        if x.dim() < 2 or x.shape[-2:] != (n, self.in_channels):
            raise ValueError(
                f"FixedSpatialGraphConv: expected input [..., {n}, {self.in_channels}], got {tuple(x.shape)}"
            )
        if self.weights == "decoupled":
            return decoupled_graph_conv(
                x, self.weight, self.adjacency, self.off_diagonal, bias=self.bias, fused=self.fused
            )
        # Θ first: C_out ≤ C_in wherever it matters, and A is tiny.
        y = self.adjacency @ (x @ self.weight[0])
        return y if self.bias is None else y + self.bias

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, num_joints={self.num_joints}, "
            f"weights={self.weights!r}, bias={self.bias is not None}"
        )


class FixedTemporalGraphConv(nn.Module):
    r"""Fixed temporal graph convolution (FTG), DG-Net Eq. 9 without ``σ``.

    .. math::
        Y_t = X_t W_x + X_{t+1} W_f + X_{t-1} W_b

    i.e. Eq. 8's identity forward/backward affinities ``P_{t±1} = I``: a temporal
    convolution of width 3 applied to each joint.  Frames past the window ends are
    the edge frames (replication, :func:`neighbour_frames`).  The three matrices are
    stored stacked as ``weight[0] = W_x``, ``weight[1] = W_f``, ``weight[2] = W_b`` and
    applied in one matmul (:func:`temporal_transform`).

    Shapes:
        ``[..., T, N, C_in] → [..., T, N, C_out]``.

    Args:
        in_channels: ``C_in``.
        out_channels: ``C_out``.
        bias: add a bias.
        fused: sum the shifted terms without copies when no gradient is recorded
            (:func:`temporal_conv`; ``False``: :func:`temporal_transform` then two additions,
            same values; :func:`~posegcn.nn.graph_conv.set_fused`).
    """

    def __init__(self, in_channels: int, out_channels: int, bias: bool = False, fused: bool = True) -> None:
        super().__init__()
        self.fused = fused
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.weight = nn.Parameter(torch.empty(3, in_channels, out_channels))
        self.bias = nn.Parameter(torch.empty(out_channels)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for w in self.weight:
            nn.init.xavier_uniform_(w)
        if self.bias is not None:
            nn.init.zeros_(self.bias)

    @property
    def w_x(self) -> torch.Tensor:
        return self.weight[0]

    @property
    def w_f(self) -> torch.Tensor:
        return self.weight[1]

    @property
    def w_b(self) -> torch.Tensor:
        return self.weight[2]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() < 3 or x.shape[-1] != self.in_channels:
            raise ValueError(
                f"FixedTemporalGraphConv: expected input [..., T, N, {self.in_channels}], got {tuple(x.shape)}"
            )
        if self.fused:
            y = temporal_conv(x, self.weight)
        else:
            y_x, y_f, y_b = temporal_transform(x, self.weight)
            y = y_x + y_f + y_b
        return y if self.bias is None else y + self.bias

    def extra_repr(self) -> str:
        return f"{self.in_channels}, {self.out_channels}, width=3, edge='replicate', bias={self.bias is not None}"
