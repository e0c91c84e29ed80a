"""HumanEva-I: 15-joint skeleton, VideoPose3D-format reader, protocol groups, DataModule and a short CLI run."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from posegcn.cli import build_cli, main
from posegcn.data import HumanEvaDataModule, HumanEvaFiles, load_humaneva
from posegcn.data.formats.humaneva import HUMANEVA_EXTRINSICS
from posegcn.skeleton import HUMANEVA_15, skeleton_named
from posegcn.synthetic import generate_synthetic_humaneva

REPO = Path(__file__).resolve().parents[1]
HUMANEVA_CONFIG = str(REPO / "configs" / "data" / "humaneva.yaml")
_METADATA = {
    "layout_name": "humaneva15",
    "num_joints": 15,
    "keypoints_symmetry": [[2, 3, 4, 8, 9, 10], [5, 6, 7, 11, 12, 13]],
}


@pytest.fixture(autouse=True)
def _plain_argv(monkeypatch):
    monkeypatch.setattr(sys, "argv", ["posegcn"])


def _rotation(q) -> np.ndarray:
    """Camera→world rotation matrix of a unit quaternion (w, x, y, z), the textbook formula."""
    w, x, y, z = np.asarray(q, dtype=np.float64) / np.linalg.norm(q)
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
        [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
        [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
    ])  # fmt: skip


def _write_files(
    root: Path, positions_3d: dict, positions_2d: dict, metadata: dict | None = _METADATA
) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(root / "data_3d_humaneva15.npz", positions_3d=positions_3d)
    extra = {} if metadata is None else {"metadata": metadata}
    np.savez_compressed(root / "data_2d_humaneva15_gt.npz", positions_2d=positions_2d, **extra)
    return root


def _tiny(frames: int = 4, extra_2d: int = 0, seed: int = 0) -> tuple[dict, dict]:
    rng = np.random.default_rng(seed)
    p3, p2 = {}, {}
    for subject in ("Train/S1", "Validate/S1", "Validate/S2"):
        p3[subject], p2[subject] = {}, {}
        for take in ("Walking 1 chunk0", "Walking 1 chunk2", "Jog 1 chunk0", "Box 1 chunk0"):
            p3[subject][take] = rng.uniform(-1, 1, (frames, 15, 3)).astype(np.float32)
            p2[subject][take] = [
                rng.uniform(0, 640, (frames + extra_2d, 15, 2)).astype(np.float32) for _ in range(3)
            ]
    return p3, p2


# ----------------------------------------------------------------------------- skeleton
def test_humaneva_skeleton():
    s = HUMANEVA_15
    assert s.num_joints == 15 and s.root == 0
    perm = s.flip_permutation
    assert [perm[p] for p in perm] == list(range(15))
    for left, right in zip(s.joints_left, s.joints_right):
        assert s.names[left][0] == "L" and s.names[right] == "R" + s.names[left][1:]
    # limbs hang off the thorax (arms) and the pelvis (legs), the head off the thorax
    assert s.parents[s.index("LShoulder")] == s.parents[s.index("Head")] == s.index("Thorax")
    assert s.parents[s.index("RHip")] == s.index("Pelvis")
    assert skeleton_named("humaneva15") is HUMANEVA_15 and skeleton_named("h36m16").name == "h36m16"
    with pytest.raises(ValueError, match="unknown skeleton 'humaneva16'"):
        skeleton_named("humaneva16")


# ----------------------------------------------------------------------------- reader
def test_tiny_fixture_camera_frame_groups_and_truncation(tmp_path):
    p3, p2 = _tiny(frames=4, extra_2d=2)
    root = _write_files(tmp_path, p3, p2)
    a = load_humaneva(root, subjects=["Validate/S1", "Validate/S2"], actions=["Walk", "Jog"])
    # 2 subjects x 3 takes (two Walking chunks, one Jog) x 3 cameras x 4 frames
    assert len(a) == 2 * 3 * 3 * 4 and a.num_sequences == 18
    assert a.action_names == ["Jog/S1", "Jog/S2", "Walking/S1", "Walking/S2"]
    assert a.skeleton is HUMANEVA_15
    # independent reference for one sequence: rotation-matrix world→camera, root-relative, metres
    s, take, cam = a.sequence_names[4]
    sl = slice(int(a.sequence_starts[4]), int(a.sequence_starts[5]))
    q, t = HUMANEVA_EXTRINSICS[s.split("/")[1]][cam]
    x_cam = (p3[s][take].astype(np.float64) - np.asarray(t) / 1000) @ _rotation(q)
    ref = x_cam - x_cam[:, :1]
    torch.testing.assert_close(a.pose_3d[sl].double(), torch.from_numpy(ref), atol=1e-5, rtol=0)
    torch.testing.assert_close(a.root_3d[sl].double(), torch.from_numpy(x_cam[:, 0]), atol=1e-5, rtol=0)
    # 2D truncated to the 3D length and normalised by the 640-pixel width
    uv = p2[s][take][cam][:4]
    torch.testing.assert_close(a.pose_2d[sl, :, 0], torch.from_numpy(uv[..., 0] / 320 - 1))
    torch.testing.assert_close(a.pose_2d[sl, :, 1], torch.from_numpy(uv[..., 1] / 320 - 0.75))
    assert a.action[sl].unique().tolist() == [a.action_names.index(f"{take.split(' ')[0]}/{s.split('/')[1]}")]


def test_synthetic_2d_matches_loaded_camera_frame_3d(tmp_path):
    generate_synthetic_humaneva(tmp_path, frames_per_take=20)
    a = load_humaneva(tmp_path, subjects=["Train/S2", "Validate/S3"], actions=None)
    assert set(a.action_names) == {"Box/S2", "Box/S3", "Jog/S2", "Jog/S3", "Walking/S2", "Walking/S3"}
    cam = (a.pose_3d + a.root_3d[:, None]).double()
    assert (cam[..., 2] > 2.0).all()  # in front of every camera
    uv_px = (a.pose_2d.double() + torch.tensor([1.0, 0.75])) * 320
    # the synthetic 2D is a 760-px pinhole projection: the loader's extrinsics must agree with it
    torch.testing.assert_close(
        uv_px, 760 * cam[..., :2] / cam[..., 2:] + torch.tensor([320.0, 240.0]), atol=2e-3, rtol=0
    )


def test_bad_input_named_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="data_3d_humaneva15.npz"):
        HumanEvaFiles.read(tmp_path)
    p3, p2 = _tiny()
    p3_bad = {**p3, "Validate/S1": {**p3["Validate/S1"], "Jog 1 chunk0": np.zeros((4, 17, 3), np.float32)}}
    with pytest.raises(ValueError, match=r"Jog 1 chunk0.*\[F, 15, 3\].*\(4, 17, 3\)"):
        load_humaneva(_write_files(tmp_path / "j17", p3_bad, p2), actions=["Jog"], subjects=["Validate/S1"])
    coco = {"layout_name": "coco", "num_joints": 17, "keypoints_symmetry": [[1, 3], [2, 4]]}
    with pytest.raises(ValueError, match="detectron_pt_coco"):
        HumanEvaFiles.read(_write_files(tmp_path / "coco", p3, p2, coco))
    p2_two = {
        **p2,
        "Validate/S2": {**p2["Validate/S2"], "Walking 1 chunk0": p2["Validate/S2"]["Walking 1 chunk0"][:2]},
    }
    with pytest.raises(ValueError, match=r"\(C1, C2, C3\), got 2"):
        load_humaneva(_write_files(tmp_path / "cams", p3, p2_two), subjects=["Validate/S2"])
    p2_short = {
        **p2,
        "Validate/S1": {
            **p2["Validate/S1"],
            "Jog 1 chunk0": [c[:3] for c in p2["Validate/S1"]["Jog 1 chunk0"]],
        },
    }
    with pytest.raises(ValueError, match="fewer than the 4 frames"):
        load_humaneva(_write_files(tmp_path / "short", p3, p2_short), subjects=["Validate/S1"])
    files = HumanEvaFiles.read(_write_files(tmp_path / "ok", p3, p2))
    with pytest.raises(KeyError, match="unknown subject 'Validate/S3'"):
        files.select(["Validate/S3"])
    with pytest.raises(KeyError, match=r"unknown action\(s\) \['Running'\]"):
        files.select(["Validate/S1"], ["Walking", "Running"])
    with pytest.raises(ValueError, match="HumanEva-I has 15 joints"):
        HumanEvaDataModule(root=str(tmp_path), num_joints=16)


# ----------------------------------------------------------------------------- DataModule + CLI
def test_datamodule_protocol_split(tmp_path):
    generate_synthetic_humaneva(tmp_path, frames_per_take=12)
    dm = HumanEvaDataModule(root=str(tmp_path), eval_batch_size=100, num_frames=3)
    dm.setup("test")
    assert dm.action_names == ["Jog/S1", "Jog/S2", "Jog/S3", "Walking/S1", "Walking/S2", "Walking/S3"]
    test = dm.arrays("test")
    assert {s for s, _, _ in test.sequence_names} == {"Validate/S1", "Validate/S2", "Validate/S3"}
    assert not any(take.startswith("Box") for _, take, _ in test.sequence_names)
    assert len(test) == 3 * 3 * 3 * 12  # subjects x (two Walking chunks + Jog) x cameras x frames
    batch = next(iter(dm.test_dataloader()))
    assert batch["pose_2d"].shape == (100, 3, 15, 2)


def test_model_config_then_humaneva_config_builds_15_joint_model(tmp_path):
    cli = build_cli(
        [
            "--config",
            str(REPO / "configs" / "modgcn_cpn.yaml"),
            "--config",
            HUMANEVA_CONFIG,
            "--data.root",
            str(tmp_path),
        ],
        run=False,
    )
    assert isinstance(cli.datamodule, HumanEvaDataModule)
    assert cli.datamodule.hparams.source == "gt" and cli.datamodule.hparams.batch_size == 256
    assert cli.model.num_joints == 15 and cli.model.skeleton is HUMANEVA_15
    assert cli.model.net.num_joints == 15


@pytest.mark.slow
def test_fit_and_test_reports_per_action_and_subject(tmp_path):
    generate_synthetic_humaneva(tmp_path / "data", frames_per_take=30)
    run = tmp_path / "run"
    common = ["--config", str(REPO / "configs" / "modgcn.yaml"), "--config", HUMANEVA_CONFIG,
              "--data.root", str(tmp_path / "data"), "--trainer.default_root_dir", str(run),
              "--trainer.enable_progress_bar", "false"]  # fmt: skip
    main(["fit", *common, "--trainer.max_epochs", "1", "--checkpoint.dirpath", str(run / "ckpt")])
    main(["test", *common, "--ckpt_path", str(run / "ckpt" / "last.ckpt")])
    report = json.loads(next(run.rglob("test_metrics.json")).read_text())
    metrics = report["metrics"]
    for group in ("Walking/S1", "Walking/S2", "Walking/S3", "Jog/S1", "Jog/S2", "Jog/S3"):
        assert f"p_mpjpe/{group}" in metrics and report["frames"][group] > 0
    cells = [
        metrics[f"p_mpjpe/{g}"]
        for g in ("Walking/S1", "Walking/S2", "Walking/S3", "Jog/S1", "Jog/S2", "Jog/S3")
    ]
    assert metrics["p_mpjpe_actionwise"] == pytest.approx(np.mean(cells), rel=1e-6)
