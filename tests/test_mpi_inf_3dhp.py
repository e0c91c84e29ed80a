"""MPI-INF-3DHP test set: joint mapping, reader, DataModule, the 14-joint protocol and cross-dataset ``posegcn test``."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import torch

from posegcn.cli import build_cli, main
from posegcn.data import (
    MPIINF3DHPDataModule,
    MPIINF3DHPTestFile,
    load_mpi_inf_3dhp_test,
)
from posegcn.lift import load_module
from posegcn.skeleton import H36M_16, H36M_17, MPI_INF_3DHP_17, MPI_INF_3DHP_TO_H36M_17
from posegcn.synthetic import generate_synthetic_3dhp_test

REPO = Path(__file__).resolve().parents[1]
MPI_CONFIG = str(REPO / "configs" / "data" / "mpi_inf_3dhp.yaml")

# The test-set joint order written out by hand (mpii_get_joints('relevant'), mmhuman3d's
# MPI_INF_3DHP_TEST_KEYPOINTS) and the H36M joint each corresponds to.
_MPI_NAMES = [
    "head_top", "neck", "right_shoulder", "right_elbow", "right_wrist", "left_shoulder", "left_elbow",
    "left_wrist", "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee", "left_ankle", "pelvis",
    "spine", "head",
]  # fmt: skip
_H36M_FOR = {
    "Hip": "pelvis", "RHip": "right_hip", "RKnee": "right_knee", "RFoot": "right_ankle", "LHip": "left_hip",
    "LKnee": "left_knee", "LFoot": "left_ankle", "Spine": "spine", "Thorax": "neck", "Neck/Nose": "head",
    "Head": "head_top", "LShoulder": "left_shoulder", "LElbow": "left_elbow", "LWrist": "left_wrist",
    "RShoulder": "right_shoulder", "RElbow": "right_elbow", "RWrist": "right_wrist",
}  # fmt: skip


@pytest.fixture(autouse=True)
def _plain_argv(monkeypatch):
    monkeypatch.setattr(sys, "argv", ["posegcn"])


def _write(path: Path, data: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, data=data)
    return path


def _tiny_sequence(frames: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    uv = rng.uniform(100, 900, (frames, 17, 2)).astype(np.float32)
    xyz = rng.uniform(-800, 800, (frames, 17, 3)).astype(np.float32)
    xyz[..., 2] += 4000
    return uv, xyz


# ----------------------------------------------------------------------------- mapping
def test_joint_mapping_by_name():
    assert sorted(MPI_INF_3DHP_TO_H36M_17) == list(range(17))
    for h36m_index, mpi_index in enumerate(MPI_INF_3DHP_TO_H36M_17):
        assert _MPI_NAMES[mpi_index] == _H36M_FOR[H36M_17.names[h36m_index]]
    # left joints go to left joints, and the 3DHP tree's root is the pelvis
    mapped_left = {MPI_INF_3DHP_TO_H36M_17[j] for j in H36M_17.joints_left}
    assert mapped_left == set(MPI_INF_3DHP_17.joints_left)
    assert MPI_INF_3DHP_17.root == 14


# ----------------------------------------------------------------------------- reader
def test_tiny_fixture_valid_frames_units_and_layout(tmp_path):
    uv1, xyz1 = _tiny_sequence(5, 0)
    uv5, xyz5 = _tiny_sequence(3, 1)
    xyz1[2] = np.nan  # an invalid frame may hold anything
    data = {
        "TS1": {
            "data_2d": uv1,
            "data_3d": xyz1,
            "valid": np.array([1, 1, 0, 1, 1], dtype=np.float64)[:, None],
        },
        "TS5": {"data_2d": uv5, "data_3d": xyz5, "valid": np.array([0, 1, 1], dtype=np.uint8)},
    }
    _write(tmp_path / "data_test_3dhp.npz", data)
    a = load_mpi_inf_3dhp_test(tmp_path, num_joints=17, sequences=["TS1", "TS5"])
    assert len(a) == 6 and a.action_names == ["GS", "Outdoor"]
    assert a.frame.tolist() == [0, 1, 3, 4, 1, 2]
    assert a.action.tolist() == [0, 0, 0, 0, 1, 1]
    assert a.sequence_starts.tolist() == [0, 2, 4, 6]  # runs of valid frames are sequences
    # independent reference: gather by name, metres, root-relative at the pelvis
    order = [_MPI_NAMES.index(_H36M_FOR[n]) for n in H36M_17.names]
    ref = xyz1[[0, 1, 3, 4]][:, order] / 1000.0
    ref = ref - ref[:, :1]
    torch.testing.assert_close(a.pose_3d[:4], torch.from_numpy(ref), atol=1e-6, rtol=0)
    # 2D normalised by the image width: TS1 is 2048x2048, TS5 is 1920x1080
    x, y = uv1[[0, 1, 3, 4]][:, order, 0], uv1[[0, 1, 3, 4]][:, order, 1]
    torch.testing.assert_close(a.pose_2d[:4, :, 0], torch.from_numpy(x / 2048 * 2 - 1))
    torch.testing.assert_close(a.pose_2d[:4, :, 1], torch.from_numpy(y / 2048 * 2 - 1))
    torch.testing.assert_close(
        a.pose_2d[4:, :, 1], torch.from_numpy(uv5[1:, order, 1] / 1920 * 2 - 1080 / 1920)
    )
    # 16 joints: the head centre (H36M Neck/Nose) is dropped
    b = load_mpi_inf_3dhp_test(tmp_path, num_joints=16, sequences=["TS1", "TS5"])
    assert b.skeleton is H36M_16
    torch.testing.assert_close(b.pose_3d, a.pose_3d[:, [j for j in range(17) if j != 9]])
    # per-sequence groups and an explicit image size
    data["TS5"]["image_size"] = np.array([1000, 500])
    data["TS7"] = dict(data["TS1"], image_size=(2048, 2048))
    _write(tmp_path / "other.npz", data)
    c = MPIINF3DHPTestFile.read(tmp_path, "other.npz", groups="sequence").select(["TS5", "TS7"])
    assert c.action_names == ["TS5", "TS7"]
    torch.testing.assert_close(c.pose_2d[:2, :, 0], torch.from_numpy(uv5[1:, order, 0] / 1000 * 2 - 1))


def test_bad_input_named_errors(tmp_path):
    uv, xyz = _tiny_sequence(4, 0)
    valid = np.ones(4)
    with pytest.raises(FileNotFoundError, match="data_test_3dhp.npz"):
        MPIINF3DHPTestFile.read(tmp_path)
    _write(tmp_path / "nov.npz", {"TS1": {"data_2d": uv, "data_3d": xyz}})
    with pytest.raises(KeyError, match=r"TS1.*lacks \['valid'\]"):
        load_mpi_inf_3dhp_test(tmp_path, sequences=["TS1"], file="nov.npz")
    _write(tmp_path / "j28.npz", {"TS1": {"data_2d": np.zeros((4, 28, 2)), "data_3d": xyz, "valid": valid}})
    with pytest.raises(ValueError, match=r"data_2d.*\[F, 17, 2\].*\(4, 28, 2\)"):
        load_mpi_inf_3dhp_test(tmp_path, sequences=["TS1"], file="j28.npz")
    _write(tmp_path / "ok.npz", {"TS1": {"data_2d": uv, "data_3d": xyz, "valid": valid}})
    with pytest.raises(KeyError, match=r"sequences \['TS3', 'TS6'\] are absent.*\['TS1'\]"):
        load_mpi_inf_3dhp_test(tmp_path, file="ok.npz", sequences=["TS1", "TS3", "TS6"])
    _write(tmp_path / "len.npz", {"TS1": {"data_2d": uv, "data_3d": xyz, "valid": np.ones(3)}})
    with pytest.raises(ValueError, match="one flag per frame"):
        load_mpi_inf_3dhp_test(tmp_path, sequences=["TS1"], file="len.npz")
    xyz_nan = xyz.copy()
    xyz_nan[2, 5] = np.nan
    _write(tmp_path / "nan.npz", {"TS2": {"data_2d": uv, "data_3d": xyz_nan, "valid": valid}})
    with pytest.raises(ValueError, match="NaN/inf values in valid frame 2"):
        load_mpi_inf_3dhp_test(tmp_path, sequences=["TS2"], file="nan.npz")
    _write(tmp_path / "xx.npz", {"XX": {"data_2d": uv, "data_3d": xyz, "valid": valid}})
    with pytest.raises(KeyError, match="no 'image_size'"):
        load_mpi_inf_3dhp_test(tmp_path, sequences=["XX"], file="xx.npz", groups="sequence")
    with pytest.raises(ValueError, match="Human3.6M layouts have 16 or 17"):
        MPIINF3DHPDataModule(root=str(tmp_path), num_joints=15)


# ----------------------------------------------------------------------------- synthetic + DataModule
def test_synthetic_file_is_consistent(tmp_path):
    generate_synthetic_3dhp_test(tmp_path, frames_per_sequence=40)
    raw = np.load(tmp_path / "data_test_3dhp.npz", allow_pickle=True)["data"].item()
    assert sorted(raw) == ["TS1", "TS2", "TS3", "TS4", "TS5", "TS6"]
    assert all(0 < (~v["valid"].astype(bool)).sum() < 40 for v in raw.values())
    a = load_mpi_inf_3dhp_test(tmp_path, num_joints=17)
    assert len(a) == sum(int(v["valid"].sum()) for v in raw.values())
    assert a.action_names == ["GS", "noGS", "Outdoor"]
    # the invalid frames hold zeros: none of them may survive
    assert (a.root_3d[:, 2] > 3.0).all()
    # 2D is the pinhole projection of the loaded camera-frame 3D (TS1: f = 1500 px, centre 1024)
    ts1 = a.subject == 0
    cam = (a.pose_3d + a.root_3d[:, None])[ts1].double()
    uv_px = (a.pose_2d[ts1].double() + torch.tensor([1.0, 1.0])) * 1024
    torch.testing.assert_close(uv_px, 1500 * cam[..., :2] / cam[..., 2:] + 1024, atol=1e-2, rtol=0)


def test_datamodule_protocol_and_model_eval_joints(tmp_path):
    from functools import partial

    from posegcn.lit import PoseLiftingModule
    from posegcn.losses import WeightedLoss
    from posegcn.models import ModulatedGCN

    generate_synthetic_3dhp_test(tmp_path, frames_per_sequence=20)
    dm = MPIINF3DHPDataModule(root=str(tmp_path), num_joints=16, eval_batch_size=50, num_frames=3)
    wanted = ["Head", "Thorax", "RShoulder", "RElbow", "RWrist", "LShoulder", "LElbow", "LWrist",
              "RHip", "RKnee", "RFoot", "LHip", "LKnee", "LFoot"]  # fmt: skip
    assert sorted(dm.eval_joints) == sorted(H36M_16.index(n) for n in wanted)
    with pytest.raises(ValueError, match="posegcn test"):
        dm.setup("fit")
    batches = list(dm.test_dataloader())
    assert sum(len(b["index"]) for b in batches) == len(dm.arrays())
    assert batches[0]["pose_2d"].shape[1:] == (3, 16, 2)
    # the model takes the data module's joint subset unless it has its own
    dm = MPIINF3DHPDataModule(root=str(tmp_path), num_joints=16)
    dm.setup("test")  # as the Trainer does, before the module's setup
    model = PoseLiftingModule(
        net=partial(ModulatedGCN, hidden=8, num_blocks=1),
        loss=partial(WeightedLoss, mse=1.0),
        skeleton="h36m16",
    )
    model._trainer = types.SimpleNamespace(datamodule=dm)
    model.setup("test")
    assert model.test_metrics["pck"].joints == dm.eval_joints
    assert model.test_metrics.group_names == ["GS", "noGS", "Outdoor"]
    own = PoseLiftingModule(
        net=partial(ModulatedGCN, hidden=8, num_blocks=1),
        loss=partial(WeightedLoss, mse=1.0),
        skeleton="h36m16",
        eval_joints=[1, 2],
    )
    own._trainer = types.SimpleNamespace(datamodule=dm)
    own.setup("test")
    assert own.test_metrics["pck"].joints == [1, 2]


@pytest.mark.parametrize(
    ("config", "joints", "frames"), [("modgcn", 16, 1), ("modgcn_cpn", 17, 1), ("dgnet", 17, 4)]
)
def test_model_config_then_3dhp_config(tmp_path, config, joints, frames):
    cli = build_cli(
        [
            "--config",
            str(REPO / "configs" / f"{config}.yaml"),
            "--config",
            MPI_CONFIG,
            "--data.root",
            str(tmp_path),
        ],
        run=False,
    )
    assert isinstance(cli.datamodule, MPIINF3DHPDataModule)
    assert (cli.datamodule.num_joints, cli.datamodule.num_frames) == (joints, frames)
    assert (cli.model.num_joints, cli.model.num_frames) == (joints, frames)


@pytest.mark.slow
def test_cross_dataset_test_command(tmp_path, modgcn_run):
    """``posegcn test`` on the synthetic 3DHP test file of a checkpoint `posegcn fit` wrote on synthetic Human3.6M."""
    model_config = str(REPO / "configs" / "modgcn.yaml")
    ckpt = modgcn_run.last
    generate_synthetic_3dhp_test(tmp_path / "3dhp", frames_per_sequence=60)
    test_dir = tmp_path / "test"
    main(["test", "--config", model_config, "--config", MPI_CONFIG, "--data.root", str(tmp_path / "3dhp"),
          "--ckpt_path", str(ckpt), "--trainer.default_root_dir", str(test_dir),
          "--trainer.enable_progress_bar", "false"])  # fmt: skip
    report = json.loads(next(test_dir.rglob("test_metrics.json")).read_text())
    arrays = load_mpi_inf_3dhp_test(tmp_path / "3dhp", num_joints=16)
    assert report["frames"]["all"] == len(arrays)
    metrics = report["metrics"]
    for key in ("pck", "auc", "mpjpe", "pck/GS", "pck/noGS", "pck/Outdoor", "auc/Outdoor"):
        assert key in metrics, key
    # independent check: 3DPCK over the 14 protocol joints (picked by name) of the checkpoint's predictions
    model = load_module(str(ckpt))
    with torch.no_grad():
        pred = model(arrays.pose_2d)
    names = ["Head", "Thorax", "RShoulder", "RElbow", "RWrist", "LShoulder", "LElbow", "LWrist",
             "RHip", "RKnee", "RFoot", "LHip", "LKnee", "LFoot"]  # fmt: skip
    joints = [H36M_16.names.index(n) for n in names]
    err = (pred - arrays.pose_3d)[:, joints].double().norm(dim=-1)
    assert metrics["pck"] == pytest.approx((err < 0.150).double().mean().item() * 100, abs=1e-3)
    assert metrics["mpjpe"] == pytest.approx(err.mean().item() * 1000, abs=1e-3)
    outdoor = arrays.action == arrays.action_names.index("Outdoor")
    assert metrics["pck/Outdoor"] == pytest.approx(
        (err[outdoor] < 0.150).double().mean().item() * 100, abs=1e-3
    )
