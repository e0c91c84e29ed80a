"""Camera geometry of Human3.6M (conventions.md §2), vectorised over any leading shape.

All functions accept numpy arrays or torch tensors and return the same kind.

* Extrinsics: ``orientation`` is a unit quaternion ``(w, x, y, z)`` rotating
  camera → world; ``translation`` is the camera centre in world coordinates.
  world → camera: ``X_cam = rotate(conj(q), X_world − t)``.
* Projection with distortion: ``XX = clamp(X/Z, −1, 1)``, ``r² = |XX|²``,
  ``radial = 1 + k1 r² + k2 r⁴ + k3 r⁶``, ``tan = p·XX``,
  ``uv = f · (XX (radial + tan) + p r²) + c``.

Screen normalisation (pixels ↔ model units) is not here: :class:`posegcn.data.codec.PoseCodec`
owns it.  :func:`world_to_camera` is the one world → camera transform of posegcn (all readers and
the synthetic generator use it).
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
    "rotation_matrix",
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


def rotation_matrix(q):
    """Rotation matrices ``[..., 3, 3]`` of unit quaternions ``q [..., 4]`` (w, x, y, z): ``R v = rotate(q, v)``."""
    qt = _as_tensor(q)
    w, x, y, z = qt.unbind(-1)
    rows = (
        (1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)),
        (2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)),
        (2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)),
    )
    return _same_kind(torch.stack([torch.stack(r, dim=-1) for r in rows], dim=-2), q)


def world_to_camera(x, orientation, translation):
    """World → camera coordinates ``rotate(conj(q), X − t)`` on ``[..., 3]`` (q, t broadcast).

    Computed as one matmul ``(X − t) R(q)`` (row vectors, ``R(q)ᵀ = R(conj q)``): per-point
    quaternion rotation of a whole take is ≈10× slower.
    """
    xt = _as_tensor(x)
    q = _as_tensor(orientation, like=xt)
    t = _as_tensor(translation, like=xt)
    r = _as_tensor(rotation_matrix(q))
    return _same_kind(((xt - t).unsqueeze(-2) @ r).squeeze(-2), x)


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
