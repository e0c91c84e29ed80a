"""Human3.6M data: file loading, the pose codec, batched datasets and LightningDataModules."""

from posegcn.data.codec import PoseCodec
from posegcn.data.datamodule import (
    BatchIndexSampler,
    H36MDataModule,
    PoseBatchDataset,
    SyntheticH36MDataModule,
)
from posegcn.data.h36m import DATA_3D_FILE, H36MFiles, PoseArrays, action_group, data_2d_file, load_h36m

__all__ = [
    "DATA_3D_FILE",
    "BatchIndexSampler",
    "H36MDataModule",
    "H36MFiles",
    "PoseArrays",
    "PoseBatchDataset",
    "PoseCodec",
    "SyntheticH36MDataModule",
    "action_group",
    "data_2d_file",
    "load_h36m",
]
