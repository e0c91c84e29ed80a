"""Worker of ``tests/test_metrics_ddp.py``: pose metrics on 2 real gloo processes (no mocks).

Run as ``python -m torch.distributed.run --standalone --nproc_per_node=2 tests/_ddp_metrics_worker.py OUT``.
Every rank feeds its shard of :func:`make_dataset` to fresh :class:`~posegcn.metrics.PoseMetrics`
in batches of uneven sizes, for three ways of sharding; rank 0 writes the synchronised results
to the JSON file ``OUT``.
"""

from __future__ import annotations

import json
import sys

import numpy as np
import torch

from posegcn.metrics import PoseMetrics

NUM_POSES = 1001  # odd: two ranks cannot get equal shards
GROUP_NAMES = ["Directions", "Eating", "Walking", "Sitting", "Smoking"]  # "Smoking" stays empty
BATCH_SIZES = (64, 100, 37, 128, 5)  # cycled: uneven batches and uneven batch counts per rank


def make_dataset(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``pred, target [1001, 17, 3]`` (metres, root-relative) and unbalanced groups ``[1001]``.

    Pose 0 — the one a ``DistributedSampler`` repeats to pad the shards — is a bad prediction,
    so that counting it twice shows.
    """
    rng = np.random.default_rng(seed)
    target = rng.normal(0.0, 0.3, (NUM_POSES, 17, 3))
    pred = target + rng.normal(0.0, 0.05, target.shape)
    pred[0] += rng.normal(0.0, 0.5, (17, 3))
    target -= target[:, :1]
    pred -= pred[:, :1]
    group = rng.choice(len(GROUP_NAMES), size=NUM_POSES, p=[0.6, 0.25, 0.1, 0.05, 0.0])
    return torch.from_numpy(pred), torch.from_numpy(target), torch.from_numpy(group)


def shard_indices(scheme: str, rank: int, world_size: int) -> list[int]:
    """This rank's pose indices for ``scheme``: ``contiguous``, ``interleaved`` or ``padded``."""
    if scheme == "contiguous":  # uneven contiguous blocks: 437 and 564 poses
        bounds = (
            [0, 437, NUM_POSES] if world_size == 2 else np.linspace(0, NUM_POSES, world_size + 1).astype(int)
        )
        return list(range(int(bounds[rank]), int(bounds[rank + 1])))
    if scheme == "interleaved":  # strided like DistributedSampler, without padding
        return list(range(rank, NUM_POSES, world_size))
    if scheme == "padded":  # what Lightning's default evaluation sampler does
        sampler = torch.utils.data.DistributedSampler(
            range(NUM_POSES), num_replicas=world_size, rank=rank, shuffle=False
        )
        return list(sampler)
    raise ValueError(scheme)


def evaluate(indices: list[int], data: tuple[torch.Tensor, ...]) -> PoseMetrics:
    pred, target, group = data
    metrics = PoseMetrics(num_groups=len(GROUP_NAMES), group_names=GROUP_NAMES)
    index = torch.as_tensor(indices, dtype=torch.long)
    start, k = 0, 0
    while start < len(index):
        batch = index[start : start + BATCH_SIZES[k % len(BATCH_SIZES)]]
        metrics.update(pred[batch], target[batch], group[batch])
        start, k = start + len(batch), k + 1
    return metrics


def main(out: str) -> None:
    torch.distributed.init_process_group("gloo")
    rank, world_size = torch.distributed.get_rank(), torch.distributed.get_world_size()
    data = make_dataset()
    results = {"world_size": world_size}
    for scheme in ("contiguous", "interleaved", "padded"):
        metrics = evaluate(shard_indices(scheme, rank, world_size), data)
        flat = metrics.compute_flat()  # collective: every rank calls it
        pooled = {k: v.item() for k, v in metrics.compute().items()}
        counts = metrics["mpjpe"].compute_actionwise().counts.tolist()
        local = metrics["mpjpe"].count.sum().item()  # this rank's states are restored after the sync
        sizes = [None] * world_size
        torch.distributed.all_gather_object(sizes, local)
        results[scheme] = {"flat": flat, "pooled": pooled, "counts": counts, "shard_sizes": sizes}
    if rank == 0:
        with open(out, "w") as f:
            json.dump(results, f)
    torch.distributed.barrier()
    torch.distributed.destroy_process_group()


if __name__ == "__main__":
    main(sys.argv[1])
