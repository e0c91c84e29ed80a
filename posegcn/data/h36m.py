"""Human3.6M in the VideoPose3D file format → contiguous tensors in memory (conventions.md §1–3).

Files (see ``README.md`` § Data):

* ``data_3d_h36m.npz``, key ``positions_3d``: ``{subject: {action: float32 [F, 32, 3]}}``,
  world coordinates in metres, 50 fps.
* ``data_2d_h36m_<source>.npz``, key ``positions_2d``: ``{subject: {action: [cam0..cam3]}}``,
  each ``[F', J, 2]`` pixels; key ``metadata`` (``num_joints``, ``keypoints_symmetry``,
  optional ``layout_name``).

Units are checked cheaply while reading (:mod:`posegcn.data.units`): the median bone length of
every take (a millimetre file fails), the extent and position of the 2D keypoints in each
camera's image (normalised coordinates fail) and the 2D/3D frame counts (another frame rate
fails); ``check_units=False`` (``--data.check_units false``) skips these checks.

For every (subject, action, camera) — one *sequence* — the 3D pose is moved into the
camera frame, reduced 32 → 17 (→ 16) joints and made root-relative; the 2D keypoints are
truncated to the 3D length, reduced 17 → 16 if needed and screen-normalised by the
:class:`~posegcn.data.codec.PoseCodec`.  Sequences are concatenated once, so the samples
of a sequence are contiguous and ``sequence_starts`` delimits them.

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
import torch

from posegcn.camera import Camera, load_h36m_cameras, qinverse, qrot
from posegcn.data.codec import PoseCodec
from posegcn.data.units import check_bone_lengths, check_camera, check_depth, check_frame_ratio, check_pixels
from posegcn.errors import InputFileNotFoundError, InputKeyError, PoseGCNInputError
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

__all__ = ["DATA_3D_FILE", "data_2d_file", "PoseArrays", "H36MFiles", "load_h36m", "action_group"]

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
class PoseArrays:
    """All samples of one split as contiguous tensors (N samples, S sequences, J joints).

    Attributes:
        pose_2d: ``[N, J, 2]`` float32, screen-normalised 2D keypoints.
        pose_3d: ``[N, J, 3]`` float32, root-relative camera-frame pose in metres.
        root_3d: ``[N, 3]`` float32, root-joint trajectory in camera metres (``pose_3d + root_3d``
            is the absolute camera-frame pose; see :meth:`PoseCodec.decode_3d`).
        subject: ``[N]`` int64 index into ``subject_names``.
        action: ``[N]`` int64 index into ``action_names`` (action *groups*, takes merged).
        camera: ``[N]`` int64 camera index 0–3.
        frame: ``[N]`` int64 frame number in the original 50 fps sequence.
        sequence: ``[N]`` int64 index into ``sequence_names``.
        sequence_starts: ``[S + 1]`` int64 offsets: sequence ``s`` is ``sequence_starts[s]:sequence_starts[s+1]``.
        subject_names, action_names: the vocabularies of ``subject`` and ``action``.
        sequence_names: ``(subject, action take, camera)`` of every sequence.
        skeleton: the joint layout of ``pose_2d`` and ``pose_3d``.
    """

    pose_2d: torch.Tensor
    pose_3d: torch.Tensor
    root_3d: torch.Tensor
    subject: torch.Tensor
    action: torch.Tensor
    camera: torch.Tensor
    frame: torch.Tensor
    sequence: torch.Tensor
    sequence_starts: torch.Tensor
    subject_names: list[str]
    action_names: list[str]
    sequence_names: list[tuple[str, str, int]]
    skeleton: Skeleton

    def __len__(self) -> int:
        return self.pose_2d.shape[0]

    @property
    def num_sequences(self) -> int:
        return len(self.sequence_names)

    @property
    def sequence_lengths(self) -> torch.Tensor:
        """``[S]`` number of samples of every sequence."""
        return self.sequence_starts.diff()


def _load_npz_key(path: Path, key: str, required: bool = True) -> object:
    """One pickled object stored under ``key`` of an ``.npz`` file (``None`` if optional and absent)."""
    try:
        npz = np.load(path, allow_pickle=True)
    except Exception as err:  # np.load raises many types (BadZipFile, UnpicklingError, OSError, ...)
        raise PoseGCNInputError(
            f"{path} is not a valid .npz file ({type(err).__name__}: {err}); {_DOCS}"
        ) from err
    if not isinstance(npz, np.lib.npyio.NpzFile):
        raise PoseGCNInputError(
            f"{path} is not a valid .npz file (np.load returned {type(npz).__name__}); {_DOCS}"
        )
    with npz:
        if key not in npz.files:
            if not required:
                return None
            raise InputKeyError(f"{path} has no key {key!r} (keys: {npz.files}); {_DOCS}")
        value = npz[key]
    if value.dtype != object or value.shape != ():
        raise PoseGCNInputError(
            f"{path}: key {key!r} must hold a pickled dict (0-d object array), "
            f"got an array of dtype {value.dtype} and shape {value.shape}"
        )
    obj = value.item()
    if not isinstance(obj, dict):
        raise PoseGCNInputError(f"{path}: key {key!r} must hold a dict, got {type(obj).__name__}")
    return obj


def _world_to_camera(x: np.ndarray, cam: Camera) -> np.ndarray:
    """``cam.world_to_camera(x)`` as one matmul: ``X_cam = (X − t) M`` with ``M = R(q)ᵀ`` as rows.

    Row ``i`` of ``M`` is ``rotate(conj(q), e_i)``; per-point quaternion rotation of a whole
    take is ≈10× slower.  Shapes: ``[..., 3] → [..., 3]``.
    """
    m = qrot(qinverse(np.asarray(cam.orientation, dtype=np.float64)), np.eye(3))
    return ((x - np.asarray(cam.translation, dtype=np.float64)) @ m).astype(np.float32)


def _first_bad_frame(x: np.ndarray) -> int | None:
    finite = np.isfinite(x.reshape(x.shape[0], -1)).all(axis=1)
    bad = np.flatnonzero(~finite)
    return int(bad[0]) if bad.size else None


@dataclass
class H36MFiles:
    """The raw contents of one 3D file and one 2D file; :meth:`select` turns them into :class:`PoseArrays`.

    Reading is separate from selecting so that a DataModule reads the (large) files once
    and builds its train/val/test splits from them.
    """

    path_3d: Path
    path_2d: Path
    positions_3d: dict
    positions_2d: dict
    layout_2d: str  # "h36m17", "h36m16" or "mpii16"
    check_units: bool = True  # bone lengths, pixel ranges, frame counts (posegcn.data.units)

    @classmethod
    def read(cls, root: str | Path, source: str, check_units: bool = True) -> H36MFiles:
        root = Path(root)
        expected = [DATA_3D_FILE, data_2d_file(source)]
        missing = [name for name in expected if not (root / name).is_file()]
        if missing:
            present = sorted(p.name for p in root.glob("*.npz")) if root.is_dir() else []
            where = f"directory {root}" if root.is_dir() else f"directory {root} (which does not exist)"
            raise InputFileNotFoundError(
                f"Human3.6M files missing in {where}: expected {expected}, missing {missing}; "
                f".npz files present: {present or 'none'}. Point --data.root at the folder "
                f"holding them; {_DOCS}"
            )
        path_3d, path_2d = root / expected[0], root / expected[1]
        positions_3d = _load_npz_key(path_3d, "positions_3d")
        positions_2d = _load_npz_key(path_2d, "positions_2d")
        metadata = _load_npz_key(path_2d, "metadata", required=False) or {}
        layout = _layout_2d(path_2d, positions_2d, metadata)
        return cls(path_3d, path_2d, positions_3d, positions_2d, layout, check_units)

    @property
    def num_joints_2d(self) -> int:
        return 17 if self.layout_2d == "h36m17" else 16

    def subjects(self) -> list[str]:
        return list(self.positions_3d)

    def actions(self, subjects: Sequence[str], actions: Sequence[str] | None = None) -> dict[str, list[str]]:
        """Takes to load per subject: all, or those whose name or group is in ``actions``."""
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
        return takes

    def select(
        self,
        subjects: Sequence[str],
        actions: Sequence[str] | None = None,
        num_joints: int = 17,
        downsample: int = 1,
        cameras: str | Path | None = None,
        *,
        subject_names: Sequence[str] | None = None,
        action_names: Sequence[str] | None = None,
        codec: PoseCodec | None = None,
    ) -> PoseArrays:
        """Build the samples of ``subjects`` × ``actions`` × 4 cameras.

        Args:
            subjects: e.g. ``["S9", "S11"]``.
            actions: action groups (``"Walking"``) or exact takes (``"Walking 1"``); ``None`` = all.
            num_joints: 17 or 16 (16 drops Neck/Nose from both 2D and 3D).
            downsample: keep every ``downsample``-th frame.
            cameras: calibration JSON path, ``None`` for the one shipped with posegcn.
            subject_names: vocabulary for ``PoseArrays.subject`` (default: ``subjects``), so that
                several splits share indices.
            action_names: vocabulary of action groups (default: sorted groups present).
            codec: the normalisation (default ``PoseCodec()``).
        """
        skeleton = h36m_skeleton(num_joints)
        if downsample < 1:
            raise PoseGCNInputError(f"downsample must be >= 1, got {downsample}")
        if self.num_joints_2d == 16 and num_joints == 17:
            raise PoseGCNInputError(
                f"{self.path_2d} holds 16-joint 2D keypoints but num_joints=17 was requested (the 3D targets "
                f"would have 17 joints). {_LAYOUTS_16_VS_17} Set num_joints: 16 "
                f"(--data.init_args.num_joints 16) or use a 17-joint source such as gt or cpn_ft_h36m_dbb."
            )
        codec = codec or PoseCodec()
        calibration = load_h36m_cameras(cameras)
        takes = self.actions(subjects, actions)
        subject_names = list(subjects) if subject_names is None else list(subject_names)
        groups = sorted({action_group(a) for names in takes.values() for a in names})
        action_names = groups if action_names is None else list(action_names)
        for s in takes:
            if s not in subject_names:
                raise ValueError(f"subject {s!r} is not in the subject vocabulary {subject_names}")
            if s not in calibration:
                raise InputKeyError(
                    f"subject {s!r} has no camera calibration in {cameras or 'posegcn/data/h36m_cameras.json'} "
                    f"(calibrated subjects: {list(calibration)})"
                )
            for c, cam in enumerate(calibration[s] if self.check_units else []):
                where = f"camera calibration {cameras or 'posegcn/data/h36m_cameras.json'}: subject {s!r}, camera {c}"
                check_camera(cam.translation, cam.focal_length, cam.res_w, where)
        missing_groups = sorted(set(groups) - set(action_names))
        if missing_groups:
            raise ValueError(
                f"action groups {missing_groups} are not in the action vocabulary {action_names}"
            )

        parts: dict[str, list[np.ndarray]] = {
            k: [] for k in ("pose_2d", "pose_3d", "root_3d", "subject", "action", "camera", "frame")
        }
        sequence_names: list[tuple[str, str, int]] = []
        for s, names in takes.items():
            cams = calibration[s]
            for a in names:
                x_world = self._pose_3d_world(s, a, num_joints)
                keypoints = self._keypoints(s, a, len(cams))
                frames = np.arange(0, x_world.shape[0], downsample)
                x_world = x_world[frames]
                for c, cam in enumerate(cams):
                    uv = self._keypoints_2d(s, a, c, keypoints[c], (cam.res_w, cam.res_h))[frames]
                    if uv.shape[1] == 17 and num_joints == 16:
                        uv = uv[:, list(H36M_17_TO_16)]
                    rel, root = codec.encode_3d(_world_to_camera(x_world, cam))
                    if self.check_units:
                        check_depth(root, f"{self.path_3d}: positions_3d[{s!r}][{a!r}] seen by camera {c}")
                    parts["pose_3d"].append(rel.astype(np.float32, copy=False))
                    parts["root_3d"].append(root.astype(np.float32))
                    parts["pose_2d"].append(codec.encode_2d(uv.astype(np.float32), cam.res_w, cam.res_h))
                    n = len(frames)
                    parts["subject"].append(np.full(n, subject_names.index(s), dtype=np.int64))
                    parts["action"].append(np.full(n, action_names.index(action_group(a)), dtype=np.int64))
                    parts["camera"].append(np.full(n, c, dtype=np.int64))
                    parts["frame"].append(frames.astype(np.int64))
                    sequence_names.append((s, a, c))

        return concat_sequences(parts, sequence_names, subject_names, action_names, skeleton)

    # ------------------------------------------------------------------ per sequence
    def _pose_3d_world(self, subject: str, action: str, num_joints: int) -> np.ndarray:
        """World-frame 3D pose ``[F, num_joints, 3]`` of one take, validated."""
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
        bad = _first_bad_frame(x)
        if bad is not None:
            raise PoseGCNInputError(
                f"{self.path_3d}: {key} (world coordinates, all cameras) has NaN/inf values, first at frame {bad}"
            )
        if self.check_units:
            check_bone_lengths(x, h36m_skeleton(num_joints).parents, f"{self.path_3d}: {key}")
        return x.astype(np.float32, copy=False)

    def _keypoints(self, subject: str, action: str, num_cameras: int) -> Sequence[np.ndarray]:
        if action not in self.positions_2d[subject]:
            raise InputKeyError(
                f"{self.path_2d}: subject {subject!r} has no action {action!r} although {self.path_3d} has it "
                f"(2D actions: {sorted(self.positions_2d[subject])})"
            )
        keypoints = self.positions_2d[subject][action]
        if not isinstance(keypoints, (list, tuple)) or len(keypoints) != num_cameras:
            got = len(keypoints) if isinstance(keypoints, (list, tuple)) else type(keypoints).__name__
            raise PoseGCNInputError(
                f"{self.path_2d}: positions_2d[{subject!r}][{action!r}] must be a list of one array per camera: "
                f"the calibration has {num_cameras} cameras, got {got}"
            )
        return keypoints

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
        bad = _first_bad_frame(uv)
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

    See :meth:`H36MFiles.select` for the arguments; ``check_units=False`` skips the unit checks.
    """
    files = H36MFiles.read(root, source, check_units=check_units)
    return files.select(subjects, actions, num_joints, downsample, cameras)


def concat_sequences(
    parts: dict[str, list[np.ndarray]],
    sequence_names: list[tuple[str, str, int]],
    subject_names: list[str],
    action_names: list[str],
    skeleton: Skeleton,
) -> PoseArrays:
    """Concatenate per-sequence parts into :class:`PoseArrays` (every dataset reader ends here)."""
    lengths = np.array([len(f) for f in parts["frame"]], dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    j = skeleton.num_joints
    empty = {"pose_2d": (0, j, 2), "pose_3d": (0, j, 3), "root_3d": (0, 3)}

    def cat(key: str) -> torch.Tensor:
        if not parts[key]:
            return torch.zeros(empty.get(key, (0,)), dtype=torch.float32 if key in empty else torch.int64)
        return torch.from_numpy(np.ascontiguousarray(np.concatenate(parts[key])))

    return PoseArrays(
        pose_2d=cat("pose_2d"),
        pose_3d=cat("pose_3d"),
        root_3d=cat("root_3d"),
        subject=cat("subject"),
        action=cat("action"),
        camera=cat("camera"),
        frame=cat("frame"),
        sequence=torch.from_numpy(np.repeat(np.arange(len(lengths), dtype=np.int64), lengths)),
        sequence_starts=torch.from_numpy(starts),
        subject_names=subject_names,
        action_names=action_names,
        sequence_names=sequence_names,
        skeleton=skeleton,
    )
