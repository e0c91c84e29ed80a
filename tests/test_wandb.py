"""Logging: an offline W&B run holds the metrics, figures and tables; without W&B the CSV run dir does."""

from __future__ import annotations

import csv
import json
import struct
import sys
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from conftest import model_option

from posegcn.cli import main

REPO = Path(__file__).resolve().parents[1]
WANDB_CONFIG = str(REPO / "configs" / "logger" / "wandb.yaml")


@pytest.fixture(autouse=True)
def _plain_argv(monkeypatch):
    monkeypatch.setattr(sys, "argv", ["posegcn"])


def _args(root: Path, run_dir: Path) -> list[str]:
    config = REPO / "configs" / "modgcn.yaml"
    return [
        "--config", str(config), model_option(config, "hidden"), "8", model_option(config, "num_blocks"), "1",
        "--data.root", str(root),
        "--data.train_subjects", "[S1]", "--data.val_subjects", "[S5]", "--data.test_subjects", "[S9]",
        "--data.batch_size", "16", "--trainer.max_epochs", "2", "--trainer.log_every_n_steps", "5",
        "--trainer.enable_progress_bar", "false", "--trainer.enable_model_summary", "false",
        "--trainer.default_root_dir", str(run_dir),
    ]  # fmt: skip


# --------------------------------------------------------------------------- reading a .wandb file
def wandb_records(path: Path) -> Iterator:
    """The records of an offline ``run-<id>.wandb`` file, decoded by wandb's own protobuf ``Record``.

    wandb 0.31 ships no Python reader (the datastore moved into wandb-core).  The framing is
    LevelDB's log format as wandb writes it: a 7-byte header (``:W&B``, 0xBEE1, version 0), then
    32 KiB blocks of chunks ``crc32(type · data) | length | type`` (full 1, first 2, middle 3, last 4).
    """
    from wandb.proto import wandb_internal_pb2

    data = path.read_bytes()
    assert struct.unpack("<4sHB", data[:7]) == (b":W&B", 0xBEE1, 0), "not a wandb 0.x transaction log"
    pos, record = 7, b""
    while pos + 7 <= len(data):
        if 32768 - pos % 32768 < 7:  # a block's tail too short for a chunk header is padding
            pos += 32768 - pos % 32768
            continue
        crc, length, kind = struct.unpack("<IHB", data[pos : pos + 7])
        chunk = data[pos + 7 : pos + 7 + length]
        pos += 7 + length
        if kind == 0:  # zero padding at the end of a block
            continue
        assert zlib.crc32(bytes([kind]) + chunk) == crc, f"{path.name}: corrupt chunk at byte {pos}"
        record += chunk
        if kind in (1, 4):
            parsed = wandb_internal_pb2.Record()
            parsed.ParseFromString(record)
            record = b""
            yield parsed
    assert record == b"", f"{path.name}: ends inside a record"


def _items(items) -> dict:
    return {(i.key or "/".join(i.nested_key)): json.loads(i.value_json) for i in items}


def wandb_history(path: Path) -> list[dict]:
    """Every ``wandb.log`` row of the run, keys exactly as logged."""
    return [_items(r.history.item) for r in wandb_records(path) if r.WhichOneof("record_type") == "history"]


def wandb_config(path: Path) -> dict:
    config: dict = {}
    for r in wandb_records(path):
        if r.WhichOneof("record_type") == "config":
            config.update(_items(r.config.update))
    return config


def scalars(row: dict, prefix: str) -> dict[str, float]:
    """``prefix…`` numbers of a row, without the fields of logged media (images, tables)."""
    media = {k.rsplit("/", 1)[0] + "/" for k in row if k.endswith("/_type")}
    return {
        k: v
        for k, v in row.items()
        if k.startswith(prefix) and not any(k.startswith(m) for m in media) and isinstance(v, (int, float))
    }


def _run_file(run: Path) -> Path:
    return run / f"run-{run.name.rsplit('-', 1)[1]}.wandb"


@pytest.mark.slow
def test_wandb_offline_run_records_metrics_figures_and_tables(h36m_root, tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    run_dir = tmp_path / "run"
    args = [*_args(h36m_root, run_dir), "--config", WANDB_CONFIG]
    main(["fit", *args])
    ckpts = sorted(run_dir.glob("posegcn/*/checkpoints/last.ckpt"))
    assert len(ckpts) == 1, "checkpoints belong in <root>/posegcn/<run id>/"
    assert (ckpts[0].parent.parent / "config.yaml").is_file()  # the run's own config, not a shared one
    main(["test", *args, "--ckpt_path", str(ckpts[0]), "--model.test_noise_px", "[5, 20]"])

    runs = sorted((run_dir / "wandb").glob("offline-run-*"))
    assert len(runs) == 2, "fit and test are two W&B runs (the first is finished)"
    fit_run, test_run = runs
    reports = sorted(run_dir.glob("posegcn/*/test_metrics.json"))
    assert len(reports) == 1 and reports[0].parent.name == test_run.name.rsplit("-", 1)[1]
    report = json.loads(reports[0].read_text())

    # fit: losses and learning rate as logged, then one validation row per epoch whose numbers are
    # the final epoch's that test_metrics.json reports (W&B stores float32: 1e-6 relative)
    history = wandb_history(_run_file(fit_run))
    assert any("train/loss" in row for row in history) and any("lr-Adam" in row for row in history)
    val_rows = [row for row in history if "val/mpjpe" in row]
    assert len(val_rows) == 2  # one per epoch; "val/mpjpe_actionwise" alone does not count
    final = report["selection"]["final_epoch"]["metrics"]
    logged = scalars(val_rows[-1], "val/")
    assert {"val/mpjpe", "val/p_mpjpe", "val/mpjpe_actionwise"} <= logged.keys()
    for key, value in logged.items():
        assert value == pytest.approx(final[key.removeprefix("val/")], rel=1e-6), key
    for key in ("val/affinity/_type", "val/poses/_type", "val/actionwise/_type"):  # figures and table
        assert sum(key in row for row in history) == 2, key
    # hyper-parameters: W&B's config holds the checkpoint's, value for value (the class path is
    # added to the checkpoint only, when it is saved)
    config = wandb_config(_run_file(fit_run))
    hparams = torch.load(ckpts[0], map_location="cpu", weights_only=False)["hyper_parameters"]
    hparams.pop("_class_path")
    assert len(hparams) > 5
    for key, value in hparams.items():
        assert config[key] == json.loads(json.dumps(value)), key
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

    # test: every number of test_metrics.json is logged once under test/<key>, and nothing else is
    test_history = wandb_history(_run_file(test_run))
    logged = {}
    for row in test_history:
        for key, value in scalars(row, "test/").items():
            assert key not in logged, f"{key} logged twice"
            logged[key] = value
    metrics = report["metrics"]
    assert logged.keys() == {f"test/{k}" for k in metrics}
    for key, value in metrics.items():
        assert logged[f"test/{key}"] == pytest.approx(value, rel=1e-6), key
    assert {"noise5/p_mpjpe", "noise20/mpjpe", "noise5/mpjpe_actionwise"} <= metrics.keys()
    assert metrics["noise20/p_mpjpe"] > 0
    assert any("test/affinity/_type" in row for row in test_history)
    assert list((test_run / "files" / "media" / "images" / "test").glob("poses_*.png"))


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
