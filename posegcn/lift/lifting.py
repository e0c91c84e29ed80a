"""3D poses from your own 2D keypoints: ``posegcn lift``.

``posegcn lift --ckpt CKPT --input KEYPOINTS --output poses_3d.npz [--width W --height H]
[--format F] [--track-id N] [--video NAME] [--min-confidence C] [--plot DIR] [--gif]``

**Input** — what 2D detectors write, read by :mod:`posegcn.lift.formats` (format
auto-detected, ``--format`` forces it; the formats, the person-selection rule and the
mapping table of each layout to Human3.6M are in its docstring):

* ``coco``: COCO keypoint results ``.json`` (top-down detectors, mmpose); frames = image ids;
* ``openpose``: a folder of OpenPose ``*_keypoints.json`` (BODY_25 or COCO-18);
* ``videopose3d``: VideoPose3D's ``data_2d_custom_<name>.npz`` (``--video`` picks a video);
* ``posegcn``: a ``.npz``/``.json`` object with ``keypoints`` ``[frames, joints, 2]`` pixels
  (``[frames, joints, 3]`` with a confidence column), ``width``, ``height`` and optionally
  ``layout`` — ``"h36m17"`` (the default for 17 joints), ``"h36m16"`` (no Neck/Nose; the
  default for 16 joints), ``"coco17"``, ``"openpose25"`` or ``"openpose18"``.  JSON example::

    {"keypoints": [[[512.0, 300.0], ...17 joints...], ...frames...],
     "width": 1000, "height": 1002, "layout": "coco17"}

``--width``, ``--height`` (required for COCO results and OpenPose, which carry no image
size) and ``--layout`` override the file.  One person per frame: the highest mean keypoint
score, or ``--track-id N``.  Joints that are NaN or below ``--min-confidence`` (default 0.1)
are filled by linear interpolation over time between the nearest frames where that joint is
valid (edges held); a joint the model needs that is never valid is an error
(:class:`~posegcn.lift.formats.MissingJointError`), as is a file with no person
(:class:`~posegcn.lift.formats.NoPersonError`).  The valid keypoints must fit the image.

**Output** — a ``.npz`` with ``poses_3d [frames, J, 3]`` float32 in **millimetres**,
**camera frame** (x right, y down, z forward), **root-relative** (joint 0, Hip, at the
origin), plus ``joint_names``, ``parents``, ``layout``, ``units``, ``coordinate_frame``,
``root_relative``, ``root_joint``, the filled 2D input in the model's layout
(``keypoints_2d`` pixels), ``filled_mask [frames, J]`` (model joints that use an
interpolated detection) and ``num_filled``, ``input_filled_mask [frames, J_in]`` and
``num_filled_input`` (in the detector's layout), ``frame_ids``, ``min_confidence``,
``width``, ``height``, ``input_format``, ``input_layout``, ``input_source``, ``checkpoint``
and ``model_class``.  ``--plot DIR`` writes PNG figures of a few frames (and with ``--gif``
an animated GIF of the sequence; no ffmpeg needed).

Predictions on Human3.6M-format data (``posegcn predict``) are written by
:class:`~posegcn.callbacks.PredictionWriter`.  :func:`load_module` loads any checkpoint the
``posegcn`` command wrote (also for the affinity notebook, :mod:`posegcn.analysis`).
"""

from __future__ import annotations

import argparse
import importlib
import os
from collections.abc import Sequence
from typing import Any

import lightning.pytorch as pl
import numpy as np
import torch

from posegcn.data.batches import window_indices
from posegcn.data.codec import PoseCodec
from posegcn.errors import InputFileNotFoundError, InputKeyError, PoseGCNInputError
from posegcn.lift.formats import (
    DEFAULT_MIN_CONFIDENCE,
    FORMATS,
    LAYOUTS,
    Keypoints,
    fill_missing,
    layout_matrix,
    read_keypoint_file,
    to_model_layout,
    valid_mask,
)
from posegcn.models import inference_form
from posegcn.skeleton import Skeleton

__all__ = ["read_keypoints", "load_module", "temporal_windows", "lift_keypoints", "write_poses", "main"]


def _check_keypoints_fit_image(path: str, xy: np.ndarray, width: float, height: float) -> None:
    """A wrong image size silently rescales every pose; catch the sizes the keypoints cannot come from.

    Detections may stray a little outside the frame (truncated limbs), so the test is loose:
    most keypoints must lie inside the image, and none further than half an image outside.
    ``xy [..., 2]`` holds the valid keypoints only.
    """
    if xy.size == 0:  # nothing valid: fill_missing names that problem
        return
    inside = (xy[..., 0] >= 0) & (xy[..., 0] <= width) & (xy[..., 1] >= 0) & (xy[..., 1] <= height)
    far = (
        (xy[..., 0] < -0.5 * width) | (xy[..., 0] > 1.5 * width)
        | (xy[..., 1] < -0.5 * height) | (xy[..., 1] > 1.5 * height)
    )  # fmt: skip
    if inside.mean() < 0.5 or far.any():
        raise PoseGCNInputError(
            f"{path}: the keypoints do not fit a {width:g}x{height:g} image (x spans "
            f"[{xy[..., 0].min():.0f}, {xy[..., 0].max():.0f}], y spans [{xy[..., 1].min():.0f}, "
            f"{xy[..., 1].max():.0f}] px, {100 * inside.mean():.0f}% inside); give the size of the image the "
            f"keypoints were detected in (pixels, not normalised coordinates)"
        )


def read_keypoints(
    path: str,
    width: float | None = None,
    height: float | None = None,
    layout: str | None = None,
    format: str | None = None,
    track_id: int | None = None,
    video: str | None = None,
    min_confidence: float = DEFAULT_MIN_CONFIDENCE,
) -> Keypoints:
    """Read keypoints of any supported format (:func:`~posegcn.lift.formats.read_keypoint_file`).

    Arguments override the file.  Missing joints stay NaN / zero-confidence (``posegcn lift``
    fills them); the valid ones (``min_confidence``) must fit the image size.
    """
    kp = read_keypoint_file(path, format, width, height, layout, track_id, video)
    _check_keypoints_fit_image(path, kp.xy[valid_mask(kp, min_confidence)], kp.width, kp.height)
    return kp


def load_module(checkpoint: str, map_location: str | torch.device = "cpu") -> pl.LightningModule:
    """Load any posegcn LightningModule from a checkpoint, whichever class wrote it.

    The class comes from the checkpoint's hyper-parameters (``_class_path``, recorded by the
    ``posegcn`` command); it must be importable (posegcn's own modules always are).
    """
    if not os.path.isfile(checkpoint):
        raise InputFileNotFoundError(f"checkpoint not found: {checkpoint}")
    # Reading hparams only: weights_only=True suffices for posegcn checkpoints (plain types).
    ckpt = torch.load(checkpoint, map_location="cpu", weights_only=True)
    hparams = ckpt.get("hyper_parameters") or {}
    class_path = hparams.get("_class_path")
    if class_path is None:
        raise InputKeyError(
            f"{checkpoint}: no '_class_path' in its hyper_parameters; it was not written by the posegcn command. "
            "Load it with <ModuleClass>.load_from_checkpoint(...) instead"
        )
    module_name, _, class_name = class_path.rpartition(".")
    cls = getattr(importlib.import_module(module_name), class_name)
    model = cls.load_from_checkpoint(checkpoint, map_location=map_location)
    model.eval()
    return model


def temporal_windows(num_frames_total: int, window: int) -> torch.Tensor:
    """Frame indices of the window centred (at ``(T − 1) // 2``) on every frame, edge-padded.

    Shapes: ``→ [F, T]``; frames before the start / after the end repeat the first / last frame:
    the data modules' window rule (:func:`posegcn.data.batches.window_indices`) on one sequence.
    """
    frames = torch.arange(num_frames_total)
    return window_indices(
        frames, torch.zeros_like(frames), torch.full_like(frames, num_frames_total - 1), window
    )


@torch.no_grad()
def lift_keypoints(
    model: pl.LightningModule, keypoints_px: np.ndarray, width: float, height: float, batch_size: int = 1024
) -> np.ndarray:
    """Lift ``[F, J, 2]`` pixel keypoints (the model's joint order) to ``[F, J, 3]`` root-relative metres.

    The pixels are normalised with :class:`~posegcn.data.codec.PoseCodec` exactly as in
    training; temporal models get one edge-padded window per frame and predict its centre.
    """
    codec = PoseCodec()
    x = torch.as_tensor(codec.encode_2d(np.asarray(keypoints_px, dtype=np.float32), width, height))
    device = model.device
    num_frames = int(getattr(model, "num_frames", 1))
    windows = temporal_windows(x.shape[0], num_frames) if num_frames > 1 else None
    out = []
    for start in range(0, x.shape[0], batch_size):
        if windows is None:
            batch = x[start : start + batch_size]
        else:
            batch = x[windows[start : start + batch_size]]  # [B, T, J, 2]
        pose = model.evaluation_pose(batch.to(device)) if hasattr(model, "evaluation_pose") else model(batch)
        out.append(pose.float().cpu())
    pred = torch.cat(out)
    return (pred - pred[:, :1]).numpy()  # exactly root-relative


def write_poses(path: str, poses_3d_m: np.ndarray, skeleton: Skeleton, **metadata: Any) -> str:
    """Write ``poses_3d`` (input in metres) as millimetres with self-describing metadata."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    np.savez(
        path,
        poses_3d=(poses_3d_m * 1000.0).astype(np.float32),
        joint_names=np.array(skeleton.names),
        parents=np.array(skeleton.parents, dtype=np.int64),
        layout=np.array(skeleton.name),
        units=np.array("millimetres"),
        coordinate_frame=np.array("camera (x right, y down, z forward)"),
        root_relative=np.array(True),
        root_joint=np.array(skeleton.names[skeleton.root]),
        **{k: np.asarray(v) for k, v in metadata.items()},
    )
    return path


def _plot(
    out_dir: str, kp_px: np.ndarray, poses_mm: np.ndarray, skeleton: Skeleton, gif: bool, fps: int
) -> list[str]:
    import matplotlib.pyplot as plt

    from posegcn.analysis.figures import pose_figure, save_pose_gif

    os.makedirs(out_dir, exist_ok=True)
    frames = sorted(
        set(np.linspace(0, len(poses_mm) - 1, min(3, len(poses_mm))).round().astype(int).tolist())
    )
    fig = pose_figure(kp_px[frames], poses_mm[frames], skeleton, titles=[f"frame {f}" for f in frames])
    paths = [os.path.join(out_dir, "poses.png")]
    fig.savefig(paths[0], dpi=80)
    plt.close(fig)
    if gif:
        paths.append(
            save_pose_gif(os.path.join(out_dir, "poses.gif"), poses_mm, skeleton, pose_2d=kp_px, fps=fps)
        )
    return paths


def _note_frame_gaps(frame_ids: np.ndarray) -> None:
    """Say so when integer frame ids skip numbers: those frames are absent, not interpolated."""
    if len(frame_ids) < 2 or not np.issubdtype(np.asarray(frame_ids).dtype, np.integer):
        return
    gaps = np.flatnonzero(np.diff(frame_ids) > 1)
    if gaps.size:
        print(
            f"note: the frame ids skip numbers {gaps.size} time(s) (first after {frame_ids[gaps[0]]}): "
            "frames with no file entry (e.g. images without detections in COCO results) are not in the sequence"
        )


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="posegcn lift",
        description="Lift 2D keypoints from a file to 3D poses with a trained posegcn checkpoint "
        "(see posegcn/lift/formats.py for the file formats and the mapping to Human3.6M).",
    )
    p.add_argument(
        "--ckpt", required=True, help="checkpoint written by `posegcn fit` (best.ckpt / last.ckpt)"
    )
    p.add_argument(
        "--input",
        required=True,
        help="keypoints: posegcn .npz/.json, COCO results .json, an OpenPose *_keypoints.json folder "
        "or a VideoPose3D data_2d_custom_<name>.npz",
    )
    p.add_argument(
        "--format",
        choices=FORMATS,
        default=None,
        help="the input's format (default: detected from the input)",
    )
    p.add_argument(
        "--output",
        required=True,
        help="output .npz (poses_3d [frames, J, 3] mm, camera frame, root-relative)",
    )
    p.add_argument("--width", type=float, default=None, help="image width in pixels (overrides the file)")
    p.add_argument("--height", type=float, default=None, help="image height in pixels (overrides the file)")
    p.add_argument(
        "--layout",
        choices=sorted(LAYOUTS),
        default=None,
        help="keypoint layout of a posegcn-format file (overrides the file)",
    )
    p.add_argument(
        "--track-id",
        "--person",
        dest="track_id",
        type=int,
        default=None,
        metavar="N",
        help="lift the person with this id (COCO track_id, OpenPose person_id) instead of the person "
        "with the highest mean keypoint score in each frame",
    )
    p.add_argument(
        "--video", default=None, metavar="NAME", help="the video of a VideoPose3D file with several"
    )
    p.add_argument(
        "--min-confidence",
        type=float,
        default=DEFAULT_MIN_CONFIDENCE,
        help="joints with a lower confidence (or NaN) are filled by temporal interpolation "
        f"(default {DEFAULT_MIN_CONFIDENCE})",
    )
    p.add_argument("--plot", default=None, metavar="DIR", help="write PNG figures of a few frames into DIR")
    p.add_argument("--gif", action="store_true", help="with --plot: also an animated GIF of the sequence")
    p.add_argument("--fps", type=int, default=10, help="GIF frame rate")
    p.add_argument("--batch-size", type=int, default=1024)
    p.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda")
    return p


def main(args: Sequence[str] | None = None) -> str:
    """``posegcn lift``: returns the path of the written ``.npz``."""
    a = _parser().parse_args(args)
    kp = read_keypoints(
        a.input, a.width, a.height, a.layout, a.format, a.track_id, a.video, a.min_confidence
    )  # fmt: skip
    model = load_module(a.ckpt, map_location=a.device)
    # A video is lifted with the network's inference form (BatchNorm folded into the weights,
    # affinities precomputed: the same poses, 3–5x less time per frame at batch 1).
    model.net = inference_form(model.net)
    skeleton = model.skeleton
    used = layout_matrix(kp.layout, skeleton).any(axis=0)  # detector joints the model reads
    xy_in, filled_in = fill_missing(kp, a.min_confidence, used)
    xy = to_model_layout(xy_in, kp.layout, skeleton)
    # a model joint is filled when any detector joint averaged into it was
    filled = to_model_layout(filled_in[..., None].astype(np.float32), kp.layout, skeleton)[..., 0] > 0
    print(
        f"read {len(xy)} frames from {kp.source}; filled {int(filled_in.sum())} of {filled_in[:, used].size} "
        f"detector joint positions (NaN or confidence < {a.min_confidence:g}) by temporal interpolation, "
        f"{int(filled.sum())} of {filled.size} model joint positions use them"
    )
    _note_frame_gaps(kp.frame_ids)
    poses = lift_keypoints(model, xy, kp.width, kp.height, a.batch_size)
    write_poses(
        a.output, poses, skeleton, keypoints_2d=xy.astype(np.float32), width=kp.width, height=kp.height,
        input_layout=kp.layout, checkpoint=os.path.abspath(a.ckpt), model_class=type(model).__qualname__,
        filled_mask=filled, num_filled=int(filled.sum()), input_filled_mask=filled_in,
        num_filled_input=int(filled_in.sum()), min_confidence=float(a.min_confidence),
        frame_ids=kp.frame_ids, input_format=kp.format, input_source=kp.source,
    )  # fmt: skip
    print(
        f"wrote {len(poses)} 3D poses ({skeleton.name}, millimetres, camera frame, root-relative) to {a.output}"
    )
    if a.plot:
        for path in _plot(a.plot, xy, poses * 1000.0, skeleton, a.gif, a.fps):
            print(f"wrote {path}")
    return a.output
