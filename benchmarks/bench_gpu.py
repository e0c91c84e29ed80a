"""GPU section of ``make bench``: samples/s of the real ``posegcn fit`` loop on one GPU, per paper recipe,
and the wall time each recipe would take at that speed.

Runs only when CUDA is visible (``bench.py`` skips it otherwise).  Every recipe is the unchanged config
(``configs/*.yaml``: network, loss, optimiser, batch size, flips, clipping) on Human3.6M-sized synthetic
data, timed from inside the loop by :class:`bench_fit.LoopTimer`; the split is resident on the GPU and
batches are gathered there (:mod:`posegcn.data.batches`).  The projection is
``epochs × training poses per epoch / samples/s`` with Human3.6M's 1,559,752 training poses (twice that
with ``flip_augment: duplicate``) — validation passes not included.

    python benchmarks/bench_gpu.py [--steps 400] [--compile] [--json outputs/bench/gpu.json]
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import torch
import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_fit import fit_throughput, write_json  # noqa: E402

__all__ = ["RECIPES", "recipe", "gpu_section", "format_gpu"]

#: Training poses of Human3.6M (S1, S5, S6, S7, S8, 4 cameras).
H36M_TRAIN_POSES = 1_559_752
#: (name, config) of the paper recipes timed on the GPU.
RECIPES = (
    ("Modulated GCN (GT)", "configs/modgcn.yaml"),
    ("Modulated GCN (CPN)", "configs/modgcn_cpn.yaml"),
    ("SemGCN", "configs/semgcn.yaml"),
    ("SemGCN + non-local", "configs/semgcn_nonlocal.yaml"),
    ("DG-Net", "configs/dgnet.yaml"),
)


def recipe(config: str) -> dict:
    """Epochs, batch size and training poses per epoch that ``config`` prescribes."""
    with open(config) as fh:
        cfg = yaml.safe_load(fh)
    data = (cfg.get("data") or {}).get("init_args") or {}
    epochs = int((cfg.get("trainer") or {}).get("max_epochs", 1))
    copies = 2 if data.get("flip_augment") == "duplicate" else 1
    return {
        "epochs": epochs,
        "batch_size": int(data.get("batch_size", 64)),
        "poses": copies * H36M_TRAIN_POSES,
    }


def gpu_section(
    steps: int = 400,
    compile: bool = False,
    accelerator: str = "gpu",
    recipes: tuple[tuple[str, str], ...] = RECIPES,
    **fit_kwargs,
) -> dict | None:
    """One row per recipe (and per ``--model.compile_network true`` with ``compile``); ``None`` without CUDA.

    ``accelerator="cpu"`` runs the same code on the CPU (the tests do, with tiny data).
    """
    if accelerator == "gpu" and not torch.cuda.is_available():
        return None
    device = torch.cuda.get_device_name(0) if accelerator == "gpu" else "cpu"
    rows = []
    for name, config in recipes:
        plan = recipe(config)
        variants = [("eager", ())] + ([("compiled", ("--model.compile_network", "true"))] if compile else [])
        for variant, options in variants:
            extra = ("--trainer.accelerator", accelerator, "--trainer.devices", "1", *options)
            timed = fit_throughput(config, plan["batch_size"], steps=steps, extra=extra, **fit_kwargs)
            rate = timed["samples_per_s"]
            rows.append(
                {
                    "model": name,
                    "config": config,
                    "variant": variant,
                    **plan,
                    "samples_per_s": rate,
                    "projected_minutes": plan["epochs"] * plan["poses"] / rate / 60,
                }
            )
            print(f"  GPU: {name} ({variant}) {rate:,.0f} samples/s", file=sys.stderr)
    return {"device": device, "date": time.strftime("%Y-%m-%d"), "torch": torch.__version__, "rows": rows}


def format_gpu(section: dict) -> str:
    lines = [
        f"GPU ({section['device']}, torch {section['torch']}): the real `posegcn fit` loop per paper recipe",
        f"{'model':26s} {'variant':>8s} {'batch':>5s} {'samples/s':>10s} {'epochs':>6s} {'projected':>10s}",
    ]
    for r in section["rows"]:
        lines.append(
            f"{r['model']:26s} {r['variant']:>8s} {r['batch_size']:>5d} {r['samples_per_s']:10,.0f} "
            f"{r['epochs']:>6d} {r['projected_minutes']:8.1f} min"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict | None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--compile", action="store_true", help="also time --model.compile_network true")
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    section = gpu_section(args.steps, args.compile)
    if section is None:
        print("no CUDA device visible: GPU section skipped")
        return None
    print(format_gpu(section))
    write_json(args.json, section)
    return section


if __name__ == "__main__":
    main()
