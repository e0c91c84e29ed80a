"""Camera geometry of Human3.6M (conventions.md §2), vectorised over any leading shape.

All functions accept numpy arrays or torch tensors and return the same kind.

* Extrinsics: ``orientation`` is a unit quaternion ``(w, x, y, z)`` rotating
  camera → world; ``translation`` is the camera centre in world coordinates.
  world → camera: ``X_cam = rotate(conj(q), X_world − t)``.
* Projection with distortion: ``XX = clamp(X/Z, −1, 1)``, ``r² = |XX|²``,
  ``radial = 1 + k1 r² + k2 r⁴ + k3 r⁶``, ``tan = p·XX``,
  ``uv = f · (XX (radial + tan) + p r²) + c``.
* Screen normalisation (both axes divided by the image *width*):
  ``x_n = x/w·2 − 1``, ``y_n = y/w·2 − h/w``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np
import torch

__all__ = [
    "Camera",
    "load_h36m_cameras",
    "qrot",
    "qinverse",
    "world_to_camera",
    "camera_to_world",
    "project_to_2d",
    "normalize_screen_coordinates",
    "image_coordinates",
]


def _as_tensor(x, like: torch.Tensor | None = None) -> torch.Tensor:
    if isinstance(x, torch.Tensor):
        return x
    t = torch.as_tensor(np.asarray(x))
    if like is not None:
        t = t.to(dtype=like.dtype, device=like.device)
    return t


def _same_kind(result: torch.Tensor, template):
    return result if isinstance(template, torch.Tensor) else result.numpy()


def qinverse(q):
    """Conjugate of unit quaternions ``[..., 4]`` (w, x, y, z)."""
    if isinstance(q, torch.Tensor):
        return q * q.new_tensor([1.0, -1.0, -1.0, -1.0])
    q = np.asarray(q)
    return q * np.array([1.0, -1.0, -1.0, -1.0], dtype=q.dtype)


def qrot(q, v):
    """Rotate vectors ``v [..., 3]`` by unit quaternions ``q [..., 4]`` (broadcast)."""
    vt = _as_tensor(v)
    qt = _as_tensor(q, like=vt)
    qt = qt.expand(*vt.shape[:-1], 4) if qt.dim() < vt.dim() or qt.shape[:-1] != vt.shape[:-1] else qt
    qvec = qt[..., 1:]
    uv = torch.cross(qvec, vt, dim=-1)
    uuv = torch.cross(qvec, uv, dim=-1)
    return _same_kind(vt + 2 * (qt[..., :1] * uv + uuv), v)


def world_to_camera(x, orientation, translation):
    """World → camera coordinates: ``rotate(conj(q), X − t)`` on ``[..., 3]``."""
    xt = _as_tensor(x)
    q = _as_tensor(orientation, like=xt)
    t = _as_tensor(translation, like=xt)
    return _same_kind(_as_tensor(qrot(qinverse(q), xt - t)), x)


def camera_to_world(x, orientation, translation):
    """Camera → world coordinates: ``rotate(q, X) + t`` on ``[..., 3]``."""
    xt = _as_tensor(x)
    q = _as_tensor(orientation, like=xt)
    t = _as_tensor(translation, like=xt)
    return _same_kind(_as_tensor(qrot(q, xt)) + t, x)


def project_to_2d(
    x,
    camera: Camera | None = None,
    *,
    focal_length=None,
    center=None,
    radial_distortion=None,
    tangential_distortion=None,
):
    """Project camera-frame points ``[..., 3]`` to pixels ``[..., 2]`` with lens distortion.

    Intrinsics come from ``camera`` or the keyword arguments (each broadcast over
    the leading shape of ``x``).
    """
    xt = _as_tensor(x)
    if camera is not None:
        focal_length, center = camera.focal_length, camera.center
        radial_distortion, tangential_distortion = camera.radial_distortion, camera.tangential_distortion
    f = _as_tensor(focal_length, like=xt)
    c = _as_tensor(center, like=xt)
    k = _as_tensor(radial_distortion, like=xt)
    p = _as_tensor(tangential_distortion, like=xt)
    xx = torch.clamp(xt[..., :2] / xt[..., 2:3], -1, 1)
    r2 = (xx**2).sum(dim=-1, keepdim=True)
    radial = 1 + k[..., 0:1] * r2 + k[..., 1:2] * r2**2 + k[..., 2:3] * r2**3
    tan = (p * xx).sum(dim=-1, keepdim=True)
    xxx = xx * (radial + tan) + p * r2
    return _same_kind(f * xxx + c, x)


def normalize_screen_coordinates(x, w: float, h: float):
    """Pixels → normalised screen coordinates, ``[0, w] ↦ [−1, 1]`` keeping the aspect ratio."""
    if x.shape[-1] != 2:
        raise ValueError(f"expected 2D keypoints with last dimension 2, got shape {tuple(x.shape)}")
    scale = np.array([1.0, h / w]) if not isinstance(x, torch.Tensor) else x.new_tensor([1.0, h / w])
    return x / w * 2 - scale


def image_coordinates(x, w: float, h: float):
    """Inverse of :func:`normalize_screen_coordinates`: normalised → pixels."""
    if x.shape[-1] != 2:
        raise ValueError(f"expected 2D keypoints with last dimension 2, got shape {tuple(x.shape)}")
    scale = np.array([1.0, h / w]) if not isinstance(x, torch.Tensor) else x.new_tensor([1.0, h / w])
    return (x + scale) * w / 2


@dataclass(frozen=True)
class Camera:
    """One calibrated camera of one subject (translation in metres)."""

    id: str
    center: tuple[float, float]
    focal_length: tuple[float, float]
    radial_distortion: tuple[float, float, float]
    tangential_distortion: tuple[float, float]
    res_w: int
    res_h: int
    orientation: tuple[float, float, float, float]
    translation: tuple[float, float, float]
    azimuth: float = 0.0

    def world_to_camera(self, x):
        return world_to_camera(
            x, np.asarray(self.orientation, np.float32), np.asarray(self.translation, np.float32)
        )

    def camera_to_world(self, x):
        return camera_to_world(
            x, np.asarray(self.orientation, np.float32), np.asarray(self.translation, np.float32)
        )

    def project(self, x_cam):
        return project_to_2d(x_cam, self)

    def normalize(self, uv):
        return normalize_screen_coordinates(uv, self.res_w, self.res_h)

    def unnormalize(self, uv_n):
        return image_coordinates(uv_n, self.res_w, self.res_h)

    @property
    def intrinsics(self) -> np.ndarray:
        """VideoPose3D's 9-vector ``[f(2), c(2), k(3), p(2)]`` with f and c normalised by width."""
        w = self.res_w
        f = np.asarray(self.focal_length) / w * 2
        c = normalize_screen_coordinates(np.asarray(self.center, dtype=np.float64), self.res_w, self.res_h)
        return np.concatenate([f, c, self.radial_distortion, self.tangential_distortion]).astype(np.float32)


@lru_cache(maxsize=4)
def _read_calibration(path: str | None) -> dict:
    if path is None:
        text = resources.files("posegcn.data").joinpath("h36m_cameras.json").read_text()
    else:
        with open(path) as fh:
            text = fh.read()
    return json.loads(text)


def load_h36m_cameras(path: str | None = None) -> dict[str, list[Camera]]:
    """The Human3.6M calibration: ``{subject: [Camera × 4]}`` (translations in metres).

    Without ``path`` the copy shipped inside the package is used.
    """
    calib = _read_calibration(None if path is None else str(path))
    intrinsics = calib["intrinsics"]
    out: dict[str, list[Camera]] = {}
    for subject, extrinsics in calib["extrinsics"].items():
        if len(extrinsics) != len(intrinsics):
            raise ValueError(
                f"camera calibration {path or 'posegcn/data/h36m_cameras.json'}: subject {subject} has "
                f"{len(extrinsics)} extrinsics for {len(intrinsics)} cameras"
            )
        cams = []
        for intr, extr in zip(intrinsics, extrinsics):
            cams.append(
                Camera(
                    id=str(intr["id"]),
                    center=tuple(intr["center"]),
                    focal_length=tuple(intr["focal_length"]),
                    radial_distortion=tuple(intr["radial_distortion"]),
                    tangential_distortion=tuple(intr["tangential_distortion"]),
                    res_w=int(intr["res_w"]),
                    res_h=int(intr["res_h"]),
                    orientation=tuple(extr["orientation"]),
                    translation=tuple(np.asarray(extr["translation"], dtype=np.float64) / 1000.0),
                    azimuth=float(intr.get("azimuth", 0.0)),
                )
            )
        out[subject] = cams
    return out
