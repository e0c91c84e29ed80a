"""The MPI-INF-3DHP test set (Mehta et al., 3DV 2017) for cross-dataset evaluation.

File: the preprocessed ``data_test_3dhp.npz`` that the lifting works evaluating on 3DHP share
(made by P-STMO's ``common/data_to_npz_3dhp_test.py`` from the official test set's
``TS<k>/annot_data.mat`` and read by P-STMO, MixSTE, PoseFormerV2, GraphMLP …; see
``README.md`` § Data).  Key ``data`` → pickled dict, one entry per sequence ``"TS1"…"TS6"``::

    {"TS1": {"data_2d": float [F, 17, 2],   # annot2: pixels
             "data_3d": float [F, 17, 3],   # univ_annot3: camera frame, millimetres (universal skeleton)
             "valid":   [F] (or [F, 1])},   # valid_frame: 1 = evaluated, 0 = skipped
     ...}

Image size: 2048×2048 for TS1–TS4 (studio), 1920×1080 for TS5–TS6 (outdoor)
(:data:`MPI_INF_3DHP_IMAGE_SIZE`); a sequence entry may carry its own ``"image_size": (w, h)``.

Joint order: :data:`~posegcn.skeleton.MPI_INF_3DHP_17` (0 head top, 1 neck, 2–4 right arm,
5–7 left arm, 8–10 right leg, 11–13 left leg, 14 pelvis, 15 spine, 16 head), mapped to the
Human3.6M layout the networks expect with :data:`~posegcn.skeleton.MPI_INF_3DHP_TO_H36M_17`
(pelvis → Hip, neck → Thorax, head → Neck/Nose, head top → Head, …) and then to 16 joints by
dropping Neck/Nose when the model has 16.

Protocol (Modulated GCN Table 7, DG-Net Table IV): only frames with ``valid`` set; 3D made
root-relative at the pelvis and converted to metres; 3DPCK (< 150 mm) and AUC over the 14 joints
of :func:`~posegcn.skeleton.mpi_inf_3dhp_eval_joints` (the DataModule's :attr:`eval_joints`), reported
for the scenes GS (TS1–TS2, green screen), noGS (TS3–TS4) and Outdoor (TS5–TS6) and overall
(frame-pooled, as the official evaluation script), with MPJPE alongside.

Units are checked while reading (:mod:`posegcn.data.units`): the median bone length of
``data_3d`` must be a person's in millimetres (a file already in metres fails) and ``data_2d``
must be pixels of the sequence's image; ``check_units=False`` (``--data.check_units false``)
skips the checks.

Sequences: each contiguous run of valid frames is one sequence, so temporal windows never
bridge a skipped stretch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from posegcn.data.arrays import PoseArrays, PoseFiles, View, first_bad_frame, load_npz_key
from posegcn.data.units import check_bone_lengths, check_pixels
from posegcn.errors import InputFileNotFoundError, InputKeyError, PoseGCNInputError
from posegcn.skeleton import H36M_17_TO_16, MPI_INF_3DHP_17, MPI_INF_3DHP_TO_H36M_17, Skeleton, h36m_skeleton

__all__ = [
    "MPI_INF_3DHP_TEST_FILE",
    "MPI_INF_3DHP_SEQUENCES",
    "MPI_INF_3DHP_IMAGE_SIZE",
    "MPI_INF_3DHP_SCENES",
    "MPIINF3DHPTestFile",
    "load_mpi_inf_3dhp_test",
]

MPI_INF_3DHP_TEST_FILE = "data_test_3dhp.npz"
MPI_INF_3DHP_SEQUENCES = ("TS1", "TS2", "TS3", "TS4", "TS5", "TS6")
#: Image ``(w, h)`` of every test sequence.
MPI_INF_3DHP_IMAGE_SIZE = {
    "TS1": (2048, 2048), "TS2": (2048, 2048), "TS3": (2048, 2048), "TS4": (2048, 2048),
    "TS5": (1920, 1080), "TS6": (1920, 1080),
}  # fmt: skip
#: The scene groups of Modulated GCN Table 7 / DG-Net Table IV.
MPI_INF_3DHP_SCENES = {"GS": ("TS1", "TS2"), "noGS": ("TS3", "TS4"), "Outdoor": ("TS5", "TS6")}
_NUM_JOINTS = MPI_INF_3DHP_17.num_joints
_KEYS = ("data_2d", "data_3d", "valid")
_DOCS = "see README.md § Data (MPI-INF-3DHP)"


def scene_of(sequence: str) -> str:
    """``"TS3"`` → ``"noGS"``."""
    for scene, members in MPI_INF_3DHP_SCENES.items():
        if sequence in members:
            return scene
    raise InputKeyError(
        f"sequence {sequence!r} belongs to no MPI-INF-3DHP scene {dict(MPI_INF_3DHP_SCENES)}; "
        f"use groups='sequence' for other sequence names"
    )


def _valid_runs(valid: np.ndarray) -> list[tuple[int, int]]:
    """``[start, end)`` of every run of consecutive ``True``: ``[0,1,1,0,1] → [(1,3), (4,5)]``."""
    edges = np.diff(np.concatenate([[0], valid.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist()))


@dataclass
class MPIINF3DHPTestFile(PoseFiles):
    """The contents of ``data_test_3dhp.npz``; :meth:`select` builds :class:`PoseArrays` in the H36M layout."""

    path: Path
    data: dict
    check_units: bool = True  # bone lengths in mm, pixel ranges (posegcn.data.units)
    num_joints: int = 17  # the model's H36M layout, 17 or 16
    grouping: Literal["scene", "sequence"] = "scene"  # metric groups: GS/noGS/Outdoor or the sequences

    @classmethod
    def read(
        cls,
        root: str | Path,
        file: str = MPI_INF_3DHP_TEST_FILE,
        check_units: bool = True,
        num_joints: int = 17,
        groups: Literal["scene", "sequence"] = "scene",
    ) -> MPIINF3DHPTestFile:
        root = Path(root)
        path = root / file
        if not path.is_file():
            present = sorted(p.name for p in root.glob("*.npz")) if root.is_dir() else []
            where = f"directory {root}" if root.is_dir() else f"directory {root} (which does not exist)"
            raise InputFileNotFoundError(
                f"MPI-INF-3DHP test file {file!r} missing in {where}; .npz files present: {present or 'none'}. "
                f"Point --data.root at the folder holding it (--data.file for another name); {_DOCS}"
            )
        data = load_npz_key(path, "data", _DOCS, expected=" {'TS1': {'data_2d', 'data_3d', 'valid'}, ...}")
        if groups not in ("scene", "sequence"):
            raise PoseGCNInputError(f"groups must be 'scene' or 'sequence', got {groups!r}")
        return cls(path, data, check_units, num_joints, groups)

    @property
    def skeleton(self) -> Skeleton:
        return h36m_skeleton(self.num_joints)

    def subjects(self) -> list[str]:
        return self.sequences()

    def sequences(self) -> list[str]:
        return list(self.data)

    def sequence(self, name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[int, int]]:
        """Validated ``(data_2d [F, 17, 2] px, data_3d [F, 17, 3] mm, valid [F] bool, (w, h))`` of one sequence."""
        if name not in self.data:
            raise InputKeyError(
                f"{self.path}: no sequence {name!r}; sequences in the file: {self.sequences()}"
            )
        entry = self.data[name]
        if not isinstance(entry, dict):
            raise PoseGCNInputError(
                f"{self.path}: data[{name!r}] must be a dict with keys {list(_KEYS)}, got {type(entry).__name__}"
            )
        missing = [k for k in _KEYS if k not in entry]
        if missing:
            raise InputKeyError(
                f"{self.path}: data[{name!r}] lacks {missing} (has {sorted(entry)}); each sequence needs 2D pixels "
                f"'data_2d', 3D millimetres 'data_3d' and the per-frame flags 'valid' (annot_data.mat valid_frame)"
            )
        uv = self._array(name, "data_2d", entry["data_2d"], 2)
        xyz = self._array(name, "data_3d", entry["data_3d"], 3)
        valid = np.asarray(entry["valid"])
        if valid.ndim == 2 and valid.shape[1] == 1:
            valid = valid[:, 0]
        if valid.ndim != 1 or not (len(valid) == len(uv) == len(xyz)):
            raise PoseGCNInputError(
                f"{self.path}: data[{name!r}]: 'valid' must have one flag per frame; got valid {valid.shape}, "
                f"data_2d {uv.shape}, data_3d {xyz.shape}"
            )
        valid = valid.astype(bool)
        for key, x in (("data_2d", uv), ("data_3d", xyz)):
            bad = first_bad_frame(x[valid]) if valid.any() else None
            if bad is not None:
                frame = int(np.flatnonzero(valid)[bad])
                raise PoseGCNInputError(
                    f"{self.path}: data[{name!r}][{key!r}] has NaN/inf values in valid frame {frame}"
                )
        if "image_size" in entry:
            size = tuple(int(v) for v in np.asarray(entry["image_size"]).reshape(-1))
        elif name in MPI_INF_3DHP_IMAGE_SIZE:
            size = MPI_INF_3DHP_IMAGE_SIZE[name]
        else:
            raise InputKeyError(
                f"{self.path}: sequence {name!r} has no 'image_size' entry and is not one of "
                f"{list(MPI_INF_3DHP_IMAGE_SIZE)} whose image sizes are known"
            )
        if len(size) != 2 or min(size) < 1:
            raise PoseGCNInputError(
                f"{self.path}: data[{name!r}]['image_size'] must be (width, height), got {size}"
            )
        if self.check_units:
            check_bone_lengths(
                xyz[valid], MPI_INF_3DHP_17.parents, f"{self.path}: data[{name!r}]['data_3d']", "mm", 1000.0
            )
            check_pixels(uv[valid], *size, f"{self.path}: data[{name!r}]['data_2d']")
        return uv, xyz, valid, size

    def _array(self, name: str, key: str, x: object, dim: int) -> np.ndarray:
        x = np.asarray(x)
        if x.ndim == 4 and x.shape[1] == 1:  # [F, 1, 17, D] straight from annot_data.mat
            x = x[:, 0]
        if x.ndim != 3 or x.shape[1:] != (_NUM_JOINTS, dim):
            raise PoseGCNInputError(
                f"{self.path}: data[{name!r}][{key!r}] must have shape [F, 17, {dim}] (the 17 MPI-INF-3DHP test joints), "
                f"got {x.shape}"
            )
        return x

    # Subjects are the test sequences, each one take (itself); its views are the runs of valid frames,
    # so that temporal windows never bridge a skipped stretch.
    def takes(self, subjects: Sequence[str], actions: Sequence[str] | None = None) -> dict[str, list[str]]:
        sequences = list(subjects)
        if not sequences:
            raise PoseGCNInputError(f"empty sequence list: give at least one of {self.sequences()}")
        absent = [s for s in sequences if s not in self.data]
        if absent:
            raise InputKeyError(
                f"{self.path}: sequences {absent} are absent; the file has {self.sequences()}"
            )
        return {s: [s] for s in sequences}

    def group(self, subject: str, take: str) -> str:
        return scene_of(subject) if self.grouping == "scene" else subject

    def group_names(self, takes: dict[str, list[str]]) -> list[str]:
        """The scenes in the papers' order (GS, noGS, Outdoor), or the sequences in the given order."""
        if self.grouping == "sequence":
            return list(takes)
        present = {scene_of(s) for s in takes}
        return [g for g in MPI_INF_3DHP_SCENES if g in present]

    def views(self, subject: str, take: str) -> list[View]:
        uv, xyz, valid, size = self.sequence(subject)
        order = list(MPI_INF_3DHP_TO_H36M_17)
        if self.num_joints == 16:
            order = [order[j] for j in H36M_17_TO_16]
        return [
            View(0, uv[start:end, order], xyz[start:end, order] / 1000.0, size, f"frames {start}-{end - 1}",
                 np.arange(start, end, dtype=np.int64))
            for start, end in _valid_runs(valid)
        ]  # fmt: skip


def load_mpi_inf_3dhp_test(
    root: str | Path,
    num_joints: int = 17,
    sequences: Sequence[str] = MPI_INF_3DHP_SEQUENCES,
    groups: Literal["scene", "sequence"] = "scene",
    file: str = MPI_INF_3DHP_TEST_FILE,
    check_units: bool = True,
) -> PoseArrays:
    """Read ``root/data_test_3dhp.npz`` and build the valid samples of ``sequences`` in the H36M layout.

    ``PoseArrays.subject`` indexes the sequences, ``PoseArrays.action`` the groups: the scenes
    GS/noGS/Outdoor (``groups="scene"``) or the sequences themselves.
    """
    h36m_skeleton(num_joints)  # fail on a wrong joint count before reading
    return MPIINF3DHPTestFile.read(root, file, check_units, num_joints, groups).select(sequences)
