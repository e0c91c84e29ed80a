"""Original SemGCN / Modulated GCN weights load into posegcn's networks and give the same outputs.

The ``Orig*`` classes below re-type the original code's modules (same parameter names and
forward passes, transposes and all) so that their state dicts have the original layout.
"""

from __future__ import annotations

import math
from functools import reduce

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from posegcn.models import ModulatedGCN, SemGCN
from posegcn.models.original_checkpoints import (
    OriginalCheckpointError,
    OriginalLayout,
    describe_original,
    load_original_state_dict,
)
from posegcn.nn.non_local import SEMGCN_JOINT_GROUPS_16
from posegcn.skeleton import H36M_16, H36M_17


class OrigSemGraphConv(nn.Module):
    def __init__(self, i, o, adj):
        super().__init__()
        self.W = nn.Parameter(torch.randn(2, i, o) * 0.1)
        self.adj, self.m = adj, adj > 0
        self.e = nn.Parameter(torch.randn(1, int(self.m.sum())))
        self.bias = nn.Parameter(torch.randn(o) / math.sqrt(o))

    def forward(self, x):
        h0, h1 = torch.matmul(x, self.W[0]), torch.matmul(x, self.W[1])
        adj = -9e15 * torch.ones_like(self.adj)
        adj[self.m] = self.e
        adj = F.softmax(adj, dim=1)
        m = torch.eye(adj.size(0))
        return torch.matmul(adj * m, h0) + torch.matmul(adj * (1 - m), h1) + self.bias.view(1, 1, -1)


class OrigModulatedGraphConv(nn.Module):
    def __init__(self, i, o, adj):
        super().__init__()
        self.W = nn.Parameter(torch.randn(2, i, o) * 0.1)
        self.M = nn.Parameter(torch.randn(adj.size(0), o))
        self.adj = adj
        self.adj2 = nn.Parameter(torch.randn(adj.shape) * 0.1)
        self.bias = nn.Parameter(torch.randn(o) / math.sqrt(o))

    def forward(self, x):
        h0, h1 = torch.matmul(x, self.W[0]), torch.matmul(x, self.W[1])
        adj = self.adj + self.adj2
        adj = (adj.T + adj) / 2
        e = torch.eye(adj.size(0))
        return (
            torch.matmul(adj * e, self.M * h0)
            + torch.matmul(adj * (1 - e), self.M * h1)
            + self.bias.view(1, 1, -1)
        )


class OrigGraphConvBlock(nn.Module):  # _GraphConv
    def __init__(self, conv):
        super().__init__()
        self.gconv, self.bn, self.relu = conv, nn.BatchNorm1d(conv.W.shape[2]), nn.ReLU()

    def forward(self, x):
        return self.relu(self.bn(self.gconv(x).transpose(1, 2)).transpose(1, 2))


class OrigResBlock(nn.Module):  # _ResGraphConv
    def __init__(self, make):
        super().__init__()
        self.gconv1, self.gconv2 = OrigGraphConvBlock(make()), OrigGraphConvBlock(make())

    def forward(self, x):
        return x + self.gconv2(self.gconv1(x))


class OrigGraphNonLocal(nn.Module):  # graph_non_local._NonLocalBlock, concatenation, dimension 1
    def __init__(self, c, sub_sample):
        super().__init__()
        self.inter_channels = c // 2
        ic = self.inter_channels
        self.g = nn.Sequential(nn.Conv1d(c, ic, 1), nn.MaxPool1d(sub_sample))
        self.W = nn.Sequential(nn.Conv1d(ic, c, 1), nn.BatchNorm1d(c))
        self.theta = nn.Conv1d(c, ic, 1)
        self.phi = nn.Sequential(nn.Conv1d(c, ic, 1), nn.MaxPool1d(sub_sample))
        self.concat_project = nn.Sequential(nn.Conv2d(ic * 2, 1, 1, 1, 0, bias=False), nn.ReLU())

    def forward(self, x):
        b = x.size(0)
        g_x = self.g(x).view(b, self.inter_channels, -1).permute(0, 2, 1)
        theta_x = self.theta(x).view(b, self.inter_channels, -1, 1)
        phi_x = self.phi(x).view(b, self.inter_channels, 1, -1)
        h, w = theta_x.size(2), phi_x.size(3)
        f = self.concat_project(
            torch.cat([theta_x.expand(-1, -1, -1, w), phi_x.expand(-1, -1, h, -1)], dim=1)
        )
        f = f.view(b, h, w) / w
        y = torch.matmul(f, g_x).permute(0, 2, 1).contiguous().view(b, self.inter_channels, *x.size()[2:])
        return self.W(y) + x


class OrigGroupedNonLocal(nn.Module):  # sem_gcn._GraphNonLocal
    """SemGCN's code (Python 2.7) names the block ``self.nonlocal``, a keyword in Python 3."""

    def __init__(self, c, groups):
        super().__init__()
        self.add_module("nonlocal", OrigGraphNonLocal(c, len(groups[0])))
        self.grouped_order = list(reduce(lambda a, b: a + b, groups))
        self.restored_order = [self.grouped_order.index(i) for i in range(len(self.grouped_order))]

    def forward(self, x):
        block = getattr(self, "nonlocal")
        out = block(x[:, self.grouped_order, :].transpose(1, 2)).transpose(1, 2)
        return out[:, self.restored_order, :]


class OrigEmbeddedGaussian2D(nn.Module):  # NONLocalBlock2D(in_channels, sub_sample=False)
    def __init__(self, c):
        super().__init__()
        self.inter_channels = ic = c // 2
        self.g, self.theta, self.phi = nn.Conv2d(c, ic, 1), nn.Conv2d(c, ic, 1), nn.Conv2d(c, ic, 1)
        self.W = nn.Sequential(nn.Conv2d(ic, c, 1), nn.BatchNorm2d(c))

    def forward(self, x):
        b = x.size(0)
        g_x = self.g(x).view(b, self.inter_channels, -1).permute(0, 2, 1)
        theta_x = self.theta(x).view(b, self.inter_channels, -1).permute(0, 2, 1)
        phi_x = self.phi(x).view(b, self.inter_channels, -1)
        y = torch.matmul(F.softmax(torch.matmul(theta_x, phi_x), dim=-1), g_x)
        y = y.permute(0, 2, 1).contiguous().view(b, self.inter_channels, *x.size()[2:])
        return self.W(y) + x


class OrigNet(nn.Module):
    """SemGCN (``sem_gcn.py``) or Modulated GCN (``modulated_gcn.py``, GT or CPN variant)."""

    def __init__(self, kind, adj, hid, num_layers=2, groups=None, cpn_non_local=False):
        super().__init__()
        conv = OrigSemGraphConv if kind == "sem" else OrigModulatedGraphConv
        gin = [OrigGraphConvBlock(conv(2, hid, adj))]
        layers = []
        if groups is not None:
            gin.append(OrigGroupedNonLocal(hid, groups))
        for _ in range(num_layers):
            layers.append(OrigResBlock(lambda: conv(hid, hid, adj)))
            if groups is not None:
                layers.append(OrigGroupedNonLocal(hid, groups))
        self.gconv_input, self.gconv_layers = nn.Sequential(*gin), nn.Sequential(*layers)
        self.gconv_output = conv(hid, 3, adj)
        self.non_local = OrigEmbeddedGaussian2D(hid) if cpn_non_local else None

    def forward(self, x):
        out = self.gconv_layers(self.gconv_input(x))
        if self.non_local is not None:  # the CPN code's permute/unsqueeze dance around NONLocalBlock2D
            out = self.non_local(out.unsqueeze(2).permute(0, 3, 2, 1)).permute(0, 3, 1, 2).squeeze(3)
        return self.gconv_output(out)


def randomize_batchnorms(model):
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.5, 0.5)
                m.running_mean.normal_()
                m.running_var.uniform_(0.5, 2.0)


CASES = {
    "semgcn": (
        lambda: OrigNet("sem", H36M_16.adjacency("row_normalized"), 8),
        lambda: SemGCN(H36M_16, hidden=8, num_blocks=2),
    ),
    "semgcn_non_local": (
        lambda: OrigNet(
            "sem", H36M_16.adjacency("row_normalized"), 8, groups=[list(g) for g in SEMGCN_JOINT_GROUPS_16]
        ),
        lambda: SemGCN(H36M_16, hidden=8, num_blocks=2, non_local=True),
    ),
    "modgcn_gt": (
        lambda: OrigNet("mod", H36M_16.adjacency("degree_diag1"), 8),
        lambda: ModulatedGCN(H36M_16, hidden=8, num_blocks=2),
    ),
    "modgcn_cpn": (
        lambda: OrigNet("mod", H36M_17.adjacency("degree_diag1"), 8, cpn_non_local=True),
        lambda: ModulatedGCN(H36M_17, hidden=8, num_blocks=2, non_local=True, modulation_init="xavier"),
    ),
}


@pytest.mark.parametrize("name", list(CASES))
@pytest.mark.parametrize("train", [False, True])
def test_original_weights_give_original_outputs(name, train):
    torch.manual_seed(0)
    make_orig, make_ours = CASES[name]
    orig, ours = make_orig(), make_ours()
    randomize_batchnorms(orig)
    checkpoint = {"epoch": 3, "state_dict": orig.state_dict()}  # as the original main_gcn.py saves it
    load_original_state_dict(ours, checkpoint)
    orig.train(train)
    ours.train(train)
    x = torch.randn(5, ours.num_joints, 2)
    torch.testing.assert_close(ours(x), orig(x), rtol=1e-4, atol=1e-5)


def test_layout_is_read_from_the_keys():
    sem = OrigNet(
        "sem", H36M_16.adjacency("row_normalized"), 8, groups=[list(g) for g in SEMGCN_JOINT_GROUPS_16]
    )
    cpn = OrigNet("mod", H36M_17.adjacency("degree_diag1"), 8, num_layers=3, cpn_non_local=True)
    assert describe_original(sem.state_dict()) == OriginalLayout("SemGCN", 16, 8, 2, "grouped")
    assert describe_original({"state_dict": cpn.state_dict()}) == OriginalLayout(
        "Modulated GCN", 17, 8, 3, "embedded Gaussian"
    )


def test_mismatched_checkpoint_is_reported():
    orig = OrigNet("mod", H36M_17.adjacency("degree_diag1"), 8)
    with pytest.raises(
        OriginalCheckpointError, match=r"gconv_input\.0\.gconv\.M is \(17, 8\), the model expects \(16, 8\)"
    ):
        load_original_state_dict(
            ModulatedGCN(H36M_16, hidden=8, num_blocks=2), orig.state_dict(), "orig.pth.tar"
        )
    with pytest.raises(
        OriginalCheckpointError, match="orig.pth.tar is an original Modulated GCN .* the model is a SemGCN"
    ):
        load_original_state_dict(SemGCN(H36M_17, hidden=8, num_blocks=2), orig.state_dict(), "orig.pth.tar")
    state = dict(orig.state_dict())
    del state["gconv_output.bias"]
    state["gconv_output.extra"] = torch.zeros(3)
    with pytest.raises(
        OriginalCheckpointError, match=r"1 key\(s\) unknown to ModulatedGCN: gconv_output\.extra"
    ):
        load_original_state_dict(ModulatedGCN(H36M_17, hidden=8, num_blocks=2), state)
    del state["gconv_output.extra"]
    with pytest.raises(OriginalCheckpointError, match=r"missing from the checkpoint: gconv_output\.bias"):
        load_original_state_dict(ModulatedGCN(H36M_17, hidden=8, num_blocks=2), state)


def test_only_one_by_one_kernels_become_linear_weights():
    orig = OrigNet("mod", H36M_17.adjacency("degree_diag1"), 8, cpn_non_local=True)
    state = dict(orig.state_dict())
    state["non_local.g.weight"] = torch.randn(4, 8, 1, 2)  # a 1×2 kernel is no linear map
    ours = ModulatedGCN(H36M_17, hidden=8, num_blocks=2, non_local=True)
    with pytest.raises(
        OriginalCheckpointError, match=r"non_local\.g\.weight is \(4, 8, 1, 2\), the model expects \(4, 8\)"
    ):
        load_original_state_dict(ours, state)
