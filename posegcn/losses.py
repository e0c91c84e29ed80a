"""Training losses (poses in metres, ``[..., J, 3]``), as the modules that training uses.

A config names the loss of an architecture by ``class_path`` (``model.init_args.loss``);
:class:`~posegcn.lit.PoseLiftingModule` builds it with the data's skeleton and minimises
``loss(output, target, net)``.  Every loss is a :class:`PoseLoss`: a weighted sum of named
terms, each logged as ``train/<term>``.

* :class:`WeightedLoss` — ``Σ_k w_k·L_k`` over MSE, L1, MPJPE, SemGCN's bone term and the
  affinity sparsity penalty:

  * Modulated GCN, GT setting: ``0.9·MSE + 0.1·L1`` (:func:`modgcn_gt_loss`).
  * Modulated GCN, CPN setting: ``0.99·MPJPE + 0.01·L1`` (:func:`modgcn_cpn_loss`).
  * SemGCN: MSE in the original code; the paper's Eq. 7 adds a bone-vector term
    (:func:`bone_loss`, :func:`semgcn_loss`).
  * Modulated GCN sparsity regulariser (Table 2/3): ℓ1 of the learned affinities
    (:func:`affinity_sparsity`, weight ``1e-6`` in the paper).

* :class:`MultiLevelLoss` — DG-Net's multi-level supervision (Eq. 15–17).
"""

from __future__ import annotations

import abc
from typing import Literal

import torch
from torch import nn

from posegcn.nn.affinity import AffinityModulation
from posegcn.skeleton import Skeleton

__all__ = [
    "mse_loss",
    "l1_loss",
    "mpjpe_loss",
    "bone_loss",
    "semgcn_loss",
    "modgcn_gt_loss",
    "modgcn_cpn_loss",
    "affinity_sparsity",
    "pose_l2_loss",
    "PoseLoss",
    "WeightedLoss",
    "MultiLevelLoss",
]


def _check_pair(pred: torch.Tensor, target: torch.Tensor, name: str) -> None:
    if pred.shape != target.shape:
        raise ValueError(
            f"{name}: prediction {tuple(pred.shape)} and target {tuple(target.shape)} differ in shape"
        )
    if pred.dim() < 2 or pred.shape[-1] != 3:
        raise ValueError(f"{name}: expected poses [..., J, 3], got shape {tuple(pred.shape)}")


def mse_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared error over all coordinates (``nn.MSELoss()`` of the original codes)."""
    _check_pair(pred, target, "mse_loss")
    return (pred - target).square().mean()


def l1_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean absolute error over all coordinates (``nn.L1Loss()``)."""
    _check_pair(pred, target, "l1_loss")
    return (pred - target).abs().mean()


def mpjpe_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean per-joint position error: mean Euclidean distance over joints and poses (Protocol #1 as a loss)."""
    _check_pair(pred, target, "mpjpe_loss")
    return torch.linalg.vector_norm(pred - target, dim=-1).mean()


def bone_loss(
    pred: torch.Tensor, target: torch.Tensor, skeleton: Skeleton, reduction: str = "sum"
) -> torch.Tensor:
    r"""Bone-vector term of SemGCN Eq. 7, ``Σ_{i=1}^{M} ‖B̃_i − B_i‖²``.

    Bones are ``child − parent`` vectors from :meth:`Skeleton.bone_vectors` (the sign
    convention does not matter for the difference).

    Args:
        reduction: ``"sum"`` — Eq. 7: squared errors summed over the ``M`` bones and
            their coordinates, averaged over poses; ``"mean"`` — averaged over bones and
            coordinates too (the scale of :func:`mse_loss`).

    Shapes:
        ``pred, target [..., J, 3]`` → scalar.
    """
    _check_pair(pred, target, "bone_loss")
    if pred.shape[-2] != skeleton.num_joints:
        raise ValueError(
            f"bone_loss: skeleton {skeleton.name!r} has {skeleton.num_joints} joints, poses have shape {tuple(pred.shape)}"
        )
    sq = (skeleton.bone_vectors(pred) - skeleton.bone_vectors(target)).square()
    if reduction == "sum":
        return sq.sum(dim=(-2, -1)).mean()
    if reduction == "mean":
        return sq.mean()
    raise ValueError(f"bone_loss: reduction must be 'sum' or 'mean', got {reduction!r}")


def semgcn_loss(
    pred: torch.Tensor, target: torch.Tensor, skeleton: Skeleton, bone_weight: float = 1.0
) -> torch.Tensor:
    r"""SemGCN Eq. 7: ``Σ_joints ‖J̃_i − J_i‖² + λ Σ_bones ‖B̃_i − B_i‖²`` per pose, averaged over poses.

    ``λ = bone_weight`` (Eq. 7 writes the plain sum, λ = 1).  The original code trains with
    :func:`mse_loss` only.  Training uses the same ratio through :class:`WeightedLoss`
    (``mse=1, bone=λ``), which is this loss divided by ``3J``.
    """
    joint_term = (pred - target).square().sum(dim=(-2, -1)).mean()
    return joint_term + bone_weight * bone_loss(pred, target, skeleton, reduction="sum")


def modgcn_gt_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Modulated GCN GT setting (§3.4): ``0.9·MSE + 0.1·L1``."""
    return 0.9 * mse_loss(pred, target) + 0.1 * l1_loss(pred, target)


def modgcn_cpn_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Modulated GCN CPN setting (original code): ``0.99·MPJPE + 0.01·L1``."""
    return 0.99 * mpjpe_loss(pred, target) + 0.01 * l1_loss(pred, target)


def affinity_sparsity(model: nn.Module) -> torch.Tensor:
    """Σ of the ℓ1 norms of every learned affinity in ``model`` (Modulated GCN sparsity, Table 2).

    Zero (a 0-dim tensor) when the model has no learned affinity; multiply by the
    regularisation weight (1e-6 in the paper) yourself.
    """
    terms = [m.l1() for m in model.modules() if isinstance(m, AffinityModulation)]
    if not terms:
        p = next(model.parameters(), None)
        return torch.zeros((), device=None if p is None else p.device)
    return torch.stack(terms).sum()


def pose_l2_loss(pred: torch.Tensor, target: torch.Tensor, reduction: str = "sum") -> torch.Tensor:
    r"""The 3D pose loss of DG-Net Eq. 15/16: ``Σ_t Σ_i ‖ρ̂_t^i − ρ_t^i‖²``, averaged over the batch.

    ``reduction``:
        * ``"sum"`` — Eq. 15–16 as written: squared Euclidean errors summed over all
          ``T`` frames and ``N`` joints of a window, then the mean over windows.
        * ``"mean"`` — the mean squared Euclidean error per joint (Eq. 15–16 divided by
          ``T·N``), which keeps the loss scale independent of window size and skeleton.

    Shapes:
        ``pred, target [B, T, N, 3] → []``.
    """
    if pred.shape != target.shape or pred.dim() != 4 or pred.shape[-1] != 3:
        raise ValueError(
            f"pose_l2_loss: expected pred and target of the same shape [B, T, N, 3], "
            f"got {tuple(pred.shape)} and {tuple(target.shape)}"
        )
    sq = (pred - target).pow(2).sum(dim=-1)  # [B, T, N]
    if reduction == "sum":
        return sq.sum(dim=(1, 2)).mean()
    if reduction == "mean":
        return sq.mean()
    raise ValueError(f"pose_l2_loss: unknown reduction {reduction!r}; expected 'sum' or 'mean'")


class PoseLoss(nn.Module, metaclass=abc.ABCMeta):
    """A training loss ``Σ_k w_k·terms[k]``: subclasses define the weights and :meth:`terms`.

    Every loss class takes the skeleton as its first argument (the module builds it with the
    data's skeleton; a config names it by ``class_path`` and gives the rest as ``init_args``),
    and is called as ``loss(output, target, net)``: ``output`` is what the network returned,
    ``net`` the network itself (for penalties on its parameters).
    """

    weights: dict[str, float]

    @abc.abstractmethod
    def terms(self, output, target: torch.Tensor, net: nn.Module | None = None) -> dict[str, torch.Tensor]:
        """Unweighted values of the terms with a non-zero weight (training logs them)."""

    def combine(self, terms: dict[str, torch.Tensor]) -> torch.Tensor:
        """``Σ_k w_k·terms[k]`` for terms from :meth:`terms`."""
        return sum(self.weights[k] * v for k, v in terms.items())

    def forward(self, output, target: torch.Tensor, net: nn.Module | None = None) -> torch.Tensor:
        return self.combine(self.terms(output, target, net))

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={w}" for k, w in self.weights.items() if w)


class WeightedLoss(PoseLoss):
    """``Σ_k w_k·L_k`` over ``mse``, ``l1``, ``mpjpe``, ``bone`` (SemGCN Eq. 7) and ``sparsity`` (Modulated GCN).

    ``WeightedLoss(mse=0.9, l1=0.1)`` is Modulated GCN's GT loss,
    ``WeightedLoss(mpjpe=0.99, l1=0.01)`` its CPN loss, ``WeightedLoss(mse=1, sparsity=1e-6)``
    its Table 2 sparsity ablation, ``WeightedLoss(mse=1)`` SemGCN's code and
    ``WeightedLoss(skeleton, mse=1, bone=λ)`` SemGCN's Eq. 7.

    The ``bone`` term is Eq. 7's bone sum on the scale of :func:`mse_loss`: ``Σ_bones ‖ΔB‖²``
    per pose divided by ``3J`` (the ``J`` joints' coordinates that the MSE averages over), so
    that ``mse + λ·bone`` is exactly :func:`semgcn_loss` / ``3J``.  (Adding the summed bone term
    to the mean-reduced MSE would weigh bones ``3J`` = 48× more than Eq. 7 does.)  The
    ``sparsity`` term is :func:`affinity_sparsity` of the network passed as ``net``.

    Shapes:
        ``output, target [..., J, 3]`` (metres) → scalar.
    """

    def __init__(
        self,
        skeleton: Skeleton | None = None,
        mse: float = 0.0,
        l1: float = 0.0,
        mpjpe: float = 0.0,
        bone: float = 0.0,
        sparsity: float = 0.0,
    ) -> None:
        super().__init__()
        self.weights = {"mse": mse, "l1": l1, "mpjpe": mpjpe, "bone": bone, "sparsity": sparsity}
        for name, w in self.weights.items():
            if w < 0:
                raise ValueError(f"WeightedLoss: weight {name}={w} must be >= 0")
        if not any(self.weights.values()):
            raise ValueError(
                "WeightedLoss: all weights are zero; set at least one of mse, l1, mpjpe, bone, sparsity"
            )
        if bone and skeleton is None:
            raise ValueError("WeightedLoss: bone > 0 needs a skeleton")
        self.skeleton = skeleton

    def terms(self, output, target: torch.Tensor, net: nn.Module | None = None) -> dict[str, torch.Tensor]:
        fns = {
            "mse": mse_loss,
            "l1": l1_loss,
            "mpjpe": mpjpe_loss,
            "bone": lambda p, t: bone_loss(p, t, self.skeleton, reduction="sum") / (3 * p.shape[-2]),
            "sparsity": lambda p, t: affinity_sparsity(net),
        }
        if self.weights["sparsity"] and net is None:
            raise ValueError("WeightedLoss: sparsity > 0 needs the network: call loss(output, target, net)")
        return {k: fns[k](output, target) for k, w in self.weights.items() if w}


class MultiLevelLoss(PoseLoss):
    r"""DG-Net's multi-level supervision, Eq. 17: ``L_total = L_network + λ Σ_blocks L_block``.

    ``L_network`` (Eq. 16) and each ``L_block`` (Eq. 15) are :func:`pose_l2_loss` over all
    ``T`` frames and ``N`` joints of the window.  ``output`` is the network's
    :class:`~posegcn.models.dgnet.DGNetOutput` (``pose`` and ``block_poses``; the network
    computes the block poses in training mode).  With ``lam = 0`` or no block poses it is
    the network loss alone, Table XI's "Network Loss" setting.  Terms: ``network``,
    ``blocks`` (the sum over blocks).

    Args:
        skeleton: unused (every loss receives it).
        lam: λ of the block-level losses (0.1 in the paper).
        reduction: ``"sum"`` (Eq. 15–16 as written) or ``"mean"`` (per joint).

    Shapes:
        ``output.pose [B, T, N, 3]``, ``target [B, T, N, 3] → []``.
    """

    def __init__(
        self, skeleton: Skeleton | None = None, lam: float = 0.1, reduction: Literal["sum", "mean"] = "sum"
    ) -> None:
        super().__init__()
        if lam < 0:
            raise ValueError(f"MultiLevelLoss: lam={lam} must be >= 0")
        self.weights = {"network": 1.0, "blocks": lam}
        self.reduction = reduction

    def terms(self, output, target: torch.Tensor, net: nn.Module | None = None) -> dict[str, torch.Tensor]:
        terms = {"network": pose_l2_loss(output.pose, target, self.reduction)}
        if self.weights["blocks"] and output.block_poses:
            terms["blocks"] = sum(pose_l2_loss(p, target, self.reduction) for p in output.block_poses)
        return terms
