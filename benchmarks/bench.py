"""``make bench``: how fast posegcn trains, infers, loads and evaluates on this machine.

One table (and a JSON file) with, on the current machine and thread count:

* the measured fp32 matmul peak (GFLOP/s) — the physical reference;
* end to end: the real ``posegcn fit`` loop per paper config on Human3.6M-sized synthetic data,
  alternating with the step alone (:func:`end_to_end`, ``bench_fit.py``);
* per model (SemGCN, SemGCN + non-local, Modulated GCN GT / CPN settings, DG-Net and its two
  "without KNN" variants): parameters, FLOPs per sample of one training step (forward +
  backward, *counted* by :class:`torch.utils.flop_counter.FlopCounterMode`: matmuls,
  batched matmuls; element-wise work is not counted), training throughput at the paper's
  batch size (forward + loss + backward + Adam step of the real LightningModule), achieved
  GFLOP/s and its fraction of the peak, inference time per frame at batch 1 and 1024;
* "before" columns for the GCNs: the same step with the straightforward autograd layers
  and the per-tensor Adam loop, i.e. the code before the fused layer and fused optimiser;
* the data path: one epoch of batches over a Human3.6M-sized training set (1.56M poses)
  through the real ``DataLoader``, with no model, and its share of a training epoch;
* metrics: P-MPJPE poses/s (see ``bench_metrics.py``);
* batch-1 latency of the inference form against the eval-mode network (``bench_latency.py``);
* with CUDA visible, the GPU section (``bench_gpu.py``).

Every time is the median of several repetitions after warm-up.  Run it on an otherwise idle
machine: on 2 cores a second busy process halves every number.

    python benchmarks/bench.py [--threads 2] [--quick] [--compile] [--json outputs/bench/bench.json]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

import numpy as np
import torch
from torch.utils.data import DataLoader
from torch.utils.flop_counter import FlopCounterMode

from posegcn.data import BatchIndexSampler, PoseBatchDataset
from posegcn.data.arrays import concat_sequences
from posegcn.lit import Adam, PoseLiftingModule
from posegcn.losses import MultiLevelLoss, WeightedLoss
from posegcn.models import DGNet, ModulatedGCN, SemGCN
from posegcn.nn import set_fused
from posegcn.skeleton import H36M_17

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # sibling scripts: bench_fit, bench_metrics

#: Training poses of Human3.6M (S1, S5, S6, S7, S8, 4 cameras): 1,559,752.
H36M_TRAIN_POSES = 1_559_752


def median_seconds(fn: Callable[[], object], repeats: int, warmup: int = 2, inner: int = 1) -> float:
    """Median wall-clock seconds of ``fn`` over ``repeats`` timings of ``inner`` calls each."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(inner):
            fn()
        times.append((time.perf_counter() - start) / inner)
    return statistics.median(times)


def matmul_peak(repeats: int = 10) -> dict[str, float]:
    """fp32 GEMM throughput of square products (GFLOP/s); ``peak_gflops`` is the best size's median.

    A second of products first lets the cores reach their sustained clock.
    """
    a, b = torch.randn(2048, 2048), torch.randn(2048, 2048)
    deadline = time.perf_counter() + 1.0
    while time.perf_counter() < deadline:
        a @ b
    rates = {}
    for n in (1024, 2048):
        x, y = torch.randn(n, n), torch.randn(n, n)
        rates[n] = 2 * n**3 / median_seconds(lambda x=x, y=y: x @ y, repeats, warmup=3) / 1e9
    return {"peak_gflops": max(rates.values()), **{f"gemm{n}_gflops": r for n, r in rates.items()}}


@dataclass
class ModelCase:
    """One row of the table: a LightningModule configuration as in ``configs/``."""

    name: str
    build: Callable[[], torch.nn.Module]
    num_joints: int
    batch_size: int
    num_frames: int = 1
    baseline: bool = True  # also time the pre-optimisation layers/optimiser
    results: dict = field(default_factory=dict)


def lifting_module(
    network: type,
    skeleton: str,
    loss: dict | None = None,
    optimizer: Callable = Adam,
    num_frames: int = 1,
    **net_args,
) -> PoseLiftingModule:
    """The module a paper config builds: ``network(skeleton, **net_args)``, its loss and Adam."""
    if network is DGNet:
        criterion, net_args = MultiLevelLoss, {**net_args, "num_frames": num_frames}
    else:
        criterion = partial(WeightedLoss, **(loss or {"mse": 0.9, "l1": 0.1}))
    return PoseLiftingModule(
        net=partial(network, **net_args),
        loss=criterion,
        skeleton=skeleton,
        num_frames=num_frames,
        optimizer=optimizer,
    )


def model_cases(quick: bool = False) -> list[ModelCase]:
    cases = [
        ModelCase("SemGCN", lambda: lifting_module(SemGCN, "h36m16"), 16, 64),
        ModelCase("SemGCN + non-local", lambda: lifting_module(SemGCN, "h36m16", non_local=True), 16, 64),
        ModelCase("Modulated GCN (GT)", lambda: lifting_module(ModulatedGCN, "h36m16"), 16, 64),
        ModelCase("Modulated GCN (GT)", lambda: lifting_module(ModulatedGCN, "h36m16"), 16, 256),
        ModelCase(
            "Modulated GCN (CPN)",
            lambda: lifting_module(
                ModulatedGCN,
                "h36m17",
                loss={"mpjpe": 0.99, "l1": 0.01},
                optimizer=partial(Adam, amsgrad=True),
                hidden=384,
                dropout=0.2,
                non_local=True,
                modulation_init="xavier",
            ),  # fmt: skip
            17,
            256,
        ),  # fmt: skip
        ModelCase(
            "DG-Net (KNN)", lambda: lifting_module(DGNet, "h36m17", num_frames=4), 17, 64, 4, baseline=False
        ),
        ModelCase(
            "DG-Net, skeleton neighbours (no KNN)",
            lambda: lifting_module(DGNet, "h36m17", num_frames=4, connections="fixed"),
            17,
            64,
            4,
            baseline=False,
        ),  # fmt: skip
        ModelCase(
            "DG-Net, no DSG/DTG (no_knn)",
            lambda: lifting_module(DGNet, "h36m17", num_frames=4, no_knn=True),
            17,
            64,
            4,
            baseline=False,
        ),  # fmt: skip
    ]
    return cases[2:4] if quick else cases


def _batch(case: ModelCase, batch_size: int, generator: torch.Generator) -> dict[str, torch.Tensor]:
    lead = (batch_size,) if case.num_frames == 1 else (batch_size, case.num_frames)
    return {
        "pose_2d": torch.randn(*lead, case.num_joints, 2, generator=generator),
        "pose_3d": 0.2 * torch.randn(*lead, case.num_joints, 3, generator=generator),
    }


def _optimizer(module, fused: bool) -> torch.optim.Optimizer:
    optimizer = module.configure_optimizers()["optimizer"]
    if not fused:  # the pre-optimisation default: the per-tensor loop
        defaults = {k: optimizer.defaults[k] for k in ("lr", "amsgrad", "weight_decay")}
        optimizer = torch.optim.Adam(module.parameters(), foreach=False, **defaults)
    return optimizer


def training_step(case: ModelCase, fused: bool = True, compile: bool = False) -> Callable[[], None]:
    """One full training step (loss, backward, optimiser step) of a fresh module on a fixed batch."""
    torch.manual_seed(0)
    module = case.build().train()
    set_fused(module, fused)  # fused=False: the straightforward autograd form of every graph layer
    optimizer = _optimizer(module, fused)
    if compile:
        module.net.compile()  # what --model.compile_network does
    batch = _batch(case, case.batch_size, torch.Generator().manual_seed(0))

    def step():
        optimizer.zero_grad(set_to_none=True)
        loss, _ = module.training_loss(batch)
        loss.backward()
        optimizer.step()

    return step


def gemm_probe(n: int = 1024, repeats: int = 5) -> float:
    """A short fp32 GEMM burst (GFLOP/s): the machine's speed at this moment."""
    x, y = torch.randn(n, n), torch.randn(n, n)
    return 2 * n**3 / median_seconds(lambda: x @ y, repeats, warmup=1) / 1e9


def time_training_rounds(
    steps: dict[tuple[int, str], tuple[Callable[[], None], int, int]], repeats: int
) -> tuple[dict[tuple[int, str], list[float]], list[float]]:
    """Samples/s of every step function, timed round-robin, with a GEMM probe in every round.

    ``steps[(case, variant)] = (step, batch_size, inner)``.  On a machine whose speed drifts
    (shared 2-core VMs drift by ±15 % from minute to minute) timing all models in the same
    rounds, next to a GEMM probe, keeps before/after columns and fractions of peak comparable.
    Returns per-round rates and per-round probe GFLOP/s.
    """
    for step, _, _ in steps.values():
        for _ in range(3):
            step()
    rates: dict[tuple[int, str], list[float]] = {key: [] for key in steps}
    probes = []
    for _ in range(repeats):
        probes.append(gemm_probe())
        for key, (step, batch_size, inner) in steps.items():
            start = time.perf_counter()
            for _ in range(inner):
                step()
            rates[key].append(batch_size * inner / (time.perf_counter() - start))
    return rates, probes


def count_training_flops(case: ModelCase) -> tuple[float, float]:
    """Counted FLOPs per sample of one training step (forward + backward) and of inference."""
    torch.manual_seed(0)
    module = case.build().train()
    # the FLOPs of the maths, counted on the straightforward form (the fused op's in-place
    # products, e.g. ``baddbmm_``, are not all known to the counter)
    set_fused(module, False)
    batch = _batch(case, 8, torch.Generator().manual_seed(0))
    with FlopCounterMode(display=False) as counter:
        loss, _ = module.training_loss(batch)
        loss.backward()
    train = counter.get_total_flops() / 8
    module.eval()
    with FlopCounterMode(display=False) as counter, torch.inference_mode():
        module(batch["pose_2d"])
    return train, counter.get_total_flops() / 8


def time_inference(case: ModelCase, batch_size: int, repeats: int, compile: bool = False) -> float:
    """Milliseconds per frame of a forward pass (eval mode); a DG-Net window predicts one test frame."""
    torch.manual_seed(0)
    module = case.build().eval()
    net = torch.compile(module) if compile else module
    x = _batch(case, batch_size, torch.Generator().manual_seed(1))["pose_2d"]
    heavy = batch_size * case.num_frames >= 1024
    with torch.inference_mode():
        seconds = median_seconds(lambda: net(x), repeats if not heavy else max(3, repeats // 2),
                                 warmup=1 if heavy else 3, inner=1 if heavy or batch_size > 1 else 20)  # fmt: skip
    return seconds / batch_size * 1e3


def end_to_end(cases: list[ModelCase], quick: bool = False) -> list[dict]:
    """The real ``posegcn fit`` loop next to the step-only figure of the same model, interleaved.

    For every row of :data:`bench_fit.FIT_CASES`: ``posegcn fit`` on Human3.6M-sized synthetic
    data (generated on first use into ``data/synthetic_h36m``, ≈1 min), timed from inside by
    :class:`bench_fit.LoopTimer` — batch gathering, flips, gradient clipping, the schedule,
    logging and the progress bar included — in chunks of 3,200 samples, and after every chunk the
    step alone (:func:`training_step`, the table's figure) for as many steps.  ``loop_fraction``
    = loop samples/s over step samples/s, both summed over the same minutes.
    """
    import bench_fit  # noqa: E402  (a sibling script, not a package)

    rows = []
    for name, config, batch_size, extra in bench_fit.FIT_CASES[:2] if quick else bench_fit.FIT_CASES:
        case = next(c for c in cases if c.name == name and c.batch_size == batch_size)
        chunk = max(10, 3_200 // batch_size)
        bench_fit.PROBE.update(step=training_step(case), calls=chunk)
        steps = chunk * (6 if quick else 12)
        try:
            loop = bench_fit.fit_throughput(config, batch_size, steps=steps, chunk=chunk, extra=extra)
        finally:
            bench_fit.PROBE.update(step=None, calls=0)
        rows.append(
            {
                "model": name,
                "config": config,
                "batch": batch_size,
                "steps": loop["steps"],
                "loop_samples_per_s": loop["samples_per_s"],
                "step_samples_per_s": loop["step_samples_per_s"],
                "loop_fraction": loop["samples_per_s"] / loop["step_samples_per_s"],
            }
        )
        print(f"  timed posegcn fit of {name} (batch {batch_size})", file=sys.stderr)
    return rows


def synthetic_training_arrays(num_poses: int = H36M_TRAIN_POSES, num_joints: int = 17, seed: int = 0):
    """:class:`PoseArrays` of Human3.6M training size: 600 sequences (5 subjects × 30 takes × 4 cameras)."""
    rng = np.random.default_rng(seed)
    lengths = np.full(600, num_poses // 600)
    lengths[: num_poses - lengths.sum()] += 1
    parts: dict[str, list[np.ndarray]] = {
        k: [] for k in ("pose_2d", "pose_3d", "root_3d", "subject", "action", "camera", "frame")
    }
    for s, n in enumerate(lengths):
        parts["pose_2d"].append(rng.standard_normal((n, num_joints, 2), dtype=np.float32))
        parts["pose_3d"].append(rng.standard_normal((n, num_joints, 3), dtype=np.float32))
        parts["root_3d"].append(np.zeros((n, 3), np.float32))
        for key, value in (("subject", s // 120), ("action", (s // 4) % 15), ("camera", s % 4)):
            parts[key].append(np.full(n, value, dtype=np.int64))
        parts["frame"].append(np.arange(n, dtype=np.int64))
    names = [(f"S{s // 120}", f"take{s // 4}", s % 4) for s in range(600)]
    return concat_sequences(parts, names, [f"S{i}" for i in range(5)], [f"a{i}" for i in range(15)], H36M_17)


def time_data_epoch(arrays, batch_size: int, num_frames: int, flip: bool, repeats: int) -> tuple[float, int]:
    """Seconds to iterate one shuffled training epoch of batches with no model (the real loader),
    and the number of samples one epoch delivered."""
    dataset = PoseBatchDataset(arrays, num_frames=num_frames, flip_augment=flip)
    sampler = BatchIndexSampler(len(dataset), batch_size, shuffle=True, seed=0, dataset=dataset)
    loader = DataLoader(dataset, batch_size=None, sampler=sampler, num_workers=0)
    delivered = []

    def epoch():
        delivered.append(sum(len(batch["pose_2d"]) for batch in loader))

    return median_seconds(epoch, repeats, warmup=1), delivered[-1]


def run(threads: int = 2, repeats: int = 7, quick: bool = False, compile: bool = False) -> dict:
    torch.set_num_threads(threads)
    warnings.filterwarnings("ignore", module="lightning")
    results: dict = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} logical CPUs",
        "torch": torch.__version__,
        "threads": threads,
        "load_average_1min_before": os.getloadavg()[0],
    }
    results.update(matmul_peak())
    cases = model_cases(quick)
    rows, steps = [], {}
    for i, case in enumerate(cases):
        train_flops, infer_flops = count_training_flops(case)
        module = case.build()
        row = {
            "model": case.name,
            "batch": case.batch_size,
            "params": sum(p.numel() for p in module.parameters()),
            "train_mflop_per_sample": train_flops / 1e6,
            "infer_mflop_per_frame": infer_flops / 1e6,
        }
        if hasattr(module.net, "inference_parameters"):
            row["params_test"] = module.net.inference_parameters()
        rows.append(row)
        inner = max(1, 1024 // case.batch_size) if case.num_frames == 1 else 2
        steps[(i, "new")] = (training_step(case), case.batch_size, inner)
        if case.baseline:
            steps[(i, "before")] = (training_step(case, fused=False), case.batch_size, inner)
        if compile:
            steps[(i, "compiled")] = (training_step(case, compile=True), case.batch_size, inner)
    # single-frame GCNs and DG-Net in separate round-robins (a DG-Net step is 30× longer)
    rates, probes = {}, []
    for group in (
        [i for i, c in enumerate(cases) if c.num_frames == 1],
        [i for i, c in enumerate(cases) if c.num_frames > 1],
    ):
        part = {key: value for key, value in steps.items() if key[0] in group}
        if part:
            group_rates, group_probes = time_training_rounds(part, repeats)
            rates.update(group_rates)
            probes += group_probes
            print(f"  timed training of {len(group)} models", file=sys.stderr)
    results["probe_gflops_median"] = statistics.median(probes)
    peak = max(results["peak_gflops"], max(probes))
    results["peak_gflops"] = peak
    for i, (case, row) in enumerate(zip(cases, rows)):
        flops = row["train_mflop_per_sample"] * 1e6
        for variant, prefix in (("new", ""), ("before", "before_"), ("compiled", "compiled_")):
            if (i, variant) not in rates:
                continue
            per_round = rates[(i, variant)]
            row[f"{prefix}train_samples_per_s"] = statistics.median(per_round)
            row[f"{prefix}fraction_of_peak"] = row[f"{prefix}train_samples_per_s"] * flops / 1e9 / peak
        row["train_gflops"] = row["train_samples_per_s"] * flops / 1e9
        # the same rounds' GEMM probes: how much of the machine's speed *at that moment*
        group_probes = (
            probes[: len(rates[(i, "new")])] if case.num_frames == 1 else probes[-len(rates[(i, "new")]) :]
        )
        row["fraction_of_probe"] = statistics.median(
            r * flops / 1e9 / p for r, p in zip(rates[(i, "new")], group_probes)
        )
        for b in (1, 1024):
            row[f"infer_ms_per_frame_b{b}"] = time_inference(case, b, repeats)
        print(f"  measured inference of {case.name}", file=sys.stderr)
    after = matmul_peak()
    results["peak_gflops_after"] = after["peak_gflops"]
    if after["peak_gflops"] > peak:  # the reference is the fastest the machine was seen to be
        results.update(after)
        for row in rows:
            for prefix in ("", "before_", "compiled_"):
                if f"{prefix}train_samples_per_s" in row:
                    gflops = row[f"{prefix}train_samples_per_s"] * row["train_mflop_per_sample"] / 1e3
                    row[f"{prefix}fraction_of_peak"] = gflops / after["peak_gflops"]
    results["models"] = rows

    arrays = synthetic_training_arrays(num_poses=H36M_TRAIN_POSES // (10 if quick else 1))
    data = []
    for label, batch, frames, flip, model in (
        ("single frames, batch 64, flip", 64, 1, True, "Modulated GCN (GT)"),
        ("4-frame windows, batch 64", 64, 4, False, "DG-Net (KNN)"),
    ):
        seconds, delivered = time_data_epoch(arrays, batch, frames, flip, repeats=3)
        assert delivered == len(arrays.pose_2d), "the loader must deliver every training pose once"
        model_rows = [r for r in rows if r["model"] == model and r["batch"] == batch]
        entry = {"loader": label, "poses": len(arrays.pose_2d), "epoch_s": seconds}
        if model_rows:
            model_s = len(arrays.pose_2d) / model_rows[0]["train_samples_per_s"]
            entry.update(model=model, model_epoch_s=model_s, share_of_epoch=seconds / (seconds + model_s))
        data.append(entry)
    results["data_path"] = data

    import bench_metrics  # noqa: E402  (a sibling script, not a package)

    metrics = bench_metrics.run(num_poses=54_334 if quick else 543_344, threads=threads, methods=("jacobi",))
    results["p_mpjpe_poses_per_s"] = metrics["jacobi_poses_per_s"]
    knn = {r["model"]: r for r in rows if r["model"].startswith("DG-Net")}
    if len(knn) == 3:
        dyn = knn["DG-Net (KNN)"]
        for key in ("DG-Net, skeleton neighbours (no KNN)", "DG-Net, no DSG/DTG (no_knn)"):
            for b in (1, 1024):
                results.setdefault("knn_ratio", {})[f"{key}, batch {b}"] = (
                    dyn[f"infer_ms_per_frame_b{b}"] / knn[key][f"infer_ms_per_frame_b{b}"]
                )
            results["knn_ratio"][f"{key}, training"] = (
                knn[key]["train_samples_per_s"] / dyn["train_samples_per_s"]
            )
    import bench_latency  # noqa: E402  (a sibling script)

    results["latency"] = bench_latency.batch1_latency(threads, repeats=15 if quick else 30)
    print("  measured batch-1 latency, training vs inference form", file=sys.stderr)
    results["end_to_end"] = end_to_end(cases if not quick else model_cases(), quick)
    import bench_gpu  # noqa: E402  (a sibling script: runs only when CUDA is visible)

    gpu = bench_gpu.gpu_section(steps=200 if quick else 400)
    if gpu is not None:
        results["gpu"] = gpu
    results["load_average_1min_after"] = os.getloadavg()[0]
    return results


def format_table(results: dict) -> str:
    peak = results["peak_gflops"]
    lines = [
        f"posegcn benchmark — {results['date']}, {results['machine']}, torch {results['torch']}, "
        f"{results['threads']} threads, load {results['load_average_1min_before']:.2f}",
        f"fp32 matmul peak: {peak:.1f} GFLOP/s (the best of: 1024² {results['gemm1024_gflops']:.1f}, "
        f"2048² {results['gemm2048_gflops']:.1f}, after the models {results['peak_gflops_after']:.1f}, "
        f"GEMM probes in the timing rounds, median {results['probe_gflops_median']:.1f})",
        "",
    ]
    if results.get("end_to_end"):
        lines += [
            "end to end: the real `posegcn fit` loop (data, clipping, schedule, logging, progress bar) "
            "vs the step alone, interleaved in chunks of 3,200 samples",
            f"{'model':38s} {'batch':>5s} {'fit samples/s':>14s} {'step samples/s':>15s} {'loop/step':>9s}",
        ]
    for r in results.get("end_to_end", []):
        lines.append(
            f"{r['model']:38s} {r['batch']:>5d} {r['loop_samples_per_s']:14,.0f} {r['step_samples_per_s']:15,.0f} "
            f"{100 * r['loop_fraction']:8.1f}%"
        )
    lines += [
        "",
        "training step alone (fixed batch) and inference:",
        f"{'model':38s} {'batch':>5s} {'params':>10s} {'MFLOP/s.':>9s} {'train s/s':>10s} "
        f"{'GFLOP/s':>8s} {'% peak':>7s} {'% probe':>7s} {'before':>14s} {'ms/fr b1':>9s} {'ms/fr b1024':>11s}",
    ]
    for r in results["models"]:
        params = f"{r['params']:,}"
        before = ""
        if "before_train_samples_per_s" in r:
            before = f"{r['before_train_samples_per_s']:,.0f} ({100 * r['before_fraction_of_peak']:.0f}%)"
        lines.append(
            f"{r['model']:38s} {r['batch']:>5d} {params:>10s} {r['train_mflop_per_sample']:9.2f} "
            f"{r['train_samples_per_s']:10,.0f} {r['train_gflops']:8.1f} {100 * r['fraction_of_peak']:6.1f}% "
            f"{100 * r['fraction_of_probe']:6.1f}% {before:>14s} {r['infer_ms_per_frame_b1']:9.3f} {r['infer_ms_per_frame_b1024']:11.4f}"
        )
        if "params_test" in r:
            lines.append(f"{'':38s} {'':>5s} {r['params_test']:>10,} (test-time parameters)")
        if "compiled_train_samples_per_s" in r:
            lines.append(f"{'':38s} torch.compile: {r['compiled_train_samples_per_s']:,.0f} samples/s")
    lines.append("")
    for d in results["data_path"]:
        share = f", {100 * d['share_of_epoch']:.2f}% of a {d['model']} epoch" if "share_of_epoch" in d else ""
        lines.append(f"data path ({d['loader']}): {d['poses']:,} poses in {d['epoch_s']:.2f} s{share}")
    lines.append(f"P-MPJPE: {results['p_mpjpe_poses_per_s']:,.0f} poses/s")
    for key, ratio in results.get("knn_ratio", {}).items():
        lines.append(f"DG-Net (KNN) vs {key}: {ratio:.2f}x time (paper 0.51/0.41 ms = 1.24x)")
    if results.get("latency"):
        import bench_latency  # noqa: E402

        lines += [
            "",
            "batch-1 latency, eval-mode training form vs inference form (posegcn.models.inference_form):",
        ]
        lines += [bench_latency.format_table(results["latency"])]
    if results.get("gpu"):
        import bench_gpu  # noqa: E402

        lines += ["", bench_gpu.format_gpu(results["gpu"])]
    lines.append(
        "% peak: achieved GFLOP/s over the peak; % probe: the median over timing rounds of achieved GFLOP/s "
        "over a GEMM probe run in the same round (robust to a machine whose speed drifts)"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="Modulated GCN only, a tenth of the data")
    parser.add_argument("--compile", action="store_true", help="also time torch.compile'd training")
    parser.add_argument("--json", default=None, help="also write the results to this file")
    args = parser.parse_args(argv)
    results = run(args.threads, args.repeats, args.quick, args.compile)
    print(format_table(results))
    import bench_fit  # noqa: E402

    bench_fit.write_json(args.json, results)
    return results


if __name__ == "__main__":
    main()
