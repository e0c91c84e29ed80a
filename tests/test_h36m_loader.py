"""Loader and codec: tiny VideoPose3D-format files → PoseArrays, checked against plain numpy references."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import FIXTURE_EXTRA_2D, FIXTURE_SUBJECTS, FIXTURE_TAKES, write_h36m

from posegcn.camera import load_h36m_cameras
from posegcn.data import H36MFiles, PoseCodec, load_h36m
from posegcn.skeleton import H36M_16, H36M_17, H36M_32_TO_17

SUBJECTS = list(FIXTURE_SUBJECTS)


def quaternion_matrix(q) -> np.ndarray:
    """Rotation matrix of a unit quaternion (w, x, y, z), textbook formula."""
    w, x, y, z = q
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
    )


def reference(h36m_data, subjects, num_joints=17, downsample=1):
    """Per-sequence numpy reference: (pose_3d rel, root, pose_2d normalised, meta rows)."""
    p3, p2 = h36m_data
    cams = load_h36m_cameras()
    keep = list(H36M_32_TO_17) if num_joints == 17 else [H36M_32_TO_17[j] for j in range(17) if j != 9]
    keep_2d = list(range(17)) if num_joints == 17 else [j for j in range(17) if j != 9]
    groups = sorted({a.split(" ")[0] for s in subjects for a in p3[s]})
    out3, root3, out2, meta = [], [], [], []
    for si, s in enumerate(subjects):
        for a in sorted(p3[s]):
            x = p3[s][a].astype(np.float64)
            for c, cam in enumerate(cams[s]):
                r = quaternion_matrix(cam.orientation)
                for f in range(0, len(x), downsample):
                    xc = (x[f, keep] - np.asarray(cam.translation)) @ r  # R^T (X - t), row vectors
                    out3.append(xc - xc[0])
                    root3.append(xc[0])
                    uv = p2[s][a][c][f, keep_2d].astype(np.float64)
                    w, h = cam.res_w, cam.res_h
                    out2.append(np.stack([uv[:, 0] / w * 2 - 1, uv[:, 1] / w * 2 - h / w], axis=-1))
                    meta.append((si, groups.index(a.split(" ")[0]), c, f))
    return np.array(out3), np.array(root3), np.array(out2), np.array(meta), groups


# --------------------------------------------------------------------------- loading
def test_shapes_dtypes_and_contiguity(h36m_root):
    arrays = load_h36m(h36m_root, "gt", SUBJECTS)
    n = sum((f + k) * 4 for k in range(len(SUBJECTS)) for f in FIXTURE_TAKES.values())
    assert len(arrays) == n
    assert arrays.pose_2d.shape == (n, 17, 2) and arrays.pose_2d.dtype == torch.float32
    assert arrays.pose_3d.shape == (n, 17, 3) and arrays.pose_3d.dtype == torch.float32
    assert arrays.root_3d.shape == (n, 3) and arrays.root_3d.dtype == torch.float32
    for key in ("subject", "action", "camera", "frame", "sequence"):
        t = getattr(arrays, key)
        assert t.shape == (n,) and t.dtype == torch.int64 and t.is_contiguous()
    for key in ("pose_2d", "pose_3d", "root_3d"):
        assert getattr(arrays, key).is_contiguous()
    assert arrays.num_sequences == len(SUBJECTS) * len(FIXTURE_TAKES) * 4
    assert arrays.sequence_starts.shape == (arrays.num_sequences + 1,)
    assert arrays.skeleton is H36M_17


def test_values_match_numpy_reference(h36m_root, h36m_data):
    arrays = load_h36m(h36m_root, "gt", SUBJECTS)
    rel, root, uv, meta, groups = reference(h36m_data, SUBJECTS)
    assert arrays.action_names == groups == ["Eating", "Walking"]
    assert arrays.subject_names == SUBJECTS
    assert torch.all(arrays.pose_3d[:, 0] == 0)  # root-relative
    np.testing.assert_allclose(arrays.pose_3d.numpy(), rel, atol=2e-5)
    np.testing.assert_allclose(arrays.root_3d.numpy(), root, atol=2e-5)
    np.testing.assert_allclose(arrays.pose_2d.numpy(), uv, atol=1e-5)
    got = torch.stack([arrays.subject, arrays.action, arrays.camera, arrays.frame], dim=1).numpy()
    np.testing.assert_array_equal(got, meta)


def test_sequences_are_contiguous_and_truncated_to_3d_length(h36m_root, h36m_data):
    arrays = load_h36m(h36m_root, "gt", SUBJECTS)
    p3, p2 = h36m_data
    starts = arrays.sequence_starts.tolist()
    for s_idx, (s, a, c) in enumerate(arrays.sequence_names):
        lo, hi = starts[s_idx], starts[s_idx + 1]
        assert hi - lo == len(p3[s][a]) == len(p2[s][a][c]) - FIXTURE_EXTRA_2D
        assert torch.all(arrays.sequence[lo:hi] == s_idx)
        assert arrays.frame[lo:hi].tolist() == list(range(hi - lo))
        assert torch.all(arrays.camera[lo:hi] == c)


def test_reduction_to_16_joints(h36m_root, h36m_data):
    a16 = load_h36m(h36m_root, "gt", ["S1", "S5"], num_joints=16)
    a17 = load_h36m(h36m_root, "gt", ["S1", "S5"], num_joints=17)
    rel, root, uv, _, _ = reference(h36m_data, ["S1", "S5"], num_joints=16)
    assert a16.skeleton is H36M_16
    assert a16.pose_2d.shape[1:] == (16, 2) and a16.pose_3d.shape[1:] == (16, 3)
    keep = [j for j in range(17) if j != 9]
    torch.testing.assert_close(a16.pose_2d, a17.pose_2d[:, keep])
    torch.testing.assert_close(a16.pose_3d, a17.pose_3d[:, keep])
    np.testing.assert_allclose(a16.pose_3d.numpy(), rel, atol=2e-5)
    np.testing.assert_allclose(a16.pose_2d.numpy(), uv, atol=1e-5)


@pytest.mark.parametrize("layout", ["h36m16", "mpii16"])
def test_16_joint_files_in_h36m_and_mpii_order(make_h36m, layout):
    expected = load_h36m(make_h36m("ref"), "gt", ["S1"], num_joints=16)
    root = make_h36m(layout, layout=layout, source="sh_ft_h36m")
    got = load_h36m(root, "sh_ft_h36m", ["S1"], num_joints=16)
    torch.testing.assert_close(got.pose_2d, expected.pose_2d)
    assert H36MFiles.read(root, "sh_ft_h36m").layout_2d == layout


def test_mpii_layout_name_is_permuted(make_h36m):
    expected = load_h36m(make_h36m("ref"), "gt", ["S5"], num_joints=16)
    meta = {"num_joints": 16, "layout_name": "mpii"}
    got = load_h36m(make_h36m("m", layout="mpii16", metadata=meta), "gt", ["S5"], num_joints=16)
    torch.testing.assert_close(got.pose_2d, expected.pose_2d)


def test_downsample_keeps_every_nth_frame(h36m_root):
    full = load_h36m(h36m_root, "gt", SUBJECTS)
    ds = load_h36m(h36m_root, "gt", SUBJECTS, downsample=3)
    keep = torch.tensor([i for i in range(len(full)) if full.frame[i] % 3 == 0])
    assert len(ds) == len(keep)
    torch.testing.assert_close(ds.pose_2d, full.pose_2d[keep])
    torch.testing.assert_close(ds.pose_3d, full.pose_3d[keep])
    torch.testing.assert_close(ds.frame, full.frame[keep])
    assert ds.sequence_lengths.tolist() == [-(-int(n) // 3) for n in full.sequence_lengths]


def test_action_filter_by_group_and_take(h36m_root):
    by_group = load_h36m(h36m_root, "gt", ["S1"], actions=["Walking"])
    assert {a for _, a, _ in by_group.sequence_names} == {"Walking", "Walking 1"}
    assert by_group.action_names == ["Walking"] and torch.all(by_group.action == 0)
    by_take = load_h36m(h36m_root, "gt", ["S1", "S9"], actions=["Eating 1", "Walking"])
    assert {a for _, a, _ in by_take.sequence_names} == {"Eating 1", "Walking", "Walking 1"}
    assert [s for s, _, _ in by_take.sequence_names].count("S9") == 12
    assert by_take.action_names == ["Eating", "Walking"]


def test_vocabularies_are_shared_between_splits(h36m_root):
    files = H36MFiles.read(h36m_root, "gt")
    arrays = files.select(["S9"], ["Walking"], subject_names=["S1", "S9"], action_names=["Eating", "Walking"])
    assert torch.all(arrays.subject == 1) and torch.all(arrays.action == 1)


# --------------------------------------------------------------------------- errors
def test_missing_files_are_named(tmp_path, h36m_data):
    with pytest.raises(
        FileNotFoundError, match=r"data_3d_h36m\.npz.*data_2d_h36m_cpn_ft_h36m_dbb\.npz.*README\.md"
    ):
        load_h36m(tmp_path / "nowhere", "cpn_ft_h36m_dbb", ["S1"])
    write_h36m(tmp_path, positions_3d=h36m_data[0])
    with pytest.raises(FileNotFoundError, match=r"missing \['data_2d_h36m_gt\.npz'\].*data_3d_h36m\.npz"):
        load_h36m(tmp_path, "gt", ["S1"])


def test_16_joint_file_with_17_requested(make_h36m):
    root = make_h36m(layout="h36m16", source="sh_ft_h36m")
    with pytest.raises(
        ValueError, match=r"data_2d_h36m_sh_ft_h36m\.npz holds 16-joint.*num_joints=17.*Neck/Nose"
    ):
        load_h36m(root, "sh_ft_h36m", ["S1"], num_joints=17)


def test_2d_shorter_than_3d(make_h36m):
    def cut(p3, p2):
        p2["S5"]["Eating 1"][2] = p2["S5"]["Eating 1"][2][:5]

    with pytest.raises(ValueError, match=r"'S5', action 'Eating 1', camera 2.* 5 frames.* 10 frames"):
        load_h36m(make_h36m(mutate=cut), "gt", ["S1", "S5"])


def test_non_finite_values(make_h36m):
    def nan_2d(p3, p2):
        p2["S1"]["Walking"][3][7, 4, 1] = np.nan

    def inf_3d(p3, p2):
        p3["S1"]["Eating"][11, 3, 0] = np.inf

    with pytest.raises(ValueError, match=r"data_2d_h36m_gt\.npz.*'S1', action 'Walking', camera 3.*frame 7"):
        load_h36m(make_h36m("a", mutate=nan_2d), "gt", ["S1"])
    with pytest.raises(ValueError, match=r"data_3d_h36m\.npz.*'S1'.*'Eating'.*cameras.*frame 11"):
        load_h36m(make_h36m("b", mutate=inf_3d), "gt", ["S1"])


def test_unknown_subject_action_and_empty_subjects(h36m_root):
    with pytest.raises(KeyError, match=r"unknown subject 'S7'.*\['S1', 'S5', 'S9'\]"):
        load_h36m(h36m_root, "gt", ["S1", "S7"])
    with pytest.raises(KeyError, match=r"unknown action.*\['Smoking'\].*groups \['Eating', 'Walking'\]"):
        load_h36m(h36m_root, "gt", ["S1"], actions=["Walking", "Smoking"])
    with pytest.raises(ValueError, match="empty subject list"):
        load_h36m(h36m_root, "gt", [])


def test_wrong_rank_or_last_dim(make_h36m):
    def bad_3d(p3, p2):
        p3["S1"]["Walking"] = p3["S1"]["Walking"][:, :17]

    def bad_2d(p3, p2):
        p2["S1"]["Walking"][1] = np.zeros((20, 17, 3), np.float32)

    with pytest.raises(
        ValueError, match=r"data_3d_h36m\.npz.*positions_3d\['S1'\]\['Walking'\].*\[F, 32, 3\].*\(12, 17, 3\)"
    ):
        load_h36m(make_h36m("a", mutate=bad_3d), "gt", ["S1"])
    with pytest.raises(
        ValueError, match=r"positions_2d\['S1'\]\['Walking'\]\[1\].*\[F, 17, 2\].*\(20, 17, 3\)"
    ):
        load_h36m(make_h36m("b", mutate=bad_2d), "gt", ["S1"])


def test_camera_count_mismatch(make_h36m):
    def three_cams(p3, p2):
        p2["S9"]["Eating"] = p2["S9"]["Eating"][:3]

    with pytest.raises(ValueError, match=r"positions_2d\['S9'\]\['Eating'\].*4 cameras, got 3"):
        load_h36m(make_h36m(mutate=three_cams), "gt", ["S9"])


def test_missing_key_and_invalid_npz(tmp_path, h36m_data):
    p3, p2 = h36m_data
    np.savez(tmp_path / "data_3d_h36m.npz", poses=p3)
    write_h36m(tmp_path, positions_2d=p2)
    with pytest.raises(KeyError, match=r"data_3d_h36m\.npz has no key 'positions_3d'.*\['poses'\]"):
        load_h36m(tmp_path, "gt", ["S1"])
    write_h36m(tmp_path, positions_3d=p3)
    np.savez(tmp_path / "data_2d_h36m_gt.npz", keypoints=p2)
    with pytest.raises(KeyError, match=r"data_2d_h36m_gt\.npz has no key 'positions_2d'"):
        load_h36m(tmp_path, "gt", ["S1"])
    (tmp_path / "data_2d_h36m_gt.npz").write_bytes(b"this is not a zip archive at all")
    with pytest.raises(ValueError, match=r"data_2d_h36m_gt\.npz is not a valid \.npz"):
        load_h36m(tmp_path, "gt", ["S1"])


def test_symmetry_mismatch(make_h36m):
    meta = {"num_joints": 17, "keypoints_symmetry": [[1, 2, 3, 14, 15, 16], [4, 5, 6, 11, 12, 13]]}
    with pytest.raises(ValueError, match=r"keypoints_symmetry.*does not match the h36m17"):
        load_h36m(make_h36m(metadata=meta), "gt", ["S1"])


def test_metadata_without_symmetry_is_accepted(make_h36m):
    arrays = load_h36m(make_h36m(metadata={}), "gt", ["S1"])
    assert arrays.pose_2d.shape[1] == 17


# ---------------------------------------------------------------- units (posegcn.data.units)
def _scale_3d(factor):
    def mutate(p3, p2):
        for takes in p3.values():
            for take, x in takes.items():
                takes[take] = x * np.float32(factor)

    return mutate


def _normalise_2d(p3, p2):
    for takes in p2.values():
        for cams in takes.values():
            cams[:] = [(uv / 500.0 - 1.0).astype(np.float32) for uv in cams]


def test_unit_checks_accept_the_fixture(h36m_root, h36m_data):
    from posegcn.data.units import BONE_LENGTH_M, median_bone_length

    arrays = load_h36m(h36m_root, "gt", subjects=SUBJECTS)  # checks on: metres and pixels pass
    assert len(arrays) > 0
    x = h36m_data[0]["S1"]["Walking"][:, list(H36M_32_TO_17)]
    assert BONE_LENGTH_M[0] < median_bone_length(x, H36M_17.parents) < BONE_LENGTH_M[1]


def test_median_bone_length_is_that_of_the_skeleton():
    from posegcn.data.units import median_bone_length

    # a straight chain of 0.3 m bones plus one 0.1 m bone: median 0.3 m, whatever the frame count
    parents = [-1, 0, 1, 2, 3]
    x = np.zeros((1000, 5, 3), np.float32)
    x[:, 1:, 2] = np.cumsum([0.1, 0.3, 0.3, 0.3])
    assert median_bone_length(x, parents) == pytest.approx(0.3)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (_scale_3d(1000.0), r"data_3d_h36m\.npz: positions_3d\['S1'\]\['Eating'\]: the 3D poses must be in metres, "
         r"but their median bone length is \d+\.?\d* m .* look like millimetres \(multiply by 0\.001 to get metres\)"),
        (_scale_3d(0.001), r"median bone length is 0\.000\d+ m .* look like kilometres"),
        (_normalise_2d, r"data_2d_h36m_gt\.npz: positions_2d\['S1'\]\['Eating'\]\[0\]: .* pose spans only 0\.\d+ px "
         r"\(median; at least 10 px expected\) .* look normalised, not pixels"),
    ],
    ids=["millimetres", "kilometres", "normalised_2d"],
)  # fmt: skip
def test_wrong_units_are_named_errors_unless_checks_are_off(make_h36m, mutate, message):
    from posegcn.errors import PoseGCNInputError

    root = make_h36m(mutate=mutate)
    with pytest.raises(PoseGCNInputError, match=message):
        load_h36m(root, "gt", subjects=["S1"])
    # the documented override loads the file as it is
    arrays = load_h36m(root, "gt", subjects=["S1"], check_units=False)
    assert torch.isfinite(arrays.pose_3d).all() and len(arrays) > 0


def test_frame_rate_mismatch_but_a_few_extra_2d_frames_pass(make_h36m):
    from posegcn.errors import PoseGCNInputError

    def double_2d_rate(p3, p2):  # S5 "Eating": 3D 21 → 63 frames, 2D every frame twice: 126
        x = p3["S5"]["Eating"]
        p3["S5"]["Eating"] = np.concatenate([x, x, x])
        p2["S5"]["Eating"] = [
            np.repeat(np.concatenate([uv[: len(x)]] * 3), 2, axis=0) for uv in p2["S5"]["Eating"]
        ]

    root = make_h36m(mutate=double_2d_rate)
    load_h36m(root, "gt", subjects=["S1"])  # S1 has FIXTURE_EXTRA_2D spare frames per take: accepted
    with pytest.raises(
        PoseGCNInputError, match=r"have 126 frames, 2\.00x the 63 frames .* another frame rate"
    ):
        load_h36m(root, "gt", subjects=["S5"])


def test_datamodule_option_switches_the_unit_checks_off(make_h36m):
    from posegcn.data import H36MDataModule
    from posegcn.errors import PoseGCNInputError

    root = make_h36m(mutate=_scale_3d(1000.0))
    subjects = {"train_subjects": ["S1"], "val_subjects": ["S5"], "test_subjects": ["S9"]}
    with pytest.raises(PoseGCNInputError, match="look like millimetres"):
        H36MDataModule(root=str(root), **subjects).setup("test")
    dm = H36MDataModule(root=str(root), check_units=False, **subjects)
    dm.setup("test")
    assert dm.arrays("test").pose_3d.abs().max() > 10  # loaded as given: millimetres


# --------------------------------------------------------------------------- codec
@pytest.mark.parametrize("kind", ["numpy", "torch"])
def test_codec_round_trip_and_formula(kind):
    rng = np.random.default_rng(1)
    uv = rng.uniform(0, 1000, (5, 4, 17, 2))
    x = rng.normal(0, 1, (5, 4, 17, 3))
    w = rng.choice([1000, 1280], size=(5, 4)).astype(float)
    h = rng.choice([1002, 720], size=(5, 4)).astype(float)
    conv = (lambda a: torch.as_tensor(a)) if kind == "torch" else (lambda a: a)
    codec = PoseCodec()
    enc = np.asarray(codec.encode_2d(conv(uv), conv(w), conv(h)))
    for i in range(5):
        for j in range(4):
            ref = np.stack(
                [uv[i, j, :, 0] / w[i, j] * 2 - 1, uv[i, j, :, 1] / w[i, j] * 2 - h[i, j] / w[i, j]], -1
            )
            np.testing.assert_allclose(enc[i, j], ref, atol=1e-12)
    np.testing.assert_allclose(np.asarray(codec.decode_2d(conv(enc), conv(w), conv(h))), uv, atol=1e-9)
    np.testing.assert_allclose(
        np.asarray(codec.encode_2d(conv(uv), 1000, 1002)[0, 0, 3]),
        [uv[0, 0, 3, 0] / 500 - 1, uv[0, 0, 3, 1] / 500 - 1.002],
    )
    rel, root = codec.encode_3d(conv(x))
    np.testing.assert_allclose(np.asarray(root), x[..., 0, :])
    np.testing.assert_allclose(np.asarray(rel), x - x[..., :1, :])
    np.testing.assert_allclose(np.asarray(codec.decode_3d(rel, root)), x, atol=1e-12)


def test_codec_rejects_bad_shapes():
    codec = PoseCodec()
    with pytest.raises(ValueError, match=r"\[\.\.\., J, 2\].*\(4, 17, 3\)"):
        codec.encode_2d(np.zeros((4, 17, 3)), 1000, 1000)
    with pytest.raises(ValueError, match=r"resolution of shape \(3,\)"):
        codec.encode_2d(np.zeros((4, 17, 2)), np.full(3, 1000.0), np.full(3, 1000.0))
    with pytest.raises(ValueError, match=r"root trajectory must have shape \(4, 3\)"):
        codec.decode_3d(np.zeros((4, 17, 3)), np.zeros((4, 1, 3)))
