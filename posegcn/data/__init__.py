"""Pose data (Human3.6M; HumanEva-I, MPI-INF-3DHP test): loaders, codec, batched datasets, DataModules."""

from posegcn.data.codec import PoseCodec
from posegcn.data.datamodule import (
    BatchIndexSampler,
    H36MDataModule,
    PoseBatchDataset,
    SyntheticH36MDataModule,
)
from posegcn.data.h36m import DATA_3D_FILE, H36MFiles, PoseArrays, action_group, data_2d_file, load_h36m
from posegcn.data.humaneva import HumanEvaDataModule, HumanEvaFiles, load_humaneva
from posegcn.data.mpi_inf_3dhp import MPIINF3DHPDataModule, MPIINF3DHPTestFile, load_mpi_inf_3dhp_test

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
    "SyntheticH36MDataModule",
    "action_group",
    "data_2d_file",
    "load_h36m",
    "load_humaneva",
    "load_mpi_inf_3dhp_test",
]
