"""What a real ``posegcn fit`` wrote (tests/conftest.py): test-time flip and the learning-rate staircase."""

from __future__ import annotations

import csv
import sys

import numpy as np
import pytest
import torch
from conftest import CONFIGS, model_option, posegcn_fit

from posegcn.cli import build_cli, main
from posegcn.lift import load_module


@pytest.fixture(autouse=True)
def _plain_argv(monkeypatch):
    monkeypatch.setattr(sys, "argv", ["posegcn"])


def mirror(poses: torch.Tensor, names: list[str]) -> torch.Tensor:
    """Horizontal flip written out: negate x and swap every ``L…`` joint with its ``R…`` twin."""
    perm = [names.index("R" + n[1:]) if n[0] == "L" else names.index("L" + n[1:]) if n[0] == "R" else i
            for i, n in enumerate(names)]  # fmt: skip
    assert sum(p != i for i, p in enumerate(perm)) == 12  # hips, knees, feet, shoulders, elbows, wrists
    out = poses[..., perm, :].clone()
    out[..., 0] = -out[..., 0]
    return out


def test_checkpoints_are_the_fit_runs(modgcn_run):
    """The fixture's checkpoints are what the command wrote after its steps, and load back exactly."""
    ckpt = torch.load(modgcn_run.last, map_location="cpu", weights_only=False)
    assert ckpt["global_step"] == 6 and ckpt["epoch"] == 0
    model = load_module(str(modgcn_run.last))
    for key, value in ckpt["state_dict"].items():
        torch.testing.assert_close(model.state_dict()[key], value, rtol=0, atol=0, msg=key)
    assert model.skeleton.num_joints == 16  # configs/modgcn.yaml


def test_flip(modgcn_run, tmp_path):
    """``--model.test_flip true``: evaluation predicts 0.5·(f(x) + flip(f(flip(x)))) (VideoPose3D)."""
    out = tmp_path / "predict"
    main(["predict", *modgcn_run.options, "--model.test_flip", "true", "--ckpt_path", str(modgcn_run.best),
          "--trainer.default_root_dir", str(out), "--trainer.enable_progress_bar", "false"])  # fmt: skip
    (found,) = out.rglob("predictions.npz")
    res = np.load(found)
    # the same inputs, from the same data options, in the writer's order (by sample index)
    dm = build_cli(list(modgcn_run.options), run=False).datamodule
    dm.setup("predict")
    batches = list(dm.predict_dataloader())
    x = torch.cat([b["pose_2d"] for b in batches])[torch.cat([b["index"] for b in batches]).argsort()]
    np.testing.assert_array_equal(res["index"], np.arange(len(x)))
    f = load_module(str(modgcn_run.best))
    names = list(res["joint_names"])
    with torch.no_grad():
        plain = f(x)
        expected = 0.5 * (plain + mirror(f(mirror(x, names)), names))
    np.testing.assert_allclose(res["poses_3d"], expected.numpy() * 1000, rtol=1e-5, atol=1e-3)
    # the average is not the plain prediction: a trained net is not mirror-symmetric
    assert np.abs(res["poses_3d"] - plain.numpy() * 1000).mean() > 1.0


def _lr_option(config) -> str:
    for name in ("every", "lr_decay_every"):  # injected scheduler / older flat module
        try:
            return model_option(config, name)
        except KeyError:
            pass
    raise KeyError(f"{config.name}: no staircase period")


def test_learning_rate_staircase_as_the_trainer_applies_it(modgcn_run, tmp_path):
    """×0.96 every N optimiser steps, counted in steps (not epochs), as the run's logs show it."""
    # the recipe's schedule object: 1e-3 up to step 99,999, ×0.96 from step 100,000 on
    model = load_module(str(modgcn_run.last))
    returned = model.configure_optimizers()
    optimizer, schedule = returned["optimizer"], returned["lr_scheduler"]
    assert schedule["interval"] == "step"
    scheduler = schedule["scheduler"]
    scheduler.last_epoch = 99_998
    lrs = []
    for _ in range(2):
        optimizer.step()
        scheduler.step()
        lrs.append(optimizer.param_groups[0]["lr"])
    assert lrs == pytest.approx([1e-3, 0.96e-3], rel=1e-12)

    # a Trainer with the period shortened to 3 steps: the rate it logged before every step
    config = CONFIGS / "modgcn.yaml"
    posegcn_fit(tmp_path, modgcn_run.options, _lr_option(config), "3", "--trainer.limit_train_batches", "7",
                "--trainer.limit_val_batches", "1", model_option(config, "hidden"), "8",  # width: irrelevant here
                model_option(config, "num_blocks"), "1")  # fmt: skip
    (metrics,) = tmp_path.glob("lightning_logs/version_*/metrics.csv")
    with open(metrics) as fh:
        logged = {int(r["step"]): float(r["lr-Adam"]) for r in csv.DictReader(fh) if r.get("lr-Adam")}
    assert sorted(logged) == list(range(7))
    assert [logged[s] for s in range(7)] == pytest.approx([1e-3] * 3 + [0.96e-3] * 3 + [0.96**2 * 1e-3])
    # and the state the run ended in: 7 steps taken, the next one at 1e-3 · 0.96²
    last = torch.load(tmp_path / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)
    assert last["global_step"] == 7
    assert last["optimizer_states"][0]["param_groups"][0]["lr"] == pytest.approx(0.96**2 * 1e-3)
    # the fixture's own run (period 100k): the rate never moved in its 6 steps
    with open(modgcn_run.log_dir / "metrics.csv") as fh:
        rates = [float(r["lr-Adam"]) for r in csv.DictReader(fh) if r.get("lr-Adam")]
    assert rates == [1e-3] * 6
