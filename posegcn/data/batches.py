"""Batches from :class:`~posegcn.data.arrays.PoseArrays`: gathering, temporal windows, flips, sharding.

A per-sample ``Dataset`` with the default collate spends almost all its time in Python
for 1.5M tiny poses.  Here the sampler yields whole *index tensors* and the dataset
gathers a batch from the contiguous tensors of :class:`~posegcn.data.arrays.PoseArrays`
with a few tensor ops: ``DataLoader(dataset, batch_size=None, sampler=BatchIndexSampler(...))``.

Temporal windows (:func:`window_indices`, the one window rule of posegcn — training, evaluation
and ``posegcn lift`` all use it): with ``num_frames = T`` sample ``i`` is the frame at position
``center = (T − 1) // 2`` of its window, which covers frames ``i − center … i − center + T − 1``
of the same sequence, clamped to the sequence (edge frames repeat).  Every frame thus has a
full window and is the centre of exactly one sample.

Flips: :meth:`Skeleton.flip <posegcn.skeleton.Skeleton.flip>` (negate x, swap left/right joints)
is the one mirror of posegcn, used here for augmentation and by the model for test-time flipping.

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

from posegcn._compat import uses_distributed_sampler
from posegcn.data.arrays import PoseArrays
from posegcn.errors import PoseGCNInputError

__all__ = [
    "FLIP_MODES",
    "FlipMode",
    "flip_mode",
    "PoseBatchDataset",
    "BatchIndexSampler",
    "ResumableDataLoader",
    "eval_loader",
    "check_self_sharding",
    "rank_world",
    "window_center",
    "window_indices",
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


def window_center(num_frames: int) -> int:
    """Position of a sample's own frame inside its window of ``num_frames``: ``(T − 1) // 2``."""
    return (num_frames - 1) // 2


def window_indices(
    index: torch.Tensor, first: torch.Tensor, last: torch.Tensor, num_frames: int
) -> torch.Tensor:
    """Indices of the windows of ``num_frames`` centred on ``index``, clamped to ``[first, last]``.

    ``first``/``last`` are the first and last index of each sample's sequence (edge frames repeat).
    Shapes: ``index, first, last [B] → [B, T]``.
    """
    offsets = torch.arange(num_frames, device=index.device) - window_center(num_frames)
    return (index[:, None] + offsets).clamp(min=first[:, None], max=last[:, None])


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
        self._generator = torch.Generator()
        self._epoch = 0
        self._batch = 0

    @property
    def window_center(self) -> int:
        """Position of the sample's own frame inside its window: ``(T − 1) // 2``."""
        return window_center(self.num_frames)

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
        return window_indices(index, a.sequence_starts[seq], a.sequence_starts[seq + 1] - 1, self.num_frames)

    def __getitem__(self, index: torch.Tensor) -> dict[str, torch.Tensor]:
        if not isinstance(index, torch.Tensor) or index.dim() != 1:
            raise TypeError(
                f"PoseBatchDataset is indexed by a 1-D LongTensor of sample indices (from BatchIndexSampler), "
                f"got {type(index).__name__} {getattr(index, 'shape', '')}"
            )
        a = self.arrays
        index = index.to(
            a.pose_2d.device, non_blocking=True
        )  # a no-op when the sampler yields device indices
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
            mirrored = self._random_half(pose_2d.shape[0], pose_2d.device)
        if mirrored is not None:
            pose_2d, pose_3d = self._mirror(pose_2d, mirrored), self._mirror(pose_3d, mirrored)
        return {
            "pose_2d": pose_2d,
            "pose_3d": pose_3d,
            "action": a.action.index_select(0, index),
            "subject": a.subject.index_select(0, index),
            "camera": a.camera.index_select(0, index),
            "index": index,
        }

    def _random_half(self, batch_size: int, device: torch.device) -> torch.Tensor:
        """Mask ``[B]`` of ``⌊B/2⌋`` random samples of the batch, from the counter-based flip stream.

        Drawn on the CPU (the same masks whatever the device) and sent to ``device`` without waiting.
        """
        key = np.random.SeedSequence([self.seed + _FLIP_SEED_OFFSET, self._epoch, self._batch])
        self._generator.manual_seed(int(key.generate_state(1, np.uint64)[0] >> np.uint64(1)))
        self._batch += 1
        chosen = torch.randperm(batch_size, generator=self._generator)[: batch_size // 2]
        mask = torch.zeros(batch_size, dtype=torch.bool).index_fill_(0, chosen, True)
        return mask.to(device, non_blocking=True)

    def _mirror(self, poses: torch.Tensor, mirrored: torch.Tensor) -> torch.Tensor:
        """``poses`` with the samples of the boolean mask ``mirrored [B]`` mirrored by :meth:`Skeleton.flip`.

        ``torch.where`` over the whole batch instead of indexing the chosen rows: boolean indexing
        needs the number of chosen rows on the host, a device sync per batch on a GPU.
        """
        keep = mirrored.view(-1, *([1] * (poses.dim() - 1)))
        return torch.where(keep, self.arrays.skeleton.flip(poses), poses)


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
        device: where the index tensors are yielded (default: the dataset's arrays' device, else
            the CPU).  The shard is drawn on the CPU (the same order on every device) and sent once
            per epoch; each batch is then a view of it, with no copy per step.
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
        device: torch.device | str | None = None,
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
        if device is None:
            device = dataset.arrays.pose_2d.device if dataset is not None else "cpu"
        self.device = torch.device(device)
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
        indices = self.shard().to(self.device)
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
        records the consumed count instead (:meth:`PoseDataModule.state_dict`).
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

    The position that matters is restored by the DataModule (:meth:`PoseDataModule.load_state_dict`),
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
    if trainer is not None and uses_distributed_sampler(trainer):
        raise PoseGCNInputError(
            f"{owner} shards its batches itself (exact, unpadded evaluation across ranks); a distributed "
            "Trainer must run with use_distributed_sampler=False (the posegcn CLI's default; in Python: "
            "Trainer(..., use_distributed_sampler=False))"
        )


def eval_loader(dataset: PoseBatchDataset, batch_size: int, trainer: pl.Trainer | None) -> DataLoader:
    """Evaluation/prediction batches of this rank: a contiguous, unpadded shard in sample order."""
    rank, world_size = rank_world(trainer)
    sampler = BatchIndexSampler(
        len(dataset), batch_size, shuffle=False, rank=rank, world_size=world_size, dataset=dataset
    )
    return DataLoader(dataset, batch_size=None, sampler=sampler, num_workers=0)
