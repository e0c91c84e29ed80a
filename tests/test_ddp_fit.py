"""``posegcn fit`` and ``test`` on 2 CPU processes (DDP) end to end; the 2-process test metrics of the
trained checkpoint equal those of a single-process test."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
SYNTHETIC = str(REPO / "configs" / "data" / "synthetic.yaml")
DDP = ["--trainer.strategy", "ddp", "--trainer.devices", "2", "--trainer.accelerator", "cpu"]


def _posegcn(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "WANDB_MODE": "offline"}
    cmd = [sys.executable, "-m", "posegcn.cli", *args]
    return subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_ddp_fit_then_ddp_test_equals_single_process_test(tmp_path):
    common = [
        "--config", str(REPO / "configs" / "modgcn.yaml"), "--config", SYNTHETIC,
        "--config", str(REPO / "configs" / "data" / "h36m_heldout.yaml"),  # 4 training subjects
        "--data.root", str(tmp_path / "synthetic"), "--data.frames_per_take", "24",
        "--data.downsample", "8", "--data.eval_downsample", "7", "--data.eval_batch_size", "50",
        "--trainer.enable_progress_bar", "false", "--figures.every_n_epochs", "0",
    ]  # fmt: skip
    ckpt_dir = tmp_path / "ckpt"
    fit = _posegcn("fit", *common, *DDP, "--trainer.max_epochs", "2",
                   "--trainer.default_root_dir", str(tmp_path / "fit"), "--checkpoint.dirpath", str(ckpt_dir))  # fmt: skip
    assert fit.returncode == 0, fit.stderr[-4000:]
    last = torch.load(ckpt_dir / "last.ckpt", map_location="cpu", weights_only=False)
    # 1440 training samples, batch 64, split over 2 ranks: 12 steps per epoch on each rank
    assert last["global_step"] == 2 * 12 and last["epoch"] == 1
    assert (ckpt_dir / "best.ckpt").is_file()

    reports = {}
    for name, extra in (("single", []), ("ddp", DDP)):
        run = _posegcn("test", *common, *extra, "--ckpt_path", str(ckpt_dir / "last.ckpt"),
                       "--trainer.default_root_dir", str(tmp_path / name))  # fmt: skip
        assert run.returncode == 0, run.stderr[-4000:]
        reports[name] = json.loads(next((tmp_path / name).rglob("test_metrics.json")).read_text())
    single, ddp = reports["single"], reports["ddp"]
    assert single["frames"] == ddp["frames"] and single["frames"]["all"] > 0  # every test pose exactly once
    assert single["metrics"].keys() == ddp["metrics"].keys()
    for key, value in single["metrics"].items():
        if value is None:
            assert ddp["metrics"][key] is None, key
        else:
            assert ddp["metrics"][key] == pytest.approx(value, rel=1e-6, abs=1e-6), key

    # posegcn predict on 2 processes writes one file, in sample order, equal to the single-process one
    predictions = {}
    for name, extra in (("single", []), ("ddp", DDP)):
        out = tmp_path / f"predict_{name}"
        run = _posegcn("predict", *common, *extra, "--ckpt_path", str(ckpt_dir / "last.ckpt"),
                       "--trainer.default_root_dir", str(out))  # fmt: skip
        assert run.returncode == 0, run.stderr[-4000:]
        files = sorted(p.name for p in out.rglob("predictions*.npz"))
        assert files == ["predictions.npz"], files
        predictions[name] = np.load(next(out.rglob("predictions.npz")))
    single, ddp = predictions["single"], predictions["ddp"]
    assert len(single["index"]) == reports["single"]["frames"]["all"]
    np.testing.assert_array_equal(ddp["index"], single["index"])
    np.testing.assert_array_equal(ddp["frame"], single["frame"])
    np.testing.assert_allclose(ddp["poses_3d"], single["poses_3d"], rtol=1e-5, atol=1e-4)
