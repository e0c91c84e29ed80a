"""Protocol #1 in its three forms, and the papers' protocol: selection on S9/S11 with the final epoch reported.

Hand-computed references for ``unaligned`` / ``root_zeroed`` / ``root_aligned`` on a small pose,
the original codes' literal statement on a CPU tensor, the metric collection's behaviour with each
convention, and one short real ``posegcn fit`` + ``posegcn test`` of the Modulated GCN paper config
whose ``test_metrics.json`` must hold the final epoch's numbers equal to a test of ``last.ckpt``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch

from posegcn.cli import main
from posegcn.metrics import PoseMetrics, align_root, mpjpe, p_mpjpe

REPO = Path(__file__).resolve().parents[1]
SYNTHETIC = str(REPO / "configs" / "data" / "synthetic.yaml")

# Three joints in metres; the prediction is the target shifted by 0.1 m in x, except that its
# root moved 0.1 m and joint 2 moved 0.1 m in y as well.
TARGET = torch.tensor([[[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]], dtype=torch.float64)
PRED = torch.tensor([[[0.1, 0.0, 0.0], [1.1, 0.0, 0.0], [0.1, 1.1, 0.0]]], dtype=torch.float64)


def test_three_protocol1_conventions_against_hand_computed_errors():
    # unaligned: joint errors 0.1, 0.1, √(0.1² + 0.1²)
    unaligned = (0.1 + 0.1 + 0.02**0.5) / 3 * 1000
    # root zeroed: the root becomes (0, 0, 0), the others stay: 0, 0.1, √0.02
    root_zeroed = (0.0 + 0.1 + 0.02**0.5) / 3 * 1000
    # root aligned: subtract (0.1, 0, 0) from every joint: 0, 0, 0.1
    root_aligned = (0.0 + 0.0 + 0.1) / 3 * 1000
    assert mpjpe(align_root(PRED, "unaligned"), TARGET).item() == pytest.approx(unaligned)
    assert mpjpe(align_root(PRED, "root_zeroed"), TARGET).item() == pytest.approx(root_zeroed)
    assert mpjpe(align_root(PRED, "root_aligned"), TARGET).item() == pytest.approx(root_aligned)
    assert align_root(PRED, "unaligned") is PRED
    before = PRED.clone()
    align_root(PRED, "root_zeroed")
    align_root(PRED, "root_aligned")
    assert torch.equal(PRED, before), "align_root must not modify its input"
    with pytest.raises(ValueError, match="root_zeroed"):
        align_root(PRED, "zeroed")


def test_root_zeroed_is_what_the_original_statement_computes_on_a_cpu_tensor():
    """``outputs_3d[:, :, :] -= outputs_3d[:, :1, :]`` (SemGCN / Modulated GCN ``evaluate``)."""
    outputs_3d = torch.randn(64, 16, 3, generator=torch.Generator().manual_seed(0))
    expected = align_root(outputs_3d, "root_zeroed")
    outputs_3d[:, :, :] -= outputs_3d[:, :1, :]
    assert torch.equal(outputs_3d, expected)


def test_pose_metrics_apply_the_convention_to_every_metric_and_report_unaligned_beside_it():
    g = torch.Generator().manual_seed(1)
    target = torch.randn(40, 16, 3, generator=g, dtype=torch.float64) * 0.2
    target[:, 0] = 0
    pred = target + torch.randn(40, 16, 3, generator=g, dtype=torch.float64) * 0.05
    groups = torch.arange(40) % 3
    for alignment in ("unaligned", "root_zeroed", "root_aligned"):
        metrics = PoseMetrics(3, root_alignment=alignment)
        metrics.update(pred, target, groups)
        flat = metrics.compute_flat()
        seen = align_root(pred, alignment)
        assert flat["mpjpe"] == pytest.approx(mpjpe(seen, target).item())
        # as in the original codes, Protocol #2 is computed on the prediction after the convention
        assert flat["p_mpjpe"] == pytest.approx(p_mpjpe(seen, target).item())
        if alignment == "unaligned":
            assert "mpjpe_unaligned" not in flat
        else:
            assert flat["mpjpe_unaligned"] == pytest.approx(mpjpe(pred, target).item())
            assert "MPJPE unaligned" in metrics.table()
    with pytest.raises(ValueError, match="root_alignment"):
        PoseMetrics(1, root_alignment="zeroed")


@pytest.fixture
def _plain_argv(monkeypatch):
    monkeypatch.setattr(sys, "argv", ["posegcn"])


@pytest.mark.slow
def test_paper_config_selects_on_test_subjects_and_reports_the_final_epoch(tmp_path, _plain_argv):
    run = tmp_path / "run"
    common = [
        "--config", str(REPO / "configs" / "modgcn.yaml"), "--config", SYNTHETIC,
        "--data.root", str(tmp_path / "synthetic"), "--data.frames_per_take", "24",
        "--data.actions", "[Walking, Sitting]", "--trainer.enable_progress_bar", "false",
    ]  # fmt: skip
    main(["fit", *common, "--trainer.max_epochs", "3", "--trainer.default_root_dir", str(run),
          "--checkpoint.dirpath", str(run / "checkpoints")])  # fmt: skip
    reports = {}
    for name in ("best", "last"):
        out = tmp_path / f"test_{name}"
        ckpt = run / "checkpoints" / f"{name}.ckpt"
        main(["test", *common, "--trainer.default_root_dir", str(out), "--ckpt_path", str(ckpt)])
        reports[name] = json.loads(next(out.rglob("test_metrics.json")).read_text())

    best, last = reports["best"], reports["last"]
    assert best["protocol1"].startswith("root_zeroed")
    assert {"mpjpe", "mpjpe_unaligned", "mpjpe_unaligned_actionwise"} <= set(best["metrics"])
    selection = best["selection"]
    assert selection["validation_subjects"] == ["S9", "S11"]
    assert selection["validation_is_test_split"] is True
    # the final epoch's validation on S9/S11 is the test of the final weights
    final = selection["final_epoch"]
    assert final["epoch"] == 2
    for key in ("mpjpe", "p_mpjpe", "mpjpe_actionwise", "mpjpe_unaligned"):
        assert final["metrics"][key] == pytest.approx(last["metrics"][key], rel=1e-9), key
    # the tested checkpoint is the best epoch by validation MPJPE, and its numbers are the test's
    tested = selection["tested_checkpoint_epoch"]
    assert tested["epoch"] == selection["best_epoch_by_val_mpjpe"]
    assert tested["metrics"]["mpjpe"] == pytest.approx(best["metrics"]["mpjpe"], rel=1e-9)
    assert best["metrics"]["mpjpe"] <= last["metrics"]["mpjpe"] + 1e-9
