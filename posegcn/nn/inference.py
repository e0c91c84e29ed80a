r"""Inference form of the decoupled graph convolution: constants precomputed, BatchNorm folded.

At test time every graph layer of SemGCN, Modulated GCN and DG-Net's FSG computes, with
parameters that no longer change,

.. math::
    Y = (Â ⊙ I)(M ⊙ X W_0) + (Â ⊙ (1 − I))(M ⊙ X W_1) + b

followed (inside a :class:`~posegcn.nn.blocks.GraphConvBlock`) by BatchNorm with running
statistics and ReLU, ``Z = ReLU(s ⊙ Y + t)`` with ``s = γ / √(σ² + ε)``, ``t = β − s ⊙ μ``.
Everything but ``X`` is constant, so three things are done once instead of every forward:

1. **The affinity** ``Â`` — Modulated GCN's ``A + Q`` (Eq. 7; ``A ⊙ P`` Eq. 6, ``A ⊙ P + Q``
   Eq. 8, ``Q`` Eq. 9), low-rank ``Q = L Lᵀ`` and symmetrisation included; SemGCN's
   ``ρ_i(M ⊙ A)`` softmax over the masked edge weights (SemGCN Eq. 2); FSG's fixed ``A``.
2. **BatchNorm** scales output channels and shifts them, and so does everything after ``XW``
   (the per-node modulation ``M`` of Eq. 5 and the mix with ``Â`` act per channel or per node):
   ``s ⊙ Y = (Â⊙I)(M ⊙ X(W_0 s)) + (Â⊙(1−I))(M ⊙ X(W_1 s)) + s ⊙ b``, so
   ``W'_k = W_k diag(s)`` and ``b' = s ⊙ b + t``.
3. **The decoupled rule as one mix.**  Both transforms are one product ``H = X [W'_0 | W'_1]``
   (``[J, 2C]``); read as ``[2J, C]`` its rows are ``(joint j, slot k)`` in the order
   ``2j + k``, and the two aggregations become one ``[J, 2J]`` matrix
   ``P[i, 2j + k] = (Â ⊙ I)_{ij}`` for ``k = 0`` and ``(Â ⊙ (1 − I))_{ij}`` for ``k = 1``:

   .. math::
       Z = \operatorname{ReLU}\big(P\,(M_2 ⊙ H) + b'\big), \qquad
       M_2 = M \text{ with every row repeated for the two slots}.

   Four operators per layer (a GEMM, the modulation product, a batched GEMM that adds the
   bias, an in-place ReLU) instead of the ten to fifteen of the training form.  FSG with one
   shared ``Θ`` (DG-Net Eq. 2 literally) is the one-slot case, ``P = A``.

DG-Net's FTG (Eq. 9 with Eq. 8's identity affinities, ``Y_t = X_t W_x + X_{t+1} W_f + X_{t−1} W_b``)
is linear per channel as well: its BatchNorm folds the same way into :class:`FoldedTemporalConv`.

Layers outside these rules keep their training form (in eval mode): SemGCN's channel-wise
edge weights (Eq. 3: one ``Â`` per channel), weight unsharing (one ``W`` per node,
Modulated GCN Eq. 3), DG-Net's DSG/DTG (graphs built from the features) and the non-local
blocks; :func:`folded_graph_conv` returns ``None`` for them.
"""

from __future__ import annotations

import torch
from torch import nn

from posegcn.nn.fixed_graphs import FixedSpatialGraphConv, FixedTemporalGraphConv, temporal_transform
from posegcn.nn.graph_conv import GraphConv
from posegcn.nn.modulated_graph_conv import ModulatedGraphConv
from posegcn.nn.sem_graph_conv import SemGraphConv

__all__ = [
    "FoldedGraphConv",
    "FoldedTemporalConv",
    "InferenceResidual",
    "batchnorm_scale_shift",
    "folded_graph_conv",
]


def batchnorm_scale_shift(bn: nn.BatchNorm1d) -> tuple[torch.Tensor, torch.Tensor] | None:
    """``(s, t)`` with ``BN(y) = s ⊙ y + t`` in eval mode; ``None`` without running statistics."""
    if bn.running_mean is None or bn.running_var is None:
        return None  # eval-mode BatchNorm would normalise with batch statistics: not a constant map
    scale = torch.rsqrt(bn.running_var.double() + bn.eps)
    if bn.weight is not None:
        scale = scale * bn.weight.double()
    shift = -scale * bn.running_mean.double()
    if bn.bias is not None:
        shift = shift + bn.bias.double()
    return scale, shift


def _decoupled_parts(layer: nn.Module):
    """``(W [S, C_in, C_out], Â [J, J], M [J, C_out] or None, b or None)`` of a foldable layer, else ``None``."""
    if isinstance(layer, ModulatedGraphConv):
        return layer.W, layer.effective_affinity(), layer.M, layer.bias
    if isinstance(layer, SemGraphConv):
        if layer.channelwise:
            return None  # Eq. 3: one affinity per output channel, no single [J, 2J] mix
        return layer.W, layer.effective_affinity(), None, layer.bias
    if isinstance(layer, GraphConv):
        return layer.W, layer.effective_affinity(), None, layer.bias
    if isinstance(layer, FixedSpatialGraphConv):
        return layer.weight, layer.adjacency, None, layer.bias
    return None


class FoldedGraphConv(nn.Module):
    r"""``Z = σ(P (M₂ ⊙ X W) + b)``: a decoupled graph layer (and its BatchNorm) with constants folded.

    Built by :func:`folded_graph_conv`; see the module docstring for the algebra.  Holds
    buffers only (nothing to train) and does not validate its input: the network's entry
    checks the pose once.

    Shapes:
        ``[..., J, C_in] → [..., J, C_out]`` (``[B, J, C]``, ``[B, T, J, C]``, …).

    Buffers:
        ``weight [C_in, S·C_out]`` (``[W'_0 | W'_1]``, ``S`` slots), ``mix [J, S·J]`` (``P``),
        ``modulation [S·J, C_out]`` (``M₂``) or ``None``, ``bias [C_out]`` (``b'``) or ``None``;
        ``relu``: apply ReLU (a folded :class:`~posegcn.nn.blocks.GraphConvBlock`) or not (a bare layer).
    """

    def __init__(
        self,
        weight: torch.Tensor,
        mix: torch.Tensor,
        modulation: torch.Tensor | None,
        bias: torch.Tensor | None,
        relu: bool,
    ) -> None:
        super().__init__()
        self.num_joints, slots_joints = mix.shape
        self.slots = slots_joints // self.num_joints
        self.in_channels = weight.shape[0]
        self.out_channels = weight.shape[1] // self.slots
        self.relu = relu
        self.register_buffer("weight", weight)
        self.register_buffer("mix", mix)
        self.register_buffer("modulation", modulation)
        self.register_buffer("bias", bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        j, c, rows = self.num_joints, self.out_channels, self.slots * self.num_joints
        x_rows = x.reshape(-1, self.in_channels)
        # [N·J, C_in] @ [C_in, S·C]; read as [N, S·J, C], the rows of H are (joint j, slot k), S·j + k.
        h = torch.mm(x_rows, self.weight)
        modulation, mix, bias = self.modulation, self.mix, self.bias
        n = x_rows.shape[0] // j
        if n == 1:  # one pose (live demo): plain GEMMs, no batch bookkeeping
            h = h.view(rows, c)
            if modulation is not None:
                h.mul_(modulation)
            out = torch.mm(mix, h) if bias is None else torch.addmm(bias, mix, h)
        else:
            h = h.view(n, rows, c)
            if modulation is not None:
                h.mul_(modulation)
            mix = mix.expand(n, j, rows)  # stride-0 batch: no copy of P
            out = torch.bmm(mix, h) if bias is None else torch.baddbmm(bias, mix, h)
        if self.relu:
            out.relu_()
        return out.view(*x.shape[:-1], c)

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, num_joints={self.num_joints}, slots={self.slots}, "
            f"modulation={self.modulation is not None}, bias={self.bias is not None}, relu={self.relu}"
        )


class FoldedTemporalConv(nn.Module):
    r"""``Z = σ(X_t W'_x + X_{t+1} W'_f + X_{t−1} W'_b + b')``: DG-Net's FTG with its BatchNorm folded.

    Built by :func:`folded_graph_conv` (``W' = W diag(s)``, ``b' = s ⊙ b + t``); frames past the
    window ends replicate the edge frames (:func:`~posegcn.nn.fixed_graphs.temporal_transform`).

    Shapes:
        ``[..., T, N, C_in] → [..., T, N, C_out]``.
    """

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor | None, relu: bool) -> None:
        super().__init__()
        self.in_channels, self.out_channels = weight.shape[1:]
        self.relu = relu
        self.register_buffer("weight", weight)
        self.register_buffer("bias", bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y_x, y_f, y_b = temporal_transform(x, self.weight)
        out = torch.add(y_x, y_f).add_(y_b)
        if self.bias is not None:
            out.add_(self.bias)
        return out.relu_() if self.relu else out

    def extra_repr(self) -> str:
        return f"{self.in_channels}, {self.out_channels}, bias={self.bias is not None}, relu={self.relu}"


@torch.no_grad()
def folded_graph_conv(layer: nn.Module, bn: nn.BatchNorm1d | None = None, relu: bool = False):
    """The folded module equal to ``relu(bn(layer(x)))`` in eval mode, or ``None``.

    ``bn`` (optional) is the BatchNorm after the layer, ``relu`` whether a ReLU follows.
    A :class:`FoldedGraphConv` for the decoupled graph convolutions with one ``[J, J]``
    affinity, a :class:`FoldedTemporalConv` for DG-Net's FTG; ``None`` for the other layers
    (SemGCN channel-wise, weight unsharing, DG-Net's DSG/DTG, unknown layers) or when the
    BatchNorm keeps no running statistics.  Folding runs in float64 and the buffers take
    the layer's dtype and device.
    """
    if isinstance(layer, FixedTemporalGraphConv):
        parts = layer.weight, None, None, layer.bias
    else:
        parts = _decoupled_parts(layer)
    if parts is None:
        return None
    weight, affinity, modulation, bias = parts
    dtype = weight.dtype
    slots, c_in, c_out = weight.shape
    w = weight.double()
    b = bias.double() if bias is not None else None
    if bn is not None:
        folded = batchnorm_scale_shift(bn)
        if folded is None:
            return None
        scale, shift = folded
        w = w * scale
        b = shift if b is None else scale * b + shift

    def buffer(t: torch.Tensor | None) -> torch.Tensor | None:
        return None if t is None else t.to(dtype).contiguous()

    if affinity is None:  # FTG
        return FoldedTemporalConv(buffer(w), buffer(b), relu)
    a = affinity.double()
    j = a.shape[0]
    if slots == 2:
        eye = torch.eye(j, dtype=a.dtype, device=a.device)
        mix = torch.stack((a * eye, a * (1 - eye)), dim=-1).reshape(j, 2 * j)
    else:  # one shared Θ: Y = Â X Θ
        mix = a
    m2 = modulation.double().repeat_interleave(slots, dim=0) if modulation is not None else None
    return FoldedGraphConv(
        buffer(w.permute(1, 0, 2).reshape(c_in, slots * c_out)), buffer(mix), buffer(m2), buffer(b), relu
    )


class InferenceResidual(nn.Module):
    """``f₂(f₁(x)) + x`` with the skip added in place (:class:`~posegcn.nn.blocks.ResidualGraphBlock`).

    Shapes:
        ``[..., J, C] → [..., J, C]``.
    """

    def __init__(self, gconv1: nn.Module, gconv2: nn.Module) -> None:
        super().__init__()
        self.gconv1 = gconv1
        self.gconv2 = gconv2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # gconv2's output is a fresh tensor; like the chain, the stages run through forward (no hooks)
        return self.gconv2.forward(self.gconv1.forward(x)).add_(x)
