"""Shared fixtures: tiny Human3.6M files in the exact VideoPose3D layout, written by the tests themselves,
and checkpoints written by short real ``posegcn fit`` runs (once per session) for every test that needs one."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from posegcn.camera import load_h36m_cameras, project_to_2d, world_to_camera
from posegcn.skeleton import H36M_17_TO_16, H36M_32_TO_17, SH_TO_H36M_16

FIXTURE_SUBJECTS = ("S1", "S5", "S9")
#: Frames per take (subject index added, so that every sequence has its own length).
FIXTURE_TAKES = {"Walking": 12, "Walking 1": 15, "Eating": 20, "Eating 1": 9}
#: The 2D arrays are this many frames longer than the 3D ones (detections often are).
FIXTURE_EXTRA_2D = 3


def fixture_positions(seed: int = 0, subjects=FIXTURE_SUBJECTS, extra_2d: int = FIXTURE_EXTRA_2D):
    """``positions_3d`` (32 markers, world metres) and 17-joint ``positions_2d`` (pixels, real cameras)."""
    rng = np.random.default_rng(seed)
    cameras = load_h36m_cameras()
    positions_3d: dict = {}
    positions_2d: dict = {}
    for k, s in enumerate(subjects):
        positions_3d[s], positions_2d[s] = {}, {}
        for a, frames in FIXTURE_TAKES.items():
            n = frames + k + extra_2d
            root = np.array([0.2, -0.3, 0.9]) + np.cumsum(rng.normal(0, 0.01, (n, 1, 3)), axis=0)
            x = (root + rng.uniform(-0.5, 0.5, (n, 32, 3))).astype(np.float32)
            x[:, 0] = root[:, 0]
            positions_3d[s][a] = x[: n - extra_2d]
            x17 = x[:, list(H36M_32_TO_17)]
            positions_2d[s][a] = [
                np.asarray(
                    project_to_2d(world_to_camera(x17, cam.orientation, cam.translation), cam), np.float32
                )
                for cam in cameras[s]
            ]
    return positions_3d, positions_2d


def h36m_metadata(layout: str) -> dict:
    if layout == "h36m17":
        return {
            "layout_name": "h36m",
            "num_joints": 17,
            "keypoints_symmetry": [[4, 5, 6, 11, 12, 13], [1, 2, 3, 14, 15, 16]],
        }
    if layout == "h36m16":
        return {"num_joints": 16, "keypoints_symmetry": [[4, 5, 6, 10, 11, 12], [1, 2, 3, 13, 14, 15]]}
    if layout == "mpii16":  # VideoPose3D's prepare_data_2d_h36m_sh.py: MPII order, no layout_name
        return {"num_joints": 16, "keypoints_symmetry": [[3, 4, 5, 13, 14, 15], [0, 1, 2, 10, 11, 12]]}
    raise ValueError(layout)


def to_layout(positions_2d: dict, layout: str) -> dict:
    """17-joint H36M-order keypoints → ``layout`` (``h36m16`` drops joint 9, ``mpii16`` reorders)."""
    if layout == "h36m17":
        return positions_2d
    index = list(H36M_17_TO_16)
    if layout == "mpii16":  # h36m16 = mpii[SH_TO_H36M_16] ⇒ mpii[SH_TO_H36M_16[i]] = h36m16[i]
        inverse = np.argsort(SH_TO_H36M_16)
        index = [index[i] for i in inverse]
    return {
        s: {a: [kp[:, index] for kp in cams] for a, cams in acts.items()} for s, acts in positions_2d.items()
    }


def write_h36m(
    root: Path,
    positions_3d: dict | None = None,
    positions_2d: dict | None = None,
    source: str = "gt",
    metadata: dict | None = None,
) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    if positions_3d is not None:
        np.savez_compressed(root / "data_3d_h36m.npz", positions_3d=positions_3d)
    if positions_2d is not None:
        meta = h36m_metadata("h36m17") if metadata is None else metadata
        np.savez_compressed(root / f"data_2d_h36m_{source}.npz", positions_2d=positions_2d, metadata=meta)
    return root


@pytest.fixture
def h36m_data() -> tuple[dict, dict]:
    """Fresh (mutable) fixture dicts: ``positions_3d``, 17-joint ``positions_2d``."""
    return fixture_positions()


@pytest.fixture
def make_h36m(tmp_path: Path) -> Callable[..., Path]:
    """``make_h36m(name="h36m", layout="h36m17", mutate=None, source="gt", metadata=None) -> root``.

    ``mutate(positions_3d, positions_2d)`` may edit the dicts in place before writing.
    """

    def make(name="h36m", layout="h36m17", mutate=None, source="gt", metadata=None) -> Path:
        p3, p2 = fixture_positions()
        p2 = to_layout(p2, layout)
        if mutate is not None:
            mutate(p3, p2)
        meta = h36m_metadata(layout) if metadata is None else metadata
        return write_h36m(tmp_path / name, p3, p2, source=source, metadata=meta)

    return make


@pytest.fixture
def h36m_root(make_h36m) -> Path:
    return make_h36m()


# --------------------------------------------------------------------------- real `posegcn fit` runs
REPO = Path(__file__).resolve().parents[1]
CONFIGS = REPO / "configs"
#: Tiny synthetic data (all 7 subjects, 24 frames per take) shared by the session's runs.
SYNTHETIC_OPTIONS = ("--data.frames_per_take", "24", "--data.actions", "[Walking, Sitting]")
#: A short, quiet run: a few steps, the learning rate logged at every one of them.
SHORT_RUN = (
    "--trainer.max_epochs", "1", "--trainer.limit_val_batches", "2", "--trainer.num_sanity_val_steps", "0",
    "--trainer.log_every_n_steps", "1", "--trainer.enable_progress_bar", "false",
    "--trainer.enable_model_summary", "false", "--figures.every_n_epochs", "0",
)  # fmt: skip


def model_option(config: Path, name: str) -> str:
    """The command-line key of ``name`` inside ``model:`` of ``config``, wherever the config nests it.

    ``hidden`` is ``--model.init_args.hidden`` in a flat module and
    ``--model.init_args.net.init_args.hidden`` once the network is injected; the tests only
    name the knob, the config says where it lives.
    """
    import yaml

    def find(node, path):
        if isinstance(node, dict):
            if name in node:
                return [*path, name]
            for key, value in node.items():
                found = find(value, [*path, key])
                if found:
                    return found
        return None

    found = find(yaml.safe_load(config.read_text())["model"], [])
    if found is None:
        raise KeyError(f"{config.name} has no model option {name!r}")
    return "--model." + ".".join(found)


@dataclass(frozen=True)
class FitRun:
    """What one ``posegcn fit`` wrote, and the options that rebuild its model and data."""

    options: tuple[str, ...]  # config files + data/model options (no trainer options)
    data_root: Path
    root: Path  # --trainer.default_root_dir
    log_dir: Path  # the CSV logger's run folder: metrics.csv, config.yaml, hparams.yaml

    @property
    def best(self) -> Path:
        return self.root / "checkpoints" / "best.ckpt"

    @property
    def last(self) -> Path:
        return self.root / "checkpoints" / "last.ckpt"


def posegcn_fit(root: Path, options: Sequence[str], *extra: str) -> None:
    """``posegcn fit <options> <SHORT_RUN> <extra>`` in-process, as a user types it, into ``root``."""
    from posegcn.cli import main

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(sys, "argv", ["posegcn"])  # LightningCLI reads sys.argv when it warns
        main(["fit", *options, *SHORT_RUN, "--trainer.default_root_dir", str(root),
              "--checkpoint.dirpath", str(root / "checkpoints"), *extra])  # fmt: skip


def _fit_run(root: Path, data_root: Path, options: Sequence[str], *extra: str) -> FitRun:
    posegcn_fit(root, options, *extra)
    (log_dir,) = (root / "lightning_logs").glob("version_*")
    run = FitRun(tuple(options), data_root, root, log_dir)
    assert run.best.is_file() and run.last.is_file()
    return run


@pytest.fixture(scope="session")
def synthetic_root(tmp_path_factory) -> Path:
    """Folder of the session's synthetic data (generated by the first run that reads it)."""
    return tmp_path_factory.mktemp("synthetic") / "h36m"


@pytest.fixture(scope="session")
def modgcn_run(tmp_path_factory, synthetic_root) -> FitRun:
    """``posegcn fit --config configs/modgcn.yaml --config configs/data/synthetic.yaml``: the paper's
    network unchanged (16 joints, 128 channels), 6 steps on tiny synthetic data (≈ 5 s)."""
    config = CONFIGS / "modgcn.yaml"
    options = ("--config", str(config), "--config", str(CONFIGS / "data" / "synthetic.yaml"),
               "--data.root", str(synthetic_root), *SYNTHETIC_OPTIONS)  # fmt: skip
    root = tmp_path_factory.mktemp("modgcn_fit")
    return _fit_run(root, synthetic_root, options, "--trainer.limit_train_batches", "6")


@pytest.fixture(scope="session")
def dgnet_run(tmp_path_factory, synthetic_root) -> FitRun:
    """``posegcn fit --config configs/dgnet.yaml`` on the synthetic data (17 joints, T = 4 frames),
    narrowed to 16 channels and one block so that two steps take ≈ 2 s."""
    config = CONFIGS / "dgnet.yaml"
    options = ("--config", str(config), "--config", str(CONFIGS / "data" / "synthetic.yaml"),
               "--data.root", str(synthetic_root), *SYNTHETIC_OPTIONS, "--data.source", "gt",
               "--data.batch_size", "16", "--data.eval_batch_size", "64",
               model_option(config, "hidden"), "16", model_option(config, "num_blocks"), "1")  # fmt: skip
    root = tmp_path_factory.mktemp("dgnet_fit")
    return _fit_run(root, synthetic_root, options, "--trainer.limit_train_batches", "2")
