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
of :func:`~posegcn.metrics.mpi_inf_3dhp_joints` (the DataModule's :attr:`eval_joints`), reported
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

import lightning.pytorch as pl
import numpy as np
from torch.utils.data import DataLoader

from posegcn.data.codec import PoseCodec
from posegcn.data.datamodule import PoseBatchDataset, check_self_sharding, eval_loader
from posegcn.data.h36m import PoseArrays, _first_bad_frame, concat_sequences
from posegcn.data.units import check_bone_lengths, check_pixels
from posegcn.errors import InputFileNotFoundError, InputKeyError, PoseGCNInputError
from posegcn.metrics import mpi_inf_3dhp_joints
from posegcn.skeleton import H36M_17_TO_16, MPI_INF_3DHP_17, MPI_INF_3DHP_TO_H36M_17, Skeleton, h36m_skeleton

__all__ = [
    "MPI_INF_3DHP_TEST_FILE",
    "MPI_INF_3DHP_SEQUENCES",
    "MPI_INF_3DHP_IMAGE_SIZE",
    "MPI_INF_3DHP_SCENES",
    "MPIINF3DHPTestFile",
    "MPIINF3DHPDataModule",
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
class MPIINF3DHPTestFile:
    """The contents of ``data_test_3dhp.npz``; :meth:`select` builds :class:`PoseArrays` in the H36M layout."""

    path: Path
    data: dict
    check_units: bool = True  # bone lengths in mm, pixel ranges (posegcn.data.units)

    @classmethod
    def read(
        cls, root: str | Path, file: str = MPI_INF_3DHP_TEST_FILE, check_units: bool = True
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
        try:
            npz = np.load(path, allow_pickle=True)
        except Exception as err:  # BadZipFile, UnpicklingError, OSError, ...
            raise PoseGCNInputError(
                f"{path} is not a valid .npz file ({type(err).__name__}: {err}); {_DOCS}"
            ) from err
        if not isinstance(npz, np.lib.npyio.NpzFile):
            raise PoseGCNInputError(
                f"{path} is not a valid .npz file (np.load returned {type(npz).__name__}); {_DOCS}"
            )
        with npz:
            if "data" not in npz.files:
                raise InputKeyError(f"{path} has no key 'data' (keys: {npz.files}); {_DOCS}")
            value = npz["data"]
        data = value.item() if value.dtype == object and value.shape == () else None
        if not isinstance(data, dict):
            raise PoseGCNInputError(
                f"{path}: key 'data' must hold a pickled dict {{'TS1': {{'data_2d', 'data_3d', 'valid'}}, ...}}, "
                f"got an array of dtype {value.dtype} and shape {value.shape}"
            )
        return cls(path, data, check_units)

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
            bad = _first_bad_frame(x[valid]) if valid.any() else None
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

    def select(
        self,
        sequences: Sequence[str] = MPI_INF_3DHP_SEQUENCES,
        num_joints: int = 17,
        groups: Literal["scene", "sequence"] = "scene",
        codec: PoseCodec | None = None,
    ) -> PoseArrays:
        """Valid frames of ``sequences`` in the H36M layout with ``num_joints`` (16 or 17).

        ``PoseArrays.subject`` indexes the sequences, ``PoseArrays.action`` the groups: the scenes
        GS/noGS/Outdoor (``groups="scene"``) or the sequences themselves.
        """
        skeleton = h36m_skeleton(num_joints)
        sequences = list(sequences)
        if not sequences:
            raise PoseGCNInputError(f"empty sequence list: give at least one of {self.sequences()}")
        absent = [s for s in sequences if s not in self.data]
        if absent:
            raise InputKeyError(
                f"{self.path}: sequences {absent} are absent; the file has {self.sequences()}"
            )
        if groups == "scene":
            present = {scene_of(s) for s in sequences}
            action_names = [g for g in MPI_INF_3DHP_SCENES if g in present]
        elif groups == "sequence":
            action_names = list(sequences)
        else:
            raise PoseGCNInputError(f"groups must be 'scene' or 'sequence', got {groups!r}")
        codec = codec or PoseCodec()
        order = list(MPI_INF_3DHP_TO_H36M_17)
        if num_joints == 16:
            order = [order[j] for j in H36M_17_TO_16]
        parts: dict[str, list[np.ndarray]] = {
            k: [] for k in ("pose_2d", "pose_3d", "root_3d", "subject", "action", "camera", "frame")
        }
        sequence_names: list[tuple[str, str, int]] = []
        for i, name in enumerate(sequences):
            uv, xyz, valid, (w, h) = self.sequence(name)
            group = action_names.index(scene_of(name) if groups == "scene" else name)
            for start, end in _valid_runs(valid):
                rel, root = codec.encode_3d(xyz[start:end, order].astype(np.float32) / 1000.0)
                parts["pose_3d"].append(rel)
                parts["root_3d"].append(root.astype(np.float32))
                parts["pose_2d"].append(codec.encode_2d(uv[start:end, order].astype(np.float32), w, h))
                n = end - start
                parts["subject"].append(np.full(n, i, dtype=np.int64))
                parts["action"].append(np.full(n, group, dtype=np.int64))
                parts["camera"].append(np.zeros(n, dtype=np.int64))
                parts["frame"].append(np.arange(start, end, dtype=np.int64))
                sequence_names.append((name, f"frames {start}-{end - 1}", 0))
        return concat_sequences(parts, sequence_names, sequences, action_names, skeleton)


def load_mpi_inf_3dhp_test(
    root: str | Path,
    num_joints: int = 17,
    sequences: Sequence[str] = MPI_INF_3DHP_SEQUENCES,
    groups: Literal["scene", "sequence"] = "scene",
    file: str = MPI_INF_3DHP_TEST_FILE,
    check_units: bool = True,
) -> PoseArrays:
    """Read ``root/data_test_3dhp.npz`` and build the valid samples (see :meth:`MPIINF3DHPTestFile.select`)."""
    return MPIINF3DHPTestFile.read(root, file, check_units).select(sequences, num_joints, groups)


class MPIINF3DHPDataModule(pl.LightningDataModule):
    """MPI-INF-3DHP test set for cross-dataset evaluation of a Human3.6M-trained model (test/predict only).

    ``posegcn test --config configs/modgcn.yaml --config configs/data/mpi_inf_3dhp.yaml --ckpt_path best.ckpt``:
    the model config's ``data`` section sets ``num_joints``/``num_frames`` (kept when the class
    changes; its Human3.6M-only arguments such as ``source`` or ``batch_size`` are dropped — the
    3DHP file holds ground-truth 2D keypoints, the input of the papers' cross-dataset tables).

    The data module prescribes the protocol's 14 evaluation joints (:attr:`eval_joints`); a
    model's own ``eval_joints`` takes precedence.

    Args:
        root: folder holding ``file``.
        file: the test-set file name.
        num_joints: 17 or 16 (the model's H36M layout).
        sequences: test sequences to evaluate (``TS1``…``TS6``).
        groups: report per scene (``"scene"``: GS, noGS, Outdoor) or per sequence (``"sequence"``).
        eval_batch_size: poses per batch.
        num_frames: temporal window length ``T`` (windows stay inside runs of valid frames).
        check_units: check bone lengths (millimetres) and pixel ranges while reading (:mod:`posegcn.data.units`).
    """

    def __init__(
        self,
        root: str = "data/mpi_inf_3dhp",
        file: str = MPI_INF_3DHP_TEST_FILE,
        num_joints: int = 17,
        sequences: list[str] = list(MPI_INF_3DHP_SEQUENCES),  # noqa: B006 (never mutated)
        groups: Literal["scene", "sequence"] = "scene",
        eval_batch_size: int = 1024,
        num_frames: int = 1,
        check_units: bool = True,
    ):
        super().__init__()
        h36m_skeleton(num_joints)  # fail early on a wrong joint count
        for name, value in (("num_frames", num_frames), ("eval_batch_size", eval_batch_size)):
            if value < 1:
                raise PoseGCNInputError(f"{name} must be >= 1, got {value}")
        if groups not in ("scene", "sequence"):
            raise PoseGCNInputError(f"groups must be 'scene' or 'sequence', got {groups!r}")
        self.save_hyperparameters()
        self._arrays: PoseArrays | None = None
        self._dataset: PoseBatchDataset | None = None

    @property
    def num_joints(self) -> int:
        return self.hparams.num_joints

    @property
    def skeleton(self) -> Skeleton:
        return h36m_skeleton(self.hparams.num_joints)

    @property
    def num_frames(self) -> int:
        return self.hparams.num_frames

    @property
    def window_center(self) -> int:
        return (self.hparams.num_frames - 1) // 2

    @property
    def eval_joints(self) -> list[int]:
        """The 14 joints of the MPI-INF-3DHP PCK protocol, as indices into :attr:`skeleton`."""
        return mpi_inf_3dhp_joints(self.skeleton)

    @property
    def subject_names(self) -> list[str]:
        return list(self.hparams.sequences)

    @property
    def action_names(self) -> list[str]:
        """The reported groups (GS/noGS/Outdoor or the sequences); known after ``setup``."""
        if self._arrays is None:
            raise AttributeError(
                "MPIINF3DHPDataModule.action_names is known only after setup(); call setup() first"
            )
        return self._arrays.action_names

    def arrays(self, split: str = "test") -> PoseArrays:
        if split != "test" or self._arrays is None:
            raise RuntimeError(
                f"only the 'test' split exists and is loaded by setup('test'); asked for {split!r}"
            )
        return self._arrays

    def setup(self, stage: str | None = None) -> None:
        if stage in ("fit", "validate"):
            raise PoseGCNInputError(
                f"MPIINF3DHPDataModule holds the MPI-INF-3DHP *test* set for cross-dataset evaluation: use "
                f"'posegcn test' or 'posegcn predict' (got stage {stage!r}); train on Human3.6M"
            )
        check_self_sharding(self.trainer, type(self).__name__)
        if self._arrays is not None:
            return
        h = self.hparams
        files = MPIINF3DHPTestFile.read(h.root, h.file, h.check_units)
        self._arrays = files.select(h.sequences, h.num_joints, h.groups)
        self._dataset = PoseBatchDataset(self._arrays, num_frames=h.num_frames)

    def _eval_loader(self) -> DataLoader:
        if self._dataset is None:
            self.setup("test")
        return eval_loader(self._dataset, self.hparams.eval_batch_size, self.trainer)

    def test_dataloader(self) -> DataLoader:
        return self._eval_loader()

    def predict_dataloader(self) -> DataLoader:
        return self._eval_loader()
