"""DG-Net graph layers (FSG, DSG, FTG, DTG) against literal per-joint references written with loops."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from posegcn.nn.dynamical_spatial_graph import DynamicalSpatialGraphConv
from posegcn.nn.dynamical_temporal_graph import DynamicalTemporalGraphConv, feature_motions
from posegcn.nn.fixed_graphs import FixedSpatialGraphConv, FixedTemporalGraphConv
from posegcn.nn.knn import aggregate_neighbours, dense_affinity, knn_indices
from posegcn.skeleton import H36M_17

B, T, N, C = 2, 4, 17, 6


@pytest.fixture
def x() -> torch.Tensor:
    torch.manual_seed(0)
    return torch.randn(B, T, N, C, dtype=torch.float64)


def _knn_reference(keys: np.ndarray, i: int, k: int, include_self: bool) -> list[int]:
    """Brute-force KNN of row ``i`` among ``keys [N, C]``: explicit distances, full sort."""
    dist = [float(np.sqrt(((keys[i] - keys[j]) ** 2).sum())) for j in range(len(keys))]
    order = sorted(range(len(keys)), key=lambda j: dist[j])
    if not include_self:
        order = [j for j in order if j != i]
    return order[:k]


def _softmax(s: np.ndarray) -> np.ndarray:
    e = np.exp(s - s.max())
    return e / e.sum()


def _weights_reference(scores: np.ndarray, weighting: str) -> np.ndarray:
    return {
        "softmax": _softmax(scores),
        "sigmoid": 1 / (1 + np.exp(-scores)),
        "raw": scores,
        "none": np.ones_like(scores),
    }[weighting]


def _score(linear: torch.nn.Linear | None, xi: np.ndarray, xj: np.ndarray) -> float:
    if linear is None:
        return 0.0
    w = linear.weight.detach().double().numpy()[0]
    return float(w @ np.concatenate([xi, xj]) + linear.bias.item())


# ------------------------------------------------------------------ KNN graphs
@pytest.mark.parametrize("include_self", [False, True])
def test_spatial_knn_matches_brute_force(x: torch.Tensor, include_self: bool) -> None:
    layer = DynamicalSpatialGraphConv(C, 5, k=3, include_self=include_self).double()
    idx, _ = layer.graph(x)
    assert idx.shape == (B, T, N, 3)
    xn = x.numpy()
    for b in range(B):
        for t in range(T):
            for i in range(N):
                expected = _knn_reference(xn[b, t], i, 3, include_self)
                assert idx[b, t, i].tolist() == expected, (b, t, i)
                if include_self:
                    assert expected[0] == i


@pytest.mark.parametrize("include_self", [False, True])
def test_temporal_knn_matches_brute_force(x: torch.Tensor, include_self: bool) -> None:
    layer = DynamicalTemporalGraphConv(C, 5, k=4, include_self=include_self).double()
    (idx_f, _), (idx_b, _) = layer.graph(x)
    assert idx_f.shape == idx_b.shape == (B, T, N, 4)
    xn = x.numpy()
    for b in range(B):
        for t in range(T):
            # Edge rule: motion replicated (constant velocity) at the window ends.
            tf = min(t, T - 2)  # forward motion x_{tf+1} − x_{tf}
            tb = max(t, 1)  # backward motion x_{tb} − x_{tb−1}
            motion_f = xn[b, tf + 1] - xn[b, tf]
            motion_b = xn[b, tb] - xn[b, tb - 1]
            for i in range(N):
                assert idx_f[b, t, i].tolist() == _knn_reference(motion_f, i, 4, include_self), (b, t, i)
                assert idx_b[b, t, i].tolist() == _knn_reference(motion_b, i, 4, include_self), (b, t, i)


def test_feature_motions_edges(x: torch.Tensor) -> None:
    fwd, bwd = feature_motions(x)
    torch.testing.assert_close(fwd[:, 1], x[:, 2] - x[:, 1])
    torch.testing.assert_close(fwd[:, -1], x[:, -1] - x[:, -2])
    torch.testing.assert_close(bwd[:, 2], x[:, 2] - x[:, 1])
    torch.testing.assert_close(bwd[:, 0], x[:, 1] - x[:, 0])
    with pytest.raises(ValueError, match="T >= 2"):
        feature_motions(x[:, :1])


def test_knn_rejects_too_many_neighbours() -> None:
    with pytest.raises(ValueError, match="k=17"):
        knn_indices(torch.randn(3, 17, 4), 17, include_self=False)
    assert knn_indices(torch.randn(3, 17, 4), 17, include_self=True).shape == (3, 17, 17)


def test_aggregate_methods_agree(x: torch.Tensor) -> None:
    idx = knn_indices(x, 3)
    w = torch.rand(idx.shape, dtype=x.dtype)
    dense = aggregate_neighbours(x, idx, w, method="dense")
    gather = aggregate_neighbours(x, idx, w, method="gather")
    ref = torch.stack(
        [w[..., k, None] * x.gather(-2, idx[..., k, None].expand(-1, -1, -1, C)) for k in range(3)]
    )
    torch.testing.assert_close(dense, ref.sum(0))
    torch.testing.assert_close(gather, ref.sum(0))


# ------------------------------------------------------------------ layers vs. their equations
def test_fsg_equals_equation_2_with_decoupled_weights(x: torch.Tensor) -> None:
    a = H36M_17.adjacency("row_normalized").double()
    layer = FixedSpatialGraphConv(C, 5, a, bias=True).double()
    torch.nn.init.normal_(layer.bias)
    y = layer(x).detach().numpy()
    (theta_0, theta_1), bias, an = layer.weight.detach().numpy(), layer.bias.detach().numpy(), a.numpy()
    xn = x.numpy()
    for b in range(B):
        for t in range(T):
            for i in range(N):
                neighbours = sum(an[i, j] * xn[b, t, j] for j in range(N) if j != i)
                expected = an[i, i] * xn[b, t, i] @ theta_0 + neighbours @ theta_1 + bias
                np.testing.assert_allclose(y[b, t, i], expected, rtol=1e-10, atol=1e-12)
    # Θ_0 = Θ_1 = Θ is Eq. 2 as written, ``A X Θ``: the layout kept for the ablation.
    shared = FixedSpatialGraphConv(C, 5, a, bias=True, weights="shared").double()
    with torch.no_grad():
        shared.bias.copy_(layer.bias)
        layer.weight[1].copy_(layer.weight[0])
        shared.weight[0].copy_(layer.weight[0])
    expected = a @ (x @ shared.weight[0]) + shared.bias
    torch.testing.assert_close(shared(x), expected)
    torch.testing.assert_close(layer(x), expected)
    assert layer.weight.shape == (2, C, 5) and shared.weight.shape == (1, C, 5)
    with pytest.raises(ValueError, match="unknown weights"):
        FixedSpatialGraphConv(C, 5, a, weights="tied")


def test_ftg_equals_equation_9_with_edge_replication(x: torch.Tensor) -> None:
    layer = FixedTemporalGraphConv(C, 5).double()
    y = layer(x).detach().numpy()
    wx, wf, wb = (w.detach().numpy() for w in (layer.w_x, layer.w_f, layer.w_b))
    xn = x.numpy()
    for b in range(B):
        for t in range(T):
            nxt, prv = xn[b, min(t + 1, T - 1)], xn[b, max(t - 1, 0)]
            np.testing.assert_allclose(y[b, t], xn[b, t] @ wx + nxt @ wf + prv @ wb, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("weighting", ["softmax", "sigmoid", "raw", "none"])
@pytest.mark.parametrize("include_self", [False, True])
def test_dsg_equals_equations_3_to_7(x: torch.Tensor, weighting: str, include_self: bool) -> None:
    torch.manual_seed(1)
    layer = DynamicalSpatialGraphConv(C, 5, k=3, weighting=weighting, include_self=include_self).double()
    y = layer(x).detach().numpy()
    phi = layer.phi.detach().numpy()
    xn = x.numpy()
    for b in range(B):
        for t in range(T):
            for i in range(N):
                nbrs = _knn_reference(xn[b, t], i, 3, include_self)
                scores = np.array([_score(layer.gamma, xn[b, t, i], xn[b, t, j]) for j in nbrs])
                w = _weights_reference(scores, weighting)
                expected = sum(wk * xn[b, t, j] for wk, j in zip(w, nbrs)) @ phi
                np.testing.assert_allclose(y[b, t, i], expected, rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize("weighting", ["softmax", "none"])
@pytest.mark.parametrize("include_self", [False, True])
def test_dtg_equals_equations_10_to_14(x: torch.Tensor, weighting: str, include_self: bool) -> None:
    torch.manual_seed(2)
    layer = DynamicalTemporalGraphConv(C, 5, k=4, weighting=weighting, include_self=include_self).double()
    y = layer(x).detach().numpy()
    ux, uf, ub = (w.detach().numpy() for w in (layer.u_x, layer.u_f, layer.u_b))
    xn = x.numpy()
    for b in range(B):
        for t in range(T):
            tf, tb = min(t, T - 2), max(t, 1)
            motion_f = xn[b, tf + 1] - xn[b, tf]
            motion_b = xn[b, tb] - xn[b, tb - 1]
            x_next, x_prev = xn[b, min(t + 1, T - 1)], xn[b, max(t - 1, 0)]
            for i in range(N):
                out = xn[b, t, i] @ ux
                for motion, source, lin, u in (
                    (motion_f, x_next, layer.alpha, uf),
                    (motion_b, x_prev, layer.beta, ub),
                ):
                    nbrs = _knn_reference(motion, i, 4, include_self)
                    scores = np.array([_score(lin, xn[b, t, i], source[j]) for j in nbrs])
                    w = _weights_reference(scores, weighting)
                    out = out + sum(wk * source[j] for wk, j in zip(w, nbrs)) @ u
                np.testing.assert_allclose(y[b, t, i], out, rtol=1e-9, atol=1e-11)


# ------------------------------------------------------------------ properties
def test_dsg_is_permutation_equivariant(x: torch.Tensor) -> None:
    layer = DynamicalSpatialGraphConv(C, 5, k=3).double()
    perm = torch.randperm(N, generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(layer(x[:, :, perm]), layer(x)[:, :, perm])
    # The affinity relabels as P B Pᵀ.
    aff, aff_perm = layer.affinity(x), layer.affinity(x[:, :, perm])
    torch.testing.assert_close(aff_perm, aff[:, :, perm][:, :, :, perm])


@pytest.mark.parametrize("weighting", ["softmax", "none"])
def test_dense_affinity_rows_have_k_nonzeros(x: torch.Tensor, weighting: str) -> None:
    dsg = DynamicalSpatialGraphConv(C, 5, k=3, weighting=weighting).double()
    dtg = DynamicalTemporalGraphConv(C, 5, k=4, weighting=weighting).double()
    b_t = dsg.affinity(x)
    q_f, q_b = dtg.affinity(x)
    assert b_t.shape == q_f.shape == q_b.shape == (B, T, N, N)
    for aff, k in ((b_t, 3), (q_f, 4), (q_b, 4)):
        assert ((aff != 0).sum(-1) == k).all()
        expected_row_sum = torch.ones(B, T, N, dtype=x.dtype) * (1.0 if weighting == "softmax" else k)
        torch.testing.assert_close(aff.sum(-1), expected_row_sum)
    assert (b_t.diagonal(dim1=-2, dim2=-1) == 0).all()  # self excluded by default
    # The dense affinity reproduces the layer: Y_t = B_t X_t Φ.
    torch.testing.assert_close(dsg(x), b_t @ x @ dsg.phi)


def test_dense_affinity_scatter() -> None:
    idx = torch.tensor([[[1, 2], [0, 2], [1, 0]]])
    w = torch.tensor([[[0.3, 0.7], [0.5, 0.5], [0.9, 0.1]]])
    expected = torch.tensor([[[0.0, 0.3, 0.7], [0.5, 0.0, 0.5], [0.1, 0.9, 0.0]]])
    torch.testing.assert_close(dense_affinity(idx, w, 3), expected)


def test_gradients_reach_importance_layers(x: torch.Tensor) -> None:
    dsg = DynamicalSpatialGraphConv(C, 5, k=3).double()
    dtg = DynamicalTemporalGraphConv(C, 5, k=4).double()
    xg = x.clone().requires_grad_(True)
    (dsg(xg).pow(2).sum() + dtg(xg).pow(2).sum()).backward()
    for lin in (dsg.gamma, dtg.alpha, dtg.beta):
        assert lin.weight.grad is not None and lin.weight.grad.abs().sum() > 0
        assert lin.bias.grad is not None
    assert dsg.phi.grad.abs().sum() > 0 and dtg.weight.grad.abs().sum() > 0
    assert xg.grad.abs().sum() > 0


def test_weighting_none_builds_no_importance_layer() -> None:
    assert DynamicalSpatialGraphConv(C, 5, weighting="none").gamma is None
    dtg = DynamicalTemporalGraphConv(C, 5, weighting="none")
    assert dtg.alpha is None and dtg.beta is None
    with pytest.raises(ValueError, match="unknown weighting"):
        DynamicalSpatialGraphConv(C, 5, weighting="gaussian")


def test_bad_shapes_raise() -> None:
    a = H36M_17.adjacency("row_normalized")
    with pytest.raises(ValueError, match=r"\[\.\.\., 17, 6\]"):
        FixedSpatialGraphConv(C, 5, a)(torch.randn(2, 4, 16, C))
    with pytest.raises(ValueError, match="expected input"):
        DynamicalSpatialGraphConv(C, 5)(torch.randn(2, 4, N, C + 1))
    with pytest.raises(ValueError, match="T >= 2"):
        DynamicalTemporalGraphConv(C, 5)(torch.randn(2, 1, N, C))


def _hop_distances(parents: list[int]) -> list[list[int]]:
    """All-pairs hop distances on a tree given by its parent list (breadth-first from every joint)."""
    n = len(parents)
    links = [set() for _ in range(n)]
    for j, p in enumerate(parents):
        if p >= 0:
            links[j].add(p)
            links[p].add(j)
    out = []
    for start in range(n):
        dist, frontier = {start: 0}, [start]
        while frontier:
            nxt = []
            for u in frontier:
                for v in links[u]:
                    if v not in dist:
                        dist[v] = dist[u] + 1
                        nxt.append(v)
            frontier = nxt
        out.append([dist[j] for j in range(n)])
    return out


@pytest.mark.parametrize("k", [1, 3, 4])
@pytest.mark.parametrize("include_self", [False, True])
def test_skeleton_neighbours_are_nearest_by_hops(k: int, include_self: bool) -> None:
    from posegcn.nn.knn import skeleton_neighbours

    hops = _hop_distances(list(H36M_17.parents))
    got = skeleton_neighbours(H36M_17.adjacency("row_normalized"), k, include_self)
    for i in range(N):
        candidates = [j for j in range(N) if include_self or j != i]
        expected = sorted(candidates, key=lambda j: (hops[i][j], j))[:k]
        assert got[i].tolist() == expected


def test_fixed_connections_use_the_given_neighbours_everywhere(x: torch.Tensor) -> None:
    """DSG/DTG with fixed neighbours equal the dynamical layers fed those indices for every frame."""
    from posegcn.nn.knn import skeleton_neighbours

    torch.manual_seed(1)
    fixed = skeleton_neighbours(H36M_17.adjacency("binary"), 3)
    dsg = DynamicalSpatialGraphConv(C, 5, k=3, fixed_neighbours=fixed).double()
    idx, _ = dsg.graph(x)
    assert torch.equal(idx, fixed.expand(B, T, N, 3))
    dtg = DynamicalTemporalGraphConv(C, 5, k=3, fixed_neighbours=fixed).double()
    (idx_f, _), (idx_b, _) = dtg.graph(x)
    assert torch.equal(idx_f, fixed.expand(B, T, N, 3)) and torch.equal(idx_b, idx_f)
    y = dsg(x)
    assert y.shape == (B, T, N, 5) and torch.isfinite(y).all()
    with pytest.raises(ValueError, match=r"fixed_neighbours must be \[N, K=3\]"):
        DynamicalSpatialGraphConv(C, 5, k=3, fixed_neighbours=fixed[:, :2])


def test_dgnet_fixed_connections_same_parameters_as_knn() -> None:
    from posegcn.models.dgnet import DGNet

    knn, fixed = DGNet(H36M_17), DGNet(H36M_17, connections="fixed")
    assert sum(p.numel() for p in knn.parameters()) == sum(p.numel() for p in fixed.parameters())
    assert fixed(torch.randn(2, 4, N, 2)).pose.shape == (2, 4, N, 3)
    with pytest.raises(ValueError, match="unknown connections"):
        DGNet(H36M_17, connections="random")
