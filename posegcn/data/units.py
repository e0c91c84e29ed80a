"""Cheap checks that pose files are in the units the readers assume (conventions.md §1–2).

A file in the wrong unit loads without a word and trains on wrong numbers: a 3D file in
millimetres (the Martinez h5 convention) scales every loss and metric by 1000, 2D keypoints
already normalised to ``[-1, 1]`` squeeze every pose into a few pixels.  Each check looks at a
statistic that is nearly unit-free for people — the median bone length, the extent of a
pose in the image, the ratio of 2D to 3D frame counts, the distance of a camera from the world
origin, its focal length against the image width, the depth of a person in front of a
camera — on at most :data:`MAX_FRAMES` frames of an array, so that it costs little next to
reading the file.

Every failure is a :class:`~posegcn.errors.PoseGCNInputError` naming the file and key, the
expected range and the value found.  The rare legitimate exception (a skeleton of another
size, tiny images) passes with ``check_units=False`` (``--data.check_units false``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from posegcn.errors import PoseGCNInputError

__all__ = [
    "BONE_LENGTH_M",
    "MAX_FRAMES",
    "UNITS_OVERRIDE",
    "check_bone_lengths",
    "check_camera",
    "check_depth",
    "check_frame_ratio",
    "check_pixels",
    "median_bone_length",
]

#: Frames looked at per array (evenly spaced): enough for a median, cheap for 5,000-frame takes.
MAX_FRAMES = 256
#: Plausible median bone length of a person in metres.  Human3.6M's 17-joint skeleton has a median
#: of ≈0.25 m (hips 0.13, shins 0.45); the bounds leave a factor of ~10 either way, so that
#: children and odd skeletons pass while centimetres (×100) and millimetres (×1000) do not.
BONE_LENGTH_M = (0.02, 2.0)
#: A pose spans ≥ 1% of the image width in any real frame; normalised coordinates span about 1 unit.
MIN_EXTENT_FRACTION = 0.01
#: At least this fraction of the keypoints of a camera lies inside its image.
MIN_INSIDE_FRACTION = 0.5
#: 2D detections may have a few frames more than the mocap (VideoPose3D truncates them); more than
#: 20% and half a second more means another frame rate (e.g. 50 vs 25 fps), not a few spare frames.
MAX_FRAME_RATIO = 1.2
MIN_EXTRA_FRAMES = 25
#: Plausible distance of a camera from the world origin and of a person in front of a camera, metres
#: (Human3.6M: cameras ≈5 m from the origin, subjects 3–7 m deep).  A translation given in metres
#: where millimetres are expected lands the camera a few millimetres from the origin.
CAMERA_DISTANCE_M = (0.5, 50.0)
#: Plausible focal length in multiples of the image width (Human3.6M: 1145 px for 1000 px ≈ 1.1).
FOCAL_PER_WIDTH = (0.1, 10.0)
#: How to switch the checks off, quoted in every message.
UNITS_OVERRIDE = "--data.check_units false (Python: check_units=False) if this scale is intended"

_UNIT_NAMES = {1e-3: "millimetres", 1e-2: "centimetres", 1.0: "metres", 1e3: "kilometres"}


def _frames(x: np.ndarray) -> np.ndarray:
    """At most :data:`MAX_FRAMES` evenly spaced frames of ``x [F, ...]``."""
    step = max(1, -(-len(x) // MAX_FRAMES))
    return x[::step]


def median_bone_length(x: np.ndarray, parents: Sequence[int]) -> float:
    """Median ``|x_j − x_parent(j)|`` over the bones and (a subset of) the frames of ``x [F, J, 3]``."""
    child = [j for j, p in enumerate(parents) if p >= 0]
    parent = [parents[j] for j in child]
    x = _frames(x).astype(np.float64)
    return float(np.median(np.linalg.norm(x[:, child] - x[:, parent], axis=-1)))


def _likely_unit(length: float, unit: str, per_metre: float) -> str:
    """The unit in which a median bone of ``length`` is a human ≈0.25 m bone, and the factor to ``unit``."""
    metres_per_value = 0.25 / length if length > 0 else float("inf")
    for scale, name in _UNIT_NAMES.items():
        if 0.3 < metres_per_value / scale < 3:
            return f"{name} (multiply by {scale * per_metre:g} to get {_unit_name(unit)})"
    return "another scale"


def check_bone_lengths(
    x: np.ndarray, parents: Sequence[int], where: str, unit: str = "m", per_metre: float = 1.0
) -> None:
    """Refuse 3D poses ``x [F, J, 3]`` whose median bone length is no person's in ``unit``.

    Args:
        x: poses, ``[F, J, 3]`` in ``unit``.
        parents: parent of every joint (``-1`` for the root).
        where: file and key, for the message.
        unit: the unit the reader assumes, ``"m"`` or ``"mm"``.
        per_metre: values per metre in ``unit`` (1 for metres, 1000 for millimetres).
    """
    if len(x) == 0:
        return
    length = median_bone_length(x, parents)
    lo, hi = (b * per_metre for b in BONE_LENGTH_M)
    if lo <= length <= hi:
        return
    raise PoseGCNInputError(
        f"{where}: the 3D poses must be in {_unit_name(unit)}, but their median bone length is {length:.4g} {unit} "
        f"(a person's is {lo:g}–{hi:g} {unit}; Human3.6M ≈{0.25 * per_metre:g} {unit}): they look like "
        f"{_likely_unit(length, unit, per_metre)}. Convert the file, or pass {UNITS_OVERRIDE}"
    )


def _unit_name(unit: str) -> str:
    return {"m": "metres", "mm": "millimetres"}.get(unit, unit)


def check_pixels(uv: np.ndarray, width: float, height: float, where: str) -> None:
    """Refuse 2D keypoints ``uv [F, J, 2]`` that are not pixels of a ``width × height`` image.

    Normalised coordinates (a pose spanning about one unit) and keypoints mostly outside the
    image (another resolution, another camera) both fail; detections straying a little outside
    the frame pass.
    """
    if len(uv) == 0:
        return
    uv = _frames(uv)
    extent = float(np.median(np.ptp(uv, axis=1).max(axis=-1)))  # per frame: the larger of x/y spans
    value_range = f"values in [{float(uv.min()):.4g}, {float(uv.max()):.4g}]"
    if extent < MIN_EXTENT_FRACTION * width:
        raise PoseGCNInputError(
            f"{where}: the 2D keypoints must be pixels of the {width:g}x{height:g} image, but a pose spans "
            f"only {extent:.3g} px (median; at least {MIN_EXTENT_FRACTION * width:g} px expected) with "
            f"{value_range}: they look normalised, not pixels. Store pixel coordinates, or pass {UNITS_OVERRIDE}"
        )
    inside = ((uv >= 0) & (uv <= np.array([width, height], dtype=np.float64))).all(axis=-1).mean()
    if inside < MIN_INSIDE_FRACTION:
        raise PoseGCNInputError(
            f"{where}: the 2D keypoints must be pixels of the {width:g}x{height:g} image, but only "
            f"{100 * inside:.0f}% of them lie inside it ({value_range}, at least "
            f"{100 * MIN_INSIDE_FRACTION:.0f}% expected): another image size or coordinate frame? "
            f"Store pixels of this camera's image, or pass {UNITS_OVERRIDE}"
        )


def check_frame_ratio(frames_2d: int, frames_3d: int, fps: float, where: str) -> None:
    """Refuse 2D keypoints with far more frames than the 3D poses (another frame rate).

    A few extra 2D frames are normal and truncated; twice as many would pair each 3D pose
    with the keypoints of another moment.
    """
    if frames_2d > MAX_FRAME_RATIO * frames_3d and frames_2d - frames_3d > MIN_EXTRA_FRAMES:
        raise PoseGCNInputError(
            f"{where}: the 2D keypoints have {frames_2d} frames, {frames_2d / frames_3d:.2f}x the {frames_3d} "
            f"frames of the 3D poses (at most {MAX_FRAME_RATIO:g}x or {MIN_EXTRA_FRAMES} frames more expected; "
            f"both at {fps:g} fps): another frame rate? Resample one of them, or pass {UNITS_OVERRIDE}"
        )


def check_camera(translation_m: Sequence[float], focal_px: Sequence[float], width: float, where: str) -> None:
    """Refuse a calibration whose camera centre or focal length is in another unit.

    ``translation_m`` is the camera centre after the reader's millimetre → metre conversion.
    """
    distance = float(np.linalg.norm(translation_m))
    lo, hi = CAMERA_DISTANCE_M
    if not lo <= distance <= hi:
        raise PoseGCNInputError(
            f"{where}: the camera centre is {distance:.4g} m from the world origin ({lo:g}–{hi:g} m expected; "
            f"Human3.6M ≈5 m): 'translation' must be in millimetres. Fix the calibration, or pass {UNITS_OVERRIDE}"
        )
    focal = float(np.mean(focal_px))
    lo, hi = (f * width for f in FOCAL_PER_WIDTH)
    if not lo <= focal <= hi:
        raise PoseGCNInputError(
            f"{where}: focal length {focal:.4g} for a {width:g} px wide image ({lo:g}–{hi:g} px expected; "
            f"Human3.6M ≈1145 px): 'focal_length' must be in pixels. Fix the calibration, or pass {UNITS_OVERRIDE}"
        )


def check_depth(root_cam: np.ndarray, where: str) -> None:
    """Refuse a take whose root joint ``root_cam [F, 3]`` (camera frame, metres) is not in front of the camera.

    The 3D poses and the extrinsics then disagree: another world frame, an inverted rotation
    (world→camera given for camera→world) or another unit.
    """
    if len(root_cam) == 0:
        return
    depth = float(np.median(_frames(root_cam)[:, 2]))
    lo, hi = CAMERA_DISTANCE_M
    if not lo <= depth <= hi:
        raise PoseGCNInputError(
            f"{where}: the root joint lies {depth:.4g} m along the camera's viewing axis (median; {lo:g}–{hi:g} m "
            f"in front of it expected): the 3D poses and the camera calibration disagree (world frame, rotation "
            f"direction or units). Check both, or pass {UNITS_OVERRIDE}"
        )
