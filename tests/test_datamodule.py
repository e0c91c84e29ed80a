"""Batched dataset, index sampler and the Human3.6M DataModules, checked against per-sample references."""

from __future__ import annotations

import lightning.pytorch as pl
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from posegcn.data import (
    BatchIndexSampler,
    H36MDataModule,
    H36MFiles,
    PoseArrays,
    PoseBatchDataset,
)
from posegcn.skeleton import H36M_16, H36M_17
from posegcn.synthetic import SyntheticH36MDataModule

LENGTHS = [3, 5, 1, 4, 7]


def make_arrays(lengths=LENGTHS, skeleton=H36M_17, seed=0) -> PoseArrays:
    """Random poses; ``pose_2d[i, 0, 0] = i`` identifies the sample in windows."""
    g = torch.Generator().manual_seed(seed)
    n, j = sum(lengths), skeleton.num_joints
    pose_2d = torch.randn(n, j, 2, generator=g)
    pose_2d[:, 0, 0] = torch.arange(n, dtype=torch.float32)
    starts = torch.tensor([0, *np.cumsum(lengths).tolist()])
    sequence = torch.repeat_interleave(torch.arange(len(lengths)), torch.tensor(lengths))
    return PoseArrays(
        pose_2d=pose_2d,
        pose_3d=torch.randn(n, j, 3, generator=g),
        root_3d=torch.randn(n, 3, generator=g),
        subject=sequence % 2,
        action=sequence % 3,
        camera=sequence % 4,
        frame=torch.arange(n) - starts[sequence],
        sequence=sequence,
        sequence_starts=starts,
        subject_names=["S1", "S5"],
        action_names=["A", "B", "C"],
        sequence_names=[("S1", "A", k) for k in range(len(lengths))],
        skeleton=skeleton,
    )


def reference_window(i: int, t: int, lengths=LENGTHS) -> list[int]:
    """Plain-Python window of sample ``i``: edge frames repeated, never leaving the sequence."""
    starts = np.cumsum([0, *lengths])
    s = int(np.searchsorted(starts, i, side="right") - 1)
    c = (t - 1) // 2
    return [min(max(i - c + k, starts[s]), starts[s + 1] - 1) for k in range(t)]


def numpy_flip(pose: np.ndarray, skeleton) -> np.ndarray:
    """Mirror one pose ``[J, D]`` joint by joint."""
    out = pose.copy()
    for l, r in zip(skeleton.joints_left, skeleton.joints_right):
        out[l], out[r] = pose[r].copy(), pose[l].copy()
    out[:, 0] *= -1
    return out


# --------------------------------------------------------------------------- dataset
def test_single_frame_batch():
    arrays = make_arrays()
    ds = PoseBatchDataset(arrays)
    idx = torch.tensor([4, 0, 19, 8])
    batch = ds[idx]
    assert batch["pose_2d"].shape == (4, 17, 2) and batch["pose_3d"].shape == (4, 17, 3)
    torch.testing.assert_close(batch["pose_2d"], arrays.pose_2d[idx])
    torch.testing.assert_close(batch["pose_3d"], arrays.pose_3d[idx])
    for key in ("action", "subject", "camera"):
        assert batch[key].dtype == torch.int64
        assert batch[key].tolist() == getattr(arrays, key)[idx].tolist()
    assert batch["index"].tolist() == idx.tolist()


@pytest.mark.parametrize("t", [2, 3, 4, 5, 9])
def test_windows_clamp_to_sequence(t):
    arrays = make_arrays()
    ds = PoseBatchDataset(arrays, num_frames=t)
    idx = torch.arange(len(arrays))
    batch = ds[idx]
    assert batch["pose_2d"].shape == (len(arrays), t, 17, 2)
    assert batch["pose_3d"].shape == (len(arrays), t, 17, 3)
    got = batch["pose_2d"][..., 0, 0].long()  # sample ids inside the windows
    for i in range(len(arrays)):
        assert got[i].tolist() == reference_window(i, t)
        assert got[i, ds.window_center] == i  # every frame is the centre of its own sample
    seq = arrays.sequence
    assert torch.all(seq[got] == seq[:, None])  # windows never cross into a neighbouring sequence
    torch.testing.assert_close(batch["pose_3d"], arrays.pose_3d[got])


def test_flip_random_half_matches_reference():
    arrays = make_arrays(skeleton=H36M_16)
    ds = PoseBatchDataset(arrays, num_frames=3, flip_augment=True, seed=5)
    plain = PoseBatchDataset(arrays, num_frames=3)
    idx = torch.arange(len(arrays))
    batch, ref = ds[idx], plain[idx]
    flipped = []
    for i in range(len(idx)):
        p2, p3 = ref["pose_2d"][i].numpy(), ref["pose_3d"][i].numpy()
        f2 = np.stack([numpy_flip(p, H36M_16) for p in p2])
        f3 = np.stack([numpy_flip(p, H36M_16) for p in p3])
        is_flipped = np.allclose(batch["pose_2d"][i].numpy(), f2)
        assert is_flipped or np.allclose(batch["pose_2d"][i].numpy(), p2)
        np.testing.assert_allclose(batch["pose_3d"][i].numpy(), f3 if is_flipped else p3)
        flipped.append(is_flipped)
    assert sum(flipped) == len(idx) // 2
    for key in ("action", "subject", "camera", "index"):
        assert torch.equal(batch[key], ref[key])
    ds.set_epoch(0)
    again = ds[idx]
    torch.testing.assert_close(again["pose_2d"], batch["pose_2d"])  # reproducible per epoch
    ds.set_epoch(1)
    assert not torch.equal(ds[idx]["pose_2d"], batch["pose_2d"])


def test_flip_duplicate_mode_adds_one_mirrored_copy_of_every_sample():
    """Modulated GCN CPN: an epoch holds every training pose twice, once mirrored (2N samples)."""
    arrays = make_arrays(skeleton=H36M_16)
    n = len(arrays)
    ds = PoseBatchDataset(arrays, num_frames=3, flip_augment="duplicate", seed=5)
    plain = PoseBatchDataset(arrays, num_frames=3)
    assert len(ds) == 2 * n and len(plain) == n
    sampler = BatchIndexSampler(len(ds), 4, shuffle=True, seed=1, dataset=ds)
    epoch = torch.cat(list(sampler))
    assert sorted(epoch.tolist()) == list(range(2 * n))  # each pose once as is, once mirrored
    batch, ref = ds[torch.arange(2 * n)], plain[torch.arange(n)]
    for i in range(n):
        p2, p3 = ref["pose_2d"][i].numpy(), ref["pose_3d"][i].numpy()
        np.testing.assert_array_equal(batch["pose_2d"][i].numpy(), p2)
        np.testing.assert_array_equal(batch["pose_3d"][i].numpy(), p3)
        np.testing.assert_allclose(
            batch["pose_2d"][n + i].numpy(), np.stack([numpy_flip(p, H36M_16) for p in p2])
        )
        np.testing.assert_allclose(
            batch["pose_3d"][n + i].numpy(), np.stack([numpy_flip(p, H36M_16) for p in p3])
        )
    for key in ("action", "subject", "camera", "index"):  # the copy carries its original's labels and index
        assert torch.equal(batch[key][n:], ref[key]) and torch.equal(batch[key][:n], ref[key])
    with pytest.raises(ValueError, match="flip_augment"):
        PoseBatchDataset(arrays, flip_augment="sometimes")


def test_dataset_requires_index_tensor():
    with pytest.raises(TypeError, match="1-D LongTensor"):
        PoseBatchDataset(make_arrays())[3]


# --------------------------------------------------------------------------- sampler
@pytest.mark.parametrize("n,world", [(20, 2), (21, 2), (10, 3), (2, 3)])
def test_eval_shards_cover_every_index_once(n, world):
    shards = []
    for rank in range(world):
        sampler = BatchIndexSampler(n, 4, shuffle=False, rank=rank, world_size=world)
        batches = list(sampler)
        assert len(batches) == len(sampler)
        shard = torch.cat(batches) if batches else torch.zeros(0, dtype=torch.long)
        assert shard.tolist() == list(
            range(rank * n // world, (rank + 1) * n // world)
        )  # contiguous, ordered
        shards.append(shard)
    assert sorted(torch.cat(shards).tolist()) == list(range(n))  # exactly once, no padding


@pytest.mark.parametrize("n,world", [(21, 2), (10, 3), (7, 4), (2, 3)])
def test_train_shards_equal_length_and_padded_by_wrapping(n, world):
    shards = []
    for rank in range(world):
        sampler = BatchIndexSampler(n, 3, shuffle=True, seed=7, rank=rank, world_size=world)
        sampler.set_epoch(2)
        batches = list(sampler)
        assert len(batches) == len(sampler)
        shards.append(torch.cat(batches))
    per_rank = -(-n // world)
    assert all(len(s) == per_rank for s in shards)
    everything = torch.cat(shards)
    assert set(everything.tolist()) == set(range(n))
    counts = torch.bincount(everything, minlength=n)
    assert counts.sum() == per_rank * world and counts.min() >= 1


def test_train_permutation_changes_with_epoch_and_seed():
    def order(seed, epoch):
        sampler = BatchIndexSampler(50, 8, shuffle=True, seed=seed)
        sampler.set_epoch(epoch)
        return torch.cat(list(sampler)).tolist()

    assert order(0, 0) == order(0, 0)
    assert sorted(order(0, 0)) == list(range(50))
    assert order(0, 0) != order(0, 1) and order(0, 0) != order(1, 0)
    assert len(BatchIndexSampler(50, 8, shuffle=True, drop_last=True)) == 6
    assert [len(b) for b in BatchIndexSampler(50, 8, shuffle=True, drop_last=True)] == [8] * 6


def test_dataloader_with_index_batches():
    arrays = make_arrays()
    ds = PoseBatchDataset(arrays, num_frames=3, flip_augment=True)
    sampler = BatchIndexSampler(len(ds), 6, shuffle=True, dataset=ds)
    loader = DataLoader(ds, batch_size=None, sampler=sampler, num_workers=0)
    batches = list(loader)
    assert [b["pose_2d"].shape for b in batches] == [(6, 3, 17, 2)] * 3 + [(2, 3, 17, 2)]
    assert sorted(torch.cat([b["index"] for b in batches]).tolist()) == list(range(len(ds)))


# --------------------------------------------------------------------------- DataModule
def test_datamodule_end_to_end(h36m_root, monkeypatch):
    dm = H36MDataModule(
        root=str(h36m_root),
        num_joints=16,
        train_subjects=["S1"],
        val_subjects=["S5"],
        test_subjects=["S9"],
        batch_size=16,
        eval_batch_size=50,
        num_frames=3,
        flip_augment=True,
    )
    # usable before setup (the CLI links num_joints/num_frames into the model)
    assert dm.num_joints == 16 and dm.skeleton is H36M_16 and dm.window_center == 1 and dm.num_frames == 3
    assert dm.subject_names == ["S1", "S5", "S9"]
    assert getattr(dm, "action_names", None) is None
    reads = []
    original = H36MFiles.read.__func__
    monkeypatch.setattr(H36MFiles, "read", classmethod(lambda cls, *a: reads.append(a) or original(cls, *a)))
    dm.setup("fit")
    dm.setup("fit")
    dm.setup("validate")
    assert len(reads) == 1  # loading is not repeated per stage call
    assert dm.action_names == ["Eating", "Walking"]
    batch = next(iter(dm.train_dataloader()))
    assert batch["pose_2d"].shape == (16, 3, 16, 2) and batch["pose_3d"].shape == (16, 3, 16, 3)
    assert torch.all(batch["subject"] == 0)
    val = list(dm.val_dataloader())
    assert sum(len(b["index"]) for b in val) == len(dm.arrays("val"))
    assert torch.all(torch.cat([b["subject"] for b in val]) == 1)
    dm.setup("test")
    assert len(reads) == 2
    test = list(dm.test_dataloader())
    assert torch.cat([b["index"] for b in test]).tolist() == list(range(len(dm.arrays("test"))))
    assert torch.all(torch.cat([b["subject"] for b in test]) == 2)
    assert [len(b["index"]) for b in dm.predict_dataloader()] == [len(b["index"]) for b in test]
    assert dm.hparams.num_frames == 3 and dm.hparams.train_subjects == ["S1"]


class _Probe(pl.LightningModule):
    """Records what the Trainer feeds it."""

    def __init__(self):
        super().__init__()
        self.layer = torch.nn.Linear(2, 3)
        self.seen: dict[str, list[torch.Tensor]] = {"val": [], "test": []}

    def training_step(self, batch, batch_idx):
        return self.layer(batch["pose_2d"]).mean()

    def validation_step(self, batch, batch_idx):
        self.seen["val"].append(batch["index"])

    def test_step(self, batch, batch_idx):
        self.seen["test"].append(batch["index"])

    def predict_step(self, batch, batch_idx):
        return batch["index"]

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


def test_datamodule_with_trainer(h36m_root):
    dm = H36MDataModule(root=str(h36m_root), train_subjects=["S1"], val_subjects=["S5"], test_subjects=["S9"])
    trainer = pl.Trainer(
        max_epochs=1,
        limit_train_batches=3,
        num_sanity_val_steps=0,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        use_distributed_sampler=False,
    )
    probe = _Probe()
    trainer.fit(probe, datamodule=dm)
    assert torch.cat(probe.seen["val"]).tolist() == list(range(len(dm.arrays("val"))))
    trainer.test(probe, datamodule=dm, verbose=False)
    assert torch.cat(probe.seen["test"]).tolist() == list(range(len(dm.arrays("test"))))
    predictions = trainer.predict(probe, datamodule=dm)
    assert torch.cat(predictions).tolist() == list(range(len(dm.arrays("test"))))


def test_distributed_trainer_needs_own_sharding(h36m_root):
    trainer = pl.Trainer(accelerator="cpu", devices=2, strategy="ddp", logger=False)
    dm = H36MDataModule(root=str(h36m_root), train_subjects=["S1"], val_subjects=["S5"], test_subjects=["S9"])
    dm.trainer = trainer
    with pytest.raises(ValueError, match="use_distributed_sampler=False"):
        dm.setup("fit")


def test_datamodule_argument_errors():
    with pytest.raises(ValueError, match="16 or 17 joints"):
        H36MDataModule(num_joints=15)
    with pytest.raises(ValueError, match="num_frames"):
        H36MDataModule(num_frames=0)


def test_synthetic_datamodule(tmp_path):
    dm = SyntheticH36MDataModule(
        root=str(tmp_path / "synthetic"),
        source="synth_det",
        frames_per_take=12,
        batch_size=32,
        eval_downsample=2,
    )
    assert dm.hparams.frames_per_take == 12 and dm.hparams.source == "synth_det"
    dm.prepare_data()
    dm.setup("fit")
    batch = next(iter(dm.train_dataloader()))
    assert batch["pose_2d"].shape == (32, 17, 2) and torch.all(batch["pose_3d"][:, 0] == 0)
    assert len(dm.action_names) == 15
    val = dm.arrays("val")
    assert torch.all(val.frame % 2 == 0) and torch.all(
        val.sequence_lengths == 6
    )  # eval_downsample of 12 frames


def test_no_silent_source_substitution(tmp_path, caplog):
    """A 2D source name reads its own file; the synthetic stand-ins are explicit and logged."""
    root = str(tmp_path / "synthetic")
    plain = SyntheticH36MDataModule(root=root, source="cpn_ft_h36m_dbb", frames_per_take=6)
    with pytest.raises(ValueError, match="stand_ins"):
        plain.setup("fit")
    with pytest.raises(FileNotFoundError, match="data_2d_h36m_cpn_ft_h36m_dbb.npz"):
        H36MDataModule(root=root, source="cpn_ft_h36m_dbb").setup("fit")
    with pytest.raises(ValueError, match="synth_det"):
        SyntheticH36MDataModule(root=root, stand_ins={"cpn_ft_h36m_dbb": "cpn"})
    dm = SyntheticH36MDataModule(
        root=root, source="cpn_ft_h36m_dbb", stand_ins={"cpn_ft_h36m_dbb": "synth_det"}, frames_per_take=6
    )
    with caplog.at_level("INFO"):
        dm.setup("fit")
    assert dm.file_source == "synth_det" and "data_2d_h36m_synth_det.npz" in caplog.text


def test_moved_synthetic_module_fails_naming_the_new_path():
    import posegcn.data

    with pytest.raises(ImportError, match="posegcn.synthetic.SyntheticH36MDataModule"):
        posegcn.data.SyntheticH36MDataModule  # noqa: B018


def test_flip_augmentation_is_the_skeleton_flip():
    """Augmentation mirrors with the same function as test-time flipping (:meth:`Skeleton.flip`)."""
    arrays = make_arrays()
    dataset = PoseBatchDataset(arrays, flip_augment="duplicate")
    index = torch.arange(len(arrays))
    plain, mirrored = dataset[index], dataset[index + len(arrays)]
    torch.testing.assert_close(mirrored["pose_2d"], H36M_17.flip(plain["pose_2d"]))
    torch.testing.assert_close(mirrored["pose_3d"], H36M_17.flip(plain["pose_3d"]))


def test_lift_windows_are_the_data_window_rule():
    from posegcn.data import window_indices
    from posegcn.lift import temporal_windows

    arrays = make_arrays(lengths=[9])
    dataset = PoseBatchDataset(arrays, num_frames=5)
    torch.testing.assert_close(temporal_windows(9, 5), dataset.window_indices(torch.arange(9)))
    first, last = torch.zeros(9, dtype=torch.long), torch.full((9,), 8)
    torch.testing.assert_close(window_indices(torch.arange(9), first, last, 5), temporal_windows(9, 5))
