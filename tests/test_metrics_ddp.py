"""Pose metrics on 2 real processes (gloo, CPU) equal the single-process values; padding biases them.

The workers run in a subprocess started with ``torch.distributed.run`` (``ddp_spawn`` inside
pytest is flaky with gloo on this torch, ecosystem-notes.md).
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from _ddp_metrics_worker import GROUP_NAMES, NUM_POSES, make_dataset

from posegcn.metrics import PoseMetrics

WORKER = Path(__file__).with_name("_ddp_metrics_worker.py")
REPO = Path(__file__).resolve().parents[1]


def single_process(pred: torch.Tensor, target: torch.Tensor, group: torch.Tensor) -> dict[str, float]:
    metrics = PoseMetrics(num_groups=len(GROUP_NAMES), group_names=GROUP_NAMES)
    metrics.update(pred, target, group)
    return metrics.compute_flat()


def assert_same(got: dict[str, float], expected: dict[str, float], tol: float = 1e-6) -> None:
    assert set(got) == set(expected)
    for key, value in expected.items():
        if math.isnan(value):
            assert math.isnan(got[key]), key
        else:
            assert got[key] == pytest.approx(value, abs=tol), key


@pytest.fixture(scope="module")
def ddp_results(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("ddp") / "results.json"
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "PYTHONPATH": os.pathsep.join([str(REPO), str(WORKER.parent)]),
    }
    command = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
        str(WORKER), str(out),
    ]  # fmt: skip
    proc = subprocess.run(command, env=env, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"workers failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return json.loads(out.read_text())


def test_two_processes_equal_one_process(ddp_results):
    assert ddp_results["world_size"] == 2
    data = make_dataset()
    expected = single_process(*data)
    for scheme in ("contiguous", "interleaved"):
        result = ddp_results[scheme]
        assert sum(result["shard_sizes"]) == NUM_POSES
        assert result["counts"] == torch.bincount(data[2], minlength=len(GROUP_NAMES)).tolist()
        assert_same(result["flat"], expected)
        assert result["pooled"]["p_mpjpe"] == pytest.approx(expected["p_mpjpe"], abs=1e-6)
    assert ddp_results["contiguous"]["shard_sizes"] == [437, 564]  # uneven shards
    assert math.isnan(expected["mpjpe/Smoking"])  # an empty group stays out of the average


def test_padded_shards_are_biased(ddp_results):
    """A DistributedSampler pads 1001 poses to 1002 by repeating pose 0: summed states count it twice.

    This is why the data module must not pad evaluation shards (conventions.md §4).
    """
    pred, target, group = make_dataset()
    padded = ddp_results["padded"]
    assert padded["shard_sizes"] == [501, 501]
    exact = single_process(pred, target, group)
    with_duplicate = single_process(
        torch.cat([pred, pred[:1]]), torch.cat([target, target[:1]]), torch.cat([group, group[:1]])
    )
    assert_same(padded["flat"], with_duplicate)  # the bias is exactly one repeated pose …
    for key in ("mpjpe", "p_mpjpe", "mpjpe_actionwise", f"p_mpjpe/{GROUP_NAMES[group[0]]}"):
        assert abs(padded["flat"][key] - exact[key]) > 0.01, key  # … and visible in the numbers
