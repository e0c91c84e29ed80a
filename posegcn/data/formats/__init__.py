"""One reader per file format, each a :class:`~posegcn.data.arrays.PoseFiles` (README.md § Data).

* :mod:`~posegcn.data.formats.h36m` — Human3.6M, VideoPose3D ``data_3d_h36m.npz`` + ``data_2d_h36m_<source>.npz``;
* :mod:`~posegcn.data.formats.humaneva` — HumanEva-I, VideoPose3D ``data_3d_humaneva15.npz`` + 2D file;
* :mod:`~posegcn.data.formats.mpi_inf_3dhp` — the MPI-INF-3DHP test set, P-STMO ``data_test_3dhp.npz``.

Every reader validates shapes and finiteness and calls the unit checks of :mod:`posegcn.data.units`.
"""

from posegcn.data.formats.h36m import DATA_3D_FILE, H36MFiles, action_group, data_2d_file, load_h36m
from posegcn.data.formats.humaneva import HumanEvaFiles, load_humaneva
from posegcn.data.formats.mpi_inf_3dhp import MPIINF3DHPTestFile, load_mpi_inf_3dhp_test

__all__ = [
    "DATA_3D_FILE",
    "H36MFiles",
    "HumanEvaFiles",
    "MPIINF3DHPTestFile",
    "action_group",
    "data_2d_file",
    "load_h36m",
    "load_humaneva",
    "load_mpi_inf_3dhp_test",
]
