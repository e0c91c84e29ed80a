"""DG-Net's fused layer forms (``fused=True``) against the literal ones (``fused=False``).

The fused forms of DTG and FTG (one KNN of the ``T − 1`` motions for both DTG directions, one
matmul for DTG's transforms and importance halves, neighbours gathered from frames ``t ± 1``
and shifted sums without copies) must give the literal forms' neighbours exactly, their outputs
to float rounding and their gradients to float rounding: in float64 the tolerances below are
~1e-12, so a wrong shift, edge frame or neighbour would fail them.
"""

from __future__ import annotations

import pytest
import torch

from posegcn.losses import MultiLevelLoss
from posegcn.models.dgnet import DGNet
from posegcn.nn.dynamical_spatial_graph import DynamicalSpatialGraphConv
from posegcn.nn.dynamical_temporal_graph import DynamicalTemporalGraphConv, feature_motions, motion_frames
from posegcn.nn.fixed_graphs import (
    FixedSpatialGraphConv,
    FixedTemporalGraphConv,
    temporal_conv,
    temporal_transform,
)
from posegcn.nn.knn import knn_indices, skeleton_neighbours
from posegcn.skeleton import H36M_16, H36M_17

C = 6
TIGHT = {"rtol": 1e-12, "atol": 1e-12}


def _input(batch: int, frames: int, joints: int, channels: int = C, seed: int = 0) -> torch.Tensor:
    return torch.randn(
        batch, frames, joints, channels, generator=torch.Generator().manual_seed(seed)
    ).double()


def _both_forms(layer: torch.nn.Module, x: torch.Tensor) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Output, input gradient and parameter gradients of the literal and the fused form."""
    results = []
    for fused in (False, True):
        layer.fused = fused
        layer.zero_grad(set_to_none=True)
        xg = x.clone().requires_grad_(True)
        y = layer(xg)
        # A loss that weights every output differently, so that no error can cancel.
        (y * torch.linspace(-1, 2, y.numel(), dtype=y.dtype).view(y.shape)).sum().backward()
        results.append([y.detach(), xg.grad] + [p.grad for p in layer.parameters()])
    return results[0], results[1]


def _assert_forms_agree(layer: torch.nn.Module, x: torch.Tensor) -> None:
    literal, fused = _both_forms(layer, x)
    assert len(literal) == len(fused)
    for a, b in zip(literal, fused):
        torch.testing.assert_close(b, a, **TIGHT)
    with torch.no_grad():  # the autograd-free paths (shifted sums without copies)
        layer.fused = False
        a = layer(x)
        layer.fused = True
        torch.testing.assert_close(layer(x), a, **TIGHT)


@pytest.mark.parametrize("frames", [2, 3, 4, 5])
@pytest.mark.parametrize("joints", [16, 17])
@pytest.mark.parametrize("weighting", ["softmax", "sigmoid", "raw", "none"])
def test_dtg_fused_equals_literal(frames: int, joints: int, weighting: str) -> None:
    torch.manual_seed(frames + joints)
    layer = DynamicalTemporalGraphConv(C, 5, k=4, weighting=weighting).double()
    x = _input(3, frames, joints)
    (idx_f, _), (idx_b, _) = layer.graph(x)  # the literal graph: 2·T frames of KNN
    new_f, new_b = layer._neighbours(x)  # the fused one: T − 1 motions
    assert torch.equal(new_f, idx_f) and torch.equal(new_b, idx_b)
    _assert_forms_agree(layer, x)


@pytest.mark.parametrize("include_self", [False, True])
@pytest.mark.parametrize("bias", [False, True])
def test_dtg_fused_options(include_self: bool, bias: bool) -> None:
    torch.manual_seed(3)
    layer = DynamicalTemporalGraphConv(C, 5, k=3, include_self=include_self, bias=bias).double()
    if bias:
        torch.nn.init.normal_(layer.bias)
    _assert_forms_agree(layer, _input(2, 4, 17, seed=1))
    fixed = skeleton_neighbours(H36M_17.adjacency("binary"), 3)
    fixed_layer = DynamicalTemporalGraphConv(C, 5, k=3, fixed_neighbours=fixed).double()
    _assert_forms_agree(fixed_layer, _input(2, 4, 17, seed=2))


@pytest.mark.parametrize("frames", [1, 2, 3, 4, 5])
def test_ftg_shifted_sum_without_copies(frames: int) -> None:
    torch.manual_seed(frames)
    layer = FixedTemporalGraphConv(C, 5, bias=True).double()
    x = _input(2, frames, 17)
    _assert_forms_agree(layer, x)
    # Float32, no autograd: the same additions in the same order, so the same bits.
    x32, w32 = x.float(), layer.weight.detach().float()
    with torch.no_grad():
        y_x, y_f, y_b = temporal_transform(x32, w32)
        assert torch.equal(temporal_conv(x32, w32), y_x + y_f + y_b)


def test_motion_frames_is_the_feature_motions_edge_rule() -> None:
    forward, backward = motion_frames(4)
    assert forward.tolist() == [0, 1, 2, 2] and backward.tolist() == [0, 0, 1, 2]
    assert motion_frames(2)[0].tolist() == [0, 0] and motion_frames(2)[1].tolist() == [0, 0]
    x = _input(2, 5, 17)
    fwd, bwd = feature_motions(x)
    diff = x[:, 1:] - x[:, :-1]
    for t in range(5):
        torch.testing.assert_close(fwd[:, t], diff[:, min(t, 3)], rtol=0, atol=0)
        torch.testing.assert_close(bwd[:, t], diff[:, max(t - 1, 0)], rtol=0, atol=0)
    with pytest.raises(ValueError, match="T >= 2"):
        motion_frames(1)


def _random_heads(net: DGNet) -> DGNet:
    """Non-zero pose projections: they start at zero, which would hide every upstream difference."""
    for m in net.modules():
        if isinstance(m, FixedSpatialGraphConv) and m.out_channels == 3:
            torch.nn.init.normal_(m.weight, std=0.1)
    return net


def _set_fused(net: torch.nn.Module, fused: bool) -> None:
    for m in net.modules():
        if isinstance(m, (DynamicalTemporalGraphConv, FixedTemporalGraphConv)):
            m.fused = fused


@pytest.mark.parametrize("skeleton", [H36M_16, H36M_17])
def test_dgnet_eval_float32_fused_equals_literal(skeleton) -> None:
    """Float32 eval of the full network: same neighbours in every layer, same poses to rounding."""
    torch.manual_seed(0)
    net = _random_heads(DGNet(skeleton, hidden=32, num_blocks=2, inference_chunk=5))
    x = torch.randn(12, 4, skeleton.num_joints, 2)
    net.train()
    with torch.no_grad():
        net(x)  # non-trivial BatchNorm statistics
    net.eval()
    captured: dict[str, list[torch.Tensor]] = {"literal": [], "fused": []}
    layers = [
        m for m in net.modules() if isinstance(m, (DynamicalSpatialGraphConv, DynamicalTemporalGraphConv))
    ]
    outputs = {}
    for name, fused in (("literal", False), ("fused", True)):
        _set_fused(net, fused)
        hooks = [m.register_forward_pre_hook(lambda _m, a, n=name: captured[n].append(a[0])) for m in layers]
        with torch.inference_mode():
            outputs[name] = net(x).pose
        for hook in hooks:
            hook.remove()
    torch.testing.assert_close(outputs["fused"], outputs["literal"], rtol=1e-5, atol=1e-6)
    # every dynamical layer sees the same input, hence builds the same graph
    assert len(captured["fused"]) == len(captured["literal"]) == 3 * len(layers)  # 3 chunks
    for a, b in zip(captured["literal"], captured["fused"]):
        torch.testing.assert_close(b, a, rtol=1e-5, atol=1e-6)
    with torch.inference_mode():
        for m, a in zip(layers * 3, captured["literal"]):
            if isinstance(m, DynamicalSpatialGraphConv):
                assert torch.equal(m.graph(a)[0], knn_indices(a, 3))
            else:
                (idx_f, _), (idx_b, _) = m.graph(a)
                new_f, new_b = m._neighbours(a)
                assert torch.equal(new_f, idx_f) and torch.equal(new_b, idx_b)


def test_dgnet_training_step_fused_equals_literal() -> None:
    """Float64 Eq. 17 loss and every parameter gradient of a training step agree."""
    torch.manual_seed(0)
    net = _random_heads(DGNet(H36M_17, hidden=16, num_blocks=2)).double().train()
    x = torch.randn(4, 4, 17, 2, dtype=torch.float64)
    target = 0.2 * torch.randn(4, 4, 17, 3, dtype=torch.float64)
    criterion = MultiLevelLoss()
    results = []
    for fused in (False, True):
        _set_fused(net, fused)
        net.zero_grad(set_to_none=True)
        loss = criterion(net(x), target)
        loss.backward()
        results.append((loss.detach(), {n: p.grad for n, p in net.named_parameters()}))
    (loss_a, grads_a), (loss_b, grads_b) = results
    torch.testing.assert_close(loss_b, loss_a, **TIGHT)
    assert grads_a.keys() == grads_b.keys()
    for name in grads_a:
        assert grads_a[name] is not None, name
        # Every graph layer learns (the non-local blocks start as the identity; a softmax over the K
        # edges ignores the importance layers' bias).
        if ".gconv" in name and not name.endswith("bias"):
            assert grads_a[name].abs().sum() > 0, name
        torch.testing.assert_close(grads_b[name], grads_a[name], rtol=1e-10, atol=1e-12, msg=name)


def test_state_dict_keys_unchanged_by_fused() -> None:
    """Checkpoints load into either form: ``fused`` is an attribute, not a parameter or buffer."""
    a = DGNet(H36M_17, hidden=8, num_blocks=1)
    b = DGNet(H36M_17, hidden=8, num_blocks=1)
    _set_fused(b, False)
    assert list(a.state_dict()) == list(b.state_dict())
    b.load_state_dict(a.state_dict())
