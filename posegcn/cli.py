"""The ``posegcn`` command: LightningCLI over every model and data module of posegcn.

    posegcn fit  --config configs/modgcn.yaml --config configs/data/synthetic.yaml
    posegcn test --config configs/modgcn.yaml --ckpt_path logs/.../checkpoints/last.ckpt
    posegcn fit  --config configs/modgcn.yaml --print_config

Models and data modules are chosen in YAML by ``class_path`` (subclass mode); every
knob is a typed ``__init__`` argument.  The joint count and window length are
linked from the data to the model.  Defaults a user expects are added here: best
and last checkpoints by validation MPJPE, a learning-rate monitor, exact
(unpadded) distributed evaluation and a fixed seed recorded in the saved config.
"""

from __future__ import annotations

import lightning.pytorch as pl
from lightning.pytorch.callbacks import LearningRateMonitor, ModelCheckpoint
from lightning.pytorch.cli import ArgsType, LightningArgumentParser, LightningCLI
from lightning.pytorch.loggers import CSVLogger

__all__ = ["PoseGCNCLI", "build_cli", "main"]


class LearningRateLogger(LearningRateMonitor):
    """A learning-rate monitor that stays quiet when the run has no logger (``--trainer.logger false``)."""

    _active = True

    def on_train_start(self, trainer: pl.Trainer, *args, **kwargs) -> None:
        self._active = bool(trainer.loggers)
        if self._active:
            super().on_train_start(trainer, *args, **kwargs)

    def on_train_batch_start(self, trainer: pl.Trainer, *args, **kwargs) -> None:
        if self._active:
            super().on_train_batch_start(trainer, *args, **kwargs)

    def on_train_epoch_start(self, trainer: pl.Trainer, *args, **kwargs) -> None:
        if self._active:
            super().on_train_epoch_start(trainer, *args, **kwargs)


class PoseGCNCLI(LightningCLI):
    """LightningCLI with posegcn's links and defaults."""

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        # With subclass_mode_data a link from "data.num_joints" is silently ignored:
        # link the init_args explicitly (ecosystem-notes.md).
        parser.link_arguments("data.init_args.num_joints", "model.init_args.num_joints")
        parser.link_arguments("data.init_args.num_frames", "model.init_args.num_frames")
        parser.add_lightning_class_args(ModelCheckpoint, "checkpoint")
        parser.set_defaults(
            {
                "checkpoint.monitor": "val/mpjpe",
                "checkpoint.mode": "min",
                "checkpoint.save_last": True,
                "checkpoint.save_top_k": 1,
                "checkpoint.filename": "best",
                # a re-run in the same directory replaces best.ckpt instead of adding best-v1.ckpt
                "checkpoint.enable_version_counter": False,
            }
        )

    def _prepare_subcommand_parser(self, klass, subcommand: str, **kwargs) -> LightningArgumentParser:
        parser = super()._prepare_subcommand_parser(klass, subcommand, **kwargs)
        if subcommand in ("validate", "test"):
            # the modules print their own per-action table; Lightning's would list every key
            parser.set_defaults(verbose=False)
        return parser

    def instantiate_trainer(self, **kwargs) -> pl.Trainer:
        # Without an explicit logger, record everything locally (CSV) under default_root_dir.
        trainer_config = self._get(self.config_init, "trainer", default={})
        if trainer_config.get("logger") in (None, True) and "logger" not in kwargs:
            kwargs["logger"] = CSVLogger(save_dir=trainer_config.get("default_root_dir") or "logs")
        return super().instantiate_trainer(**kwargs)


def build_cli(args: ArgsType = None, run: bool = True) -> PoseGCNCLI:
    """Parse ``args`` and, with ``run=True``, execute the subcommand; returns the CLI object.

    With ``run=False`` no subcommand is given and the model, data module and trainer are
    only instantiated (``cli.model``, ``cli.datamodule``, ``cli.trainer``).
    """
    return PoseGCNCLI(
        model_class=pl.LightningModule,
        datamodule_class=pl.LightningDataModule,
        subclass_mode_model=True,
        subclass_mode_data=True,
        seed_everything_default=0,
        trainer_defaults={
            # The data modules shard evaluation sets themselves without padding, so that
            # metrics are exact on several processes; Lightning's sampler would pad.
            "use_distributed_sampler": False,
            "default_root_dir": "logs",
            "callbacks": [LearningRateLogger(logging_interval="step")],
        },
        save_config_kwargs={"overwrite": True},
        # The modules own configure_optimizers: the papers' staircase decay steps per iteration.
        auto_configure_optimizers=False,
        args=args,
        run=run,
    )


def main(args: ArgsType = None) -> None:
    """Entry point of the ``posegcn`` console script; ``args`` lets tests and notebooks call it."""
    build_cli(args)


if __name__ == "__main__":
    main()
