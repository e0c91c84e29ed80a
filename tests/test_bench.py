"""The benchmark harness counts what it claims to count (the timings themselves are not tested)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench.py"


def _import_by_path(path: Path):
    """Import ``path`` as a module: a broken benchmark fails here (``importorskip`` would skip it)."""
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module  # dataclasses look their module up while the file executes
    spec.loader.exec_module(module)
    return module


bench = _import_by_path(BENCH)


def _gcn_inference_flops(j: int, channels: list[int]) -> int:
    """Per sample: each decoupled graph layer is X[W₀|W₁] (2·J·C_in·2·C_out) and one [J, J] mix (2·J²·C_out)."""
    total = 0
    for c_in, c_out in zip(channels[:-1], channels[1:]):
        total += 2 * j * c_in * 2 * c_out + 2 * j * j * c_out
    return total


def test_modulated_gcn_flops_match_the_hand_count():
    case = next(c for c in bench.model_cases() if c.name == "Modulated GCN (GT)")
    train, infer = bench.count_training_flops(case)
    channels = [2] + [128] * 9 + [3]  # input layer, 4 residual blocks of 2 layers, output layer
    assert infer == _gcn_inference_flops(16, channels)
    # backward: two GEMMs per forward GEMM (input and weight gradients) minus the input's ∂x, plus the
    # [J, J] mix's two products; the training count must lie in that range
    assert 2.5 * infer < train < 3.2 * infer


def test_data_epoch_iterates_every_pose_once():
    arrays = bench.synthetic_training_arrays(num_poses=6_000, num_joints=17)
    assert arrays.pose_2d.shape == (6_000, 17, 2) and len(arrays.sequence_names) == 600
    seconds, delivered = bench.time_data_epoch(arrays, batch_size=64, num_frames=4, flip=True, repeats=1)
    assert delivered == 6_000 and seconds > 0


bench_gpu = _import_by_path(BENCH.parent / "bench_gpu.py")


def test_recipes_read_epochs_batch_and_poses_per_epoch_from_the_configs():
    root = BENCH.parents[1]
    gt = bench_gpu.recipe(str(root / "configs" / "modgcn.yaml"))
    assert gt == {"epochs": 50, "batch_size": 64, "poses": bench.H36M_TRAIN_POSES}
    cpn = bench_gpu.recipe(str(root / "configs" / "modgcn_cpn.yaml"))
    assert cpn["poses"] == 2 * bench.H36M_TRAIN_POSES  # flip_augment: duplicate


def test_gpu_section_times_the_real_fit_loop(tmp_path, monkeypatch):
    """The GPU section's code on the CPU, tiny data: the loop timer counts exactly the timed steps."""
    monkeypatch.chdir(BENCH.parents[1])
    monkeypatch.setattr(sys, "argv", ["posegcn"])
    section = bench_gpu.gpu_section(
        steps=4,
        accelerator="cpu",
        recipes=(("Modulated GCN (GT)", "configs/modgcn.yaml"),),
        warmup=2,
        data_root=str(tmp_path / "synthetic"),
        frames_per_take=24,
    )
    (row,) = section["rows"]
    assert section["device"] == "cpu" and row["batch_size"] == 64 and row["samples_per_s"] > 0
    assert row["projected_minutes"] == pytest.approx(50 * bench.H36M_TRAIN_POSES / row["samples_per_s"] / 60)
    assert "Modulated GCN (GT)" in bench_gpu.format_gpu(section)
