"""What the graph networks learned: every layer's effective affinity and its strongest edges.

A graph layer aggregates joint ``i``'s output from the joints ``j`` with non-zero
affinity ``Â[i, j]``.  What ``Â`` is depends on the architecture:

* **Modulated GCN** (:class:`~posegcn.nn.modulated_graph_conv.ModulatedGraphConv`):
  ``Â = A + Q`` (or the ablation's variant), symmetrised ``(Â + Âᵀ)/2`` as the
  original code does — exactly the matrix the forward pass uses
  (``effective_affinity()``).  ``Q`` is dense, so edges *beyond the skeleton* appear.
* **SemGCN** (:class:`~posegcn.nn.sem_graph_conv.SemGraphConv`): the row-softmax of the
  learned edge weights over the mask ``A + I`` (``edge_weights()``; paper Eq. 2).  The
  channel-wise variant (Eq. 3) has one matrix per output channel: their mean is shown.
  Non-skeleton entries are zero by construction.
* **DG-Net**: its fixed spatial graph ``D⁻¹(A + I)`` is not learned; what it learns are,
  per sample and frame, the KNN graphs of its DSG (``B_t``, Eq. 6) and DTG
  (``Q_{t±1}``, Eq. 13) layers (:func:`dynamic_affinities` — they need an input).

:func:`layer_affinities` collects the static matrices of any posegcn network or
LightningModule; :func:`strongest_edges` lists, per layer, the strongest joint pairs
that are not bones; :func:`edge_evolution` follows chosen pairs through the layers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from posegcn.skeleton import Skeleton

__all__ = [
    "Edge",
    "network_of",
    "layer_affinities",
    "dynamic_affinities",
    "non_skeleton_mask",
    "strongest_edges",
    "edge_evolution",
]


@dataclass(frozen=True)
class Edge:
    """An undirected joint pair with its strength in one layer."""

    layer: str
    i: int
    j: int
    name_i: str
    name_j: str
    weight: float

    def __str__(self) -> str:
        return f"{self.layer}: {self.name_i} — {self.name_j} ({self.weight:+.4f})"


def network_of(module: nn.Module) -> nn.Module:
    """The pure-torch network of a posegcn LightningModule (its ``.net``), or ``module`` itself."""
    return getattr(module, "net", module)


def _affinity_layers(net: nn.Module):
    # Any layer with a static effective affinity: GraphConv, SemGraphConv, ModulatedGraphConv,
    # WeightUnsharingGraphConv and DG-Net's fixed spatial graph.
    for name, m in net.named_modules():
        if callable(getattr(m, "effective_affinity", None)):
            yield name, m


@torch.no_grad()
def layer_affinities(module: nn.Module, include_fixed: bool = True) -> dict[str, torch.Tensor]:
    """Every graph layer's effective affinity ``[J, J]`` (float32, CPU), input to output.

    Keys are module names inside the network (``gconv_input.0.gconv``…).  ``include_fixed``
    keeps layers whose affinity is a constant buffer (plain ``GraphConv``, DG-Net's FSG);
    ``False`` keeps only those with learnable affinities.
    """
    out: dict[str, torch.Tensor] = {}
    for name, layer in _affinity_layers(network_of(module)):
        if not include_fixed and _fixed(layer):
            continue
        a = layer.effective_affinity().detach().float().cpu()
        if a.dim() == 3:  # channel-wise SemGCN: one softmax per output channel
            a = a.mean(dim=0)
        out[name or type(layer).__name__] = a
    return out


def _fixed(layer: nn.Module) -> bool:
    """A layer whose effective affinity is a registered buffer (no affinity parameters)."""
    # layer_affinities runs under no_grad, Lightning's evaluation under inference mode: re-enable autograd
    with torch.inference_mode(False), torch.enable_grad():
        return not layer.effective_affinity().requires_grad


@torch.no_grad()
def dynamic_affinities(module: nn.Module, pose_2d: torch.Tensor, block: int = 0) -> dict[str, torch.Tensor]:
    """DG-Net's dynamical graphs of one block for input windows ``pose_2d [B, T, J, 2]``.

    Returns, per DSG layer, ``B_t [B, T, J, J]`` under its module name and, per DTG
    layer, ``Q_{t+1}`` and ``Q_{t−1}`` ``[B, T, J, J]`` under ``<name>/next`` and
    ``<name>/prev``.  The network is put in eval mode for the pass and restored after.
    """
    net = network_of(module)
    if not hasattr(net, "dynamic_affinities"):
        raise ValueError(f"{type(net).__name__} has no dynamical graphs (only DG-Net does)")
    was_training = net.training
    net.eval()
    try:
        raw = net.dynamic_affinities(pose_2d, block=block)
    finally:
        net.train(was_training)
    out: dict[str, torch.Tensor] = {}
    for name, value in raw.items():
        if isinstance(value, tuple):
            out[f"{name}/next"], out[f"{name}/prev"] = (v.float().cpu() for v in value)
        else:
            out[name] = value.float().cpu()
    return out


def non_skeleton_mask(skeleton: Skeleton) -> torch.Tensor:
    """``[J, J]`` bool: off-diagonal pairs that are *not* bones of ``skeleton``."""
    a = skeleton.adjacency("binary").bool()
    return ~a & ~torch.eye(skeleton.num_joints, dtype=torch.bool)


def strongest_edges(
    affinities: Mapping[str, torch.Tensor], skeleton: Skeleton, k: int = 5, beyond_skeleton: bool = True
) -> dict[str, list[Edge]]:
    """The ``k`` strongest undirected joint pairs of each layer, strongest first.

    A pair's strength is ``(|Â[i, j]| + |Â[j, i]|) / 2`` (affinities need not be symmetric:
    SemGCN's softmax rows, DG-Net's KNN graphs).  With ``beyond_skeleton`` only pairs that
    are not bones count (self-loops never do).  Extra leading dims (samples, frames) of a
    dynamic affinity are averaged first.  Pairs of zero strength are left out.
    """
    names = skeleton.names
    allowed = (
        non_skeleton_mask(skeleton) if beyond_skeleton else ~torch.eye(skeleton.num_joints, dtype=torch.bool)
    )
    upper = torch.triu(torch.ones_like(allowed), diagonal=1) & allowed
    out: dict[str, list[Edge]] = {}
    for layer, a in affinities.items():
        a = a.detach().float().cpu()
        if a.shape[-2:] != (skeleton.num_joints,) * 2:
            raise ValueError(
                f"strongest_edges: layer {layer!r} has affinity {tuple(a.shape)}, expected [..., "
                f"{skeleton.num_joints}, {skeleton.num_joints}] for skeleton {skeleton.name!r}"
            )
        a = a.abs().reshape(-1, *a.shape[-2:]).mean(dim=0)
        strength = 0.5 * (a + a.T)
        values = strength[upper]
        idx = upper.nonzero()
        order = values.argsort(descending=True)[:k]
        out[layer] = [
            Edge(layer, int(idx[o, 0]), int(idx[o, 1]), names[idx[o, 0]], names[idx[o, 1]], float(values[o]))
            for o in order
            if values[o] > 0
        ]
    return out


def edge_evolution(
    affinities: Mapping[str, torch.Tensor], pairs: Sequence[tuple[int, int]]
) -> dict[tuple[int, int], list[float]]:
    """Symmetric strength ``(|Â[i, j]| + |Â[j, i]|)/2`` of each pair in every layer (layer order).

    Use it to see how the strongest non-skeleton edges change from input to output.
    """
    mats = [
        a.detach().float().cpu().abs().reshape(-1, *a.shape[-2:]).mean(dim=0) for a in affinities.values()
    ]
    return {(i, j): [float(0.5 * (m[i, j] + m[j, i])) for m in mats] for i, j in pairs}
