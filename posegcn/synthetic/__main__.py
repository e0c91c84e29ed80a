"""``python -m posegcn.synthetic --root DIR --frames-per-take N --seed S``: write the synthetic Human3.6M files."""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence

from posegcn.synthetic.kinematics import (
    _FILE_3D,
    _MANIFEST,
    SYNTHETIC_SOURCES,
    SYNTHETIC_SUBJECTS,
    SYNTHETIC_TAKES,
)
from posegcn.synthetic.layouts import ensure_synthetic_h36m, generate_synthetic_h36m


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m posegcn.synthetic --root DIR --frames-per-take N --seed S``."""
    parser = argparse.ArgumentParser(
        prog="python -m posegcn.synthetic",
        description="Write a synthetic Human3.6M dataset in the VideoPose3D file format.",
    )
    parser.add_argument("--root", required=True, help="output directory")
    parser.add_argument(
        "--frames-per-take", type=int, default=200, help="mocap frames per take (default 200)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sources", nargs="+", default=list(SYNTHETIC_SOURCES), choices=SYNTHETIC_SOURCES)
    parser.add_argument("--force", action="store_true", help="regenerate even if ROOT already matches")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    make = generate_synthetic_h36m if args.force else ensure_synthetic_h36m
    root = make(args.root, frames_per_take=args.frames_per_take, seed=args.seed, sources=args.sources)
    elapsed = time.perf_counter() - start
    n_3d = len(SYNTHETIC_SUBJECTS) * len(SYNTHETIC_TAKES) * args.frames_per_take
    print(
        f"synthetic Human3.6M in {root} ({elapsed:.1f} s; seed {args.seed}, {args.frames_per_take} frames per take)"
    )
    print(
        f"  {len(SYNTHETIC_SUBJECTS)} subjects x {len(SYNTHETIC_TAKES)} takes: {n_3d} mocap frames, {4 * n_3d} 2D poses per source"
    )
    for name in [_FILE_3D] + [f"data_2d_h36m_{s}.npz" for s in args.sources] + [_MANIFEST]:
        size = (root / name).stat().st_size
        print(f"  {name:32s} {size / 2**20:9.1f} MiB")


if __name__ == "__main__":
    main()
