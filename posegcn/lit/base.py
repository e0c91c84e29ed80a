"""The shared LightningModule of every 2D→3D lifting network in posegcn.

:class:`PoseLiftingModule` owns what all architectures share — the optimiser and
the papers' learning-rate schedules, the validation/test metrics (Protocol #1/#2,
N-MPJPE, 3DPCK/AUC, action-wise), test-time flip augmentation, logging and the
end-of-test report — so that an architecture module only says how to build its
network and its loss (:meth:`build_network`-style ``__init__`` and
:meth:`training_loss`).

Batches are dicts made by :mod:`posegcn.data.datamodule`:
``pose_2d [B, (T,) J, 2]`` normalised screen coordinates, ``pose_3d [B, (T,) J, 3]``
camera-frame root-relative metres, and per-sample ``action``, ``subject``,
``camera``, ``index``.  Metrics are reported in millimetres.
"""

from __future__ import annotations

import json
import math
import os
from typing import Any, Literal

import lightning.pytorch as pl
import torch
from lightning.pytorch.utilities import rank_zero_info, rank_zero_only

from posegcn.metrics import PoseMetrics
from posegcn.skeleton import Skeleton, h36m_skeleton

__all__ = ["PoseLiftingModule", "staircase_decay"]


def staircase_decay(step: int, decay: float, every: int) -> float:
    """Learning-rate factor ``decay ** floor(step / every)`` (the papers' staircase schedule)."""
    return decay ** (step // every)


class PoseLiftingModule(pl.LightningModule):
    """Base module: metrics, optimisation, flip augmentation and reporting.

    Args:
        num_joints: joints of the skeleton (16 or 17 for Human3.6M); linked from
            ``data.num_joints`` by the ``posegcn`` command.
        num_frames: frames per input window (1 for single-frame models).
        lr: initial Adam learning rate.
        amsgrad: use the AMSGrad variant (Modulated GCN CPN recipe).
        weight_decay: Adam weight decay.
        lr_decay: multiplicative learning-rate decay factor.
        lr_decay_every: apply ``lr_decay`` every this many steps/epochs (staircase).
        lr_decay_interval: ``"step"`` for the papers' ×0.96 every 100k *iterations*,
            ``"epoch"`` for ×0.9 every 4 epochs.
        test_flip: average each evaluation prediction with the un-flipped
            prediction of the horizontally flipped input (VideoPose3D, Modulated GCN CPN).
        eval_joints: evaluate on this subset of joint indices only (e.g. the 14
            MPI-INF-3DHP joints); ``None`` = all joints.
    """

    def __init__(
        self,
        num_joints: int = 17,
        num_frames: int = 1,
        lr: float = 1e-3,
        amsgrad: bool = False,
        weight_decay: float = 0.0,
        lr_decay: float = 0.96,
        lr_decay_every: int = 100_000,
        lr_decay_interval: Literal["step", "epoch"] = "step",
        test_flip: bool = False,
        eval_joints: list[int] | None = None,
    ) -> None:
        super().__init__()
        if num_frames < 1:
            raise ValueError(f"num_frames must be >= 1, got {num_frames}")
        if lr_decay_every < 1:
            raise ValueError(f"lr_decay_every must be >= 1, got {lr_decay_every}")
        self.num_joints = num_joints
        self.num_frames = num_frames
        self.window_center = (num_frames - 1) // 2
        self.lr = lr
        self.amsgrad = amsgrad
        self.weight_decay = weight_decay
        self.lr_decay = lr_decay
        self.lr_decay_every = lr_decay_every
        self.lr_decay_interval = lr_decay_interval
        self.test_flip = test_flip
        self.eval_joints = eval_joints
        self.val_metrics: PoseMetrics | None = None
        self.test_metrics: PoseMetrics | None = None
        self.last_test_results: dict[str, float] = {}

    # ------------------------------------------------------------------ skeleton
    @property
    def skeleton(self) -> Skeleton:
        """The skeleton the network was built for (Human3.6M layouts by default)."""
        return h36m_skeleton(self.num_joints)

    # ------------------------------------------------------------------ to override
    def training_loss(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Return the loss to minimise and a dict of named terms to log."""
        raise NotImplementedError

    def predict_pose(self, pose_2d: torch.Tensor) -> torch.Tensor:
        """The network's 3D pose ``[B, J, 3]`` for the evaluated frame of each sample.

        Single-frame networks map ``[B, J, 2] → [B, J, 3]``; temporal networks
        return the window's centre frame (``(T − 1) // 2``).
        """
        out = self(pose_2d)
        return out[:, self.window_center] if out.dim() == 4 else out

    # ------------------------------------------------------------------ set-up
    def setup(self, stage: str) -> None:
        dm = getattr(self.trainer, "datamodule", None) if self._trainer is not None else None
        if dm is not None:
            for attr, mine in (("num_joints", self.num_joints), ("num_frames", self.num_frames)):
                theirs = getattr(dm, attr, None)
                if theirs is not None and theirs != mine:
                    raise ValueError(
                        f"the data gives {attr}={theirs} but the model was built with {attr}={mine}; "
                        f"set both to the same value (e.g. --data.{attr} {mine} --model.{attr} {mine})"
                    )
        group_names = list(getattr(dm, "action_names", None) or ["all"])
        joints = self.eval_joints
        if self.val_metrics is None or self.val_metrics.group_names != group_names:
            n = len(group_names)
            self.val_metrics = PoseMetrics(n, group_names=group_names, joints=joints).to(self.device)
            self.test_metrics = PoseMetrics(n, group_names=group_names, joints=joints).to(self.device)

    def configure_optimizers(self) -> dict[str, Any]:
        optimizer = torch.optim.Adam(
            self.parameters(), lr=self.lr, amsgrad=self.amsgrad, weight_decay=self.weight_decay
        )
        decay, every = self.lr_decay, self.lr_decay_every
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda i: staircase_decay(i, decay, every))
        # interval="step" makes Lightning step the schedule every iteration, so the
        # staircase counts iterations as the papers do (100k iterations, not epochs).
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "interval": self.lr_decay_interval, "frequency": 1},
        }

    # ------------------------------------------------------------------ steps
    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        loss, terms = self.training_loss(batch)
        bs = batch["pose_2d"].shape[0]
        self.log("train/loss", loss, prog_bar=True, batch_size=bs)
        for name, value in terms.items():
            self.log(f"train/{name}", value, batch_size=bs)
        return loss

    def evaluation_pose(self, pose_2d: torch.Tensor) -> torch.Tensor:
        """Evaluation prediction ``[B, J, 3]``, with test-time flip augmentation if enabled."""
        pred = self.predict_pose(pose_2d)
        if self.test_flip:
            skeleton = self.skeleton
            flipped = self.predict_pose(skeleton.flip(pose_2d, axis=0))
            pred = 0.5 * (pred + skeleton.flip(flipped, axis=0))
        return pred

    def _target(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        target = batch["pose_3d"]
        return target[:, self.window_center] if target.dim() == 4 else target

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        pred = self.evaluation_pose(batch["pose_2d"])
        self.val_metrics.update(pred, self._target(batch), batch.get("action"))

    def test_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        pred = self.evaluation_pose(batch["pose_2d"])
        self.test_metrics.update(pred, self._target(batch), batch.get("action"))

    def predict_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> dict[str, torch.Tensor]:
        out = {"pose_3d": self.evaluation_pose(batch["pose_2d"])}
        for key in ("index", "subject", "action", "camera"):
            if key in batch:
                out[key] = batch[key]
        return out

    # ------------------------------------------------------------------ epoch ends
    def on_validation_epoch_end(self) -> None:
        results = self.val_metrics.compute_flat()
        self.val_metrics.reset()
        for key in ("mpjpe", "p_mpjpe", "mpjpe_actionwise", "p_mpjpe_actionwise", "n_mpjpe", "pck", "auc"):
            if key in results:
                self.log(f"val/{key}", results[key], prog_bar=key in ("mpjpe", "p_mpjpe"), sync_dist=False)

    def on_test_epoch_end(self) -> None:
        actionwise = self.test_metrics.compute_actionwise()
        results = self.test_metrics.compute_flat(actionwise)
        table = self.test_metrics.table(actionwise)
        counts = next(iter(actionwise.values())).counts.tolist()
        frames = {"all": int(sum(counts)), **dict(zip(self.test_metrics.group_names, map(int, counts)))}
        self.test_metrics.reset()
        for key, value in results.items():
            if math.isfinite(value):
                self.log(f"test/{key}", value, sync_dist=False)
        self.last_test_results = dict(results)
        # trainer.log_dir is a collective (broadcast) under DDP: ask on every rank.
        log_dir = self.trainer.log_dir or self.trainer.default_root_dir
        self._report_test(results, frames, table, log_dir)

    @rank_zero_only
    def _report_test(
        self, results: dict[str, float], frames: dict[str, int], table: str, log_dir: str
    ) -> None:
        rank_zero_info("\n" + table)
        os.makedirs(log_dir, exist_ok=True)
        path = os.path.join(log_dir, "test_metrics.json")
        payload = {
            "units": "millimetres (errors), percent (pck, auc)",
            "checkpoint": getattr(self.trainer, "ckpt_path", None),
            "frames": frames,
            "metrics": {k: (v if math.isfinite(v) else None) for k, v in results.items()},
        }
        with open(path, "w") as fh:
            json.dump(payload, fh, indent=2)
        rank_zero_info(f"test metrics written to {path}")
