"""Detector outputs for ``posegcn lift``: COCO results, OpenPose folders, VideoPose3D custom files,
keypoints with missing joints.  Every file is built here, in the exact layout the tools write."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from test_predict import normalise

from posegcn.cli import main
from posegcn.lift.formats import (
    COCO_17_NAMES,
    OPENPOSE_18_NAMES,
    OPENPOSE_25_NAMES,
    Keypoints,
    MissingJointError,
    NoPersonError,
    detect_format,
    fill_missing,
    interpolate_missing,
    read_keypoint_file,
    to_model_layout,
)
from posegcn.lift.lifting import _parser as lift_parser
from posegcn.lift.lifting import load_module
from posegcn.lift.lifting import main as lift_main
from posegcn.skeleton import H36M_16, H36M_17

W, H = 1000, 800


def coco_pose(rng: np.random.Generator) -> np.ndarray:
    """A COCO-17 pose ``[17, 2]`` well inside a W×H image."""
    return rng.uniform(300, 700, (17, 2)).astype(np.float32)


def openpose_from_coco(coco: np.ndarray, layout: str, rng: np.random.Generator) -> np.ndarray:
    """The same body points in OpenPose order: joints by name, Neck = mid-shoulder, MidHip = mid-hip."""
    by_name = {
        name.replace("left_", "L").replace("right_", "R").replace("_", "").lower(): coco[i]
        for i, name in enumerate(COCO_17_NAMES)
    }
    by_name["neck"] = (coco[5] + coco[6]) / 2
    by_name["midhip"] = (coco[11] + coco[12]) / 2
    names = OPENPOSE_25_NAMES if layout == "openpose25" else OPENPOSE_18_NAMES
    # feet: points COCO does not have (the mapping must ignore them)
    return np.stack([by_name.get(n.lower(), rng.uniform(0, 1000, 2)) for n in names]).astype(np.float32)


def reference_fill(xy: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Missing joints written out: np.interp over the valid frames of each joint (edges held)."""
    out = xy.copy()
    t = np.arange(len(xy))
    for j in range(xy.shape[1]):
        for d in range(xy.shape[2]):
            out[:, j, d] = np.interp(t, t[valid[:, j]], xy[valid[:, j], j, d])
    return out


def one_line(exc: pytest.ExceptionInfo, *names: str) -> str:
    text = str(exc.value).strip("'\"")
    assert "\n" not in text, text
    for name in names:
        assert name in text, text
    return text


# --------------------------------------------------------------------------- layouts
@pytest.mark.parametrize("layout", ["openpose25", "openpose18"])
def test_openpose_layouts_map_to_the_same_h36m_joints_as_coco(layout):
    rng = np.random.default_rng(0)
    coco = np.stack([coco_pose(rng) for _ in range(3)])
    op = np.stack([openpose_from_coco(c, layout, rng) for c in coco])
    for skeleton in (H36M_17, H36M_16):
        np.testing.assert_allclose(
            to_model_layout(op, layout, skeleton), to_model_layout(coco, "coco17", skeleton), rtol=1e-5
        )
    names = OPENPOSE_25_NAMES if layout == "openpose25" else OPENPOSE_18_NAMES
    j = {n: i for i, n in enumerate(names)}
    h = to_model_layout(op, layout, H36M_17)
    np.testing.assert_allclose(h[:, 0], (op[:, j["RHip"]] + op[:, j["LHip"]]) / 2, rtol=1e-6)  # Hip
    np.testing.assert_allclose(h[:, 8], op[:, j["Neck"]])  # Thorax
    np.testing.assert_allclose(h[:, 7], (h[:, 0] + op[:, j["Neck"]]) / 2, rtol=1e-6)  # Spine
    np.testing.assert_allclose(h[:, 10], (op[:, j["REye"]] + op[:, j["LEye"]]) / 2, rtol=1e-6)  # Head
    np.testing.assert_allclose(h[:, 13], op[:, j["LWrist"]])
    np.testing.assert_allclose(h[:, 3], op[:, j["RAnkle"]])  # RFoot
    unused = [j[n] for n in ("REar", "LEar")] + [j[n] for n in names if "Toe" in n or "Heel" in n]
    op[:, unused] = np.nan  # unused joints never reach the output
    assert np.isfinite(to_model_layout(op, layout, H36M_17)).all()


# --------------------------------------------------------------------------- interpolation
def test_interpolation_is_linear_between_valid_frames_and_holds_the_edges():
    rng = np.random.default_rng(1)
    xy = rng.uniform(0, 1000, (9, 5, 2)).astype(np.float32)
    valid = rng.uniform(size=(9, 5)) > 0.5
    valid[5, [0, 4]] = True
    valid[:, 1] = False  # joint 1: valid in frame 4 only
    valid[4, 1] = True
    valid[:, 2] = True
    valid[[0, 8], 3] = False
    valid[[1, 7], 3] = True
    got = interpolate_missing(np.where(valid[..., None], xy, np.nan), valid)
    np.testing.assert_allclose(got, reference_fill(xy, valid), rtol=1e-5)
    np.testing.assert_array_equal(got[:, 1], np.repeat(xy[4:5, 1], 9, axis=0))  # one valid frame: held
    np.testing.assert_array_equal(got[:, 2], xy[:, 2])  # all valid: untouched
    np.testing.assert_array_equal(got[0, 3], xy[1, 3])  # edges held
    np.testing.assert_array_equal(got[8, 3], xy[7, 3])


def test_fill_missing_threshold_counts_and_named_errors(tmp_path):
    rng = np.random.default_rng(2)
    xy = np.stack([coco_pose(rng) for _ in range(6)])
    conf = np.full((6, 17), 0.9, np.float32)
    conf[1, 9] = 0.0  # left_wrist missed
    xy[2, 10] = np.nan  # right_wrist NaN
    conf[3, 10] = 0.2  # low confidence: valid at the default threshold, missing at 0.5
    conf[:, 3] = 0.0  # left_ear never seen: not used by the mapping, so no error
    kp = Keypoints(xy, W, H, "coco17", "kp.npz", confidence=conf)
    used = np.ones(17, bool)
    used[[3, 4]] = False
    filled_xy, filled = fill_missing(kp, 0.1, used)
    assert sorted(zip(*np.nonzero(filled))) == [(1, 9), (2, 10)]
    valid = ~filled & used
    np.testing.assert_allclose(filled_xy[:, used], reference_fill(xy[:, used], valid[:, used]), rtol=1e-6)
    np.testing.assert_allclose(filled_xy[1, 9], (xy[0, 9] + xy[2, 9]) / 2, rtol=1e-6)
    _, filled = fill_missing(kp, 0.5, used)
    assert sorted(zip(*np.nonzero(filled))) == [(1, 9), (2, 10), (3, 10)]
    with pytest.raises(MissingJointError) as exc:
        fill_missing(kp, 0.1)  # now left_ear is needed
    one_line(exc, "kp.npz", "'left_ear' (coco17 3)", "6 frames")
    with pytest.raises(NoPersonError) as exc:
        fill_missing(kp, 0.95, used)
    one_line(exc, "kp.npz", "no person")


# --------------------------------------------------------------------------- COCO results
def coco_results(tmp_path: Path, rng: np.random.Generator) -> tuple[Path, dict, list]:
    """Image ids 2, 3, 7, 10 (listed out of order), two people in some images, a missed joint.

    Returns the file, the poses per (image, track) and the entries.
    """
    poses = {}
    entries = []

    def add(image_id, track, score, missing=()):
        pose = coco_pose(rng)
        kp = np.concatenate([pose, np.full((17, 1), score, np.float32)], axis=1)
        kp[list(missing)] = 0.0  # COCO writes [0, 0, 0] for a joint it did not find
        poses[image_id, track] = kp
        entries.append(
            {"image_id": image_id, "category_id": 1, "keypoints": kp.ravel().tolist(), "score": 0.99,
             "track_id": track}
        )  # fmt: skip

    add(3, 2, 0.5)
    add(3, 1, 0.9)
    add(10, 2, 0.8)
    add(2, 1, 0.9, missing=[9])  # left_wrist missed
    add(7, 1, 0.6)
    add(7, 2, 0.7)
    entries.append({"image_id": 5, "category_id": 2, "keypoints": [0.0] * 51, "score": 0.9})  # not a person
    path = tmp_path / "results.json"
    path.write_text(json.dumps(entries))
    return path, poses, entries


def test_coco_results_selection_ordering_and_track_id(tmp_path):
    path, poses, _ = coco_results(tmp_path, np.random.default_rng(3))
    kp = read_keypoint_file(str(path), width=W, height=H)
    assert kp.format == "coco" and kp.layout == "coco17" and (kp.width, kp.height) == (W, H)
    assert kp.frame_ids.tolist() == [2, 3, 7, 10]  # sorted image ids; 5 held no person
    # reference: the highest mean keypoint score of each image
    expected = [max((p for (i, _), p in poses.items() if i == image), key=lambda p: p[:, 2].mean())
                for image in (2, 3, 7, 10)]  # fmt: skip
    for f, person in enumerate(expected):
        np.testing.assert_array_equal(kp.xy[f], person[:, :2])
        np.testing.assert_array_equal(kp.confidence[f], person[:, 2])
    assert kp.confidence[0, 9] == 0  # the missed left wrist
    np.testing.assert_array_equal(kp.xy[2], poses[7, 2][:, :2])  # 0.7 beats 0.6
    # a track id: that person in every image, missing where it is absent
    kp = read_keypoint_file(str(path), width=W, height=H, track_id=1)
    for f, image in enumerate((2, 3, 7)):
        np.testing.assert_array_equal(kp.xy[f], poses[image, 1][:, :2])
    assert np.isnan(kp.xy[3]).all() and (kp.confidence[3] == 0).all()
    xy, filled = fill_missing(kp)
    assert filled[3].all() and filled[0, 9] and filled.sum() == 18
    np.testing.assert_array_equal(xy[3], kp.xy[2])  # last frame holds the last valid one
    with pytest.raises(NoPersonError) as exc:
        read_keypoint_file(str(path), width=W, height=H, track_id=7)
    one_line(exc, "results.json", "track_id 7", "[1, 2]")
    # on the command line --person N is --track-id N
    args = ["--ckpt", "c", "--input", "i", "--output", "o"]
    assert lift_parser().parse_args([*args, "--person", "1"]).track_id == 1


def test_coco_results_errors_are_one_line_and_name_the_file(tmp_path):
    path, _, entries = coco_results(tmp_path, np.random.default_rng(4))
    with pytest.raises(ValueError) as exc:
        read_keypoint_file(str(path))
    one_line(exc, "results.json", "--width and --height")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{**entries[0], "keypoints": entries[0]["keypoints"][:34]}]))
    with pytest.raises(ValueError) as exc:
        read_keypoint_file(str(bad), width=W, height=H)
    one_line(exc, "bad.json", "51 values", "(34,)")
    bad.write_text(json.dumps([entries[-1]]))  # only a non-person detection
    with pytest.raises(NoPersonError) as exc:
        read_keypoint_file(str(bad), width=W, height=H)
    one_line(exc, "bad.json", "category_id 1")


# --------------------------------------------------------------------------- OpenPose
def write_openpose_folder(folder: Path, people_per_frame: list[list[dict]]) -> None:
    """OpenPose --write_json output; names ``clip_<n>_keypoints.json`` without zero padding."""
    folder.mkdir()
    for n, people in enumerate(people_per_frame):
        frame = {"version": 1.3, "people": [
            {"person_id": p.get("id", [-1]), "pose_keypoints_2d": p["kp"].ravel().tolist(),
             "face_keypoints_2d": [], "hand_left_keypoints_2d": [], "hand_right_keypoints_2d": []}
            for p in people
        ]}  # fmt: skip
        (folder / f"clip_{n}_keypoints.json").write_text(json.dumps(frame))


def openpose_person(rng, layout: str, score: float) -> np.ndarray:
    xy = openpose_from_coco(coco_pose(rng), layout, rng)
    return np.concatenate([xy, np.full((len(xy), 1), score, np.float32)], axis=1)


def test_openpose_folder_natural_order_selection_and_missing_joints(tmp_path):
    rng = np.random.default_rng(5)
    frames = []
    for n in range(12):  # 12 files: clip_10 must come after clip_9
        people = [{"kp": openpose_person(rng, "openpose25", 0.8), "id": [n % 2]}]
        if n in (4, 10):  # a second, more confident person
            people.append({"kp": openpose_person(rng, "openpose25", 0.95), "id": [5]})
        frames.append(people)
    frames[6] = []  # nobody detected
    frames[3][0]["kp"][4] = 0.0  # RWrist missed: OpenPose writes 0, 0, 0
    write_openpose_folder(tmp_path / "json", frames)
    kp = read_keypoint_file(str(tmp_path / "json"), width=W, height=H)
    assert kp.format == "openpose" and kp.layout == "openpose25"
    assert kp.frame_ids.tolist() == list(range(12))
    for n, people in enumerate(frames):
        if people:
            best = max(people, key=lambda p: p["kp"][:, 2].mean())["kp"]
            np.testing.assert_array_equal(kp.xy[n], best[:, :2], err_msg=str(n))
    assert np.isnan(kp.xy[6]).all()
    np.testing.assert_array_equal(kp.xy[10], frames[10][1]["kp"][:, :2])
    used = np.zeros(25, bool)
    used[:17] = True
    xy, filled = fill_missing(kp, 0.1, used)
    assert filled[6, :17].all() and filled[3, 4] and filled.sum() == 18
    np.testing.assert_allclose(xy[6, :17], (kp.xy[5, :17] + kp.xy[7, :17]) / 2, rtol=1e-6)
    # person_id selects a track; COCO-18 is detected from 54 values per person
    kp = read_keypoint_file(str(tmp_path / "json"), width=W, height=H, track_id=5)
    assert np.isfinite(kp.xy[[4, 10]]).all() and np.isnan(np.delete(kp.xy, [4, 10], axis=0)).all()
    write_openpose_folder(tmp_path / "coco18", [[{"kp": openpose_person(rng, "openpose18", 0.9)}]] * 2)
    kp = read_keypoint_file(str(tmp_path / "coco18"), width=W, height=H)
    assert kp.layout == "openpose18" and kp.xy.shape == (2, 18, 2)


def test_openpose_errors_are_one_line_and_name_the_file(tmp_path):
    rng = np.random.default_rng(6)
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError) as exc:
        read_keypoint_file(str(tmp_path / "empty"), width=W, height=H)
    one_line(exc, "empty", "*_keypoints.json")
    write_openpose_folder(tmp_path / "nosize", [[{"kp": openpose_person(rng, "openpose25", 0.9)}]] * 2)
    with pytest.raises(ValueError) as exc:
        read_keypoint_file(str(tmp_path / "nosize"))
    one_line(exc, "nosize", "--width and --height")
    write_openpose_folder(
        tmp_path / "mixed",
        [
            [{"kp": openpose_person(rng, "openpose25", 0.9)}],
            [{"kp": openpose_person(rng, "openpose18", 0.9)}],
        ],
    )
    with pytest.raises(ValueError) as exc:
        read_keypoint_file(str(tmp_path / "mixed"), width=W, height=H)
    one_line(exc, "clip_1_keypoints.json", "openpose18", "openpose25")
    write_openpose_folder(tmp_path / "nobody", [[], []])
    with pytest.raises(NoPersonError) as exc:
        read_keypoint_file(str(tmp_path / "nobody"), width=W, height=H)
    one_line(exc, "nobody", "no person")
    write_openpose_folder(tmp_path / "odd", [[{"kp": np.ones((20, 3), np.float32)}]])
    with pytest.raises(ValueError) as exc:
        read_keypoint_file(str(tmp_path / "odd"), width=W, height=H)
    one_line(exc, "clip_0_keypoints.json", "60 values", "75 (BODY_25)")


# --------------------------------------------------------------------------- VideoPose3D
def write_videopose3d(path: Path, videos: dict[str, np.ndarray]) -> None:
    """As VideoPose3D's data/prepare_data_2d_custom.py writes it (suggest_metadata('coco'))."""
    metadata = {
        "layout_name": "coco",
        "num_joints": 17,
        "keypoints_symmetry": [[1, 3, 5, 7, 9, 11, 13, 15], [2, 4, 6, 8, 10, 12, 14, 16]],
        "video_metadata": {name: {"w": W, "h": H} for name in videos},
    }
    output = {name: {"custom": [kp.astype("float32")]} for name, kp in videos.items()}
    np.savez_compressed(path, positions_2d=output, metadata=metadata)


def test_videopose3d_custom_file(tmp_path):
    rng = np.random.default_rng(7)
    walk, run = np.stack([coco_pose(rng) for _ in range(5)]), np.stack([coco_pose(rng) for _ in range(3)])
    path = tmp_path / "data_2d_custom_myvideos.npz"
    write_videopose3d(path, {"walk.mp4": walk, "run.mp4": run})
    assert detect_format(str(path)) == "videopose3d"
    with pytest.raises(ValueError) as exc:
        read_keypoint_file(str(path))
    one_line(exc, "data_2d_custom_myvideos.npz", "--video", "'run.mp4'", "'walk.mp4'")
    kp = read_keypoint_file(str(path), video="walk.mp4")
    np.testing.assert_array_equal(kp.xy, walk)
    assert (kp.width, kp.height, kp.layout) == (W, H, "coco17") and (kp.confidence == 1).all()
    with pytest.raises(KeyError) as exc:
        read_keypoint_file(str(path), video="swim.mp4")
    one_line(exc, "data_2d_custom_myvideos.npz", "'swim.mp4'")
    np.savez_compressed(tmp_path / "nometa.npz", positions_2d={"walk.mp4": {"custom": [walk]}})
    with pytest.raises(KeyError) as exc:
        read_keypoint_file(str(tmp_path / "nometa.npz"))
    one_line(exc, "nometa.npz", "'metadata'")


# --------------------------------------------------------------------------- detection and --format
def test_format_detection_and_forcing(tmp_path):
    rng = np.random.default_rng(8)
    coco, _, _ = coco_results(tmp_path, rng)
    write_openpose_folder(tmp_path / "op", [[{"kp": openpose_person(rng, "openpose25", 0.9)}]])
    np.savez(tmp_path / "own.npz", keypoints=coco_pose(rng)[None], width=W, height=H, layout="coco17")
    write_videopose3d(tmp_path / "vp3d.npz", {"v": coco_pose(rng)[None]})
    found = {
        p: detect_format(str(tmp_path / p))
        for p in ("results.json", "op", "op/clip_0_keypoints.json", "own.npz", "vp3d.npz")
    }
    assert found == {"results.json": "coco", "op": "openpose", "op/clip_0_keypoints.json": "openpose",
                     "own.npz": "posegcn", "vp3d.npz": "videopose3d"}  # fmt: skip
    # --format reads a file whose name says nothing; a wrong --format is a named error
    renamed = tmp_path / "detections.txt"
    renamed.write_text(coco.read_text())
    with pytest.raises(ValueError) as exc:
        read_keypoint_file(str(renamed), width=W, height=H)
    one_line(exc, "detections.txt", "'.txt'")
    assert read_keypoint_file(str(renamed), format="coco", width=W, height=H).format == "coco"
    with pytest.raises(ValueError) as exc:
        read_keypoint_file(str(coco), format="posegcn")
    one_line(exc, "results.json", "JSON object")
    with pytest.raises(ValueError) as exc:
        read_keypoint_file(str(tmp_path / "own.npz"), format="coco")
    one_line(exc, "own.npz", "not valid JSON")
    with pytest.raises(ValueError) as exc:
        read_keypoint_file(str(tmp_path / "op"), width=W, height=H, layout="h36m17")
    one_line(exc, "op", "--layout h36m17", "openpose25")


# --------------------------------------------------------------------------- posegcn lift end to end
@pytest.fixture
def checkpoint(modgcn_run) -> tuple[torch.nn.Module, Path]:
    """``best.ckpt`` of the session's ``posegcn fit --config configs/modgcn.yaml`` (16 joints), loaded."""
    return load_module(str(modgcn_run.best)), modgcn_run.best


def expected_poses(module: torch.nn.Module, h16: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        pred = module(normalise(h16, W, H))
    return ((pred - pred[:, :1]) * 1000).numpy()


def test_lift_from_coco_results(tmp_path, checkpoint, capsys):
    module, ckpt = checkpoint
    path, poses, _ = coco_results(tmp_path, np.random.default_rng(9))
    out = tmp_path / "poses.npz"
    main(["lift", "--ckpt", str(ckpt), "--input", str(path), "--output", str(out),
          "--width", str(W), "--height", str(H)])  # fmt: skip
    printed = capsys.readouterr().out
    assert "filled 1 of 56 detector joint positions" in printed
    assert "note: the frame ids skip numbers 2 time(s) (first after 3)" in printed
    res = np.load(out)
    # reference: best person per image, the missed left wrist (image 2, the first frame) held
    # from the next frame, COCO → H36M-16 by the named joints
    coco = np.stack([max((p for (i, _), p in poses.items() if i == image), key=lambda p: p[:, 2].mean())[:, :2]
                     for image in (2, 3, 7, 10)])  # fmt: skip
    coco[0, 9] = coco[1, 9]
    h16 = np.delete(to_model_layout(coco, "coco17", H36M_17), 9, axis=1)
    np.testing.assert_allclose(res["keypoints_2d"], h16, rtol=1e-6)
    np.testing.assert_allclose(res["poses_3d"], expected_poses(module, h16), atol=1e-3)
    assert res["frame_ids"].tolist() == [2, 3, 7, 10] and str(res["input_format"]) == "coco"
    # the left wrist feeds H36M-16 LWrist (12) only
    assert res["filled_mask"].shape == (4, 16) and np.argwhere(res["filled_mask"]).tolist() == [[0, 12]]
    assert int(res["num_filled"]) == 1 and int(res["num_filled_input"]) == 1
    assert res["input_filled_mask"].shape == (4, 17) and res["input_filled_mask"][0, 9]


def test_lift_from_openpose_folder(tmp_path, checkpoint, capsys):
    module, ckpt = checkpoint
    rng = np.random.default_rng(10)
    frames = [[{"kp": openpose_person(rng, "openpose25", 0.8)}] for _ in range(5)]
    frames[2] = []
    frames[0][0]["kp"][15, 2] = 0.05  # REye below --min-confidence 0.1
    write_openpose_folder(tmp_path / "json", frames)
    out = tmp_path / "poses.npz"
    main(["lift", "--ckpt", str(ckpt), "--input", str(tmp_path / "json"), "--output", str(out),
          "--width", str(W), "--height", str(H), "--format", "openpose"])  # fmt: skip
    # BODY_25 joints a 16-joint model reads: 1-7, 9-16 (no Nose, MidHip, ears, feet): 15 per frame
    assert "filled 16 of 75 detector joint positions" in capsys.readouterr().out
    res = np.load(out)
    op = np.stack([f[0]["kp"][:, :2] if f else np.full((25, 2), np.nan, np.float32) for f in frames])
    op[2] = (op[1] + op[3]) / 2
    op[0, 15] = op[1, 15]
    h16 = np.delete(to_model_layout(op, "openpose25", H36M_17), 9, axis=1)
    np.testing.assert_allclose(res["keypoints_2d"], h16, rtol=1e-5)
    np.testing.assert_allclose(res["poses_3d"], expected_poses(module, h16), atol=1e-3)
    assert res["filled_mask"][2].all() and np.flatnonzero(res["filled_mask"][0]).tolist() == [9]  # Head
    assert str(res["input_layout"]) == "openpose25" and float(res["min_confidence"]) == pytest.approx(0.1)


def test_lift_refuses_a_joint_never_seen_in_one_line(tmp_path, checkpoint, capsys):
    _, ckpt = checkpoint
    xy = np.stack([coco_pose(np.random.default_rng(11)) for _ in range(3)])
    xy[:, 0] = np.nan  # the nose is never detected; a 16-joint model does not need it
    np.savez(tmp_path / "kp.npz", keypoints=xy, width=W, height=H, layout="coco17")
    out = tmp_path / "poses.npz"
    lift = ["lift", "--ckpt", str(ckpt), "--input", str(tmp_path / "kp.npz"), "--output", str(out)]
    main(lift)
    assert np.load(out)["num_filled"] == 0
    xy[:, 1] = np.nan  # the left eye: Head needs it
    np.savez(tmp_path / "kp.npz", keypoints=xy, width=W, height=H, layout="coco17")
    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        main(lift)
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and err.startswith("posegcn: error: ") and "Traceback" not in err
    assert "kp.npz: joint(s) 'left_eye' (coco17 1) never valid in the 3 frames" in err
    with pytest.raises(MissingJointError):  # the command's error, raised by posegcn.lift.lifting.main
        lift_main(lift[1:])
