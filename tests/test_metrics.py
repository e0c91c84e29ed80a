"""Pose metrics against independent per-pose numpy references written here (conventions.md §4)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from posegcn.metrics import (
    AUC3D,
    AUC_THRESHOLDS,
    MPJPE,
    NMPJPE,
    PCK3D,
    PMPJPE,
    PoseMetrics,
    actionwise_mean,
    auc,
    mpi_inf_3dhp_joints,
    mpjpe,
    n_mpjpe,
    p_mpjpe,
    pck,
    per_pose_auc,
    per_pose_mpjpe,
    per_pose_n_mpjpe,
    per_pose_p_mpjpe,
    per_pose_pck,
    procrustes_align,
    similarity_transform,
)
from posegcn.skeleton import H36M_16, H36M_17, MPI_INF_3DHP_14_OF_H36M_17

METHODS = ("jacobi", "svd")


# --------------------------------------------------------------------------- numpy references, one pose at a time
def ref_mpjpe(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    out = []
    for p, g in zip(pred, gt):
        out.append(np.mean([math.dist(pj, gj) for pj, gj in zip(p, g)]) * 1000)
    return np.array(out)


def ref_umeyama(p: np.ndarray, g: np.ndarray, allow_reflection: bool = False) -> np.ndarray:
    """Aligned ``p`` [J, 3]: similarity transform by numpy SVD, Umeyama (1991) Eq. 39–42."""
    mp, mg = p.mean(axis=0), g.mean(axis=0)
    x, y = p - mp, g - mg
    cov = y.T @ x / len(p)  # Σ_gp
    u, d, vt = np.linalg.svd(cov)
    s_sign = np.eye(3)
    if not allow_reflection and np.linalg.det(u) * np.linalg.det(vt) < 0:
        s_sign[2, 2] = -1
    rotation = u @ s_sign @ vt
    var_p = (x**2).sum() / len(p)
    scale = np.trace(np.diag(d) @ s_sign) / var_p
    return scale * x @ rotation.T + mg


def ref_p_mpjpe(pred: np.ndarray, gt: np.ndarray, allow_reflection: bool = False) -> np.ndarray:
    return np.array(
        [
            np.linalg.norm(ref_umeyama(p, g, allow_reflection) - g, axis=-1).mean() * 1000
            for p, g in zip(pred, gt)
        ]
    )


def ref_n_mpjpe(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    out = []
    for p, g in zip(pred, gt):
        s = np.sum(p * g) / np.sum(p * p)
        out.append(np.linalg.norm(s * p - g, axis=-1).mean() * 1000)
    return np.array(out)


def ref_pck(pred: np.ndarray, gt: np.ndarray, threshold: float = 0.150) -> np.ndarray:
    out = []
    for p, g in zip(pred, gt):
        correct = [math.dist(pj, gj) < threshold for pj, gj in zip(p, g)]
        out.append(100.0 * sum(correct) / len(correct))
    return np.array(out)


def ref_auc(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    thresholds = [k * 5 / 1000 for k in range(31)]
    return np.mean([ref_pck(pred, gt, t) for t in thresholds], axis=0)


def random_poses(
    n: int = 200, j: int = 17, seed: int = 0, noise: float = 0.05
) -> tuple[np.ndarray, np.ndarray]:
    """Root-relative-ish poses of about human size and noisy predictions of them."""
    rng = np.random.default_rng(seed)
    gt = rng.normal(0.0, 0.3, (n, j, 3))
    gt -= gt[:, :1]
    pred = gt + rng.normal(0.0, noise, gt.shape)
    pred -= pred[:, :1]
    return pred, gt


def random_rotations(n: int, seed: int = 1) -> np.ndarray:
    q, r = np.linalg.qr(np.random.default_rng(seed).normal(size=(n, 3, 3)))
    q *= np.sign(np.diagonal(r, axis1=1, axis2=2))[:, None, :]
    q[np.linalg.det(q) < 0, :, 0] *= -1
    return q


def t(x: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(x))


# --------------------------------------------------------------------------- functional vs references
@pytest.mark.parametrize("method", METHODS)
def test_random_poses_match_references(method):
    pred, gt = random_poses(300, noise=0.12)
    np.testing.assert_allclose(per_pose_mpjpe(t(pred), t(gt)).numpy(), ref_mpjpe(pred, gt), atol=1e-9)
    np.testing.assert_allclose(
        per_pose_p_mpjpe(t(pred), t(gt), method=method).numpy(), ref_p_mpjpe(pred, gt), atol=1e-8
    )
    np.testing.assert_allclose(per_pose_n_mpjpe(t(pred), t(gt)).numpy(), ref_n_mpjpe(pred, gt), atol=1e-9)
    np.testing.assert_allclose(per_pose_pck(t(pred), t(gt)).numpy(), ref_pck(pred, gt), atol=1e-9)
    np.testing.assert_allclose(per_pose_auc(t(pred), t(gt)).numpy(), ref_auc(pred, gt), atol=1e-9)
    # the scalar versions pool over poses
    assert mpjpe(t(pred), t(gt)).item() == pytest.approx(ref_mpjpe(pred, gt).mean(), abs=1e-9)
    assert p_mpjpe(t(pred), t(gt), method=method).item() == pytest.approx(
        ref_p_mpjpe(pred, gt).mean(), abs=1e-8
    )
    assert n_mpjpe(t(pred), t(gt)).item() == pytest.approx(ref_n_mpjpe(pred, gt).mean(), abs=1e-9)
    assert pck(t(pred), t(gt)).item() == pytest.approx(ref_pck(pred, gt).mean(), abs=1e-9)
    assert auc(t(pred), t(gt)).item() == pytest.approx(ref_auc(pred, gt).mean(), abs=1e-9)


def test_p_mpjpe_far_from_the_truth_and_any_leading_shape():
    # unrelated poses: rotations far from identity, negative determinants of K half the time
    rng = np.random.default_rng(3)
    pred, gt = rng.normal(size=(2, 5, 16, 3)), rng.normal(size=(2, 5, 16, 3))
    got = per_pose_p_mpjpe(t(pred), t(gt))
    assert got.shape == (2, 5)
    np.testing.assert_allclose(
        got.numpy().ravel(), ref_p_mpjpe(pred.reshape(-1, 16, 3), gt.reshape(-1, 16, 3))
    )
    assert per_pose_mpjpe(t(pred), t(gt)).shape == (2, 5)
    assert per_pose_auc(t(pred), t(gt)).shape == (2, 5)


@pytest.mark.parametrize("method", METHODS)
def test_similarity_copy_is_perfect_for_p_mpjpe_only(method):
    _, gt = random_poses(50)
    rot = random_rotations(50)
    scale = np.random.default_rng(2).uniform(0.5, 2.0, (50, 1, 1))
    shift = np.random.default_rng(3).normal(size=(50, 1, 3))
    pred = scale * gt @ rot.transpose(0, 2, 1) + shift
    assert per_pose_p_mpjpe(t(pred), t(gt), method=method).max().item() < 1e-9
    assert per_pose_mpjpe(t(pred), t(gt)).min().item() > 1.0
    rotation, s, tr = similarity_transform(t(pred), t(gt), method=method)
    # the transform maps pred onto gt: R = rot⁻¹, s = 1/scale
    np.testing.assert_allclose(rotation.numpy(), rot.transpose(0, 2, 1), atol=1e-10)
    np.testing.assert_allclose(s.numpy(), 1 / scale[:, 0, 0], rtol=1e-10)
    np.testing.assert_allclose(procrustes_align(t(pred), t(gt), method=method).numpy(), gt, atol=1e-10)
    assert tr.shape == (50, 3)


@pytest.mark.parametrize("method", METHODS)
def test_mirror_image_is_not_a_perfect_match(method):
    _, gt = random_poses(40)
    pred = gt * np.array([-1.0, 1.0, 1.0])  # a reflection, not a rotation
    # a Procrustes that allowed reflections would align it perfectly …
    assert ref_p_mpjpe(pred, gt, allow_reflection=True).max() < 1e-9
    # … the reflection fix must not
    got = per_pose_p_mpjpe(t(pred), t(gt), method=method).numpy()
    np.testing.assert_allclose(got, ref_p_mpjpe(pred, gt), atol=1e-8)
    assert got.min() > 10.0
    rotation, _, _ = similarity_transform(t(pred), t(gt), method=method)
    np.testing.assert_allclose(torch.linalg.det(rotation).numpy(), 1.0, atol=1e-12)


@pytest.mark.parametrize("method", METHODS)
def test_near_degenerate_singular_values_match_reference(method):
    # the 8 corners of a cube have an isotropic spread: K has (nearly) equal singular values
    cube = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)], dtype=float) * 0.2
    rot = random_rotations(30, seed=5)
    gt = np.broadcast_to(cube, (30, 8, 3)) @ rot.transpose(0, 2, 1)
    noise = np.random.default_rng(6).normal(0, 1e-3, gt.shape)
    pred = 1.3 * gt @ random_rotations(30, seed=7).transpose(0, 2, 1) + noise
    np.testing.assert_allclose(
        per_pose_p_mpjpe(t(pred), t(gt), method=method).numpy(), ref_p_mpjpe(pred, gt), atol=1e-6
    )


@pytest.mark.parametrize("method", METHODS)
def test_planar_and_collinear_predictions_match_reference(method):
    pred, gt = random_poses(20, seed=4)
    planar = pred.copy()
    planar[..., 2] = 0.0  # rank-2 spread
    line = np.random.default_rng(8).normal(size=(20, 17, 1)) * np.array([0.3, -0.1, 0.2])  # rank 1
    for p in (planar, line):
        np.testing.assert_allclose(
            per_pose_p_mpjpe(t(p), t(gt), method=method).numpy(), ref_p_mpjpe(p, gt), atol=1e-7
        )


def test_n_mpjpe_of_a_scaled_copy_is_zero():
    _, gt = random_poses(30)
    pred = 0.8 * gt
    assert per_pose_n_mpjpe(t(pred), t(gt)).max().item() < 1e-9
    assert per_pose_mpjpe(t(pred), t(gt)).min().item() > 1.0
    # a rotated copy is not fixed by a scale
    rotated = gt @ random_rotations(30).transpose(0, 2, 1)
    np.testing.assert_allclose(
        per_pose_n_mpjpe(t(rotated), t(gt)).numpy(), ref_n_mpjpe(rotated, gt), atol=1e-9
    )


def test_pck_threshold_is_strict_and_auc_counts_thresholds():
    errors = np.array([0.150, 0.1499, 0.0, 0.2, 0.005, 0.0049, 0.075, 0.0751])
    gt = np.zeros((1, len(errors), 3))
    pred = gt.copy()
    pred[0, :, 0] = errors  # joint j is errors[j] metres off
    # < 150 mm: 0.1499, 0, 0.005, 0.0049, 0.075, 0.0751 → 6 of 8
    assert per_pose_pck(t(pred), t(gt)).item() == pytest.approx(100 * 6 / 8)
    # number of thresholds τ ∈ {0, 5, …, 150} mm with error < τ, per joint
    correct_at = [0, 1, 30, 0, 29, 30, 15, 15]
    assert per_pose_auc(t(pred), t(gt)).item() == pytest.approx(100 * np.mean(correct_at) / 31)
    assert per_pose_pck(t(pred), t(gt), threshold=0.075).item() == pytest.approx(100 * 3 / 8)  # 0, 5, 4.9 mm
    # float32 inputs: 149.9 mm still counts, 150 mm still does not
    assert per_pose_pck(t(pred).float(), t(gt).float()).item() == pytest.approx(100 * 6 / 8)
    assert AUC_THRESHOLDS.numel() == 31 and AUC_THRESHOLDS[-1].item() == 0.150
    with pytest.raises(ValueError, match="threshold"):
        per_pose_pck(t(pred), t(gt), threshold=-0.1)


def test_degenerate_inputs_are_finite_and_documented():
    _, gt = random_poses(10)
    zeros = np.zeros_like(gt)
    constant = np.broadcast_to(np.array([0.1, -0.2, 0.3]), gt.shape).copy()
    spread = np.linalg.norm(gt - gt.mean(axis=1, keepdims=True), axis=-1).mean(axis=1) * 1000
    for method in METHODS:
        for pred in (zeros, constant):  # nothing to align: s = 0, pred ↦ centroid of gt
            np.testing.assert_allclose(
                per_pose_p_mpjpe(t(pred), t(gt), method=method).numpy(), spread, atol=1e-9
            )
        # a target without spread is matched exactly with s = 0
        assert per_pose_p_mpjpe(t(gt), t(constant), method=method).abs().max().item() < 1e-9
        assert per_pose_p_mpjpe(t(zeros), t(zeros), method=method).abs().max().item() == 0.0
    # N-MPJPE of a zero prediction: s = 0, the error of predicting the root for every joint
    np.testing.assert_allclose(
        per_pose_n_mpjpe(t(zeros), t(gt)).numpy(), np.linalg.norm(gt, axis=-1).mean(axis=1) * 1000, atol=1e-9
    )
    line_gt = np.random.default_rng(9).normal(size=(10, 17, 1)) * np.array([0.0, 0.5, 0.0])
    line = np.random.default_rng(10).normal(size=(10, 17, 1)) * np.array([0.3, -0.1, 0.2])
    for method in METHODS:  # free directions are completed to a proper rotation
        for p, g in ((zeros, gt), (zeros, zeros), (line, gt), (gt, line_gt), (line, line_gt)):
            rotation, scale, _ = similarity_transform(t(p), t(g), method=method)
            np.testing.assert_allclose(
                (rotation @ rotation.mT).numpy(), np.broadcast_to(np.eye(3), (10, 3, 3)), atol=1e-12
            )
            np.testing.assert_allclose(torch.linalg.det(rotation).numpy(), 1.0, atol=1e-12)
            assert torch.isfinite(scale).all() and (scale >= 0).all()
    for fn in (per_pose_mpjpe, per_pose_p_mpjpe, per_pose_n_mpjpe, per_pose_pck, per_pose_auc):
        for p, g in ((zeros, gt), (gt, zeros), (zeros, zeros), (constant, constant), (gt, line_gt)):
            assert torch.isfinite(fn(t(p), t(g))).all(), fn.__name__


def test_float32_inputs_agree_with_float64():
    pred, gt = random_poses(500, noise=0.1)
    for fn in (mpjpe, p_mpjpe, n_mpjpe):
        v64 = fn(t(pred), t(gt))
        v32 = fn(t(pred).float(), t(gt).float())
        assert v32.dtype == torch.float64
        assert abs(v32.item() - v64.item()) < 1e-4, fn.__name__
    per32 = per_pose_p_mpjpe(t(pred).float(), t(gt).float())
    assert (per32 - per_pose_p_mpjpe(t(pred), t(gt))).abs().max().item() < 1e-4


def test_joint_subsets():
    pred, gt = random_poses(25)
    joints = mpi_inf_3dhp_joints(H36M_17)
    assert joints == list(MPI_INF_3DHP_14_OF_H36M_17)
    sub_p, sub_g = pred[:, joints], gt[:, joints]
    np.testing.assert_allclose(per_pose_p_mpjpe(t(pred), t(gt), joints).numpy(), ref_p_mpjpe(sub_p, sub_g))
    np.testing.assert_allclose(per_pose_pck(t(pred), t(gt), joints=joints).numpy(), ref_pck(sub_p, sub_g))
    # the 16-joint layout names the same 14 joints
    joints16 = mpi_inf_3dhp_joints(H36M_16)
    assert [H36M_16.names[j] for j in joints16] == [H36M_17.names[j] for j in joints]
    assert "Hip" not in [H36M_16.names[j] for j in joints16]
    with pytest.raises(ValueError, match="out of range"):
        mpjpe(t(pred), t(gt), joints=[0, 17])


def test_bad_shapes_raise_with_the_shapes():
    a = torch.zeros(4, 17, 3)
    with pytest.raises(ValueError, match=r"\(4, 17, 3\).*\(4, 16, 3\)"):
        mpjpe(a, torch.zeros(4, 16, 3))
    with pytest.raises(ValueError, match=r"\(4, 17, 2\)"):
        p_mpjpe(torch.zeros(4, 17, 2), torch.zeros(4, 17, 2))
    with pytest.raises(ValueError, match="method"):
        p_mpjpe(a, a, method="qr")


# --------------------------------------------------------------------------- action-wise statistics
def test_actionwise_vs_pooled_on_unbalanced_groups():
    values = torch.tensor([1.0, 1.0, 1.0, 1.0, 10.0])
    result = actionwise_mean(values, torch.tensor([0, 0, 0, 0, 1]), num_groups=3)
    assert result.pooled.item() == pytest.approx(14 / 5)  # frame-weighted
    assert result.actionwise.item() == pytest.approx(5.5)  # unweighted over the two non-empty groups
    assert result.per_group[:2].tolist() == [1.0, 10.0] and math.isnan(result.per_group[2].item())
    assert result.counts.tolist() == [4.0, 1.0, 0.0]
    empty = actionwise_mean(torch.zeros(0), torch.zeros(0, dtype=torch.long), num_groups=2)
    assert math.isnan(empty.pooled.item()) and math.isnan(empty.actionwise.item())


def test_classes_accumulated_over_batches_equal_functional_on_all():
    pred, gt = random_poses(403, noise=0.1, seed=11)
    rng = np.random.default_rng(12)
    groups = rng.choice(4, size=403, p=[0.7, 0.2, 0.1, 0.0])  # unbalanced, group 3 empty
    cases = [
        (MPJPE, ref_mpjpe(pred, gt)),
        (PMPJPE, ref_p_mpjpe(pred, gt)),
        (NMPJPE, ref_n_mpjpe(pred, gt)),
        (PCK3D, ref_pck(pred, gt)),
        (AUC3D, ref_auc(pred, gt)),
    ]
    for cls, per_pose in cases:
        metric = cls(num_groups=4)
        for lo, hi in ((0, 1), (1, 100), (100, 100), (100, 357), (357, 403)):  # includes an empty batch
            metric.update(t(pred[lo:hi]), t(gt[lo:hi]), torch.from_numpy(groups[lo:hi]))
        assert metric.compute().item() == pytest.approx(per_pose.mean(), abs=1e-9), cls.__name__
        result = metric.compute_actionwise()
        expected = np.array([per_pose[groups == g].mean() for g in range(3)])
        np.testing.assert_allclose(result.per_group[:3].numpy(), expected, atol=1e-9)
        assert math.isnan(result.per_group[3].item())
        assert result.actionwise.item() == pytest.approx(expected.mean(), abs=1e-9)
        assert result.counts.tolist() == [float((groups == g).sum()) for g in range(4)]
        assert cls.higher_is_better == (cls in (PCK3D, AUC3D))


def test_class_without_groups_and_argument_checks():
    pred, gt = random_poses(20)
    metric = MPJPE()
    metric.update(t(pred), t(gt))
    assert metric.compute().item() == pytest.approx(ref_mpjpe(pred, gt).mean())
    metric = MPJPE(num_groups=2)
    with pytest.raises(ValueError, match=r"\[0, 2\)"):
        metric.update(t(pred), t(gt), torch.full((20,), 2))
    with pytest.raises(ValueError, match=r"expected shape \(20,\)"):
        metric.update(t(pred), t(gt), torch.zeros(19, dtype=torch.long))
    with pytest.raises(ValueError, match="num_groups"):
        MPJPE(num_groups=0)


def test_states_stay_float64_under_half_precision():
    pred, gt = random_poses(50)
    metric = MPJPE(num_groups=1)
    metric.update(t(pred[:25]), t(gt[:25]))
    metric.to(torch.bfloat16)
    metric.half()
    assert metric.total.dtype == metric.count.dtype == torch.float64
    pred_half, gt_half = t(pred[25:]).half(), t(gt[25:]).half()
    metric.update(pred_half, gt_half)  # half inputs are promoted as well
    assert metric.count.item() == 50
    second = ref_mpjpe(pred_half.double().numpy(), gt_half.double().numpy())
    expected = np.concatenate([ref_mpjpe(pred[:25], gt[:25]), second])
    assert metric.compute().item() == pytest.approx(expected.mean(), abs=1e-9)
    metric.reset()
    assert metric.total.dtype == torch.float64 and metric.count.sum().item() == 0


def test_pose_metrics_flat_dict_and_table():
    pred, gt = random_poses(120, seed=21)
    groups = torch.from_numpy(np.random.default_rng(22).choice(3, size=120, p=[0.6, 0.4, 0.0]))
    names = ["Walking", "Eating", "Sitting"]
    metrics = PoseMetrics(num_groups=3, group_names=names)
    metrics.update(t(pred[:70]), t(gt[:70]), groups[:70])
    metrics.update(t(pred[70:]), t(gt[70:]), group=groups[70:])
    flat = metrics.compute_flat()
    expected_keys = {
        f"{m}{suffix}"
        for m in ("mpjpe", "p_mpjpe", "n_mpjpe", "pck", "auc")
        for suffix in ("", "_actionwise", "/Walking", "/Eating", "/Sitting")
    }
    assert set(flat) == expected_keys
    assert all(isinstance(v, float) for v in flat.values())
    g = groups.numpy()
    assert flat["mpjpe"] == pytest.approx(ref_mpjpe(pred, gt).mean())
    assert flat["p_mpjpe/Eating"] == pytest.approx(ref_p_mpjpe(pred[g == 1], gt[g == 1]).mean())
    assert flat["auc_actionwise"] == pytest.approx(
        np.mean([ref_auc(pred[g == k], gt[g == k]).mean() for k in (0, 1)])
    )
    assert math.isnan(flat["pck/Sitting"])
    pooled = metrics.compute()
    assert pooled["n_mpjpe"].item() == pytest.approx(flat["n_mpjpe"])
    table = metrics.table()
    lines = table.splitlines()
    assert lines[0].split()[:3] == ["Action", "Frames", "MPJPE"]
    assert any(line.startswith("Average (action-wise)") for line in lines)
    pooled_line = next(line for line in lines if line.startswith("All frames (pooled)"))
    assert pooled_line.split()[3:5] == ["120", f"{flat['mpjpe']:.2f}"]
    sitting = next(line for line in lines if line.startswith("Sitting"))
    assert sitting.split()[1:] == ["0"] + ["-"] * 5
    with pytest.raises(ValueError, match="group_names"):
        PoseMetrics(num_groups=2, group_names=["a"])
