"""Modulated GCN (Zou & Tang, ICCV 2021) as a LightningModule."""

from __future__ import annotations

from typing import Literal

import torch

from posegcn.lit.base import PoseLiftingModule
from posegcn.losses import WeightedLoss
from posegcn.models.modgcn import ModulatedGCN

__all__ = ["ModulatedGCNModule", "LOSS_WEIGHTS"]

#: The named losses of the configs as :class:`~posegcn.losses.WeightedLoss` weights.
LOSS_WEIGHTS = {
    "mse+l1": {"mse": 0.9, "l1": 0.1},  # GT setting (§3.4)
    "mpjpe+l1": {"mpjpe": 0.99, "l1": 0.01},  # CPN setting (original code)
    "mse": {"mse": 1.0},
    "mpjpe": {"mpjpe": 1.0},
}


class ModulatedGCNModule(PoseLiftingModule):
    """Modulated GCN: network, loss and recipe, with every ablation of the paper as an argument.

    Losses (on metres): ``"mse+l1"`` = 0.9·MSE + 0.1·L1 (GT setting), ``"mpjpe+l1"`` =
    0.99·MPJPE + 0.01·L1 (CPN setting), or plain ``"mse"`` / ``"mpjpe"``.  ``sparsity_weight``
    adds the ℓ1 penalty on the learned affinities (Table 3: 1e-6 is best).

    Args:
        hidden: channels of the hidden layers (128 GT, 384 CPN).
        num_blocks: residual blocks of two modulated graph convolutions (4).
        dropout: dropout in the residual blocks (0.2 in the CPN setting).
        non_local: one embedded-Gaussian non-local block before the output layer (CPN setting).
        affinity: affinity modulation, ``skeleton`` | ``mul`` (Eq. 6) | ``add`` (Eq. 7) | ``mix`` (Eq. 8) |
            ``no_skeleton`` (Eq. 9).
        weight_modulation: per-node modulation vectors M (Eq. 4–5); off = weight sharing.
        weight_unsharing: one weight matrix per node (Eq. 3); overrides weight modulation.
        symmetric: ``True`` symmetrises the whole modulated affinity, ``(Â + Âᵀ)/2``, as the original
            code does; ``"modulation"`` symmetrises only the learned part (Q, P), as the paper writes.
        low_rank: factor Q = L Lᵀ with rank r (Table 3), ``None`` = full.
        modulation_init: ``"ones"`` (GT code) or ``"xavier"`` (CPN code) for M.
        loss: see above.
        sparsity_weight: weight of the ℓ1 affinity penalty.
        **kwargs: optimisation/evaluation arguments of :class:`PoseLiftingModule`.
    """

    def __init__(
        self,
        num_joints: int = 16,
        hidden: int = 128,
        num_blocks: int = 4,
        dropout: float = 0.0,
        non_local: bool = False,
        affinity: Literal["skeleton", "mul", "add", "mix", "no_skeleton"] = "add",
        weight_modulation: bool = True,
        weight_unsharing: bool = False,
        symmetric: bool | Literal["modulation"] = True,
        low_rank: int | None = None,
        modulation_init: Literal["ones", "xavier"] = "ones",
        loss: Literal["mse+l1", "mpjpe+l1", "mse", "mpjpe"] = "mse+l1",
        sparsity_weight: float = 0.0,
        num_frames: int = 1,
        lr: float = 1e-3,
        amsgrad: bool = False,
        weight_decay: float = 0.0,
        lr_decay: float = 0.96,
        lr_decay_every: int = 100_000,
        lr_decay_interval: Literal["step", "epoch"] = "step",
        test_flip: bool = False,
        eval_joints: list[int] | None = None,
        test_noise_px: list[float] | None = None,
        nonfinite_loss: Literal["raise", "skip"] = "raise",
        root_alignment: Literal["unaligned", "root_zeroed", "root_aligned"] = "unaligned",
        compile_network: bool = False,
    ) -> None:
        super().__init__(
            num_joints=num_joints, num_frames=num_frames, lr=lr, amsgrad=amsgrad, weight_decay=weight_decay,
            lr_decay=lr_decay, lr_decay_every=lr_decay_every, lr_decay_interval=lr_decay_interval,
            test_flip=test_flip, eval_joints=eval_joints, test_noise_px=test_noise_px,
            nonfinite_loss=nonfinite_loss, root_alignment=root_alignment, compile_network=compile_network,
        )  # fmt: skip
        self.save_hyperparameters()
        self.loss_name = loss
        self.criterion = WeightedLoss(**LOSS_WEIGHTS[loss])
        self.sparsity_weight = sparsity_weight
        self.net = ModulatedGCN(
            self.skeleton, hidden=hidden, num_blocks=num_blocks, dropout=dropout, non_local=non_local,
            affinity=affinity, weight_modulation=weight_modulation, weight_unsharing=weight_unsharing,
            symmetric=symmetric, low_rank=low_rank, modulation_init=modulation_init,
        )  # fmt: skip

    def forward(self, pose_2d: torch.Tensor) -> torch.Tensor:
        return self.net(pose_2d)

    def training_loss(self, batch):
        pred = self(batch["pose_2d"])
        target = batch["pose_3d"]
        terms = self.criterion.terms(pred, target)
        loss = self.criterion.combine(terms)
        if self.sparsity_weight > 0:
            terms["sparsity"] = self.net.affinity_l1()
            loss = loss + self.sparsity_weight * terms["sparsity"]
        return loss, terms
