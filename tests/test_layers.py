"""Graph layers and non-local blocks against the literal equations (explicit loops, dense matrices)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

from posegcn.nn import (
    AffinityModulation,
    EmbeddedGaussianNonLocal,
    GraphConv,
    GroupedNonLocal,
    ModulatedGraphConv,
    SemGraphConv,
    WeightUnsharingGraphConv,
)
from posegcn.nn.non_local import SEMGCN_JOINT_GROUPS_16
from posegcn.skeleton import H36M_16

J, CIN, COUT, B = 5, 3, 4, 2


@pytest.fixture(autouse=True, scope="module")
def _float64():
    """Layers and literal references in float64 so that they agree to ~1e-12."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(previous)


def random_adjacency(seed: int = 0, j: int = J) -> torch.Tensor:
    """A random non-symmetric weighted adjacency with self-loops and some zeros."""
    g = torch.Generator().manual_seed(seed)
    a = torch.rand(j, j, generator=g) * (torch.rand(j, j, generator=g) < 0.5)
    return a + torch.eye(j) * (0.5 + torch.rand(j, generator=g))


def randomize_(module: torch.nn.Module, seed: int = 1) -> torch.nn.Module:
    """Give every parameter random values so that no term of an equation is trivially 1 or 0."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=g, dtype=p.dtype))
    return module


def literal_decoupled(a: np.ndarray, x: np.ndarray, w0, w1, bias, m=None) -> np.ndarray:
    """out[n,i] = a_ii (m_i ⊙ x_i W0^(i)) + Σ_{j≠i} a_ij (m_j ⊙ x_j W1^(j)) + b, by explicit loops.

    ``w0``/``w1`` are either one matrix or a list of per-node matrices.
    """
    n_, j_ = x.shape[:2]
    c = bias.shape[0]
    w0s = w0 if isinstance(w0, list) else [w0] * j_
    w1s = w1 if isinstance(w1, list) else [w1] * j_
    ms = np.ones((j_, c)) if m is None else m
    out = np.zeros((n_, j_, c))
    for n in range(n_):
        for i in range(j_):
            acc = bias.copy()
            for j in range(j_):
                if i == j:
                    acc += a[i, j] * ms[j] * (x[n, j] @ w0s[j])
                else:
                    acc += a[i, j] * ms[j] * (x[n, j] @ w1s[j])
            out[n, i] = acc
    return out


def np_(t: torch.Tensor) -> np.ndarray:
    return t.detach().numpy()


# ----------------------------------------------------------------------------- GraphConv
def test_graph_conv_matches_literal():
    a = random_adjacency()
    layer = randomize_(GraphConv(CIN, COUT, a))
    x = torch.randn(B, J, CIN)
    ref = literal_decoupled(np_(a), np_(x), np_(layer.W[0]), np_(layer.W[1]), np_(layer.bias))
    np.testing.assert_allclose(np_(layer(x)), ref, rtol=1e-10, atol=1e-12)


def test_graph_conv_extra_leading_dims_and_bad_shapes():
    layer = GraphConv(CIN, COUT, random_adjacency())
    x = torch.randn(2, 3, J, CIN)
    torch.testing.assert_close(layer(x), layer(x.reshape(6, J, CIN)).reshape(2, 3, J, COUT))
    with pytest.raises(ValueError, match=r"J=5, C=3"):
        layer(torch.randn(B, J + 1, CIN))
    with pytest.raises(ValueError, match="square"):
        GraphConv(CIN, COUT, torch.ones(3, 4))


def test_original_xavier_init_uses_3d_fans():
    layer = GraphConv(128, 128, random_adjacency())
    bound_3d = 1.414 * math.sqrt(6 / (128 * 128 + 2 * 128))
    assert layer.W.abs().max() <= bound_3d
    assert layer.W.abs().max() > 0.95 * bound_3d
    assert layer.bias.abs().max() <= 1 / math.sqrt(128)
    per_matrix = GraphConv(128, 128, random_adjacency(), weight_init="per_matrix")
    assert per_matrix.W.abs().max() > 5 * bound_3d
    with pytest.raises(ValueError, match="weight init"):
        GraphConv(4, 4, random_adjacency(), weight_init="kaiming")


# ----------------------------------------------------------------------------- SemGraphConv
def literal_masked_softmax(logits_dense: np.ndarray, mask: np.ndarray) -> np.ndarray:
    out = np.zeros_like(logits_dense)
    for i in range(mask.shape[0]):
        cols = np.nonzero(mask[i])[0]
        ex = np.exp(logits_dense[i, cols] - logits_dense[i, cols].max())
        out[i, cols] = ex / ex.sum()
    return out


def test_sem_graph_conv_scalar_matches_literal():
    a = random_adjacency(3)
    mask = np_(a) != 0
    layer = randomize_(SemGraphConv(CIN, COUT, a))
    assert layer.e.shape == (1, mask.sum())
    # e is written in the row-major order of the mask's non-zeros (original ``adj[mask] = e``).
    dense = np.zeros((J, J))
    dense[mask] = np_(layer.e)[0]
    a_tilde = literal_masked_softmax(dense, mask)
    np.testing.assert_allclose(np_(layer.edge_weights()), a_tilde, rtol=1e-10, atol=1e-12)
    x = torch.randn(B, J, CIN)
    ref = literal_decoupled(a_tilde, np_(x), np_(layer.W[0]), np_(layer.W[1]), np_(layer.bias))
    np.testing.assert_allclose(np_(layer(x)), ref, rtol=1e-10, atol=1e-12)


def test_sem_graph_conv_rows_sum_to_one_zero_off_mask():
    a = H36M_16.adjacency("self_loops").double()
    layer = randomize_(SemGraphConv(CIN, COUT, a))
    assert layer.num_edges == 46  # 15 bones × 2 + 16 self-loops
    w = layer.edge_weights()
    torch.testing.assert_close(w.sum(dim=1), torch.ones(16))
    assert (w[a == 0] == 0).all()
    assert (w[a != 0] > 0).all()
    # e = 1 at init: uniform weights over each neighbourhood.
    w0 = SemGraphConv(CIN, COUT, a).edge_weights()
    torch.testing.assert_close(w0, a / a.sum(dim=1, keepdim=True))


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_sem_graph_conv_mask_is_safe_in_half_precision(dtype):
    layer = SemGraphConv(CIN, COUT, H36M_16.adjacency("self_loops")).to(dtype)
    w = layer.edge_weights()
    assert torch.isfinite(w).all()
    torch.testing.assert_close(w.float().sum(dim=1), torch.ones(16, dtype=torch.float32), atol=1e-2, rtol=0)
    assert (w[H36M_16.adjacency("self_loops") == 0] == 0).all()


def test_sem_graph_conv_channelwise_matches_literal():
    a = random_adjacency(4)
    mask = np_(a) != 0
    layer = randomize_(SemGraphConv(CIN, COUT, a, channelwise=True))
    assert layer.e.shape == (COUT, mask.sum())
    x = torch.randn(B, J, CIN)
    xs = np_(x)
    ref = np.zeros((B, J, COUT))
    for d in range(COUT):  # one softmax-normalised affinity per output channel (Eq. 3)
        dense = np.zeros((J, J))
        dense[mask] = np_(layer.e)[d]
        a_d = literal_masked_softmax(dense, mask)
        w0 = np_(layer.W[0])[:, d : d + 1]
        w1 = np_(layer.W[1])[:, d : d + 1]
        ref[..., d : d + 1] = literal_decoupled(a_d, xs, w0, w1, np_(layer.bias)[d : d + 1])
    np.testing.assert_allclose(np_(layer(x)), ref, rtol=1e-10, atol=1e-12)
    w = layer.edge_weights()
    torch.testing.assert_close(w.sum(dim=-1), torch.ones(COUT, J))
    assert (w[:, ~torch.from_numpy(mask)] == 0).all()


def test_sem_graph_conv_rejects_empty_rows():
    with pytest.raises(ValueError, match="self-loops"):
        SemGraphConv(CIN, COUT, H36M_16.adjacency("binary") * (torch.arange(16) != 3).double()[:, None])


# ----------------------------------------------------------------------------- ModulatedGraphConv
def literal_affinity(a, variant, symmetric, p=None, q=None):
    """Â from Eq. 6–9 and the symmetrisation, written out."""
    if symmetric == "modulation":
        p = None if p is None else (p + p.T) / 2
        q = None if q is None else (q + q.T) / 2
    a_hat = {
        "skeleton": lambda: a,
        "mul": lambda: a * p,
        "add": lambda: a + q,
        "mix": lambda: a * p + q,
        "no_skeleton": lambda: q,
    }[variant]()
    if symmetric is True:
        a_hat = (a_hat + a_hat.T) / 2
    return a_hat


VARIANTS = ["skeleton", "mul", "add", "mix", "no_skeleton"]
CASES = [
    (v, wm, sym, lr)
    for v, wm, sym, lr in itertools.product(VARIANTS, [True, False], [True, False, "modulation"], [None, 2])
    if not (lr is not None and v in ("skeleton", "mul"))
]


@pytest.mark.parametrize(("variant", "weight_modulation", "symmetric", "low_rank"), CASES)
def test_modulated_graph_conv_matches_literal(variant, weight_modulation, symmetric, low_rank):
    a = random_adjacency(5)
    layer = ModulatedGraphConv(
        CIN,
        COUT,
        a,
        weight_modulation=weight_modulation,
        affinity=variant,
        symmetric=symmetric,
        low_rank=low_rank,
    )
    randomize_(layer)
    aff = layer.affinity
    p = None if aff.P is None else np_(aff.P)
    q = np_(aff.L) @ np_(aff.L).T if low_rank else (None if aff.Q is None else np_(aff.Q))
    a_hat = literal_affinity(np_(a), variant, symmetric, p, q)
    np.testing.assert_allclose(np_(layer.effective_affinity()), a_hat, rtol=1e-12, atol=1e-12)
    x = torch.randn(B, J, CIN)
    m = np_(layer.M) if weight_modulation else None
    ref = literal_decoupled(a_hat, np_(x), np_(layer.W[0]), np_(layer.W[1]), np_(layer.bias), m)
    np.testing.assert_allclose(np_(layer(x)), ref, rtol=1e-10, atol=1e-12)
    # symmetric variants stay symmetric
    if symmetric is True:
        torch.testing.assert_close(layer.effective_affinity(), layer.effective_affinity().T)
    if low_rank:
        torch.testing.assert_close(aff.modulation(), aff.modulation().T)
    if symmetric == "modulation" and variant in ("add", "no_skeleton"):
        torch.testing.assert_close(aff.learned_affinity(), aff.learned_affinity().T)


def test_modulated_graph_conv_defaults_match_original_code():
    adj = H36M_16.adjacency("degree_diag1").double()
    layer = ModulatedGraphConv(128, 128, adj)
    n_params = sum(p.numel() for p in layer.parameters())
    assert n_params == 2 * 128 * 128 + 16 * 128 + 16 * 16 + 128
    assert (layer.M == 1).all() and (layer.affinity.Q == 1e-6).all()
    # at init Â = (A + Aᵀ)/2 + 1e-6 (the original code symmetrises the whole affinity)
    torch.testing.assert_close(layer.effective_affinity(), (adj + adj.T) / 2 + 1e-6)
    # the original forward, written as in modulated_gcn_conv.py
    randomize_(layer)
    x = torch.randn(3, 16, 128)
    h0, h1 = x @ layer.W[0], x @ layer.W[1]
    a_ = adj + layer.affinity.Q
    a_ = (a_.T + a_) / 2
    e = torch.eye(16)
    ref = (a_ * e) @ (layer.M * h0) + (a_ * (1 - e)) @ (layer.M * h1) + layer.bias.view(1, 1, -1)
    torch.testing.assert_close(layer(x), ref)
    xav = ModulatedGraphConv(384, 384, H36M_16.adjacency("degree_diag1"), modulation_init="xavier")
    bound = 1.414 * math.sqrt(6 / (16 + 384))
    assert xav.M.abs().max() <= bound and xav.M.abs().max() > 0.9 * bound


def test_symmetric_affinity_stays_symmetric_after_training_steps():
    torch.manual_seed(0)
    for kwargs in ({"symmetric": True}, {"symmetric": False, "low_rank": 2}, {"symmetric": "modulation"}):
        layer = ModulatedGraphConv(CIN, COUT, random_adjacency(6), **kwargs)
        opt = torch.optim.Adam(layer.parameters(), lr=0.1)
        x, y = torch.randn(8, J, CIN), torch.randn(8, J, COUT)
        for _ in range(5):
            opt.zero_grad()
            (layer(x) - y).square().mean().backward()
            opt.step()
        if kwargs.get("symmetric") is True:
            a_hat = layer.effective_affinity()
            torch.testing.assert_close(a_hat, a_hat.T)
        q = layer.affinity.learned_affinity()
        torch.testing.assert_close(q, q.T)
        assert not torch.allclose(q, torch.full_like(q, 1e-6))  # it did learn something


def test_low_rank_modulation_has_rank_r_and_starts_near_q_init():
    torch.manual_seed(0)
    aff = AffinityModulation(H36M_16.adjacency("degree_diag1"), "add", symmetric=False, low_rank=3)
    q = aff.modulation().detach()
    assert torch.linalg.matrix_rank(q) == 3
    assert q.abs().max() < 1e-5 and q.diagonal().mean() == pytest.approx(1e-6, rel=0.5)
    with pytest.raises(ValueError, match="low_rank"):
        AffinityModulation(H36M_16.adjacency("degree_diag1"), "mul", low_rank=3)
    with pytest.raises(ValueError, match="variant"):
        AffinityModulation(H36M_16.adjacency("degree_diag1"), "multiply")


@torch.no_grad()
def test_affinity_l1_is_l1_of_learned_part():
    a = random_adjacency(7)
    for variant in VARIANTS:
        layer = randomize_(ModulatedGraphConv(CIN, COUT, a, affinity=variant, symmetric=False))
        aff = layer.affinity
        expected = {
            "skeleton": 0.0,
            "mul": (a * aff.P).abs().sum() if aff.P is not None else None,
            "add": aff.Q.abs().sum() if aff.Q is not None else None,
            "mix": (a * aff.P + aff.Q).abs().sum() if aff.P is not None and aff.Q is not None else None,
            "no_skeleton": aff.Q.abs().sum() if aff.Q is not None else None,
        }[variant]
        assert float(layer.affinity_l1()) == pytest.approx(float(expected))


# ----------------------------------------------------------------------------- WeightUnsharingGraphConv
@pytest.mark.parametrize("variant", ["skeleton", "add"])
def test_weight_unsharing_matches_literal(variant):
    a = random_adjacency(8)
    layer = randomize_(WeightUnsharingGraphConv(CIN, COUT, a, affinity=variant, symmetric=True))
    assert layer.W.shape == (2, J, CIN, COUT)
    a_hat = np_(layer.effective_affinity())
    q = 0 if variant == "skeleton" else np_(layer.affinity.Q)
    np.testing.assert_allclose(a_hat, ((np_(a) + q) + (np_(a) + q).T) / 2)
    x = torch.randn(B, J, CIN)
    w0 = [np_(layer.W[0, j]) for j in range(J)]
    w1 = [np_(layer.W[1, j]) for j in range(J)]
    ref = literal_decoupled(a_hat, np_(x), w0, w1, np_(layer.bias))
    np.testing.assert_allclose(np_(layer(x)), ref, rtol=1e-10, atol=1e-12)


def test_weight_unsharing_init_per_node_like_shared():
    layer = WeightUnsharingGraphConv(64, 64, random_adjacency())
    bound = 1.414 * math.sqrt(6 / (64 * 64 + 2 * 64))
    per_node_max = layer.W.abs().amax(dim=(0, 2, 3))
    assert (per_node_max <= bound).all() and (per_node_max > 0.9 * bound).all()


# ----------------------------------------------------------------------------- joint relabelling
def test_relabelling_joints_permutes_outputs():
    torch.manual_seed(0)
    a = random_adjacency(9)
    perm = torch.tensor([3, 0, 4, 1, 2])
    a_perm = a[perm][:, perm]
    x = torch.randn(B, J, CIN)
    g = randomize_(GraphConv(CIN, COUT, a))
    g_perm = GraphConv(CIN, COUT, a_perm)
    g_perm.load_state_dict({**g.state_dict(), "adjacency": a_perm})
    torch.testing.assert_close(g_perm(x[:, perm]), g(x)[:, perm])

    for low_rank in (None, 2):
        m = randomize_(ModulatedGraphConv(CIN, COUT, a, affinity="mix", low_rank=low_rank))
        m_perm = ModulatedGraphConv(CIN, COUT, a_perm, affinity="mix", low_rank=low_rank)
        sd = dict(m.state_dict())
        sd["M"] = sd["M"][perm]
        sd["affinity.adjacency"] = a_perm
        sd["affinity.P"] = sd["affinity.P"][perm][:, perm]
        if low_rank is None:
            sd["affinity.Q"] = sd["affinity.Q"][perm][:, perm]
        else:
            sd["affinity.L"] = sd["affinity.L"][perm]
        m_perm.load_state_dict(sd)
        torch.testing.assert_close(m_perm(x[:, perm]), m(x)[:, perm])

    s = randomize_(SemGraphConv(CIN, COUT, torch.ones(J, J)))  # full mask: e permutes as a dense matrix
    s_perm = SemGraphConv(CIN, COUT, torch.ones(J, J))
    s_perm.load_state_dict({**s.state_dict(), "e": s.e.view(J, J)[perm][:, perm].reshape(1, -1)})
    torch.testing.assert_close(s_perm(x[:, perm]), s(x)[:, perm])


# ----------------------------------------------------------------------------- non-local blocks
def literal_embedded_gaussian(block: EmbeddedGaussianNonLocal, x: torch.Tensor) -> torch.Tensor:
    """Per-sample loops over queries and keys; BN in training mode from batch statistics."""
    n_, j_, _ = x.shape
    th, ph, g = block.theta(x), block.phi(x), block.g(x)
    y = torch.zeros(n_, j_, block.inter_channels)
    for n in range(n_):
        for i in range(j_):
            logits = torch.stack([th[n, i] @ ph[n, k] for k in range(j_)])
            w = torch.exp(logits - logits.max())
            w = w / w.sum()
            y[n, i] = sum(w[k] * g[n, k] for k in range(j_))
    wy = block.w_z(y)
    mean = wy.mean(dim=(0, 1))
    var = wy.var(dim=(0, 1), unbiased=False)
    return (wy - mean) / torch.sqrt(var + block.bn.eps) * block.bn.weight + block.bn.bias + x


def literal_grouped_non_local(block: GroupedNonLocal, x: torch.Tensor, groups) -> torch.Tensor:
    """The original recipe: permute joints into group order, max-pool keys/values over consecutive
    group members, materialise the concatenation [θ_i; φ_g], divide by the number of keys, restore order."""
    order = [j for grp in groups for j in grp]
    restore = [order.index(j) for j in range(len(order))]
    k = len(groups[0])
    xg = x[:, order]
    th, ph, g = block.theta(xg), block.phi(xg), block.g(xg)
    n_, j_, c = th.shape
    ph = ph.view(n_, j_ // k, k, c).amax(dim=2)
    g = g.view(n_, j_ // k, k, c).amax(dim=2)
    w_f = block.concat_project.weight[0]
    y = torch.zeros(n_, j_, c, dtype=x.dtype)
    for n in range(n_):
        for i in range(j_):
            f = torch.stack([torch.relu(w_f @ torch.cat([th[n, i], ph[n, gk]])) for gk in range(j_ // k)])
            y[n, i] = (f[:, None] * g[n]).sum(0) / (j_ // k)
    wy = block.w_z(y)
    mean, var = wy.mean(dim=(0, 1)), wy.var(dim=(0, 1), unbiased=False)
    z = (wy - mean) / torch.sqrt(var + block.bn.eps) * block.bn.weight + block.bn.bias + xg
    return z[:, restore]


def test_embedded_gaussian_identity_at_init_and_shapes():
    block = EmbeddedGaussianNonLocal(8)
    assert block.inter_channels == 4
    for shape in [(3, J, 8), (2, 3, J, 8)]:
        x = torch.randn(*shape)
        torch.testing.assert_close(block(x), x)
    with pytest.raises(ValueError, match="channels last"):
        block(torch.randn(3, J, 7))


def test_embedded_gaussian_matches_literal():
    block = randomize_(EmbeddedGaussianNonLocal(6, inter_channels=3))
    x = torch.randn(3, J, 6)
    torch.testing.assert_close(block(x), literal_embedded_gaussian(block, x))
    att = block.attention(x)
    torch.testing.assert_close(att.sum(-1), torch.ones(3, J))
    # [B, T, J, C]: attention within each frame — equal to running frames as separate poses
    xt = torch.randn(2, 3, J, 6)
    block.eval()
    torch.testing.assert_close(block(xt), block(xt.reshape(6, J, 6)).reshape(2, 3, J, 6))


@pytest.mark.parametrize("train", [True, False])
def test_embedded_gaussian_is_joint_permutation_equivariant(train):
    block = randomize_(EmbeddedGaussianNonLocal(6))
    with torch.no_grad():
        block.bn.running_var.uniform_(0.5, 2.0)
        block.bn.running_mean.normal_()
    block.train(train)
    x = torch.randn(4, J, 6)
    perm = torch.tensor([2, 4, 0, 1, 3])
    torch.testing.assert_close(block(x[:, perm]), block(x)[:, perm])


def test_grouped_non_local_identity_at_init_matches_literal_and_counts():
    block = GroupedNonLocal(128)
    assert sum(p.numel() for p in block.parameters()) == 33_472
    x = torch.randn(3, 16, 128)
    torch.testing.assert_close(block(x), x)
    torch.testing.assert_close(block(x.view(1, 3, 16, 128)), x.view(1, 3, 16, 128))
    small = randomize_(GroupedNonLocal(6, SEMGCN_JOINT_GROUPS_16, inter_channels=3))
    x = torch.randn(2, 16, 6)
    torch.testing.assert_close(small(x), literal_grouped_non_local(small, x, SEMGCN_JOINT_GROUPS_16))
    assert small.attention(x).shape == (2, 16, 8)


@pytest.mark.parametrize(
    "groups", [SEMGCN_JOINT_GROUPS_16, [[3, 7, 0, 12], [1, 2, 4, 5], [6, 8, 9, 15], [10, 11, 13, 14]]]
)
def test_grouped_non_local_gradients_match_literal(groups):
    """Values and gradients (input and every parameter) of the pooled, gathered form equal the
    original recipe's, for pairs and for groups of four; a [B, T, J, C] input is pooled per frame."""
    block = randomize_(GroupedNonLocal(6, groups, inter_channels=3).double())
    x = torch.randn(3, 16, 6, dtype=torch.float64, requires_grad=True)
    grad_out = torch.randn(3, 16, 6, dtype=torch.float64)
    inputs = [x, *block.parameters()]
    out, expected = block(x), literal_grouped_non_local(block, x, groups)
    torch.testing.assert_close(out, expected)
    for got, want in zip(
        torch.autograd.grad(out, inputs, grad_out), torch.autograd.grad(expected, inputs, grad_out)
    ):
        torch.testing.assert_close(got, want)
    block.eval()
    xt = torch.randn(2, 3, 16, 6, dtype=torch.float64)
    torch.testing.assert_close(block(xt), block(xt.reshape(6, 16, 6)).reshape(2, 3, 16, 6))


def test_grouped_non_local_validates_groups():
    with pytest.raises(ValueError, match="equal size"):
        GroupedNonLocal(8, [[0, 1], [2]])
    with pytest.raises(ValueError, match="exactly once"):
        GroupedNonLocal(8, [[0, 1], [1, 2]])
    with pytest.raises(ValueError, match="16 joints"):
        GroupedNonLocal(8)(torch.randn(2, 17, 8))
