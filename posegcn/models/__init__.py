"""2D→3D lifting networks."""

from posegcn.models.base import GraphLiftingNetwork
from posegcn.models.dgnet import DGNet, DGNetOutput
from posegcn.models.inference import inference_form
from posegcn.models.modgcn import ModulatedGCN
from posegcn.models.refinement import GTRootDepthRefinement
from posegcn.models.semgcn import SemGCN

__all__ = [
    "DGNet",
    "DGNetOutput",
    "GTRootDepthRefinement",
    "GraphLiftingNetwork",
    "ModulatedGCN",
    "SemGCN",
    "inference_form",
]
