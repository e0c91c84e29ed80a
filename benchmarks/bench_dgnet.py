"""DG-Net evaluation and training step, the literal layers against the fused ones, interleaved.

The fused DTG / FTG forms (``fused=True``, the default) compute the same values as the
literal forms of the paper's equations (``fused=False``; ``tests/test_dgnet_speedpaths.py``).
This script times both on the same network, in the same process and the same rounds
(A, B, A, B, …; medians), so that the ratio survives a machine whose speed drifts:

* evaluation: ms per window at batch 1024 (4-frame windows of 17 joints; one window predicts
  one test frame), the network in eval mode under ``torch.inference_mode``;
* training: windows per second of one step at batch 64 (Eq. 17 loss, backward, Adam).

Run: ``.venv/bin/python benchmarks/bench_dgnet.py [--threads 2] [--repeats 7]``.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable

import torch

from posegcn.losses import MultiLevelLoss
from posegcn.models import DGNet
from posegcn.nn.dynamical_temporal_graph import DynamicalTemporalGraphConv
from posegcn.nn.fixed_graphs import FixedTemporalGraphConv
from posegcn.skeleton import H36M_17

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_latency import interleaved_ms  # noqa: E402

VARIANTS = ("literal", "fused")


def set_dgnet_fused(net: torch.nn.Module, fused: bool) -> None:
    """Switch DTG and FTG (only those: FSG keeps its fused op) between the two forms."""
    for m in net.modules():
        if isinstance(m, (DynamicalTemporalGraphConv, FixedTemporalGraphConv)):
            m.fused = fused


def _interleaved(fns: dict[str, Callable[[], object]], repeats: int, warmup: int = 1) -> dict[str, float]:
    """Median seconds of every function, timed in alternating rounds (:func:`bench_latency.interleaved_ms`)."""
    return {name: ms / 1e3 for name, ms in interleaved_ms(fns, repeats, inner=1, warmup=warmup).items()}


def dgnet_eval_and_train(
    threads: int = 2, repeats: int = 7, eval_batch: int = 1024, train_batch: int = 64
) -> dict:
    """Eval ms/window and training windows/s of the literal and fused DG-Net layers, with their ratios."""
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    net = DGNet(H36M_17, num_frames=4)
    generator = torch.Generator().manual_seed(0)
    x_eval = torch.randn(eval_batch, 4, 17, 2, generator=generator)
    x_train = torch.randn(train_batch, 4, 17, 2, generator=generator)
    y_train = 0.2 * torch.randn(train_batch, 4, 17, 3, generator=generator)

    def evaluate(fused: bool) -> Callable[[], object]:
        def run() -> object:
            set_dgnet_fused(net, fused)
            net.eval()
            with torch.inference_mode():
                return net(x_eval)

        return run

    eval_s = _interleaved({v: evaluate(v == "fused") for v in VARIANTS}, repeats)

    criterion = MultiLevelLoss()
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)

    def train(fused: bool) -> Callable[[], None]:
        def step() -> None:
            set_dgnet_fused(net, fused)
            net.train()
            optimizer.zero_grad(set_to_none=True)
            out = net(x_train)
            criterion(out, y_train).backward()
            optimizer.step()

        return step

    train_s = _interleaved({v: train(v == "fused") for v in VARIANTS}, repeats, warmup=2)
    out = {"threads": threads, "repeats": repeats, "eval_batch": eval_batch, "train_batch": train_batch}
    for v in VARIANTS:
        out[f"eval_ms_per_window_{v}"] = eval_s[v] / eval_batch * 1e3
        out[f"train_windows_per_s_{v}"] = train_batch / train_s[v]
    out["eval_speedup"] = eval_s["literal"] / eval_s["fused"]
    out["train_speedup"] = train_s["literal"] / train_s["fused"]
    return out


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args(argv)
    r = dgnet_eval_and_train(args.threads, args.repeats)
    print(f"DG-Net, {r['threads']} threads, medians of {r['repeats']} interleaved rounds")
    print(
        f"{'':8s} {'eval ms/window (b' + str(r['eval_batch']) + ')':>24s} {'train windows/s (b' + str(r['train_batch']) + ')':>26s}"
    )
    for v in VARIANTS:
        print(f"{v:8s} {r[f'eval_ms_per_window_{v}']:24.3f} {r[f'train_windows_per_s_{v}']:26.1f}")
    print(f"{'speed-up':8s} {r['eval_speedup']:23.2f}x {r['train_speedup']:25.2f}x")
    return r


if __name__ == "__main__":
    main()
