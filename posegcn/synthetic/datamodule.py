"""The Human3.6M data module on synthetic files, generated on first use.

Which 2D file is read is explicit: ``source`` names a file the generator writes (``gt``,
``synth_det``, ``synth_sh``), or a real detector's name that ``stand_ins`` maps to one of them.
``configs/data/synthetic.yaml`` maps the detectors of the paper configs, so that every paper
config runs on synthetic data by adding that file, and the mapping is logged at ``setup``::

    stand_ins: {cpn_ft_h36m_dbb: synth_det, sh_ft_h36m: synth_sh, ...}

The Human3.6M data module itself never substitutes a file: ``source: cpn_ft_h36m_dbb`` reads
``data_2d_h36m_cpn_ft_h36m_dbb.npz`` or fails.
"""

from __future__ import annotations

from lightning.pytorch.utilities import rank_zero_info

from posegcn.data import H36MDataModule
from posegcn.errors import PoseGCNInputError
from posegcn.synthetic.kinematics import SYNTHETIC_SOURCES
from posegcn.synthetic.layouts import ensure_synthetic_h36m

__all__ = ["SyntheticH36MDataModule"]


class SyntheticH36MDataModule(H36MDataModule):
    """:class:`~posegcn.data.H36MDataModule` on synthetic Human3.6M-format files generated on first use.

    ``prepare_data`` (rank 0 only) writes ``data_3d_h36m.npz`` and
    ``data_2d_h36m_{gt,synth_det,synth_sh}.npz`` into ``root`` unless identical files are
    there; loading then follows exactly the Human3.6M path.

    Args:
        source: ``gt``, ``synth_det`` (CPN-like detections, 17 joints), ``synth_sh``
            (Stacked-Hourglass-like, 16 joints) or a key of ``stand_ins``.
        stand_ins: real 2D source names read as a synthetic one, e.g. ``{cpn_ft_h36m_dbb: synth_det}``
            (``configs/data/synthetic.yaml`` lists the paper configs' detectors); logged when used.
        frames_per_take: frames of every synthetic take.
        synthetic_seed: seed of the generator (independent of ``seed``).
        (others as :class:`~posegcn.data.H36MDataModule`)
    """

    def __init__(
        self,
        root: str = "data/synthetic",
        stand_ins: dict[str, str] | None = None,
        frames_per_take: int = 200,
        synthetic_seed: int = 0,
        **kwargs,
    ):
        super().__init__(root=root, **kwargs)  # every other argument is H36MDataModule's
        bad = {k: v for k, v in (stand_ins or {}).items() if v not in SYNTHETIC_SOURCES}
        if bad:
            raise PoseGCNInputError(
                f"stand_ins {bad}: a stand-in must be a synthetic 2D source, one of {list(SYNTHETIC_SOURCES)}"
            )

    @property
    def file_source(self) -> str:
        """The synthetic 2D source read: ``source`` itself or its stand-in."""
        source = self.hparams.source
        stand_ins = self.hparams.stand_ins or {}
        if source in stand_ins:
            return stand_ins[source]
        if source not in SYNTHETIC_SOURCES:
            raise PoseGCNInputError(
                f"source {source!r} is not a synthetic 2D source {list(SYNTHETIC_SOURCES)} and has no stand-in: "
                f"add it to --data.stand_ins (configs/data/synthetic.yaml maps the paper configs' detectors, "
                f"e.g. cpn_ft_h36m_dbb: synth_det)"
            )
        return source

    def prepare_data(self) -> None:
        ensure_synthetic_h36m(self.hparams.root, self.hparams.frames_per_take, self.hparams.synthetic_seed)

    def setup(self, stage: str | None = None) -> None:
        if self.trainer is None:  # used on its own: nobody called prepare_data
            self.prepare_data()
        if not self._arrays and self.file_source != self.hparams.source:
            rank_zero_info(
                f"SyntheticH36MDataModule: source {self.hparams.source!r} reads the synthetic stand-in "
                f"data_2d_h36m_{self.file_source}.npz (stand_ins)"
            )
        super().setup(stage)
