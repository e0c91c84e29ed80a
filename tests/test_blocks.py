"""One graph block and one residual block (posegcn/nn/blocks.py) build all three networks."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from posegcn.models import ModulatedGCN, SemGCN
from posegcn.models.dgnet import DGConvBlock, DGNet
from posegcn.nn import (
    EmbeddedGaussianNonLocal,
    GraphConv,
    GraphConvBlock,
    GroupedNonLocal,
    ModulatedGraphConv,
    ResidualGraphBlock,
    RowBatchNorm,
    SemGraphConv,
)
from posegcn.nn.fixed_graphs import FixedSpatialGraphConv
from posegcn.skeleton import H36M_16, H36M_17

NETWORKS = {
    "semgcn": lambda: SemGCN(H36M_16, hidden=8, num_blocks=2, non_local=True),
    "modgcn": lambda: ModulatedGCN(H36M_17, hidden=8, num_blocks=2, non_local=True),
    "dgnet": lambda: DGNet(H36M_17, num_frames=3, hidden=8, num_blocks=2),
    "dgnet_fixed": lambda: DGNet(H36M_17, num_frames=3, hidden=8, num_blocks=1, no_knn=True, non_local=False),
}
NON_LOCAL = (EmbeddedGaussianNonLocal, GroupedNonLocal)


def parents(net: nn.Module) -> dict[int, nn.Module]:
    return {id(child): m for m in net.modules() for child in m.children()}


@pytest.mark.parametrize("name", sorted(NETWORKS))
def test_every_batchnorm_is_in_the_graph_block_or_a_non_local_block(name):
    net = NETWORKS[name]()
    of = parents(net)
    norms = [m for m in net.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    assert norms
    for bn in norms:
        assert type(bn) is RowBatchNorm
        assert isinstance(of[id(bn)], (GraphConvBlock, *NON_LOCAL)), type(of[id(bn)])


@pytest.mark.parametrize("name", sorted(NETWORKS))
def test_residual_modules_are_the_one_residual_block(name):
    """Every pair of graph blocks with a skip is a ResidualGraphBlock; no other block class exists."""
    net = NETWORKS[name]()
    of = parents(net)
    blocks = [m for m in net.modules() if isinstance(m, GraphConvBlock)]
    residual = [m for m in net.modules() if isinstance(m, ResidualGraphBlock)]
    first = net.input_layer if isinstance(net, DGNet) else net.gconv_input[0]
    assert residual and len(blocks) == 2 * len(residual) + 1  # + the input layer
    assert all(type(of[id(b)]) is ResidualGraphBlock for b in blocks if b is not first)
    own = {type(m) for m in net.modules() if type(m).__module__.startswith("posegcn.models")}
    assert own <= {SemGCN, ModulatedGCN, DGNet, DGConvBlock}, own


@pytest.mark.parametrize("name", sorted(NETWORKS))
def test_every_hidden_graph_layer_sits_in_a_graph_block(name):
    """Graph layers outside a GraphConvBlock are the projections to 3D (no BatchNorm after them)."""
    net = NETWORKS[name]()
    of = parents(net)
    layers = (GraphConv, SemGraphConv, ModulatedGraphConv, FixedSpatialGraphConv)
    outside = [
        m for m in net.modules() if isinstance(m, layers) and not isinstance(of[id(m)], GraphConvBlock)
    ]
    assert outside and all(m.out_channels == 3 for m in outside)


@pytest.mark.parametrize("train", [True, False])
@pytest.mark.parametrize("shape", [(5, 16, 6), (2, 3, 16, 6)])
def test_row_batchnorm_equals_batchnorm1d_over_channels(train, shape):
    """Rows ``[N·J, C]`` give the statistics of ``BatchNorm1d`` on ``[N, C, J]`` (frames folded into N)."""
    torch.manual_seed(0)
    x = torch.randn(*shape) * 3 + 1
    ours, ref = RowBatchNorm(6), nn.BatchNorm1d(6)
    with torch.no_grad():  # non-trivial affine parameters and running statistics
        nn.init.uniform_(ours.weight, 0.5, 1.5)
        nn.init.uniform_(ours.bias, -0.5, 0.5)
        ours.running_mean.uniform_(-1, 1)
        ours.running_var.uniform_(0.5, 2)
    ref.load_state_dict(ours.state_dict())
    ours.train(train), ref.train(train)
    flat = x.reshape(-1, *shape[-2:])
    expected = ref(flat.transpose(1, 2)).transpose(1, 2).reshape(shape)
    torch.testing.assert_close(ours(x), expected)
    torch.testing.assert_close(ours.running_mean, ref.running_mean)
    torch.testing.assert_close(ours.running_var, ref.running_var)
    assert list(ours.state_dict()) == list(ref.state_dict())


BN_SETTINGS = {
    "momentum 0.1": {},
    "momentum 0.3": {"momentum": 0.3},
    "cumulative average": {"momentum": None},
    "no running stats": {"track_running_stats": False},
    "no affine": {"affine": False},
}


@pytest.mark.parametrize("train", [True, False])
@pytest.mark.parametrize("shape", [(7, 5), (3, 16, 5), (2, 3, 17, 5)])
@pytest.mark.parametrize("setting", sorted(BN_SETTINGS))
def test_fused_batchnorm_relu_equals_batchnorm1d_then_relu(setting, shape, train):
    """``RowBatchNorm.forward_relu`` = ``ReLU(BatchNorm1d(·))`` over rows: values, gradients of input,
    weight and bias, and the running statistics after three steps (float64)."""
    kwargs = BN_SETTINGS[setting]
    g = torch.Generator().manual_seed(0)
    ref = nn.BatchNorm1d(shape[-1], **kwargs).double()
    with torch.no_grad():
        for t in (ref.weight, ref.bias):
            if t is not None:
                t.copy_(torch.randn(t.shape, generator=g))
        if ref.running_var is not None:
            ref.running_mean.normal_(generator=g)
            ref.running_var.uniform_(0.5, 2.0, generator=g)
    ours = RowBatchNorm(shape[-1], **kwargs).double()
    ours.load_state_dict(ref.state_dict())
    ref.train(train), ours.train(train)
    params = [p for p in (ref.weight, ref.bias) if p is not None]
    for _ in range(3):
        x = torch.randn(*shape, generator=g, dtype=torch.float64, requires_grad=True)
        grad_out = torch.randn(*shape, generator=g, dtype=torch.float64)
        expected = torch.relu(ref(x.reshape(-1, shape[-1]))).view(shape)
        out = ours.forward_relu(x)
        torch.testing.assert_close(out, expected)
        assert (out == 0).any() and (out > 0).any()  # both sides of the ReLU are exercised
        mine = [p for p in (ours.weight, ours.bias) if p is not None]
        for got, want in zip(
            torch.autograd.grad(out, [x, *mine], grad_out),
            torch.autograd.grad(expected, [x, *params], grad_out),
        ):
            torch.testing.assert_close(got, want)
    for key, value in ref.state_dict().items():
        torch.testing.assert_close(ours.state_dict()[key], value, msg=key)


@pytest.mark.parametrize("train", [True, False])
def test_graph_block_fused_and_module_forms_agree(train):
    """``fused=False`` (``self.relu(self.bn(·))``) and the fused op give the same block."""
    blocks = []
    for fused in (True, False):
        torch.manual_seed(0)
        block = GraphConvBlock(ModulatedGraphConv(4, 6, H36M_16.adjacency("degree_diag1")), fused=fused)
        blocks.append(block.double().train(train))
    x = torch.randn(5, 16, 4, dtype=torch.float64)
    outs = [b(x) for b in blocks]
    torch.testing.assert_close(outs[0], outs[1])
    grads = [torch.autograd.grad(o.square().sum(), list(b.parameters())) for o, b in zip(outs, blocks)]
    for got, want in zip(*grads):
        torch.testing.assert_close(got, want)
    torch.testing.assert_close(blocks[0].bn.running_var, blocks[1].bn.running_var)


def test_graph_block_is_conv_batchnorm_relu_dropout():
    torch.manual_seed(0)
    block = GraphConvBlock(FixedSpatialGraphConv(4, 6, H36M_17.adjacency("row_normalized")), dropout=0.5)
    x = torch.randn(2, 3, 17, 4)
    block.eval()
    expected = torch.relu(nn.BatchNorm1d.forward(block.bn, block.gconv(x).reshape(-1, 6)).view(2, 3, 17, 6))
    torch.testing.assert_close(block(x), expected)
    block.train()
    torch.manual_seed(1)
    dropped = block(x)
    assert (dropped == 0).float().mean() > 0.3  # dropout after the ReLU: about half the entries
    assert GraphConvBlock(FixedSpatialGraphConv(4, 6, H36M_17.adjacency("row_normalized"))).dropout is None


def test_dgnet_state_dict_layout():
    """DG-Net's keys follow the shared blocks: ``gconv`` / ``bn`` in a block, ``gconv1`` / ``gconv2`` in a residual."""
    keys = set(DGNet(H36M_17, num_frames=3, hidden=8, num_blocks=1).state_dict())
    for key in (
        "input_layer.gconv.weight",
        "input_layer.bn.running_var",
        "blocks.0.spatial.0.gconv1.gconv.weight",
        "blocks.0.spatial.1.gconv2.gconv.phi",
        "blocks.0.temporal.1.gconv1.gconv.alpha.weight",
        "blocks.0.head.0.gconv2.bn.weight",
        "blocks.0.head.1.weight",
        "head.weight",
    ):
        assert key in keys, key
    assert not [k for k in keys if ".layers." in k or ".conv." in k]


def test_adjacency_buffers_do_not_follow_the_default_dtype():
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        binary = H36M_16.adjacency("binary").bool()
        assert GraphConv(2, 3, binary).adjacency.dtype == torch.float32  # non-float: float32
        assert GraphConv(2, 3, binary.double()).adjacency.dtype == torch.float64  # float: its own dtype
        sem = SemGCN(H36M_16, hidden=8, num_blocks=1)  # Skeleton.adjacency is float32
        buffers = {n: b.dtype for n, b in sem.named_buffers() if n.endswith(("adjacency", "off_diagonal"))}
    finally:
        torch.set_default_dtype(previous)
    assert buffers and set(buffers.values()) == {torch.float32}
    layer = ModulatedGraphConv(2, 3, H36M_16.adjacency("degree_diag1").half())
    assert layer.affinity.adjacency.dtype == layer.off_diagonal.dtype == torch.float16
