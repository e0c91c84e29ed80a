"""The Lightning callbacks of the ``posegcn`` command: the figure logger, the prediction writer, the progress bar.

:class:`PoseFigureLogger`, at the end of validation
(every ``every_n_epochs`` epochs) and of testing, records

* ``<stage>/affinity`` — every graph layer's effective affinity as heatmaps with joint
  names (:func:`posegcn.analysis.affinity.layer_affinities`); for DG-Net the per-frame dynamical
  graphs of one window, ``<stage>/dynamic_affinity``;
* ``<stage>/poses`` — a few 2D inputs next to their 3D prediction vs ground truth
  (:func:`posegcn.analysis.figures.pose_figure`), taken from the stage's first batch;
* ``<stage>/actionwise`` — the action-wise table (MPJPE, P-MPJPE, N-MPJPE, PCK, AUC per
  action group, the action-wise mean and the frame-pooled mean;
  :func:`posegcn.analysis.tables.actionwise_rows`).

With a :class:`~lightning.pytorch.loggers.WandbLogger` these go to W&B as images
(``log_image``) and a table (``log_table``).  With any other logger (CSV, TensorBoard)
they are written into the run's log directory — ``figures/<stage>_epoch<E>_<kind>.png`` and
``<stage>_actionwise_epoch<E>.csv`` — so that a local run records everything too.

:class:`PredictionWriter` writes what ``posegcn predict`` computes on Human3.6M-format data,
with the ground truth and the subject / action / camera / frame of every pose, so that any
metric can be recomputed outside posegcn.

Both write into the run's own folder (:func:`posegcn.checkpointing.run_log_dir`).

:class:`PoseProgressBar` is Lightning's tqdm bar redrawn a few times per second instead of after
every batch.
"""

from __future__ import annotations

import csv
import os
import time
from typing import Any

import lightning.pytorch as pl
import numpy as np
import torch
from lightning.pytorch.callbacks import TQDMProgressBar
from lightning.pytorch.loggers import WandbLogger

from posegcn.analysis.tables import actionwise_rows
from posegcn.checkpointing import run_log_dir

__all__ = ["PoseFigureLogger", "PredictionWriter"]


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

        from posegcn.analysis.figures import figure_to_array

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
        from posegcn.analysis.affinity import dynamic_affinities, layer_affinities, network_of
        from posegcn.analysis.figures import affinity_figure, pose_figure

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


class PredictionWriter(pl.Callback):
    """Writes ``posegcn predict`` results on Human3.6M-format data with their provenance.

    ``<output_dir>/predictions.npz`` with one row per evaluated pose, in sample order (under DDP
    every process predicts its own contiguous, unpadded shard; the shards are gathered to rank 0,
    which writes the one file):

    * ``poses_3d`` ``[N, J, 3]`` float32 mm, camera frame, root-relative (the prediction,
      with test-time flip averaging if the model uses it);
    * ``poses_3d_gt`` ``[N, J, 3]`` float32 mm, the ground truth in the same frame;
    * ``index`` (sample index in the split), ``subject``, ``action``, ``camera``, ``frame``
      (frame number in the original 50 fps sequence) ``[N]`` int64, and ``take`` ``[N]``
      (e.g. ``"Walking 1"``);
    * ``subject_names``, ``action_names`` (vocabularies of ``subject``/``action``),
      ``joint_names``, ``units``, ``coordinate_frame``.

    MPJPE, for instance, is ``np.linalg.norm(poses_3d - poses_3d_gt, axis=-1).mean()``.

    A plain callback rather than a ``BasePredictionWriter``: the sample indices are in the
    batches themselves (``index``), while Lightning cannot infer them from posegcn's
    index-batch sampler (a ``BasePredictionWriter`` makes it try, and warn).

    Args:
        output_dir: folder of the file; ``None`` = the run's log directory.
        filename: file name (``.npz``).
    """

    def __init__(self, output_dir: str | None = None, filename: str = "predictions.npz") -> None:
        super().__init__()
        self.output_dir = output_dir
        self.filename = filename
        self._rows: list[dict[str, torch.Tensor]] = []

    def on_predict_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._rows = []

    def on_predict_batch_end(
        self, trainer, pl_module, prediction, batch, batch_idx, dataloader_idx=0
    ) -> None:
        if not isinstance(prediction, dict) or "pose_3d" not in prediction:
            raise TypeError(
                "PredictionWriter expects predict_step to return a dict with 'pose_3d' (posegcn modules do), "
                f"got {type(prediction).__name__}"
            )
        self._rows.append({k: v.detach().cpu() for k, v in prediction.items() if isinstance(v, torch.Tensor)})

    def on_predict_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        out_dir = self.output_dir or run_log_dir(trainer)  # collective: every rank asks
        path = os.path.join(out_dir, self.filename)
        cols = {k: torch.cat([r[k] for r in self._rows]) for k in (self._rows[0] if self._rows else {})}
        if trainer.world_size > 1 and torch.distributed.is_available() and torch.distributed.is_initialized():
            shards: list[Any] = [None] * trainer.world_size
            torch.distributed.all_gather_object(shards, cols)  # collective: uneven shard sizes are fine
            self._rows = []
            if trainer.global_rank != 0:
                return
            shards = [shard for shard in shards if shard]
            cols = {k: torch.cat([shard[k] for shard in shards]) for k in (shards[0] if shards else {})}
            if "index" in cols:
                order = cols["index"].argsort()
                cols = {k: v[order] for k, v in cols.items()}
        payload: dict[str, Any] = {
            "poses_3d": (cols["pose_3d"] * 1000.0).numpy().astype(np.float32)
            if cols
            else np.zeros((0, 0, 3)),
            "units": np.array("millimetres"),
            "coordinate_frame": np.array("camera (x right, y down, z forward), root-relative"),
        }
        for key in ("index", "subject", "action", "camera"):
            if key in cols:
                payload[key] = cols[key].numpy().astype(np.int64)
        skeleton = getattr(pl_module, "skeleton", None)
        if skeleton is not None:
            payload["joint_names"] = np.array(skeleton.names)
        arrays = self._arrays(trainer)
        if arrays is not None and "index" in cols:
            index = cols["index"]
            payload["poses_3d_gt"] = (arrays.pose_3d[index] * 1000.0).numpy().astype(np.float32)
            payload["frame"] = arrays.frame[index].numpy().astype(np.int64)
            payload["take"] = np.array([arrays.sequence_names[s][1] for s in arrays.sequence[index].tolist()])
            payload["subject_names"] = np.array(arrays.subject_names)
            payload["action_names"] = np.array(arrays.action_names)
        os.makedirs(out_dir, exist_ok=True)
        np.savez(path, **payload)
        self._rows = []
        print(f"predictions of {len(payload['poses_3d'])} poses written to {path}")

    @staticmethod
    def _arrays(trainer: pl.Trainer):
        dm = getattr(trainer, "datamodule", None)
        getter = getattr(dm, "arrays", None)
        if getter is None:
            return None
        try:
            return getter("test")  # the split the posegcn data modules predict on
        except (RuntimeError, KeyError):
            return None


class PoseProgressBar(TQDMProgressBar):
    """Lightning's tqdm progress bar, redrawn at most every ``refresh_interval`` seconds.

    Lightning's bar redraws and re-reads the logged values after every ``refresh_rate`` batches;
    at 30–100 steps per second that is a measurable share of a training step on two cores.  This
    one redraws the training bar when ``refresh_interval`` seconds have passed (and at the end of
    the epoch), so it looks the same at any speed.  The ``posegcn`` command uses it unless
    ``--trainer.enable_progress_bar false``.

    Args:
        refresh_interval: seconds between redraws of the training bar.
    """

    def __init__(self, refresh_interval: float = 0.25, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.refresh_interval = refresh_interval
        self._last_draw = float("-inf")

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, *args: Any) -> None:
        now = time.monotonic()
        batch_idx = args[-1]
        if now - self._last_draw >= self.refresh_interval or batch_idx + 1 >= self.total_train_batches:
            self._last_draw = now
            super().on_train_batch_end(trainer, pl_module, *args)
