"""``posegcn lift`` on own keypoints and ``posegcn predict``'s PredictionWriter."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from posegcn.cli import main
from posegcn.data import load_h36m
from posegcn.lift import (
    coco_to_h36m,
    lift_keypoints,
    load_module,
    read_keypoints,
    temporal_windows,
    to_model_layout,
)

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _plain_argv(monkeypatch):
    monkeypatch.setattr(sys, "argv", ["posegcn"])


def normalise(xy: np.ndarray, w: float, h: float) -> torch.Tensor:
    """Screen normalisation written out (conventions §2): x/w·2 − 1, y/w·2 − h/w."""
    out = np.empty_like(xy)
    out[..., 0] = xy[..., 0] / w * 2 - 1
    out[..., 1] = xy[..., 1] / w * 2 - h / w
    return torch.as_tensor(out, dtype=torch.float32)


def test_coco_to_h36m_mapping():
    coco = np.random.default_rng(0).uniform(0, 500, (3, 17, 2))
    h = coco_to_h36m(coco)
    mid_hip = (coco[:, 11] + coco[:, 12]) / 2
    thorax = (coco[:, 5] + coco[:, 6]) / 2
    expected = {
        0: mid_hip, 1: coco[:, 12], 2: coco[:, 14], 3: coco[:, 16], 4: coco[:, 11], 5: coco[:, 13],
        6: coco[:, 15], 7: (mid_hip + thorax) / 2, 8: thorax, 9: coco[:, 0], 10: (coco[:, 1] + coco[:, 2]) / 2,
        11: coco[:, 5], 12: coco[:, 7], 13: coco[:, 9], 14: coco[:, 6], 15: coco[:, 8], 16: coco[:, 10],
    }  # fmt: skip
    for j, value in expected.items():
        np.testing.assert_allclose(h[:, j], value, err_msg=str(j))


def test_layout_conversion_to_the_model_skeleton():
    from posegcn.skeleton import H36M_16, H36M_17

    kp = np.random.default_rng(0).uniform(0, 500, (2, 17, 2)).astype(np.float32)
    np.testing.assert_array_equal(to_model_layout(kp, "h36m17", H36M_16), np.delete(kp, 9, axis=1))
    np.testing.assert_array_equal(to_model_layout(kp, "h36m17", H36M_17), kp)
    assert to_model_layout(kp, "coco17", H36M_16).shape == (2, 16, 2)
    with pytest.raises(ValueError, match="16-joint input cannot feed a 17-joint model"):
        to_model_layout(kp[:, :16], "h36m16", H36M_17)
    with pytest.raises(ValueError, match="has 17 joints"):
        to_model_layout(kp[:, :16], "coco17", H36M_17)


def test_read_keypoints_formats_and_errors(tmp_path):
    kp = np.random.default_rng(0).uniform(0, 500, (4, 17, 3)).astype(np.float32)  # with confidences
    np.savez(tmp_path / "a.npz", keypoints=kp, width=640, height=480, layout="coco17")
    got = read_keypoints(str(tmp_path / "a.npz"))
    np.testing.assert_array_equal(got.xy, kp[..., :2])
    assert (got.width, got.height, got.layout) == (640.0, 480.0, "coco17")
    (tmp_path / "b.json").write_text(
        json.dumps({"keypoints": kp[..., :2].tolist(), "width": 640, "height": 480})
    )
    got = read_keypoints(str(tmp_path / "b.json"), layout="coco17", width=1280)
    assert (got.width, got.layout) == (1280.0, "coco17")
    assert read_keypoints(str(tmp_path / "b.json")).layout == "h36m17"  # 17 joints default to H36M order
    np.savez(tmp_path / "c.npz", keypoints=kp[..., :2])
    with pytest.raises(KeyError, match=r"c\.npz.*width"):
        read_keypoints(str(tmp_path / "c.npz"))
    np.savez(tmp_path / "d.npz", keypoints=kp[:, :15, :2], width=1, height=1)
    with pytest.raises(ValueError, match="layout"):
        read_keypoints(str(tmp_path / "d.npz"))
    # a NaN joint is read as missing (confidence 0), to be interpolated by `posegcn lift`
    bad = kp[..., :2].copy()
    bad[0, 0, 0] = np.nan
    np.savez(tmp_path / "e.npz", keypoints=bad, width=640, height=480)
    got = read_keypoints(str(tmp_path / "e.npz"))
    assert got.confidence[0, 0] == 0 and (got.confidence.sum() == got.confidence.size - 1)


def test_temporal_windows_are_edge_padded():
    w = temporal_windows(3, 4)  # centre at position 1
    assert w.tolist() == [[0, 0, 1, 2], [0, 1, 2, 2], [1, 2, 2, 2]]


def test_lift_coco_json_end_to_end(tmp_path, modgcn_run):
    ckpt = modgcn_run.best  # written by `posegcn fit --config configs/modgcn.yaml` (16 joints)
    coco = np.random.default_rng(1).uniform(100, 900, (5, 17, 2)).astype(np.float32)
    (tmp_path / "kp.json").write_text(
        json.dumps({"keypoints": coco.tolist(), "width": 1000, "height": 800, "layout": "coco17"})
    )
    out = tmp_path / "out" / "poses.npz"
    main(["lift", "--ckpt", str(ckpt), "--input", str(tmp_path / "kp.json"), "--output", str(out),
          "--plot", str(tmp_path / "plots"), "--gif"])  # fmt: skip
    res = np.load(out)
    module = load_module(str(ckpt))
    assert res["poses_3d"].shape == (5, 16, 3) and res["poses_3d"].dtype == np.float32
    assert str(res["units"]) == "millimetres" and bool(res["root_relative"])
    assert list(res["joint_names"]) == list(module.skeleton.names)
    assert str(res["input_layout"]) == "coco17" and str(res["model_class"]) == type(module).__name__
    # independent reference: COCO → H36M-17 → drop Neck/Nose, normalise, run the net, mm, root-relative
    h16 = np.delete(coco_to_h36m(coco), 9, axis=1)
    np.testing.assert_allclose(res["keypoints_2d"], h16, rtol=1e-6)
    with torch.no_grad():
        pred = module(normalise(h16, 1000, 800))
    expected = ((pred - pred[:, :1]) * 1000).numpy()
    np.testing.assert_allclose(res["poses_3d"], expected, atol=1e-3)
    assert np.abs(res["poses_3d"][:, 0]).max() == 0
    assert (tmp_path / "plots" / "poses.png").is_file()
    with Image.open(tmp_path / "plots" / "poses.gif") as gif:
        assert gif.n_frames == 5


def test_load_module_restores_the_checkpoint_weights(modgcn_run, tmp_path):
    loaded = load_module(str(modgcn_run.last))
    state = torch.load(modgcn_run.last, map_location="cpu", weights_only=True)["state_dict"]
    assert not loaded.training and loaded.state_dict().keys() == state.keys()
    for key, value in state.items():
        assert torch.equal(loaded.state_dict()[key], value), key
    # a plain Lightning checkpoint (no hyper-parameters recorded by the posegcn command) is refused
    plain = {k: v for k, v in torch.load(modgcn_run.last, map_location="cpu", weights_only=False).items()
             if k != "hyper_parameters"}  # fmt: skip
    torch.save(plain, tmp_path / "plain.ckpt")
    with pytest.raises(KeyError, match=r"plain\.ckpt"):
        load_module(str(tmp_path / "plain.ckpt"))


def test_lift_temporal_model_uses_edge_padded_windows(dgnet_run):
    loaded = load_module(str(dgnet_run.last))  # DG-Net, 17 joints, T = 4: centre (4 − 1) // 2 = 1
    assert not loaded.training and loaded.num_frames == 4
    kp = np.random.default_rng(2).uniform(0, 1000, (5, 17, 2)).astype(np.float32)
    got = lift_keypoints(loaded, kp, 1000, 1000, batch_size=3)
    x = normalise(kp, 1000, 1000)
    with torch.no_grad():
        for f in range(5):
            window = torch.stack([x[min(max(t, 0), 4)] for t in (f - 1, f, f + 1, f + 2)])
            pred = loaded(window[None])[0, 1]
            np.testing.assert_allclose(got[f], (pred - pred[0]).numpy(), atol=1e-5, err_msg=str(f))


@pytest.mark.slow
def test_predict_writes_h36m_predictions_with_indices(h36m_root, tmp_path, modgcn_run):
    args = [
        "--config", str(REPO / "configs" / "modgcn.yaml"), "--data.root", str(h36m_root),
        "--data.train_subjects", "[S1]", "--data.val_subjects", "[S5]", "--data.test_subjects", "[S9]",
        "--data.eval_batch_size", "10", "--trainer.enable_progress_bar", "false",
        "--trainer.default_root_dir", str(tmp_path / "run"),
    ]  # fmt: skip
    main(["predict", *args, "--ckpt_path", str(modgcn_run.best)])
    found = sorted((tmp_path / "run").rglob("predictions.npz"))
    assert found, "predictions.npz was not written"
    res = np.load(found[-1])
    test = load_h36m(h36m_root, "gt", subjects=["S9"], num_joints=16)
    n = len(test)
    assert res["poses_3d"].shape == (n, 16, 3)
    np.testing.assert_array_equal(res["index"], np.arange(n))
    np.testing.assert_allclose(res["poses_3d_gt"], test.pose_3d.numpy() * 1000, rtol=1e-6)
    np.testing.assert_array_equal(res["frame"], test.frame.numpy())
    np.testing.assert_array_equal(res["camera"], test.camera.numpy())
    assert set(res["take"]) == {name for _, name, _ in test.sequence_names}
    assert [res["subject_names"][s] for s in set(res["subject"].tolist())] == ["S9"]
    assert set(res["action_names"][res["action"]]) == {"Eating", "Walking"}
    # the checkpoint's network, outside the command
    model = load_module(str(modgcn_run.best))
    with torch.no_grad():
        expected = model(test.pose_2d).numpy() * 1000
    np.testing.assert_allclose(res["poses_3d"], expected, atol=1e-3)
    mpjpe = np.linalg.norm(res["poses_3d"] - res["poses_3d_gt"], axis=-1).mean()
    assert np.isfinite(mpjpe)
