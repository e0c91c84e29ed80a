"""DG-Net (dynamical spatial/temporal graphs over frame windows) as a LightningModule."""

from __future__ import annotations

from typing import Literal

import torch

from posegcn.lit.base import PoseLiftingModule
from posegcn.models.dgnet import DGNet, multi_level_loss

__all__ = ["DGNetModule"]


class DGNetModule(PoseLiftingModule):
    """DG-Net with multi-level supervision (paper Eq. 15–17).

    Training supervises every frame of the window: the network-level pose and, with weight
    ``lam``, the pose of every block.  At test time only the network-level output is used,
    and each frame is evaluated once, from the window in which it sits at position
    ``(T − 1) // 2`` (the data module makes every frame the centre of exactly one window,
    repeating the edge frames at sequence ends).

    Args:
        num_frames: window length ``T`` (4 in the paper); linked from ``data.num_frames``.
        hidden, num_blocks, k_spatial, k_temporal, weighting, include_self, no_knn, non_local,
        dropout, spatial_units, temporal_units, block_head, connections, fsg_weights: see
            :class:`posegcn.models.DGNet` (``connections: fixed`` = the same network with skeleton
            neighbours instead of KNN; ``fsg_weights: shared`` = Eq. 2's single ``Θ``, an ablation
            that cannot output every 17-joint pose).
        inference_chunk: windows per chunk at evaluation (same output, cache-sized working set).
        lam: λ of the block-level losses (Eq. 17; 0.1).
        loss_reduction: ``"sum"`` (Eq. 15–16 as written: summed over frames and joints) or
            ``"mean"`` (per joint).
        **kwargs: optimisation/evaluation arguments of :class:`PoseLiftingModule`.

    Learning-rate decay (a choice the paper leaves open: "initial learning rate 0.001 and the
    exponential decay", 200 epochs): ×0.98 per epoch.  It is VideoPose3D's schedule (Pavllo
    et al., DG-Net's reference [3] and the source of its CPN detections: ×0.95 per epoch for
    80 epochs, final rate 1e-3·0.95⁸⁰ = 1.7e-5) stretched over 200 epochs, 0.95^(80/200) =
    0.980: the rate is 1.3e-4 at epoch 100 and 1.8e-5 in the last epoch.  VideoPose3D's
    ×0.95 per epoch itself, run for 200 epochs, is below 6e-6 from epoch 100 on (3.5e-8 at the
    end), so half of the training would barely move the weights.
    """

    def __init__(
        self,
        num_joints: int = 17,
        num_frames: int = 4,
        hidden: int = 128,
        num_blocks: int = 5,
        k_spatial: int = 3,
        k_temporal: int = 4,
        weighting: Literal["softmax", "sigmoid", "raw", "none"] = "softmax",
        include_self: bool = False,
        no_knn: bool = False,
        non_local: bool = True,
        dropout: float = 0.0,
        spatial_units: list[str] = ["fsg", "dsg"],  # noqa: B006 (copied into a tuple)
        temporal_units: list[str] = ["ftg", "dtg", "ftg"],  # noqa: B006
        block_head: Literal["module", "projection"] = "module",
        connections: Literal["dynamical", "fixed"] = "dynamical",
        fsg_weights: Literal["decoupled", "shared"] = "decoupled",
        inference_chunk: int = 64,
        lam: float = 0.1,
        loss_reduction: Literal["sum", "mean"] = "sum",
        lr: float = 1e-3,
        amsgrad: bool = False,
        weight_decay: float = 0.0,
        lr_decay: float = 0.98,
        lr_decay_every: int = 1,
        lr_decay_interval: Literal["step", "epoch"] = "epoch",
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
        self.lam = lam
        self.loss_reduction = loss_reduction
        self.net = DGNet(
            self.skeleton, num_frames=num_frames, hidden=hidden, num_blocks=num_blocks, k_spatial=k_spatial,
            k_temporal=k_temporal, weighting=weighting, include_self=include_self, no_knn=no_knn,
            non_local=non_local, dropout=dropout, spatial_units=tuple(spatial_units),
            temporal_units=tuple(temporal_units), block_head=block_head, connections=connections,
            fsg_weights=fsg_weights, inference_chunk=inference_chunk,
        )  # fmt: skip

    def forward(self, pose_2d: torch.Tensor) -> torch.Tensor:
        """Network-level 3D poses of every frame of the window: ``[B, T, J, 2] → [B, T, J, 3]``."""
        return self.net(pose_2d, return_block_poses=False).pose

    def training_loss(self, batch):
        output = self.net(batch["pose_2d"], return_block_poses=self.lam > 0)
        loss = multi_level_loss(output, batch["pose_3d"], lam=self.lam, reduction=self.loss_reduction)
        return loss, {"network_mpjpe": (output.pose - batch["pose_3d"]).norm(dim=-1).mean().detach()}
