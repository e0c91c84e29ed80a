"""Latency of the lifting networks, training form vs inference form (issue 16: batch 1 ≤ 0.3 ms).

A live demo lifts one frame at a time: what matters there is the time of one forward of one
pose, which for these small networks is the cost of launching operators rather than of the
FLOPs.  :func:`posegcn.models.inference_form` precomputes the affinities, folds BatchNorm into
the weights and runs each graph layer as four operators; this script times it against the
eval-mode training form, at batch 1 (ms per call) and at batch 1024 (ms per frame, where the
inference form must not be slower).

The two forms are timed interleaved — one block of calls of the training form, one of the
inference form, repeated — and each figure is the median over the blocks, so that a change in
the machine's load hits both alike; the ratio is the robust number.  Both run under
``torch.inference_mode()``, as ``posegcn predict`` does.

    python benchmarks/bench_latency.py [--threads 2] [--repeats 30] [--compile] [--dgnet] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from collections.abc import Callable

import torch

from posegcn.models import DGNet, ModulatedGCN, SemGCN, inference_form
from posegcn.skeleton import skeleton_named

#: name → network builder (untrained weights: the timing does not depend on their values).
NETWORKS: dict[str, Callable[[], torch.nn.Module]] = {
    "SemGCN": lambda: SemGCN(skeleton_named("h36m16")),
    "SemGCN + non-local": lambda: SemGCN(skeleton_named("h36m16"), non_local=True),
    "Modulated GCN (GT)": lambda: ModulatedGCN(skeleton_named("h36m16")),
    "Modulated GCN (CPN)": lambda: ModulatedGCN(
        skeleton_named("h36m17"), hidden=384, dropout=0.2, non_local=True, modulation_init="xavier"
    ),
}
#: With ``--dgnet``: a DG-Net window (4 frames) predicts one test frame, so ms per window.
DGNET: dict[str, Callable[[], torch.nn.Module]] = {
    "DG-Net (KNN)": lambda: DGNet(skeleton_named("h36m17"), num_frames=4),
}


def interleaved_ms(
    forms: dict[str, Callable[[], object]], repeats: int, inner: int, warmup: int = 3
) -> dict[str, float]:
    """Median milliseconds per call of each callable, timed in alternating blocks of ``inner`` calls."""
    for fn in forms.values():
        for _ in range(warmup):
            fn()
    times: dict[str, list[float]] = {name: [] for name in forms}
    for _ in range(repeats):
        for name, fn in forms.items():
            start = time.perf_counter()
            for _ in range(inner):
                fn()
            times[name].append((time.perf_counter() - start) / inner * 1e3)
    return {name: statistics.median(t) for name, t in times.items()}


def batch1_latency(
    threads: int = 2,
    repeats: int = 30,
    large_batch: int = 1024,
    compile: bool = False,
    networks: dict[str, Callable[[], torch.nn.Module]] | None = None,
) -> dict:
    """Milliseconds per frame, training form (eval mode) vs inference form, at batch 1 and ``large_batch``.

    Returns ``{"threads", "torch", "machine", "networks": {name: {"batch_1": {...}, "batch_<N>": {...}}}}``
    where each inner dict holds ``training_form``, ``inference_form`` (and ``inference_form_compiled``
    with ``compile=True``) in ms per frame and ``speedup`` = training / inference.
    """
    torch.set_num_threads(threads)
    results: dict = {
        "threads": threads,
        "torch": torch.__version__,
        "machine": platform.processor() or platform.machine(),
        "networks": {},
    }
    for name, build in (networks or NETWORKS).items():
        torch.manual_seed(0)
        net = build().eval()
        fast = inference_form(net)
        forms = {"training_form": net, "inference_form": fast}
        if compile:
            forms["inference_form_compiled"] = torch.compile(fast, dynamic=False)
        per_network = {}
        for batch, rounds, inner in [(1, repeats, 20), (large_batch, max(3, repeats // 5), 1)]:
            frames = (net.num_frames,) if isinstance(net, DGNet) else ()
            x = torch.randn(batch, *frames, net.num_joints, 2, generator=torch.Generator().manual_seed(1))
            with torch.inference_mode():
                ms = interleaved_ms({k: (lambda m=m, x=x: m(x)) for k, m in forms.items()}, rounds, inner)
            per_frame = {k: v / batch for k, v in ms.items()}
            per_frame["speedup"] = per_frame["training_form"] / per_frame["inference_form"]
            per_network[f"batch_{batch}"] = per_frame
        results["networks"][name] = per_network
    return results


def format_table(results: dict) -> str:
    columns = [k for k in next(iter(results["networks"].values()))["batch_1"] if k != "speedup"]
    lines = [
        f"ms per frame, {results['threads']} threads, torch {results['torch']} (interleaved medians)",
        f"{'network':<22} {'batch':>6} " + " ".join(f"{c:>24}" for c in columns) + f" {'speedup':>8}",
    ]
    for name, per_network in results["networks"].items():
        for batch, row in per_network.items():
            cells = " ".join(f"{row[c]:>24.4f}" for c in columns)
            lines.append(f"{name:<22} {batch.removeprefix('batch_'):>6} {cells} {row['speedup']:>7.2f}×")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--large-batch", type=int, default=1024)
    parser.add_argument("--compile", action="store_true", help="also time torch.compile(inference form)")
    parser.add_argument("--dgnet", action="store_true", help="also time DG-Net (ms per window; slow)")
    parser.add_argument("--json", help="write the results to this file")
    args = parser.parse_args(argv)
    networks = {**NETWORKS, **DGNET} if args.dgnet else NETWORKS
    results = batch1_latency(args.threads, args.repeats, args.large_batch, args.compile, networks)
    print(format_table(results))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(results, f, indent=2)
    return results


if __name__ == "__main__":
    main()
