"""SemGCN (Zhao et al., CVPR 2019) as a LightningModule."""

from __future__ import annotations

from typing import Literal

import torch

from posegcn.lit.base import PoseLiftingModule
from posegcn.losses import WeightedLoss
from posegcn.models.semgcn import SemGCN

__all__ = ["SemGCNModule"]


class SemGCNModule(PoseLiftingModule):
    """Semantic GCN: network, loss (MSE + optional bone-vector term, paper Eq. 7) and training recipe.

    The original code trains with MSE only (``bone_weight: 0``); the paper adds the
    bone-vector loss of Eq. 7, enabled with ``bone_weight > 0``.

    Args:
        hidden: channels of every hidden graph layer (128 in the paper).
        num_blocks: residual blocks of two ``SemGraphConv`` layers (4).
        non_local: insert the grouped non-local blocks (``SemGCN + non-local``).
        channelwise: one learnable edge vector per output channel (paper Eq. 3) instead of a shared one (Eq. 2).
        dropout: dropout after each hidden layer.
        bone_weight: weight λ of the bone-vector loss (paper Eq. 7): the loss is
            ``MSE + λ·Σ_bones‖ΔB‖²/(3J)`` = Eq. 7 / 3J (:class:`~posegcn.losses.WeightedLoss`).
        **kwargs: optimisation/evaluation arguments of :class:`PoseLiftingModule`.
    """

    def __init__(
        self,
        num_joints: int = 16,
        hidden: int = 128,
        num_blocks: int = 4,
        non_local: bool = False,
        channelwise: bool = False,
        dropout: float = 0.0,
        bone_weight: float = 0.0,
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
        self.bone_weight = bone_weight
        # Eq. 7 on the MSE's scale (WeightedLoss's bone term is the bone sum / 3J); MSE alone = the code
        self.criterion = WeightedLoss(mse=1.0, bone=bone_weight, skeleton=self.skeleton)
        self.net = SemGCN(
            self.skeleton, hidden=hidden, num_blocks=num_blocks, non_local=non_local,
            channelwise=channelwise, dropout=dropout,
        )  # fmt: skip

    def forward(self, pose_2d: torch.Tensor) -> torch.Tensor:
        return self.net(pose_2d)

    def training_loss(self, batch):
        pred, target = self(batch["pose_2d"]), batch["pose_3d"]
        terms = self.criterion.terms(pred, target)
        return self.criterion.combine(terms), terms
