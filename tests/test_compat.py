"""posegcn/_compat.py: the private framework APIs posegcn uses still exist and still behave.

Each test names the private API it checks.  A failure after upgrading Lightning,
torchmetrics, jsonargparse or torch means the wrapper in ``posegcn/_compat.py`` must be
adapted (its docstring says why posegcn needs it), not that posegcn's own code is wrong.
"""

from __future__ import annotations

import csv
import inspect
import re
from pathlib import Path

import lightning.pytorch as pl
import pytest
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.cli import LightningCLI
from lightning.pytorch.demos.boring_classes import BoringDataModule, BoringModel
from torchmetrics import Metric

from posegcn import _compat


def parameters(fn) -> list[str]:
    return list(inspect.signature(fn).parameters)


def tiny_trainer(tmp_path, callbacks, batches: int = 3, epochs: int = 1) -> pl.Trainer:
    return pl.Trainer(
        default_root_dir=tmp_path,
        max_epochs=epochs,
        limit_train_batches=batches,
        limit_val_batches=0,
        callbacks=callbacks,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        accelerator="cpu",
        devices=1,
    )


# --------------------------------------------------------------------------- checkpoints
def test_model_checkpoint_private_methods_keep_their_signatures():
    assert parameters(ModelCheckpoint._should_skip_saving_checkpoint) == ["self", "trainer"]
    assert parameters(ModelCheckpoint._monitor_candidates) == ["self", "trainer"]
    assert parameters(ModelCheckpoint._save_last_checkpoint) == ["self", "trainer", "monitor_candidates"]


class _LastAtEpochEnd(ModelCheckpoint):
    def on_train_epoch_end(self, trainer, pl_module):
        super().on_train_epoch_end(trainer, pl_module)
        _compat.save_last_checkpoint(self, trainer)


@pytest.mark.parametrize("refresh", [False, True])
def test_save_last_checkpoint_writes_last_ckpt_at_epoch_end(tmp_path, refresh):
    # every_n_train_steps=100 > 3 steps: during the run Lightning alone writes no last.ckpt
    # (it does at the end of training), so look for it when the second epoch starts
    last = tmp_path / "ckpt" / "last.ckpt"
    found = []

    class Probe(pl.Callback):
        def on_train_epoch_start(self, trainer, pl_module):
            if trainer.current_epoch == 1:
                found.append(torch.load(last, weights_only=False)["global_step"] if last.is_file() else None)

    kind = _LastAtEpochEnd if refresh else ModelCheckpoint
    callback = kind(dirpath=tmp_path / "ckpt", save_last=True, every_n_train_steps=100)
    tiny_trainer(tmp_path, [Probe(), callback], epochs=2).fit(BoringModel())
    assert found == ([3] if refresh else [None])


def test_save_last_checkpoint_respects_lightnings_skip_rules(tmp_path):
    # outside fit (here: validate) Lightning's rules forbid saving; the wrapper must not write
    callback = ModelCheckpoint(dirpath=tmp_path / "ckpt", save_last=True)
    trainer = tiny_trainer(tmp_path, [callback])
    trainer.validate(BoringModel(), dataloaders=BoringModel().val_dataloader(), verbose=False)
    _compat.save_last_checkpoint(callback, trainer)
    assert not (tmp_path / "ckpt" / "last.ckpt").exists()


# --------------------------------------------------------------------------- loops and modules
def test_batches_processed_counts_consumed_training_batches(tmp_path):
    seen = {"start": [], "end": []}

    class Record(pl.Callback):
        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
            seen["start"].append(_compat.batches_processed(trainer))

        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
            seen["end"].append(_compat.batches_processed(trainer))

    trainer = tiny_trainer(tmp_path, [Record()], batches=3)
    trainer.fit(BoringModel())
    assert seen == {"start": [0, 1, 2], "end": [1, 2, 3]}
    assert _compat.batches_processed(trainer) == 3


def test_logs_this_step_is_true_exactly_on_the_steps_the_logger_receives(tmp_path):
    from lightning.pytorch.loggers import CSVLogger

    flags = []

    class Model(BoringModel):
        def training_step(self, batch, batch_idx):
            out = super().training_step(batch, batch_idx)
            flags.append(_compat.logs_this_step(self.trainer))
            self.log("probe", float(batch_idx))  # logged at every step: the logger keeps some
            return out

    trainer = pl.Trainer(
        default_root_dir=tmp_path, max_steps=10, limit_val_batches=0, log_every_n_steps=4,
        logger=CSVLogger(tmp_path), enable_progress_bar=False, enable_model_summary=False,
        enable_checkpointing=False,
    )  # fmt: skip
    trainer.fit(Model())
    with open(Path(trainer.logger.log_dir) / "metrics.csv") as fh:
        logged_batches = [int(float(row["probe"])) for row in csv.DictReader(fh) if row.get("probe")]
    assert [i for i, flag in enumerate(flags) if flag] == logged_batches == [3, 7]
    assert _compat.logs_this_step(None)


@pytest.mark.parametrize(
    ("devices", "strategy", "sampler", "expected"),
    [(1, "auto", True, False), (2, "ddp", True, True), (2, "ddp", False, False)],
)
def test_uses_distributed_sampler_reads_the_trainer_flags(tmp_path, devices, strategy, sampler, expected):
    trainer = pl.Trainer(
        default_root_dir=tmp_path,
        accelerator="cpu",
        devices=devices,
        strategy=strategy,
        use_distributed_sampler=sampler,
        logger=False,
        enable_progress_bar=False,
    )
    connector = trainer._accelerator_connector  # the private object the wrapper reads
    assert isinstance(connector.is_distributed, bool) and connector.use_distributed_sampler is sampler
    assert _compat.uses_distributed_sampler(trainer) is expected


def test_attached_trainer_is_none_where_the_public_property_raises(tmp_path):
    module = BoringModel()
    with pytest.raises(RuntimeError, match="not attached"):
        module.trainer  # noqa: B018 — the public property raises: this is why the wrapper exists
    assert _compat.attached_trainer(module) is None
    trainer = tiny_trainer(tmp_path, [])
    module.trainer = trainer
    assert _compat.attached_trainer(module) is trainer


def test_is_compiled_follows_module_compile():
    assert torch.nn.Module._compiled_call_impl is None  # the class default the wrapper reads
    layer = torch.nn.Linear(2, 2)
    assert not _compat.is_compiled(layer)
    layer.compile()  # lazy: nothing is compiled before the first call
    assert _compat.is_compiled(layer)
    assert not _compat.is_compiled(torch.nn.Linear(2, 2))


# --------------------------------------------------------------------------- torchmetrics
class _Sum(Metric):
    full_state_update = False

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.add_state("total", torch.zeros(2, dtype=torch.float64), dist_reduce_fx="sum")

    def update(self, x):
        self.total += x

    def compute(self):
        return self.total.sum()


class _Float64Sum(_Sum, _compat.DeviceOnlyStatesMetric):
    device_only_states = ("total",)


def test_metric_apply_and_defaults_keep_their_shape():
    assert parameters(Metric._apply) == ["self", "fn", "exclude_state"]
    metric = _Sum()
    assert set(metric._defaults) == {"total"}
    assert metric._defaults["total"].dtype == torch.float64


def test_device_only_states_keep_float64_under_dtype_casts():
    # without the wrapper torchmetrics casts the states with .to(dtype): the reason it exists
    assert _Sum().to(torch.float16).total.dtype == torch.float16
    metric = _Float64Sum()
    metric.update(torch.tensor([1.0, 2.0], dtype=torch.float64))
    for cast in (
        lambda m: m.to(torch.float16),
        lambda m: m.half(),
        lambda m: m.double(),
        lambda m: m.float(),
    ):
        metric = cast(metric)
        assert metric.total.dtype == torch.float64
        assert metric._defaults["total"].dtype == torch.float64
    assert metric.total.tolist() == [1.0, 2.0]
    metric.reset()
    assert metric.total.dtype == torch.float64 and metric.total.tolist() == [0.0, 0.0]
    assert metric.to("cpu").total.device.type == "cpu"


def test_synced_states_sums_over_processes_and_restores_local_states():
    assert {"dist_sync_fn", "should_sync", "should_unsync"} <= set(parameters(Metric.sync_context))
    # two simulated processes holding the same states: the gather returns each state twice
    metric = _Sum(distributed_available_fn=lambda: True, dist_sync_fn=lambda t, group=None: [t, t])
    assert isinstance(metric._to_sync, bool) and isinstance(metric._should_unsync, bool)
    metric.update(torch.tensor([1.0, 2.0], dtype=torch.float64))
    with _compat.synced_states(metric):
        inside = metric.total.tolist()
    assert inside == [2.0, 4.0]
    assert metric.total.tolist() == [1.0, 2.0]  # unsynced again after the block
    assert metric.compute().item() == 6.0  # compute() uses the same flags


def test_synced_states_does_not_sync_when_sync_on_compute_is_off():
    metric = _Sum(
        distributed_available_fn=lambda: True,
        dist_sync_fn=lambda t, group=None: [t, t],
        sync_on_compute=False,
    )
    metric.update(torch.tensor([1.0, 2.0], dtype=torch.float64))
    with _compat.synced_states(metric):
        assert metric.total.tolist() == [1.0, 2.0]


# --------------------------------------------------------------------------- jsonargparse / LightningCLI
def test_jsonargparse_debug_mode_reads_the_environment(monkeypatch):
    monkeypatch.delenv("JSONARGPARSE_DEBUG", raising=False)
    assert _compat.jsonargparse_debug_mode() is False
    monkeypatch.setenv("JSONARGPARSE_DEBUG", "true")
    assert _compat.jsonargparse_debug_mode() is True


def test_lightning_cli_private_hooks_keep_their_signatures():
    assert parameters(LightningCLI._prepare_subcommand_parser) == ["self", "klass", "subcommand", "kwargs"]
    assert parameters(LightningCLI._parse_ckpt_path) == ["self"]
    assert parameters(LightningCLI._get) == ["self", "config", "key", "default"]


def test_lightning_cli_hooks_are_called(tmp_path):
    calls: dict[str, list] = {"parsers": [], "merges": 0, "values": []}

    class CLI(_compat.LightningCLIHooks):
        def configure_subcommand_parser(self, parser, subcommand):
            calls["parsers"].append(subcommand)
            if subcommand == "fit":
                parser.set_defaults({"trainer.max_steps": 2})

        def parse_ckpt_path(self):
            calls["merges"] += 1
            super().parse_ckpt_path()

        def before_fit(self):
            calls["values"] = [self.config_value("ckpt_path"), self.config_value("trainer")["max_steps"]]

    cli = CLI(
        BoringModel,
        BoringDataModule,
        args=[
            "fit",
            f"--trainer.default_root_dir={tmp_path}",
            "--trainer.logger=false",
            "--trainer.enable_checkpointing=false",
            "--trainer.enable_progress_bar=false",
            "--trainer.limit_val_batches=0",
        ],
        save_config_callback=None,
    )
    assert set(calls["parsers"]) == {"fit", "validate", "test", "predict"}
    assert calls["merges"] == 1
    assert calls["values"] == [None, 2]  # the default set on the fit parser reached the trainer
    assert cli.trainer.global_step == 2


# --------------------------------------------------------------------------- one place
#: The private names the wrappers above use; nothing else in posegcn may touch them.
PRIVATE_APIS = re.compile(
    r"_should_skip_saving_checkpoint|_save_last_checkpoint|_monitor_candidates"  # ModelCheckpoint
    r"|\bfit_loop\.|batch_progress|_accelerator_connector|\._trainer\b"  # Trainer / LightningModule
    r"|_compiled_call_impl"  # torch.nn.Module.compile
    r"|\._to_sync\b|\._should_unsync\b|\._defaults\b|def _apply\b"  # torchmetrics.Metric
    r"|jsonargparse\._|_prepare_subcommand_parser|_parse_ckpt_path|\._get\("  # jsonargparse / LightningCLI
)


def test_private_framework_apis_are_used_only_in_compat():
    package = Path(_compat.__file__).parent
    offenders = [
        f"{path.relative_to(package.parent)}:{number}: {line.strip()}"
        for path in sorted(package.rglob("*.py"))
        if path.name != "_compat.py"
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if PRIVATE_APIS.search(line)
    ]
    assert not offenders, "use a wrapper of posegcn/_compat.py instead:\n" + "\n".join(offenders)
    assert PRIVATE_APIS.search(
        Path(_compat.__file__).read_text(encoding="utf-8")
    )  # the pattern matches there
