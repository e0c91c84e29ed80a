"""Training step of the single-frame networks: this tree against an older revision, in one process.

The shared 2-core machines drift by ±15 % from minute to minute and other processes come and
go, so two runs in two processes cannot be compared.  This script imports ``posegcn`` twice —
the working tree and ``--baseline REV`` (``git archive`` of that revision, imported under the
name ``posegcn_baseline``) — builds the same module from the same seed with each, and times
their training steps alternately (ABAB…, a GEMM probe in every round).  It reports the median
samples/s of each and the median of the per-round ratios new/old.  With ``--threads 1`` (default)
the clock is the thread's CPU time, which other processes on a shared machine do not inflate.

    python benchmarks/bench_step.py [--baseline HEAD] [--threads 1] [--rounds 15] [--cases 0,1,2,3,4]

Cases are those of ``bench.py`` (0 SemGCN b64, 1 SemGCN + non-local b64, 2/3 Modulated GCN GT
b64/b256, 4 Modulated GCN CPN b256).  ``--profile N`` prints the op breakdown of case ``N``
(torch.profiler, self time per op and input shape) for this tree instead.
"""

from __future__ import annotations

import argparse
import importlib
import io
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import bench  # noqa: E402


def import_revision(rev: str, name: str = "posegcn_baseline"):
    """``bench`` on top of ``posegcn`` as of ``rev``: the package is imported as ``name`` (its
    absolute imports rewritten), and a second copy of ``bench.py`` imports from it."""
    archive = subprocess.run(
        ["git", "archive", rev, "posegcn"], cwd=ROOT, check=True, capture_output=True
    ).stdout
    target = Path(tempfile.mkdtemp(prefix="posegcn_rev_"))
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(target, filter="data")
    (target / "posegcn").rename(target / name)
    sources = [*(target / name).rglob("*.py"), target / "bench_baseline.py"]
    (target / "bench_baseline.py").write_text((ROOT / "benchmarks" / "bench.py").read_text())
    for path in sources:
        text = path.read_text()
        path.write_text(
            text.replace("from posegcn", f"from {name}").replace("import posegcn", f"import {name}")
        )
    sys.path.insert(0, str(target))
    return importlib.import_module("bench_baseline")


def compare(baseline: str, rounds: int, indices: list[int]) -> None:
    """Alternate old and new steps of each case (order swapped every round); print medians and ratios."""
    old_bench = import_revision(baseline)
    old_cases, new_cases = old_bench.model_cases(), bench.model_cases()
    steps = {}
    for i in indices:
        steps[(i, "old")] = old_bench.training_step(old_cases[i])
        steps[(i, "new")] = bench.training_step(new_cases[i])
    for step in steps.values():
        for _ in range(3):
            step()
    # One thread: CPU time of this thread, which other processes on the machine do not inflate.
    clock = time.thread_time if torch.get_num_threads() == 1 else time.perf_counter
    times: dict = {key: [] for key in steps}
    probes = []
    for r in range(rounds):
        probes.append(bench.gemm_probe(512, 3))
        for i in indices:
            for variant in ("old", "new") if r % 2 == 0 else ("new", "old"):
                start = clock()
                steps[(i, variant)]()
                times[(i, variant)].append(clock() - start)
    print(
        f"threads {torch.get_num_threads()}, rounds {rounds}, baseline {baseline}, "
        f"GEMM probe (512) median {statistics.median(probes):.0f} GFLOP/s"
    )
    for i in indices:
        case = new_cases[i]
        old, new = times[(i, "old")], times[(i, "new")]
        ratio = statistics.median(o / n for o, n in zip(old, new))
        print(
            f"{i} {case.name:22s} b{case.batch_size:<4d} old {case.batch_size / statistics.median(old):7.0f}/s"
            f"  new {case.batch_size / statistics.median(new):7.0f}/s  speed-up (median of rounds) {ratio:.3f}"
        )


def profile(index: int, steps: int = 10) -> None:
    from torch.profiler import ProfilerActivity, profile

    case = bench.model_cases()[index]
    step = bench.training_step(case)
    for _ in range(steps):
        step()
    with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
        for _ in range(steps):
            step()
    events = sorted(prof.key_averages(group_by_input_shape=True), key=lambda e: -e.self_cpu_time_total)
    total = sum(e.self_cpu_time_total for e in events) / steps / 1e3
    print(f"{case.name} b{case.batch_size}: {total:.2f} ms self time per step")
    for e in events[:40]:
        ms = e.self_cpu_time_total / steps / 1e3
        print(
            f"{ms:8.3f} ms {100 * ms / total:5.1f}% {e.count // steps:4d}x  {e.key[:36]:36s} {str(e.input_shapes)[:90]}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--baseline", default="HEAD")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--cases", default="0,1,2,3,4")
    parser.add_argument("--profile", type=int, default=None)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.profile is not None:
        profile(args.profile)
    else:
        compare(args.baseline, args.rounds, [int(i) for i in args.cases.split(",")])


if __name__ == "__main__":
    main()
