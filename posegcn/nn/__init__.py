"""Graph layers of SemGCN and Modulated GCN, and the non-local blocks."""

from posegcn.nn.affinity import AFFINITY_VARIANTS, AffinityModulation
from posegcn.nn.blocks import GraphConvBlock, ResidualGraphBlock
from posegcn.nn.graph_conv import GraphConv, WeightUnsharingGraphConv
from posegcn.nn.modulated_graph_conv import ModulatedGraphConv
from posegcn.nn.non_local import SEMGCN_JOINT_GROUPS_16, EmbeddedGaussianNonLocal, GroupedNonLocal
from posegcn.nn.sem_graph_conv import SemGraphConv

__all__ = [
    "AFFINITY_VARIANTS",
    "AffinityModulation",
    "EmbeddedGaussianNonLocal",
    "GraphConv",
    "GraphConvBlock",
    "GroupedNonLocal",
    "ModulatedGraphConv",
    "ResidualGraphBlock",
    "SEMGCN_JOINT_GROUPS_16",
    "SemGraphConv",
    "WeightUnsharingGraphConv",
]
