"""``posegcn convert``: a posegcn checkpoint from an original SemGCN / Modulated GCN checkpoint.

    posegcn convert --config configs/modgcn.yaml \\
        --original ckpt_Modulated_GCN_128_38.25_30.06.pth.tar --output modgcn_gt.ckpt
    posegcn test --config configs/modgcn.yaml --ckpt_path modgcn_gt.ckpt --data.root /path/to/h36m

The config (and any further ``--config`` / ``--model.*`` / ``--data.*`` options, as for
``posegcn fit``) builds the LightningModule exactly as ``posegcn fit`` would — the data's
joint count linked into the model — the original weights are loaded into its network with
:func:`~posegcn.models.original_checkpoints.load_original_state_dict`, and a Lightning
``Trainer`` saves it.  The result carries the module's hyper-parameters with their class
path, like a checkpoint of ``posegcn fit``, so ``posegcn test`` / ``predict --ckpt_path``,
``posegcn lift --ckpt`` and :func:`posegcn.lift.load_module` (the affinity notebook)
accept it.  It holds no optimiser state: ``posegcn fit --ckpt_path OUT.ckpt`` fine-tunes
the published weights from epoch 0 with a fresh optimiser.

Provenance is recorded under ``posegcn_converted_from``: the original file's path and
SHA-256, its epoch and error (as the original script saved them, when it did) and the
network the keys describe.

Original files are read with ``torch.load(weights_only=True)``, which refuses pickled
objects other than tensors and plain containers; ``--trust-file`` lifts that for files
from a source you trust (full unpickling can run code).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import pickle
import sys
from collections.abc import Callable, Sequence
from typing import Any

import lightning.pytorch as pl
import torch

from posegcn.checkpointing import AtomicCheckpointIO
from posegcn.errors import InputFileNotFoundError
from posegcn.models.original_checkpoints import (
    OriginalCheckpointError,
    describe_original,
    load_original_state_dict,
    original_weights,
)

__all__ = ["ProvenanceRecorder", "convert", "main", "read_original"]

#: Only the model of the parsed config is used: the trainer it also builds stays on the CPU, without a logger.
_UNUSED_TRAINER = ("--trainer.logger", "false", "--trainer.accelerator", "cpu", "--trainer.devices", "1")


class ProvenanceRecorder(pl.Callback):
    """Writes ``provenance`` into every checkpoint its trainer saves, as ``posegcn_converted_from``."""

    def __init__(self, provenance: dict[str, Any]) -> None:
        self.provenance = provenance

    def on_save_checkpoint(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, checkpoint: dict
    ) -> None:
        checkpoint["posegcn_converted_from"] = dict(self.provenance)


def read_original(path: str, trust_file: bool = False) -> dict:
    """Load an original checkpoint file on the CPU, with one-line errors naming ``path``."""
    if not os.path.isfile(path):
        raise InputFileNotFoundError(f"original checkpoint not found: {path} (check --original)")
    try:
        return torch.load(path, map_location="cpu", weights_only=not trust_file)
    except pickle.UnpicklingError as err:
        # torch's message is a paragraph; its "WeightsUnpickler error:" line names the refused type
        lines = [line.strip() for line in str(err).splitlines() if line.strip()]
        refused = [line.split("error:", 1)[1] for line in lines if line.startswith("WeightsUnpickler error:")]
        reason = refused[0].split(". ")[0].strip() if refused else (lines[0] if lines else type(err).__name__)
        raise OriginalCheckpointError(
            f"{path}: holds pickled objects beyond tensors and plain containers ({reason}); "
            "if you trust its source, add --trust-file"
        ) from None
    except Exception as err:  # truncated download, not a torch file
        raise OriginalCheckpointError(
            f"cannot read {path} ({os.path.getsize(path)} bytes): {type(err).__name__}: {str(err)[:200]}; "
            "the file is truncated or not a torch checkpoint"
        ) from None


def _plain(value: Any) -> Any:
    """A number saved by the original script as a Python, NumPy or 0-d tensor value → Python number."""
    return value.item() if hasattr(value, "item") else value


def convert(
    config_args: Sequence[str],
    original: str,
    output: str,
    build_cli: Callable[..., Any],
    trust_file: bool = False,
) -> pl.LightningModule:
    """Build the module from ``config_args`` (LightningCLI options), load ``original`` into it, save ``output``.

    ``build_cli`` is the command's parser (:func:`posegcn.cli.build_cli`), passed in by the command so
    that this module does not import the command that dispatches to it (no import cycle).
    Returns the module with the loaded weights.
    """
    if os.path.abspath(output) == os.path.abspath(original):
        raise OriginalCheckpointError(f"--output {output} would overwrite the original checkpoint")
    checkpoint = read_original(original, trust_file)
    weights = original_weights(checkpoint, original)  # a posegcn checkpoint fails here, before any build
    argv, sys.argv = sys.argv, sys.argv[:1]  # the options go in as `args`: LightningCLI would warn about both
    try:
        cli = build_cli([*config_args, *_UNUSED_TRAINER], run=False)
    finally:
        sys.argv = argv
    module = cli.model
    net = getattr(module, "net", None)
    if net is None:
        raise OriginalCheckpointError(
            f"{original}: the config builds {type(module).__name__}, which has no network `net` to load into"
        )
    load_original_state_dict(net, weights, source=original)
    with open(original, "rb") as fh:
        sha256 = hashlib.sha256(fh.read()).hexdigest()  # original checkpoints are a few MB
    provenance = {
        "path": os.path.abspath(original),
        "sha256": sha256,
        "network": str(describe_original(weights)),
        "epoch": _plain(checkpoint.get("epoch")),  # main_gcn.py saves both; the CPN code neither
        "error": _plain(checkpoint.get("error")),
    }
    trainer = pl.Trainer(
        accelerator="cpu",
        devices=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[ProvenanceRecorder(provenance)],
        plugins=[AtomicCheckpointIO()],  # never a half-written file at `output`
    )
    trainer.strategy.connect(module)
    os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
    trainer.save_checkpoint(output, weights_only=False)  # with the provenance callback's entry
    return module


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="posegcn convert",
        description="Write a posegcn checkpoint from an original SemGCN (garyzhao/SemGCN, with or without "
        "non-local) or Modulated GCN (ZhimingZo/Modulated-GCN, GT or CPN setting) checkpoint. The config "
        "gives the network's hyper-parameters; the result works with `posegcn test/predict --ckpt_path` "
        "and `posegcn lift --ckpt`.",
        epilog="Any other option (--model.net.init_args.hidden 384, --data.num_joints 17, a second --config …) is passed "
        "to the config parser of `posegcn fit`. Example: posegcn convert --config configs/modgcn.yaml "
        "--original ckpt_Modulated_GCN_128_38.25_30.06.pth.tar --output modgcn_gt.ckpt",
    )
    p.add_argument(
        "--config",
        action="append",
        required=True,
        help="posegcn config of the matching architecture, e.g. configs/modgcn.yaml (repeatable)",
    )
    p.add_argument(
        "--original",
        required=True,
        help="original checkpoint (.pth.tar of main_gcn.py, or a bare state dict)",
    )
    p.add_argument("--output", required=True, help="posegcn checkpoint to write (.ckpt)")
    p.add_argument(
        "--trust-file",
        action="store_true",
        help="unpickle the original file fully (it may run code): only for files from a source you trust",
    )
    return p


def main(args: Sequence[str] | None, build_cli: Callable[..., Any]) -> str:
    """``posegcn convert``: returns the path of the written checkpoint (``build_cli``: see :func:`convert`)."""
    a, rest = _parser().parse_known_args(args)
    config_args = [arg for path in a.config for arg in ("--config", path)] + rest
    module = convert(config_args, a.original, a.output, build_cli, trust_file=a.trust_file)
    print(
        f"wrote {a.output}: {type(module).__name__} ({module.net.num_joints} joints) with the weights of {a.original}"
    )
    return a.output
