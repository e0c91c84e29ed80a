"""The training loop around the step: logging only what reaches a logger, a progress bar that redraws a few
times per second, batches gathered where the data lives (a GPU in real runs; the ``meta`` device here stands
for any device that is not the CPU), and no per-step host synchronisation on an accelerator."""

from __future__ import annotations

import csv
import sys
from functools import partial

import pytest
import torch
from conftest import CONFIGS, SYNTHETIC_OPTIONS, posegcn_fit

from posegcn.callbacks import PoseProgressBar
from posegcn.data import BatchIndexSampler, PoseBatchDataset
from posegcn.errors import NonFiniteLossError
from posegcn.lit import PoseLiftingModule
from posegcn.losses import WeightedLoss
from posegcn.models import ModulatedGCN

sys.path.insert(0, str(CONFIGS.parent / "benchmarks"))
from bench import synthetic_training_arrays  # noqa: E402


def _rows(log_dir, key: str) -> list[dict]:
    with open(log_dir / "metrics.csv") as fh:
        return [row for row in csv.DictReader(fh) if row.get(key)]


def test_training_terms_are_logged_on_the_steps_lightning_writes_only(tmp_path, monkeypatch, synthetic_root):
    calls = []
    original = PoseLiftingModule.log

    def spy(self, name, value, *args, **kwargs):
        if name.startswith("train/"):
            calls.append((name, int(self.global_step)))
        return original(self, name, value, *args, **kwargs)

    monkeypatch.setattr(PoseLiftingModule, "log", spy)
    options = ("--config", str(CONFIGS / "modgcn.yaml"), "--config", str(CONFIGS / "data" / "synthetic.yaml"),
               "--data.root", str(synthetic_root), *SYNTHETIC_OPTIONS)  # fmt: skip
    posegcn_fit(tmp_path / "run", options, "--trainer.max_steps", "10", "--trainer.log_every_n_steps", "4")
    (log_dir,) = (tmp_path / "run" / "lightning_logs").glob("version_*")
    written = _rows(log_dir, "train/loss")
    losses = [c for c in calls if c[0] == "train/loss"]
    # every logged value reaches the CSV file (and the same terms: mse and l1 beside the loss)
    assert len(losses) == len(written) == 2, (losses, written)
    assert [int(r["step"]) for r in written] == [3, 7]
    assert {name for name, _ in calls} == {"train/loss", "train/mse", "train/l1"}
    for row in written:
        assert float(row["train/loss"]) == pytest.approx(
            0.9 * float(row["train/mse"]) + 0.1 * float(row["train/l1"])
        )


def test_progress_bar_redraws_by_time_not_per_batch(monkeypatch):
    draws = []
    monkeypatch.setattr(
        "lightning.pytorch.callbacks.TQDMProgressBar.on_train_batch_end",
        lambda self, trainer, module, outputs, batch, batch_idx: draws.append(batch_idx),
    )
    bar = PoseProgressBar(refresh_interval=3600.0)
    monkeypatch.setattr(PoseProgressBar, "total_train_batches", property(lambda self: 50))
    for i in range(50):
        bar.on_train_batch_end(None, None, None, None, i)
    assert draws == [0, 49]  # the first batch, then nothing until the epoch's last batch
    fast = PoseProgressBar(refresh_interval=0.0)
    for i in range(5):
        fast.on_train_batch_end(None, None, None, None, i)
    assert draws[2:] == [0, 1, 2, 3, 4]


def test_the_command_uses_the_time_based_bar_unless_the_bar_is_off(tmp_path, monkeypatch):
    from posegcn.cli import build_cli

    monkeypatch.setattr(sys, "argv", ["posegcn"])
    common = ["--config", str(CONFIGS / "modgcn.yaml"), "--config", str(CONFIGS / "data" / "synthetic.yaml"),
              "--data.root", str(tmp_path), "--trainer.logger", "false"]  # fmt: skip
    cli = build_cli(common, run=False)
    bars = [c for c in cli.trainer.callbacks if isinstance(c, PoseProgressBar)]
    assert len(bars) == 1 and cli.trainer.progress_bar_callback is bars[0]
    off = build_cli([*common, "--trainer.enable_progress_bar", "false"], run=False)
    assert off.trainer.progress_bar_callback is None


@pytest.mark.parametrize("num_frames, flip", [(1, True), (1, "duplicate"), (4, True)])
def test_batches_are_gathered_on_the_device_of_the_arrays(num_frames, flip):
    arrays = synthetic_training_arrays(num_poses=1_200, num_joints=17)
    on_cpu = PoseBatchDataset(arrays, num_frames=num_frames, flip_augment=flip, seed=3)
    on_device = PoseBatchDataset(arrays.to("meta"), num_frames=num_frames, flip_augment=flip, seed=3)
    assert arrays.to("cpu") is arrays and on_device.arrays.pose_2d.device.type == "meta"
    sampler = BatchIndexSampler(len(on_device), 64, shuffle=True, seed=1, dataset=on_device)
    first = next(iter(sampler))
    assert first.device.type == "meta"  # the shard goes to the device once per epoch, batches are views
    index = next(iter(BatchIndexSampler(len(on_cpu), 64, shuffle=True, seed=1, dataset=on_cpu)))
    on_cpu.set_position(0, 0)
    reference = on_cpu[index]
    on_device.set_position(0, 0)
    batch = on_device[index]  # CPU indices are sent to the device
    for key, value in reference.items():
        assert (
            batch[key].device.type == "meta"
            and batch[key].shape == value.shape
            and batch[key].dtype == value.dtype
        )


def _module() -> PoseLiftingModule:
    return PoseLiftingModule(
        net=partial(ModulatedGCN, hidden=16, num_blocks=1),
        loss=partial(WeightedLoss, mse=1.0),
        skeleton="h36m16",
    )


def test_accelerator_runs_check_the_loss_at_logging_steps(monkeypatch):
    """On an accelerator the finite check is a device flag read at logging steps; a NaN is still reported."""
    module = _module()
    batch = {"pose_2d": torch.randn(4, 16, 2), "pose_3d": torch.randn(4, 16, 3)}
    monkeypatch.setattr(PoseLiftingModule, "checks_loss_every_step", lambda self, loss: False)
    monkeypatch.setattr(PoseLiftingModule, "log", lambda self, *a, **k: None)
    monkeypatch.setattr("posegcn.lit.module.logs_this_step", lambda trainer: False)
    assert module.training_step(batch, 0) is not None
    batch["pose_2d"][0, 0, 0] = float("nan")
    assert module.training_step(batch, 1) is not None  # not a logging step: no host sync, no check
    monkeypatch.setattr("posegcn.lit.module.logs_this_step", lambda trainer: True)
    clean = {"pose_2d": torch.randn(4, 16, 2), "pose_3d": torch.randn(4, 16, 3)}
    with pytest.raises(NonFiniteLossError, match="checked at logging steps"):
        module.training_step(clean, 2)  # the flag remembers the NaN of step 1


def test_cpu_runs_check_the_loss_at_every_step():
    module = _module()
    batch = {"pose_2d": torch.randn(4, 16, 2), "pose_3d": torch.randn(4, 16, 3)}
    batch["pose_3d"][1] = float("inf")
    assert module.checks_loss_every_step(torch.zeros(()))
    with pytest.raises(NonFiniteLossError, match="global step 0"):
        module.training_step(batch, 0)
