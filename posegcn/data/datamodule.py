"""The LightningDataModules: one :class:`PoseDataModule` base and one short subclass per dataset.

The base owns everything that is the same for every dataset: the splits and their shared
subject/action vocabularies, training and evaluation batches (:mod:`posegcn.data.batches`),
sharding across ranks (unpadded evaluation shards, :func:`~posegcn.data.batches.check_self_sharding`),
the resume state saved in checkpoints, the unit-check override (``check_units``) and the flip
modes.  A subclass says which files to read (:meth:`PoseDataModule.read_files`, a
:class:`~posegcn.data.arrays.PoseFiles` of :mod:`posegcn.data.formats`) and which skeleton they hold.
"""

from __future__ import annotations

from typing import Literal

import lightning.pytorch as pl
import torch
from torch.utils.data import DataLoader

from posegcn._compat import batches_processed
from posegcn.data.arrays import PoseArrays, PoseFiles
from posegcn.data.batches import (
    BatchIndexSampler,
    FlipMode,
    PoseBatchDataset,
    ResumableDataLoader,
    check_self_sharding,
    eval_loader,
    flip_mode,
    rank_world,
    window_center,
)
from posegcn.data.formats.h36m import H36MFiles
from posegcn.data.formats.humaneva import HumanEvaFiles
from posegcn.data.formats.mpi_inf_3dhp import (
    MPI_INF_3DHP_SEQUENCES,
    MPI_INF_3DHP_TEST_FILE,
    MPIINF3DHPTestFile,
)
from posegcn.errors import InputKeyError, PoseGCNInputError
from posegcn.skeleton import H36M_17, HUMANEVA_15, MPI_INF_3DHP_14_OF_H36M_17, Skeleton, h36m_skeleton

__all__ = ["H36MDataModule", "HumanEvaDataModule", "MPIINF3DHPDataModule", "PoseDataModule"]


class PoseDataModule(pl.LightningDataModule):
    """What every posegcn data module shares; subclasses define ``__init__``, :meth:`read_files` and :attr:`skeleton`.

    A subclass's ``__init__`` calls ``super().__init__()``, ``self.save_hyperparameters()`` and
    :meth:`check_arguments`.  Hyperparameters the base reads when present: ``train_subjects``,
    ``val_subjects``, ``test_subjects``, ``actions``, ``downsample``, ``eval_downsample``,
    ``batch_size``, ``eval_batch_size``, ``num_frames``, ``flip_augment``, ``seed``, ``check_units``.
    """

    _STAGE_SPLITS = {"fit": ("train", "val"), "validate": ("val",), "test": ("test",), "predict": ("test",)}

    def __init__(self) -> None:
        super().__init__()
        self._arrays: dict[str, PoseArrays] = {}
        self._datasets: dict[str, PoseBatchDataset] = {}
        self._action_names: list[str] | None = None
        self._resume_position: tuple[int, int] | None = None

    def check_arguments(self) -> None:
        """Fail early (at construction) on a joint count, window, step or batch size out of range."""
        h = self.hparams
        self.skeleton  # noqa: B018 (raises on a joint count the dataset does not have)
        for name in ("num_frames", "downsample", "eval_downsample", "batch_size", "eval_batch_size"):
            if name in h and h[name] < 1:
                raise PoseGCNInputError(f"{name} must be >= 1, got {h[name]}")
        flip_mode(h.get("flip_augment", False))  # fail early on an unknown mode

    # ------------------------------------------------------------------ per dataset
    @property
    def skeleton(self) -> Skeleton:
        """The joint layout of the batches (usable before ``setup``: the CLI links it to the model)."""
        raise NotImplementedError

    def read_files(self) -> PoseFiles:
        """Read (and unit-check) the dataset's files; called once per ``setup``, released afterwards."""
        raise NotImplementedError

    def splits(self) -> dict[str, list[str]]:
        """Subjects of every split: ``{"train", "val", "test"}``."""
        h = self.hparams
        return {"train": list(h.train_subjects), "val": list(h.val_subjects), "test": list(h.test_subjects)}

    # ------------------------------------------------------------------ before setup
    @property
    def skeleton_name(self) -> str:
        """The registered name of :attr:`skeleton` (``h36m17``, ``h36m16``, ``humaneva15``)."""
        return self.skeleton.name

    @property
    def num_joints(self) -> int:
        return self.skeleton.num_joints

    @property
    def num_frames(self) -> int:
        return self.hparams.num_frames

    @property
    def window_center(self) -> int:
        """Index of the predicted (centre) frame inside a window: ``(num_frames − 1) // 2``."""
        return window_center(self.hparams.num_frames)

    @property
    def subject_names(self) -> list[str]:
        """Vocabulary of ``batch["subject"]``: train, val, test subjects (first occurrence order)."""
        return list(dict.fromkeys(s for subjects in self.splits().values() for s in subjects))

    @property
    def check_units(self) -> bool:
        """Whether the readers check units (``--data.check_units false`` for an intended unusual scale)."""
        return self.hparams.get("check_units", True)

    # ------------------------------------------------------------------ after setup
    @property
    def action_names(self) -> list[str]:
        """Vocabulary of ``batch["action"]``: the metric groups (available after ``setup``)."""
        if self._action_names is None:
            # AttributeError, so that getattr(dm, "action_names", None) works before setup
            raise AttributeError(
                f"{type(self).__name__}.action_names is known only after setup(); call setup() first"
            )
        return self._action_names

    def arrays(self, split: str) -> PoseArrays:
        """The loaded :class:`PoseArrays` of ``"train"``, ``"val"`` or ``"test"`` (e.g. root trajectories)."""
        if split not in self._arrays:
            raise RuntimeError(
                f"split {split!r} is not loaded; loaded: {sorted(self._arrays)}; call setup() first"
            )
        return self._arrays[split]

    # ------------------------------------------------------------------ loading
    def setup(self, stage: str | None = None) -> None:
        check_self_sharding(self.trainer, type(self).__name__)
        subjects = self.splits()
        splits = [s for s in self._STAGE_SPLITS.get(stage, ("train", "val", "test")) if s in subjects]
        missing = [s for s in splits if s not in self._arrays]
        if not missing:  # already loaded by an earlier stage
            return
        h = self.hparams
        # The raw files are read once per setup call and released afterwards (≈0.5 GB for Human3.6M).
        files = self.read_files()
        if self._action_names is None:
            self._action_names = self._action_vocabulary(files)
        for split in missing:
            downsample = h.get("downsample", 1) if split == "train" else h.get("eval_downsample", 1)
            self._arrays[split] = files.select(
                subjects[split],
                h.get("actions"),
                downsample,
                subject_names=self.subject_names,
                action_names=self._action_names,
            )
            self._datasets[split] = PoseBatchDataset(
                self._arrays[split].to(self._data_device()),
                num_frames=h.num_frames,
                flip_augment=h.get("flip_augment", False) if split == "train" else False,
                seed=h.get("seed", 0),
            )

    def _data_device(self) -> torch.device:
        """Where the batches are gathered: the accelerator the model trains on, else the CPU.

        On a GPU the whole split stays resident (Human3.6M's 1.56M training poses: ≈0.5 GB), so
        batches, windows and flips are gathered there and no step copies data from the host.
        """
        trainer = self.trainer
        return trainer.strategy.root_device if trainer is not None else torch.device("cpu")

    def _action_vocabulary(self, files: PoseFiles) -> list[str]:
        """The metric groups over all subjects of this data module present in the files."""
        available = set(files.subjects())
        present = [s for s in self.subject_names if s in available]
        if not present:
            where = getattr(files, "path_3d", getattr(files, "path", ""))
            raise InputKeyError(
                f"none of the subjects {self.subject_names} is in {where} (subjects: {files.subjects()})"
            )
        return files.groups(present, self.hparams.get("actions"))

    # ------------------------------------------------------------------ resuming
    def state_dict(self) -> dict[str, int]:
        """Where the training stream stands, saved in every checkpoint: ``{"epoch", "batches_done"}``.

        ``batches_done`` counts the batches of ``epoch`` the model has *consumed* (Lightning
        prefetches one more); a finished epoch is recorded as ``(epoch + 1, 0)``.  Resuming
        from the checkpoint (``--ckpt_path``) restores it through :meth:`load_state_dict`,
        and the next training loader continues the same shuffled order and flip masks.
        """
        trainer = self.trainer
        if trainer is None or trainer.state.fn != "fit":
            return {}
        epoch = trainer.current_epoch
        done = batches_processed(trainer)
        if done >= trainer.num_training_batches:
            epoch, done = epoch + 1, 0
        return {"epoch": int(epoch), "batches_done": int(done)}

    def load_state_dict(self, state_dict: dict[str, int]) -> None:
        if not state_dict:
            return
        missing = {"epoch", "batches_done"} - set(state_dict)
        if missing:
            raise KeyError(
                f"{type(self).__name__} state in the checkpoint lacks {sorted(missing)}: got {state_dict}"
            )
        self._resume_position = (int(state_dict["epoch"]), int(state_dict["batches_done"]))

    # ------------------------------------------------------------------ loaders
    def _dataset(self, split: str) -> PoseBatchDataset:
        if split not in self._datasets:
            self.setup({"train": "fit", "val": "validate", "test": "test"}[split])
        return self._datasets[split]

    def train_dataloader(self) -> DataLoader:
        dataset = self._dataset("train")
        rank, world_size = rank_world(self.trainer)
        sampler = BatchIndexSampler(
            len(dataset),
            self.hparams.batch_size,
            shuffle=True,
            seed=self.hparams.seed,
            rank=rank,
            world_size=world_size,
            dataset=dataset,
        )
        if self._resume_position is not None:
            # restored from a checkpoint: continue that epoch where the model stopped
            sampler.resume(*self._resume_position)
            self._resume_position = None
        return ResumableDataLoader(dataset, batch_size=None, sampler=sampler, num_workers=0)

    def val_dataloader(self) -> DataLoader:
        return eval_loader(self._dataset("val"), self.hparams.eval_batch_size, self.trainer)

    def test_dataloader(self) -> DataLoader:
        return eval_loader(self._dataset("test"), self.hparams.eval_batch_size, self.trainer)

    def predict_dataloader(self) -> DataLoader:
        return self.test_dataloader()


class H36MDataModule(PoseDataModule):
    """Human3.6M (VideoPose3D files) for 2D → 3D lifting.

    The default split holds S8 out for validation and never touches the test subjects
    S9/S11 before testing.  The original SemGCN and Modulated GCN codes instead pick the
    best epoch on the test set; to reproduce that, use
    ``train_subjects: [S1, S5, S6, S7, S8]`` and ``val_subjects: [S9, S11]``.

    Args:
        root: folder with ``data_3d_h36m.npz`` and ``data_2d_h36m_<source>.npz``.
        source: 2D source: ``gt``, ``cpn_ft_h36m_dbb``, ``sh_ft_h36m``, ``sh_pt_mpii`` or any custom name:
            the file ``data_2d_h36m_<source>.npz`` is read, nothing else.
        num_joints: 17 (VideoPose3D/CPN layout) or 16 (SemGCN/Modulated GCN GT layout, no Neck/Nose).
        train_subjects, val_subjects, test_subjects: subject splits (``predict`` uses the test split).
        actions: action groups (``Walking``) or exact takes (``Walking 1``); ``None`` = all.
        downsample: keep every n-th frame for training; ``eval_downsample`` for validation/test.
        batch_size, eval_batch_size: batch sizes for training and for evaluation/prediction.
        num_frames: temporal window length ``T`` (1 = single-frame models).
        flip_augment: horizontal flip augmentation of the training set: ``false``, ``true`` (=
            ``random_half``: a random half of every batch) or ``duplicate`` (a mirrored copy of every
            training pose, 2N samples per epoch: the Modulated GCN CPN code); see :class:`PoseBatchDataset`.
        seed: seed of the per-epoch shuffling and flip streams.
        cameras: camera calibration JSON, ``None`` for the one shipped with posegcn.
        check_units: check bone lengths (metres), pixel ranges and 2D/3D frame counts while reading
            (:mod:`posegcn.data.units`); ``False`` for a file whose unusual scale is intended.
    """

    def __init__(
        self,
        root: str = "data/h36m",
        source: str = "gt",
        num_joints: int = 17,
        train_subjects: list[str] = ["S1", "S5", "S6", "S7"],  # noqa: B006 (copied, never mutated)
        val_subjects: list[str] = ["S8"],  # noqa: B006
        test_subjects: list[str] = ["S9", "S11"],  # noqa: B006
        actions: list[str] | None = None,
        downsample: int = 1,
        eval_downsample: int = 1,
        batch_size: int = 64,
        eval_batch_size: int = 1024,
        num_frames: int = 1,
        flip_augment: FlipMode = False,
        seed: int = 0,
        cameras: str | None = None,
        check_units: bool = True,
    ):
        super().__init__()
        self.save_hyperparameters()
        self.check_arguments()

    @property
    def skeleton(self) -> Skeleton:
        return h36m_skeleton(self.hparams.num_joints)

    @property
    def file_source(self) -> str:
        """The ``<source>`` of the ``data_2d_h36m_<source>.npz`` file that is read."""
        return self.hparams.source

    def read_files(self) -> H36MFiles:
        h = self.hparams
        return H36MFiles.read(h.root, self.file_source, self.check_units, h.num_joints, h.cameras)


class HumanEvaDataModule(PoseDataModule):
    """HumanEva-I (VideoPose3D files) for 2D → 3D lifting with the 15-joint skeleton.

    The papers' protocol is the default: train on ``Train/S1…S3``, evaluate on ``Validate/S1…S3``
    (HumanEva-I's test set has no public ground truth; VideoPose3D and DG-Net test on the
    validation split, which is therefore also the validation set here), Walking and Jog.
    Metric groups are ``"<action>/<subject>"``, so the per-action table is the papers' table.

    Args:
        root: folder with ``data_3d_humaneva15.npz`` and ``data_2d_humaneva15_<source>.npz``.
        source: 2D source (``gt``, or a 15-joint detector file).
        num_joints: must be 15 (present so the command links it to the model).
        train_subjects, val_subjects, test_subjects: split-qualified subjects (``predict`` uses the test split).
        actions: take-name prefixes, e.g. ``["Walking", "Jog"]`` (``["Walking", "Jog", "Box"]`` as VideoPose3D);
            ``None`` = all.
        downsample, eval_downsample: keep every n-th frame for training / evaluation.
        batch_size, eval_batch_size, num_frames, flip_augment, seed: as :class:`H36MDataModule`.
        check_units: check bone lengths, pixel ranges and frame counts while reading (:mod:`posegcn.data.units`).
    """

    def __init__(
        self,
        root: str = "data/humaneva",
        source: str = "gt",
        num_joints: int = 15,
        train_subjects: list[str] = ["Train/S1", "Train/S2", "Train/S3"],  # noqa: B006 (never mutated)
        val_subjects: list[str] = ["Validate/S1", "Validate/S2", "Validate/S3"],  # noqa: B006
        test_subjects: list[str] = ["Validate/S1", "Validate/S2", "Validate/S3"],  # noqa: B006
        actions: list[str] | None = ["Walking", "Jog"],  # noqa: B006
        downsample: int = 1,
        eval_downsample: int = 1,
        batch_size: int = 64,
        eval_batch_size: int = 1024,
        num_frames: int = 1,
        flip_augment: FlipMode = False,
        seed: int = 0,
        check_units: bool = True,
    ):
        super().__init__()
        self.save_hyperparameters()
        self.check_arguments()

    @property
    def skeleton(self) -> Skeleton:
        if self.hparams.num_joints != HUMANEVA_15.num_joints:
            raise PoseGCNInputError(
                f"HumanEva-I has 15 joints, got num_joints={self.hparams.num_joints}; a model config's data section "
                f"sets its own joint count, so put configs/data/humaneva.yaml after it (or pass --data.num_joints 15)"
            )
        return HUMANEVA_15

    def read_files(self) -> HumanEvaFiles:
        return HumanEvaFiles.read(self.hparams.root, self.hparams.source, self.check_units)


class MPIINF3DHPDataModule(PoseDataModule):
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
        self.save_hyperparameters()
        self.check_arguments()
        if groups not in ("scene", "sequence"):
            raise PoseGCNInputError(f"groups must be 'scene' or 'sequence', got {groups!r}")

    @property
    def skeleton(self) -> Skeleton:
        return h36m_skeleton(self.hparams.num_joints)

    @property
    def eval_joints(self) -> list[int]:
        """The 14 joints of the MPI-INF-3DHP PCK protocol, as indices into :attr:`skeleton` (by joint name)."""
        return [self.skeleton.index(H36M_17.names[j]) for j in MPI_INF_3DHP_14_OF_H36M_17]

    def splits(self) -> dict[str, list[str]]:
        return {"test": list(self.hparams.sequences)}

    def read_files(self) -> MPIINF3DHPTestFile:
        h = self.hparams
        return MPIINF3DHPTestFile.read(h.root, h.file, self.check_units, h.num_joints, h.groups)

    def setup(self, stage: str | None = None) -> None:
        if stage in ("fit", "validate"):
            raise PoseGCNInputError(
                f"MPIINF3DHPDataModule holds the MPI-INF-3DHP *test* set for cross-dataset evaluation: use "
                f"'posegcn test' or 'posegcn predict' (got stage {stage!r}); train on Human3.6M"
            )
        super().setup("test")

    def arrays(self, split: str = "test") -> PoseArrays:
        return super().arrays(split)
