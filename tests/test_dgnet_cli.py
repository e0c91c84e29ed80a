"""DG-Net through the ``posegcn`` command: windows in, one prediction per frame out, and it learns."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from posegcn.cli import build_cli, main
from posegcn.data import load_h36m

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _plain_argv(monkeypatch):
    monkeypatch.setattr(sys, "argv", ["posegcn"])


def _args(root: Path) -> list[str]:
    return [
        "--config", str(REPO / "configs" / "dgnet_gt.yaml"),
        "--config", str(REPO / "configs" / "data" / "synthetic.yaml"),
        "--data.root", str(root), "--data.frames_per_take", "24",
    ]  # fmt: skip


@pytest.mark.parametrize("no_knn", [False, True])
def test_dgnet_configs_build_with_linked_window(tmp_path, no_knn):
    cli = build_cli(
        [
            *_args(tmp_path),
            "--data.num_frames",
            "5",
            "--model.net.init_args.no_knn",
            str(no_knn).lower(),
        ],
        run=False,
    )
    assert cli.model.num_frames == cli.model.net.num_frames == cli.datamodule.num_frames == 5
    assert cli.model.window_center == cli.datamodule.window_center == 2
    has_knn = any("Dynamical" in type(m).__name__ for m in cli.model.net.modules())
    assert has_knn is not no_knn


def test_dgnet_fixed_connections_through_the_cli(tmp_path):
    cli = build_cli([*_args(tmp_path), "--model.net.init_args.connections", "fixed"], run=False)
    graphs = [m for m in cli.model.net.modules() if "Dynamical" in type(m).__name__]
    assert graphs and all(g.fixed_neighbours is not None for g in graphs)
    assert cli.model.hparams.net["init_args"]["connections"] == "fixed"


@pytest.mark.slow
def test_dgnet_short_training_run_learns(tmp_path):
    data_root = tmp_path / "synthetic"
    run = tmp_path / "run"
    common = [
        *_args(data_root), "--data.frames_per_take", "40", "--model.net.init_args.hidden", "64",
        "--model.net.init_args.num_blocks", "2",
        "--data.downsample", "2", "--data.eval_downsample", "4", "--figures.every_n_epochs", "0",
        "--trainer.default_root_dir", str(run), "--trainer.enable_progress_bar", "false",
    ]  # fmt: skip
    main(["fit", *common, "--trainer.max_epochs", "4", "--checkpoint.dirpath", str(run / "ckpt")])
    main(["test", *common, "--ckpt_path", str(run / "ckpt" / "best.ckpt")])
    report = json.loads(sorted(run.rglob("test_metrics.json"))[-1].read_text())

    train = load_h36m(data_root, "gt", subjects=["S1", "S5", "S6", "S7"], num_joints=17)
    test = load_h36m(data_root, "gt", subjects=["S9", "S11"], num_joints=17, downsample=4)
    # sliding windows give exactly one prediction per test frame
    assert report["frames"]["all"] == test.pose_3d.shape[0]
    baseline = (test.pose_3d - train.pose_3d.mean(dim=0)).norm(dim=-1).mean().item() * 1000
    print(f"DG-Net test MPJPE {report['metrics']['mpjpe']:.1f} mm, mean-pose baseline {baseline:.1f} mm")
    # 600 steps (4 epochs × 150 batches of 64 windows) of a 2-block, 64-channel DG-Net: measured
    # 113.5 mm vs 190.4 mm for the mean pose (0.60×; 138.0 mm = 0.72× with Eq. 2's shared-Θ FSG).  In a plain loop on the same data the full-size
    # Modulated GCN is behind a 32-channel DG-Net at equal steps (160 vs 140 mm after 900 steps): the
    # margin is set by the step budget a CPU test affords, not by DG-Net learning slowly.
    assert report["metrics"]["mpjpe"] < 0.8 * baseline


@pytest.mark.parametrize("config", ["dgnet.yaml", "dgnet_gt.yaml"])
def test_dgnet_configs_full_rank_heads_and_a_decay_for_200_epochs(tmp_path, config):
    from posegcn.nn.fixed_graphs import FixedSpatialGraphConv

    args = [
        "--config", str(REPO / "configs" / config),
        "--config", str(REPO / "configs" / "data" / "synthetic.yaml"),
        "--data.root", str(tmp_path), "--data.frames_per_take", "24",
    ]  # fmt: skip
    cli = build_cli(args, run=False)
    layers = [m for m in cli.model.net.modules() if isinstance(m, FixedSpatialGraphConv)]
    assert layers and {m.weights for m in layers} == {"decoupled"}  # issue 13 §1
    # Issue 13 §5: the rate the paper leaves open must suit 200 epochs — not below 1e-4 at the
    # half-way point, ending near 1e-5 (×0.98 per epoch: 1.3e-4 and 1.8e-5).
    schedule = cli.model.configure_optimizers()["lr_scheduler"]
    staircase, epochs = schedule["scheduler"], cli.trainer.max_epochs
    lr = staircase.base_lrs[0]
    assert epochs == 200 and schedule["interval"] == "epoch" and staircase.step_size == 1
    assert lr * staircase.gamma ** (epochs // 2) > 1e-4
    assert 1e-5 < lr * staircase.gamma ** (epochs - 1) < 1e-4
