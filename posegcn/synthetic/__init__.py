"""Synthetic pose data in the exact file formats of Human3.6M, HumanEva-I and MPI-INF-3DHP.

Human3.6M is licensed, so posegcn ships this generator: it writes the same files a user of the
real datasets has, and the same readers (:mod:`posegcn.data.formats`) run on a fresh machine
(demo, tests, benchmarks).  README.md § The embedded synthetic dataset.

* :mod:`~posegcn.synthetic.kinematics` — bodies (32-marker tree, per-subject bone lengths) and forward kinematics;
* :mod:`~posegcn.synthetic.motions` — per-action joint-angle trajectories;
* :mod:`~posegcn.synthetic.detector` — the detector stand-ins ``synth_det`` and ``synth_sh``;
* :mod:`~posegcn.synthetic.layouts` — the three file layouts;
* :mod:`~posegcn.synthetic.datamodule` — :class:`SyntheticH36MDataModule`;
* ``python -m posegcn.synthetic --root DIR`` writes the Human3.6M files.

:mod:`posegcn.data` never imports this package.
"""

from posegcn.synthetic.datamodule import SyntheticH36MDataModule
from posegcn.synthetic.kinematics import (
    FPS,
    SYNTHETIC_ACTIONS,
    SYNTHETIC_SOURCES,
    SYNTHETIC_SUBJECTS,
    SYNTHETIC_TAKES,
    SYNTHETIC_VERSION,
    synthetic_skeleton_offsets,
)
from posegcn.synthetic.layouts import (
    ensure_synthetic_h36m,
    generate_synthetic_3dhp_test,
    generate_synthetic_h36m,
    generate_synthetic_humaneva,
)

__all__ = [
    "FPS",
    "SYNTHETIC_ACTIONS",
    "SYNTHETIC_SOURCES",
    "SYNTHETIC_SUBJECTS",
    "SYNTHETIC_TAKES",
    "SYNTHETIC_VERSION",
    "SyntheticH36MDataModule",
    "ensure_synthetic_h36m",
    "generate_synthetic_3dhp_test",
    "generate_synthetic_h36m",
    "generate_synthetic_humaneva",
    "synthetic_skeleton_offsets",
]
