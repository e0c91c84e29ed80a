"""Every model can output every pose: the map from the last hidden features to the pose has full rank.

A graph layer ``Y = A X Θ`` with one shared ``Θ`` on a singular affinity ``A`` satisfies
``uᵀY = 0`` for the left null vector ``u`` of ``A`` (bias included when ``Σu = 0``): as an
output layer it confines every prediction to a subspace that real poses leave (issue 13 §1;
the 17-joint Human3.6M ``D⁻¹(A + I)`` has rank 16).  For each model and each skeleton it can
be built for, the Jacobian of the output layer (a linear map, so the Jacobian *is* the map,
taken with random weights) must have rank ``J·3``: no non-zero ``U [J, 3]`` is orthogonal to
every output.  Input layers must be one-to-one (rank ``J·2``) so that no part of the 2D
input is lost before the first non-linearity.

Skeletons: Human3.6M 16/17, HumanEva-I 15, and MPI-INF-3DHP's own 17-joint tree (the
MPI-INF-3DHP data are mapped to ``H36M_17`` before they reach a network, so the 17-joint
Human3.6M rows cover that mapping; the tree itself is checked for the graph layers).
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from posegcn.models.dgnet import DGNet
from posegcn.models.modgcn import ModulatedGCN
from posegcn.models.semgcn import SemGCN
from posegcn.nn.fixed_graphs import FixedSpatialGraphConv
from posegcn.skeleton import H36M_16, H36M_17, HUMANEVA_15, MPI_INF_3DHP_17, Skeleton

SKELETONS = (H36M_16, H36M_17, HUMANEVA_15)
ALL_TREES = SKELETONS + (MPI_INF_3DHP_17,)


def map_rank(layer: nn.Module, num_joints: int, in_channels: int) -> tuple[int, int]:
    """(rank, outputs) of the linear map ``X [J, C_in] ↦ Y [J, C_out]`` a graph layer computes.

    The layer (affine: linear plus a bias) is applied, in float64, to every basis input
    ``E_k`` (one batch of ``J·C_in``) and to zero; the rows ``vec(f(E_k) − f(0))`` are its
    matrix.  ``rank == outputs`` ⇔ no ``U ≠ 0`` with ``⟨U, Y⟩`` constant over all inputs.
    """
    layer = layer.double().eval()
    n = num_joints * in_channels
    basis = torch.eye(n + 1, n, dtype=torch.float64).view(n + 1, num_joints, in_channels)  # last row: 0
    with torch.no_grad():
        y = layer(basis).reshape(n + 1, -1)
    matrix = y[:-1] - y[-1]
    return int(torch.linalg.matrix_rank(matrix)), matrix.shape[1]


def randomize_(layer: nn.Module) -> nn.Module:
    """Generic weights: every parameter of ``layer`` redrawn from N(0, 1) (zero-initialised heads included)."""
    with torch.no_grad():
        for p in layer.parameters():
            p.normal_()
    return layer


def output_layers(name: str, skeleton: Skeleton) -> list[tuple[str, nn.Module, int]]:
    """``(where, layer, C_in)`` of every layer of model ``name`` that maps features to a 3D pose."""
    torch.manual_seed(0)
    if name == "semgcn":
        model = SemGCN(skeleton, hidden=32, num_blocks=1)
        return [("gconv_output", model.gconv_output, 32)]
    if name == "semgcn_nonlocal":
        model = SemGCN(skeleton, hidden=32, num_blocks=1, non_local=True)
        return [("gconv_output", model.gconv_output, 32)]
    if name == "modgcn_gt":
        model = ModulatedGCN(skeleton, hidden=32, num_blocks=1)
        return [("gconv_output", model.gconv_output, 32)]
    if name == "modgcn_cpn":  # the CPN setting's width and initialisation
        model = ModulatedGCN(
            skeleton, hidden=384, num_blocks=1, dropout=0.2, non_local=True, modulation_init="xavier"
        )
        return [("gconv_output", model.gconv_output, 384)]
    if name == "dgnet":
        model = DGNet(skeleton, hidden=16, num_blocks=2)
        heads = [(f"blocks.{i}.head", block.head[-1], 16) for i, block in enumerate(model.blocks)]
        return [("head", model.head, 2 * 16), *heads]
    raise ValueError(name)


MODELS = ("semgcn", "semgcn_nonlocal", "modgcn_gt", "modgcn_cpn", "dgnet")


def _cases():
    for name in MODELS:
        for skeleton in SKELETONS:
            if name == "semgcn_nonlocal" and skeleton is not H36M_16:
                continue  # the grouped non-local needs joint groups, shipped for H36M_16 only
            yield pytest.param(name, skeleton, id=f"{name}-{skeleton.name}")


@pytest.mark.parametrize(("name", "skeleton"), list(_cases()))
def test_output_layer_reaches_every_pose(name: str, skeleton: Skeleton) -> None:
    j = skeleton.num_joints
    for where, layer, c_in in output_layers(name, skeleton):
        rank, outputs = map_rank(randomize_(layer), j, c_in)
        assert outputs == j * 3
        assert rank == j * 3, f"{name} {where} on {skeleton.name}: rank {rank} < {j * 3}"


@pytest.mark.parametrize("skeleton", SKELETONS, ids=lambda s: s.name)
def test_input_layers_keep_the_whole_2d_pose(skeleton: Skeleton) -> None:
    torch.manual_seed(0)
    j = skeleton.num_joints
    layers = {
        "semgcn": SemGCN(skeleton, hidden=32, num_blocks=1).gconv_input[0].gconv,
        "modgcn": ModulatedGCN(skeleton, hidden=32, num_blocks=1).gconv_input[0].gconv,
        "dgnet": DGNet(skeleton, hidden=32, num_blocks=1).input_layer.gconv,
    }
    for name, layer in layers.items():
        assert map_rank(layer, j, 2) == (j * 2, j * 32), f"{name} input layer on {skeleton.name}"


AFFINITY_ABLATIONS = [
    {"affinity": "skeleton"},
    {"affinity": "mul"},
    {"affinity": "add"},
    {"affinity": "mix"},
    {"affinity": "no_skeleton"},
    {"affinity": "add", "symmetric": "modulation"},
    {"affinity": "add", "low_rank": 7},
    {"affinity": "add", "weight_modulation": False},  # Table 3 weight sharing
    {"affinity": "add", "weight_modulation": False, "weight_unsharing": True},
]


@pytest.mark.parametrize("kwargs", AFFINITY_ABLATIONS, ids=lambda k: "-".join(f"{v}" for v in k.values()))
@pytest.mark.parametrize("skeleton", SKELETONS, ids=lambda s: s.name)
def test_modulated_gcn_ablations_output_full_rank_at_init(skeleton: Skeleton, kwargs: dict) -> None:
    # At initialisation (learned affinities P = 1, Q = 1e-6, M = 1 as the original code), only W random.
    torch.manual_seed(0)
    layer = ModulatedGCN(skeleton, hidden=16, num_blocks=1, **kwargs).gconv_output
    j = skeleton.num_joints
    assert map_rank(layer, j, 16) == (j * 3, j * 3)


@pytest.mark.parametrize("skeleton", ALL_TREES, ids=lambda s: s.name)
def test_decoupled_fsg_is_onto_and_one_to_one_on_every_tree(skeleton: Skeleton) -> None:
    torch.manual_seed(0)
    j, a = skeleton.num_joints, skeleton.adjacency("row_normalized")
    assert map_rank(FixedSpatialGraphConv(8, 3, a, bias=True), j, 8) == (j * 3, j * 3)
    assert map_rank(FixedSpatialGraphConv(2, 8, a), j, 2)[0] == j * 2


@pytest.mark.parametrize("skeleton", (H36M_17, MPI_INF_3DHP_17), ids=lambda s: s.name)
def test_shared_theta_fsg_is_detected_as_rank_deficient(skeleton: Skeleton) -> None:
    """The old FSG (``A X Θ``, one ``Θ``) on a 17-joint tree: the check above must fail for it."""
    torch.manual_seed(0)
    j, a = skeleton.num_joints, skeleton.adjacency("row_normalized")
    assert torch.linalg.matrix_rank(a.double()) == j - 1
    head = FixedSpatialGraphConv(8, 3, a, bias=True, weights="shared")
    assert map_rank(randomize_(head), j, 8) == (j * 3 - 3, j * 3)
    assert map_rank(FixedSpatialGraphConv(2, 8, a, weights="shared"), j, 2)[0] == j * 2 - 2
    # … and the whole network: DG-Net built with it cannot reach every pose.
    dgnet = DGNet(skeleton, hidden=16, num_blocks=1, fsg_weights="shared")
    assert map_rank(randomize_(dgnet.head), j, 16)[0] < j * 3


def test_shared_theta_null_vector_of_the_issue() -> None:
    """Issue 13's left null vector ``u`` of the 17-joint ``D⁻¹(A + I)``: every shared-Θ output obeys ``uᵀY = 0``."""
    names = H36M_17.names
    u = torch.zeros(17, dtype=torch.float64)
    for joint, value in {
        "Hip": -1.0, "RKnee": 0.75, "RFoot": -0.5, "LKnee": 0.75, "LFoot": -0.5,
        "Spine": 0.75, "Neck/Nose": -0.75, "Head": 0.5,
    }.items():  # fmt: skip
        u[names.index(joint)] = value
    a = H36M_17.adjacency("row_normalized").double()
    torch.testing.assert_close(u @ a, torch.zeros(17, dtype=torch.float64), atol=1e-7, rtol=0)  # A is float32
    torch.manual_seed(0)
    x = torch.randn(5, 17, 8, dtype=torch.float64)
    shared = randomize_(FixedSpatialGraphConv(8, 3, a, bias=True, weights="shared").double())
    decoupled = randomize_(FixedSpatialGraphConv(8, 3, a, bias=True).double())
    with torch.no_grad():
        assert (u @ shared(x)).abs().max() < 1e-6
        assert (u @ decoupled(x)).abs().min() > 1e-3
