"""Camera geometry and the screen normalisation against references written out in plain numpy (conventions.md §2)."""

import numpy as np
import pytest
import torch

from posegcn.camera import (
    camera_to_world,
    load_h36m_cameras,
    project_to_2d,
    qinverse,
    qrot,
    rotation_matrix,
    world_to_camera,
)
from posegcn.data import PoseCodec


def quat_to_matrix(q):
    w, x, y, z = q
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
    )


def reference_projection(x_cam, f, c, k, p):
    out = []
    for point in x_cam.reshape(-1, 3):
        xx = np.clip(point[:2] / point[2], -1, 1)
        r2 = xx @ xx
        radial = 1 + k[0] * r2 + k[1] * r2**2 + k[2] * r2**3
        tan = p @ xx
        out.append(f * (xx * (radial + tan) + p * r2) + c)
    return np.array(out).reshape(*x_cam.shape[:-1], 2)


def test_calibration_has_four_cameras_for_seven_subjects():
    cams = load_h36m_cameras()
    assert sorted(cams) == sorted(["S1", "S5", "S6", "S7", "S8", "S9", "S11"])
    for subject_cams in cams.values():
        assert len(subject_cams) == 4
        assert [c.res_h for c in subject_cams] == [1002, 1000, 1000, 1002]
        # translations are converted from millimetres to metres
        assert all(1.0 < np.linalg.norm(c.translation) < 10.0 for c in subject_cams)


def test_qrot_matches_rotation_matrix():
    rng = np.random.default_rng(0)
    q = rng.normal(size=4)
    q /= np.linalg.norm(q)
    v = rng.normal(size=(7, 3))
    np.testing.assert_allclose(qrot(q, v), v @ quat_to_matrix(q).T, atol=1e-12)


def test_world_camera_round_trip_and_reference():
    cam = load_h36m_cameras()["S9"][2]
    rng = np.random.default_rng(1)
    x_world = rng.normal(size=(3, 5, 3)) + np.array([0, 0, 1.0])
    q, t = np.asarray(cam.orientation), np.asarray(cam.translation)
    q = q / np.linalg.norm(q)  # the stored calibration is unit only to float32 precision
    x_cam = world_to_camera(x_world, q, t)
    reference = (x_world - t) @ quat_to_matrix(q)  # R^T (x - t), written row-wise
    np.testing.assert_allclose(x_cam, reference, atol=1e-10)
    np.testing.assert_allclose(camera_to_world(x_cam, q, t), x_world, atol=1e-10)
    # torch tensors work the same way and stay tensors
    out = world_to_camera(torch.as_tensor(x_world), q, t)
    assert isinstance(out, torch.Tensor)
    np.testing.assert_allclose(out.numpy(), reference, atol=1e-10)


@pytest.mark.parametrize("cam_index", [0, 1, 2, 3])
def test_projection_matches_reference(cam_index):
    cam = load_h36m_cameras()["S1"][cam_index]
    rng = np.random.default_rng(cam_index)
    x_cam = np.concatenate([rng.uniform(-1, 1, size=(4, 6, 2)), rng.uniform(3, 6, size=(4, 6, 1))], axis=-1)
    ref = reference_projection(
        x_cam,
        np.asarray(cam.focal_length),
        np.asarray(cam.center),
        np.asarray(cam.radial_distortion),
        np.asarray(cam.tangential_distortion),
    )
    np.testing.assert_allclose(project_to_2d(x_cam, cam), ref, rtol=1e-10, atol=1e-8)
    out32 = project_to_2d(torch.as_tensor(x_cam, dtype=torch.float32), cam)
    np.testing.assert_allclose(out32.numpy(), ref, atol=1e-2)


def test_world_to_camera_is_the_quaternion_rotation_broadcast_over_cameras():
    """One world → camera rule: the matmul form equals ``rotate(conj(q), X − t)`` per point, for stacked cameras."""
    cams = load_h36m_cameras()["S1"]
    q = np.stack([np.asarray(c.orientation) for c in cams])[:, None, None, :]  # [C, 1, 1, 4]
    t = np.stack([np.asarray(c.translation) for c in cams])[:, None, None, :]
    x_world = np.random.default_rng(3).normal(size=(1, 7, 17, 3))
    x_cam = world_to_camera(x_world, q, t)
    assert x_cam.shape == (4, 7, 17, 3)
    np.testing.assert_allclose(
        x_cam,
        qrot(np.ascontiguousarray(np.broadcast_to(qinverse(q), (4, 7, 17, 4))), x_world - t),
        atol=1e-10,
    )
    np.testing.assert_allclose(rotation_matrix(q[0, 0, 0]), quat_to_matrix(q[0, 0, 0]), atol=1e-12)


def test_normalisation_round_trip_and_convention():
    """The screen normalisation is the codec's (the one normaliser of posegcn)."""
    codec = PoseCodec()
    uv = np.array([[0.0, 0.0], [1000.0, 1002.0], [500.0, 501.0]])
    n = codec.encode_2d(uv, 1000, 1002)
    np.testing.assert_allclose(n[0], [-1.0, -1.002])
    np.testing.assert_allclose(n[1], [1.0, 1.002])
    np.testing.assert_allclose(codec.decode_2d(n, 1000, 1002), uv)
    t = torch.as_tensor(uv, dtype=torch.float32)
    torch.testing.assert_close(codec.decode_2d(codec.encode_2d(t, 1000, 1002), 1000, 1002), t)
    with pytest.raises(ValueError, match=r"\[\.\.\., J, 2\]"):
        codec.encode_2d(np.zeros((3, 3)), 1000, 1000)
    # a length of σ px is 2σ/w units: the offset between two encoded points
    assert codec.pixels_to_units(5.0, 1000) == pytest.approx(
        float(codec.encode_2d(np.array([[5.0, 0]]), 1000, 1000)[0, 0] + 1)
    )
    assert codec.units_to_pixels(codec.pixels_to_units(7.0, 640), 640) == pytest.approx(7.0)
