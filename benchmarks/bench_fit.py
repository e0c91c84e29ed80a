"""End-to-end training throughput: the real ``posegcn fit`` loop, timed from inside.

``make bench`` times the training *step* on a fixed batch; a user runs ``posegcn fit``, whose
loop also gathers batches, flips, clips gradients, steps the schedule, logs and draws a progress
bar.  :func:`fit_throughput` runs the real command (``posegcn.cli.main``, the console script's
entry point) for ``warmup + steps`` optimiser steps with :class:`LoopTimer` attached and returns
the samples per second of the ``steps`` timed ones — everything between the end of step
``warmup`` and the end of the last step, data loading included; start-up, the sanity check and
the first (slow) steps excluded.  Validation is switched off for the run (it is timed apart).

    python benchmarks/bench_fit.py --config configs/modgcn.yaml --steps 600
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

import lightning.pytorch as pl

__all__ = ["LoopTimer", "fit_throughput", "write_json", "FIT_CASES"]

#: Rows of the end-to-end table: (name, model config, batch size, extra arguments).
FIT_CASES = (
    ("Modulated GCN (GT)", "configs/modgcn.yaml", 64, ()),
    ("Modulated GCN (GT)", "configs/modgcn.yaml", 256, ()),
    ("SemGCN", "configs/semgcn.yaml", 64, ()),
)


#: A step-only call (``bench.training_step``) that :class:`LoopTimer` interleaves with the loop; set
#: by the caller of :func:`fit_throughput` (a benchmark, not a config: the callback is built by the CLI).
PROBE: dict = {"step": None, "calls": 0}


class LoopTimer(pl.Callback):
    """Wall time and samples of the training steps after ``warmup``, in chunks of ``chunk`` steps.

    After every chunk the step alone (:data:`PROBE`, if set) runs ``PROBE["calls"]`` times, timed
    apart: loop and step are measured in alternation, minute by minute, so that a machine whose
    speed drifts (±25 % on a shared 2-core VM) slows both alike.  Written to ``path`` as JSON.
    """

    def __init__(self, path: str, warmup: int = 50, chunk: int = 50) -> None:
        self.path = path
        self.warmup = warmup
        self.chunk = chunk
        self.chunk_start: float | None = None
        self.totals = {"samples": 0, "steps": 0, "seconds": 0.0, "probe_samples": 0, "probe_seconds": 0.0}
        self._pending = 0

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        now = time.perf_counter()
        if self.chunk_start is None:
            if trainer.global_step >= self.warmup:
                self.chunk_start = now
            return
        self._pending += 1
        if self._pending < self.chunk:
            return
        batch_size = int(batch["pose_2d"].shape[0])
        t = self.totals
        t["seconds"] += now - self.chunk_start
        t["steps"] += self._pending
        t["samples"] += self._pending * batch_size
        self._pending = 0
        if PROBE["step"] is not None and PROBE["calls"]:
            start = time.perf_counter()
            for _ in range(PROBE["calls"]):
                PROBE["step"]()
            t["probe_seconds"] += time.perf_counter() - start
            t["probe_samples"] += PROBE["calls"] * batch_size
        self.chunk_start = time.perf_counter()

    def on_train_end(self, trainer, pl_module) -> None:
        if self.totals["steps"]:
            with open(self.path, "w") as fh:
                json.dump(self.totals, fh)


def fit_throughput(
    config: str,
    batch_size: int,
    steps: int = 600,
    warmup: int = 50,
    chunk: int = 50,
    data_root: str = "data/synthetic_h36m",
    frames_per_take: int = 2500,
    extra: tuple[str, ...] = (),
) -> dict:
    """Samples/s of ``posegcn fit --config CONFIG`` on Human3.6M-sized synthetic data (see module doc)."""
    from posegcn.cli import main

    chunk = min(chunk, steps)

    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "loop.json")
        timer = {
            "class_path": "bench_fit.LoopTimer",
            "init_args": {"path": out, "warmup": warmup, "chunk": chunk},
        }
        args = [
            "fit",
            "--config", config,
            "--config", "configs/data/synthetic.yaml",
            "--data.root", data_root,
            "--data.frames_per_take", str(frames_per_take),
            "--data.batch_size", str(batch_size),
            "--trainer.max_steps", str(warmup + steps),
            "--trainer.limit_val_batches", "0",
            "--trainer.num_sanity_val_steps", "0",
            "--trainer.default_root_dir", tmp,
            "--checkpoint.dirpath", os.path.join(tmp, "checkpoints"),
            "--trainer.callbacks+", json.dumps(timer),
            *extra,
        ]  # fmt: skip
        main(args)
        with open(out) as fh:
            timed = json.load(fh)
    out = {**timed, "samples_per_s": timed["samples"] / timed["seconds"]}
    if timed["probe_seconds"]:
        out["step_samples_per_s"] = timed["probe_samples"] / timed["probe_seconds"]
    return out


def write_json(path: str | None, results: dict) -> None:
    """Write a benchmark's results to ``path`` (its folder created), when a path is given."""
    if path:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        with open(path, "w") as fh:
            json.dump(results, fh, indent=2)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="configs/modgcn.yaml")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--frames-per-take", type=int, default=2500)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("extra", nargs="*", help="more posegcn fit arguments (after --)")
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    result = fit_throughput(
        args.config,
        args.batch_size,
        args.steps,
        frames_per_take=args.frames_per_take,
        extra=tuple(args.extra),
    )
    print(json.dumps(result))


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    main()
