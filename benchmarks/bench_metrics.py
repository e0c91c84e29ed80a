"""Throughput of Protocol #2 (P-MPJPE) over a Human3.6M-test-sized set: 543,344 poses × 17 joints.

Times :func:`posegcn.metrics.per_pose_p_mpjpe` with both Procrustes solvers — the vectorised
Jacobi one (default) and one batched ``torch.linalg.svd`` — over chunks of poses, with torch
limited to 2 threads (median of a few repeats after a warm-up), next to the per-pose numpy loop
that the original codes use (VideoPose3D ``p_mpjpe`` one pose at a time), timed on a subset and
extrapolated.  Target: well under 1 s per million poses.

Usage: ``python benchmarks/bench_metrics.py [--num-poses N] [--chunk-size C] [--json]``;
:func:`run` returns the numbers as a dict (for ``make bench``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

import numpy as np
import torch

from posegcn.metrics import per_pose_p_mpjpe

H36M_TEST_POSES = 543_344


def make_poses(num_poses: int, num_joints: int = 17, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """float32 ``pred, target [num_poses, J, 3]``: target-sized poses and rotated, scaled, noisy predictions."""
    g = torch.Generator().manual_seed(seed)
    target = 0.3 * torch.randn(num_poses, num_joints, 3, generator=g)
    target -= target[:, :1].clone()
    axis_angle = 0.3 * torch.randn(num_poses, 3, generator=g)
    angle = axis_angle.norm(dim=-1, keepdim=True)
    axis = axis_angle / angle
    cross = torch.zeros(num_poses, 3, 3)
    cross[:, 0, 1], cross[:, 0, 2], cross[:, 1, 2] = -axis[:, 2], axis[:, 1], -axis[:, 0]
    cross = cross - cross.mT
    rotation = (
        torch.eye(3) + torch.sin(angle)[..., None] * cross + (1 - torch.cos(angle))[..., None] * cross @ cross
    )
    scale = 1.0 + 0.1 * torch.randn(num_poses, 1, 1, generator=g)
    pred = scale * target @ rotation.mT + 0.04 * torch.randn(target.shape, generator=g)
    pred -= pred[:, :1].clone()
    return pred.contiguous(), target.contiguous()


def numpy_p_mpjpe_loop(pred: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Reference: one pose at a time with numpy's SVD and the reflection fix, in millimetres."""
    out = np.empty(len(pred))
    for i, (p, g) in enumerate(zip(pred, target)):
        mu_p, mu_g = p.mean(axis=0), g.mean(axis=0)
        x, y = p - mu_p, g - mu_g
        u, s, vt = np.linalg.svd(x.T @ y)
        d = np.sign(np.linalg.det(vt.T @ u.T))
        rotation = vt.T @ np.diag([1.0, 1.0, d]) @ u.T
        scale = (s[0] + s[1] + d * s[2]) / (x**2).sum()
        out[i] = np.linalg.norm(scale * x @ rotation.T - y, axis=-1).mean() * 1000
    return out


def _time_chunks(
    pred: torch.Tensor, target: torch.Tensor, chunk_size: int, method: str, repeats: int
) -> tuple[float, float]:
    """Median wall-clock and process CPU seconds of one pass over all poses."""

    def once() -> tuple[float, float]:
        wall, cpu = time.perf_counter(), time.process_time()
        for lo in range(0, len(pred), chunk_size):
            per_pose_p_mpjpe(pred[lo : lo + chunk_size], target[lo : lo + chunk_size], method=method)
        return time.perf_counter() - wall, time.process_time() - cpu

    per_pose_p_mpjpe(pred[:chunk_size], target[:chunk_size], method=method)  # warm-up
    walls, cpus = zip(*(once() for _ in range(repeats)))
    return statistics.median(walls), statistics.median(cpus)


def run(
    num_poses: int = H36M_TEST_POSES,
    num_joints: int = 17,
    chunk_size: int = 16_384,
    repeats: int = 3,
    reference_poses: int = 20_000,
    threads: int = 2,
    methods: tuple[str, ...] = ("jacobi", "svd"),
) -> dict[str, float]:
    """Time P-MPJPE over ``num_poses`` poses; returns a flat dict of numbers.

    Keys: ``<method>_poses_per_s``, ``<method>_s_per_million``, ``<method>_total_s`` (wall
    clock), ``<method>_cpu_s`` (process CPU time, all threads: less sensitive to a busy machine),
    ``<method>_max_abs_diff_mm`` (vs the numpy loop on the reference subset), and
    ``numpy_loop_poses_per_s`` / ``numpy_loop_total_s`` (extrapolated to ``num_poses``).
    """
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        pred, target = make_poses(num_poses, num_joints)
        results: dict[str, float] = {
            "num_poses": num_poses,
            "num_joints": num_joints,
            "chunk_size": chunk_size,
            "threads": threads,
            "load_average_1min": os.getloadavg()[0],
        }
        for method in methods:  # the torch timings first: the shortest window of a busy machine
            seconds, cpu_seconds = _time_chunks(pred, target, chunk_size, method, repeats)
            results[f"{method}_poses_per_s"] = num_poses / seconds
            results[f"{method}_s_per_million"] = seconds / num_poses * 1e6
            results[f"{method}_total_s"] = seconds
            results[f"{method}_cpu_s"] = cpu_seconds
        n_ref = min(reference_poses, num_poses)
        start = time.perf_counter()
        reference = numpy_p_mpjpe_loop(pred[:n_ref].double().numpy(), target[:n_ref].double().numpy())
        numpy_rate = n_ref / (time.perf_counter() - start)
        results["numpy_loop_poses_per_s"] = numpy_rate
        results["numpy_loop_total_s"] = num_poses / numpy_rate
        for method in methods:
            diff = per_pose_p_mpjpe(pred[:n_ref], target[:n_ref], method=method).numpy() - reference
            results[f"{method}_max_abs_diff_mm"] = float(np.abs(diff).max())
        return results
    finally:
        torch.set_num_threads(previous_threads)


def format_table(results: dict[str, float], methods: tuple[str, ...] = ("jacobi", "svd")) -> str:
    n = int(results["num_poses"])
    lines = [
        f"P-MPJPE over {n:,} poses x {int(results['num_joints'])} joints, chunks of "
        f"{int(results['chunk_size']):,}, {int(results['threads'])} torch threads "
        f"(1-min load average {results['load_average_1min']:.2f})",
        f"{'implementation':34s} {'poses/s':>12s} {'s / 1M poses':>13s} {'total s':>9s} {'CPU s':>7s} "
        f"{'max |diff| mm':>14s}",
    ]
    labels = {"jacobi": "torch, vectorised Jacobi (default)", "svd": "torch, one batched linalg.svd"}
    for method in methods:
        lines.append(
            f"{labels.get(method, method):34s} {results[f'{method}_poses_per_s']:12,.0f} "
            f"{results[f'{method}_s_per_million']:13.3f} {results[f'{method}_total_s']:9.3f} "
            f"{results[f'{method}_cpu_s']:7.3f} "
            f"{results[f'{method}_max_abs_diff_mm']:14.2e}"
        )
    rate = results["numpy_loop_poses_per_s"]
    lines.append(
        f"{'numpy per-pose loop (extrapolated)':34s} {rate:12,.0f} {1e6 / rate:13.3f} "
        f"{results['numpy_loop_total_s']:9.3f} {'':>7s} {'reference':>14s}"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num-poses", type=int, default=H36M_TEST_POSES)
    parser.add_argument("--num-joints", type=int, default=17)
    parser.add_argument("--chunk-size", type=int, default=16_384)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--reference-poses", type=int, default=20_000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", action="store_true", help="print the numbers as JSON instead of a table")
    parser.add_argument("--output", default=None, help="also write the numbers as JSON to this file")
    args = parser.parse_args(argv)
    results = run(
        num_poses=args.num_poses,
        num_joints=args.num_joints,
        chunk_size=args.chunk_size,
        repeats=args.repeats,
        reference_poses=args.reference_poses,
        threads=args.threads,
    )
    print(json.dumps(results, indent=2) if args.json else format_table(results))
    if args.output:
        with open(args.output, "w") as fh:
            json.dump(results, fh, indent=2)
    return results


if __name__ == "__main__":
    main()
