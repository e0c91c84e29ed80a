"""HumanEva-I in the VideoPose3D file format → :class:`~posegcn.data.arrays.PoseFiles`.

Files (VideoPose3D ``DATASETS.md`` § HumanEva-I; made by its ``data/ConvertHumanEva.m`` and
``data/prepare_data_humaneva.py`` from the original dataset, see ``README.md`` § Data):

* ``data_3d_humaneva15.npz``, key ``positions_3d``: ``{subject: {take: float32 [F, 15, 3]}}``,
  **world** coordinates in **metres** (the mocap in mm divided by 1000), 60 fps.  Subjects
  ``Train/S1…S3`` and ``Validate/S1…S3`` (the two halves of each trial-1 sequence; the
  community tests on ``Validate``).  Takes are ``"<Action> 1 chunk<k>"``: a sequence is cut
  where the mocap is corrupt, e.g. ``"Walking 1 chunk0"``, ``"Jog 1 chunk2"``; actions
  ``Walking``, ``Jog``, ``ThrowCatch``, ``Gestures``, ``Box`` (no ``ThrowCatch`` for S3).
* ``data_2d_humaneva15_<source>.npz``, key ``positions_2d``: ``{subject: {take: [C1, C2, C3]}}``,
  each float32 ``[F', 15, 2]`` **pixels** of the 640×480 colour cameras, ``F' ≥ F``; key
  ``metadata``: ``layout_name "humaneva15"``, ``num_joints 15``, ``keypoints_symmetry``.
  ``gt`` is the projection of the mocap with the dataset's calibration.  Detection files may
  hold extra ``Unlabeled/…`` subjects (ignored).

Joint order: :data:`~posegcn.skeleton.HUMANEVA_15` (0 Pelvis, 1 Thorax, 2–4 left arm, 5–7 right
arm, 8–10 left leg, 11–13 right leg, 14 Head).  The graph networks need the same joints in 2D
and 3D, so 2D files in another layout (VideoPose3D's ``detectron_pt_coco`` holds COCO-17
keypoints) are refused with an explanation.

Coordinates: the 3D poses are moved into each camera's frame with the extrinsics VideoPose3D
ships in ``common/humaneva_dataset.py`` (:data:`HUMANEVA_EXTRINSICS`: quaternion camera→world,
camera centre in mm; its S3 entry repeats S1's), then made root-relative (Pelvis) by the
:class:`~posegcn.data.codec.PoseCodec`.  The 2D keypoints are already in pixels, so no
intrinsics are needed; they are screen-normalised with the 640×480 resolution.  As for Human3.6M,
bone lengths (metres), pixel ranges (640×480) and 2D/3D frame counts (60 fps) are checked while
reading (:mod:`posegcn.data.units`; ``--data.check_units false`` skips the checks).

Evaluation protocol of the papers (VideoPose3D Table 4, DG-Net Table III): train on
``Train/S1…S3``, test on ``Validate/S1…S3``, actions Walking and Jog (``Box`` optional), and
report Protocol #2 (P-MPJPE) per action *and* subject.  The metric groups are therefore
``"<action>/<subject>"`` (``"Walking/S1"``, …, ``"Jog/S3"``) and the action-wise average is the
mean over these six cells.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from posegcn.camera import world_to_camera
from posegcn.data.arrays import (
    PoseArrays,
    PoseFiles,
    View,
    camera_arrays,
    first_bad_frame,
    read_videopose3d_pair,
)
from posegcn.data.units import check_bone_lengths, check_frame_ratio, check_pixels
from posegcn.errors import InputKeyError, PoseGCNInputError
from posegcn.skeleton import HUMANEVA_15

__all__ = [
    "HUMANEVA_DATA_3D_FILE",
    "HUMANEVA_EXTRINSICS",
    "HUMANEVA_RESOLUTION",
    "HumanEvaFiles",
    "humaneva_data_2d_file",
    "humaneva_group",
    "load_humaneva",
]

HUMANEVA_DATA_3D_FILE = "data_3d_humaneva15.npz"
#: Image size ``(w, h)`` of the three colour cameras C1–C3.
HUMANEVA_RESOLUTION = (640, 480)
HUMANEVA_FPS = 60
_NUM_JOINTS = HUMANEVA_15.num_joints
_DOCS = "see README.md § Data (HumanEva-I)"

#: Extrinsics of cameras C1, C2, C3 per subject, as in VideoPose3D ``common/humaneva_dataset.py``:
#: ``(orientation (w, x, y, z) camera→world, camera centre in world mm)``.
# fmt: off
HUMANEVA_EXTRINSICS: dict[str, tuple[tuple[tuple[float, ...], tuple[float, ...]], ...]] = {
    "S1": (
        ((0.424207, -0.4983646, -0.5802981, 0.4847012), (4062.227, 663.2477, 1528.397)),
        ((0.6503354, -0.7481602, -0.0919284, 0.0941766), (844.8131, -3805.2092, 1504.9929)),
        ((0.0664734, -0.0690535, 0.7416416, -0.6639132), (-797.67377, 3916.3174, 1433.6602)),
    ),
    "S2": (
        ((0.4214752, -0.4961493, -0.5838273, 0.4851187), (4112.9121, 626.4929, 1545.2988)),
        ((0.6501393, -0.7476588, -0.0954617, 0.0959808), (923.5740, -3877.9243, 1504.5518)),
        ((0.0699353, -0.0712403, 0.7421637, -0.662742), (-781.4915, 3838.8853, 1444.9929)),
    ),
    "S3": (
        ((0.424207, -0.4983646, -0.5802981, 0.4847012), (4062.2271, 663.2477, 1528.3970)),
        ((0.6503354, -0.7481602, -0.0919284, 0.0941766), (844.8131, -3805.2092, 1504.9929)),
        ((0.0664734, -0.0690535, 0.7416416, -0.6639132), (-797.6738, 3916.3174, 1433.6602)),
    ),
}
# fmt: on

_SYMMETRY_15 = (frozenset(HUMANEVA_15.joints_left), frozenset(HUMANEVA_15.joints_right))


def humaneva_data_2d_file(source: str) -> str:
    """File name of a 2D source: ``data_2d_humaneva15_<source>.npz``."""
    return f"data_2d_humaneva15_{source}.npz"


def subject_id(subject: str) -> str:
    """The person of a split-qualified subject: ``"Validate/S2"`` → ``"S2"``."""
    return subject.split("/")[-1]


def humaneva_group(subject: str, take: str) -> str:
    """Metric group of a take: ``("Validate/S1", "Walking 1 chunk0")`` → ``"Walking/S1"``."""
    return f"{take.split(' ')[0]}/{subject_id(subject)}"


def _take_matches(take: str, wanted: Sequence[str]) -> bool:
    # VideoPose3D's action filter: a take is kept when its name starts with an entry
    # ("Walk" and "Walking" both select "Walking 1 chunk0").
    return any(take.startswith(a) for a in wanted)


def _extrinsics(subject: str) -> tuple[tuple[tuple[float, ...], np.ndarray], ...]:
    """``(q, t)`` per camera of a split-qualified subject, t in metres (for :func:`~posegcn.camera.world_to_camera`)."""
    person = subject_id(subject)
    if person not in HUMANEVA_EXTRINSICS:
        raise InputKeyError(
            f"subject {subject!r} has no camera calibration (calibrated: {sorted(HUMANEVA_EXTRINSICS)}); "
            f"HumanEva-I evaluation uses S1–S3"
        )
    return tuple((q, np.asarray(t, dtype=np.float64) / 1000.0) for q, t in HUMANEVA_EXTRINSICS[person])


@dataclass
class HumanEvaFiles(PoseFiles):
    """The contents of ``data_3d_humaneva15.npz`` and one 2D file; :meth:`select` builds :class:`PoseArrays`.

    Metric groups are ``"<action>/<subject>"`` (:func:`humaneva_group`)."""

    skeleton = HUMANEVA_15

    path_3d: Path
    path_2d: Path
    positions_3d: dict
    positions_2d: dict
    check_units: bool = True  # bone lengths, pixel ranges, frame counts (posegcn.data.units)

    @classmethod
    def read(cls, root: str | Path, source: str = "gt", check_units: bool = True) -> HumanEvaFiles:
        path_3d, path_2d, positions_3d, positions_2d, metadata = read_videopose3d_pair(
            "HumanEva-I", Path(root), HUMANEVA_DATA_3D_FILE, humaneva_data_2d_file(source), _DOCS
        )
        _check_layout(path_2d, metadata)
        return cls(path_3d, path_2d, positions_3d, positions_2d, check_units)

    def subjects(self) -> list[str]:
        return list(self.positions_3d)

    def takes(self, subjects: Sequence[str], actions: Sequence[str] | None = None) -> dict[str, list[str]]:
        """Takes to load per subject: all, or those whose name starts with an entry of ``actions``."""
        subjects = list(subjects)
        if not subjects:
            raise PoseGCNInputError("empty subject list: give at least one subject, e.g. ['Validate/S1']")
        for s in subjects:
            if s not in self.positions_3d:
                raise InputKeyError(f"unknown subject {s!r}: {self.path_3d} has subjects {self.subjects()}")
            if s not in self.positions_2d:
                raise InputKeyError(
                    f"unknown subject {s!r}: {self.path_2d} has subjects {sorted(self.positions_2d)}"
                )
        takes = {
            s: [a for a in sorted(self.positions_3d[s]) if actions is None or _take_matches(a, actions)]
            for s in subjects
        }
        if actions is not None:
            loaded = [a for names in takes.values() for a in names]
            unknown = [a for a in actions if not _take_matches_any(a, loaded)]
            if unknown:
                all_takes = sorted({a for s in subjects for a in self.positions_3d[s]})
                raise InputKeyError(
                    f"unknown action(s) {unknown} for subjects {subjects} in {self.path_3d}: available takes "
                    f"{all_takes} (an action selects the takes whose name starts with it, e.g. 'Walking')"
                )
        return takes

    def group(self, subject: str, take: str) -> str:
        return humaneva_group(subject, take)

    def views(self, subject: str, take: str) -> list[View]:
        extrinsics = _extrinsics(subject)
        x_world = self._pose_3d_world(subject, take).astype(np.float64)
        keypoints = self._keypoints(subject, take, len(extrinsics))
        out = []
        for c, (q, t) in enumerate(extrinsics):
            uv = self._keypoints_2d(subject, take, c, keypoints[c], len(x_world))
            x_cam = world_to_camera(x_world, q, t).astype(np.float32)
            out.append(View(c, uv, x_cam, HUMANEVA_RESOLUTION, take))
        return out

    # ------------------------------------------------------------------ per take
    def _pose_3d_world(self, subject: str, take: str) -> np.ndarray:
        x = self.positions_3d[subject][take]
        key = f"positions_3d[{subject!r}][{take!r}]"
        if not isinstance(x, np.ndarray) or x.ndim != 3 or x.shape[1:] != (_NUM_JOINTS, 3):
            shape = tuple(x.shape) if isinstance(x, np.ndarray) else type(x).__name__
            raise PoseGCNInputError(
                f"{self.path_3d}: {key} must be an array of shape [F, 15, 3] (world metres, HumanEva-I 15 joints), "
                f"got {shape}"
            )
        bad = first_bad_frame(x)
        if bad is not None:
            raise PoseGCNInputError(f"{self.path_3d}: {key} has NaN/inf values, first at frame {bad}")
        if self.check_units:
            check_bone_lengths(x, HUMANEVA_15.parents, f"{self.path_3d}: {key}")
        return x

    def _keypoints(self, subject: str, take: str, num_cameras: int) -> Sequence[np.ndarray]:
        return camera_arrays(self, subject, take, num_cameras, "take", " (C1, C2, C3)")

    def _keypoints_2d(
        self, subject: str, take: str, camera: int, uv: np.ndarray, length_3d: int
    ) -> np.ndarray:
        """Pixel keypoints ``[F, 15, 2]`` of one camera, validated and truncated to the 3D length."""
        key = f"positions_2d[{subject!r}][{take!r}][{camera}]"
        if not isinstance(uv, np.ndarray) or uv.ndim != 3 or uv.shape[1:] != (_NUM_JOINTS, 2):
            shape = tuple(uv.shape) if isinstance(uv, np.ndarray) else type(uv).__name__
            raise PoseGCNInputError(
                f"{self.path_2d}: {key} must be an array of shape [F, 15, 2] (pixels, HumanEva-I 15 joints), "
                f"got {shape}"
            )
        if uv.shape[0] < length_3d:
            raise PoseGCNInputError(
                f"{self.path_2d}: {key} has {uv.shape[0]} frames, fewer than the {length_3d} frames of the 3D "
                f"poses in {self.path_3d}"
            )
        if self.check_units:
            check_frame_ratio(
                uv.shape[0], length_3d, HUMANEVA_FPS, f"{self.path_2d}: {key} (3D: {self.path_3d})"
            )
        uv = uv[:length_3d]
        bad = first_bad_frame(uv)
        if bad is not None:
            raise PoseGCNInputError(f"{self.path_2d}: {key} has NaN/inf 2D keypoints, first at frame {bad}")
        if self.check_units:
            check_pixels(uv, *HUMANEVA_RESOLUTION, f"{self.path_2d}: {key}")
        return uv


def _take_matches_any(action: str, takes: Sequence[str]) -> bool:
    return any(t.startswith(action) for t in takes)


def _check_layout(path: Path, metadata: dict) -> None:
    """Refuse 2D files whose metadata says they are not in the 15-joint HumanEva order."""
    num_joints = metadata.get("num_joints")
    layout = metadata.get("layout_name")
    symmetry = metadata.get("keypoints_symmetry")
    sym = None
    if symmetry is not None:
        sym = (frozenset(int(j) for j in symmetry[0]), frozenset(int(j) for j in symmetry[1]))
    if (num_joints is not None and num_joints != _NUM_JOINTS) or (
        layout is not None and layout != "humaneva15"
    ):
        raise PoseGCNInputError(
            f"{path}: 2D keypoints in layout {layout!r} with {num_joints} joints; the HumanEva-I loader needs the "
            f"15-joint 'humaneva15' order of the 3D poses (graph networks use the same joints in 2D and 3D). "
            f"COCO-17 detections such as VideoPose3D's detectron_pt_coco must first be converted to that order; {_DOCS}"
        )
    if sym is not None and sym != _SYMMETRY_15:
        raise PoseGCNInputError(
            f"{path}: metadata keypoints_symmetry left={sorted(sym[0])} right={sorted(sym[1])} does not match the "
            f"humaneva15 order (left={sorted(_SYMMETRY_15[0])} right={sorted(_SYMMETRY_15[1])}); {_DOCS}"
        )


def load_humaneva(
    root: str | Path,
    source: str = "gt",
    subjects: Sequence[str] = ("Validate/S1", "Validate/S2", "Validate/S3"),
    actions: Sequence[str] | None = ("Walking", "Jog"),
    downsample: int = 1,
    check_units: bool = True,
) -> PoseArrays:
    """Read the HumanEva-I files in ``root`` and build the samples (see :meth:`HumanEvaFiles.select`)."""
    return HumanEvaFiles.read(root, source, check_units).select(
        list(subjects), None if actions is None else list(actions), downsample
    )
