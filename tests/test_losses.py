"""Losses against plain numpy per-sample references."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from posegcn.losses import (
    WeightedLoss,
    affinity_sparsity,
    bone_loss,
    l1_loss,
    modgcn_cpn_loss,
    modgcn_gt_loss,
    mpjpe_loss,
    mse_loss,
    semgcn_loss,
)
from posegcn.models import ModulatedGCN, SemGCN
from posegcn.skeleton import H36M_16, H36M_17


@pytest.fixture
def poses():
    g = torch.Generator().manual_seed(0)
    pred = torch.randn(4, 3, 17, 3, generator=g, dtype=torch.float64)
    target = torch.randn(4, 3, 17, 3, generator=g, dtype=torch.float64)
    return pred, target


def per_pose(pred, target):
    """Flatten to a list of [J, 3] numpy poses."""
    p, t = pred.numpy(), target.numpy()
    return p.reshape(-1, *p.shape[-2:]), t.reshape(-1, *t.shape[-2:])


def ref_mse(pred, target):
    ps, ts = per_pose(pred, target)
    total, n = 0.0, 0
    for p, t in zip(ps, ts):
        for j in range(p.shape[0]):
            for c in range(3):
                total += (p[j, c] - t[j, c]) ** 2
                n += 1
    return total / n


def ref_l1(pred, target):
    ps, ts = per_pose(pred, target)
    return float(
        np.mean([abs(p[j, c] - t[j, c]) for p, t in zip(ps, ts) for j in range(17) for c in range(3)])
    )


def ref_mpjpe(pred, target):
    ps, ts = per_pose(pred, target)
    return float(np.mean([np.sqrt(((p[j] - t[j]) ** 2).sum()) for p, t in zip(ps, ts) for j in range(17)]))


def ref_bone_sum(pred, target, parents):
    """Eq. 7 bone term: Σ over bones of the squared error of (child − parent), averaged over poses."""
    ps, ts = per_pose(pred, target)
    per = []
    for p, t in zip(ps, ts):
        s = 0.0
        for child, parent in enumerate(parents):
            if parent >= 0:
                s += (((p[child] - p[parent]) - (t[child] - t[parent])) ** 2).sum()
        per.append(s)
    return float(np.mean(per))


def test_elementwise_losses_match_references(poses):
    pred, target = poses
    assert mse_loss(pred, target).item() == pytest.approx(ref_mse(pred, target))
    assert l1_loss(pred, target).item() == pytest.approx(ref_l1(pred, target))
    assert mpjpe_loss(pred, target).item() == pytest.approx(ref_mpjpe(pred, target))


def test_weighted_combinations(poses):
    pred, target = poses
    gt = 0.9 * ref_mse(pred, target) + 0.1 * ref_l1(pred, target)
    cpn = 0.99 * ref_mpjpe(pred, target) + 0.01 * ref_l1(pred, target)
    assert modgcn_gt_loss(pred, target).item() == pytest.approx(gt)
    assert modgcn_cpn_loss(pred, target).item() == pytest.approx(cpn)
    assert WeightedLoss(mse=0.9, l1=0.1)(pred, target).item() == pytest.approx(gt)
    assert WeightedLoss(mpjpe=0.99, l1=0.01)(pred, target).item() == pytest.approx(cpn)
    wl = WeightedLoss(mse=1.0, bone=0.5, skeleton=H36M_17)
    # Eq. 7 (joint sum + λ bone sum, per pose) divided by the 3J coordinates the MSE averages over
    expected = ref_mse(pred, target) + 0.5 * ref_bone_sum(pred, target, H36M_17.parents) / (3 * 17)
    assert wl(pred, target).item() * 3 * 17 == pytest.approx(semgcn_loss(pred, target, H36M_17, 0.5).item())
    assert wl(pred, target).item() == pytest.approx(expected)
    assert set(wl.terms(pred, target)) == {"mse", "bone"}
    with pytest.raises(ValueError, match="skeleton"):
        WeightedLoss(bone=1.0)
    with pytest.raises(ValueError, match="all weights are zero"):
        WeightedLoss()
    with pytest.raises(ValueError, match=">= 0"):
        WeightedLoss(mse=-1.0)


def test_bone_loss_matches_eq7_reference(poses):
    pred, target = poses
    ref = ref_bone_sum(pred, target, H36M_17.parents)
    assert bone_loss(pred, target, H36M_17).item() == pytest.approx(ref)
    assert bone_loss(pred, target, H36M_17, reduction="mean").item() == pytest.approx(ref / (16 * 3))
    joint_term = float(np.mean([((p - t) ** 2).sum() for p, t in zip(*per_pose(pred, target))]))
    assert semgcn_loss(pred, target, H36M_17).item() == pytest.approx(ref + joint_term)


def test_bone_loss_zero_for_equal_bones_positive_otherwise(poses):
    _, target = poses
    shifted = target + torch.tensor([0.3, -0.2, 1.0], dtype=target.dtype)  # same bones, other place
    assert bone_loss(shifted, target, H36M_17).item() == pytest.approx(0.0, abs=1e-12)
    assert mse_loss(shifted, target).item() > 0.1
    bent = target.clone()
    bent[..., 3, :] += 0.01  # move one foot: one bone changes
    assert bone_loss(bent, target, H36M_17).item() == pytest.approx(0.01**2 * 3)


def test_loss_shape_errors(poses):
    pred, target = poses
    with pytest.raises(ValueError, match="differ in shape"):
        mse_loss(pred, target[..., :16, :])
    with pytest.raises(ValueError, match=r"\[\.\.\., J, 3\]"):
        mpjpe_loss(pred[..., :2], target[..., :2])
    with pytest.raises(ValueError, match="16 joints"):
        bone_loss(pred, target, H36M_16)
    with pytest.raises(ValueError, match="reduction"):
        bone_loss(pred, target, H36M_17, reduction="max")


@torch.no_grad()
def test_affinity_sparsity():
    net = ModulatedGCN(H36M_16, hidden=8, num_blocks=1)
    for layer in net.graph_layers():
        layer.affinity.Q.normal_()
    expected = sum(layer.affinity.Q.abs().sum().item() for layer in net.graph_layers())
    assert affinity_sparsity(net).item() == pytest.approx(expected, rel=1e-6)
    assert affinity_sparsity(net).item() == pytest.approx(net.affinity_l1().item(), rel=1e-6)
    mul = ModulatedGCN(H36M_16, hidden=8, num_blocks=1, affinity="mul", symmetric=False)
    a = H36M_16.adjacency("degree_diag1")
    assert affinity_sparsity(mul).item() == pytest.approx(4 * a.abs().sum().item(), rel=1e-6)  # P = 1
    assert affinity_sparsity(SemGCN(H36M_16, hidden=8, num_blocks=1)).item() == 0.0
