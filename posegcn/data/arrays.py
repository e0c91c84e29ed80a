"""Poses in memory: what every file reader produces and the one rule that turns it into samples.

The flow of posegcn's data is *files → arrays in memory → batches*:

1. a reader of one file format (:mod:`posegcn.data.formats`) checks the files and their units and
   exposes them as :class:`PoseFiles`: subjects, takes, the metric group of every take, and the
   *views* of a take — one camera's 2D keypoints in pixels and 3D pose in camera metres, in the
   joint order of the model's skeleton;
2. :meth:`PoseFiles.select` — the one selection algorithm of all datasets — picks subjects and
   actions, keeps every ``downsample``-th frame, encodes the views with the
   :class:`~posegcn.data.codec.PoseCodec` and concatenates them into :class:`PoseArrays`;
3. :mod:`posegcn.data.batches` gathers batches (and temporal windows) from :class:`PoseArrays`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np
import torch

from posegcn.data.codec import PoseCodec
from posegcn.errors import InputFileNotFoundError, InputKeyError, PoseGCNInputError
from posegcn.skeleton import Skeleton

__all__ = ["PoseArrays", "PoseFiles", "View", "concat_sequences"]


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
        camera: ``[N]`` int64 camera index.
        frame: ``[N]`` int64 frame number in the original sequence.
        sequence: ``[N]`` int64 index into ``sequence_names``.
        sequence_starts: ``[S + 1]`` int64 offsets: sequence ``s`` is ``sequence_starts[s]:sequence_starts[s+1]``.
        subject_names, action_names: the vocabularies of ``subject`` and ``action``.
        sequence_names: ``(subject, take, camera)`` of every sequence.
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

    def to(self, device: torch.device | str) -> PoseArrays:
        """The same samples with every tensor on ``device`` (``self`` when they are there already).

        Training on a GPU keeps a whole split resident there, so that batches are gathered on
        the device without a host-to-device copy per step (:mod:`posegcn.data.batches`).
        """
        device = torch.device(device)
        if self.pose_2d.device == device:
            return self
        moved = {f.name: getattr(self, f.name) for f in fields(self)}
        moved = {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in moved.items()}
        return PoseArrays(**moved)

    @property
    def num_sequences(self) -> int:
        return len(self.sequence_names)

    @property
    def sequence_lengths(self) -> torch.Tensor:
        """``[S]`` number of samples of every sequence."""
        return self.sequence_starts.diff()


@dataclass
class View:
    """One camera's view of one take, as a reader delivers it (validated, units checked).

    Attributes:
        camera: camera index.
        pose_2d_px: ``[F, J, 2]`` pixels, truncated to the 3D length, in the skeleton's joint order.
        pose_3d_cam: ``[F, J, 3]`` camera-frame metres, same joints.
        image_size: ``(w, h)`` of the camera's image (the screen normalisation needs both).
        label: the take name recorded in :attr:`PoseArrays.sequence_names`.
        frames: ``[F]`` original frame numbers (default ``0 … F − 1``).
    """

    camera: int
    pose_2d_px: np.ndarray
    pose_3d_cam: np.ndarray
    image_size: tuple[int, int]
    label: str
    frames: np.ndarray = field(default=None)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if self.frames is None:
            self.frames = np.arange(len(self.pose_3d_cam), dtype=np.int64)


class PoseFiles:
    """The contents of one dataset's files; subclasses (one per file format) read and validate them.

    A subclass provides :attr:`skeleton`, :meth:`subjects`, :meth:`takes` (its action filter),
    :meth:`group` (the metric group of a take) and :meth:`views`; :meth:`select` is shared.
    """

    skeleton: Skeleton

    def subjects(self) -> list[str]:
        raise NotImplementedError

    def takes(self, subjects: Sequence[str], actions: Sequence[str] | None = None) -> dict[str, list[str]]:
        """Takes to load per subject, validated against the files."""
        raise NotImplementedError

    def group(self, subject: str, take: str) -> str:
        """The metric group (``batch["action"]`` vocabulary entry) of a take."""
        raise NotImplementedError

    def views(self, subject: str, take: str) -> list[View]:
        """Every camera's (or valid stretch's) view of a take."""
        raise NotImplementedError

    def group_names(self, takes: dict[str, list[str]]) -> list[str]:
        """The vocabulary of metric groups of ``takes`` (sorted; a format may prescribe another order)."""
        return sorted({self.group(s, t) for s, names in takes.items() for t in names})

    def groups(self, subjects: Sequence[str], actions: Sequence[str] | None = None) -> list[str]:
        """The metric groups of ``subjects`` × ``actions``."""
        return self.group_names(self.takes(subjects, actions))

    def select(
        self,
        subjects: Sequence[str],
        actions: Sequence[str] | None = None,
        downsample: int = 1,
        *,
        subject_names: Sequence[str] | None = None,
        action_names: Sequence[str] | None = None,
        codec: PoseCodec | None = None,
    ) -> PoseArrays:
        """The samples of ``subjects`` × ``actions`` × views, every ``downsample``-th frame.

        Args:
            subjects: subjects (or test sequences) to load.
            actions: the format's action filter (``None`` = all).
            downsample: keep every ``downsample``-th frame of every view.
            subject_names: vocabulary for ``PoseArrays.subject`` (default: ``subjects``), so that
                several splits share indices.
            action_names: vocabulary of metric groups (default: the groups present).
            codec: the normalisation (default ``PoseCodec()``).
        """
        if downsample < 1:
            raise PoseGCNInputError(f"downsample must be >= 1, got {downsample}")
        codec = codec or PoseCodec()
        takes = self.takes(subjects, actions)
        subject_names = list(subjects) if subject_names is None else list(subject_names)
        groups = self.group_names(takes)
        action_names = groups if action_names is None else list(action_names)
        for s in takes:
            if s not in subject_names:
                raise ValueError(f"subject {s!r} is not in the subject vocabulary {subject_names}")
        missing_groups = sorted(set(groups) - set(action_names))
        if missing_groups:
            raise ValueError(
                f"action groups {missing_groups} are not in the action vocabulary {action_names}"
            )

        parts: dict[str, list[np.ndarray]] = {k: [] for k in _PARTS}
        sequence_names: list[tuple[str, str, int]] = []
        for s, names in takes.items():
            for take in names:
                group = action_names.index(self.group(s, take))
                for view in self.views(s, take):
                    keep = slice(None, None, downsample)
                    rel, root = codec.encode_3d(view.pose_3d_cam[keep].astype(np.float32, copy=False))
                    parts["pose_3d"].append(rel)
                    parts["root_3d"].append(root.astype(np.float32))
                    pixels = view.pose_2d_px[keep].astype(np.float32, copy=False)
                    parts["pose_2d"].append(codec.encode_2d(pixels, *view.image_size))
                    frames = view.frames[keep].astype(np.int64)
                    n = len(frames)
                    parts["subject"].append(np.full(n, subject_names.index(s), dtype=np.int64))
                    parts["action"].append(np.full(n, group, dtype=np.int64))
                    parts["camera"].append(np.full(n, view.camera, dtype=np.int64))
                    parts["frame"].append(frames)
                    sequence_names.append((s, view.label, view.camera))
        return concat_sequences(parts, sequence_names, subject_names, action_names, self.skeleton)


_PARTS = ("pose_2d", "pose_3d", "root_3d", "subject", "action", "camera", "frame")


def concat_sequences(
    parts: dict[str, list[np.ndarray]],
    sequence_names: list[tuple[str, str, int]],
    subject_names: list[str],
    action_names: list[str],
    skeleton: Skeleton,
) -> PoseArrays:
    """Concatenate per-sequence parts into :class:`PoseArrays` (once, so that a sequence is contiguous)."""
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


def first_bad_frame(x: np.ndarray) -> int | None:
    """Index of the first frame of ``x [F, ...]`` with a NaN/inf value, ``None`` if all are finite."""
    finite = np.isfinite(x.reshape(x.shape[0], -1)).all(axis=1)
    bad = np.flatnonzero(~finite)
    return int(bad[0]) if bad.size else None


def load_npz_key(path: Path, key: str, docs: str, required: bool = True, expected: str = "") -> object:
    """One pickled dict stored under ``key`` of an ``.npz`` file (``None`` if optional and absent).

    ``expected`` describes the dict's layout in the error for a key that holds something else.
    """
    try:
        npz = np.load(path, allow_pickle=True)
    except Exception as err:  # np.load raises many types (BadZipFile, UnpicklingError, OSError, ...)
        raise PoseGCNInputError(
            f"{path} is not a valid .npz file ({type(err).__name__}: {err}); {docs}"
        ) from err
    if not isinstance(npz, np.lib.npyio.NpzFile):
        raise PoseGCNInputError(
            f"{path} is not a valid .npz file (np.load returned {type(npz).__name__}); {docs}"
        )
    with npz:
        if key not in npz.files:
            if not required:
                return None
            raise InputKeyError(f"{path} has no key {key!r} (keys: {npz.files}); {docs}")
        value = npz[key]
    if value.dtype != object or value.shape != ():
        raise PoseGCNInputError(
            f"{path}: key {key!r} must hold a pickled dict{expected} (0-d object array), "
            f"got an array of dtype {value.dtype} and shape {value.shape}"
        )
    obj = value.item()
    if not isinstance(obj, dict):
        raise PoseGCNInputError(f"{path}: key {key!r} must hold a dict, got {type(obj).__name__}")
    return obj


def read_videopose3d_pair(
    dataset: str, root: Path, file_3d: str, file_2d: str, docs: str
) -> tuple[Path, Path, dict, dict, dict]:
    """The two files of a VideoPose3D-format dataset in ``root``: ``(path_3d, path_2d, positions_3d,
    positions_2d, metadata)``, with one named error for missing files, keys or malformed archives."""
    error = missing_files_error(
        dataset, root, [file_3d, file_2d], f"Point --data.root at the folder holding them; {docs}"
    )
    if error is not None:
        raise error
    path_3d, path_2d = root / file_3d, root / file_2d
    positions_3d = load_npz_key(path_3d, "positions_3d", docs)
    positions_2d = load_npz_key(path_2d, "positions_2d", docs)
    metadata = load_npz_key(path_2d, "metadata", docs, required=False) or {}
    return path_3d, path_2d, positions_3d, positions_2d, metadata


def camera_arrays(
    files: PoseFiles, subject: str, take: str, num_cameras: int, take_word: str, cameras: str
) -> Sequence[np.ndarray]:
    """The VideoPose3D 2D entry ``positions_2d[subject][take]``: a list of one array per camera, checked.

    ``files`` has ``path_2d``, ``path_3d`` and ``positions_2d``; ``take_word`` ("action", "take") and
    ``cameras`` (what the camera count should be) only word the errors.
    """
    positions_2d = files.positions_2d[subject]  # type: ignore[attr-defined]
    if take not in positions_2d:
        raise InputKeyError(
            f"{files.path_2d}: subject {subject!r} has no {take_word} {take!r} although {files.path_3d} has it "  # type: ignore[attr-defined]
            f"(2D {take_word}s: {sorted(positions_2d)})"
        )
    keypoints = positions_2d[take]
    if not isinstance(keypoints, (list, tuple)) or len(keypoints) != num_cameras:
        got = len(keypoints) if isinstance(keypoints, (list, tuple)) else type(keypoints).__name__
        raise PoseGCNInputError(
            f"{files.path_2d}: positions_2d[{subject!r}][{take!r}] must be a list of one array per camera"  # type: ignore[attr-defined]
            f"{cameras}, got {got}"
        )
    return keypoints


def missing_files_error(what: str, root: Path, expected: list[str], hint: str) -> PoseGCNInputError | None:
    """The error for files of ``expected`` absent from ``root`` (``None`` when all are there)."""
    missing = [name for name in expected if not (root / name).is_file()]
    if not missing:
        return None
    present = sorted(p.name for p in root.glob("*.npz")) if root.is_dir() else []
    where = f"directory {root}" if root.is_dir() else f"directory {root} (which does not exist)"
    return InputFileNotFoundError(
        f"{what} files missing in {where}: expected {expected}, missing {missing}; "
        f".npz files present: {present or 'none'}. {hint}"
    )
