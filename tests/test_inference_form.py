"""The inference form (constants precomputed, BatchNorm folded) computes what the eval-mode network computes."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode

from posegcn.models import DGNet, ModulatedGCN, SemGCN, inference_form
from posegcn.models.inference import InferenceChain
from posegcn.nn import GraphConv, ModulatedGraphConv, SemGraphConv, WeightUnsharingGraphConv
from posegcn.nn.blocks import GraphConvBlock, RowBatchNorm
from posegcn.nn.fixed_graphs import FixedSpatialGraphConv, FixedTemporalGraphConv
from posegcn.nn.inference import FoldedGraphConv, FoldedTemporalConv, folded_graph_conv
from posegcn.skeleton import H36M_16, H36M_17

#: float32, but folding reorders sums: a few ulps of the largest activations.
TOLERANCE = dict(rtol=2e-5, atol=2e-5)
#: float64: the folding is exact algebra, only rounding differs.
EXACT = dict(rtol=1e-11, atol=1e-11)


@torch.no_grad()
def trained_looking(net: nn.Module, seed: int = 0) -> nn.Module:
    """Non-default BatchNorm statistics and affine terms, random affinities and modulations.

    A few training-mode forwards move the running statistics, then every BatchNorm, ``M``,
    ``P``, ``Q``, ``L`` and SemGCN edge weight ``e`` is redrawn, so that no folding bug hides behind
    an identity (``γ = 1``, ``β = 0``, ``μ = 0``, ``σ² = 1``, ``M = 1``, ``Q = 10⁻⁶``, ``e = 1``).
    """
    g = torch.Generator().manual_seed(seed)
    net.train()
    shape = (8, net.num_frames, net.num_joints, 2) if isinstance(net, DGNet) else (8, net.num_joints, 2)
    for _ in range(3):
        net(torch.randn(shape, generator=g))
    for module in net.modules():
        if isinstance(module, nn.BatchNorm1d):
            module.running_mean.add_(0.3 * torch.randn(module.running_mean.shape, generator=g))
            module.running_var.mul_(torch.empty(module.running_var.shape).uniform_(0.5, 2.0, generator=g))
            module.weight.copy_(1 + 0.3 * torch.randn(module.weight.shape, generator=g))
            module.bias.copy_(0.3 * torch.randn(module.bias.shape, generator=g))
    for name, p in net.named_parameters():
        leaf = name.rsplit(".", 1)[-1]
        if leaf in ("M", "P"):
            p.copy_(1 + 0.3 * torch.randn(p.shape, generator=g))
        elif leaf in ("Q", "L", "e"):
            p.copy_(0.2 * torch.randn(p.shape, generator=g))
        elif leaf == "bias" and p.abs().max() == 0:
            p.copy_(0.1 * torch.randn(p.shape, generator=g))
        elif leaf == "weight" and p.abs().max() == 0:  # DG-Net's zero-initialised heads
            p.copy_(0.1 * torch.randn(p.shape, generator=g))
    return net.eval()


def assert_same_outputs(net: nn.Module, *shapes: tuple[int, ...]) -> nn.Module:
    """The inference form equals ``net.eval()``, and ``net`` is left as it was."""
    before = {k: v.clone() for k, v in net.state_dict().items()}
    fast = inference_form(net)
    assert not fast.training
    assert all(torch.equal(v, net.state_dict()[k]) for k, v in before.items())
    exact = inference_form(net.double())
    net.float()
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for shape in shapes:
            x = torch.randn(shape, generator=g)
            for dtype, form, tolerance in [(torch.float32, fast, TOLERANCE), (torch.float64, exact, EXACT)]:
                expected, got = net.to(dtype)(x.to(dtype)), form(x.to(dtype))
                if isinstance(expected, tuple):  # DG-Net: DGNetOutput
                    expected, got = expected.pose, got.pose
                # activations grow through the residual stack: tolerances relative to the output scale
                scale = max(1.0, expected.abs().max().item())
                torch.testing.assert_close(got / scale, expected / scale, **tolerance)
            net.float()
    return fast


def folded(module: nn.Module) -> int:
    return sum(isinstance(m, (FoldedGraphConv, FoldedTemporalConv)) for m in module.modules())


# --------------------------------------------------------------------------- layers
@pytest.mark.parametrize("relu", [True, False])
@pytest.mark.parametrize(
    "make",
    [
        lambda a: ModulatedGraphConv(6, 5, a),
        lambda a: ModulatedGraphConv(6, 5, a, weight_modulation=False, affinity="mix", symmetric=False),
        lambda a: ModulatedGraphConv(6, 5, a, affinity="no_skeleton", low_rank=3, bias=False),
        lambda a: SemGraphConv(6, 5, a + torch.eye(len(a))),
        lambda a: GraphConv(6, 5, a),
        lambda a: FixedSpatialGraphConv(6, 5, a, bias=True),
        lambda a: FixedSpatialGraphConv(6, 5, a, weights="shared"),
        lambda a: FixedTemporalGraphConv(6, 5, bias=True),
    ],
    ids=[
        "modgcn",
        "modgcn-mix-nomod",
        "modgcn-lowrank-nobias",
        "semgcn",
        "graphconv",
        "fsg",
        "fsg-shared",
        "ftg",
    ],
)
def test_folded_layer_equals_layer_batchnorm_relu(make, relu):
    layer = make(H36M_16.adjacency("degree_diag1"))
    block = trained_looking_block(GraphConvBlock(layer))
    fast = folded_graph_conv(layer, block.bn, relu=relu)
    g = torch.Generator().manual_seed(2)
    for shape in [(1, 16, 6), (7, 16, 6), (3, 4, 16, 6)]:
        x = torch.randn(shape, generator=g)
        with torch.no_grad():
            y = block.bn(layer(x))
            expected = y.relu() if relu else y
            torch.testing.assert_close(fast(x), expected, **TOLERANCE)
    bare = folded_graph_conv(layer)  # no BatchNorm: the layer alone
    with torch.no_grad():
        torch.testing.assert_close(bare(x), layer(x), **TOLERANCE)


@torch.no_grad()
def trained_looking_block(block: GraphConvBlock) -> GraphConvBlock:
    g = torch.Generator().manual_seed(3)
    bn = block.bn
    bn.running_mean.copy_(torch.randn(bn.running_mean.shape, generator=g))
    bn.running_var.copy_(torch.empty(bn.running_var.shape).uniform_(0.3, 3.0, generator=g))
    bn.weight.copy_(torch.randn(bn.weight.shape, generator=g))
    bn.bias.copy_(torch.randn(bn.bias.shape, generator=g))
    for name, p in block.gconv.named_parameters():
        if name.rsplit(".", 1)[-1] in ("M", "P", "Q", "L", "e", "bias"):
            p.copy_(torch.randn(p.shape, generator=g))
    return block.eval()


def test_unfoldable_layers_are_refused():
    a = H36M_16.adjacency("degree_diag1")
    assert folded_graph_conv(SemGraphConv(4, 4, H36M_16.adjacency("self_loops"), channelwise=True)) is None
    assert folded_graph_conv(WeightUnsharingGraphConv(4, 4, a)) is None
    assert folded_graph_conv(nn.Linear(4, 4)) is None
    no_stats = RowBatchNorm(4, track_running_stats=False)  # eval mode would use batch statistics
    assert folded_graph_conv(ModulatedGraphConv(4, 4, a), no_stats) is None


def test_folding_keeps_dtype_and_holds_no_parameters():
    net = trained_looking(ModulatedGCN(H36M_16)).double()
    fast = inference_form(net)
    assert sum(p.numel() for p in fast.parameters()) == 0
    assert all(b.dtype == torch.float64 for b in fast.buffers())
    x = torch.randn(4, 16, 2, dtype=torch.float64)
    with torch.no_grad():
        torch.testing.assert_close(fast(x), net(x), rtol=1e-12, atol=1e-12)


# --------------------------------------------------------------------------- networks
def test_semgcn():
    fast = assert_same_outputs(trained_looking(SemGCN(H36M_16)), (1, 16, 2), (9, 16, 2), (2, 3, 16, 2))
    assert isinstance(fast, InferenceChain) and folded(fast) == 10


def test_semgcn_non_local():
    net = trained_looking(SemGCN(H36M_16, non_local=True, dropout=0.1))
    fast = assert_same_outputs(net, (1, 16, 2), (9, 16, 2))
    assert folded(fast) == 10


def test_semgcn_channelwise_layers_stay_unfolded():
    net = trained_looking(SemGCN(H36M_16, hidden=32, num_blocks=2, channelwise=True))
    fast = assert_same_outputs(net, (1, 16, 2), (5, 16, 2))
    assert folded(fast) == 0
    assert sum(isinstance(m, SemGraphConv) for m in fast.modules()) == 6


def test_modulated_gcn_gt():
    fast = assert_same_outputs(trained_looking(ModulatedGCN(H36M_16)), (1, 16, 2), (33, 16, 2), (2, 5, 16, 2))
    assert folded(fast) == 10
    with pytest.raises(ValueError, match="16- vs 17-joint"):  # checked once, at the entry
        fast(torch.randn(2, 17, 2))


def test_modulated_gcn_cpn():
    net = ModulatedGCN(H36M_17, hidden=384, dropout=0.2, non_local=True, modulation_init="xavier")
    fast = assert_same_outputs(trained_looking(net), (1, 17, 2), (6, 17, 2))
    assert folded(fast) == 10


@pytest.mark.parametrize("affinity", ["skeleton", "mul", "add", "mix", "no_skeleton"])
@pytest.mark.parametrize("symmetric", [True, "modulation", False])
def test_modulated_gcn_affinity_variants(affinity, symmetric):
    net = ModulatedGCN(H36M_16, hidden=32, num_blocks=2, affinity=affinity, symmetric=symmetric)
    assert folded(assert_same_outputs(trained_looking(net), (1, 16, 2), (5, 16, 2))) == 6


@pytest.mark.parametrize(
    "kwargs",
    [
        {"low_rank": 7},
        {"low_rank": 11, "symmetric": False, "affinity": "mix"},
        {"weight_modulation": False},
        {"weight_modulation": False, "affinity": "mul"},
    ],
)
def test_modulated_gcn_ablations(kwargs):
    net = ModulatedGCN(H36M_16, hidden=32, num_blocks=2, **kwargs)
    assert folded(assert_same_outputs(trained_looking(net), (1, 16, 2), (5, 16, 2))) == 6


def test_weight_unsharing_layers_stay_unfolded():
    net = ModulatedGCN(H36M_16, hidden=16, num_blocks=1, weight_unsharing=True, weight_modulation=False)
    fast = assert_same_outputs(trained_looking(net), (1, 16, 2), (5, 16, 2))
    assert folded(fast) == 0
    assert sum(isinstance(m, WeightUnsharingGraphConv) for m in fast.modules()) == 4


@pytest.mark.parametrize(
    "skeleton, kwargs",
    [
        (H36M_17, {}),
        (H36M_16, {}),
        (H36M_17, {"connections": "fixed", "block_head": "projection"}),
        (H36M_17, {"fsg_weights": "shared", "no_knn": True}),
    ],
    ids=["17", "16", "fixed-projection", "shared-no-knn"],
)
def test_dgnet(skeleton, kwargs):
    net = trained_looking(DGNet(skeleton, hidden=16, num_blocks=2, inference_chunk=4, **kwargs))
    n = skeleton.num_joints
    fast = assert_same_outputs(net, (1, 4, n, 2), (9, 4, n, 2))
    assert isinstance(fast, DGNet)
    # FSG and FTG layers folded (input layer, network head, FSG/FTG modules, block heads); DSG/DTG kept
    fixed = (FixedSpatialGraphConv, FixedTemporalGraphConv)
    assert folded(fast) == sum(isinstance(m, fixed) for m in net.modules()) > 0
    assert not any(isinstance(m, fixed) for m in fast.modules())
    dynamical = [type(m) for m in net.modules() if "Dynamical" in type(m).__name__]
    assert [type(m) for m in fast.modules() if "Dynamical" in type(m).__name__] == dynamical


class _CountOps(TorchDispatchMode):
    """Counts the ATen operators a forward dispatches (views included)."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.count += 1
        return func(*args, **(kwargs or {}))


def test_fewer_operators_per_forward():
    """Issue 16: batch-1 latency is operator overhead; a folded layer dispatches 7 operators, 3 of them views."""
    net = ModulatedGCN(H36M_16).eval()
    counts = []
    for form in (net, inference_form(net)):
        with torch.inference_mode(), _CountOps() as ops:
            form(torch.randn(1, 16, 2))
        counts.append(ops.count)
    layers, residual_adds, entry = 10, 4, 2  # entry: the reshape to [N, J, 2] and back
    assert counts[1] == 7 * layers + residual_adds + entry
    assert counts[0] > 3 * counts[1]
