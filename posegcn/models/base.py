"""What the 2D→3D lifting graph networks share: shape handling and layer inspection."""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch import nn

from posegcn.nn.graph_conv import GraphConv, WeightUnsharingGraphConv
from posegcn.nn.modulated_graph_conv import ModulatedGraphConv
from posegcn.nn.sem_graph_conv import SemGraphConv
from posegcn.skeleton import Skeleton

__all__ = ["GRAPH_LAYER_TYPES", "GraphLiftingNetwork"]

#: Layer classes that :meth:`GraphLiftingNetwork.graph_layers` yields.
GRAPH_LAYER_TYPES = (GraphConv, WeightUnsharingGraphConv, SemGraphConv, ModulatedGraphConv)


class GraphLiftingNetwork(nn.Module):
    """Base of single-frame lifting networks ``[..., J, 2] → [..., J, 3]``.

    Subclasses implement :meth:`lift` on ``[N, J, 2]``; :meth:`forward` validates the
    input against the skeleton and flattens/restores any leading dims
    (``[B, J, 2]`` or ``[B, T, J, 2]``).
    """

    in_features: int = 2
    out_features: int = 3

    def __init__(self, skeleton: Skeleton) -> None:
        super().__init__()
        if not isinstance(skeleton, Skeleton):
            raise ValueError(
                f"{type(self).__name__}: expected a posegcn.skeleton.Skeleton, got {type(skeleton)}"
            )
        self.skeleton = skeleton

    @property
    def num_joints(self) -> int:
        return self.skeleton.num_joints

    def lift(self, x: torch.Tensor) -> torch.Tensor:
        """``[N, J, 2] → [N, J, 3]``."""
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        j = self.num_joints
        if x.dim() < 3 or x.shape[-2] != j or x.shape[-1] != self.in_features:
            hint = ""
            if x.dim() >= 2 and {x.shape[-2], j} == {16, 17}:
                hint = (
                    " — 16- vs 17-joint mix-up: H36M_16 (SemGCN, Modulated GCN GT, SH detections) lacks "
                    "Neck/Nose; CPN detections have 17 joints"
                )
            raise ValueError(
                f"{type(self).__name__} built for skeleton {self.skeleton.name!r} expects 2D poses "
                f"[B, {j}, {self.in_features}] (or [B, T, {j}, {self.in_features}]), got shape {tuple(x.shape)}{hint}"
            )
        lead = x.shape[:-2]
        y = self.lift(x.reshape(-1, j, self.in_features))
        return y.view(*lead, j, self.out_features)

    def graph_layers(self) -> Iterator[nn.Module]:
        """The graph-convolution layers, input to output (for affinity inspection)."""
        return (m for m in self.modules() if isinstance(m, GRAPH_LAYER_TYPES))
