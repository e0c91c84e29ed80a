"""Batches of Human3.6M poses and the LightningDataModule.

A per-sample ``Dataset`` with the default collate spends almost all its time in Python
for 1.5M tiny poses.  Here the sampler yields whole *index tensors* and the dataset
gathers a batch from the contiguous tensors of :class:`~posegcn.data.h36m.PoseArrays`
with a few tensor ops: ``DataLoader(dataset, batch_size=None, sampler=BatchIndexSampler(...))``.

Temporal windows: with ``num_frames = T`` sample ``i`` is the frame at position
``center = (T − 1) // 2`` of its window, which covers frames ``i − center … i − center + T − 1``
of the same sequence, clamped to the sequence (edge frames repeat).  Every frame thus has a
full window and is the centre of exactly one sample.

Distributed runs: the sampler shards by itself (the Trainer must run with
``use_distributed_sampler=False``, the posegcn CLI's default).  Training shards split one
shuffled permutation across ranks, padded by wrapping so that all ranks run the same number
of batches; evaluation shards are contiguous and *not* padded (uneven sizes), so summed
metric states are exact (ecosystem-notes.md, "Metrics under several processes").
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Literal

import lightning.pytorch as pl
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from posegcn.data.h36m import H36MFiles, PoseArrays, action_group
from posegcn.errors import InputKeyError, PoseGCNInputError
from posegcn.skeleton import Skeleton, h36m_skeleton

__all__ = [
    "FLIP_MODES",
    "FlipMode",
    "flip_mode",
    "PoseBatchDataset",
    "BatchIndexSampler",
    "ResumableDataLoader",
    "H36MDataModule",
    "SyntheticH36MDataModule",
    "eval_loader",
    "check_self_sharding",
    "rank_world",
]

# Offset separating the flip-augmentation random stream from the shuffling stream.
_FLIP_SEED_OFFSET = 1_000_003

#: Values of ``flip_augment`` (``True`` means ``"random_half"``).
FLIP_MODES = (False, True, "random_half", "duplicate")
FlipMode = bool | Literal["random_half", "duplicate"]


def flip_mode(flip_augment: FlipMode) -> str:
    """``"none"``, ``"random_half"`` or ``"duplicate"`` for a ``flip_augment`` value."""
    if flip_augment is False:
        return "none"
    if flip_augment is True or flip_augment == "random_half":
        return "random_half"
    if flip_augment == "duplicate":
        return "duplicate"
    raise ValueError(f"flip_augment must be one of {FLIP_MODES}, got {flip_augment!r}")


class PoseBatchDataset(Dataset):
    """Gathers whole batches (optionally temporal windows) from :class:`PoseArrays`.

    ``dataset[index]`` with a 1-D LongTensor ``index [B]`` returns a dict:
    ``pose_2d [B, J, 2]`` / ``pose_3d [B, J, 3]`` (``[B, T, J, ·]`` when ``num_frames > 1``),
    ``action``, ``subject``, ``camera``, ``index`` ``[B]`` int64.

    Args:
        arrays: the samples of one split.
        num_frames: window length ``T`` (1 = single frame).
        flip_augment: horizontal flip augmentation (training only), :data:`FLIP_MODES`:
            ``False``; ``True`` or ``"random_half"`` — mirror a random half of every batch
            (VideoPose3D; ``N`` samples per epoch); ``"duplicate"`` — every sample appears twice
            per epoch, once as is and once mirrored (``2N`` samples; the Modulated GCN CPN code,
            which concatenates a flipped copy of the training set).  Indices ``N … 2N − 1`` are
            the mirrored copies of ``0 … N − 1``.
        seed: seed of the flip mask stream.

    Flip masks are *counter-based*: the mask of a batch is drawn from a generator seeded by
    ``(seed, epoch, batch position in the epoch)``, so a run resumed in the middle of an
    epoch draws exactly the masks an uninterrupted run draws (:meth:`set_position`).
    """

    def __init__(
        self, arrays: PoseArrays, num_frames: int = 1, flip_augment: FlipMode = False, seed: int = 0
    ):
        if num_frames < 1:
            raise ValueError(f"num_frames must be >= 1, got {num_frames}")
        self.arrays = arrays
        self.num_frames = num_frames
        self.flip_mode = flip_mode(flip_augment)
        self.flip_augment = self.flip_mode != "none"
        self.seed = seed
        self._offsets = torch.arange(num_frames) - self.window_center
        self._flip_perm = torch.tensor(arrays.skeleton.flip_permutation)
        self._mirror_2d = torch.tensor([-1.0, 1.0])
        self._mirror_3d = torch.tensor([-1.0, 1.0, 1.0])
        self._generator = torch.Generator()
        self._epoch = 0
        self._batch = 0

    @property
    def window_center(self) -> int:
        """Position of the sample's own frame inside its window: ``(T − 1) // 2``."""
        return (self.num_frames - 1) // 2

    def set_epoch(self, epoch: int) -> None:
        """Restart the flip mask stream at the first batch of ``epoch``."""
        self.set_position(epoch, 0)

    def set_position(self, epoch: int, batch: int) -> None:
        """The next gathered batch is batch ``batch`` of ``epoch`` (its flip mask depends on nothing else)."""
        self._epoch, self._batch = int(epoch), int(batch)

    def __len__(self) -> int:
        return len(self.arrays) * (2 if self.flip_mode == "duplicate" else 1)

    def window_indices(self, index: torch.Tensor) -> torch.Tensor:
        """Sample indices of the windows around ``index``, clamped to each sample's sequence.

        Shapes: ``[B] → [B, T]``.
        """
        a = self.arrays
        seq = a.sequence[index]
        first = a.sequence_starts[seq]
        last = a.sequence_starts[seq + 1] - 1
        return (index[:, None] + self._offsets).clamp(min=first[:, None], max=last[:, None])

    def __getitem__(self, index: torch.Tensor) -> dict[str, torch.Tensor]:
        if not isinstance(index, torch.Tensor) or index.dim() != 1:
            raise TypeError(
                f"PoseBatchDataset is indexed by a 1-D LongTensor of sample indices (from BatchIndexSampler), "
                f"got {type(index).__name__} {getattr(index, 'shape', '')}"
            )
        a = self.arrays
        mirrored = None
        if self.flip_mode == "duplicate":
            # the second half of the index range is the mirrored copy of the first
            mirrored = index >= len(a)
            index = index - mirrored.long() * len(a)
        if self.num_frames == 1:
            pose_2d = a.pose_2d.index_select(0, index)
            pose_3d = a.pose_3d.index_select(0, index)
        else:
            window = self.window_indices(index).flatten()
            shape = (len(index), self.num_frames, a.skeleton.num_joints)
            pose_2d = a.pose_2d.index_select(0, window).view(*shape, 2)
            pose_3d = a.pose_3d.index_select(0, window).view(*shape, 3)
        if self.flip_mode == "random_half":
            mirrored = self._random_half(pose_2d.shape[0])
        if mirrored is not None:
            self._mirror(pose_2d, pose_3d, mirrored)
        return {
            "pose_2d": pose_2d,
            "pose_3d": pose_3d,
            "action": a.action.index_select(0, index),
            "subject": a.subject.index_select(0, index),
            "camera": a.camera.index_select(0, index),
            "index": index,
        }

    def _random_half(self, batch_size: int) -> torch.Tensor:
        """Indices of ``⌊B/2⌋`` random samples of the batch, from the counter-based flip stream."""
        key = np.random.SeedSequence([self.seed + _FLIP_SEED_OFFSET, self._epoch, self._batch])
        self._generator.manual_seed(int(key.generate_state(1, np.uint64)[0] >> np.uint64(1)))
        self._batch += 1
        return torch.randperm(batch_size, generator=self._generator)[: batch_size // 2]

    def _mirror(self, pose_2d: torch.Tensor, pose_3d: torch.Tensor, chosen: torch.Tensor) -> None:
        """Mirror the ``chosen`` samples (indices or a boolean mask) in place: negate x (normalised 2D)
        and X (3D), swap left/right joints (:attr:`Skeleton.flip_permutation`)."""
        for pose, sign in ((pose_2d, self._mirror_2d), (pose_3d, self._mirror_3d)):
            pose[chosen] = pose[chosen].index_select(-2, self._flip_perm) * sign


class BatchIndexSampler(Sampler[torch.Tensor]):
    """Yields 1-D LongTensors of sample indices, one per batch, for this rank's shard.

    * ``shuffle=True`` (training): a permutation drawn from a generator seeded with
      ``seed + epoch`` (identical on all ranks), padded by wrapping to a multiple of
      ``world_size`` and split ``perm[rank::world_size]``: every rank gets the same number
      of batches.
    * ``shuffle=False`` (evaluation): the contiguous range
      ``[rank·N // world_size, (rank + 1)·N // world_size)`` in order, not padded, so every
      sample is evaluated exactly once over all ranks.

    Args:
        num_samples: dataset size ``N``.
        batch_size: samples per batch (the last batch may be smaller unless ``drop_last``).
        shuffle, seed, rank, world_size: see above.
        drop_last: drop this rank's last incomplete batch.
        dataset: optional :class:`PoseBatchDataset` whose :meth:`~PoseBatchDataset.set_epoch`
            is called along with this sampler's (Lightning calls the sampler's only).
    """

    def __init__(
        self,
        num_samples: int,
        batch_size: int,
        *,
        shuffle: bool = False,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
        drop_last: bool = False,
        dataset: PoseBatchDataset | None = None,
    ):
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if world_size < 1 or not 0 <= rank < world_size:
            raise ValueError(f"need 0 <= rank < world_size, got rank={rank}, world_size={world_size}")
        self.num_samples = num_samples
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed
        self.rank = rank
        self.world_size = world_size
        self.drop_last = drop_last
        self.dataset = dataset
        self.epoch = 0
        self._skip = 0  # batches to skip at the next iter() (mid-epoch resume)
        self._yielded = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch
        if self.dataset is not None:
            self.dataset.set_epoch(epoch)

    def shard(self) -> torch.Tensor:
        """This rank's sample indices for the current epoch, in iteration order."""
        n, w = self.num_samples, self.world_size
        if not self.shuffle:
            return torch.arange(self.rank * n // w, (self.rank + 1) * n // w)
        generator = torch.Generator().manual_seed(self.seed + self.epoch)
        perm = torch.randperm(n, generator=generator)
        total = math.ceil(n / w) * w
        if total > n:  # wrap around (repeatedly when n < world_size)
            perm = perm.repeat(math.ceil(total / n))[:total]
        return perm[self.rank :: w]

    def batches(self) -> tuple[torch.Tensor, ...]:
        """All of this rank's batches of the current epoch."""
        indices = self.shard()
        batches = (
            indices.split(self.batch_size) if len(indices) else ()
        )  # split() of nothing gives one empty batch
        if self.drop_last and batches and len(batches[-1]) < self.batch_size:
            batches = batches[:-1]
        return batches

    def resume(self, epoch: int, batches_done: int) -> None:
        """Make the next iteration continue epoch ``epoch`` after its first ``batches_done`` batches.

        Used to resume a run that stopped in the middle of an epoch: the batches (and flip
        masks) that follow are those an uninterrupted run would have produced.  Applies to
        the next ``iter()`` only.
        """
        if batches_done < 0:
            raise ValueError(f"batches_done must be >= 0, got {batches_done}")
        self.set_epoch(epoch)
        self._skip = int(batches_done)

    def state_dict(self) -> dict[str, int]:
        """Position of the last iterator created: ``{"epoch", "batches_yielded"}``.

        ``batches_yielded`` counts the batches handed to the loader, which may be ahead of
        the batches the model has consumed (Lightning prefetches one); the DataModule
        records the consumed count instead (:meth:`H36MDataModule.state_dict`).
        """
        return {"epoch": self.epoch, "batches_yielded": self._yielded}

    def __iter__(self) -> Iterator[torch.Tensor]:
        batches = self.batches()
        start, self._skip = min(self._skip, len(batches)), 0
        self._yielded = start
        return self._iterate(batches, start, self.epoch)

    def _iterate(self, batches: tuple[torch.Tensor, ...], start: int, epoch: int) -> Iterator[torch.Tensor]:
        for b in range(start, len(batches)):
            if self.dataset is not None:
                # the DataLoader gathers this batch right after we yield it (num_workers=0)
                self.dataset.set_position(epoch, b)
            self._yielded = b + 1
            yield batches[b]

    def __len__(self) -> int:
        if self.shuffle:
            n = math.ceil(self.num_samples / self.world_size) if self.num_samples else 0
        else:
            n = (
                self.rank + 1
            ) * self.num_samples // self.world_size - self.rank * self.num_samples // self.world_size
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)


class ResumableDataLoader(DataLoader):
    """The training loader: marks itself resumable for Lightning (``state_dict``/``load_state_dict``).

    The position that matters is restored by the DataModule (:meth:`H36MDataModule.load_state_dict`),
    because Lightning hands loader states back only for epochs that were unfinished when the
    checkpoint was written; the loader's own state is informational.
    """

    def state_dict(self) -> dict[str, int]:
        sampler = self.sampler
        return sampler.state_dict() if isinstance(sampler, BatchIndexSampler) else {}

    def load_state_dict(self, state_dict: dict[str, int]) -> None:
        pass  # see the class docstring


def rank_world(trainer: pl.Trainer | None) -> tuple[int, int]:
    """``(global_rank, world_size)`` of the trainer, ``(0, 1)`` without one."""
    return (0, 1) if trainer is None else (trainer.global_rank, trainer.world_size)


def check_self_sharding(trainer: pl.Trainer | None, owner: str) -> None:
    """Refuse a distributed trainer that would also shard with Lightning's (padding) sampler."""
    if trainer is None:
        return
    connector = getattr(trainer, "_accelerator_connector", None)
    distributed = getattr(connector, "is_distributed", trainer.world_size > 1)
    if distributed and getattr(connector, "use_distributed_sampler", False):
        raise PoseGCNInputError(
            f"{owner} shards its batches itself (exact, unpadded evaluation across ranks); a distributed "
            "Trainer must run with use_distributed_sampler=False (the posegcn CLI's default; in Python: "
            "Trainer(..., use_distributed_sampler=False))"
        )


def eval_loader(dataset: PoseBatchDataset, batch_size: int, trainer: pl.Trainer | None) -> DataLoader:
    """Evaluation/prediction batches of this rank: a contiguous, unpadded shard in sample order."""
    rank, world_size = rank_world(trainer)
    sampler = BatchIndexSampler(len(dataset), batch_size, shuffle=False, rank=rank, world_size=world_size)
    return DataLoader(dataset, batch_size=None, sampler=sampler, num_workers=0)


class H36MDataModule(pl.LightningDataModule):
    """Human3.6M (VideoPose3D files) for 2D → 3D lifting.

    The default split holds S8 out for validation and never touches the test subjects
    S9/S11 before testing.  The original SemGCN and Modulated GCN codes instead pick the
    best epoch on the test set; to reproduce that, use
    ``train_subjects: [S1, S5, S6, S7, S8]`` and ``val_subjects: [S9, S11]``.

    Args:
        root: folder with ``data_3d_h36m.npz`` and ``data_2d_h36m_<source>.npz``.
        source: 2D source: ``gt``, ``cpn_ft_h36m_dbb``, ``sh_ft_h36m``, ``sh_pt_mpii``,
            ``synth_det``, ``synth_sh`` or any custom name.
        num_joints: 17 (VideoPose3D/CPN layout) or 16 (SemGCN/Modulated GCN GT layout, no Neck/Nose).
        train_subjects, val_subjects, test_subjects: subject splits (``predict`` uses the test split).
        actions: action groups (``Walking``) or exact takes (``Walking 1``); ``None`` = all.
        downsample: keep every n-th frame for training; ``eval_downsample`` for validation/test.
        batch_size, eval_batch_size: batch sizes for training and for evaluation/prediction.
        num_frames: temporal window length ``T`` (1 = single-frame models).
        flip_augment: horizontal flip augmentation of the training set: ``false``, ``true`` (=
            ``random_half``: a random half of every batch) or ``duplicate`` (a mirrored copy of every
            training pose, 2N samples per epoch: the Modulated GCN CPN code); see :class:`PoseBatchDataset`.
        seed: seed of the per-epoch shuffling and flip streams.
        cameras: camera calibration JSON, ``None`` for the one shipped with posegcn.
        check_units: check bone lengths (metres), pixel ranges and 2D/3D frame counts while reading
            (:mod:`posegcn.data.units`); ``False`` for a file whose unusual scale is intended.
    """

    def __init__(
        self,
        root: str = "data/h36m",
        source: str = "gt",
        num_joints: int = 17,
        train_subjects: list[str] = ["S1", "S5", "S6", "S7"],  # noqa: B006 (copied, never mutated)
        val_subjects: list[str] = ["S8"],  # noqa: B006
        test_subjects: list[str] = ["S9", "S11"],  # noqa: B006
        actions: list[str] | None = None,
        downsample: int = 1,
        eval_downsample: int = 1,
        batch_size: int = 64,
        eval_batch_size: int = 1024,
        num_frames: int = 1,
        flip_augment: FlipMode = False,
        seed: int = 0,
        cameras: str | None = None,
        check_units: bool = True,
    ):
        super().__init__()
        self._check_num_joints(num_joints)  # fail early on a wrong joint count
        if num_frames < 1:
            raise PoseGCNInputError(f"num_frames must be >= 1, got {num_frames}")
        for name, value in (("downsample", downsample), ("eval_downsample", eval_downsample)):
            if value < 1:
                raise PoseGCNInputError(f"{name} must be >= 1, got {value}")
        for name, value in (("batch_size", batch_size), ("eval_batch_size", eval_batch_size)):
            if value < 1:
                raise PoseGCNInputError(f"{name} must be >= 1, got {value}")
        flip_mode(flip_augment)  # fail early on an unknown mode
        self.save_hyperparameters()
        self._arrays: dict[str, PoseArrays] = {}
        self._datasets: dict[str, PoseBatchDataset] = {}
        self._action_names: list[str] | None = None
        self._resume_position: tuple[int, int] | None = None

    # ------------------------------------------------------------------ dataset hooks
    # A dataset in another file format (HumanEva-I) overrides these four; the splits,
    # batching, sharding and resume state below are shared.
    @staticmethod
    def _check_num_joints(num_joints: int) -> None:
        h36m_skeleton(num_joints)

    def _read_files(self) -> H36MFiles:
        # subclasses whose signature lacks check_units (synthetic data: metres and pixels) check
        return H36MFiles.read(self.hparams.root, self.file_source, self.hparams.get("check_units", True))

    def _action_vocabulary(self, files: H36MFiles) -> list[str]:
        """Sorted action groups over all subjects of this DataModule present in the files."""
        present = [s for s in self.subject_names if s in files.positions_3d and s in files.positions_2d]
        if not present:
            raise InputKeyError(
                f"none of the subjects {self.subject_names} is in {files.path_3d} (subjects: {files.subjects()})"
            )
        takes = files.actions(present, self.hparams.actions)
        return sorted({action_group(a) for names in takes.values() for a in names})

    def _select(self, files: H36MFiles, subjects: list[str], downsample: int) -> PoseArrays:
        h = self.hparams
        return files.select(
            subjects,
            h.actions,
            h.num_joints,
            downsample,
            h.cameras,
            subject_names=self.subject_names,
            action_names=self._action_names,
        )

    # ------------------------------------------------------------------ before setup
    @property
    def num_joints(self) -> int:
        return self.hparams.num_joints

    @property
    def skeleton(self) -> Skeleton:
        return h36m_skeleton(self.hparams.num_joints)

    @property
    def num_frames(self) -> int:
        return self.hparams.num_frames

    @property
    def window_center(self) -> int:
        """Index of the predicted (centre) frame inside a window: ``(num_frames − 1) // 2``."""
        return (self.hparams.num_frames - 1) // 2

    @property
    def subject_names(self) -> list[str]:
        """Vocabulary of ``batch["subject"]``: train, val, test subjects (first occurrence order)."""
        h = self.hparams
        return list(dict.fromkeys([*h.train_subjects, *h.val_subjects, *h.test_subjects]))

    # ------------------------------------------------------------------ after setup
    @property
    def action_names(self) -> list[str]:
        """Vocabulary of ``batch["action"]``: sorted action groups (available after ``setup``)."""
        if self._action_names is None:
            # AttributeError, so that getattr(dm, "action_names", None) works before setup
            raise AttributeError(
                "H36MDataModule.action_names is known only after setup(); call setup() first"
            )
        return self._action_names

    @property
    def file_source(self) -> str:
        """The ``<source>`` of the ``data_2d_h36m_<source>.npz`` file that is read."""
        return self.hparams.source

    def arrays(self, split: str) -> PoseArrays:
        """The loaded :class:`PoseArrays` of ``"train"``, ``"val"`` or ``"test"`` (e.g. root trajectories)."""
        if split not in self._arrays:
            raise RuntimeError(
                f"split {split!r} is not loaded; loaded: {sorted(self._arrays)}; call setup() first"
            )
        return self._arrays[split]

    # ------------------------------------------------------------------ loading
    _STAGE_SPLITS = {"fit": ("train", "val"), "validate": ("val",), "test": ("test",), "predict": ("test",)}

    def setup(self, stage: str | None = None) -> None:
        self._check_trainer()
        splits = self._STAGE_SPLITS.get(stage, ("train", "val", "test"))
        missing = [s for s in splits if s not in self._arrays]
        if not missing:  # already loaded by an earlier stage
            return
        h = self.hparams
        # The raw files are read once per setup call and released afterwards (≈0.5 GB for Human3.6M).
        files = self._read_files()
        if self._action_names is None:
            self._action_names = self._action_vocabulary(files)
        subjects = {"train": h.train_subjects, "val": h.val_subjects, "test": h.test_subjects}
        for split in missing:
            downsample = h.downsample if split == "train" else h.eval_downsample
            self._arrays[split] = self._select(files, subjects[split], downsample)
            self._datasets[split] = PoseBatchDataset(
                self._arrays[split],
                num_frames=h.num_frames,
                flip_augment=h.flip_augment if split == "train" else False,
                seed=h.seed,
            )

    def _check_trainer(self) -> None:
        check_self_sharding(self.trainer, type(self).__name__)

    def _rank_world(self) -> tuple[int, int]:
        return rank_world(self.trainer)

    # ------------------------------------------------------------------ resuming
    def state_dict(self) -> dict[str, int]:
        """Where the training stream stands, saved in every checkpoint: ``{"epoch", "batches_done"}``.

        ``batches_done`` counts the batches of ``epoch`` the model has *consumed* (Lightning
        prefetches one more); a finished epoch is recorded as ``(epoch + 1, 0)``.  Resuming
        from the checkpoint (``--ckpt_path``) restores it through :meth:`load_state_dict`,
        and the next training loader continues the same shuffled order and flip masks.
        """
        trainer = self.trainer
        if trainer is None or trainer.state.fn != "fit":
            return {}
        epoch = trainer.current_epoch
        done = trainer.fit_loop.epoch_loop.batch_progress.current.processed
        total = trainer.num_training_batches
        if done >= total:
            epoch, done = epoch + 1, 0
        return {"epoch": int(epoch), "batches_done": int(done)}

    def load_state_dict(self, state_dict: dict[str, int]) -> None:
        if not state_dict:
            return
        missing = {"epoch", "batches_done"} - set(state_dict)
        if missing:
            raise KeyError(
                f"{type(self).__name__} state in the checkpoint lacks {sorted(missing)}: got {state_dict}"
            )
        self._resume_position = (int(state_dict["epoch"]), int(state_dict["batches_done"]))

    # ------------------------------------------------------------------ loaders
    def _loader(self, split: str, train: bool) -> DataLoader:
        if split not in self._datasets:
            self.setup({"train": "fit", "val": "validate", "test": "test"}[split])
        dataset = self._datasets[split]
        if not train:
            return eval_loader(dataset, self.hparams.eval_batch_size, self.trainer)
        rank, world_size = self._rank_world()
        sampler = BatchIndexSampler(
            len(dataset),
            self.hparams.batch_size,
            shuffle=True,
            seed=self.hparams.seed,
            rank=rank,
            world_size=world_size,
            dataset=dataset,
        )
        if self._resume_position is not None:
            # restored from a checkpoint: continue that epoch where the model stopped
            sampler.resume(*self._resume_position)
            self._resume_position = None
        return ResumableDataLoader(dataset, batch_size=None, sampler=sampler, num_workers=0)

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", train=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", train=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", train=False)

    def predict_dataloader(self) -> DataLoader:
        return self._loader("test", train=False)


class SyntheticH36MDataModule(H36MDataModule):
    """:class:`H36MDataModule` on synthetic Human3.6M-format files generated on first use.

    ``prepare_data`` (rank 0 only) writes ``data_3d_h36m.npz`` and
    ``data_2d_h36m_{gt,synth_det,synth_sh}.npz`` into ``root`` unless identical files are
    there; loading then follows exactly the Human3.6M path.

    The synthetic detections stand in for the real detectors, so that every paper config
    runs unchanged on synthetic data: ``source`` ``cpn_ft_h36m_dbb`` (and any other 17-joint
    detector name in :attr:`SOURCE_ALIASES`) reads ``synth_det``, and the Stacked-Hourglass
    sources read ``synth_sh``.

    Args:
        frames_per_take: frames of every synthetic take.
        synthetic_seed: seed of the generator (independent of ``seed``).
        (others as :class:`H36MDataModule`)
    """

    def __init__(
        self,
        root: str = "data/synthetic",
        source: str = "gt",
        num_joints: int = 17,
        train_subjects: list[str] = ["S1", "S5", "S6", "S7"],  # noqa: B006
        val_subjects: list[str] = ["S8"],  # noqa: B006
        test_subjects: list[str] = ["S9", "S11"],  # noqa: B006
        actions: list[str] | None = None,
        downsample: int = 1,
        eval_downsample: int = 1,
        batch_size: int = 64,
        eval_batch_size: int = 1024,
        num_frames: int = 1,
        flip_augment: FlipMode = False,
        seed: int = 0,
        cameras: str | None = None,
        frames_per_take: int = 200,
        synthetic_seed: int = 0,
    ):
        super().__init__(
            root=root,
            source=source,
            num_joints=num_joints,
            train_subjects=train_subjects,
            val_subjects=val_subjects,
            test_subjects=test_subjects,
            actions=actions,
            downsample=downsample,
            eval_downsample=eval_downsample,
            batch_size=batch_size,
            eval_batch_size=eval_batch_size,
            num_frames=num_frames,
            flip_augment=flip_augment,
            seed=seed,
            cameras=cameras,
        )

    SOURCE_ALIASES = {
        "cpn_ft_h36m_dbb": "synth_det",
        "detectron_ft_h36m": "synth_det",
        "detectron_pt_coco": "synth_det",
        "sh_ft_h36m": "synth_sh",
        "sh_pt_mpii": "synth_sh",
    }

    @property
    def file_source(self) -> str:
        return self.SOURCE_ALIASES.get(self.hparams.source, self.hparams.source)

    def prepare_data(self) -> None:
        # imported here so that `python -m posegcn.data.synthetic` does not import itself twice
        from posegcn.data.synthetic import ensure_synthetic_h36m

        ensure_synthetic_h36m(self.hparams.root, self.hparams.frames_per_take, self.hparams.synthetic_seed)

    def setup(self, stage: str | None = None) -> None:
        if self.trainer is None:  # used on its own: nobody called prepare_data
            self.prepare_data()
        super().setup(stage)
