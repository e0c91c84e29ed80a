"""Pose data, one flow: files → arrays in memory → batches (README.md § Data).

* :mod:`posegcn.data.formats` — one reader per file format (Human3.6M, HumanEva-I, MPI-INF-3DHP);
* :mod:`posegcn.data.arrays` — :class:`PoseArrays` and the one selection algorithm (:meth:`PoseFiles.select`);
* :mod:`posegcn.data.codec` — :class:`PoseCodec`, the one normalisation (pixels ↔ model units);
* :mod:`posegcn.data.batches` — batches, temporal windows, flips, samplers and sharding;
* :mod:`posegcn.data.datamodule` — :class:`PoseDataModule` and its Human3.6M, HumanEva-I and
  MPI-INF-3DHP subclasses;
* :mod:`posegcn.data.units` — the unit checks every reader calls.

The synthetic stand-in data live in their own package, :mod:`posegcn.synthetic`.
"""

from posegcn.data.arrays import PoseArrays, PoseFiles, View
from posegcn.data.batches import BatchIndexSampler, PoseBatchDataset, window_indices
from posegcn.data.codec import PoseCodec
from posegcn.data.datamodule import H36MDataModule, HumanEvaDataModule, MPIINF3DHPDataModule, PoseDataModule
from posegcn.data.formats import (
    DATA_3D_FILE,
    H36MFiles,
    HumanEvaFiles,
    MPIINF3DHPTestFile,
    action_group,
    data_2d_file,
    load_h36m,
    load_humaneva,
    load_mpi_inf_3dhp_test,
)

__all__ = [
    "DATA_3D_FILE",
    "BatchIndexSampler",
    "H36MDataModule",
    "H36MFiles",
    "HumanEvaDataModule",
    "HumanEvaFiles",
    "MPIINF3DHPDataModule",
    "MPIINF3DHPTestFile",
    "PoseArrays",
    "PoseBatchDataset",
    "PoseCodec",
    "PoseDataModule",
    "PoseFiles",
    "View",
    "action_group",
    "data_2d_file",
    "load_h36m",
    "load_humaneva",
    "load_mpi_inf_3dhp_test",
    "window_indices",
]

#: Names that moved out of this package: an old config or import fails naming the new place.
_MOVED = {
    "SyntheticH36MDataModule": "posegcn.synthetic.SyntheticH36MDataModule",
    "synthetic": "posegcn.synthetic",
}


def __getattr__(name: str):
    if name in _MOVED:
        raise ImportError(
            f"posegcn.data.{name} moved to {_MOVED[name]} (class_path: {_MOVED[name]} in a config); "
            f"the synthetic data are their own package, see README.md § The embedded synthetic dataset"
        )
    raise AttributeError(f"module 'posegcn.data' has no attribute {name!r}")
