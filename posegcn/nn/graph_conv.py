r"""Vanilla graph convolution with decoupled self/neighbour transforms, and weight unsharing.

Both SemGCN and Modulated GCN implement their layers with a *decoupled*
self-connection (Modulated GCN §4.1, SemGCN code): the weight tensor ``W`` has
shape ``(2, C_in, C_out)``, slot 0 transforms the node itself, slot 1 its
neighbours, and the affinity ``Â`` is split into its diagonal and off-diagonal parts:

.. math::
    X' = (Â ⊙ I)\, X W_0 + (Â ⊙ (1 − I))\, X W_1 + b

(written for channels-last features ``X ∈ R^{J×C}``; the papers write ``H ∈ R^{D×N}``).

Implementation: the two transforms are one matmul ``X @ [W_0 | W_1]``; the diagonal
term is an element-wise scale and the neighbour term one ``[J, J]`` mix.  Every layer that
computes this rule (:class:`GraphConv`, :class:`~posegcn.nn.sem_graph_conv.SemGraphConv`,
:class:`~posegcn.nn.modulated_graph_conv.ModulatedGraphConv`,
:class:`~posegcn.nn.fixed_graphs.FixedSpatialGraphConv`) has a ``fused`` attribute: ``True``
(default) runs the fused op with its hand-written backward, ``False`` the straightforward
autograd form; :func:`set_fused` switches a whole network.
"""

from __future__ import annotations

import torch
from torch import nn

from posegcn.nn.affinity import AffinityModulation, check_adjacency, off_diagonal_mask
from posegcn.nn.init import init_graph_weight_, uniform_bias_

__all__ = [
    "GraphConv",
    "WeightUnsharingGraphConv",
    "decoupled_aggregate",
    "decoupled_graph_conv",
    "check_graph_input",
    "set_fused",
]


def check_graph_input(x: torch.Tensor, num_joints: int, channels: int, owner: str) -> None:
    """Raise ``ValueError`` unless ``x`` is ``[..., num_joints, channels]``."""
    if x.dim() < 2 or x.shape[-2] != num_joints or x.shape[-1] != channels:
        hint = ""
        if x.dim() >= 2 and {x.shape[-2], num_joints} == {16, 17}:
            hint = " (16- vs 17-joint layout mix-up? H36M_16 drops Neck/Nose)"
        raise ValueError(
            f"{owner}: expected input [..., J={num_joints}, C={channels}], got shape {tuple(x.shape)}{hint}"
        )


def decoupled_aggregate(
    affinity: torch.Tensor,
    h_self: torch.Tensor,
    h_neigh: torch.Tensor,
    off_diagonal: torch.Tensor,
    modulation: torch.Tensor | None = None,
) -> torch.Tensor:
    """``(Â⊙I)(M⊙H₀) + (Â⊙(1−I))(M⊙H₁)``; without ``modulation`` the ``M⊙`` is dropped.

    The diagonal term is an element-wise scale (``diag(Â)`` folded into ``M``), the
    neighbour term one batched ``[J, J]`` mix.

    Shapes:
        ``affinity [J, J]``, ``h_self, h_neigh [..., J, C]``, ``modulation [J, C]`` → ``[..., J, C]``.
    """
    self_scale = affinity.diagonal().unsqueeze(-1)
    if modulation is not None:
        self_scale = self_scale * modulation
        h_neigh = modulation * h_neigh
    # bmm with the [J, J] matrix broadcast (stride 0): unlike ``A @ h`` it copies no [N, J, C] operand.
    j, c = h_neigh.shape[-2:]
    h = h_neigh.reshape(-1, j, c)
    neigh = torch.bmm((affinity * off_diagonal).expand(h.shape[0], j, j), h)
    return self_scale * h_self + neigh.view(h_neigh.shape)


class _DecoupledGraphConv(torch.autograd.Function):
    """Fused forward/backward of ``(Â⊙I)(M⊙XW₀) + (Â⊙(1−I))(M⊙XW₁) + b``.

    Autograd of the literal expression spends as long on bookkeeping as on the GEMMs
    that carry the FLOPs: the split of ``X[W₀|W₁]`` is undone by a ``cat`` in backward,
    the gradient of the broadcast ``[J, J]`` mix goes through a batch of tiny products
    and a separate reduction, and every broadcast product leaves a temporary.  Here
    both transforms are one batched GEMM whose output ``[2, N·J, C]`` keeps ``XW₀`` and
    ``XW₁`` contiguous; bias and self term are one ``addcmul`` into the output, which the
    mix then accumulates into in place (``baddbmm_``, as ``addmm_`` for ``∂X``: an
    out-of-place ``baddbmm``/``addmm`` first copies its ``beta·C`` operand, a full pass over
    the output); the backward scales the mixed gradient by ``M`` in place and writes no
    ``[N·J, C]`` tensor into a slice of another (``out=`` into a fresh buffer, measured slower).

    Inputs: ``x [N, J, C_in]``, ``weight [2, C_in, C_out]``, ``self_scale [J, C_out]``
    (``diag(Â)`` times ``M``), ``neighbour [J, J]`` (``Â⊙(1−I)``), ``modulation [J, C_out]``
    or ``None``, ``bias [C_out]`` or ``None``.
    """

    @staticmethod
    def forward(ctx, x, weight, self_scale, neighbour, modulation, bias):
        n, j, c_in = x.shape
        c = weight.shape[-1]
        rows = x.reshape(n * j, c_in)
        h = torch.bmm(rows.expand(2, n * j, c_in), weight)  # [2, N·J, C]: XW₀ and XW₁
        h_self, h_neigh = h[0].view(n, j, c), h[1].view(n, j, c)
        mixed_in = h_neigh * modulation if modulation is not None else h_neigh
        out = torch.mul(h_self, self_scale) if bias is None else torch.addcmul(bias, h_self, self_scale)
        out.baddbmm_(neighbour.expand(n, j, j), mixed_in)  # stride-0 batch: no copy of the [J, J] matrix
        ctx.save_for_backward(x, weight, self_scale, neighbour, modulation, h, mixed_in)
        ctx.has_bias = bias is not None
        return out

    @staticmethod
    def backward(ctx, grad_out):
        x, weight, self_scale, neighbour, modulation, h, mixed_in = ctx.saved_tensors
        need_x, need_w, need_scale, need_neigh, need_mod, need_bias = ctx.needs_input_grad
        n, j, c = grad_out.shape
        grad_out = grad_out.contiguous()
        h_self, h_neigh = h[0].view(n, j, c), h[1].view(n, j, c)
        grad_x = grad_w = grad_scale = grad_neigh = grad_mod = grad_bias = None
        if need_scale:
            grad_scale = (grad_out * h_self).sum(0)
        if need_neigh:
            grad_neigh = torch.bmm(grad_out, mixed_in.mT).sum(0)
        if need_bias and ctx.has_bias:
            grad_bias = grad_out.sum((0, 1))
        # ∂L/∂(XW₀) and ∂L/∂(XW₁); the second overwrites ∂L/∂(M⊙XW₁) in place once ∂M is taken.
        grad_self = grad_out * self_scale
        grad_neigh_h = torch.bmm(neighbour.mT.expand(n, j, j), grad_out)
        if modulation is not None:
            if need_mod:
                grad_mod = (grad_neigh_h * h_neigh).sum(0)
            grad_neigh_h.mul_(modulation)
        rows_self, rows_neigh = grad_self.view(n * j, c), grad_neigh_h.view(n * j, c)
        if need_x:
            grad_x = torch.mm(rows_self, weight[0].T).addmm_(rows_neigh, weight[1].T).view(x.shape)
        if need_w:
            rows_t = x.reshape(n * j, -1).T
            grad_w = torch.stack((rows_t @ rows_self, rows_t @ rows_neigh))
        return grad_x, grad_w, grad_scale, grad_neigh, grad_mod, grad_bias


def decoupled_graph_conv(
    x: torch.Tensor,
    weight: torch.Tensor,
    affinity: torch.Tensor,
    off_diagonal: torch.Tensor,
    modulation: torch.Tensor | None = None,
    bias: torch.Tensor | None = None,
    fused: bool = True,
) -> torch.Tensor:
    """The decoupled graph convolution ``(Â⊙I)(M⊙XW₀) + (Â⊙(1−I))(M⊙XW₁) + b``, fused.

    Same value and gradients as ``decoupled_aggregate(affinity, *(x @ _stack_slots(weight)).split(C), …) + b``,
    the straightforward form taken with ``fused=False`` (``tests/test_fused_graph_conv.py`` checks both
    against a loop over the equation).  ``make bench`` times both: a Modulated GCN training step is
    ≈7–10 % faster with the fused op on 2 CPU cores (the rest of the gain over the "before" column is the fused Adam), and a
    batch-1 forward ≈30 % faster.

    Shapes:
        ``x [..., J, C_in]``, ``weight (2, C_in, C_out)``, ``affinity [J, J]``, ``modulation [J, C_out]``,
        ``bias [C_out]`` → ``[..., J, C_out]``.
    """
    # Under autocast (mixed precision) operands arrive in mixed dtypes and the hand-written backward
    # would see them uncast; the autograd form lets autocast handle every product.
    if not fused or torch.is_autocast_enabled(x.device.type):
        h_self, h_neigh = (x @ _stack_slots(weight)).split(weight.shape[-1], dim=-1)
        out = decoupled_aggregate(affinity, h_self, h_neigh, off_diagonal, modulation)
        return out if bias is None else out + bias
    j, c_in = x.shape[-2:]
    self_scale = affinity.diagonal().unsqueeze(-1)
    if modulation is not None:
        self_scale = self_scale * modulation
    else:
        self_scale = self_scale.expand(j, weight.shape[-1])
    out = _DecoupledGraphConv.apply(
        x.reshape(-1, j, c_in), weight, self_scale, affinity * off_diagonal, modulation, bias
    )
    return out.view(*x.shape[:-1], out.shape[-1])


def set_fused(module: nn.Module, fused: bool) -> int:
    """Set ``fused`` on every graph layer and graph block inside ``module`` (itself included); returns how many.

    ``False`` makes the layers compute the straightforward autograd form instead of the fused
    op, and the blocks run BatchNorm and ReLU as two modules (same values and gradients): the
    "before" column of ``make bench`` and the equivalence tests.  A layer is any submodule with
    a boolean ``fused`` attribute.
    """
    layers = [m for m in module.modules() if isinstance(getattr(m, "fused", None), bool)]
    for layer in layers:
        layer.fused = bool(fused)
    return len(layers)


def _stack_slots(weight: torch.Tensor) -> torch.Tensor:
    """``(2, …, C_in, C_out) → (…, C_in, 2·C_out)`` so that self and neighbour transforms are one matmul."""
    return torch.cat((weight[0], weight[1]), dim=-1)


class GraphConv(nn.Module):
    r"""Vanilla graph convolution with a fixed affinity and decoupled self-connection.

    SemGCN Eq. 1 / Modulated GCN Eq. 1–2 (``H' = σ(W H Ã)``) as the original codes
    implement it, i.e. with separate weights for the node itself and its neighbours:

    .. math::
        X' = (Ã ⊙ I)\, X W_0 + (Ã ⊙ (1 − I))\, X W_1 + b

    ``Ã`` is used as given (e.g. ``Skeleton.adjacency("row_normalized")`` for SemGCN's
    ResGCN baseline or ``"degree_diag1"`` for Modulated GCN's ``A_skeleton``), in its own
    floating dtype (:func:`~posegcn.nn.affinity.check_adjacency`).

    Shapes:
        ``[B, J, C_in] → [B, J, C_out]`` (any leading dims).

    Init:
        ``W`` ``(2, C_in, C_out)``: xavier-uniform over the 3-D tensor, gain 1.414
        (``weight_init="original"``) or per matrix (``"per_matrix"``); bias
        ``U(±1/√C_out)``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        adjacency: torch.Tensor,
        bias: bool = True,
        weight_init: str = "original",
        fused: bool = True,
    ) -> None:
        super().__init__()
        adjacency = check_adjacency(adjacency, type(self).__name__)
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.weight_init = weight_init
        self.fused = fused
        self.register_buffer("adjacency", adjacency)
        self.register_buffer("off_diagonal", off_diagonal_mask(adjacency), persistent=False)
        self.W = nn.Parameter(torch.empty(2, in_channels, out_channels))
        self.bias = nn.Parameter(torch.empty(out_channels)) if bias else None
        self.reset_parameters()

    @property
    def num_joints(self) -> int:
        return self.adjacency.shape[0]

    def reset_parameters(self) -> None:
        init_graph_weight_(self.W, self.weight_init)
        if self.bias is not None:
            uniform_bias_(self.bias, self.out_channels)

    def effective_affinity(self) -> torch.Tensor:
        """The ``[J, J]`` affinity the forward uses (here the fixed one)."""
        return self.adjacency

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_graph_input(x, self.num_joints, self.in_channels, type(self).__name__)
        return decoupled_graph_conv(
            x, self.W, self.adjacency, self.off_diagonal, bias=self.bias, fused=self.fused
        )

    def extra_repr(self) -> str:
        return f"{self.in_channels}, {self.out_channels}, num_joints={self.num_joints}, bias={self.bias is not None}"


class WeightUnsharingGraphConv(nn.Module):
    r"""Weight unsharing (Liu et al. 2020; Modulated GCN Eq. 3): one transform per node.

    .. math::
        x'_i = \sum_{j ∈ Ñ_i} W_j\, x_j\, â_{ij}

    decoupled as in the original codes — node ``j`` has its own self weight
    ``W_0^{(j)}`` and neighbour weight ``W_1^{(j)}`` (pre-aggregation unsharing):

    .. math::
        x'_i = â_{ii}\, x_i W_0^{(i)} + \sum_{j ≠ i} â_{ij}\, x_j W_1^{(j)} + b

    With ``affinity="add"`` (Modulated GCN Table 3) the 128-channel network has
    4,220,803 ≈ 4.22M parameters, the number the paper reports.  ``Â`` comes from
    :class:`~posegcn.nn.affinity.AffinityModulation` (default: the fixed skeleton).

    Shapes:
        ``[B, J, C_in] → [B, J, C_out]`` (any leading dims).

    Parameters:
        ``W`` ``(2, J, C_in, C_out)``, bias ``(C_out)``, plus the affinity's ``P``/``Q``/``L``;
        per layer ``2·J·C_in·C_out + C_out`` (+ ``J²`` for a full ``Q``).

    Init:
        each node's ``(2, C_in, C_out)`` slice as the shared ``W`` of :class:`GraphConv`.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        adjacency: torch.Tensor,
        affinity: str = "skeleton",
        symmetric: bool | str = False,
        low_rank: int | None = None,
        bias: bool = True,
        weight_init: str = "original",
    ) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.weight_init = weight_init
        self.affinity = AffinityModulation(adjacency, affinity, symmetric, low_rank)
        j = self.affinity.num_joints
        self.register_buffer("off_diagonal", off_diagonal_mask(self.affinity.adjacency), persistent=False)
        self.W = nn.Parameter(torch.empty(2, j, in_channels, out_channels))
        self.bias = nn.Parameter(torch.empty(out_channels)) if bias else None
        self.reset_parameters()

    @property
    def num_joints(self) -> int:
        return self.affinity.num_joints

    def reset_parameters(self) -> None:
        for j in range(self.num_joints):  # parameter init, not data path
            init_graph_weight_(self.W[:, j], self.weight_init)
        self.affinity.reset_parameters()
        if self.bias is not None:
            uniform_bias_(self.bias, self.out_channels)

    def effective_affinity(self) -> torch.Tensor:
        """The ``[J, J]`` affinity the forward uses."""
        return self.affinity()

    def affinity_l1(self) -> torch.Tensor:
        """ℓ1 of the learned affinity (sparsity regulariser); 0 for the fixed skeleton."""
        return self.affinity.l1()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_graph_input(x, self.num_joints, self.in_channels, type(self).__name__)
        # Per-node transforms, self and neighbour slots in one batched matmul over joints.
        y = torch.einsum("...jc,jcd->...jd", x, _stack_slots(self.W))
        h_self, h_neigh = y.split(self.out_channels, dim=-1)
        out = decoupled_aggregate(self.effective_affinity(), h_self, h_neigh, self.off_diagonal)
        return out if self.bias is None else out + self.bias

    def extra_repr(self) -> str:
        return f"{self.in_channels}, {self.out_channels}, num_joints={self.num_joints}, bias={self.bias is not None}"
