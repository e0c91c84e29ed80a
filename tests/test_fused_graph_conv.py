"""The fused decoupled graph convolution equals the straightforward equation, values and gradients."""

from __future__ import annotations

import pytest
import torch

from posegcn.models.dgnet import DGNet
from posegcn.models.modgcn import ModulatedGCN
from posegcn.models.semgcn import SemGCN
from posegcn.nn import GraphConv, GraphConvBlock, ModulatedGraphConv, SemGraphConv, set_fused
from posegcn.nn import graph_conv as graph_conv_module
from posegcn.nn.fixed_graphs import FixedSpatialGraphConv
from posegcn.nn.graph_conv import decoupled_graph_conv
from posegcn.skeleton import H36M_16, H36M_17


def literal_graph_conv(x, weight, affinity, modulation, bias):
    """Y_i = Â_ii m_i ⊙ (x_i W₀) + Σ_{j≠i} Â_ij m_j ⊙ (x_j W₁) + b, one node pair at a time."""
    *lead, j, _ = x.shape
    flat = x.reshape(-1, j, x.shape[-1])
    c_out = weight.shape[-1]
    m = modulation if modulation is not None else torch.ones(j, c_out, dtype=x.dtype)
    out = []
    for sample in flat:
        rows = []
        for i in range(j):
            y = affinity[i, i] * m[i] * (sample[i] @ weight[0])
            for k in range(j):
                if k != i:
                    y = y + affinity[i, k] * m[k] * (sample[k] @ weight[1])
            rows.append(y if bias is None else y + bias)
        out.append(torch.stack(rows))
    return torch.stack(out).view(*lead, j, c_out)


@pytest.mark.parametrize("fused", [True, False])
@pytest.mark.parametrize("modulated", [True, False])
@pytest.mark.parametrize("with_bias", [True, False])
@pytest.mark.parametrize("lead", [(3,), (2, 3)])
def test_fused_matches_literal_equation_and_gradients(fused, modulated, with_bias, lead):
    g = torch.Generator().manual_seed(0)
    j, c_in, c_out = 5, 4, 6

    def leaf(*shape):
        return torch.randn(*shape, generator=g, dtype=torch.float64).requires_grad_()

    x, weight, affinity = leaf(*lead, j, c_in), leaf(2, c_in, c_out), leaf(j, j)
    modulation = leaf(j, c_out) if modulated else None
    bias = leaf(c_out) if with_bias else None
    inputs = [t for t in (x, weight, affinity, modulation, bias) if t is not None]
    grad_out = torch.randn(*lead, j, c_out, generator=g, dtype=torch.float64)
    off_diagonal = 1.0 - torch.eye(j, dtype=torch.float64)

    expected = literal_graph_conv(x, weight, affinity, modulation, bias)
    out = decoupled_graph_conv(x, weight, affinity, off_diagonal, modulation, bias, fused=fused)
    torch.testing.assert_close(out, expected)
    for got, want in zip(
        torch.autograd.grad(out, inputs, grad_out), torch.autograd.grad(expected, inputs, grad_out)
    ):
        torch.testing.assert_close(got, want)


def test_fused_passes_gradcheck():
    g = torch.Generator().manual_seed(1)
    j = 4
    args = [torch.randn(*s, generator=g, dtype=torch.float64, requires_grad=True) for s in
            [(2, j, 3), (2, 3, 5), (j, j), (j, 5), (5,)]]  # fmt: skip
    off = 1.0 - torch.eye(j, dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda x, w, a, m, b: decoupled_graph_conv(x, w, a, off, m, b), args)


def _lift(net, x):
    """The network's 3D pose; DG-Net also runs its block heads (their FSG layers included)."""
    return net(x, return_block_poses=True).pose if isinstance(net, DGNet) else net(x)


NETWORKS = {
    "modgcn": (lambda: ModulatedGCN(H36M_16), (8, 16)),
    "semgcn": (lambda: SemGCN(H36M_16), (8, 16)),
    "dgnet": (lambda: DGNet(H36M_17, num_frames=3, hidden=16, num_blocks=1), (4, 3, 17)),
}


@pytest.mark.parametrize("name", sorted(NETWORKS))
def test_networks_train_identically_with_fused_and_reference_layers(name):
    """Two Adam steps from the same weights give the same weights either way (float64)."""
    build, lead = NETWORKS[name]
    g = torch.Generator().manual_seed(2)
    x = torch.randn(*lead, 2, generator=g, dtype=torch.float64)
    y = torch.randn(*lead, 3, generator=g, dtype=torch.float64)
    results = []
    for fused in (True, False):
        torch.manual_seed(0)
        net = build().double()
        assert set_fused(net, fused) > 0
        optimizer = torch.optim.Adam(net.parameters(), lr=1e-2)
        for _ in range(2):
            optimizer.zero_grad()
            loss = (_lift(net, x) - y).pow(2).mean()
            loss.backward()
            optimizer.step()
        results.append([p.detach().clone() for p in net.parameters()])
    for fused, reference in zip(*results):
        torch.testing.assert_close(fused, reference)


@pytest.mark.parametrize("name", sorted(NETWORKS))
def test_fused_attribute_selects_the_op_per_layer(name, monkeypatch):
    """``set_fused`` reaches every decoupled graph layer (and every graph block's BatchNorm + ReLU),
    and each layer's attribute alone decides."""
    calls = []
    apply = graph_conv_module._DecoupledGraphConv.apply
    monkeypatch.setattr(
        graph_conv_module._DecoupledGraphConv, "apply", lambda *a: calls.append(1) or apply(*a)
    )
    build, lead = NETWORKS[name]
    net = build().eval()
    decoupled = (GraphConv, SemGraphConv, ModulatedGraphConv, FixedSpatialGraphConv)
    layers = [m for m in net.modules() if isinstance(m, decoupled)]
    assert layers and all(layer.fused for layer in layers)  # fused by default
    x = torch.randn(*lead, 2)
    with torch.no_grad():
        _lift(net, x)
        assert len(calls) == len(layers)
        blocks = [m for m in net.modules() if isinstance(m, GraphConvBlock)]
        assert blocks and all(block.fused for block in blocks)
        switchable = [m for m in net.modules() if isinstance(getattr(m, "fused", None), bool)]
        assert set_fused(net, False) == len(switchable) >= len(layers) + len(blocks)
        assert not any(m.fused for m in layers + blocks)
        calls.clear()
        _lift(net, x)
        assert calls == []
        layers[0].fused = True  # one layer back on: only it takes the fused op
        _lift(net, x)
        assert len(calls) == 1


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::FutureWarning")
def test_compile_network_flag_compiles_in_place_with_the_same_output_and_keys():
    from functools import partial

    from posegcn._compat import is_compiled
    from posegcn.lit import PoseLiftingModule
    from posegcn.losses import WeightedLoss
    from posegcn.models import ModulatedGCN

    modules = []
    for compiled in (False, True):
        torch.manual_seed(0)
        module = PoseLiftingModule(
            net=partial(ModulatedGCN, hidden=16, num_blocks=1),
            loss=partial(WeightedLoss, mse=1.0),
            skeleton="h36m16",
            compile_network=compiled,
        )
        module.setup("fit")
        modules.append(module)
    plain, compiled = modules
    assert is_compiled(compiled.net) and not is_compiled(plain.net)
    assert list(compiled.state_dict()) == list(plain.state_dict())
    batch = {"pose_2d": torch.randn(32, 16, 2), "pose_3d": torch.randn(32, 16, 3)}
    losses = [m.training_loss(batch)[0] for m in modules]
    torch.testing.assert_close(losses[1], losses[0], rtol=1e-5, atol=1e-6)
    losses[1].backward()
    assert all(p.grad is not None for p in compiled.net.parameters())


def test_mixed_precision_trains_through_the_graph_layers():
    """Under autocast the layers take the autograd path (the fused backward assumes one dtype)."""
    torch.manual_seed(0)
    net = ModulatedGCN(H36M_16)
    x = torch.randn(8, 16, 2)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = net(x)
    y.float().pow(2).mean().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in net.parameters())
