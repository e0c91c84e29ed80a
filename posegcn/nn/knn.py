"""Batched K-nearest-neighbour graphs over the joints of many frames at once.

The dynamical graphs of DG-Net (DSG, Eq. 3–7, and DTG, Eq. 10–14) connect every
joint to the ``K`` joints whose features (or feature motions) are nearest in
Euclidean distance, weight those edges by a learned importance score and sum the
neighbours' features.  Skeletons have 16–17 joints, so the graphs are built by
brute force for all frames together: all pairwise distances over ``[..., N, C]``
(:func:`pairwise_sq_distances`, equal to a squared :func:`torch.cdist`),
:func:`torch.topk` with ``largest=False``, then the ``K`` weighted neighbours are
summed (:func:`aggregate_neighbours`).  :func:`dense_affinity` gives the affinity
matrices for inspection and plots.

All functions take any number of leading batch dims (``[B, T]`` or ``[B·T]``).
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = [
    "WEIGHTINGS",
    "pairwise_sq_distances",
    "knn_indices",
    "gather_neighbours",
    "pair_scores",
    "importance_columns",
    "edge_scores",
    "neighbour_weights",
    "edge_weights",
    "check_weighting",
    "check_neighbour_options",
    "aggregate_neighbours",
    "accumulate_neighbours",
    "dense_affinity",
    "skeleton_neighbours",
    "neighbour_indices",
]

#: Edge-weighting functions over the ``K`` neighbours of a joint (see :func:`neighbour_weights`).
WEIGHTINGS = ("softmax", "sigmoid", "raw", "none")


def pairwise_sq_distances(x: torch.Tensor) -> torch.Tensor:
    """Squared Euclidean distances between all rows: ``‖x_i‖² + ‖x_j‖² − 2 x_i·x_j``.

    Ranking by squared distance equals ranking by distance.  The matmul expansion is
    ≈6× faster on CPU than :func:`torch.cdist` for ``[256, 17, 128]`` (0.4 vs 2.5 ms).
    Its rounding error is relative to ``‖x‖²`` (≈1e-7 of it in float32), so it can only
    swap neighbours whose squared distances differ by less than that.

    Shapes:
        ``x [..., N, C] → [..., N, N]``.
    """
    sq = x.pow(2).sum(dim=-1)
    dist = sq.unsqueeze(-1) + sq.unsqueeze(-2) - 2 * (x @ x.transpose(-1, -2))
    return dist.clamp_min_(0)


def knn_indices(x: torch.Tensor, k: int, include_self: bool = False) -> torch.Tensor:
    """Indices of the ``k`` nearest rows of ``x`` to every row of ``x`` (Eq. 3 and Eq. 10).

    Distances are Euclidean over the channel (last) dim (:func:`pairwise_sq_distances`)
    and computed without gradient: the neighbour *selection* is not differentiable,
    the aggregated features and importance scores are.  With ``include_self=False`` a row is never
    its own neighbour (its distance is set to ``+inf`` before :func:`torch.topk`).

    Shapes:
        ``x [..., N, C] → [..., N, k]`` (int64, nearest first).
    """
    if x.dim() < 2:
        raise ValueError(f"knn_indices: expected x of shape [..., N, C], got {tuple(x.shape)}")
    n = x.shape[-2]
    available = n if include_self else n - 1
    if not 1 <= k <= available:
        raise ValueError(
            f"knn_indices: k={k} must be in [1, {available}] for N={n} nodes (include_self={include_self})"
        )
    with torch.no_grad():
        dist = pairwise_sq_distances(x.detach())  # [..., N, N]
        if not include_self:
            dist.diagonal(dim1=-2, dim2=-1).fill_(float("inf"))
        idx = dist.topk(k, dim=-1, largest=False, sorted=True).indices
    return idx


def gather_neighbours(source: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """Features of the selected neighbours: ``out[..., i, k, :] = source[..., idx[..., i, k], :]``.

    Shapes:
        ``source [..., M, C]``, ``idx [..., N, K] → [..., N, K, C]``.
    """
    if source.shape[:-2] != idx.shape[:-2]:
        raise ValueError(
            f"gather_neighbours: leading dims differ, source {tuple(source.shape)} vs idx {tuple(idx.shape)}"
        )
    *lead, n, k = idx.shape
    c = source.shape[-1]
    flat_idx = idx.reshape(*lead, n * k, 1).expand(*lead, n * k, c)
    return source.gather(-2, flat_idx).reshape(*lead, n, k, c)


def pair_scores(linear: nn.Linear, x: torch.Tensor, source: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """Importance score of every edge: ``score[..., i, k] = linear([x_i, source_{idx[i, k]}])``.

    This is γ of Eq. 5 (``source = x``) and α/β of Eq. 12 (``source = X_{t±1}``): a
    fully-connected layer ``2C → 1`` on the concatenated pair.  A linear map of a
    concatenation splits as ``w_aᵀ x_i + w_bᵀ x_j + b``, so both halves are computed
    once per node and only the scalar ``w_bᵀ x_j`` is gathered per edge
    (:func:`edge_scores`).

    Shapes:
        ``x [..., N, C]``, ``source [..., M, C]``, ``idx [..., N, K] → [..., N, K]``.
    """
    w_center, w_neighbour = importance_columns(linear, x.shape[-1]).unbind(-1)
    return edge_scores(x @ w_center, source @ w_neighbour, idx, linear.bias)


def importance_columns(linear: nn.Linear, channels: int) -> torch.Tensor:
    """The halves ``[w_a | w_b]`` of an importance layer ``Linear(2C, 1)`` as two columns.

    ``linear([x_i, x_j]) = w_aᵀ x_i + w_bᵀ x_j + b``: ``x @ importance_columns(...)`` gives
    both per-node terms of every node in one matmul.

    Shapes:
        ``→ [C, 2]`` (column 0: ``w_a``, the centre joint; column 1: ``w_b``, the neighbour).
    """
    if linear.in_features != 2 * channels or linear.out_features != 1:
        raise ValueError(
            f"pair_scores: expected a Linear({2 * channels}, 1) for C={channels} features, "
            f"got Linear({linear.in_features}, {linear.out_features})"
        )
    return linear.weight.view(2, channels).T


def edge_scores(
    s_center: torch.Tensor, s_neighbour: torch.Tensor, idx: torch.Tensor, bias: torch.Tensor | None
) -> torch.Tensor:
    """``score[..., i, k] = s_center[..., i] + s_neighbour[..., idx[..., i, k]] (+ b)`` from per-node terms.

    Shapes:
        ``s_center [..., N]``, ``s_neighbour [..., M]``, ``idx [..., N, K] → [..., N, K]``.
    """
    scores = s_center.unsqueeze(-1) + s_neighbour.gather(-1, idx.flatten(-2)).view(idx.shape)
    return scores if bias is None else scores + bias[0]


def neighbour_weights(scores: torch.Tensor, weighting: str) -> torch.Tensor:
    """Edge weights ``R`` (Eq. 5) / ``H`` (Eq. 12) from raw importance scores ``[..., N, K]``.

    ``weighting``:
        * ``"softmax"`` — softmax over the ``K`` neighbours of each joint (rows of
          ``B_t`` sum to one; default — the paper does not state the normalisation).
        * ``"sigmoid"`` — an independent gate in ``(0, 1)`` per edge.
        * ``"raw"`` — the fully-connected output itself, Eq. 5–6 read literally.
        * ``"none"`` — all ones, ``B_t = D_t`` (Table VII "W/O" weighting).
    """
    if weighting == "softmax":
        return torch.softmax(scores, dim=-1)
    if weighting == "sigmoid":
        return torch.sigmoid(scores)
    if weighting == "raw":
        return scores
    if weighting == "none":
        return torch.ones_like(scores)
    raise ValueError(f"unknown weighting {weighting!r}; expected one of {WEIGHTINGS}")


def edge_weights(
    importance: nn.Linear | None, x: torch.Tensor, source: torch.Tensor, idx: torch.Tensor, weighting: str
) -> torch.Tensor:
    """Weights of the ``K`` selected edges of every joint: :func:`pair_scores` then :func:`neighbour_weights`.

    ``importance`` is ``None`` exactly when ``weighting == "none"`` (no γ/α/β is built
    then, so no parameter goes unused).

    Shapes:
        ``x [..., N, C]``, ``source [..., M, C]``, ``idx [..., N, K] → [..., N, K]``.
    """
    if weighting == "none":
        return torch.ones(idx.shape, dtype=x.dtype, device=x.device)
    if importance is None:
        raise ValueError(f"edge_weights: weighting={weighting!r} needs an importance layer")
    return neighbour_weights(pair_scores(importance, x, source, idx), weighting)


def check_weighting(weighting: str) -> None:
    """Raise ``ValueError`` unless ``weighting`` is one of :data:`WEIGHTINGS`."""
    if weighting not in WEIGHTINGS:
        raise ValueError(f"unknown weighting {weighting!r}; expected one of {WEIGHTINGS}")


def check_neighbour_options(
    owner: str, k: int, weighting: str, fixed_neighbours: torch.Tensor | None
) -> None:
    """The argument checks DSG and DTG share: ``k >= 1``, a known weighting, ``fixed_neighbours [N, k]``."""
    check_weighting(weighting)
    if k < 1:
        raise ValueError(f"{owner}: k must be >= 1, got {k}")
    if fixed_neighbours is not None and (fixed_neighbours.dim() != 2 or fixed_neighbours.shape[1] != k):
        raise ValueError(f"{owner}: fixed_neighbours must be [N, K={k}], got {tuple(fixed_neighbours.shape)}")


def aggregate_neighbours(
    source: torch.Tensor, idx: torch.Tensor, weights: torch.Tensor, method: str = "dense"
) -> torch.Tensor:
    """Weighted sum of the selected neighbours: ``out[..., i, :] = Σ_k w[..., i, k] · source[..., idx[..., i, k], :]``.

    This is the product ``B_t X_t`` of Eq. 7 (``Q_{t±1} X_{t±1}`` of Eq. 14) with the
    sparse ``B_t`` given by its ``K`` non-zeros per row.  ``method``:

    * ``"dense"`` (default) — scatter the ``K`` weights into ``[..., N, M]`` and use one
      batched matmul.  For skeleton-sized graphs this is far faster on CPU: measured
      0.8 ms vs 47 ms forward + backward for ``[256, 17, 128]``, ``K = 3`` (2 cores),
      because the backward of a feature gather is a slow scatter-add.
    * ``"gather"`` — gather ``[..., N, K, C]`` neighbour features and sum; memory
      ``O(N·K·C)`` instead of ``O(N·M)``, for large graphs.

    Shapes:
        ``source [..., M, C]``, ``idx [..., N, K]``, ``weights [..., N, K] → [..., N, C]``.
    """
    if method == "dense":
        return dense_affinity(idx, weights, source.shape[-2]) @ source
    if method == "gather":
        return (weights.unsqueeze(-1) * gather_neighbours(source, idx)).sum(dim=-2)
    raise ValueError(f"aggregate_neighbours: unknown method {method!r}; expected 'dense' or 'gather'")


def accumulate_neighbours(
    out: torch.Tensor, rows: torch.Tensor, idx: torch.Tensor, weights: torch.Tensor
) -> torch.Tensor:
    """``out[r, :] += Σ_k w[r, k] · rows[idx[r, k], :]`` in place: :func:`aggregate_neighbours` over flat rows.

    ``idx`` holds row numbers into ``rows``, so the neighbours of a node may lie anywhere in the
    batch — e.g. in the adjacent frame, for DTG, without a shifted copy of the features.  One
    row gather and one fused multiply-add per neighbour (``K`` ≤ 4 passes over ``[R, C]``),
    which on CPU costs about what the dense scatter + batched matmul does for ``K`` = 3
    (0.87 vs 0.90 ms for ``[256·17, 128]``, 1 thread) and spares DTG its shifted copies.  For
    inference: the backward of a row gather is a scatter-add.

    Shapes:
        ``out [R, C]``, ``rows [M, C]``, ``idx [R, K]``, ``weights [R, K] → out``.
    """
    for k in range(idx.shape[-1]):
        out.addcmul_(rows.index_select(0, idx[:, k]), weights[:, k : k + 1])
    return out


def dense_affinity(idx: torch.Tensor, weights: torch.Tensor, num_nodes: int) -> torch.Tensor:
    """Scatter ``K`` weighted edges per row into a dense affinity (``B_t`` of Eq. 6, ``Q`` of Eq. 13).

    Shapes:
        ``idx [..., N, K]``, ``weights [..., N, K] → [..., N, num_nodes]``.
    """
    if idx.shape != weights.shape:
        raise ValueError(
            f"dense_affinity: idx {tuple(idx.shape)} and weights {tuple(weights.shape)} differ in shape"
        )
    out = weights.new_zeros(*idx.shape[:-1], num_nodes)
    return out.scatter(-1, idx, weights)


def skeleton_neighbours(adjacency: torch.Tensor, k: int, include_self: bool = False) -> torch.Tensor:
    """The ``k`` joints nearest to every joint *along the skeleton* (hop distance, ties by index).

    A fixed neighbour set with the same ``K`` as the dynamical graphs: DG-Net's graph
    connection style "Fixed" of Table VII, and the same-depth "without KNN" network of
    :class:`~posegcn.models.DGNet` (``connections="fixed"``), whose cost differs from DG-Net's
    only by the neighbour search.  Computed once at construction (not on the data path).

    Shapes:
        ``adjacency [N, N]`` (non-zero = bone) → ``[N, k]`` int64.
    """
    n = adjacency.shape[0]
    available = n if include_self else n - 1
    if not 1 <= k <= available:
        raise ValueError(f"skeleton_neighbours: k={k} must be in [1, {available}] for N={n} joints")
    linked = (adjacency != 0) | (adjacency.T != 0)
    hops = torch.full((n, n), float("inf"))
    hops.fill_diagonal_(0)
    frontier = torch.eye(n, dtype=torch.bool)
    for step in range(1, n):  # breadth-first over the (tiny) skeleton
        frontier = (frontier.float() @ linked.float() > 0) & torch.isinf(hops)
        hops[frontier] = float(step)
    if not include_self:
        hops.fill_diagonal_(float("inf"))
    # Stable ordering: hop distance first, joint index second.
    key = hops * n + torch.arange(n, dtype=hops.dtype)
    return key.topk(k, dim=-1, largest=False, sorted=True).indices


def neighbour_indices(
    x: torch.Tensor, k: int, include_self: bool, fixed: torch.Tensor | None
) -> torch.Tensor:
    """:func:`knn_indices` of ``x``, or the ``fixed [N, K]`` indices broadcast over ``x``'s leading dims."""
    if fixed is None:
        return knn_indices(x, k, include_self)
    return fixed.expand(*x.shape[:-2], *fixed.shape)
