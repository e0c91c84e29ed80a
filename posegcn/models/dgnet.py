"""DG-Net: Dynamical Graph Network for 3D pose estimation in videos (paper 004, §III-C).

A window of ``T`` frames of 2D poses ``[B, T, N, 2]`` is lifted to the 3D poses of all
``T`` frames ``[B, T, N, 3]``:

1. an FSG layer maps the 2D input of every frame to ``C = 128`` channels;
2. ``num_blocks = 5`` DG-Conv blocks, each a *dynamical spatial unit* (FSG then DSG
   modules, then a spatial non-local block) followed by a *dynamical temporal unit*
   (FTG, DTG, FTG modules — Table VIII's best — then a non-local block), each block
   ending in a head that predicts a block-level 3D pose;
3. the features of all blocks, concatenated, are mapped to the network-level 3D pose.

Training uses the multi-level loss of Eq. 15–17 (:class:`posegcn.losses.MultiLevelLoss`); at test
time only the network-level pose is used and the block heads are skipped.

Choices the paper leaves open (defaults per ``shared/design/dgnet.md``; those with
alternatives are constructor arguments of :class:`DGNet`):

* ``σ`` of Eq. 2/7/9/14 is BatchNorm (over channels, on the flattened ``[B·T·N, C]``)
  followed by ReLU; each "graph-convolution type" is a residual module of two such
  layers with ``C`` channels, ``x + σ(G₂ σ(G₁ x))`` (SemGCN's ``_ResGraphConv``): the
  :class:`~posegcn.nn.blocks.GraphConvBlock` and :class:`~posegcn.nn.blocks.ResidualGraphBlock`
  SemGCN and Modulated GCN are built from.
  Every DSG/DTG layer builds its own KNN graph from its own input features.
* FSG affinity: ``Skeleton.adjacency("row_normalized")`` = ``D⁻¹(A + I)``.
* FSG weights: separate self and neighbour weights ``Θ_0``, ``Θ_1`` (SemGCN's graph convolution,
  whose practices §III-C adopts; Eq. 2's single ``Θ`` is the case ``Θ_0 = Θ_1``).  With one ``Θ``
  every FSG output on a 17-joint tree obeys ``uᵀY = 0`` (``D⁻¹(A + I)`` has rank 16), so the
  heads could not output most real poses; see :class:`DGNet` (``fsg_weights``).
* DSG/DTG edge weighting: softmax over the ``K`` neighbours; self excluded from the KNN.
* Window ends: edge-frame replication for the features of ``t ± 1`` (FTG, DTG) and
  motion replication for DTG's KNN (:func:`posegcn.nn.dynamical_temporal_graph.feature_motions`).
* Block head (``block_head="module"``): one residual FSG module then an FSG
  projection ``C → 3`` — the paper's "final FSG module just above each block-level
  loss" that is dropped at test time.  Network head: an FSG projection
  ``num_blocks·C → 3`` of the concatenated block features.
* Non-local block: :class:`~posegcn.nn.non_local.EmbeddedGaussianNonLocal` over the
  joints of each frame (inter channels ``C/2``), starting as the identity.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import torch
from torch import nn

from posegcn.nn.blocks import GraphConvBlock, ResidualGraphBlock
from posegcn.nn.dynamical_spatial_graph import DynamicalSpatialGraphConv
from posegcn.nn.dynamical_temporal_graph import DynamicalTemporalGraphConv
from posegcn.nn.fixed_graphs import FixedSpatialGraphConv, FixedTemporalGraphConv
from posegcn.nn.knn import check_weighting, skeleton_neighbours
from posegcn.nn.non_local import EmbeddedGaussianNonLocal
from posegcn.skeleton import Skeleton

__all__ = [
    "DGNet",
    "DGNetOutput",
    "DGConvBlock",
    "residual_graph_module",
    "balanced_coordinates",
]

SPATIAL_KINDS = ("fsg", "dsg")
TEMPORAL_KINDS = ("ftg", "dtg")
BLOCK_HEADS = ("module", "projection")
CONNECTIONS = ("dynamical", "fixed")
#: Frames per window of the paper's DG-Net (§IV-A, Table IX).
PAPER_NUM_FRAMES = 4


class DGNetOutput(NamedTuple):
    """What :meth:`DGNet.forward` returns.

    Attributes:
        pose: network-level 3D pose ``[B, T, N, 3]`` (the prediction used at test time).
        block_poses: one block-level 3D pose ``[B, T, N, 3]`` per DG-Conv block; empty
            when the block heads are skipped (eval mode by default).
    """

    pose: torch.Tensor
    block_poses: list[torch.Tensor]


def _graph_conv(
    kind: str,
    in_channels: int,
    out_channels: int,
    adjacency: torch.Tensor,
    k_spatial: int,
    k_temporal: int,
    weighting: str,
    include_self: bool,
    connections: str = "dynamical",
    fsg_weights: str = "decoupled",
) -> nn.Module:
    """One graph-convolution layer of type ``kind`` (no bias: BatchNorm follows)."""
    fixed = connections == "fixed"
    if kind == "fsg":
        return FixedSpatialGraphConv(in_channels, out_channels, adjacency, weights=fsg_weights)
    if kind == "dsg":
        neighbours = skeleton_neighbours(adjacency, k_spatial, include_self) if fixed else None
        return DynamicalSpatialGraphConv(
            in_channels, out_channels, k_spatial, weighting, include_self, fixed_neighbours=neighbours
        )
    if kind == "ftg":
        return FixedTemporalGraphConv(in_channels, out_channels)
    if kind == "dtg":
        neighbours = skeleton_neighbours(adjacency, k_temporal, include_self) if fixed else None
        return DynamicalTemporalGraphConv(
            in_channels, out_channels, k_temporal, weighting, include_self, fixed_neighbours=neighbours
        )
    raise ValueError(
        f"unknown graph-convolution type {kind!r}; expected one of {SPATIAL_KINDS + TEMPORAL_KINDS}"
    )


def residual_graph_module(
    kind: str, channels: int, dropout: float = 0.0, **conv_kwargs
) -> ResidualGraphBlock:
    """One "graph-convolution type" of a dynamical unit: ``x + σ(G₂ σ(G₁ x))`` (§III-C).

    ``G₁, G₂`` are two graph convolutions of type ``kind`` (FSG, DSG, FTG or DTG) with ``C``
    channels — "the residual-style module built by two layers with 128 feature channels" —
    each followed by ``σ`` = BatchNorm + ReLU (:class:`~posegcn.nn.blocks.GraphConvBlock`).

    Shapes:
        ``[B, T, N, C] → [B, T, N, C]``.
    """
    return ResidualGraphBlock(
        *(GraphConvBlock(_graph_conv(kind, channels, channels, **conv_kwargs), dropout) for _ in range(2))
    )


def _zero_pose_projection(
    in_channels: int, adjacency: torch.Tensor, weights: str = "decoupled"
) -> FixedSpatialGraphConv:
    """FSG projection of features to a 3D pose, starting from the zero (root-centred) pose.

    The residual modules are not normalised after the sum, so features grow with depth; with
    xavier-initialised projections the untrained network predicts poses metres away from the
    skeleton (≈6–9 m MPJPE measured) and spends hundreds of steps shrinking them.  Zero
    weights ``Θ_0 = Θ_1 = 0`` (an implementation choice; the paper states no initialisation)
    start every prediction at the root, and the gradient w.r.t. them is non-zero from the
    first step.  With decoupled weights (default) the projection can reach every pose of
    ``N × 3`` numbers (:class:`~posegcn.nn.fixed_graphs.FixedSpatialGraphConv`).
    """
    projection = FixedSpatialGraphConv(in_channels, 3, adjacency, bias=True, weights=weights)
    nn.init.zeros_(projection.weight)
    return projection


class DGConvBlock(nn.Module):
    """DG-Conv block (§III-C, Fig. 3): dynamical spatial unit, dynamical temporal unit, 3D head.

    ``spatial → non-local → temporal → non-local`` on the features, then the block head
    maps the block's output features to a 3D pose.  Unit compositions are configurable
    (Table VIII): ``spatial_units=("fsg", "dsg")`` and ``temporal_units=("ftg", "dtg", "ftg")``
    by default; each entry is one :func:`residual_graph_module`.

    Shapes:
        ``[B, T, N, C] → ([B, T, N, C], [B, T, N, 3] or None)``.
    """

    def __init__(
        self,
        channels: int,
        adjacency: torch.Tensor,
        spatial_units: Sequence[str] = ("fsg", "dsg"),
        temporal_units: Sequence[str] = ("ftg", "dtg", "ftg"),
        k_spatial: int = 3,
        k_temporal: int = 4,
        weighting: str = "softmax",
        include_self: bool = False,
        non_local: bool = True,
        dropout: float = 0.0,
        block_head: str = "module",
        connections: str = "dynamical",
        fsg_weights: str = "decoupled",
    ) -> None:
        super().__init__()
        if connections not in CONNECTIONS:
            raise ValueError(f"unknown connections {connections!r}; expected one of {CONNECTIONS}")
        for kind in spatial_units:
            if kind not in SPATIAL_KINDS:
                raise ValueError(f"spatial_units: unknown unit {kind!r}; expected entries of {SPATIAL_KINDS}")
        for kind in temporal_units:
            if kind not in TEMPORAL_KINDS:
                raise ValueError(
                    f"temporal_units: unknown unit {kind!r}; expected entries of {TEMPORAL_KINDS}"
                )
        if block_head not in BLOCK_HEADS:
            raise ValueError(f"unknown block_head {block_head!r}; expected one of {BLOCK_HEADS}")
        conv_kwargs = dict(
            adjacency=adjacency,
            k_spatial=k_spatial,
            k_temporal=k_temporal,
            weighting=weighting,
            include_self=include_self,
            connections=connections,
            fsg_weights=fsg_weights,
        )

        def unit(kinds: Sequence[str]) -> nn.Sequential:
            return nn.Sequential(
                *(residual_graph_module(kind, channels, dropout, **conv_kwargs) for kind in kinds)
            )

        self.spatial = unit(spatial_units)
        self.spatial_non_local = EmbeddedGaussianNonLocal(channels) if non_local else nn.Identity()
        self.temporal = unit(temporal_units)
        self.temporal_non_local = EmbeddedGaussianNonLocal(channels) if non_local else nn.Identity()
        head: list[nn.Module] = []
        if block_head == "module":
            head.append(residual_graph_module("fsg", channels, dropout, **conv_kwargs))
        head.append(_zero_pose_projection(channels, adjacency, fsg_weights))
        self.head = nn.Sequential(*head)

    def forward(self, x: torch.Tensor, return_pose: bool = True) -> tuple[torch.Tensor, torch.Tensor | None]:
        x = self.spatial_non_local(self.spatial(x))
        x = self.temporal_non_local(self.temporal(x))
        return x, (self.head(x) if return_pose else None)


class DGNet(nn.Module):
    r"""Dynamical Graph Network (DG-Net, paper 004): ``T`` frames of 2D poses → their 3D poses.

    See the module docstring for the architecture and the open choices.  Shapes:
    ``[B, T, N, 2] → DGNetOutput(pose [B, T, N, 3], block_poses: list of [B, T, N, 3])``.

    Parameters (17 joints, defaults): :meth:`inference_parameters` counts those used at
    test time (no block heads) and ``sum(p.numel() for p in model.parameters())`` those
    trained: 2,324,641 / 2,658,736 with the defaults vs the paper's 2.39M / 2.69M (see
    :meth:`inference_parameters` for the breakdown).

    Every pose is reachable: the network head and the block heads are FSG projections with
    decoupled weights ``Θ_0`` (self) / ``Θ_1`` (neighbours), whose map from features to the
    ``N × 3`` pose is onto for generic weights on every skeleton posegcn ships
    (``tests/test_output_rank.py``).  Eq. 2 read literally — one ``Θ``, ``fsg_weights="shared"``,
    kept for the ablation — confines every 17-joint prediction to a subspace: ``D⁻¹(A + I)``
    of the 17-joint tree has rank 16, and its left null vector ``u`` (``Σu = 0``) gives
    ``uᵀY = 0`` for every output, bias included.  The real Human3.6M S9/S11 test poses lie
    32.3 mm MPJPE from that subspace (issue 13), a sitting window of the synthetic data
    44.7 mm.  Measured with a 2-block, 32-channel DG-Net on one thread (the one-window fit
    of ``tests/test_dgnet.py``: 400 Adam steps at 1e-3; the synthetic fit: S1/S5/S6/S7/S8 →
    S9/S11 ground-truth 2D, batch 64 windows, Adam 1e-3, Eq. 17 loss; the mean training pose
    scores 191.7 mm):

    ======================================  ==========  ======================================
    variant                                 one window  synthetic test MPJPE, 800 steps
                                                        (seed 0; seed 1 at 800 / 1600 steps)
    ======================================  ==========  ======================================
    shared ``Θ`` (Eq. 2 literally)          45.4 mm     135.1 mm
    decoupled ``Θ_0, Θ_1`` (default)        0.82 mm     106.4 mm (106.6 / 99.3)
    per-joint embedding and heads           0.63 mm     79.0 mm (77.6 / 77.1)
    ======================================  ==========  ======================================

    Both fixes make every pose reachable.  Per-joint linear maps for the 2 → C embedding and
    the C → 3 heads (FSG kept elsewhere) learned faster in these short runs — not through a
    per-joint bias: with a shared bias they reach 84.4 mm, and decoupled heads given a
    per-joint bias 107.9 mm.  Decoupled FSG is the default nevertheless: it is the paper's
    architecture read with the SemGCN practice §III-C adopts (FSG embeds the 2D input and FSG
    modules end every block, which per-joint maps are not), it removes the rank loss from
    every FSG layer rather than only the two ends, and it accounts for the paper's parameter
    counts (train − test 334k vs ≈0.30M; per-joint ends give 2.19M / 2.39M and a 0.20M gap).
    Whether per-joint ends help at 200 epochs on real data is not measured.

    Balanced coordinates (Table XI, 46.1 → 45.3 mm) are a post-processing of the
    prediction, not part of the network: they need the *absolute* camera-frame pose
    (root-relative prediction + root trajectory), the 2D input in pixels and the camera
    intrinsics ``(c, f)``; see :func:`balanced_coordinates`.

    Args:
        skeleton: joint layout; its fixed affinity is FSG's ``A``.
        num_frames: ``T``, frames per window (paper: 4; Table IX).  Inputs must have it.  ``None``
            (the configs): the data's window length, which :class:`~posegcn.lit.PoseLiftingModule`
            passes (``--data.num_frames``); built directly, the paper's 4.
        hidden: ``C``, feature channels (paper: 128).
        num_blocks: DG-Conv blocks (paper: 5; Table IX).
        k_spatial: ``K`` of DSG (paper: 3; Table VI).
        k_temporal: ``K`` of DTG (paper: 4; Table VI).
        weighting: DSG/DTG edge weighting, ``"softmax"`` (default), ``"sigmoid"``,
            ``"raw"`` or ``"none"`` (Table VII "W/O").
        include_self: let a joint be its own KNN neighbour (default off).
        no_knn: drop every DSG/DTG module, keeping the fixed graphs only (Table V,
            "DG-Net without KNN"): the default units become ``("fsg",)`` / ``("ftg", "ftg")``.
        non_local: a spatial non-local block after each unit (Table XI: 50.1 → 45.3 mm).
        dropout: dropout after every BatchNorm + ReLU (the paper uses none).
        spatial_units: graph-convolution types of the dynamical spatial unit (Table VIII).
        temporal_units: graph-convolution types of the dynamical temporal unit (Table VIII).
        block_head: ``"module"`` (a residual FSG module then an FSG projection to 3D,
            default) or ``"projection"`` (the FSG projection only).
        adjacency_form: form of ``Skeleton.adjacency`` used by FSG (``"row_normalized"``).
        connections: ``"dynamical"`` (KNN in feature space, the paper's DSG/DTG) or
            ``"fixed"``: every DSG/DTG keeps its importance weighting and aggregation but
            connects each joint to its ``K`` nearest joints along the skeleton
            (:func:`~posegcn.nn.knn.skeleton_neighbours`; Table VII's "Fixed" style).  The
            same network without the neighbour search: the fair "without KNN" timing.
        fsg_weights: ``"decoupled"`` (``Θ_0``, ``Θ_1``, default) or ``"shared"`` (Eq. 2's one ``Θ``:
            an ablation; rank-deficient heads on 17 joints).  Decoupled weights need an affinity
            with self-loops (``adjacency_form`` ``"row_normalized"``, ``"self_loops"`` or
            ``"degree_diag1"``; ``"binary"`` is refused).
        inference_chunk: when no gradient is recorded, run the windows through the network
            this many at a time (0 = all at once).  Every operation is per window at
            inference (BatchNorm uses its running statistics), so the output is the same;
            the working set stays in the CPU caches instead of streaming ``[B·T, N, C]``
            activations through memory: measured 9.9 → 3.8 ms per window at batch 1024 on
            2 cores (``make bench``).
    """

    def __init__(
        self,
        skeleton: Skeleton,
        num_frames: int | None = None,
        hidden: int = 128,
        num_blocks: int = 5,
        k_spatial: int = 3,
        k_temporal: int = 4,
        weighting: str = "softmax",
        include_self: bool = False,
        no_knn: bool = False,
        non_local: bool = True,
        dropout: float = 0.0,
        spatial_units: Sequence[str] = ("fsg", "dsg"),
        temporal_units: Sequence[str] = ("ftg", "dtg", "ftg"),
        block_head: str = "module",
        adjacency_form: str = "row_normalized",
        connections: str = "dynamical",
        inference_chunk: int = 64,
        fsg_weights: str = "decoupled",
    ) -> None:
        super().__init__()
        check_weighting(weighting)
        num_frames = PAPER_NUM_FRAMES if num_frames is None else num_frames
        if num_frames < 1 or hidden < 1 or num_blocks < 1:
            raise ValueError(
                f"DGNet: num_frames, hidden and num_blocks must be >= 1, got {num_frames}, {hidden}, {num_blocks}"
            )
        if no_knn:
            spatial_units = tuple(u for u in spatial_units if u != "dsg")
            temporal_units = tuple(u for u in temporal_units if u != "dtg")
        n = skeleton.num_joints
        available = n if include_self else n - 1
        if "dsg" in spatial_units and not 1 <= k_spatial <= available:
            raise ValueError(f"DGNet: k_spatial={k_spatial} must be in [1, {available}] for {n} joints")
        if "dtg" in temporal_units:
            if not 1 <= k_temporal <= available:
                raise ValueError(f"DGNet: k_temporal={k_temporal} must be in [1, {available}] for {n} joints")
            if num_frames < 2:
                raise ValueError(f"DGNet: DTG needs num_frames >= 2, got {num_frames}")
        self.skeleton = skeleton
        self.num_joints = n
        self.num_frames = num_frames
        self.hidden = hidden
        self.spatial_units = tuple(spatial_units)
        self.temporal_units = tuple(temporal_units)

        adjacency = skeleton.adjacency(adjacency_form)
        if fsg_weights == "decoupled" and not (adjacency.diagonal() > 0).all():
            raise ValueError(
                f"DGNet: adjacency_form={adjacency_form!r} has no self-loops; FSG's self weight Θ_0 would "
                "see nothing and the map to the output pose would lose rank (use 'row_normalized')"
            )
        # §III-C: "we use FSG to map the input 2D pose of each frame into the 128-dim pose feature".
        self.input_layer = GraphConvBlock(
            FixedSpatialGraphConv(2, hidden, adjacency, weights=fsg_weights), dropout
        )
        self.blocks = nn.ModuleList(
            DGConvBlock(
                hidden,
                adjacency,
                self.spatial_units,
                self.temporal_units,
                k_spatial,
                k_temporal,
                weighting,
                include_self,
                non_local,
                dropout,
                block_head,
                connections,
                fsg_weights,
            )
            for _ in range(num_blocks)
        )
        self.head = _zero_pose_projection(num_blocks * hidden, adjacency, fsg_weights)
        if inference_chunk < 0:
            raise ValueError(f"DGNet: inference_chunk must be >= 0, got {inference_chunk}")
        self.inference_chunk = inference_chunk

    def _check_input(self, x: torch.Tensor) -> None:
        expected = (self.num_frames, self.num_joints, 2)
        if x.dim() != 4 or tuple(x.shape[1:]) != expected:
            raise ValueError(
                f"DGNet: expected 2D poses [B, {self.num_frames}, {self.num_joints}, 2] "
                f"(num_frames={self.num_frames}, {self.skeleton.name} with {self.num_joints} joints), "
                f"got {tuple(x.shape)}"
            )

    def forward(self, x: torch.Tensor, return_block_poses: bool | None = None) -> DGNetOutput:
        """Lift ``x [B, T, N, 2]`` to 3D.  Block heads run when ``return_block_poses`` is true
        (default: in training mode only)."""
        self._check_input(x)
        if return_block_poses is None:
            return_block_poses = self.training
        chunk = self.inference_chunk
        if chunk and x.shape[0] > chunk and not torch.is_grad_enabled() and not self.training:
            parts = [self._lift(part, return_block_poses) for part in x.split(chunk)]
            poses = torch.cat([p.pose for p in parts])
            block_poses = [torch.cat(b) for b in zip(*(p.block_poses for p in parts))]
            return DGNetOutput(poses, block_poses)
        return self._lift(x, return_block_poses)

    def _lift(self, x: torch.Tensor, return_block_poses: bool) -> DGNetOutput:
        h = self.input_layer(x)
        features, block_poses = [], []
        for block in self.blocks:
            h, pose = block(h, return_pose=return_block_poses)
            features.append(h)
            if pose is not None:
                block_poses.append(pose)
        # Eq. 16: the concatenated features of all blocks give the network-level pose.
        return DGNetOutput(self.head(torch.cat(features, dim=-1)), block_poses)

    def inference_parameters(self) -> int:
        """Parameters used at test time: all but the block heads (§IV, "Model Size").

        With the defaults (17 joints): 2,324,641 at test time of 2,658,736 trained (paper:
        2.39M of 2.69M).  Per block: spatial unit 99,842 (FSG module 66,048 + DSG 33,794),
        temporal unit 297,476 (FTG 98,816 ×2 + DTG 99,844), two non-local blocks 33,344
        each, block head 66,819 (FSG module 66,048 + projection 771, train only); plus the
        input FSG (768) and the network head (3,843).  Every FSG layer holds ``2·C_in·C_out``
        weights (decoupled ``Θ_0``, ``Θ_1``); with Eq. 2's single ``Θ`` (``fsg_weights="shared"``)
        the counts are 2,158,625 / 2,326,960.  The paper gives no layer-level detail.  Its
        train − test difference, ≈0.30M ≈ 60k per block head, is what a two-layer FSG module
        with decoupled weights holds (66k here, 334,095 for the five heads), which supports
        reading its FSG as SemGCN-style decoupled layers; the remaining ≈65k at test time
        (≈3 %) are unknown (biases, non-local or head details are not given).
        """
        head_ids = {id(p) for block in self.blocks for p in block.head.parameters()}
        return sum(p.numel() for p in self.parameters() if id(p) not in head_ids)

    @torch.no_grad()
    def dynamic_affinities(self, x: torch.Tensor, block: int = 0) -> dict[str, torch.Tensor | tuple]:
        """Dense dynamical affinities of one block's DSG/DTG layers for input ``x`` (Fig. 6).

        Runs a forward pass (call it in eval mode to leave BatchNorm statistics alone)
        and returns, keyed by module name inside ``blocks[block]``, ``B_t [B, T, N, N]``
        for DSG layers and ``(Q_{t+1}, Q_{t−1})`` for DTG layers.
        """
        captured: dict[str, torch.Tensor] = {}
        layers = {
            name: m
            for name, m in self.blocks[block].named_modules()
            if isinstance(m, (DynamicalSpatialGraphConv, DynamicalTemporalGraphConv))
        }
        hooks = [
            m.register_forward_pre_hook(lambda _m, args, name=name: captured.__setitem__(name, args[0]))
            for name, m in layers.items()
        ]
        try:
            self.forward(x, return_block_poses=False)
        finally:
            for hook in hooks:
                hook.remove()
        return {name: m.affinity(captured[name]) for name, m in layers.items()}


def balanced_coordinates(
    pose: torch.Tensor, uv: torch.Tensor, center: torch.Tensor, focal_length: torch.Tensor
) -> torch.Tensor:
    r"""Balanced coordinates (Table XI): average predicted ``X, Y`` with the back-projected 2D.

    With the predicted depth ``Z`` and a pinhole camera (no distortion, as in the paper):

    .. math::
        X' = Z \frac{U - c_x}{f_x}, \quad Y' = Z \frac{V - c_y}{f_y}, \quad
        P = \Big(\frac{X + X'}{2}, \frac{Y + Y'}{2}, Z\Big)

    ``pose`` must be *absolute* camera coordinates: add the root position (ground-truth
    or predicted trajectory) to a root-relative prediction first, and subtract it again
    afterwards.  ``uv`` are the 2D inputs in pixels (undo the screen normalisation).

    Shapes:
        ``pose [..., N, 3]``, ``uv [..., N, 2]``, ``center``/``focal_length`` ``[..., 2]``
        (or ``[2]``) ``→ [..., N, 3]``.
    """
    if pose.shape[-1] != 3 or uv.shape[-1] != 2 or pose.shape[:-1] != uv.shape[:-1]:
        raise ValueError(
            f"balanced_coordinates: expected pose [..., N, 3] and uv [..., N, 2], "
            f"got {tuple(pose.shape)} and {tuple(uv.shape)}"
        )
    if center.shape[-1] != 2 or focal_length.shape[-1] != 2:
        raise ValueError(
            f"balanced_coordinates: center and focal_length must end in 2 (x, y), "
            f"got {tuple(center.shape)} and {tuple(focal_length.shape)}"
        )
    z = pose[..., 2:]
    xy_backprojected = z * (uv - center.unsqueeze(-2)) / focal_length.unsqueeze(-2)
    return torch.cat([(pose[..., :2] + xy_backprojected) / 2, z], dim=-1)
