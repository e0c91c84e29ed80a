"""Logging: an offline W&B run holds the metrics, figures and tables; without W&B the CSV run dir does."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import pytest

from posegcn.cli import main

REPO = Path(__file__).resolve().parents[1]
WANDB_CONFIG = str(REPO / "configs" / "logger" / "wandb.yaml")


@pytest.fixture(autouse=True)
def _plain_argv(monkeypatch):
    monkeypatch.setattr(sys, "argv", ["posegcn"])


def _args(root: Path, run_dir: Path) -> list[str]:
    return [
        "--model", "posegcn.lit.ModulatedGCNModule", "--model.hidden", "8", "--model.num_blocks", "1",
        "--data", "posegcn.data.H36MDataModule", "--data.root", str(root), "--data.num_joints", "16",
        "--data.train_subjects", "[S1]", "--data.val_subjects", "[S5]", "--data.test_subjects", "[S9]",
        "--data.batch_size", "16", "--trainer.max_epochs", "2", "--trainer.log_every_n_steps", "5", "--trainer.enable_progress_bar", "false",
        "--trainer.enable_model_summary", "false", "--trainer.default_root_dir", str(run_dir),
    ]  # fmt: skip


@pytest.mark.slow
def test_wandb_offline_run_records_metrics_figures_and_tables(h36m_root, tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    run_dir = tmp_path / "run"
    args = ["--config", WANDB_CONFIG, *_args(h36m_root, run_dir)]
    main(["fit", *args])
    ckpts = sorted(run_dir.glob("posegcn/*/checkpoints/last.ckpt"))
    assert len(ckpts) == 1, "checkpoints belong in <root>/posegcn/<run id>/"
    assert (ckpts[0].parent.parent / "config.yaml").is_file()  # the run's own config, not a shared one
    main(["test", *args, "--ckpt_path", str(ckpts[0]), "--model.test_noise_px", "[5, 20]"])

    runs = sorted((run_dir / "wandb").glob("offline-run-*"))
    assert len(runs) == 2, "fit and test are two W&B runs (the first is finished)"
    fit_run, test_run = runs
    history = fit_run.joinpath(f"run-{fit_run.name.rsplit('-', 1)[1]}.wandb").read_bytes()
    for key in (
        "train/loss",
        "lr-Adam",
        "val/mpjpe",
        "val/p_mpjpe",
        "val/affinity",
        "val/poses",
        "val/actionwise",
    ):
        assert key.encode() in history, key
    assert b"hidden" in history and b"num_blocks" in history  # hyper-parameters
    media = fit_run / "files" / "media"
    assert len(list((media / "images" / "val").glob("affinity_*.png"))) == 2  # one per epoch
    assert len(list((media / "images" / "val").glob("poses_*.png"))) == 2
    tables = sorted((media / "table" / "val").glob("actionwise_*.table.json"))
    assert tables
    table = json.loads(tables[-1].read_text())
    assert table["columns"] == ["action", "mpjpe", "p_mpjpe", "n_mpjpe", "pck", "auc"]
    assert [row[0] for row in table["data"]] == [
        "Eating",
        "Walking",
        "Average (action-wise)",
        "All frames (pooled)",
    ]

    test_history = test_run.joinpath(f"run-{test_run.name.rsplit('-', 1)[1]}.wandb").read_bytes()
    for key in ("test/mpjpe", "test/p_mpjpe", "test/noise5/p_mpjpe", "test/noise20/mpjpe", "test/affinity"):
        assert key.encode() in test_history, key
    assert list((test_run / "files" / "media" / "images" / "test").glob("poses_*.png"))
    reports = sorted(run_dir.glob("posegcn/*/test_metrics.json"))
    assert len(reports) == 1 and reports[0].parent.name == test_run.name.rsplit("-", 1)[1]
    metrics = json.loads(reports[0].read_text())["metrics"]
    assert metrics["noise20/p_mpjpe"] > 0 and "noise5/mpjpe_actionwise" in metrics


@pytest.mark.slow
def test_local_logger_records_figures_and_tables(h36m_root, tmp_path):
    run_dir = tmp_path / "run"
    main(["fit", *_args(h36m_root, run_dir), "--figures.every_n_epochs", "2"])
    version = run_dir / "lightning_logs" / "version_0"
    figures = sorted(p.name for p in (version / "figures").glob("*.png"))
    assert figures == ["val_epoch001_affinity.png", "val_epoch001_poses.png"]  # every 2nd epoch only
    with open(version / "val_actionwise_epoch001.csv") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["action", "mpjpe", "p_mpjpe", "n_mpjpe", "pck", "auc"]
    assert [r[0] for r in rows[1:]] == ["Eating", "Walking", "Average (action-wise)", "All frames (pooled)"]
    assert (version / "config.yaml").is_file() and (version / "metrics.csv").is_file()
