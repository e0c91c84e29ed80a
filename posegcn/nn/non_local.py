"""Non-local blocks over the joints of a pose graph.

Two forms are used by the papers this package implements (Wang et al., "Non-local
Neural Networks", CVPR 2018, Eq. 1: ``y_i = 1/C(x) Σ_j f(x_i, x_j) g(x_j)``,
``z_i = W_z y_i + x_i``):

* :class:`EmbeddedGaussianNonLocal` — ``f = exp(θ(x_i)ᵀ φ(x_j))`` normalised by a
  softmax over the keys; the block Modulated GCN puts before its output layer in
  the CPN setting (the original ``NONLocalBlock2D`` with ``sub_sample=False``), and
  the non-local block of DG-Net.
* :class:`GroupedNonLocal` — SemGCN's block (SemGCN §3.3): the concatenation form
  ``f = ReLU(w_fᵀ [θ(x_i); φ(x_j)])`` divided by the number of keys, with joints
  grouped into pairs of neighbours and keys/values max-pooled within each group.

Both end in ``W_z`` (a 1×1 convolution = a linear map over channels) followed by a
BatchNorm whose weight and bias start at zero, so a freshly built block is the
identity and can be dropped into a pretrained network.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from posegcn.nn.blocks import RowBatchNorm

__all__ = ["EmbeddedGaussianNonLocal", "GroupedNonLocal", "SEMGCN_JOINT_GROUPS_16"]


def _check_channels(x: torch.Tensor, channels: int, name: str) -> None:
    if x.dim() < 2 or x.shape[-1] != channels:
        raise ValueError(
            f"{name}: expected input [..., J, {channels}] (channels last), got shape {tuple(x.shape)}"
        )


class EmbeddedGaussianNonLocal(nn.Module):
    r"""Embedded-Gaussian non-local block over the joints (Wang et al. 2018, Eq. 1–3).

    Propagation rule, for the ``J`` joints of one pose (or of one frame):

    .. math::
        F = \operatorname{softmax}_j\big(θ(X)\, φ(X)^\top\big), \qquad
        Z = \operatorname{BN}\big(F\, g(X)\, W_z\big) + X

    with ``θ, φ, g`` 1×1 convolutions (linear maps with bias) ``C → C_inter`` and
    ``W_z`` a 1×1 convolution ``C_inter → C``.  No ``1/√C_inter`` temperature, as in the
    original ``non_local_embedded_gaussian.py`` used by Modulated GCN (CPN setting)
    with ``sub_sample=False``.

    Shapes:
        ``[B, J, C] → [B, J, C]``; any leading dims are kept, e.g. ``[B, T, J, C] → [B, T, J, C]``
        with attention over the ``J`` joints of each frame separately.

    Init:
        ``θ, φ, g, W_z``: PyTorch's default for 1×1 convolutions (kaiming-uniform with
        ``a=√5``, as ``nn.Linear``); BatchNorm weight and bias set to 0, so the block is
        the identity at initialisation.

    Args:
        channels: ``C``, feature channels of the input and output.
        inter_channels: ``C_inter`` of the embeddings; default ``C // 2`` (at least 1).
    """

    def __init__(self, channels: int, inter_channels: int | None = None) -> None:
        super().__init__()
        if channels < 1:
            raise ValueError(f"EmbeddedGaussianNonLocal: channels must be >= 1, got {channels}")
        self.channels = channels
        self.inter_channels = inter_channels if inter_channels is not None else max(channels // 2, 1)
        self.theta = nn.Linear(channels, self.inter_channels)
        self.phi = nn.Linear(channels, self.inter_channels)
        self.g = nn.Linear(channels, self.inter_channels)
        self.w_z = nn.Linear(self.inter_channels, channels)
        self.bn = RowBatchNorm(channels)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for lin in (self.theta, self.phi, self.g, self.w_z):
            lin.reset_parameters()
        self.bn.reset_running_stats()
        # Zero BN affine ⇒ W_z-branch outputs 0 ⇒ identity block at init (Wang et al. §4.1).
        nn.init.zeros_(self.bn.weight)
        nn.init.zeros_(self.bn.bias)

    def attention(self, x: torch.Tensor) -> torch.Tensor:
        """The affinity ``F = softmax_j(θ(x_i)ᵀ φ(x_j))``: ``[..., J, C] → [..., J, J]`` (rows sum to 1)."""
        _check_channels(x, self.channels, type(self).__name__)
        theta, phi = self.theta(x), self.phi(x)
        return torch.softmax(theta @ phi.transpose(-1, -2), dim=-1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_channels(x, self.channels, type(self).__name__)
        c = self.inter_channels
        # θ, φ, g in one matmul over all rows; split afterwards.
        weight = torch.cat([self.theta.weight, self.phi.weight, self.g.weight], dim=0)
        bias = torch.cat([self.theta.bias, self.phi.bias, self.g.bias], dim=0)
        theta, phi, g = F.linear(x, weight, bias).split(c, dim=-1)
        f = torch.softmax(theta @ phi.transpose(-1, -2), dim=-1)  # [..., J, J]
        y = self.w_z(f @ g)  # [..., J, C]
        return self.bn(y) + x

    def extra_repr(self) -> str:
        return f"channels={self.channels}, inter_channels={self.inter_channels}"


#: SemGCN's joint grouping for the 16-joint H36M skeleton (``nodes_group`` of the original
#: ``main_gcn.py``): 8 pairs of neighbouring joints — (RKnee, RFoot), (LKnee, LFoot),
#: (RHip, LHip), (Hip, Spine), (Thorax, Head), (RElbow, RWrist), (LElbow, LWrist),
#: (LShoulder, RShoulder).
SEMGCN_JOINT_GROUPS_16: tuple[tuple[int, ...], ...] = (
    (2, 3), (5, 6), (1, 4), (0, 7), (8, 9), (14, 15), (11, 12), (10, 13),
)  # fmt: skip


class GroupedNonLocal(nn.Module):
    r"""SemGCN's non-local block (SemGCN Eq. 4) with keys pooled over groups of joints.

    As the original ``GraphNonLocal`` (concatenation form of Wang et al., Eq. 2–3):
    the joints are arranged into ``G`` groups of ``k`` neighbouring joints; keys
    ``φ`` and values ``g`` are max-pooled within each group, queries ``θ`` are not:

    .. math::
        f_{ig} = \operatorname{ReLU}\big(w_f^\top [θ(x_i); \bar φ_g]\big), \qquad
        y_i = \frac{1}{G} \sum_{g=1}^{G} f_{ig}\, \bar g_g, \qquad
        z_i = \operatorname{BN}(W_z y_i) + x_i

    with ``\bar φ_g = max_{j ∈ g} φ(x_j)`` (same for ``\bar g_g``), normalised by the
    number of keys ``G`` (no softmax).  ``w_fᵀ[θ_i; φ_g] = w_θᵀθ_i + w_φᵀφ_g`` is
    computed without materialising the ``[J, G, 2C_inter]`` concatenation.  The
    original permutes the joints into group order and back; the block is point-wise
    except for the pooling, so gathering the groups directly gives the same output.

    Shapes:
        ``[B, J, C] → [B, J, C]`` (any leading dims).

    Init (as the original ``_NonLocalBlock``): ``θ, φ, g, W_z`` and ``w_f`` weights
        ``kaiming_normal_`` (fan-in, gain √2; a 1×1 convolution's fan-in is ``C_in`` as for the
        linear map here), their biases 0 (``w_f`` has none); BatchNorm weight and bias 0 ⇒
        identity at initialisation.

    Args:
        channels: ``C``.
        groups: ``G`` groups of equal size covering every joint once
            (default :data:`SEMGCN_JOINT_GROUPS_16`).
        inter_channels: ``C_inter``, default ``C // 2``.
    """

    def __init__(
        self,
        channels: int,
        groups: Sequence[Sequence[int]] = SEMGCN_JOINT_GROUPS_16,
        inter_channels: int | None = None,
    ) -> None:
        super().__init__()
        groups = [list(g) for g in groups]
        sizes = {len(g) for g in groups}
        if len(sizes) != 1 or min(sizes) < 1:
            raise ValueError(f"GroupedNonLocal: groups must be non-empty and of equal size, got {groups}")
        flat = sorted(j for g in groups for j in g)
        if flat != list(range(len(flat))):
            raise ValueError(f"GroupedNonLocal: groups must cover joints 0..J-1 exactly once, got {groups}")
        self.channels = channels
        self.inter_channels = inter_channels if inter_channels is not None else max(channels // 2, 1)
        self.num_joints = len(flat)
        self.register_buffer("group_index", torch.tensor(groups, dtype=torch.long), persistent=False)
        self.theta = nn.Linear(channels, self.inter_channels)
        self.phi = nn.Linear(channels, self.inter_channels)
        self.g = nn.Linear(channels, self.inter_channels)
        self.concat_project = nn.Linear(2 * self.inter_channels, 1, bias=False)  # w_f
        self.w_z = nn.Linear(self.inter_channels, channels)
        self.bn = RowBatchNorm(channels)
        self.reset_parameters()

    @property
    def groups(self) -> list[list[int]]:
        return self.group_index.tolist()

    def reset_parameters(self) -> None:
        for lin in (self.theta, self.phi, self.g, self.concat_project, self.w_z):
            nn.init.kaiming_normal_(lin.weight)
            if lin.bias is not None:
                nn.init.zeros_(lin.bias)
        self.bn.reset_running_stats()
        nn.init.zeros_(self.bn.weight)
        nn.init.zeros_(self.bn.bias)

    def _pool(self, h: torch.Tensor) -> torch.Tensor:
        """Max over each group: ``[..., J, C] → [..., G, C]``.

        One ``index_select`` puts the joints in group order and a view makes the groups a
        dimension (advanced indexing with the ``[G, k]`` index would backpropagate through a
        scatter with accumulation).
        """
        grouped = h.index_select(-2, self.group_index.flatten())
        return grouped.unflatten(-2, self.group_index.shape).amax(dim=-2)

    def attention(self, x: torch.Tensor) -> torch.Tensor:
        """``f / G``: ``[..., J, C] → [..., J, G]`` (query joints × key groups)."""
        _check_channels(x, self.channels, type(self).__name__)
        return self._affinity(self.theta(x), self._pool(self.phi(x)))

    def _affinity(self, theta: torch.Tensor, phi: torch.Tensor) -> torch.Tensor:
        w_theta, w_phi = self.concat_project.weight[0].split(self.inter_channels)
        f = torch.relu((theta @ w_theta).unsqueeze(-1) + (phi @ w_phi).unsqueeze(-2))
        return f / phi.shape[-2]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_channels(x, self.channels, type(self).__name__)
        if x.shape[-2] != self.num_joints:
            raise ValueError(
                f"GroupedNonLocal: groups cover {self.num_joints} joints, input has shape {tuple(x.shape)}"
            )
        c = self.inter_channels
        weight = torch.cat([self.theta.weight, self.phi.weight, self.g.weight], dim=0)
        bias = torch.cat([self.theta.bias, self.phi.bias, self.g.bias], dim=0)
        theta, keys = F.linear(x, weight, bias).split((c, 2 * c), dim=-1)
        # Keys and values pooled together: one gather and one max for both.
        phi, g = self._pool(keys).split(c, dim=-1)  # [..., G, C_inter] each
        f = self._affinity(theta, phi)  # [..., J, G]
        y = self.w_z(f @ g)  # [..., J, C]
        return self.bn(y) + x

    def extra_repr(self) -> str:
        return (
            f"channels={self.channels}, inter_channels={self.inter_channels}, "
            f"num_groups={self.group_index.shape[0]}, group_size={self.group_index.shape[1]}"
        )
