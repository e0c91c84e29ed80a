"""The pose codec: raw pixels and metres ↔ the space the lifting networks see (conventions.md §2).

One object owns the normalisation so that training, evaluation and prediction on
custom keypoints use exactly the same mapping (mmpose's ``ImagePoseLifting`` codec):

* 2D input: pixels → screen-normalised coordinates, both axes divided by the image
  **width**, ``x_n = x/w·2 − 1``, ``y_n = y/w·2 − h/w`` (``[0, w] ↦ [−1, 1]``, aspect kept).
* lengths: ``σ`` pixels are ``2σ/w`` normalised units (:meth:`PoseCodec.pixels_to_units`), e.g.
  for the pixel-noise robustness evaluation.
* 3D target: camera-frame metres → root-relative metres (joint ``root`` subtracted);
  the root trajectory is returned separately so that absolute poses can be rebuilt.

All methods accept numpy arrays or torch tensors and return the same kind.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

__all__ = ["PoseCodec"]

ArrayLike = np.ndarray | torch.Tensor


def _check_last_dim(x: ArrayLike, dim: int, what: str) -> None:
    if x.ndim < 2 or x.shape[-1] != dim:
        raise ValueError(f"{what}: expected shape [..., J, {dim}], got {tuple(x.shape)}")


def _resolution(x: ArrayLike, res_w, res_h) -> tuple[ArrayLike, ArrayLike]:
    """Width and the ``[1, h/w]`` offset, broadcast over ``x [..., J, 2]``.

    ``res_w``/``res_h`` are scalars or arrays over the leading dimensions ``[...]`` of ``x``
    (one resolution per pose, e.g. for keypoints from several videos).
    """
    if isinstance(x, torch.Tensor):
        w = torch.as_tensor(res_w, dtype=x.dtype, device=x.device)
        h = torch.as_tensor(res_h, dtype=x.dtype, device=x.device)
        w, h = w[..., None, None], h[..., None, None]
        offset = torch.cat([torch.ones_like(h), h / w], dim=-1)
    else:
        w = np.asarray(res_w, dtype=x.dtype)[..., None, None]
        h = np.asarray(res_h, dtype=x.dtype)[..., None, None]
        offset = np.concatenate([np.ones_like(h), h / w], axis=-1)
    if w.ndim > 2 and tuple(w.shape[:-2]) != tuple(x.shape[: w.ndim - 2]):
        raise ValueError(
            f"image resolution of shape {tuple(w.shape[:-2])} does not match the leading dimensions "
            f"{tuple(x.shape[:-2])} of keypoints {tuple(x.shape)}"
        )
    return w, offset


@dataclass(frozen=True)
class PoseCodec:
    """Maps raw 2D keypoints (pixels) and 3D poses (camera metres) to model space and back.

    Args:
        root: index of the root joint subtracted from 3D poses (0 = Hip in the H36M layouts).
    """

    root: int = 0

    # ------------------------------------------------------------------ 2D
    def encode_2d(self, uv_px: ArrayLike, res_w, res_h) -> ArrayLike:
        """Pixels → screen-normalised coordinates.

        Shapes: ``[..., J, 2] → [..., J, 2]``; ``res_w``, ``res_h`` scalars or ``[...]``.
        """
        _check_last_dim(uv_px, 2, "encode_2d keypoints")
        w, offset = _resolution(uv_px, res_w, res_h)
        return uv_px / w * 2 - offset

    def decode_2d(self, uv_n: ArrayLike, res_w, res_h) -> ArrayLike:
        """Screen-normalised coordinates → pixels (inverse of :meth:`encode_2d`).

        Shapes: ``[..., J, 2] → [..., J, 2]``.
        """
        _check_last_dim(uv_n, 2, "decode_2d keypoints")
        w, offset = _resolution(uv_n, res_w, res_h)
        return (uv_n + offset) * w / 2

    def pixels_to_units(self, length_px: ArrayLike | float, res_w: ArrayLike | float) -> ArrayLike | float:
        """A length (or offset) in pixels → normalised units: ``2·length/w`` (both axes scale by the width).

        ``res_w`` is a scalar or one width per sample (broadcast against ``length_px``).
        """
        return 2.0 * length_px / res_w

    def units_to_pixels(self, length: ArrayLike | float, res_w: ArrayLike | float) -> ArrayLike | float:
        """Inverse of :meth:`pixels_to_units`: ``length·w/2`` pixels."""
        return length * res_w / 2.0

    # ------------------------------------------------------------------ 3D
    def encode_3d(self, x_cam: ArrayLike) -> tuple[ArrayLike, ArrayLike]:
        """Camera-frame pose → (root-relative pose, root trajectory).

        Shapes: ``[..., J, 3] → ([..., J, 3], [..., 3])``.
        """
        _check_last_dim(x_cam, 3, "encode_3d pose")
        root = x_cam[..., self.root, :]
        return x_cam - root[..., None, :], root

    def decode_3d(self, rel: ArrayLike, root: ArrayLike) -> ArrayLike:
        """Root-relative pose + root trajectory → camera-frame pose.

        Shapes: ``([..., J, 3], [..., 3]) → [..., J, 3]``.
        """
        _check_last_dim(rel, 3, "decode_3d pose")
        if tuple(root.shape) != tuple(rel.shape[:-2]) + (3,):
            raise ValueError(
                f"decode_3d: root trajectory must have shape {tuple(rel.shape[:-2]) + (3,)} for poses "
                f"{tuple(rel.shape)}, got {tuple(root.shape)}"
            )
        return rel + root[..., None, :]
