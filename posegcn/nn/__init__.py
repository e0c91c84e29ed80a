"""Graph layers of SemGCN and Modulated GCN, and the non-local blocks."""

from posegcn.nn.affinity import AFFINITY_VARIANTS, AffinityModulation
from posegcn.nn.blocks import GraphConvBlock, ResidualGraphBlock, RowBatchNorm
from posegcn.nn.graph_conv import GraphConv, WeightUnsharingGraphConv, set_fused
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
    "RowBatchNorm",
    "SEMGCN_JOINT_GROUPS_16",
    "SemGraphConv",
    "WeightUnsharingGraphConv",
    "set_fused",
]
