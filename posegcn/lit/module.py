"""The LightningModule of every 2D→3D lifting network in posegcn.

An architecture is a network class and a loss, nothing else: :class:`PoseLiftingModule`
receives both, and its optimiser and learning-rate schedule, by dependency injection
(Lightning's ``OptimizerCallable`` / ``LRSchedulerCallable``; a config names each by
``class_path`` + ``init_args``), builds them for the data's skeleton, and owns what all
architectures share — the training step, the validation/test metrics (Protocol #1/#2,
N-MPJPE, 3DPCK/AUC, action-wise), test-time flip augmentation, logging and the
end-of-test report.

Batches are dicts made by :mod:`posegcn.data.batches`:
``pose_2d [B, (T,) J, 2]`` normalised screen coordinates, ``pose_3d [B, (T,) J, 3]``
camera-frame root-relative metres, and per-sample ``action``, ``subject``,
``camera``, ``index``.  Metrics are reported in millimetres.
"""

from __future__ import annotations

import functools
import inspect
import json
import math
import os
from collections.abc import Callable
from typing import Any, Literal

import lightning.pytorch as pl
import torch
from lightning.pytorch.cli import LRSchedulerCallable, OptimizerCallable
from lightning.pytorch.utilities import rank_zero_info, rank_zero_only, rank_zero_warn
from torch import nn

from posegcn._compat import attached_trainer, is_compiled, logs_this_step
from posegcn.checkpointing import final_epoch_summary, run_log_dir
from posegcn.data.codec import PoseCodec
from posegcn.errors import NonFiniteLossError, PoseGCNInputError
from posegcn.lit.optim import Adam, StaircaseLR
from posegcn.metrics import ROOT_ALIGNMENTS, PoseMetrics
from posegcn.skeleton import Skeleton, skeleton_named

__all__ = ["PoseLiftingModule", "add_pixel_noise", "noise_key", "noise_table"]

#: Metrics reported per noise level of ``test_noise_px``.
NOISE_METRICS = ("mpjpe", "p_mpjpe", "mpjpe_actionwise", "p_mpjpe_actionwise")
#: Validation metrics logged every epoch (all of them, per action, go into the validation history).
VALIDATION_KEYS = (
    "mpjpe",
    "p_mpjpe",
    "mpjpe_actionwise",
    "p_mpjpe_actionwise",
    "mpjpe_unaligned",
    "mpjpe_unaligned_actionwise",
    "n_mpjpe",
    "pck",
    "auc",
)
#: The arguments a module is built from by dependency injection (classes named in the config).
INJECTED = ("net", "loss", "optimizer", "lr_scheduler")
#: Image width assumed when a batch carries no ``image_width`` (all Human3.6M cameras).
DEFAULT_IMAGE_WIDTH = 1000.0


def build_network(net: Callable[..., nn.Module], skeleton: Skeleton, num_frames: int) -> nn.Module:
    """``net(skeleton)``; a temporal network (one with a ``num_frames`` argument) also gets the data's window.

    The window length is the data's (``--data.num_frames``, linked to the module): a network left
    at ``num_frames: null`` is built for it; one configured with another value is refused in one
    line naming both options.
    """
    network_class = _factory_class(net)
    given = _configured_frames(net, network_class)
    if given is _NOT_TEMPORAL:
        built = net(skeleton)
        given = getattr(built, "num_frames", 1)
    elif given is None or given == num_frames:
        built = net(skeleton, num_frames=num_frames)
        given = num_frames
    if given != num_frames:
        name = network_class.__name__ if network_class is not None else "the network"
        raise PoseGCNInputError(
            f"the data gives windows of num_frames={num_frames} but {name} is configured for "
            f"num_frames={given}; set both to the same value (--data.num_frames, and "
            f"--model.net.init_args.num_frames, or leave that one null to follow the data)"
        )
    return built


_NOT_TEMPORAL = object()


def _factory_class(net: Callable[..., nn.Module]) -> type | None:
    """The network class behind a factory: the class itself, a ``functools.partial`` of it (Python),
    or the ``partial`` of its instantiator that a config's ``class_path``/``init_args`` becomes."""
    target = net
    while isinstance(target, functools.partial):
        classes = [a for a in target.args if inspect.isclass(a)]
        target = classes[0] if classes else target.func
    return target if inspect.isclass(target) else None


def _configured_frames(net: Callable[..., nn.Module], network_class: type | None) -> object:
    """The ``num_frames`` a factory was configured with (``None``: follow the data), or
    :data:`_NOT_TEMPORAL` when the network takes no such argument."""
    keywords = getattr(net, "keywords", None) or {}
    if "num_frames" in keywords:
        return keywords["num_frames"]
    try:
        parameter = inspect.signature(network_class or net).parameters.get("num_frames")
    except (TypeError, ValueError):
        return _NOT_TEMPORAL
    if parameter is None:
        return _NOT_TEMPORAL
    return None if parameter.default is inspect.Parameter.empty else parameter.default


def noise_key(sigma: float) -> str:
    """Stable result prefix of a noise level: 5 → ``"noise5"``, 2.5 → ``"noise2.5"``."""
    return f"noise{float(sigma):g}"


def add_pixel_noise(
    pose_2d: torch.Tensor, sigma_px: float, image_width: torch.Tensor | None = None, seed: int = 0
) -> torch.Tensor:
    """Add Gaussian noise of ``sigma_px`` pixels to screen-normalised 2D poses.

    Normalisation divides both axes by the image width (``x_n = 2x/w − 1``), so σ px is
    ``2σ/w`` normalised units (:meth:`PoseCodec.pixels_to_units`, the one normaliser);
    ``image_width [B]`` per sample, 1000 px when ``None``.

    Shapes: ``[B, (T,) J, 2] → [B, (T,) J, 2]``.
    """
    generator = torch.Generator(device=pose_2d.device).manual_seed(seed)
    noise = torch.randn(pose_2d.shape, generator=generator, device=pose_2d.device, dtype=pose_2d.dtype)
    if image_width is None:
        scale = PoseCodec().pixels_to_units(sigma_px, DEFAULT_IMAGE_WIDTH)
    else:
        width = torch.as_tensor(image_width, dtype=pose_2d.dtype, device=pose_2d.device)
        scale = PoseCodec().pixels_to_units(sigma_px, width).reshape(-1, *([1] * (pose_2d.dim() - 1)))
    return pose_2d + noise * scale


def noise_table(results: dict[str, float], levels: list[float]) -> str:
    """The robustness table: one row per noise level, MPJPE and P-MPJPE (mm)."""
    lines = [
        "Robustness to 2D noise (mm)",
        f"{'σ (px)':>8} {'MPJPE':>9} {'P-MPJPE':>9} {'MPJPE act.':>11} {'P-MPJPE act.':>13}",
    ]
    for sigma in levels:
        k = noise_key(sigma)
        lines.append(
            f"{sigma:>8g} {results[k + '/mpjpe']:>9.2f} {results[k + '/p_mpjpe']:>9.2f} "
            f"{results[k + '/mpjpe_actionwise']:>11.2f} {results[k + '/p_mpjpe_actionwise']:>13.2f}"
        )
    return "\n".join(lines)


#: What ``mpjpe`` means in ``test_metrics.json`` for each root convention.
PROTOCOL1_NOTES = {
    "unaligned": "unaligned: prediction as given (VideoPose3D)",
    "root_zeroed": "root_zeroed: predicted root joint set to 0, other joints as predicted (the SemGCN / "
    "Modulated GCN code, their papers' tables); mpjpe_unaligned beside it",
    "root_aligned": "root_aligned: predicted root subtracted from every joint; mpjpe_unaligned beside it",
}


def _finite_or_none(results: dict[str, float]) -> dict[str, float | None]:
    return {k: (v if math.isfinite(v) else None) for k, v in results.items()}


def network_pose(output: torch.Tensor | Any) -> torch.Tensor:
    """The 3D pose a network returned: the tensor itself, or its ``pose`` (DG-Net's ``DGNetOutput``)."""
    return output if isinstance(output, torch.Tensor) else output.pose


class PoseLiftingModule(pl.LightningModule):
    """Lifts 2D keypoints to 3D with an injected network, loss, optimiser and schedule.

    Args:
        net: the network class with its arguments (``class_path`` + ``init_args`` in YAML:
            ``posegcn.models.SemGCN``, ``ModulatedGCN``, ``DGNet``), called with the skeleton.
            It maps ``[B, J, 2] → [B, J, 3]`` (single frame) or ``[B, T, J, 2] →`` poses of every
            frame ``[B, T, J, 3]``, as a tensor or an output with ``pose`` (:func:`network_pose`).
        loss: the training loss class with its weights (:mod:`posegcn.losses`:
            ``WeightedLoss``, ``MultiLevelLoss``), called with the skeleton; training minimises
            ``loss(output, target, net)`` and logs each of its terms as ``train/<term>``.
        skeleton: name of the joint layout (:data:`posegcn.skeleton.SKELETONS`: ``h36m17``,
            ``h36m16``, ``humaneva15``, …); the ``posegcn`` command links it from the data module,
            and checkpoints carry it.
        num_frames: frames per input window (1 for single-frame networks); linked from the data.
            A temporal network (one with a ``num_frames`` attribute) must be built for the same.
        optimizer: the optimiser class with its arguments, called with the parameters
            (default :class:`posegcn.lit.Adam`: fused whenever the parameters allow it).
        lr_scheduler: the schedule, called with the optimiser (default :class:`posegcn.lit.StaircaseLR`,
            ×0.96 every 100k steps).  Lightning steps it per ``interval`` attribute (``"step"``
            or ``"epoch"``; per epoch when the scheduler has none).
        test_flip: average each evaluation prediction with the un-flipped
            prediction of the horizontally flipped input (VideoPose3D, Modulated GCN CPN).
        eval_joints: evaluate on this subset of joint indices only (e.g. the 14
            MPI-INF-3DHP joints); ``None`` = all joints (or the data module's protocol subset).
        test_noise_px: robustness evaluation (DG-Net Table X): ``test`` additionally
            evaluates the test set with Gaussian noise of each σ (pixels) added to the
            2D input, e.g. ``[5, 10, 15, 20]``.  σ px is ``2σ/w`` normalised units, with
            ``w`` the batch's ``image_width`` (1000 px, the Human3.6M cameras, when the
            batch has none).  Results: ``test/noise<σ>/{mpjpe,p_mpjpe}`` (frame-pooled)
            and ``…_actionwise``, in the logs, ``test_metrics.json`` and a printed table.
            The noise is reproducible for a given batching (one generator per batch).
        nonfinite_loss: what a NaN/inf training loss does: ``"raise"`` stops training with
            an error naming the step, epoch and batch; ``"skip"`` warns and skips the batch
            (no optimiser step).  ``"skip"`` is for a single process: under DDP a batch
            skipped on one rank only would desynchronise the gradient all-reduce.
        root_alignment: Protocol #1 root convention applied to the prediction before every metric
            (:func:`~posegcn.metrics.functional.align_root`): ``"unaligned"`` (VideoPose3D),
            ``"root_zeroed"`` (what the SemGCN and Modulated GCN codes compute, and so their papers'
            tables; their configs use it) or ``"root_aligned"``.  The unaligned MPJPE is always
            reported too (``mpjpe_unaligned``).  Checkpoint selection monitors ``val/mpjpe``, i.e.
            the chosen convention, as the original codes select on their own number.
        compile_network: run the network through ``torch.compile`` (``nn.Module.compile``, so
            checkpoints keep their keys and load with or without it).  Measured on 2 CPU cores
            (``make bench --compile``): Modulated GCN GT training +12 % samples/s at batch 64 and
            256, after ≈15 s of compilation at the first step and again at the first evaluation.
    """

    def __init__(
        self,
        net: Callable[[Skeleton], nn.Module],
        loss: Callable[[Skeleton], nn.Module],
        skeleton: str,
        num_frames: int = 1,
        optimizer: OptimizerCallable = Adam,
        lr_scheduler: LRSchedulerCallable = StaircaseLR,
        test_flip: bool = False,
        eval_joints: list[int] | None = None,
        test_noise_px: list[float] | None = None,
        nonfinite_loss: Literal["raise", "skip"] = "raise",
        root_alignment: Literal["unaligned", "root_zeroed", "root_aligned"] = "unaligned",
        compile_network: bool = False,
    ) -> None:
        super().__init__()
        # Under the posegcn command the hyper-parameters are the config (class paths and plain
        # values, what checkpoints need); built directly, the injected callables are left out.
        self.save_hyperparameters()
        for key in INJECTED:
            if callable(self.hparams.get(key)):
                del self.hparams[key]
        if num_frames < 1:
            raise PoseGCNInputError(f"num_frames must be >= 1, got {num_frames}")
        self.skeleton: Skeleton = skeleton_named(skeleton)
        self.num_frames = num_frames
        self.window_center = (num_frames - 1) // 2
        self.net = build_network(net, self.skeleton, num_frames)
        self.criterion = loss(self.skeleton)
        self.optimizer = optimizer
        self.lr_scheduler = lr_scheduler
        self.test_flip = test_flip
        self.eval_joints = eval_joints
        self.test_noise_px = [float(sigma) for sigma in (test_noise_px or [])]
        if any(not math.isfinite(sigma) or sigma < 0 for sigma in self.test_noise_px):
            raise PoseGCNInputError(
                f"test_noise_px: noise levels must be finite and >= 0 pixels, got {test_noise_px}"
            )
        self.nonfinite_loss = nonfinite_loss
        if root_alignment not in ROOT_ALIGNMENTS:
            raise PoseGCNInputError(
                f"root_alignment must be one of {ROOT_ALIGNMENTS}, got {root_alignment!r}"
            )
        self.root_alignment = root_alignment
        self.compile_network = compile_network
        # One entry per finished validation epoch (not the sanity check), carried by every checkpoint:
        # the final epoch's numbers are reported beside the selected checkpoint's (test_metrics.json).
        self.validation_history: list[dict[str, Any]] = []
        self.validation_subjects: list[str] | None = None
        self.skipped_batches = 0  # training batches skipped for a NaN/inf loss (nonfinite_loss="skip")
        self._all_finite: torch.Tensor | None = None  # accelerator runs: all losses finite since the start
        self.val_metrics: PoseMetrics | None = None
        self.test_metrics: PoseMetrics | None = None
        # one metric collection per noise level; a plain dict keeps them out of the state_dict
        self.noise_metrics: dict[str, PoseMetrics] = {}
        self.last_test_results: dict[str, float] = {}

    @property
    def num_joints(self) -> int:
        return self.skeleton.num_joints

    def forward(self, pose_2d: torch.Tensor) -> torch.Tensor:
        """The network's 3D poses: ``[B, J, 2] → [B, J, 3]`` or ``[B, T, J, 2] → [B, T, J, 3]``."""
        return network_pose(self.net(pose_2d))

    def training_loss(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """The loss to minimise and its named terms: the injected loss on the network's output."""
        terms = self.criterion.terms(self.net(batch["pose_2d"]), batch["pose_3d"], self.net)
        return self.criterion.combine(terms), terms

    def predict_pose(self, pose_2d: torch.Tensor) -> torch.Tensor:
        """The network's 3D pose ``[B, J, 3]`` for the evaluated frame of each sample.

        Single-frame networks map ``[B, J, 2] → [B, J, 3]``; temporal networks
        return the window's centre frame (``(T − 1) // 2``).
        """
        out = self(pose_2d)
        return out[:, self.window_center] if out.dim() == 4 else out

    # ------------------------------------------------------------------ set-up
    def setup(self, stage: str) -> None:
        if self.compile_network and not is_compiled(self.net):
            self.net.compile()
        trainer = attached_trainer(self)
        dm = trainer.datamodule if trainer is not None else None
        if dm is not None:
            # Modules built outside the posegcn command (no links) still refuse other data.
            for attr, mine in (("skeleton", self.skeleton.name), ("num_frames", self.num_frames)):
                theirs = getattr(dm, attr, None)
                theirs = theirs.name if isinstance(theirs, Skeleton) else theirs
                if theirs is not None and theirs != mine:
                    raise PoseGCNInputError(
                        f"the data gives {attr}={theirs} but the model was built with {attr}={mine}; "
                        f"build the model for the data's {attr}"
                    )
        group_names = list(getattr(dm, "action_names", None) or ["all"])
        # A data module may prescribe its protocol's joint subset (MPI-INF-3DHP: 14 joints).
        joints = self.eval_joints if self.eval_joints is not None else getattr(dm, "eval_joints", None)
        joints = None if joints is None else [int(j) for j in joints]
        hparams = getattr(dm, "hparams", None) or {}
        if "val_subjects" in hparams:
            self.validation_subjects = [str(s) for s in hparams["val_subjects"]]

        def metrics() -> PoseMetrics:
            return PoseMetrics(
                len(group_names),
                group_names=group_names,
                joints=joints,
                root_alignment=self.root_alignment,
                root_joint=self.skeleton.root,
            ).to(self.device)

        if (
            self.val_metrics is None
            or self.val_metrics.group_names != group_names
            or self.val_metrics["mpjpe"].joints != joints
            or self.val_metrics.root_alignment != self.root_alignment
        ):
            self.val_metrics = metrics()
            self.test_metrics = metrics()
        if stage == "test" and self.test_noise_px:
            self.noise_metrics = {noise_key(sigma): metrics() for sigma in self.test_noise_px}

    def configure_optimizers(self) -> dict[str, Any]:
        optimizer = self.optimizer(self.parameters())
        scheduler = self.lr_scheduler(optimizer)
        # interval="step" makes Lightning step the schedule every iteration, so that a staircase
        # counts iterations as the papers do (100k iterations, not epochs).
        interval = getattr(scheduler, "interval", "epoch")
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "interval": interval, "frequency": 1},
        }

    # ------------------------------------------------------------------ checkpoints
    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        # the network's class, so that a checkpoint given to another architecture is named as such
        checkpoint["posegcn_module"] = f"{type(self.net).__module__}.{type(self.net).__qualname__}"
        # Dropout draws from the global generators: without their state a resumed run would draw
        # other masks than the uninterrupted one (batches and flips have their own seeded streams).
        checkpoint["posegcn_validation"] = {
            "subjects": self.validation_subjects,
            "root_alignment": self.root_alignment,
            "history": list(self.validation_history),
        }
        checkpoint["posegcn_rng"] = {
            "torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        }

    def on_train_start(self) -> None:
        state, self._rng_to_restore = getattr(self, "_rng_to_restore", None), None
        # Only when this fit resumes a checkpoint (--ckpt_path); weights loaded for fine-tuning keep the
        # new run's seed.  Runs after seed_everything and the sanity check: continue the saved streams.
        if state is None or self.trainer.ckpt_path is None:
            return
        torch.set_rng_state(state["torch"])
        cuda = state["cuda"]
        if cuda and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(cuda)

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Keep the saved random state for :meth:`on_train_start`, and refuse, in one readable
        message, a checkpoint whose weights do not fit this network."""
        self._rng_to_restore = checkpoint.get("posegcn_rng")
        # load_from_checkpoint builds the injected classes from these configs but hands the module the
        # built callables: keep the configs, so that its own checkpoints can be loaded again.
        saved = checkpoint.get("hyper_parameters") or {}
        for key in INJECTED:
            if key not in self.hparams and isinstance(saved.get(key), dict):
                self.hparams[key] = saved[key]
        validation = checkpoint.get("posegcn_validation") or {}
        self.validation_history = list(validation.get("history") or [])
        self.validation_subjects = validation.get("subjects")
        theirs = checkpoint.get("state_dict")
        if not isinstance(theirs, dict):
            return
        mine = self.state_dict()
        missing = [k for k in mine if k not in theirs]
        unexpected = [k for k in theirs if k not in mine]
        reshaped = [
            f"{k}: checkpoint {list(theirs[k].shape)} vs model {list(v.shape)}"
            for k, v in mine.items()
            if k in theirs and hasattr(theirs[k], "shape") and tuple(theirs[k].shape) != tuple(v.shape)
        ]
        if not (missing or unexpected or reshaped):
            return

        def some(items: list[str]) -> str:
            return ", ".join(items[:3]) + (", …" if len(items) > 3 else "")

        trainer = attached_trainer(self)
        path = trainer.ckpt_path if trainer is not None else None
        hp = checkpoint.get("hyper_parameters") or {}
        net = hp.get("net") if isinstance(hp.get("net"), dict) else {}  # the config under the posegcn command
        writer = net.get("class_path") or checkpoint.get("posegcn_module", "an unknown module")
        net_args = net.get("init_args") or {}
        shown = {k: hp[k] for k in ("skeleton", "num_frames") if k in hp}
        shown.update({k: net_args[k] for k in ("hidden", "num_blocks", "non_local") if k in net_args})
        details = "; ".join(
            part
            for part in (
                f"{len(missing)} weights missing ({some(missing)})" if missing else "",
                f"{len(unexpected)} unexpected ({some(unexpected)})" if unexpected else "",
                f"{len(reshaped)} with another shape ({some(reshaped)})" if reshaped else "",
            )
            if part
        )
        raise PoseGCNInputError(
            f"checkpoint {path or ''} does not fit the configured model: it was written by {writer} {shown}, "
            f"the config builds {type(self.net).__module__}.{type(self.net).__qualname__} "
            f"(skeleton={self.skeleton.name}, num_frames={self.num_frames}). {details}. Use the model config the "
            f"checkpoint was trained with (config.yaml in its run folder)"
        )

    # ------------------------------------------------------------------ steps
    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor | None:
        loss, terms = self.training_loss(batch)
        trainer = attached_trainer(self)
        if self.checks_loss_every_step(loss):
            if not torch.isfinite(loss):
                return self._nonfinite(loss, batch, batch_idx)
        else:
            # On an accelerator ``bool(isfinite)`` would wait for the step every step: keep a flag on
            # the device and look at it only when the step is logged (one host sync per logging step).
            finite = torch.isfinite(loss.detach())
            self._all_finite = finite if self._all_finite is None else self._all_finite & finite
            if logs_this_step(trainer) and not bool(self._all_finite):
                return self._nonfinite(loss, batch, batch_idx, deferred=True)
        # Lightning hands step values to the loggers every log_every_n_steps only; logging the other
        # steps costs a few ms of bookkeeping each and reaches no curve.
        if logs_this_step(trainer):
            bs = batch["pose_2d"].shape[0]
            self.log("train/loss", loss, prog_bar=True, batch_size=bs)
            for name, value in terms.items():
                self.log(f"train/{name}", value, batch_size=bs)
        return loss

    def checks_loss_every_step(self, loss: torch.Tensor) -> bool:
        """Whether a NaN/inf loss is looked for at every step (on the CPU, where it is free, and always
        with ``nonfinite_loss="skip"``, which must know before the optimiser step) rather than at
        logging steps only (an accelerator: no host synchronisation per step)."""
        return loss.device.type == "cpu" or self.nonfinite_loss == "skip"

    def _nonfinite(
        self, loss: torch.Tensor, batch: dict[str, torch.Tensor], batch_idx: int, deferred: bool = False
    ) -> None:
        """A NaN/inf training loss: raise :class:`NonFiniteLossError` or skip the batch (``nonfinite_loss``)."""
        where = f"global step {self.global_step} (epoch {self.current_epoch}, batch {batch_idx})"
        if deferred:
            where = f"a step up to {where} (checked at logging steps on the accelerator)"
        bad_input = not bool(
            torch.isfinite(batch["pose_2d"]).all() and torch.isfinite(batch["pose_3d"]).all()
        )
        cause = (
            "the batch itself holds NaN/inf inputs or targets"
            if bad_input
            else "the inputs are finite: the weights or the learning rate diverged (try a lower "
            "--model.optimizer.init_args.lr, "
            "--trainer.gradient_clip_val 1.0)"
        )
        if self.nonfinite_loss == "raise":
            raise NonFiniteLossError(
                f"training loss is {loss.item()} at {where}: {cause}. Training stopped; resume from the last "
                f"good checkpoint with --ckpt_path, or use --model.nonfinite_loss skip to skip such batches"
            )
        self.skipped_batches += 1
        rank_zero_warn(f"skipping the batch at {where}: training loss is {loss.item()} ({cause})")
        return None  # Lightning skips backward and the optimiser step

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
        for level, sigma in enumerate(self.test_noise_px):
            seed = batch_idx * 1009 + level
            noisy = add_pixel_noise(batch["pose_2d"], sigma, batch.get("image_width"), seed=seed)
            metrics = self.noise_metrics[noise_key(sigma)]
            metrics.update(self.evaluation_pose(noisy), self._target(batch), batch.get("action"))

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
        for key in VALIDATION_KEYS:
            if key in results:
                self.log(f"val/{key}", results[key], prog_bar=key in ("mpjpe", "p_mpjpe"), sync_dist=False)
        if not self.trainer.sanity_checking:
            entry = {"epoch": int(self.current_epoch), "step": int(self.global_step)}
            self.validation_history.append({**entry, "metrics": results})

    def on_test_epoch_end(self) -> None:
        actionwise = self.test_metrics.compute_actionwise()
        results = self.test_metrics.compute_flat(actionwise)
        table = self.test_metrics.table(actionwise)
        counts = next(iter(actionwise.values())).counts.tolist()
        frames = {"all": int(sum(counts)), **dict(zip(self.test_metrics.group_names, map(int, counts)))}
        self.test_metrics.reset()
        if self.noise_metrics:
            robustness = self._noise_results()
            results.update(robustness)
            table += "\n\n" + noise_table(robustness, self.test_noise_px)
        for key, value in results.items():
            if math.isfinite(value):
                self.log(f"test/{key}", value, sync_dist=False)
        self.last_test_results = dict(results)
        # The run's own folder (for W&B not the shared save_dir); a collective under DDP: every rank asks.
        log_dir = run_log_dir(self.trainer)
        self._report_test(results, frames, table, log_dir)

    def _noise_results(self) -> dict[str, float]:
        """``noise<σ>/<metric>`` for MPJPE and P-MPJPE (pooled and action-wise) of every level."""
        out: dict[str, float] = {}
        for key, metrics in self.noise_metrics.items():
            flat = metrics.compute_flat()
            metrics.reset()
            for name in NOISE_METRICS:
                out[f"{key}/{name}"] = flat[name]
        return out

    @rank_zero_only
    def _report_test(
        self, results: dict[str, float], frames: dict[str, int], table: str, log_dir: str
    ) -> None:
        rank_zero_info("\n" + table)
        os.makedirs(log_dir, exist_ok=True)
        path = os.path.join(log_dir, "test_metrics.json")
        ckpt_path = getattr(self.trainer, "ckpt_path", None)
        payload = {
            "units": "millimetres (errors), percent (pck, auc)",
            "protocol1": PROTOCOL1_NOTES[self.root_alignment],
            "checkpoint": ckpt_path,
            "frames": frames,
            "metrics": _finite_or_none(results),
        }
        # Model selection on the validation split (the papers' recipe: S9/S11, the test subjects):
        # the selected epoch and the final epoch, as recorded during fit.
        test_subjects = (getattr(getattr(self.trainer, "datamodule", None), "hparams", None) or {}).get(
            "test_subjects"
        )
        summary = final_epoch_summary(
            ckpt_path, self.validation_history, self.validation_subjects, test_subjects
        )
        if summary:
            payload["selection"] = summary
        with open(path, "w") as fh:
            json.dump(payload, fh, indent=2)
        rank_zero_info(f"test metrics written to {path}")
