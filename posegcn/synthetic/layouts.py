"""The three file layouts the synthetic bodies are written in (README.md § The embedded synthetic dataset).

* Human3.6M as VideoPose3D writes it (:func:`generate_synthetic_h36m`, :func:`ensure_synthetic_h36m`):
  ``data_3d_h36m.npz`` (``positions_3d``: ``{subject: {take: float32 [F, 32, 3]}}``, world metres,
  z up, floor at z ≈ 0, 50 fps) and ``data_2d_h36m_<source>.npz`` (``positions_2d``:
  ``{subject: {take: [cam0..cam3]}}`` float32 pixels, ``metadata``) for the sources ``gt`` (exact
  projection with the real cameras and lens distortion, 17 joints), ``synth_det`` and ``synth_sh``
  (:mod:`posegcn.synthetic.detector`; 0–2 frames longer than the mocap, as real detections are),
  and ``SYNTHETIC.json`` (the generation parameters, so that a matching directory is reused).
  7 subjects ``S1 S5 S6 S7 S8 S9 S11`` with the real calibration of each, 15 action groups × 2
  takes; unlike the real dataset, S11 ``Directions`` is present.  Every joint of every frame lies in
  front of each camera and inside its image (a take's excursion is shrunk toward the volume centre
  where needed).
* HumanEva-I as VideoPose3D writes it (:func:`generate_synthetic_humaneva`).
* The MPI-INF-3DHP test set as P-STMO writes it (:func:`generate_synthetic_3dhp_test`).

Same ``seed`` ⇒ identical arrays.  Everything is vectorised over the frames and the subjects of a
take; the only Python loops run over the takes, the 32 joints (kinematic tree) and the cameras.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from posegcn.camera import Camera, load_h36m_cameras, project_to_2d, world_to_camera
from posegcn.data.formats.humaneva import HUMANEVA_EXTRINSICS, HUMANEVA_FPS, HUMANEVA_RESOLUTION
from posegcn.data.formats.mpi_inf_3dhp import MPI_INF_3DHP_IMAGE_SIZE
from posegcn.skeleton import H36M_16, H36M_17, H36M_32_TO_17, MPI_INF_3DHP_TO_H36M_17
from posegcn.synthetic.detector import _DETECTORS, _detect
from posegcn.synthetic.kinematics import (
    _FILE_3D,
    _IMAGE_MARGIN_PX,
    _MANIFEST,
    _MAX_EXTRA_FRAMES,
    _STREAM_DETECTIONS,
    _STREAM_MOTION,
    _VOLUME_CENTRE,
    FPS,
    SYNTHETIC_ACTIONS,
    SYNTHETIC_SOURCES,
    SYNTHETIC_SUBJECTS,
    SYNTHETIC_TAKES,
    SYNTHETIC_VERSION,
    synthetic_skeleton_offsets,
)
from posegcn.synthetic.motions import _ACTION_MOTION, _HUMANEVA_MOTION, _synthetic_motion, animate

__all__ = [
    "SYNTHETIC_HUMANEVA_SUBJECTS",
    "SYNTHETIC_HUMANEVA_TAKES",
    "SYNTHETIC_3DHP_MOTION",
    "ensure_synthetic_h36m",
    "generate_synthetic_3dhp_test",
    "generate_synthetic_h36m",
    "generate_synthetic_humaneva",
]


# =============================================================================== cameras
@dataclass(frozen=True)
class _CameraRig:
    """The 4 cameras of every subject stacked for broadcasting over ``[B, F, J, 3]``."""

    orientation: np.ndarray  # [C, B, 1, 1, 4]
    translation: np.ndarray  # [C, B, 1, 1, 3]
    intrinsics: list[dict[str, np.ndarray]]  # per camera, each [1, 1, 1, k]
    resolution: np.ndarray  # [C, 2] (w, h)

    @classmethod
    def from_cameras(cls, cameras: dict[str, list[Camera]], subjects: Sequence[str]) -> _CameraRig:
        missing = [s for s in subjects if s not in cameras]
        if missing:
            raise KeyError(f"camera calibration has no subject(s) {missing}; it has {sorted(cameras)}")
        cams = [cameras[s] for s in subjects]
        n_cam = len(cams[0])

        def stack(attr: str) -> np.ndarray:
            a = np.array([[getattr(c[i], attr) for c in cams] for i in range(n_cam)], dtype=np.float64)
            return a[:, :, None, None, :]

        intrinsics = [
            {
                key: np.asarray(getattr(cams[0][i], key), dtype=np.float64).reshape(1, 1, 1, -1)
                for key in ("focal_length", "center", "radial_distortion", "tangential_distortion")
            }
            for i in range(n_cam)
        ]
        resolution = np.array([[cams[0][i].res_w, cams[0][i].res_h] for i in range(n_cam)], dtype=np.float64)
        return cls(stack("orientation"), stack("translation"), intrinsics, resolution)

    def project(
        self, world: np.ndarray, subjects: np.ndarray | None = None
    ) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """World points ``[B, F, J, 3]`` → per camera pixels ``[B, F, J, 2]`` and depths ``[B, F, J]``.

        ``subjects`` selects the rows of the rig that ``world`` holds (default: all of them).
        """
        rows = slice(None) if subjects is None else subjects
        pixels, depths = [], []
        for c, intr in enumerate(self.intrinsics):
            x_cam = world_to_camera(world, self.orientation[c][rows], self.translation[c][rows])
            pixels.append(project_to_2d(x_cam, **intr))
            depths.append(x_cam[..., 2])
        return pixels, depths

    def visible(self, world: np.ndarray, margin: float, subjects: np.ndarray | None = None) -> np.ndarray:
        """``[B]`` bool: every joint of every frame in front of every camera and ``margin`` px inside its image."""
        pixels, depths = self.project(world, subjects)
        ok = np.ones(world.shape[0], dtype=bool)
        for uv, z, (w, h) in zip(pixels, depths, self.resolution):
            inside = (z > 0.1) & (uv[..., 0] >= margin) & (uv[..., 0] <= w - margin)
            inside &= (uv[..., 1] >= margin) & (uv[..., 1] <= h - margin)
            ok &= inside.reshape(world.shape[0], -1).all(axis=1)
        return ok


# =============================================================================== generation
def _generate_take(
    action: str, take: int, seed: int, n_frames: int, offsets: np.ndarray, rig: _CameraRig
) -> np.ndarray:
    """World positions ``[B, n_frames, 32, 3]`` (float64) of one take for all subjects."""
    rng = np.random.default_rng([seed, _STREAM_MOTION, SYNTHETIC_ACTIONS.index(action), take])
    local, m = animate(_ACTION_MOTION[action], rng, offsets, n_frames, FPS)
    # take's centre near the middle of the capture volume, chairs stay closer to it
    spread = 0.15 if m.seated else 0.3
    centre = _VOLUME_CENTRE + rng.uniform(-spread, spread, (m.batch, 2))
    # shrink the excursion toward the volume centre until every camera sees the whole body
    placed = np.zeros(m.batch, dtype=bool)
    world = local.copy()
    for shrink in (1.0, 0.85, 0.7, 0.55, 0.4, 0.25, 0.1, 0.0):
        todo = ~placed
        c = shrink * centre[todo] + (1 - shrink) * _VOLUME_CENTRE
        xy = c[:, None, :] + shrink * m.offset[todo]
        candidate = local[todo].copy()
        candidate[..., :2] += xy[:, :, None, :]
        ok = rig.visible(candidate, _IMAGE_MARGIN_PX, np.flatnonzero(todo))
        idx = np.flatnonzero(todo)[ok]
        world[idx] = candidate[ok]
        placed[idx] = True
        if placed.all():
            return world
    raise RuntimeError(
        f"synthetic take {action!r} #{take} (seed {seed}): subjects "
        f"{[SYNTHETIC_SUBJECTS[i] for i in np.flatnonzero(~placed)]} do not fit inside every camera image"
    )


def _metadata(num_joints: int) -> dict:
    skeleton = H36M_17 if num_joints == 17 else H36M_16
    return {
        "num_joints": num_joints,
        "keypoints_symmetry": [list(skeleton.joints_left), list(skeleton.joints_right)],
        "layout_name": "h36m",
    }


def _save_npz(path: Path, **arrays) -> None:
    """``np.savez_compressed`` through a temporary file, so readers never see a half-written file."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as fh:
        np.savez_compressed(fh, **arrays)
    os.replace(tmp, path)


def _manifest(frames_per_take: int, seed: int, sources: Sequence[str]) -> dict:
    return {
        "generator": "posegcn.synthetic",
        "version": SYNTHETIC_VERSION,
        "seed": int(seed),
        "frames_per_take": int(frames_per_take),
        "fps": FPS,
        "sources": list(sources),
        "subjects": list(SYNTHETIC_SUBJECTS),
        "takes": list(SYNTHETIC_TAKES),
        "files": [_FILE_3D] + [f"data_2d_h36m_{s}.npz" for s in sources],
        "notes": "Synthetic Human3.6M in VideoPose3D format; unlike the real data, S11 'Directions' is present.",
    }


def _check_arguments(frames_per_take: int, seed: int, sources: Sequence[str]) -> tuple[str, ...]:
    if isinstance(sources, str):
        sources = (sources,)
    if not isinstance(frames_per_take, int | np.integer) or frames_per_take < 1:
        raise ValueError(f"frames_per_take must be a positive integer, got {frames_per_take!r}")
    if not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    unknown = [s for s in sources if s not in SYNTHETIC_SOURCES]
    if unknown:
        raise ValueError(
            f"unknown synthetic 2D source(s) {unknown}; expected a subset of {list(SYNTHETIC_SOURCES)}"
        )
    return tuple(dict.fromkeys(sources))


def generate_synthetic_h36m(
    root: str | Path,
    frames_per_take: int = 200,
    seed: int = 0,
    sources: Sequence[str] = SYNTHETIC_SOURCES,
) -> Path:
    """Write the synthetic dataset into ``root`` (created if needed) and return ``root`` as a Path.

    Args:
        root: output directory.
        frames_per_take: mocap frames of every take (50 fps); 7 subjects × 30 takes of them.
            About 2500 gives Human3.6M scale.
        seed: everything is a deterministic function of the seed.
        sources: 2D files to write, a subset of ``("gt", "synth_det", "synth_sh")``.
    """
    sources = _check_arguments(frames_per_take, seed, sources)
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    (root / _MANIFEST).unlink(missing_ok=True)  # the directory is inconsistent until the end
    # The projections are many small tensor ops: intra-op threads only add synchronisation, which
    # is ruinous on a loaded machine (50x slower measured on 2 busy cores).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        _write_dataset(root, frames_per_take, seed, sources)
    finally:
        torch.set_num_threads(threads)
    return root


def _write_dataset(root: Path, frames_per_take: int, seed: int, sources: tuple[str, ...]) -> None:

    offsets = synthetic_skeleton_offsets(seed)
    body = np.stack([offsets[s] for s in SYNTHETIC_SUBJECTS])
    rig = _CameraRig.from_cameras(load_h36m_cameras(), SYNTHETIC_SUBJECTS)
    n_total = frames_per_take + _MAX_EXTRA_FRAMES
    positions_3d: dict[str, dict[str, np.ndarray]] = {s: {} for s in SYNTHETIC_SUBJECTS}
    positions_2d: dict[str, dict[str, dict[str, list[np.ndarray]]]] = {
        src: {s: {} for s in SYNTHETIC_SUBJECTS} for src in sources
    }
    take_names = iter(SYNTHETIC_TAKES)
    for a, action in enumerate(SYNTHETIC_ACTIONS):
        for take in range(2):
            name = next(take_names)
            world = _generate_take(action, take, seed, n_total, body, rig)
            # the 2D ground truth is projected from the stored float32 mocap
            world32 = world.astype(np.float32)
            pixels, _ = rig.project(world32[:, :, list(H36M_32_TO_17)].astype(np.float64))
            for b, subject in enumerate(SYNTHETIC_SUBJECTS):
                positions_3d[subject][name] = np.ascontiguousarray(world32[b, :frames_per_take])
                for src in sources:
                    if src == "gt":
                        cams = [uv[b, :frames_per_take].astype(np.float32) for uv in pixels]
                    else:
                        k = list(_DETECTORS).index(src)
                        rng = np.random.default_rng([seed, _STREAM_DETECTIONS, k, b, a, take])
                        extra = rng.integers(0, _MAX_EXTRA_FRAMES + 1, len(pixels))
                        cams = [
                            _detect(
                                uv[b, : frames_per_take + extra[c]], _DETECTORS[src], rng, rig.resolution[c]
                            ).astype(np.float32)
                            for c, uv in enumerate(pixels)
                        ]
                    positions_2d[src][subject][name] = cams

    _save_npz(root / _FILE_3D, positions_3d=positions_3d)
    for src in sources:
        num_joints = 16 if src == "synth_sh" else 17
        _save_npz(
            root / f"data_2d_h36m_{src}.npz", positions_2d=positions_2d[src], metadata=_metadata(num_joints)
        )
    tmp = root / f".{_MANIFEST}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(_manifest(frames_per_take, seed, sources), indent=1) + "\n")
    os.replace(tmp, root / _MANIFEST)


def ensure_synthetic_h36m(
    root: str | Path, frames_per_take: int = 200, seed: int = 0, sources: Sequence[str] = SYNTHETIC_SOURCES
) -> Path:
    """Generate the synthetic dataset into ``root`` unless it already holds one with these parameters.

    The directory is reused when its ``SYNTHETIC.json`` has the same version, seed and frames per
    take, lists every requested source, and all files exist; otherwise it is (re)generated.
    """
    sources = _check_arguments(frames_per_take, seed, sources)
    root = Path(root)
    manifest = root / _MANIFEST
    try:
        found = json.loads(manifest.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        found = None
    if (
        isinstance(found, dict)
        and found.get("version") == SYNTHETIC_VERSION
        and found.get("seed") == seed
        and found.get("frames_per_take") == frames_per_take
        and set(sources) <= set(found.get("sources", ()))
        and all((root / f).is_file() for f in [_FILE_3D] + [f"data_2d_h36m_{s}.npz" for s in sources])
    ):
        return root
    return generate_synthetic_h36m(root, frames_per_take=frames_per_take, seed=seed, sources=sources)


# =============================================================================== other datasets
# The same kinematics in the file layouts of the cross-dataset evaluations (README.md § Data):
# HumanEva-I as VideoPose3D writes it, and the MPI-INF-3DHP test set as P-STMO writes it.

#: Joints of the 32-marker tree kept in the HumanEva-I 15-joint order (Pelvis, Thorax, left arm,
#: right arm, left leg, right leg, Head top).
H36M_32_TO_HUMANEVA_15 = (0, 13, 17, 18, 19, 25, 26, 27, 6, 7, 8, 1, 2, 3, 15)
#: Synthetic HumanEva-I takes and the motion each is made of; ``chunk2`` mimics a sequence cut
#: at corrupt mocap frames.
SYNTHETIC_HUMANEVA_TAKES = ("Walking 1 chunk0", "Walking 1 chunk2", "Jog 1 chunk0", "Box 1 chunk0")
SYNTHETIC_HUMANEVA_SUBJECTS = tuple(f"{split}/S{k}" for split in ("Train", "Validate") for k in (1, 2, 3))
#: Motion of each synthetic MPI-INF-3DHP test sequence (an H36M action pattern).
SYNTHETIC_3DHP_MOTION = {
    "TS1": "Walking", "TS2": "Directions", "TS3": "Sitting", "TS4": "Greeting", "TS5": "Walking",
    "TS6": "Discussion",
}  # fmt: skip
_STREAM_HUMANEVA, _STREAM_3DHP = 4, 5
_HUMANEVA_FOCAL_PX = 760.0  # a plausible pinhole for the 640x480 cameras (the real files ship 2D pixels)
_3DHP_FOCAL_PX = {"studio": 1500.0, "outdoor": 1684.0}  # ≈ the test set's intrinsics (TS1–4 / TS5–6)


def generate_synthetic_humaneva(root: str | Path, frames_per_take: int = 120, seed: int = 0) -> Path:
    """Write a synthetic HumanEva-I in VideoPose3D's layout into ``root``; returns ``root``.

    Files: ``data_3d_humaneva15.npz`` (``positions_3d``: ``{subject: {take: float32 [F, 15, 3]}}``,
    world metres, z up, 60 fps) and ``data_2d_humaneva15_gt.npz`` (``positions_2d``:
    ``{subject: {take: [C1, C2, C3]}}`` of float32 ``[F, 15, 2]`` pixels, ``metadata`` of the
    ``humaneva15`` layout).  Subjects ``Train/S1…S3`` and ``Validate/S1…S3`` (S1–S3 have the bodies of
    the synthetic Human3.6M S1, S5, S6), takes :data:`SYNTHETIC_HUMANEVA_TAKES`.  The 2D keypoints
    are pinhole projections (focal 760 px, 640×480) through the real HumanEva extrinsics, which
    the loader uses to move the 3D poses into each camera.
    """

    if not isinstance(frames_per_take, int | np.integer) or frames_per_take < 1:
        raise ValueError(f"frames_per_take must be a positive integer, got {frames_per_take!r}")
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    bodies = synthetic_skeleton_offsets(seed)
    body = np.stack([bodies[s] for s in ("S1", "S5", "S6")])
    w, h = HUMANEVA_RESOLUTION
    centre = np.array([w / 2, h / 2])
    positions_3d: dict[str, dict[str, np.ndarray]] = {s: {} for s in SYNTHETIC_HUMANEVA_SUBJECTS}
    positions_2d: dict[str, dict[str, list[np.ndarray]]] = {s: {} for s in SYNTHETIC_HUMANEVA_SUBJECTS}
    for split_index, split in enumerate(("Train", "Validate")):
        for take_index, take in enumerate(SYNTHETIC_HUMANEVA_TAKES):
            rng = np.random.default_rng([seed, _STREAM_HUMANEVA, split_index, take_index])
            motion = _HUMANEVA_MOTION[take.split(" ")[0]]
            world = _synthetic_motion(motion, rng, body, frames_per_take, HUMANEVA_FPS, excursion=0.3)
            joints = world[:, :, list(H36M_32_TO_HUMANEVA_15)].astype(np.float32)
            for b in range(3):
                subject = f"{split}/S{b + 1}"
                positions_3d[subject][take] = np.ascontiguousarray(joints[b])
                cams = []
                for q, t in HUMANEVA_EXTRINSICS[f"S{b + 1}"]:
                    x_cam = world_to_camera(
                        joints[b].astype(np.float64), np.asarray(q), np.asarray(t, dtype=np.float64) / 1000
                    )
                    uv = _HUMANEVA_FOCAL_PX * x_cam[..., :2] / x_cam[..., 2:] + centre
                    cams.append(uv.astype(np.float32))
                positions_2d[subject][take] = cams
    metadata = {
        "layout_name": "humaneva15",
        "num_joints": 15,
        "keypoints_symmetry": [[2, 3, 4, 8, 9, 10], [5, 6, 7, 11, 12, 13]],
    }
    _save_npz(root / "data_3d_humaneva15.npz", positions_3d=positions_3d)
    _save_npz(root / "data_2d_humaneva15_gt.npz", positions_2d=positions_2d, metadata=metadata)
    return root


def generate_synthetic_3dhp_test(
    root: str | Path, frames_per_sequence: int = 150, seed: int = 0, invalid_fraction: float = 0.1
) -> Path:
    """Write a synthetic MPI-INF-3DHP test set ``data_test_3dhp.npz`` (P-STMO's layout) into ``root``.

    ``data`` → ``{"TS1"…"TS6": {"data_2d": float32 [F, 17, 2] px, "data_3d": float32 [F, 17, 3]
    camera-frame mm, "valid": uint8 [F]}}`` in the 17-joint 3DHP test order
    (:data:`~posegcn.skeleton.MPI_INF_3DHP_17`); images 2048×2048 (TS1–4) and 1920×1080 (TS5–6)
    seen by a level pinhole camera 4.5 m (studio) or 5.5 m (outdoor) away.  About
    ``invalid_fraction`` of the frames of every sequence, in two blocks, are flagged invalid and
    hold zeros, so a reader that ignores ``valid`` gets visibly wrong poses.
    """

    if not isinstance(frames_per_sequence, int | np.integer) or frames_per_sequence < 4:
        raise ValueError(f"frames_per_sequence must be an integer >= 4, got {frames_per_sequence!r}")
    if not 0.0 <= invalid_fraction < 1.0:
        raise ValueError(f"invalid_fraction must lie in [0, 1), got {invalid_fraction!r}")
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    bodies = synthetic_skeleton_offsets(seed)
    # h36m17[i] = mpi17[MPI_INF_3DHP_TO_H36M_17[i]]  ⇒  mpi17 = h36m17[inverse]
    inverse = np.argsort(MPI_INF_3DHP_TO_H36M_17)
    data = {}
    for k, (name, action) in enumerate(SYNTHETIC_3DHP_MOTION.items()):
        rng = np.random.default_rng([seed, _STREAM_3DHP, k])
        body = bodies[SYNTHETIC_SUBJECTS[k % len(SYNTHETIC_SUBJECTS)]][None]
        world = _synthetic_motion(_ACTION_MOTION[action], rng, body, frames_per_sequence, FPS, excursion=0.3)
        h36m17 = world[0][:, list(H36M_32_TO_17)]
        outdoor = name in ("TS5", "TS6")
        distance, height = (5.5, 1.0) if outdoor else (4.5, 1.0)
        # level camera looking along +y: x right, y down, z forward
        x_cam = np.stack([h36m17[..., 0], height - h36m17[..., 2], h36m17[..., 1] + distance], -1)
        w, h = MPI_INF_3DHP_IMAGE_SIZE[name]
        f = _3DHP_FOCAL_PX["outdoor" if outdoor else "studio"]
        uv = f * x_cam[..., :2] / x_cam[..., 2:] + np.array([w / 2, h / 2])
        valid = np.ones(frames_per_sequence, dtype=np.uint8)
        n_bad = int(round(invalid_fraction * frames_per_sequence / 2))
        if n_bad:
            half = frames_per_sequence // 2
            for lo, hi in ((1, half - n_bad), (half, frames_per_sequence - n_bad)):
                start = int(rng.integers(lo, max(lo + 1, hi)))
                valid[start : start + n_bad] = 0
        data_2d = uv[:, inverse].astype(np.float32)
        data_3d = (1000.0 * x_cam[:, inverse]).astype(np.float32)
        data_2d[valid == 0] = 0.0
        data_3d[valid == 0] = 0.0
        data[name] = {"data_2d": data_2d, "data_3d": data_3d, "valid": valid}
    _save_npz(root / "data_test_3dhp.npz", data=data)
    return root
