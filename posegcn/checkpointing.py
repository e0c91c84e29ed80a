"""Crash-safe checkpoints: atomic writes, readable errors, and finding the run to resume.

A training run killed with SIGKILL at any moment — also while a checkpoint is being
written — must leave a usable ``last.ckpt`` behind.  :class:`AtomicCheckpointIO` writes
every checkpoint to a temporary file *in the same directory*, flushes it to disk and
renames it over the target with :func:`os.replace`, which POSIX makes atomic within one
file system: a reader sees either the old complete file or the new complete file, never
half of one.  (Lightning's own ``_atomic_save`` goes through an fsspec transaction whose
temporary file lives in the system temp directory; moving it across file systems is a copy,
which a kill can interrupt, and nothing is fsync'ed.)

Loading wraps ``torch.load`` so that a truncated or foreign file yields an error naming
the file instead of a zip-reader traceback.

:func:`run_log_dir` is the run's own folder for every logger (for W&B:
``<save_dir>/<project>/<run id>``, the folder Lightning puts the checkpoints in), used for
files such as ``config.yaml``, ``test_metrics.json`` and ``predictions.npz`` that must not
be shared between runs.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger, WandbLogger
from lightning.pytorch.plugins.io import TorchCheckpointIO

from posegcn._compat import save_last_checkpoint
from posegcn.errors import InputFileNotFoundError, PoseGCNInputError

__all__ = [
    "AtomicCheckpointIO",
    "PoseModelCheckpoint",
    "atomic_torch_save",
    "final_epoch_summary",
    "find_last_checkpoint",
    "run_log_dir",
]


def atomic_torch_save(obj: Any, path: str | os.PathLike) -> None:
    """``torch.save(obj, path)`` that never leaves a partial file at ``path``.

    Writes ``.<name>.<random>.tmp`` next to ``path``, fsyncs it, ``os.replace``s it onto
    ``path`` and fsyncs the directory (so the rename itself survives a power cut).  If
    serialisation fails the temporary file is removed and ``path`` is untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            torch.save(obj, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    try:  # persist the directory entry; not possible on every platform
        dir_fd = os.open(path.parent, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)


class AtomicCheckpointIO(TorchCheckpointIO):
    """Lightning ``CheckpointIO`` with atomic local saves and clear load errors.

    The ``posegcn`` command installs it unless another ``CheckpointIO`` plugin is given.
    Remote paths (``s3://…``) fall back to Lightning's writer.
    """

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: str | os.PathLike, storage_options=None
    ) -> None:
        if storage_options is not None:
            raise TypeError(
                "AtomicCheckpointIO.save_checkpoint does not accept storage_options, got "
                f"{storage_options!r}; use a custom CheckpointIO plugin to pass them"
            )
        if "://" in str(path):
            super().save_checkpoint(checkpoint, path)
            return
        atomic_torch_save(checkpoint, path)

    def load_checkpoint(self, path: str | os.PathLike, map_location=None, weights_only: bool | None = None):
        if "://" not in str(path) and not os.path.isfile(path):
            raise InputFileNotFoundError(f"checkpoint file not found: {path} (check --ckpt_path)")
        kwargs = {} if map_location is None else {"map_location": map_location}
        try:
            return super().load_checkpoint(path, weights_only=weights_only, **kwargs)
        except Exception as err:
            size = os.path.getsize(path) if os.path.isfile(path) else "?"
            raise PoseGCNInputError(
                f"cannot read checkpoint {path} ({size} bytes): {type(err).__name__}: {str(err)[:300]}. "
                "The file is truncated, corrupt or not a torch checkpoint; posegcn writes checkpoints "
                "atomically, so use last.ckpt / best.ckpt from the run's checkpoints folder"
            ) from err


class PoseModelCheckpoint(ModelCheckpoint):
    """``ModelCheckpoint`` whose ``last.ckpt`` is also written at the end of every training epoch.

    With ``every_n_train_steps=N`` Lightning saves (best and last) only every N steps and
    no longer at epoch ends, so the final weights of a run would never reach ``last.ckpt``
    unless the step count happens to be a multiple of N.  Here ``last.ckpt`` is refreshed
    every N steps *and* at every epoch end: a kill loses at most N steps, and ``last.ckpt``
    of a finished run holds its final weights.  The best checkpoint keeps Lightning's rules.
    """

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        super().on_train_epoch_end(trainer, pl_module)
        save_last_checkpoint(self, trainer)


def find_last_checkpoint(root: str | os.PathLike) -> Path | None:
    """The newest ``last.ckpt`` of the runs under ``root`` (``<root>/**/version_N/checkpoints/``).

    Used by ``posegcn fit --ckpt_path last`` when no fixed ``--checkpoint.dirpath`` is set:
    the logger makes a new ``version_N`` folder for every run, so Lightning alone would look
    for ``last.ckpt`` in the new, empty folder.  ``None`` when there is none.
    """
    candidates = [p for p in Path(root).glob("**/checkpoints/last.ckpt") if p.is_file()]
    if not candidates:
        return None
    return max(candidates, key=lambda p: p.stat().st_mtime)


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


def _epoch_entry(entry: dict[str, Any]) -> dict[str, Any]:
    metrics = {k: v for k, v in entry["metrics"].items() if isinstance(v, float) and v == v}
    return {"epoch": entry["epoch"], "step": entry["step"], "metrics": metrics}


def final_epoch_summary(
    ckpt_path: str | os.PathLike | None,
    history: list[dict[str, Any]],
    val_subjects: list[str] | None,
    test_subjects: list[str] | None = None,
) -> dict[str, Any] | None:
    """The validation numbers of the tested checkpoint's epoch and of the run's final epoch.

    The papers' recipe selects the best epoch on S9/S11 and reports it; ``test_metrics.json``
    adds the final epoch beside it.  ``history`` is the validation history carried by the
    tested checkpoint (its last entry is the epoch it was saved at); the final epoch comes from
    ``last.ckpt`` in the same folder (or the tested checkpoint itself when it is ``last.ckpt``).
    When the validation subjects are the test subjects, these validation numbers *are* test
    numbers (same frames, same evaluation).  ``None`` when nothing was recorded (e.g. a
    converted original checkpoint).
    """
    if not history:
        return None
    summary: dict[str, Any] = {
        "validation_subjects": val_subjects,
        "validation_is_test_split": bool(
            val_subjects is not None
            and test_subjects is not None
            and sorted(val_subjects) == sorted(test_subjects)
        ),
        "tested_checkpoint_epoch": _epoch_entry(history[-1]),
    }
    final = history
    if ckpt_path is not None and Path(ckpt_path).name != "last.ckpt":
        last = Path(ckpt_path).with_name("last.ckpt")
        final = None
        if last.is_file():
            ckpt = AtomicCheckpointIO().load_checkpoint(last, map_location="cpu", weights_only=False)
            final = (ckpt.get("posegcn_validation") or {}).get("history")
    if final:
        summary["final_epoch"] = _epoch_entry(final[-1])
        best = min(final, key=lambda e: e["metrics"].get("mpjpe", float("inf")))
        summary["best_epoch_by_val_mpjpe"] = best["epoch"]
    return summary
