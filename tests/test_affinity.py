"""Affinity extraction equals the matrices the layers use; strongest edges beyond the skeleton."""

from __future__ import annotations

import pytest
import torch

from posegcn.analysis.affinity import (
    dynamic_affinities,
    edge_evolution,
    layer_affinities,
    non_skeleton_mask,
    strongest_edges,
)
from posegcn.lift import load_module
from posegcn.models import ModulatedGCN, SemGCN
from posegcn.models.dgnet import DGNet
from posegcn.skeleton import H36M_16, H36M_17


def test_modgcn_affinity_is_symmetrised_a_plus_q(modgcn_run):
    torch.manual_seed(0)
    net = ModulatedGCN(H36M_16, hidden=8, num_blocks=1)
    layers = [m for m in net.modules() if type(m).__name__ == "AffinityModulation"]
    qs = []
    for layer in layers:
        q = torch.randn(16, 16) * 0.1
        layer.Q.data.copy_(q)
        qs.append(q)
    got = layer_affinities(net)
    assert len(got) == len(layers) == 4  # input, 2 in the block, output
    a = H36M_16.adjacency("degree_diag1")  # Modulated GCN's fixed affinity, conventions §5
    for (name, aff), q in zip(got.items(), qs):
        expected = ((a + q) + (a + q).T) / 2
        torch.testing.assert_close(aff, expected, msg=name)
    # the same through the LightningModule `posegcn fit` wrote (its .net)
    module = load_module(str(modgcn_run.best))
    through_module, of_net = layer_affinities(module), layer_affinities(module.net)
    assert list(through_module) == list(of_net) and len(of_net) == 10  # input, 4 blocks of 2, output
    for name, aff in of_net.items():
        torch.testing.assert_close(through_module[name], aff, msg=name)


def test_semgcn_affinity_is_row_softmax_on_the_skeleton():
    torch.manual_seed(0)
    net = SemGCN(H36M_16, hidden=8, num_blocks=1)
    for p in net.parameters():
        p.data.normal_()
    mask = H36M_16.adjacency("self_loops").bool()
    for name, a in layer_affinities(net).items():
        torch.testing.assert_close(a.sum(dim=1), torch.ones(16), msg=name)
        assert (a[~mask] == 0).all(), name
        assert (a[mask] > 0).all(), name
    # SemGCN cannot have edges beyond the skeleton
    assert all(edges == [] for edges in strongest_edges(layer_affinities(net), H36M_16).values())


def test_channelwise_semgcn_is_averaged_over_channels():
    net = SemGCN(H36M_16, hidden=8, num_blocks=1, channelwise=True)
    for p in net.parameters():
        p.data.normal_()
    layer = net.gconv_output
    per_channel = layer.edge_weights()
    assert per_channel.dim() == 3
    torch.testing.assert_close(layer_affinities(net)["gconv_output"], per_channel.mean(0))


def test_fixed_affinities_can_be_left_out():
    net = ModulatedGCN(H36M_16, hidden=8, num_blocks=1, affinity="skeleton")
    assert len(layer_affinities(net)) == 4
    assert layer_affinities(net, include_fixed=False) == {}
    learned = ModulatedGCN(H36M_16, hidden=8, num_blocks=1)
    with torch.inference_mode():  # as inside Lightning's evaluation loops
        assert len(layer_affinities(learned, include_fixed=False)) == 4


def test_strongest_edges_beyond_the_skeleton():
    a = torch.zeros(17, 17)
    a += torch.eye(17) * 5  # self-loops never count
    a[1, 2] = a[2, 1] = 9.0  # RHip–RKnee is a bone: excluded
    a[13, 16] = 3.0  # LWrist → RWrist (asymmetric: strength (3 + 1)/2 = 2)
    a[16, 13] = 1.0
    a[3, 6] = a[6, 3] = -2.5  # RFoot–LFoot, negative: strength by magnitude
    a[10, 0] = 0.5  # Head → Hip: 0.25
    edges = strongest_edges({"layer": a}, H36M_17, k=3)["layer"]
    assert [(e.name_i, e.name_j) for e in edges] == [
        ("RFoot", "LFoot"),
        ("LWrist", "RWrist"),
        ("Hip", "Head"),
    ]
    assert [e.weight for e in edges] == pytest.approx([2.5, 2.0, 0.25])
    # with bones allowed the bone wins
    assert strongest_edges({"layer": a}, H36M_17, k=1, beyond_skeleton=False)["layer"][0].weight == 9.0
    assert edge_evolution({"l0": a, "l1": 2 * a}, [(13, 16)]) == {(13, 16): [2.0, 4.0]}
    mask = non_skeleton_mask(H36M_17)
    assert mask.sum() == 17 * 16 - 2 * len(H36M_17.bones)
    with pytest.raises(ValueError, match="h36m17"):
        strongest_edges({"bad": torch.zeros(16, 16)}, H36M_17)


def test_dgnet_dynamic_affinities(modgcn_run):
    torch.manual_seed(0)
    net = DGNet(H36M_17, num_frames=3, hidden=8, num_blocks=2, k_spatial=3, k_temporal=4)
    net.train()
    graphs = dynamic_affinities(net, torch.randn(2, 3, 17, 2), block=1)
    assert net.training  # mode restored
    spatial = [k for k in graphs if k.startswith("spatial")]
    temporal = [k for k in graphs if k.startswith("temporal")]
    assert spatial and temporal
    for name, g in graphs.items():
        assert g.shape == (2, 3, 17, 17), name
        k = 3 if name in spatial else 4
        assert ((g != 0).sum(-1) == k).all(), name  # K neighbours per row
        torch.testing.assert_close(g.sum(-1), torch.ones(2, 3, 17), msg=name)  # softmax weighting
    assert {e.layer for edges in strongest_edges(graphs, H36M_17).values() for e in edges} <= set(graphs)
    with pytest.raises(ValueError, match="DG-Net"):
        dynamic_affinities(load_module(str(modgcn_run.best)), torch.zeros(1, 16, 2))
