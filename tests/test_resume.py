"""Crash and resume: a run SIGKILLed in the middle of an epoch and resumed with ``--ckpt_path last``
ends with exactly the weights of an uninterrupted run; checkpoints are written atomically."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
from pathlib import Path

import lightning.pytorch as pl
import pytest
import torch

from posegcn.checkpointing import AtomicCheckpointIO, atomic_torch_save, find_last_checkpoint
from posegcn.data import BatchIndexSampler, PoseBatchDataset

REPO = Path(__file__).resolve().parents[1]
SYNTHETIC = str(REPO / "configs" / "data" / "synthetic.yaml")


class SigkillAtStep(pl.Callback):
    """Kills its own process with SIGKILL (no clean-up, no final checkpoint) after training step ``step``."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_train_batch_end(self, trainer, *args, **kwargs) -> None:
        if trainer.global_step >= self.step:
            os.kill(os.getpid(), signal.SIGKILL)


def _fit(args: list[str], timeout: int = 240) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-m", "posegcn.cli", "fit", *args]
    return subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)


def _run_args(data_root: Path, run_dir: Path) -> list[str]:
    # 4 subjects x 30 takes x 4 cameras x 24 frames / downsample 4 = 2880 samples = 45 batches per epoch;
    # a checkpoint every 7 steps never coincides with an epoch end.
    return [
        "--config", str(REPO / "configs" / "modgcn.yaml"), "--config", SYNTHETIC,
        "--config", str(REPO / "configs" / "data" / "h36m_heldout.yaml"),
        "--data.root", str(data_root), "--data.frames_per_take", "24", "--data.downsample", "4",
        "--data.eval_downsample", "8", "--data.flip_augment", "true", "--model.net.init_args.dropout", "0.2",
        "--trainer.max_epochs", "2", "--trainer.deterministic", "true",
        "--trainer.enable_progress_bar", "false", "--trainer.default_root_dir", str(run_dir),
        "--checkpoint.dirpath", str(run_dir / "checkpoints"), "--checkpoint.every_n_train_steps", "7",
    ]  # fmt: skip


def _last_logged(run_dir: Path, key: str) -> str:
    """The last value of ``key`` in the newest ``metrics.csv`` under ``run_dir`` (as written, no rounding)."""
    newest = max(run_dir.rglob("metrics.csv"), key=lambda p: p.stat().st_mtime)
    rows = list(csv.DictReader(newest.open()))
    return [row[key] for row in rows if row.get(key)][-1]


def _load(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=False)


@pytest.mark.slow
def test_sigkill_mid_epoch_then_resume_equals_uninterrupted_run(tmp_path):
    data_root = tmp_path / "synthetic"
    reference = _fit(_run_args(data_root, tmp_path / "ref"))
    assert reference.returncode == 0, reference.stderr[-4000:]

    crash_dir = tmp_path / "crash"
    killer = (
        '--trainer.callbacks+={"class_path": "tests.test_resume.SigkillAtStep", "init_args": {"step": 60}}'
    )
    crashed = _fit([*_run_args(data_root, crash_dir), killer])
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr[-4000:]
    last = crash_dir / "checkpoints" / "last.ckpt"
    state = _load(last)
    assert state["global_step"] == 56  # the checkpoint of step 56, written every 7 steps
    assert state["SyntheticH36MDataModule"] == {"epoch": 1, "batches_done": 11}  # 56 = 45 + 11: mid-epoch

    resumed = _fit([*_run_args(data_root, crash_dir), "--ckpt_path", "last"])
    assert resumed.returncode == 0, resumed.stderr[-4000:]
    assert "not resumable" not in resumed.stderr  # Lightning's warning for loaders that lose their place

    want, got = _load(tmp_path / "ref" / "checkpoints" / "last.ckpt"), _load(last)
    assert got["global_step"] == want["global_step"] == 90
    assert want["state_dict"].keys() == got["state_dict"].keys()
    for key, value in want["state_dict"].items():
        assert torch.equal(value, got["state_dict"][key]), key  # bit-identical weights
    opt_want, opt_got = want["optimizer_states"][0]["state"], got["optimizer_states"][0]["state"]
    for p in opt_want:
        for name in ("exp_avg", "exp_avg_sq"):
            assert torch.equal(opt_want[p][name], opt_got[p][name]), (p, name)
    # the validation metrics of the final epoch, as logged by each run
    assert _last_logged(tmp_path / "ref", "val/mpjpe") == _last_logged(crash_dir, "val/mpjpe")
    assert _last_logged(tmp_path / "ref", "val/p_mpjpe") == _last_logged(crash_dir, "val/p_mpjpe")


# --------------------------------------------------------------------------- units
def test_sampler_resume_continues_the_same_batches_and_flips():
    from test_datamodule import make_arrays  # tests/ is on sys.path (pytest rootdir-relative imports)

    arrays = make_arrays()

    def stream(skip: int | None) -> list[tuple[torch.Tensor, torch.Tensor]]:
        ds = PoseBatchDataset(arrays, num_frames=3, flip_augment=True, seed=3)
        sampler = BatchIndexSampler(len(ds), 5, shuffle=True, seed=3, dataset=ds)
        if skip is None:
            sampler.set_epoch(2)
        else:
            sampler.resume(2, skip)
        loader = torch.utils.data.DataLoader(ds, batch_size=None, sampler=sampler)
        return [(b["index"], b["pose_2d"]) for b in loader]

    full = stream(None)
    assert len(full) > 3
    for skip in (1, 3, len(full)):
        tail = stream(skip)
        assert len(tail) == len(full) - skip
        for (i_full, p_full), (i_tail, p_tail) in zip(full[skip:], tail):
            assert torch.equal(i_full, i_tail) and torch.equal(p_full, p_tail)


def _child_killed_inside_save(path: Path) -> int:
    """A process that SIGKILLs itself after writing the new checkpoint's bytes, before the rename."""
    code = (
        "import os, signal, torch\n"
        "from posegcn.checkpointing import atomic_torch_save\n"
        "os.fsync = lambda fd: os.kill(os.getpid(), signal.SIGKILL)\n"
        f"atomic_torch_save({{'w': torch.full((1000,), 2.0)}}, {str(path)!r})\n"
    )
    return subprocess.run([sys.executable, "-c", code], cwd=REPO, timeout=120).returncode


def test_kill_during_save_leaves_previous_checkpoint_intact(tmp_path):
    path = tmp_path / "checkpoints" / "last.ckpt"
    path.parent.mkdir()
    atomic_torch_save({"w": torch.ones(1000)}, path)
    assert _child_killed_inside_save(path) == -signal.SIGKILL
    assert torch.equal(torch.load(path)["w"], torch.ones(1000))  # the old, complete file
    leftovers = [p.name for p in path.parent.iterdir() if p.name != "last.ckpt"]
    assert leftovers and all(n.startswith(".last.ckpt.") and n.endswith(".tmp") for n in leftovers)
    assert find_last_checkpoint(tmp_path) == path  # temporaries are never taken for checkpoints


def test_failed_serialisation_keeps_old_file_and_cleans_up(tmp_path):
    class Unpicklable:
        def __reduce__(self):
            raise RuntimeError("boom")

    path = tmp_path / "last.ckpt"
    atomic_torch_save({"w": torch.ones(3)}, path)
    with pytest.raises(RuntimeError, match="boom"):
        atomic_torch_save({"w": torch.zeros(3), "x": Unpicklable()}, path)
    assert torch.equal(torch.load(path)["w"], torch.ones(3))
    assert [p.name for p in tmp_path.iterdir()] == ["last.ckpt"]


def test_truncated_checkpoint_gives_a_clear_error(tmp_path):
    path = tmp_path / "last.ckpt"
    atomic_torch_save({"w": torch.ones(1000)}, path)
    path.write_bytes(path.read_bytes()[:500])
    with pytest.raises(ValueError, match=r"cannot read checkpoint .*last\.ckpt.*truncated, corrupt"):
        AtomicCheckpointIO().load_checkpoint(path)
    with pytest.raises(FileNotFoundError, match="checkpoint file not found"):
        AtomicCheckpointIO().load_checkpoint(tmp_path / "missing.ckpt")


def test_find_last_checkpoint_takes_the_newest_run(tmp_path):
    assert find_last_checkpoint(tmp_path) is None
    for version, mtime in (("version_0", 100), ("version_1", 300), ("version_2", 200)):
        p = tmp_path / "lightning_logs" / version / "checkpoints" / "last.ckpt"
        p.parent.mkdir(parents=True)
        p.write_bytes(b"x")
        os.utime(p, (mtime, mtime))
    assert find_last_checkpoint(tmp_path).parent.parent.name == "version_1"


@pytest.mark.slow
def test_ckpt_path_last_resumes_without_a_fixed_checkpoint_folder(tmp_path, monkeypatch):
    """Each run logs into a new version_N; ``--ckpt_path last`` still finds the previous run's last.ckpt."""
    from posegcn.cli import main

    monkeypatch.setattr(sys, "argv", ["posegcn"])
    args = [
        "--config", str(REPO / "configs" / "modgcn.yaml"), "--config", SYNTHETIC,
        "--config", str(REPO / "configs" / "data" / "h36m_heldout.yaml"),
        "--data.root", str(tmp_path / "synthetic"), "--data.frames_per_take", "24",
        "--trainer.default_root_dir", str(tmp_path / "logs"), "--trainer.enable_progress_bar", "false",
        "--trainer.limit_val_batches", "1",
    ]  # fmt: skip
    main(["fit", *args, "--trainer.max_steps", "3"])
    first = tmp_path / "logs" / "lightning_logs" / "version_0" / "checkpoints" / "last.ckpt"
    assert _load(first)["global_step"] == 3
    main(["fit", *args, "--trainer.max_steps", "5", "--ckpt_path", "last"])
    second = tmp_path / "logs" / "lightning_logs" / "version_1" / "checkpoints" / "last.ckpt"
    assert _load(second)["global_step"] == 5  # continued from step 3, not restarted from 0
    assert _load(first)["global_step"] == 3  # the previous run's folder is left as it was


@pytest.mark.parametrize("resuming", [True, False])
def test_random_state_is_restored_only_when_resuming(resuming):
    from functools import partial
    from types import SimpleNamespace

    from posegcn.lit import PoseLiftingModule
    from posegcn.losses import WeightedLoss
    from posegcn.models import ModulatedGCN

    module = PoseLiftingModule(
        net=partial(ModulatedGCN, hidden=8, num_blocks=1),
        loss=partial(WeightedLoss, mse=1.0),
        skeleton="h36m16",
    )
    torch.manual_seed(123)
    checkpoint = {"state_dict": module.state_dict()}
    module.on_save_checkpoint(checkpoint)
    saved_stream = torch.rand(3)
    module.on_load_checkpoint(checkpoint)
    module._trainer = SimpleNamespace(ckpt_path="last.ckpt" if resuming else None)
    torch.manual_seed(7)  # the new run's seed_everything
    new_stream = torch.rand(3)
    torch.manual_seed(7)
    module.on_train_start()
    expected = saved_stream if resuming else new_stream
    assert torch.equal(torch.rand(3), expected)
