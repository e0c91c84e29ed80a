"""The synthetic Human3.6M generator: file format, determinism, geometry, noise and motion.

Every check compares against an independent reference written here in plain numpy (the
projection re-implemented from conventions.md §2 with the calibration read straight from the JSON).
"""

from __future__ import annotations

import json
from itertools import combinations
from pathlib import Path

import numpy as np
import pytest

import posegcn
from posegcn.skeleton import H36M_17, H36M_17_TO_16, H36M_32, H36M_32_TO_17
from posegcn.synthetic import (
    SYNTHETIC_ACTIONS,
    SYNTHETIC_SOURCES,
    SYNTHETIC_SUBJECTS,
    SYNTHETIC_TAKES,
    SYNTHETIC_VERSION,
    ensure_synthetic_h36m,
    generate_synthetic_h36m,
    layouts,
)
from posegcn.synthetic.__main__ import main

FRAMES = 30
SOURCES = ("gt", "synth_det", "synth_sh")
CALIBRATION = Path(posegcn.__file__).parent / "data" / "h36m_cameras.json"


def _load(path: Path, key: str):
    """The VideoPose3D loading recipe."""
    return np.load(path, allow_pickle=True)[key].item()


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    return generate_synthetic_h36m(tmp_path_factory.mktemp("synthetic"), frames_per_take=FRAMES, seed=0)


@pytest.fixture(scope="module")
def poses_3d(root):
    return _load(root / "data_3d_h36m.npz", "positions_3d")


@pytest.fixture(scope="module")
def poses_2d(root):
    return {src: _load(root / f"data_2d_h36m_{src}.npz", "positions_2d") for src in SOURCES}


# ----------------------------------------------------------------------------- reference camera model
def _quaternion_matrix(q: np.ndarray) -> np.ndarray:
    w, x, y, z = q / np.linalg.norm(q)
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
        [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
        [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
    ])  # fmt: skip


def _reference_cameras() -> dict[str, list[dict]]:
    calib = json.loads(CALIBRATION.read_text())
    cams = {}
    for subject, extrinsics in calib["extrinsics"].items():
        cams[subject] = []
        for intr, extr in zip(calib["intrinsics"], extrinsics):
            cams[subject].append({
                "R": _quaternion_matrix(np.asarray(extr["orientation"], dtype=np.float64)),  # camera → world
                "t": np.asarray(extr["translation"], dtype=np.float64) / 1000.0,
                **{k: np.asarray(intr[k], dtype=np.float64) for k in
                   ("focal_length", "center", "radial_distortion", "tangential_distortion")},
                "size": (intr["res_w"], intr["res_h"]),
            })  # fmt: skip
    return cams


def _reference_project(world: np.ndarray, cam: dict) -> tuple[np.ndarray, np.ndarray]:
    """``[..., 3]`` world metres → pixels ``[..., 2]`` and depth ``[...]`` (conventions.md §2)."""
    x_cam = (world.astype(np.float64) - cam["t"]) @ cam["R"]  # row vectors: Rᵀ (X − t)
    xx = np.clip(x_cam[..., :2] / x_cam[..., 2:], -1, 1)
    r2 = (xx**2).sum(-1, keepdims=True)
    k, p = cam["radial_distortion"], cam["tangential_distortion"]
    radial = 1 + k[0] * r2 + k[1] * r2**2 + k[2] * r2**3
    tan = (p * xx).sum(-1, keepdims=True)
    uv = cam["focal_length"] * (xx * (radial + tan) + p * r2) + cam["center"]
    return uv, x_cam[..., 2]


# ----------------------------------------------------------------------------- format
def test_files_keys_shapes_and_metadata(root, poses_3d, poses_2d):
    assert sorted(poses_3d) == sorted(SYNTHETIC_SUBJECTS)
    for takes in poses_3d.values():
        assert sorted(takes) == sorted(SYNTHETIC_TAKES)
        groups = [name.split(" ")[0] for name in takes]
        assert sorted(set(groups)) == sorted(SYNTHETIC_ACTIONS)
        assert all(groups.count(g) == 2 for g in SYNTHETIC_ACTIONS)
        for pose in takes.values():
            assert pose.dtype == np.float32 and pose.shape == (FRAMES, 32, 3)
    assert "Walking" in poses_3d["S1"] and "Walking 1" in poses_3d["S1"]
    assert "Directions" in poses_3d["S11"]  # kept, unlike the real dataset

    lengths = []
    for src, num_joints, skeleton_lr in (
        ("gt", 17, ([4, 5, 6, 11, 12, 13], [1, 2, 3, 14, 15, 16])),
        ("synth_det", 17, ([4, 5, 6, 11, 12, 13], [1, 2, 3, 14, 15, 16])),
        ("synth_sh", 16, ([4, 5, 6, 10, 11, 12], [1, 2, 3, 13, 14, 15])),
    ):
        meta = np.load(root / f"data_2d_h36m_{src}.npz", allow_pickle=True)["metadata"].item()
        expected = {"num_joints": num_joints, "keypoints_symmetry": list(skeleton_lr), "layout_name": "h36m"}
        assert meta == expected
        assert sorted(poses_2d[src]) == sorted(SYNTHETIC_SUBJECTS)
        for subject in SYNTHETIC_SUBJECTS:
            assert sorted(poses_2d[src][subject]) == sorted(SYNTHETIC_TAKES)
            for cams in poses_2d[src][subject].values():
                assert isinstance(cams, list) and len(cams) == 4
                for kp in cams:
                    assert kp.dtype == np.float32 and kp.shape[1:] == (num_joints, 2)
                    if src == "gt":
                        assert kp.shape[0] == FRAMES
                    else:
                        assert FRAMES <= kp.shape[0] <= FRAMES + 2
                        lengths.append(kp.shape[0])
    assert set(lengths) == {FRAMES, FRAMES + 1, FRAMES + 2}  # detections are sometimes longer

    manifest = json.loads((root / "SYNTHETIC.json").read_text())
    assert manifest["seed"] == 0 and manifest["frames_per_take"] == FRAMES
    assert manifest["version"] == SYNTHETIC_VERSION
    assert manifest["sources"] == ["gt", "synth_det", "synth_sh"]


def test_deterministic_by_seed(root, poses_3d, poses_2d, tmp_path):
    again = generate_synthetic_h36m(tmp_path / "again", frames_per_take=FRAMES, seed=0)
    p3 = _load(again / "data_3d_h36m.npz", "positions_3d")
    for subject in SYNTHETIC_SUBJECTS:
        for take in SYNTHETIC_TAKES:
            assert np.array_equal(p3[subject][take], poses_3d[subject][take])
    for src in SOURCES:
        p2 = _load(again / f"data_2d_h36m_{src}.npz", "positions_2d")
        for subject in SYNTHETIC_SUBJECTS:
            for take in SYNTHETIC_TAKES:
                for a, b in zip(p2[subject][take], poses_2d[src][subject][take]):
                    assert np.array_equal(a, b)

    other = generate_synthetic_h36m(tmp_path / "other", frames_per_take=FRAMES, seed=1, sources=("gt",))
    assert not (other / "data_2d_h36m_synth_det.npz").exists()
    p3 = _load(other / "data_3d_h36m.npz", "positions_3d")
    diff = [np.abs(p3[s][t] - poses_3d[s][t]).mean() for s in SYNTHETIC_SUBJECTS for t in SYNTHETIC_TAKES]
    assert min(diff) > 1e-3  # every take changes, not just a few


# ----------------------------------------------------------------------------- skeleton
def test_bone_lengths_constant_within_subject_and_different_between(poses_3d):
    child = np.array([c for c, _ in H36M_32.bones])
    parent = np.array([p for _, p in H36M_32.bones])
    mean_lengths = {}
    for subject, takes in poses_3d.items():
        x = np.concatenate([takes[t] for t in SYNTHETIC_TAKES]).astype(np.float64)
        lengths = np.linalg.norm(x[:, child] - x[:, parent], axis=-1)  # [frames, bones]
        assert np.abs(lengths - lengths[0]).max() < 1e-5, subject
        mean_lengths[subject] = lengths.mean(0)
        names = H36M_32.names
        thigh = mean_lengths[subject][list(child).index(names.index("RKnee"))]
        forearm = mean_lengths[subject][list(child).index(names.index("LWrist"))]
        assert 0.36 < thigh < 0.52 and 0.2 < forearm < 0.3, (subject, thigh, forearm)
    for a, b in combinations(SYNTHETIC_SUBJECTS, 2):
        assert np.abs(mean_lengths[a] - mean_lengths[b]).max() > 2e-3, (a, b)


# ----------------------------------------------------------------------------- cameras
def test_gt_2d_is_the_exact_projection(poses_3d, poses_2d):
    cams = _reference_cameras()
    worst = 0.0
    for subject in SYNTHETIC_SUBJECTS:
        for take in SYNTHETIC_TAKES:
            joints17 = poses_3d[subject][take][:, list(H36M_32_TO_17)]
            for cam, kp in zip(cams[subject], poses_2d["gt"][subject][take]):
                uv, _ = _reference_project(joints17, cam)
                worst = max(worst, np.abs(uv - kp).max())
    assert worst < 1e-3, worst


def test_every_joint_in_front_of_every_camera_and_inside_the_image(poses_3d, poses_2d):
    cams = _reference_cameras()
    for subject in SYNTHETIC_SUBJECTS:
        for take in SYNTHETIC_TAKES:
            for c, cam in enumerate(cams[subject]):
                uv, depth = _reference_project(poses_3d[subject][take], cam)  # all 32 markers
                w, h = cam["size"]
                assert depth.min() > 1.0, (subject, take, c)
                inside = (uv >= 0).all() and (uv[..., 0] < w).all() and (uv[..., 1] < h).all()
                assert inside, (subject, take, c)
                for src in ("synth_det", "synth_sh"):
                    kp = poses_2d[src][subject][take][c]
                    assert (kp >= 0).all() and (kp[..., 0] < w).all() and (kp[..., 1] < h).all()


def test_world_frame_floor_and_capture_volume(poses_3d):
    for subject in SYNTHETIC_SUBJECTS:
        for take in SYNTHETIC_TAKES:
            x = poses_3d[subject][take]
            lowest = x[..., 2].min(axis=1)  # per frame: feet (or the pelvis) on the floor, z up
            assert np.all((lowest > 0.0) & (lowest < 0.05)), (subject, take)
            assert np.abs(x[..., :2]).max() < 3.0  # inside the capture volume around the origin
            head, hip = x[:, H36M_32.index("Head"), 2], x[:, 0, 2]
            assert np.all(head > hip + 0.3), (subject, take)


# ----------------------------------------------------------------------------- detections
def test_detections_are_noisy_versions_of_the_ground_truth(poses_2d):
    gt, det, sh = (poses_2d[s] for s in ("gt", "synth_det", "synth_sh"))
    err_det, err_sh, swapped = [], [], 0
    for subject in SYNTHETIC_SUBJECTS:
        for take in SYNTHETIC_TAKES:
            for g, d, s in zip(gt[subject][take], det[subject][take], sh[subject][take]):
                e = np.linalg.norm(d[:FRAMES] - g, axis=-1)  # [frames, 17]
                err_det.append(e)
                err_sh.append(np.linalg.norm(s[:FRAMES] - g[:, list(H36M_17_TO_16)], axis=-1))
                # a left/right swap: both joints far from their own truth, close to the other side's
                for l, r in zip(H36M_17.joints_left, H36M_17.joints_right):
                    apart = np.linalg.norm(g[:, l] - g[:, r], axis=-1) > 60
                    crossed = np.linalg.norm(d[:FRAMES, l] - g[:, r], axis=-1) < 30
                    crossed &= np.linalg.norm(d[:FRAMES, r] - g[:, l], axis=-1) < 30
                    swapped += int((apart & crossed).sum())
    err_det, err_sh = np.concatenate(err_det), np.concatenate(err_sh)
    assert 4.0 < err_det.mean() < 9.0, err_det.mean()
    assert err_sh.mean() > err_det.mean() + 2.0, (err_sh.mean(), err_det.mean())
    assert err_sh.mean() < 16.0
    # jitter is joint dependent: σ from the median of the Rayleigh-distributed error
    sigma = np.median(err_det, axis=0) / np.sqrt(2 * np.log(2))
    assert 2.5 < sigma.min() and sigma.max() < 9.0 and sigma.max() / sigma.min() > 1.8, sigma
    # ~1 % outliers of 20–60 px (pure jitter of σ ≤ 8 px essentially never exceeds 45 px)
    assert 0.001 < (err_det > 45).mean() < 0.01, (err_det > 45).mean()
    assert (err_det > 90).mean() < 0.002
    n_frames = FRAMES * len(SYNTHETIC_SUBJECTS) * len(SYNTHETIC_TAKES) * 4
    assert 0 < swapped < 0.02 * n_frames, swapped


def test_extra_detection_frames_continue_the_motion(poses_3d, poses_2d):
    cams = _reference_cameras()
    gaps = []
    for subject in SYNTHETIC_SUBJECTS:
        for take in SYNTHETIC_TAKES:
            for c, kp in enumerate(poses_2d["synth_det"][subject][take]):
                if kp.shape[0] > FRAMES:
                    last_pose = poses_3d[subject][take][-1, list(H36M_32_TO_17)]
                    last, _ = _reference_project(last_pose, cams[subject][c])
                    gaps.append(np.median(np.linalg.norm(kp[FRAMES:] - last, axis=-1)))
    assert gaps and np.median(gaps) < 15.0, np.median(gaps)


# ----------------------------------------------------------------------------- motion
def test_motion_is_smooth_and_alive(poses_3d):
    for subject in SYNTHETIC_SUBJECTS:
        for take in SYNTHETIC_TAKES:
            x = poses_3d[subject][take].astype(np.float64)
            step = np.linalg.norm(np.diff(x, axis=0), axis=-1)  # [frames − 1, 32] metres per frame
            jerk = np.linalg.norm(np.diff(x, n=2, axis=0), axis=-1)
            assert step.max() < 0.16, (subject, take, step.max())  # < 8 m/s at 50 fps
            assert jerk.max() < 0.05, (subject, take, jerk.max())
            assert step.mean() > 5e-4, (subject, take, step.mean())  # not frozen


def _descriptor(x: np.ndarray) -> np.ndarray:
    """Yaw- and position-invariant summary of a take: mean and spread of all 17-joint pairwise
    distances, pelvis height and horizontal speed."""
    j = x[:, list(H36M_32_TO_17)].astype(np.float64)
    i, k = np.triu_indices(17, 1)
    d = np.linalg.norm(j[:, i] - j[:, k], axis=-1)
    speed = np.linalg.norm(np.diff(j[:, 0, :2], axis=0), axis=-1).mean() * 50
    return np.concatenate([d.mean(0), d.std(0), [j[:, 0, 2].mean(), speed]])


def test_actions_differ_and_takes_differ(poses_3d):
    for subject in SYNTHETIC_SUBJECTS:
        takes = poses_3d[subject]
        group_desc = {
            g: np.mean([_descriptor(takes[t]) for t in SYNTHETIC_TAKES if t.split(" ")[0] == g], axis=0)
            for g in SYNTHETIC_ACTIONS
        }
        for a, b in combinations(SYNTHETIC_ACTIONS, 2):
            rms = np.sqrt(np.mean((group_desc[a] - group_desc[b]) ** 2))
            assert rms > 0.005, (subject, a, b, rms)
        for g in SYNTHETIC_ACTIONS:
            first, second = takes[g], takes[f"{g} 1"]
            rel = (first - first[:, :1]) - (second - second[:, :1])
            assert np.linalg.norm(rel, axis=-1).mean() > 0.02, (subject, g)


# ----------------------------------------------------------------------------- reuse, errors, CLI
def test_ensure_reuses_a_matching_directory_and_regenerates_otherwise(root, tmp_path, monkeypatch):
    calls = []

    def fake_generate(path, frames_per_take=200, seed=0, sources=()):
        calls.append((frames_per_take, seed, tuple(sources)))
        return Path(path)

    monkeypatch.setattr(layouts, "generate_synthetic_h36m", fake_generate)
    assert ensure_synthetic_h36m(root, frames_per_take=FRAMES, seed=0) == root
    assert ensure_synthetic_h36m(str(root), FRAMES, 0, sources=("synth_sh",)) == root
    assert calls == []
    ensure_synthetic_h36m(root, frames_per_take=FRAMES + 1, seed=0)
    ensure_synthetic_h36m(root, frames_per_take=FRAMES, seed=3)
    ensure_synthetic_h36m(tmp_path / "empty", frames_per_take=FRAMES, seed=0)
    assert calls == [(FRAMES + 1, 0, SYNTHETIC_SOURCES), (FRAMES, 3, SYNTHETIC_SOURCES),
                     (FRAMES, 0, SYNTHETIC_SOURCES)]  # fmt: skip

    # a different generator version or a missing file invalidates the directory
    copy = tmp_path / "copy"
    copy.mkdir()
    manifest = json.loads((root / "SYNTHETIC.json").read_text())
    (copy / "SYNTHETIC.json").write_text(json.dumps({**manifest, "version": -1}))
    for name in manifest["files"]:
        (copy / name).write_bytes(b"")
    ensure_synthetic_h36m(copy, frames_per_take=FRAMES, seed=0)
    assert len(calls) == 4
    (copy / "SYNTHETIC.json").write_text(json.dumps(manifest))
    ensure_synthetic_h36m(copy, frames_per_take=FRAMES, seed=0)
    assert len(calls) == 4
    (copy / "data_2d_h36m_synth_det.npz").unlink()
    ensure_synthetic_h36m(copy, frames_per_take=FRAMES, seed=0)
    assert len(calls) == 5


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"frames_per_take": 0}, "frames_per_take"),
        ({"frames_per_take": 2.5}, "frames_per_take"),
        ({"seed": -1}, "seed"),
        ({"sources": ("gt", "cpn_ft_h36m_dbb")}, "cpn_ft_h36m_dbb"),
    ],
)
def test_bad_arguments_raise_value_error(tmp_path, kwargs, message):
    with pytest.raises(ValueError, match=message):
        generate_synthetic_h36m(tmp_path, **kwargs)
    with pytest.raises(ValueError, match=message):
        ensure_synthetic_h36m(tmp_path, **kwargs)


def test_command_line_entry_point(tmp_path, capsys):
    root = tmp_path / "cli"
    main(["--root", str(root), "--frames-per-take", "3", "--seed", "2", "--sources", "gt"])
    out = capsys.readouterr().out
    assert "data_3d_h36m.npz" in out and "data_2d_h36m_gt.npz" in out and "630 mocap frames" in out
    manifest = json.loads((root / "SYNTHETIC.json").read_text())
    assert manifest["seed"] == 2 and manifest["frames_per_take"] == 3 and manifest["sources"] == ["gt"]
    p3 = _load(root / "data_3d_h36m.npz", "positions_3d")
    assert p3["S9"]["Walking 1"].shape == (3, 32, 3)
