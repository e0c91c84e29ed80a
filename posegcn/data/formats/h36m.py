"""Human3.6M in the VideoPose3D file format (conventions.md §1–3) → :class:`~posegcn.data.arrays.PoseFiles`.

Files (see ``README.md`` § Data):

* ``data_3d_h36m.npz``, key ``positions_3d``: ``{subject: {action: float32 [F, 32, 3]}}``,
  world coordinates in metres, 50 fps.
* ``data_2d_h36m_<source>.npz``, key ``positions_2d``: ``{subject: {action: [cam0..cam3]}}``,
  each ``[F', J, 2]`` pixels; key ``metadata`` (``num_joints``, ``keypoints_symmetry``,
  optional ``layout_name``).

Units are checked cheaply while reading (:mod:`posegcn.data.units`): the median bone length of
every take (a millimetre file fails), the extent and position of the 2D keypoints in each
camera's image (normalised coordinates fail), the 2D/3D frame counts (another frame rate
fails), the calibration and the depth of the subject; ``check_units=False``
(``--data.check_units false``) skips these checks.

For every (subject, action, camera) — one *view* — the 3D pose is moved into the camera frame
(:func:`posegcn.camera.world_to_camera`) and reduced 32 → 17 (→ 16) joints; the 2D keypoints are
truncated to the 3D length and reduced 17 → 16 if needed.  :meth:`PoseFiles.select` then encodes
and concatenates the views.

2D joint orders: 17 joints are the H36M order; 16 joints are the H36M order without
Neck/Nose, unless ``metadata["layout_name"] == "mpii"`` or the ``keypoints_symmetry``
is that of the MPII order (VideoPose3D's ``prepare_data_2d_h36m_sh.py`` keeps the Stacked
Hourglass output in MPII order; SemGCN's version permutes it): those are permuted with
``SH_TO_H36M_16``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from posegcn.camera import Camera, load_h36m_cameras, world_to_camera
from posegcn.data.arrays import (
    PoseArrays,
    PoseFiles,
    View,
    camera_arrays,
    first_bad_frame,
    read_videopose3d_pair,
)
from posegcn.data.units import check_bone_lengths, check_camera, check_depth, check_frame_ratio, check_pixels
from posegcn.errors import InputKeyError, PoseGCNInputError
from posegcn.skeleton import (
    H36M_16,
    H36M_17,
    H36M_17_TO_16,
    H36M_32,
    H36M_32_TO_17,
    SH_TO_H36M_16,
    Skeleton,
    h36m_skeleton,
)

__all__ = ["DATA_3D_FILE", "H36MFiles", "action_group", "data_2d_file", "load_h36m"]

DATA_3D_FILE = "data_3d_h36m.npz"
H36M_FPS = 50
_DOCS = "see README.md § Data"
_LAYOUTS_16_VS_17 = (
    "The 17-joint layout (VideoPose3D, CPN detections, DG-Net) has Neck/Nose at index 9; the 16-joint "
    "layout (SemGCN, Modulated GCN GT setting, Stacked Hourglass detections) is the same without Neck/Nose."
)


def data_2d_file(source: str) -> str:
    """File name of a 2D source: ``data_2d_h36m_<source>.npz``."""
    return f"data_2d_h36m_{source}.npz"


def action_group(action: str) -> str:
    """Action group of a take name: ``"Walking 1"`` → ``"Walking"``."""
    return action.split(" ")[0]


def _symmetry_sets(left: Sequence[int], right: Sequence[int]) -> tuple[frozenset[int], frozenset[int]]:
    return frozenset(int(j) for j in left), frozenset(int(j) for j in right)


#: Left/right joint sets of every 2D layout the loader reads, in the file's own order.
_LAYOUT_SYMMETRY = {
    "h36m17": _symmetry_sets(H36M_17.joints_left, H36M_17.joints_right),
    "h36m16": _symmetry_sets(H36M_16.joints_left, H36M_16.joints_right),
    "mpii16": _symmetry_sets(
        [SH_TO_H36M_16[j] for j in H36M_16.joints_left], [SH_TO_H36M_16[j] for j in H36M_16.joints_right]
    ),
}


@dataclass
class H36MFiles(PoseFiles):
    """The raw contents of one 3D file and one 2D file, read once; :meth:`select` builds the splits.

    ``num_joints`` (17 or 16: 16 drops Neck/Nose from 2D and 3D) and ``cameras`` (calibration JSON,
    ``None`` for the one shipped with posegcn) say how the views are made.
    """

    path_3d: Path
    path_2d: Path
    positions_3d: dict
    positions_2d: dict
    layout_2d: str  # "h36m17", "h36m16" or "mpii16"
    check_units: bool = True  # bone lengths, pixel ranges, frame counts (posegcn.data.units)
    num_joints: int = 17
    cameras: str | Path | None = None

    @classmethod
    def read(
        cls,
        root: str | Path,
        source: str,
        check_units: bool = True,
        num_joints: int = 17,
        cameras: str | Path | None = None,
    ) -> H36MFiles:
        path_3d, path_2d, positions_3d, positions_2d, metadata = read_videopose3d_pair(
            "Human3.6M", Path(root), DATA_3D_FILE, data_2d_file(source), _DOCS
        )
        layout = _layout_2d(path_2d, positions_2d, metadata)
        return cls(path_3d, path_2d, positions_3d, positions_2d, layout, check_units, num_joints, cameras)

    @property
    def skeleton(self) -> Skeleton:
        return h36m_skeleton(self.num_joints)

    @property
    def num_joints_2d(self) -> int:
        return 17 if self.layout_2d == "h36m17" else 16

    def subjects(self) -> list[str]:
        return list(self.positions_3d)

    def group(self, subject: str, take: str) -> str:
        return action_group(take)

    def takes(self, subjects: Sequence[str], actions: Sequence[str] | None = None) -> dict[str, list[str]]:
        """Takes to load per subject: all, or those whose name or group is in ``actions``."""
        self.skeleton  # noqa: B018 (fails on a joint count other than 16 or 17)
        if self.num_joints_2d == 16 and self.num_joints == 17:
            raise PoseGCNInputError(
                f"{self.path_2d} holds 16-joint 2D keypoints but num_joints=17 was requested (the 3D targets "
                f"would have 17 joints). {_LAYOUTS_16_VS_17} Set num_joints: 16 "
                f"(--data.init_args.num_joints 16) or use a 17-joint source such as gt or cpn_ft_h36m_dbb."
            )
        subjects = list(subjects)
        if not subjects:
            raise PoseGCNInputError("empty subject list: give at least one subject, e.g. ['S1']")
        available = self.subjects()
        for s in subjects:
            if s not in self.positions_3d:
                raise InputKeyError(f"unknown subject {s!r}: {self.path_3d} has subjects {available}")
            if s not in self.positions_2d:
                raise InputKeyError(
                    f"unknown subject {s!r}: {self.path_2d} has subjects {list(self.positions_2d)}"
                )
        wanted = None if actions is None else set(actions)
        takes = {
            s: [
                a
                for a in sorted(self.positions_3d[s])
                if wanted is None or a in wanted or action_group(a) in wanted
            ]
            for s in subjects
        }
        if wanted is not None:
            loaded = {a for names in takes.values() for a in names}
            unknown = sorted(wanted - loaded - {action_group(a) for a in loaded})
            if unknown:
                all_takes = sorted({a for s in subjects for a in self.positions_3d[s]})
                raise InputKeyError(
                    f"unknown action(s) {unknown} for subjects {subjects} in {self.path_3d}: available groups "
                    f"{sorted({action_group(a) for a in all_takes})}, takes {all_takes}"
                )
        for s in subjects:
            self._cameras(s)  # every selected subject is calibrated
        return takes

    def _cameras(self, subject: str) -> list[Camera]:
        """The calibrated cameras of ``subject`` (checked once per subject)."""
        calibration = load_h36m_cameras(self.cameras)
        source = self.cameras or "posegcn/data/h36m_cameras.json"
        if subject not in calibration:
            raise InputKeyError(
                f"subject {subject!r} has no camera calibration in {source} "
                f"(calibrated subjects: {list(calibration)})"
            )
        for c, cam in enumerate(calibration[subject] if self.check_units else []):
            where = f"camera calibration {source}: subject {subject!r}, camera {c}"
            check_camera(cam.translation, cam.focal_length, cam.res_w, where)
        return calibration[subject]

    def views(self, subject: str, take: str) -> list[View]:
        cams = self._cameras(subject)
        x_world = self._pose_3d_world(subject, take).astype(np.float64)
        keypoints = self._keypoints(subject, take, len(cams))
        out = []
        for c, cam in enumerate(cams):
            uv = self._keypoints_2d(subject, take, c, keypoints[c], (cam.res_w, cam.res_h))
            if uv.shape[1] == 17 and self.num_joints == 16:
                uv = uv[:, list(H36M_17_TO_16)]
            x_cam = world_to_camera(x_world, cam.orientation, cam.translation).astype(np.float32)
            if self.check_units:
                check_depth(
                    x_cam[:, 0], f"{self.path_3d}: positions_3d[{subject!r}][{take!r}] seen by camera {c}"
                )
            out.append(View(c, uv, x_cam, (cam.res_w, cam.res_h), take))
        return out

    # ------------------------------------------------------------------ per take
    def _pose_3d_world(self, subject: str, action: str) -> np.ndarray:
        """World-frame 3D pose ``[F, num_joints, 3]`` of one take, validated."""
        num_joints = self.num_joints
        x = self.positions_3d[subject][action]
        key = f"positions_3d[{subject!r}][{action!r}]"
        if not isinstance(x, np.ndarray) or x.ndim != 3 or x.shape[1:] != (H36M_32.num_joints, 3):
            shape = tuple(x.shape) if isinstance(x, np.ndarray) else type(x).__name__
            raise PoseGCNInputError(
                f"{self.path_3d}: {key} must be an array of shape [F, 32, 3] (world metres, 32 mocap markers), "
                f"got {shape}"
            )
        x = x[:, list(H36M_32_TO_17)]
        if num_joints == 16:
            x = x[:, list(H36M_17_TO_16)]
        bad = first_bad_frame(x)
        if bad is not None:
            raise PoseGCNInputError(
                f"{self.path_3d}: {key} (world coordinates, all cameras) has NaN/inf values, first at frame {bad}"
            )
        if self.check_units:
            check_bone_lengths(x, h36m_skeleton(num_joints).parents, f"{self.path_3d}: {key}")
        return x.astype(np.float32, copy=False)

    def _keypoints(self, subject: str, action: str, num_cameras: int) -> Sequence[np.ndarray]:
        return camera_arrays(
            self, subject, action, num_cameras, "action", f": the calibration has {num_cameras} cameras"
        )

    def _keypoints_2d(
        self, subject: str, action: str, camera: int, uv: np.ndarray, image_size: tuple[int, int]
    ) -> np.ndarray:
        """Pixel keypoints ``[F, J, 2]`` of one camera in H36M order, validated and truncated to the 3D length.

        ``image_size`` is the camera's ``(res_w, res_h)``, against which the pixel range is checked.
        """
        key = f"positions_2d[{subject!r}][{action!r}][{camera}]"
        j = self.num_joints_2d
        if not isinstance(uv, np.ndarray) or uv.ndim != 3 or uv.shape[2] != 2:
            shape = tuple(uv.shape) if isinstance(uv, np.ndarray) else type(uv).__name__
            raise PoseGCNInputError(
                f"{self.path_2d}: {key} must be an array of shape [F, {j}, 2] (pixels), got {shape}"
            )
        if uv.shape[1] != j:
            raise PoseGCNInputError(
                f"{self.path_2d}: {key} has {uv.shape[1]} joints but the file's layout ({self.layout_2d}) has {j}. "
                f"{_LAYOUTS_16_VS_17}"
            )
        length_3d = len(self.positions_3d[subject][action])
        if uv.shape[0] < length_3d:
            raise PoseGCNInputError(
                f"{self.path_2d}: subject {subject!r}, action {action!r}, camera {camera}: the 2D keypoints have "
                f"{uv.shape[0]} frames, fewer than the {length_3d} frames of the 3D poses in {self.path_3d}"
            )
        if self.check_units:
            check_frame_ratio(uv.shape[0], length_3d, H36M_FPS, f"{self.path_2d}: {key} (3D: {self.path_3d})")
        uv = uv[:length_3d]
        bad = first_bad_frame(uv)
        if bad is not None:
            raise PoseGCNInputError(
                f"{self.path_2d}: subject {subject!r}, action {action!r}, camera {camera} has NaN/inf 2D "
                f"keypoints, first at frame {bad}"
            )
        if self.check_units:
            check_pixels(uv, *image_size, f"{self.path_2d}: {key}")
        if self.layout_2d == "mpii16":
            uv = uv[:, list(SH_TO_H36M_16)]
        return uv


def _layout_2d(path: Path, positions_2d: dict, metadata: dict) -> str:
    """The joint order of a 2D file from its metadata (and first array), symmetry checked."""
    num_joints = metadata.get("num_joints")
    if num_joints is None:  # infer from the first array
        first = next((cams[0] for acts in positions_2d.values() for cams in acts.values() if len(cams)), None)
        num_joints = first.shape[1] if isinstance(first, np.ndarray) and first.ndim == 3 else None
    symmetry = metadata.get("keypoints_symmetry")
    sym = _symmetry_sets(*symmetry) if symmetry is not None else None
    if metadata.get("layout_name") == "mpii":
        layout = "mpii16"
    elif num_joints == 17:
        layout = "h36m17"
    elif num_joints == 16:
        # VideoPose3D's Stacked Hourglass files keep MPII order and say so only through their symmetry.
        layout = "mpii16" if sym == _LAYOUT_SYMMETRY["mpii16"] else "h36m16"
    else:
        raise PoseGCNInputError(
            f"{path}: 2D keypoints with {num_joints} joints; Human3.6M layouts have 17 or 16 joints. "
            f"{_LAYOUTS_16_VS_17}"
        )
    expected_j = 17 if layout == "h36m17" else 16
    if num_joints != expected_j:
        raise PoseGCNInputError(
            f"{path}: metadata says layout {layout} ({expected_j} joints) but num_joints={num_joints}"
        )
    if sym is not None and sym != _LAYOUT_SYMMETRY[layout]:
        exp_left, exp_right = _LAYOUT_SYMMETRY[layout]
        raise PoseGCNInputError(
            f"{path}: metadata keypoints_symmetry left={sorted(sym[0])} right={sorted(sym[1])} does not match "
            f"the {layout} joint order (left={sorted(exp_left)} right={sorted(exp_right)}); the keypoints are in "
            f"an unknown joint order. Set metadata layout_name='mpii' for MPII-ordered 16-joint files; {_DOCS}"
        )
    return layout


def load_h36m(
    root: str | Path,
    source: str,
    subjects: Sequence[str],
    actions: Sequence[str] | None = None,
    num_joints: int = 17,
    downsample: int = 1,
    cameras: str | Path | None = None,
    check_units: bool = True,
) -> PoseArrays:
    """Read ``data_3d_h36m.npz`` + ``data_2d_h36m_<source>.npz`` from ``root`` and build the samples.

    See :meth:`PoseFiles.select` for the arguments; ``check_units=False`` skips the unit checks.
    """
    h36m_skeleton(num_joints)  # fail on a wrong joint count before reading
    files = H36MFiles.read(root, source, check_units, num_joints, cameras)
    return files.select(subjects, actions, downsample)
