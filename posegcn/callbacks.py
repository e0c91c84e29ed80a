"""Figures and tables for the experiment logger: affinities, 3D skeletons, action-wise results.

:class:`PoseFigureLogger` is a Lightning callback that, at the end of validation
(every ``every_n_epochs`` epochs) and of testing, records

* ``<stage>/affinity`` — every graph layer's effective affinity as heatmaps with joint
  names (:func:`posegcn.affinity.layer_affinities`); for DG-Net the per-frame dynamical
  graphs of one window, ``<stage>/dynamic_affinity``;
* ``<stage>/poses`` — a few 2D inputs next to their 3D prediction vs ground truth
  (:func:`posegcn.viz.pose_figure`), taken from the stage's first batch;
* ``<stage>/actionwise`` — the action-wise table (MPJPE, P-MPJPE, N-MPJPE, PCK, AUC per
  action group, the action-wise mean and the frame-pooled mean).

With a :class:`~lightning.pytorch.loggers.WandbLogger` these go to W&B as images
(``log_image``) and a table (``log_table``).  With any other logger (CSV, TensorBoard)
they are written into the run's log directory — ``figures/<stage>_epoch<E>_<kind>.png`` and
``<stage>_actionwise_epoch<E>.csv`` — so that a local run records everything too.

:func:`run_log_dir` is the run's own directory for every logger (for W&B:
``<save_dir>/<project>/<run id>``, the folder Lightning puts the checkpoints in), used
for files such as ``config.yaml`` and ``test_metrics.json`` that must not be shared
between runs.
"""

from __future__ import annotations

import csv
import os
from typing import Any

import lightning.pytorch as pl
import torch
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger, WandbLogger

__all__ = ["PoseFigureLogger", "run_log_dir", "actionwise_rows", "ACTIONWISE_METRICS"]

#: Columns of the action-wise table, in order.
ACTIONWISE_METRICS = ("mpjpe", "p_mpjpe", "n_mpjpe", "pck", "auc")


def run_log_dir(trainer: pl.Trainer) -> str:
    """The directory of this run's files; call it on every rank (it broadcasts).

    CSV/TensorBoard: ``trainer.log_dir`` (``…/version_N``).  Other loggers (W&B), whose
    ``save_dir`` is shared by all runs: ``<save_dir>/<name>/<version>``, the folder that
    :class:`~lightning.pytorch.callbacks.ModelCheckpoint` uses.  No logger: ``default_root_dir``.
    """
    loggers = trainer.loggers
    if not loggers or isinstance(loggers[0], (CSVLogger, TensorBoardLogger)):
        return trainer.log_dir or trainer.default_root_dir
    path = None
    if trainer.is_global_zero:
        logger = loggers[0]
        if logger.version is None and isinstance(logger, WandbLogger):
            logger.experiment  # noqa: B018 — starts the run, which assigns its id
        version = logger.version
        version = version if isinstance(version, str) else f"version_{version}"
        path = os.path.join(logger.save_dir or trainer.default_root_dir, str(logger.name), version)
    return trainer.strategy.broadcast(path)


def actionwise_rows(flat: dict[str, float], group_names: list[str]) -> tuple[list[str], list[list[Any]]]:
    """Columns and rows of the action-wise table from :meth:`PoseMetrics.compute_flat` results."""
    metrics = [m for m in ACTIONWISE_METRICS if m in flat]
    columns = ["action", *metrics]
    rows = [[g, *(flat.get(f"{m}/{g}", float("nan")) for m in metrics)] for g in group_names]
    rows.append(["Average (action-wise)", *(flat.get(f"{m}_actionwise", float("nan")) for m in metrics)])
    rows.append(["All frames (pooled)", *(flat[m] for m in metrics)])
    return columns, rows


class PoseFigureLogger(pl.Callback):
    """Log affinity heatmaps, predicted-vs-true 3D skeletons and the action-wise table.

    Args:
        every_n_epochs: figures and table at the end of every n-th validation epoch
            (0 = never during fit); the test stage always records them.
        num_poses: samples of the first evaluation batch drawn in ``<stage>/poses``.
        affinities: draw the per-layer affinity heatmaps.
        poses: draw the skeleton figures.
        table: record the action-wise table.
        dynamic_frames: frames of the first window whose DG-Net dynamical graphs are drawn.
        dpi: resolution of the rendered figures.
    """

    def __init__(
        self,
        every_n_epochs: int = 1,
        num_poses: int = 3,
        affinities: bool = True,
        poses: bool = True,
        table: bool = True,
        dynamic_frames: int = 2,
        dpi: int = 80,
    ) -> None:
        super().__init__()
        if every_n_epochs < 0 or num_poses < 0 or dynamic_frames < 0:
            raise ValueError(
                f"PoseFigureLogger: every_n_epochs, num_poses and dynamic_frames must be >= 0, "
                f"got {every_n_epochs}, {num_poses}, {dynamic_frames}"
            )
        self.every_n_epochs = every_n_epochs
        self.num_poses = num_poses
        self.affinities = affinities
        self.poses = poses
        self.table = table
        self.dynamic_frames = dynamic_frames
        self.dpi = dpi
        self._samples: dict[str, dict[str, torch.Tensor]] = {}

    # ------------------------------------------------------------------ when
    def _active(self, trainer: pl.Trainer, stage: str) -> bool:
        if not trainer.loggers or trainer.sanity_checking:
            return False
        if stage == "test":
            return True
        return self.every_n_epochs > 0 and (trainer.current_epoch + 1) % self.every_n_epochs == 0

    # ------------------------------------------------------------------ collect
    @torch.no_grad()
    def _keep_samples(self, pl_module: pl.LightningModule, batch: Any, stage: str) -> None:
        if not isinstance(batch, dict) or "pose_2d" not in batch or "pose_3d" not in batch:
            return
        n = min(self.num_poses, batch["pose_2d"].shape[0])
        if n == 0:
            return
        pick = torch.linspace(0, batch["pose_2d"].shape[0] - 1, n).round().long().to(batch["pose_2d"].device)
        pose_2d = batch["pose_2d"].index_select(0, pick)
        pred = (
            pl_module.evaluation_pose(pose_2d)
            if hasattr(pl_module, "evaluation_pose")
            else pl_module(pose_2d)
        )
        gt = batch["pose_3d"].index_select(0, pick)
        center = getattr(pl_module, "window_center", 0)
        self._samples[stage] = {
            "window_2d": pose_2d[:1].float().cpu(),  # one full input (window) for dynamic graphs
            "pose_2d": (pose_2d[:, center] if pose_2d.dim() == 4 else pose_2d).float().cpu(),
            "pred_3d": (pred[:, center] if pred.dim() == 4 else pred).float().cpu(),
            "gt_3d": (gt[:, center] if gt.dim() == 4 else gt).float().cpu(),
        }

    def on_validation_batch_end(
        self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0
    ) -> None:
        if batch_idx == 0 and dataloader_idx == 0 and self.poses and self._active(trainer, "val"):
            self._keep_samples(pl_module, batch, "val")

    def on_test_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0) -> None:
        if batch_idx == 0 and dataloader_idx == 0 and self.poses and self._active(trainer, "test"):
            self._keep_samples(pl_module, batch, "test")

    # ------------------------------------------------------------------ record
    def on_validation_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not self._active(trainer, "val"):
            return
        flat = None
        metrics = getattr(pl_module, "val_metrics", None)
        if self.table and metrics is not None:
            # Callbacks run before the module's own epoch end, which resets the metrics; compute()
            # syncs across ranks, so it runs on every rank.
            flat = metrics.compute_flat()
        self._record(trainer, pl_module, "val", flat, getattr(metrics, "group_names", None))

    def on_test_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not self._active(trainer, "test"):
            return
        metrics = getattr(pl_module, "test_metrics", None)
        flat = getattr(pl_module, "last_test_results", None) if self.table else None
        self._record(trainer, pl_module, "test", flat or None, getattr(metrics, "group_names", None))

    def _record(self, trainer, pl_module, stage: str, flat, group_names) -> None:
        log_dir = run_log_dir(trainer)  # collective: on every rank
        if not trainer.is_global_zero:
            self._samples.pop(stage, None)
            return
        import matplotlib.pyplot as plt

        from posegcn.viz import figure_to_array

        figures = self._figures(pl_module, stage)
        wandb = next((lg for lg in trainer.loggers if isinstance(lg, WandbLogger)), None)
        epoch, step = trainer.current_epoch, trainer.global_step
        if wandb is not None:
            for kind, fig in figures.items():
                wandb.log_image(key=f"{stage}/{kind}", images=[figure_to_array(fig)], step=step)
            if flat is not None and group_names:
                columns, rows = actionwise_rows(flat, list(group_names))
                wandb.log_table(key=f"{stage}/actionwise", columns=columns, data=rows, step=step)
        else:
            os.makedirs(os.path.join(log_dir, "figures"), exist_ok=True)
            for kind, fig in figures.items():
                fig.savefig(
                    os.path.join(log_dir, "figures", f"{stage}_epoch{epoch:03d}_{kind}.png"), dpi=self.dpi
                )
            if flat is not None and group_names:
                columns, rows = actionwise_rows(flat, list(group_names))
                with open(
                    os.path.join(log_dir, f"{stage}_actionwise_epoch{epoch:03d}.csv"), "w", newline=""
                ) as fh:
                    writer = csv.writer(fh)
                    writer.writerow(columns)
                    writer.writerows(rows)
        for fig in figures.values():
            plt.close(fig)

    def _figures(self, pl_module: pl.LightningModule, stage: str) -> dict[str, Any]:
        from posegcn.affinity import dynamic_affinities, layer_affinities, network_of
        from posegcn.viz import affinity_figure, pose_figure

        skeleton = getattr(pl_module, "skeleton", None)
        if skeleton is None:
            return {}
        figures: dict[str, Any] = {}
        samples = self._samples.pop(stage, None)
        if self.affinities:
            static = layer_affinities(pl_module, include_fixed=False)
            if static:
                figures["affinity"] = affinity_figure(static, skeleton.names)
            if (
                samples is not None
                and self.dynamic_frames > 0
                and hasattr(network_of(pl_module), "dynamic_affinities")
                and samples["window_2d"].dim() == 4
            ):
                net = network_of(pl_module)
                window = samples["window_2d"].to(next(net.parameters()).device)
                dynamic = dynamic_affinities(pl_module, window, block=0)
                frames = min(self.dynamic_frames, window.shape[1])
                panels = {f"{name} t={t}": a[0, t] for name, a in dynamic.items() for t in range(frames)}
                if panels:
                    figures["dynamic_affinity"] = affinity_figure(panels, skeleton.names)
        if self.poses and samples is not None:
            figures["poses"] = pose_figure(
                samples["pose_2d"], samples["pred_3d"], skeleton, gt_3d=samples["gt_3d"]
            )
        return figures
