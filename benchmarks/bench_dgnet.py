"""DG-Net inference time per frame, with and without the KNN graphs (paper: 0.51 vs 0.41 ms, 1.24×).

At test time every frame is predicted from its own window (sliding windows, one evaluated
frame per window), so the time per frame is the time of one window's forward pass.

    python benchmarks/bench_dgnet.py [--threads 2] [--batch 1 1024] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch

from posegcn.models.dgnet import DGNet
from posegcn.skeleton import H36M_17


def time_forward(model: torch.nn.Module, x: torch.Tensor, repeats: int = 7, warmup: int = 2) -> float:
    """Median seconds of one forward pass (after warm-up)."""
    times = []
    with torch.inference_mode():
        for i in range(warmup + repeats):
            start = time.perf_counter()
            model(x)
            if i >= warmup:
                times.append(time.perf_counter() - start)
    return statistics.median(times)


def run(batches=(1, 1024), threads: int = 2, num_frames: int = 4) -> dict:
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    results = {"threads": threads, "num_frames": num_frames, "rows": []}
    models = {
        "DG-Net (KNN)": DGNet(H36M_17, num_frames=num_frames).eval(),
        "DG-Net without KNN": DGNet(H36M_17, num_frames=num_frames, no_knn=True).eval(),
    }
    for batch in batches:
        x = torch.randn(batch, num_frames, 17, 2)
        per_frame = {name: time_forward(m, x) / batch * 1e3 for name, m in models.items()}
        ratio = per_frame["DG-Net (KNN)"] / per_frame["DG-Net without KNN"]
        results["rows"].append({"batch": batch, "ms_per_frame": per_frame, "knn_ratio": ratio})
    results["params"] = {name: m.inference_parameters() for name, m in models.items()}
    return results


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch", type=int, nargs="+", default=[1, 1024])
    parser.add_argument("--json", default=None, help="also write the results to this file")
    args = parser.parse_args(argv)
    results = run(tuple(args.batch), args.threads)
    print(
        f"DG-Net inference, T={results['num_frames']}, {results['threads']} threads (paper: 0.51 / 0.41 ms, 1.24x)"
    )
    print(f"{'batch':>6}  {'KNN ms/frame':>13}  {'no-KNN ms/frame':>16}  {'ratio':>6}")
    for row in results["rows"]:
        t = row["ms_per_frame"]
        print(
            f"{row['batch']:>6}  {t['DG-Net (KNN)']:>13.3f}  {t['DG-Net without KNN']:>16.3f}  {row['knn_ratio']:>6.2f}"
        )
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=2)


if __name__ == "__main__":
    main()
