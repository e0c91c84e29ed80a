"""Detector stand-ins: noisy 2D keypoints made from exact projections (CPN-like and Stacked-Hourglass-like).

* ``synth_det`` — per-joint Gaussian jitter (σ 3–8 px), 1 % of the joints displaced by 20–60 px,
  a left/right pair swapped in 0.5 % of the frames; 17 joints.
* ``synth_sh`` — 16 joints in :data:`~posegcn.skeleton.H36M_16` order, noisier (σ 5–13 px, 2 %
  outliers of 20–80 px, 1 % swapped frames).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from posegcn.skeleton import H36M_16, H36M_17, H36M_17_TO_16

# Per-joint jitter σ (px) of the CPN-like detections, H36M-17 order: hips and the spine are
# ill-defined on the image, the head and shoulders are sharp, wrists move fast.
_DET_SIGMA_17 = np.array([6, 7, 5, 5, 7, 5, 5, 8, 4, 3, 4, 4, 5, 6, 4, 5, 6], dtype=np.float64)


@dataclass(frozen=True)
class _DetectorModel:
    joints: tuple[int, ...]  # indices into the 17 joints
    sigma: np.ndarray  # [J] px
    outlier_rate: float
    outlier_px: tuple[float, float]
    swap_rate: float  # fraction of frames with one left/right pair swapped
    pairs: np.ndarray  # [P, 2] left/right joint pairs in the output order


_DETECTORS = {
    "synth_det": _DetectorModel(
        joints=tuple(range(17)),
        sigma=_DET_SIGMA_17,
        outlier_rate=0.01,
        outlier_px=(20.0, 60.0),
        swap_rate=0.005,
        pairs=np.stack([H36M_17.joints_left, H36M_17.joints_right], -1),
    ),
    "synth_sh": _DetectorModel(
        joints=H36M_17_TO_16,
        sigma=_DET_SIGMA_17[list(H36M_17_TO_16)] * 1.6,
        outlier_rate=0.02,
        outlier_px=(20.0, 80.0),
        swap_rate=0.01,
        pairs=np.stack([H36M_16.joints_left, H36M_16.joints_right], -1),
    ),
}


def _detect(
    clean: np.ndarray, model: _DetectorModel, rng: np.random.Generator, size: tuple[int, int]
) -> np.ndarray:
    """Simulated detections from exact projections ``[F, 17, 2]`` → ``[F, J, 2]`` inside the image ``size = (w, h)``."""
    x = clean[:, list(model.joints)].copy()
    n_frames, n_joints = x.shape[:2]
    x += rng.normal(size=x.shape) * model.sigma[None, :, None]
    outlier = rng.random((n_frames, n_joints)) < model.outlier_rate
    radius = rng.uniform(*model.outlier_px, (n_frames, n_joints))
    angle = rng.uniform(0, 2 * np.pi, (n_frames, n_joints))
    x += (outlier * radius)[..., None] * np.stack([np.cos(angle), np.sin(angle)], -1)
    frames = np.flatnonzero(rng.random(n_frames) < model.swap_rate)
    pair = model.pairs[rng.integers(0, len(model.pairs), frames.size)]
    x[frames[:, None], pair] = x[frames[:, None], pair[:, ::-1]]
    return np.clip(x, 0.0, np.asarray(size, dtype=np.float64) - 1.0)
