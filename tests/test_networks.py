"""SemGCN and Modulated GCN: parameter counts of the papers, shapes, gradients, overfitting."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from posegcn.models import GTRootDepthRefinement, ModulatedGCN, SemGCN
from posegcn.models.refinement import back_project_with_root_depth
from posegcn.nn import EmbeddedGaussianNonLocal, GraphConvBlock, GroupedNonLocal, ModulatedGraphConv
from posegcn.skeleton import H36M_16, H36M_17


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


# ----------------------------------------------------------------------------- parameter counts
@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda: SemGCN(H36M_16), 267_343),  # SemGCN paper / conventions §6: 0.27M
        (lambda: SemGCN(H36M_16, non_local=True), 434_703),  # 0.43M
        (lambda: ModulatedGCN(H36M_16), 287_923),  # Modulated GCN GT setting: 0.29M
        # Modulated GCN Table 3 (A_add, no regularisation): sharing / modulation / unsharing
        (lambda: ModulatedGCN(H36M_16, weight_modulation=False), 269_443),  # 0.27M
        (lambda: ModulatedGCN(H36M_16, hidden=124), 271_071),  # 0.27M
        (lambda: ModulatedGCN(H36M_16, weight_modulation=False, weight_unsharing=True), 4_220_803),  # 4.22M
        (lambda: ModulatedGCN(H36M_16, hidden=256, weight_modulation=False), 1_060_611),  # 1.06M
        (lambda: ModulatedGCN(H36M_16, hidden=256), 1_097_523),  # 1.10M
        # CPN setting: 17 joints, 384 channels, non-local before the output layer
        (
            lambda: ModulatedGCN(H36M_17, hidden=384, dropout=0.2, non_local=True, modulation_init="xavier"),
            2_731_840,
        ),
    ],
)
def test_parameter_counts(make, expected):
    assert n_params(make()) == expected


def test_parameter_count_formula_of_modulated_gcn():
    """Σ over layers of 2·C_in·C_out + J·C_out + J² + C_out, plus 2·C per BatchNorm."""
    j, h = 16, 128
    layer = lambda ci, co: 2 * ci * co + j * co + j * j + co  # noqa: E731
    expected = layer(2, h) + 2 * h + 8 * (layer(h, h) + 2 * h) + layer(h, 3)
    assert n_params(ModulatedGCN(H36M_16)) == expected


# ----------------------------------------------------------------------------- shapes and errors
NETWORKS = {
    "semgcn": lambda: SemGCN(H36M_16, hidden=16, num_blocks=2, non_local=True),
    "semgcn_ch": lambda: SemGCN(H36M_16, hidden=16, num_blocks=1, channelwise=True, dropout=0.1),
    "modgcn": lambda: ModulatedGCN(H36M_16, hidden=16, num_blocks=2),
    "modgcn_cpn": lambda: ModulatedGCN(
        H36M_17, hidden=16, num_blocks=2, dropout=0.2, non_local=True, modulation_init="xavier"
    ),
    "modgcn_unshare_lowrank": lambda: ModulatedGCN(
        H36M_16, hidden=8, num_blocks=1, weight_modulation=False, weight_unsharing=True, low_rank=3
    ),
}


@pytest.mark.parametrize("name", list(NETWORKS))
def test_forward_shapes_and_leading_dims(name):
    torch.manual_seed(0)
    net = NETWORKS[name]().eval()
    j = net.num_joints
    x = torch.randn(6, j, 2)
    assert net(x).shape == (6, j, 3)
    xt = x.view(2, 3, j, 2)
    torch.testing.assert_close(net(xt), net(x).view(2, 3, j, 3))


def test_joint_count_mismatch_is_explained():
    net = ModulatedGCN(H36M_16, hidden=8, num_blocks=1)
    with pytest.raises(ValueError, match="16- vs 17-joint"):
        net(torch.randn(2, 17, 2))
    with pytest.raises(ValueError, match=r"\[B, 16, 2\]"):
        net(torch.randn(2, 16, 3))
    with pytest.raises(ValueError, match="joint_groups"):
        SemGCN(H36M_17, non_local=True)
    with pytest.raises(ValueError, match="weight_modulation=False"):
        ModulatedGCN(H36M_16, weight_unsharing=True)
    with pytest.raises(ValueError, match="Skeleton"):
        SemGCN(16)


def test_semgcn_non_local_with_custom_groups():
    groups = [[1, 2, 3, 0], [4, 5, 6, 7], [8, 9, 10, 11], [12, 13, 14, 15]]
    net = SemGCN(H36M_16, hidden=8, num_blocks=1, non_local=True, joint_groups=groups)
    nl = [m for m in net.modules() if isinstance(m, GroupedNonLocal)]
    assert len(nl) == 2 and nl[0].groups == groups
    assert net(torch.randn(3, 16, 2)).shape == (3, 16, 3)


def test_layout_of_networks():
    sem = SemGCN(H36M_16, non_local=True)
    assert len(list(sem.graph_layers())) == 10  # input + 4 blocks × 2 + output
    assert sum(isinstance(m, GroupedNonLocal) for m in sem.modules()) == 5
    mod = ModulatedGCN(H36M_17, hidden=32, non_local=True)
    layers = list(mod.graph_layers())
    assert len(layers) == 10 and all(isinstance(m, ModulatedGraphConv) for m in layers)
    assert layers[0].in_channels == 2 and layers[-1].out_channels == 3
    assert isinstance(mod.non_local, EmbeddedGaussianNonLocal)
    torch.testing.assert_close(mod.gconv_output.affinity.adjacency, H36M_17.adjacency("degree_diag1"))
    assert (sem.gconv_output.mask == (H36M_16.adjacency("self_loops") > 0)).all()


def test_affinity_l1_sums_layers():
    net = ModulatedGCN(H36M_16, hidden=8, num_blocks=1)
    with torch.no_grad():
        for i, layer in enumerate(net.graph_layers()):
            layer.affinity.Q.fill_(0.1 * (i + 1))
    expected = sum(0.1 * (i + 1) * 256 for i in range(4))
    assert net.affinity_l1().item() == pytest.approx(expected, rel=1e-6)
    assert ModulatedGCN(H36M_16).affinity_l1().item() == pytest.approx(10 * 256 * 1e-6, rel=1e-5)


def test_graph_conv_block_matches_original_transposed_batchnorm():
    """BN on [B·J, C] rows equals the original BatchNorm1d on [B, C, J] (training and eval)."""
    torch.manual_seed(0)
    block = GraphConvBlock(ModulatedGraphConv(4, 6, H36M_16.adjacency("degree_diag1")))
    x = torch.randn(5, 16, 4)
    for train in (True, False):
        block.train(train)
        ref_bn = nn.BatchNorm1d(6).train(train)
        ref_bn.load_state_dict(block.bn.state_dict())
        expected = torch.relu(ref_bn(block.gconv(x).transpose(1, 2)).transpose(1, 2))
        torch.testing.assert_close(block(x), expected)


def _original_graph_conv_block(block: GraphConvBlock, x: torch.Tensor) -> torch.Tensor:
    """The original ``_GraphConv.forward``: gconv, BatchNorm1d on [B, C, J], ReLU."""
    y = block.gconv(x).transpose(1, 2)
    # the block's BatchNorm parameters and statistics, applied the original way (plain BatchNorm1d)
    return torch.relu(nn.BatchNorm1d.forward(block.bn, y).transpose(1, 2))


def _original_res_block(block, x: torch.Tensor) -> torch.Tensor:
    """The original ``_ResGraphConv.forward``: residual + two graph-conv blocks (no ReLU after the sum)."""
    return x + _original_graph_conv_block(block.gconv2, _original_graph_conv_block(block.gconv1, x))


@pytest.mark.parametrize("non_local", [False, True])
def test_network_wiring_matches_original_forward(non_local):
    torch.manual_seed(0)
    x = torch.randn(4, 16, 2)
    sem = SemGCN(H36M_16, hidden=8, num_blocks=2, non_local=non_local).eval()
    mod = ModulatedGCN(H36M_16, hidden=8, num_blocks=2, non_local=non_local).eval()
    for net in (sem, mod):  # make the non-local blocks non-trivial
        for m in net.modules():
            if isinstance(m, nn.BatchNorm1d):
                nn.init.uniform_(m.weight, 0.5, 1.5)
                nn.init.uniform_(m.bias, -0.5, 0.5)
    # SemGCN: input layer, non-local, then (residual block, non-local) × num_blocks, output layer
    h = _original_graph_conv_block(sem.gconv_input[0], x)
    nls = [m for m in sem.modules() if isinstance(m, GroupedNonLocal)]
    if non_local:
        h = nls[0](h)
    res_blocks = [m for m in sem.gconv_layers if not isinstance(m, GroupedNonLocal)]
    for k, block in enumerate(res_blocks):
        h = _original_res_block(block, h)
        if non_local:
            h = nls[k + 1](h)
    torch.testing.assert_close(sem(x), sem.gconv_output(h))
    # Modulated GCN: input layer, residual blocks, (embedded-Gaussian non-local), output layer
    h = _original_graph_conv_block(mod.gconv_input[0], x)
    for block in mod.gconv_layers:
        h = _original_res_block(block, h)
    if non_local:
        h = mod.non_local(h)
    torch.testing.assert_close(mod(x), mod.gconv_output(h))


# ----------------------------------------------------------------------------- gradients
@pytest.mark.parametrize("name", list(NETWORKS))
def test_gradients_reach_every_parameter(name):
    torch.manual_seed(0)
    net = NETWORKS[name]()
    x, y = torch.randn(8, net.num_joints, 2), torch.randn(8, net.num_joints, 3)
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    # Non-local blocks start as the identity (BN weight 0), so their inner weights get no gradient
    # until the BN weight has moved: take one step first.
    for _ in range(2):
        opt.zero_grad()
        (net(x) - y).square().mean().backward()
        opt.step()
    missing = [n for n, p in net.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert not missing


# ----------------------------------------------------------------------------- overfitting
@pytest.fixture
def single_thread():
    """Small ops: one intra-op thread is faster, and far faster when other processes share the cores."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.mark.parametrize(
    "make",
    [
        lambda: SemGCN(H36M_16, hidden=64, num_blocks=2),
        lambda: ModulatedGCN(H36M_16, hidden=64, num_blocks=2),
    ],
)
def test_overfits_32_random_poses(make, single_thread):
    torch.manual_seed(0)
    net = make()
    x = torch.randn(32, 16, 2) * 0.3
    y = torch.randn(32, 16, 3) * 0.2
    y = y - y[:, :1]  # root-relative, metre scale
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    losses = []
    for _ in range(300):
        opt.zero_grad()
        loss = (net(x) - y).square().mean()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.1 * losses[0]


# ----------------------------------------------------------------------------- GT-root-depth refinement
def test_back_projection_with_true_depths_recovers_pose():
    torch.manual_seed(0)
    n, j = 4, 17
    cam_xyz = torch.randn(n, j, 3) * 0.4 + torch.tensor([0.1, -0.2, 5.0])  # camera frame, metres
    focal, center = torch.tensor([[1145.0, 1144.0]]).expand(n, 2), torch.tensor([[512.0, 515.0]]).expand(n, 2)
    uv = torch.stack(
        [cam_xyz[:, k, :2] / cam_xyz[:, k, 2:] * focal + center for k in range(j)], dim=1
    )  # per-joint pinhole projection
    rel = cam_xyz - cam_xyz[:, :1]
    out = back_project_with_root_depth(uv, rel, cam_xyz[:, 0, 2], focal, center)
    torch.testing.assert_close(out, rel, atol=1e-4, rtol=1e-4)


def test_gt_root_depth_refinement_blends_xy_only():
    torch.manual_seed(0)
    n, j = 3, 17
    ref = GTRootDepthRefinement(j, hidden=32).eval()
    assert sum(p.numel() for p in ref.parameters()) == 6 * j * 32 + 32 + 32 * 2 * j + 2 * j
    pred = torch.randn(n, j, 3) * 0.3
    uv, root_z = torch.randn(n, j, 2), torch.full((n,), 5.0)
    focal, center = torch.full((n, 2), 2.0), torch.zeros(n, 2)
    uv_3d = back_project_with_root_depth(uv, pred, root_z, focal, center)
    last = ref.mlp[3]
    with torch.no_grad():
        last.weight.zero_()
        for bias, expected_xy in ((50.0, pred[..., :2]), (-50.0, uv_3d[..., :2])):
            last.bias.fill_(bias)  # score 1 → keep the prediction, score 0 → take the back-projection
            out = ref(pred, uv, root_z, focal, center)
            torch.testing.assert_close(out[..., :2], expected_xy)
            torch.testing.assert_close(out[..., 2], pred[..., 2])
    with pytest.raises(ValueError, match="pose_2d"):
        ref(pred, uv[:, :16], root_z, focal, center)
