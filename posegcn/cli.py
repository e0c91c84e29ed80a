"""The ``posegcn`` command: LightningCLI over every model and data module of posegcn.

    posegcn fit  --config configs/modgcn.yaml --config configs/data/synthetic.yaml
    posegcn test --config configs/modgcn.yaml --ckpt_path logs/.../checkpoints/last.ckpt
    posegcn fit  --config configs/modgcn.yaml --print_config
    posegcn lift --ckpt best.ckpt --input keypoints.npz --output poses_3d.npz   (posegcn/lift/)
    posegcn convert --config configs/modgcn.yaml --original ckpt.pth.tar --output m.ckpt   (posegcn/convert.py)

Models and data modules are chosen in YAML by ``class_path`` (subclass mode); every
knob is a typed ``__init__`` argument; the model's network, loss, optimiser and schedule are
injected classes (:class:`posegcn.lit.PoseLiftingModule`).  The skeleton (by name) and the window
length are linked from the data to the model.  Defaults a user expects are added here: best
and last checkpoints by validation MPJPE, a learning-rate monitor, exact
(unpadded) distributed evaluation and a fixed seed recorded in the saved config.
Figures and the action-wise table go to the logger (``--figures.*``, :mod:`posegcn.callbacks`);
``predict`` writes ``predictions.npz`` (``--prediction_writer.*``, :class:`posegcn.callbacks.PredictionWriter`);
``configs/logger/wandb.yaml`` switches the logger to W&B, whose files then live under
``default_root_dir`` and whose config/metrics files go into the run's own folder.
``posegcn lift`` (own keypoints → 3D) is dispatched to :func:`posegcn.lift.lifting.main`
before the LightningCLI.
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import io
import os
import re
import sys

import lightning.pytorch as pl
from jsonargparse import Namespace
from lightning.pytorch.callbacks import LearningRateMonitor
from lightning.pytorch.cli import ArgsType, LightningArgumentParser, SaveConfigCallback
from lightning.pytorch.loggers import CSVLogger
from lightning.pytorch.plugins.io import CheckpointIO
from lightning.pytorch.utilities import rank_zero_only

from posegcn._compat import LightningCLIHooks, jsonargparse_debug_mode
from posegcn.callbacks import PoseFigureLogger, PoseProgressBar, PredictionWriter
from posegcn.checkpointing import AtomicCheckpointIO, PoseModelCheckpoint, find_last_checkpoint, run_log_dir
from posegcn.errors import PoseGCNInputError, reports_input_errors

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


class RunDirSaveConfigCallback(SaveConfigCallback):
    """Saves ``config.yaml`` into the run's own folder (:func:`posegcn.checkpointing.run_log_dir`).

    Lightning's writes into ``trainer.log_dir``, which for W&B is the ``save_dir`` shared by
    all runs (ecosystem-notes.md): each run would overwrite (or refuse) the previous config.
    """

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if self.already_saved:
            return
        log_dir = run_log_dir(trainer)  # broadcasts: every rank
        if trainer.is_global_zero:
            os.makedirs(log_dir, exist_ok=True)
            path = os.path.join(log_dir, self.config_filename)
            self.parser.save(
                self.config, path, skip_none=False, overwrite=self.overwrite, multifile=self.multifile
            )
            self.save_config(trainer, pl_module, stage)
            self.already_saved = True
        self.already_saved = trainer.strategy.broadcast(self.already_saved)


#: Lines of a jsonargparse error that only trace its search through a type union.
_ARGUMENT_ERROR_NOISE = (
    "Does not validate against any of the Union subtypes",
    "Subtypes:",
    "Errors:",
    "Given value type:",
    "Expected a <class 'NoneType'>",
)


def one_line_argument_error(message: str) -> str:
    """A jsonargparse error message (nested, 5–15 lines) as one line, without the type-union trace."""
    kept = [ln.strip(" -") for ln in message.splitlines()]
    kept = [ln for ln in kept if ln and not ln.startswith(_ARGUMENT_ERROR_NOISE)]
    text = ""
    for line in kept:
        text += line if not text else (" " if text.endswith(":") else "; ") + line
    return " ".join(text.split())


#: Model keys that moved when the three architecture modules became one :class:`PoseLiftingModule`
#: with an injected network, loss, optimiser and schedule (README § Configs).
_NETWORK_KEYS = (
    "hidden", "num_blocks", "non_local", "channelwise", "dropout", "affinity", "weight_modulation",
    "weight_unsharing", "symmetric", "low_rank", "modulation_init", "k_spatial", "k_temporal", "weighting",
    "include_self", "no_knn", "spatial_units", "temporal_units", "block_head", "connections", "fsg_weights",
    "inference_chunk",
)  # fmt: skip
RENAMED_MODEL_KEYS = {
    "lr": "--model.optimizer.init_args.lr",
    "amsgrad": "--model.optimizer.init_args.amsgrad",
    "weight_decay": "--model.optimizer.init_args.weight_decay",
    "lr_decay": "--model.lr_scheduler.init_args.decay",
    "lr_decay_every": "--model.lr_scheduler.init_args.every",
    "lr_decay_interval": "--model.lr_scheduler.init_args.interval",
    "bone_weight": "--model.loss.init_args.bone",
    "sparsity_weight": "--model.loss.init_args.sparsity",
    "lam": "--model.loss.init_args.lam",
    "loss_reduction": "--model.loss.init_args.reduction",
    "num_joints": "--data.num_joints (the model is built for the data's skeleton)",
    **{key: f"--model.net.init_args.{key}" for key in _NETWORK_KEYS},
}
#: The former architecture modules and the network class that replaces each.
RENAMED_MODULES = {
    "posegcn.lit.SemGCNModule": "posegcn.models.SemGCN",
    "posegcn.lit.ModulatedGCNModule": "posegcn.models.ModulatedGCN",
    "posegcn.lit.DGNetModule": "posegcn.models.DGNet",
}


def renamed_key_hint(message: str) -> str | None:
    """What a model key or class of the former per-architecture modules is called now, if ``message`` names one."""
    for old, network in RENAMED_MODULES.items():
        if f"'{old}'" in message:
            return (
                f"{old} was replaced by class_path: posegcn.lit.PoseLiftingModule with net: {network} (and loss:, "
                f"optimizer:, lr_scheduler:); configs/*.yaml show the new structure, README § Configs the renamed keys"
            )
    found = re.search(r"(?:Option|[Kk]ey) '(\w+)' is not accepted", message)
    if found and found.group(1) in RENAMED_MODEL_KEYS:
        key = found.group(1)
        return (
            f"model option '{key}' moved: use {RENAMED_MODEL_KEYS[key]} (in YAML under model.init_args; "
            f"README § Configs lists the renamed keys)"
        )
    return None


class PoseGCNArgumentParser(LightningArgumentParser):
    """Prints an argument error as one line ``posegcn: error: …`` and exits with status 2.

    jsonargparse prints the whole usage first (50–80 lines with posegcn's options), which
    buries the one line that matters.  ``JSONARGPARSE_DEBUG=1`` keeps jsonargparse's behaviour.
    """

    def error(self, message: str, ex: Exception | None = None):
        if not self.exit_on_error or jsonargparse_debug_mode():
            return super().error(message, ex)
        hint = renamed_key_hint(message)
        text = hint if hint is not None else f"{one_line_argument_error(message)} (--help lists the options)"
        print(
            f"posegcn: error: {text}",
            file=sys.stderr,
            flush=True,
        )
        self.exit(2)


class PoseGCNCLI(LightningCLIHooks):
    """LightningCLI with posegcn's links and defaults."""

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        # The network is built for the data's skeleton (by name) and window length.  With
        # subclass_mode_data a link from "data.num_frames" is silently ignored: link the init_args
        # explicitly (ecosystem-notes.md); the skeleton is a property of the built data module.
        parser.link_arguments("data.init_args.num_frames", "model.init_args.num_frames")
        parser.link_arguments(
            "data.skeleton", "model.init_args.skeleton", _skeleton_name, apply_on="instantiate"
        )
        # --checkpoint.*: best by val/mpjpe + last (also every N steps with --checkpoint.every_n_train_steps N)
        parser.add_lightning_class_args(PoseModelCheckpoint, "checkpoint")
        parser.add_lightning_class_args(PoseFigureLogger, "figures")
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

    def configure_subcommand_parser(self, parser: LightningArgumentParser, subcommand: str) -> None:
        if subcommand in ("validate", "test"):
            # the modules print their own per-action table; Lightning's would list every key
            parser.set_defaults(verbose=False)
        if subcommand == "predict":
            parser.add_lightning_class_args(PredictionWriter, "prediction_writer")

    #: Evaluation-only model options: with ``--ckpt_path`` Lightning overwrites the parsed model
    #: arguments with the checkpoint's hyper-parameters; these keep the value the user gave.
    EVALUATION_OPTIONS = ("test_noise_px", "test_flip", "eval_joints", "root_alignment")

    def before_instantiate_classes(self) -> None:
        # A WandbLogger without save_dir (configs/logger/wandb.yaml) keeps its files in the run
        # folder default_root_dir instead of the working directory.
        config = self.config[self.subcommand] if self.subcommand else self.config
        self._add_progress_bar(config)
        loggers = config.get("trainer.logger")
        for logger in loggers if isinstance(loggers, list) else [loggers]:
            if str(getattr(logger, "class_path", "")).endswith("WandbLogger"):
                if logger.init_args.get("save_dir") in (None, "."):
                    logger.init_args["save_dir"] = config.get("trainer.default_root_dir") or "logs"

    @staticmethod
    def _add_progress_bar(config: Namespace) -> None:
        """Use :class:`~posegcn.callbacks.PoseProgressBar` (redrawn a few times per second) unless the
        run has no progress bar or names its own."""
        if config.get("trainer.enable_progress_bar") is False:
            return
        callbacks = config.get("trainer.callbacks") or []
        callbacks = list(callbacks) if isinstance(callbacks, list) else [callbacks]
        if any("ProgressBar" in str(getattr(c, "class_path", type(c).__name__)) for c in callbacks):
            return
        bar = Namespace(class_path=f"{PoseProgressBar.__module__}.{PoseProgressBar.__qualname__}")
        bar.init_args = Namespace(refresh_interval=0.25)
        config["trainer.callbacks"] = [*callbacks, bar]

    def parse_ckpt_path(self) -> None:
        subcommand = self.config.get("subcommand")
        key = f"{subcommand}.model.init_args"
        given = {}
        if subcommand and self.config.get(key) is not None:
            given = {k: self.config[key].get(k) for k in self.EVALUATION_OPTIONS}
        self._merge_checkpoint_hparams()
        for option, value in given.items():
            if value is not None and self.config.get(key) is not None:
                self.config[key][option] = value

    def _merge_checkpoint_hparams(self) -> None:
        """Lightning's merge of a checkpoint's hyper-parameters into the model config, with readable errors.

        A truncated file, or hyper-parameters the configured model does not accept (a checkpoint
        of another architecture), are reported naming the checkpoint instead of a zip-reader
        traceback or a dump of the hyper-parameters.  A checkpoint of another architecture whose
        hyper-parameters the configured class does accept replaces the configured model (Lightning's
        merge): one line says so, since the results are then those of the checkpoint's architecture.
        """
        subcommand = self.config.get("subcommand")
        ckpt_path = self.config[subcommand].get("ckpt_path") if subcommand else None
        if not ckpt_path or not os.path.isfile(ckpt_path):
            return
        ckpt = AtomicCheckpointIO().load_checkpoint(ckpt_path, map_location="cpu", weights_only=True)
        hparams = dict(ckpt.get("hyper_parameters") or {})
        hparams.pop("_instantiator", None)
        # The skeleton is linked from the data module when the classes are built: not an option to merge.
        hparams.pop("skeleton", None)
        if not hparams:
            return
        writer = (
            _network_class_path({"init_args": hparams})
            or ckpt.get("posegcn_module")
            or hparams.get("_class_path")
            or "a module that did not record its class"
        )
        if "_class_path" in hparams:
            hparams = {"class_path": hparams.pop("_class_path"), "dict_kwargs": hparams}
        else:  # saved from Python: its plain arguments update the configured model
            configured_class = (self.config[subcommand].get("model") or {}).get("class_path")
            hparams = {"class_path": configured_class, "init_args": hparams}
        configured_before = _network_class_path(self.config[subcommand].get("model"))
        errors = io.StringIO()
        try:
            with contextlib.redirect_stderr(errors):
                self.config = self.parser.parse_object({subcommand: {"model": hparams}}, self.config)
            merged = _network_class_path(self.config[subcommand].get("model"))
            if not _same_class(configured_before, merged) and rank_zero_only.rank == 0:
                doing = "training" if subcommand == "fit" else "evaluating"
                print(
                    f"posegcn: the checkpoint {ckpt_path} was written by {merged}; {doing} that "
                    f"architecture, not the configured {configured_before}",
                    file=sys.stderr,
                    flush=True,
                )
        except SystemExit:
            lines = [ln.strip() for ln in errors.getvalue().splitlines()]
            reasons = [ln for ln in lines if "not accepted" in ln] or lines[-2:]
            configured = (self.config[subcommand].get("model") or {}).get("class_path", "?")
            with contextlib.suppress(Exception):  # name every foreign hyper-parameter when the class imports
                module_name, _, class_name = configured.rpartition(".")
                accepted = inspect.signature(
                    getattr(importlib.import_module(module_name), class_name)
                ).parameters
                foreign = sorted(set(hparams.get("dict_kwargs", hparams)) - set(accepted))
                if foreign:
                    reasons = [f"unknown to it: {', '.join(foreign)}"]
            raise PoseGCNInputError(
                f"checkpoint {ckpt_path} does not fit the configured model: it was written by {writer}, whose "
                f"hyper-parameters {configured} does not accept ({'; '.join(reasons[:3])}). Use the model "
                f"config the checkpoint was trained with (config.yaml in its run folder)"
            ) from None

    def instantiate_trainer(self, **kwargs) -> pl.Trainer:
        # Without an explicit logger, record everything locally (CSV) under default_root_dir.
        trainer_config = self.config_value("trainer", default={})
        root = trainer_config.get("default_root_dir") or "logs"
        self._resolve_last_checkpoint(root)
        if trainer_config.get("logger") in (None, True) and "logger" not in kwargs:
            kwargs["logger"] = CSVLogger(save_dir=root)
        # Checkpoints are written atomically (posegcn/checkpointing.py) unless the user brings a CheckpointIO.
        plugins = trainer_config.get("plugins") or []
        plugins = list(plugins) if isinstance(plugins, (list, tuple)) else [plugins]
        if "plugins" not in kwargs and not any(isinstance(p, CheckpointIO) for p in plugins):
            kwargs["plugins"] = [*plugins, AtomicCheckpointIO()]
        return super().instantiate_trainer(**kwargs)

    def _resolve_last_checkpoint(self, root: str) -> None:
        """``fit --ckpt_path last`` without a fixed ``--checkpoint.dirpath``: resume the newest run under ``root``.

        Every run logs into a new ``version_N`` folder, where Lightning alone would find no
        ``last.ckpt`` and silently start afresh.  The newest ``<root>/**/checkpoints/last.ckpt``
        is passed explicitly instead; the resumed run logs into a new ``version_N`` (the CSV
        logger would delete the old run's ``metrics.csv`` if it reused the folder).
        """
        if self.subcommand != "fit" or self.config_value("ckpt_path") != "last":
            return
        checkpoint = self.config_value("checkpoint")
        if getattr(checkpoint, "dirpath", None) is not None:
            return  # Lightning looks in the fixed folder itself
        last = find_last_checkpoint(root)
        if last is not None:  # else Lightning warns that there is nothing to resume and starts afresh
            self.config_init[self.subcommand]["ckpt_path"] = str(last)


def _skeleton_name(skeleton) -> str:
    """The registered name of the data module's skeleton (:data:`posegcn.skeleton.SKELETONS`)."""
    return skeleton.name


def _network_class_path(model_config) -> str | None:
    """The network class a model config names (``init_args.net.class_path``)."""
    net = ((model_config or {}).get("init_args") or {}).get("net")
    return None if net is None else net.get("class_path")


def _same_class(a: str | None, b: str | None) -> bool:
    """Whether two class paths name one class (``posegcn.lit.X`` and ``posegcn.lit.x.X`` do)."""

    def resolve(path: str | None) -> object:
        module_name, _, name = str(path).rpartition(".")
        try:
            return getattr(importlib.import_module(module_name), name)
        except (ImportError, AttributeError, ValueError):
            return path

    return a is None or b is None or resolve(a) is resolve(b)


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
        parser_class=PoseGCNArgumentParser,  # one-line argument errors
        save_config_callback=RunDirSaveConfigCallback,
        save_config_kwargs={"overwrite": True},
        # The modules own configure_optimizers: the papers' staircase decay steps per iteration.
        auto_configure_optimizers=False,
        args=args,
        run=run,
    )


@reports_input_errors("posegcn")
def main(args: ArgsType = None) -> None:
    """Entry point of the ``posegcn`` console script; ``args`` lets tests and notebooks call it.

    Input errors of every subcommand (:class:`~posegcn.errors.PoseGCNInputError`, recognised
    PyTorch/Lightning argument errors) print one line ``posegcn: error: …`` and exit with status 2;
    ``POSEGCN_TRACEBACK=1`` shows their traceback (:mod:`posegcn.errors`).

    ``posegcn lift …`` goes to :func:`posegcn.lift.lifting.main`, ``posegcn convert …`` to
    :func:`posegcn.convert.main`; everything else to the LightningCLI.
    A W&B run started by the command is finished at its end, so that a second command in the
    same process (tests, notebooks) starts its own run instead of appending to this one.
    """
    argv = sys.argv[1:] if args is None else args
    if isinstance(argv, (list, tuple)) and argv and argv[0] == "lift":
        from posegcn.lift.lifting import main as lift_main

        lift_main(list(argv[1:]))
        return
    if isinstance(argv, (list, tuple)) and argv and argv[0] == "convert":
        from posegcn.convert import main as convert_main

        convert_main(list(argv[1:]), build_cli)
        return
    cli = build_cli(args)
    if any(type(logger).__name__ == "WandbLogger" for logger in cli.trainer.loggers):
        import wandb

        wandb.finish()


if __name__ == "__main__":
    main()
