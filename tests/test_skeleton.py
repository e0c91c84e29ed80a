"""Skeletons: layouts of conventions.md §3 and the adjacency forms of the original codes."""

import numpy as np
import pytest
import torch

from posegcn.skeleton import (
    H36M_16,
    H36M_17,
    H36M_32,
    H36M_32_TO_17,
    MPI_INF_3DHP_14_OF_H36M_17,
    SH_TO_H36M_16,
    Skeleton,
    h36m_skeleton,
)


def test_h36m_17_matches_conventions():
    assert H36M_17.parents == (-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15)
    assert H36M_17.joints_left == (4, 5, 6, 11, 12, 13)
    assert H36M_17.joints_right == (1, 2, 3, 14, 15, 16)
    # The 17 kept markers carry the same names in the 32-marker skeleton.
    assert tuple(H36M_32.names[j] for j in H36M_32_TO_17) == H36M_17.names


def test_h36m_16_is_17_without_neck_nose():
    assert H36M_16.parents == (-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 8, 10, 11, 8, 13, 14)
    assert H36M_16.joints_left == (4, 5, 6, 10, 11, 12)
    assert H36M_16.joints_right == (1, 2, 3, 13, 14, 15)
    assert "Neck/Nose" not in H36M_16.names
    assert H36M_16.names[H36M_16.parents[H36M_16.index("Head")]] == "Thorax"


def test_32_to_17_reduction_by_remove_joints_matches_index_list():
    removed = [j for j in range(32) if j not in H36M_32_TO_17]
    reduced = H36M_32.remove_joints(removed)
    assert reduced.names == H36M_17.names
    # The shoulders hang from the spine marker in the mocap tree; the 17-joint layout
    # re-attaches them to the thorax (as VideoPose3D does after remove_joints).
    parents = list(reduced.parents)
    assert parents[11] == parents[14] == 7
    parents[11] = parents[14] = 8
    assert tuple(parents) == H36M_17.parents
    assert sorted(reduced.joints_left) == sorted(H36M_17.joints_left)


def test_sh_permutation_is_a_permutation():
    assert sorted(SH_TO_H36M_16) == list(range(16))


def test_mpi_14_subset_names():
    names = {H36M_17.names[j] for j in MPI_INF_3DHP_14_OF_H36M_17}
    assert len(names) == 14
    assert not names & {"Hip", "Spine", "Neck/Nose"}


def _reference_binary(parents):
    n = len(parents)
    a = np.zeros((n, n))
    for j, p in enumerate(parents):
        if p >= 0:
            a[j, p] = a[p, j] = 1
    return a


@pytest.mark.parametrize("skeleton", [H36M_16, H36M_17])
def test_adjacency_forms(skeleton):
    ref = _reference_binary(skeleton.parents)
    n = skeleton.num_joints
    np.testing.assert_array_equal(skeleton.adjacency("binary").numpy(), ref)
    np.testing.assert_array_equal(skeleton.adjacency("self_loops").numpy(), ref + np.eye(n))
    row = skeleton.adjacency("row_normalized").numpy()
    np.testing.assert_allclose(row.sum(1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(row, (ref + np.eye(n)) / (ref + np.eye(n)).sum(1, keepdims=True), rtol=1e-6)
    diag1 = skeleton.adjacency("degree_diag1").numpy()
    expected = ref / ref.sum(1, keepdims=True)
    np.fill_diagonal(expected, 1.0)
    np.testing.assert_allclose(diag1, expected, rtol=1e-6)
    # SemGCN learns one weight per non-zero of A + I: 46 for 16 joints.
    if n == 16:
        assert int(skeleton.adjacency("self_loops").sum()) == 46
    with pytest.raises(ValueError, match="unknown adjacency form"):
        skeleton.adjacency("laplacian")


def test_flip_swaps_sides_and_negates_x():
    poses = torch.randn(5, 17, 3)
    flipped = H36M_17.flip(poses)
    assert torch.equal(H36M_17.flip(flipped), poses)
    assert torch.equal(flipped[:, 4, 0], -poses[:, 1, 0])
    assert torch.equal(flipped[:, 4, 1:], poses[:, 1, 1:])
    assert torch.equal(flipped[:, 0, 0], -poses[:, 0, 0])


def test_bone_vectors():
    poses = torch.randn(2, 3, 16, 3)
    bones = H36M_16.bone_vectors(poses)
    assert bones.shape == (2, 3, 15, 3)
    child, parent = H36M_16.bones[9]
    torch.testing.assert_close(bones[..., 9, :], poses[..., child, :] - poses[..., parent, :])


def test_invalid_skeletons_and_layout_errors():
    with pytest.raises(ValueError, match="exactly one root"):
        Skeleton(parents=(-1, -1), joints_left=(), joints_right=(), names=("a", "b"))
    with pytest.raises(ValueError, match="16 or 17"):
        h36m_skeleton(15)
    with pytest.raises(KeyError, match="no joint"):
        H36M_17.index("Tail")


def test_remove_one_side_of_a_pair_keeps_the_other_pairs_matched():
    # Removing LKnee alone: the remaining left/right joints must still pair by name (LFoot ↔ RFoot), and
    # RKnee, whose partner is gone, is no longer a flip partner of anything.
    reduced = H36M_17.remove_joints([H36M_17.index("LKnee")])
    pairs = {(reduced.names[l], reduced.names[r]) for l, r in zip(reduced.joints_left, reduced.joints_right)}
    expected = {
        ("LHip", "RHip"),
        ("LFoot", "RFoot"),
        ("LShoulder", "RShoulder"),
        ("LElbow", "RElbow"),
        ("LWrist", "RWrist"),
    }
    assert pairs == expected
    assert reduced.flip_permutation[reduced.index("RKnee")] == reduced.index("RKnee")
