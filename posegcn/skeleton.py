"""Human skeletons: the single source of truth for joints, bones, symmetry and graphs.

Everything that depends on the body topology — adjacency matrices of the graph
networks, flip augmentation, the bone loss, plots — derives from a
:class:`Skeleton`.  Removing joints re-parents and re-indexes in one place
(as VideoPose3D's ``common/skeleton.py`` does).

Joint orders (see ``README.md`` § Data):

* ``H36M_32``: the 32 markers of the Human3.6M mocap files.
* ``H36M_17``: the 17-joint layout of VideoPose3D / CPN detections
  (0 Hip, 1 RHip, 2 RKnee, 3 RFoot, 4 LHip, 5 LKnee, 6 LFoot, 7 Spine, 8 Thorax,
  9 Neck/Nose, 10 Head, 11 LShoulder, 12 LElbow, 13 LWrist, 14 RShoulder,
  15 RElbow, 16 RWrist).
* ``H36M_16``: the 17 minus Neck/Nose — the layout of SemGCN, Modulated GCN's
  GT setting and Stacked-Hourglass detections.
* ``HUMANEVA_15``: the 15 joints of VideoPose3D's HumanEva-I files (``humaneva15``).
* ``MPI_INF_3DHP_17``: the 17 joints of the MPI-INF-3DHP test set (``univ_annot3`` order);
  :data:`MPI_INF_3DHP_TO_H36M_17` maps it to ``H36M_17``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from posegcn.errors import PoseGCNInputError

__all__ = [
    "Skeleton",
    "H36M_32",
    "H36M_17",
    "H36M_16",
    "H36M_32_TO_17",
    "SH_TO_H36M_16",
    "MPI_INF_3DHP_14_OF_H36M_17",
    "HUMANEVA_15",
    "MPI_INF_3DHP_17",
    "MPI_INF_3DHP_TO_H36M_17",
    "h36m_skeleton",
    "SKELETONS",
    "skeleton_named",
]


@dataclass(frozen=True)
class Skeleton:
    """A kinematic tree.

    Args:
        parents: parent index of every joint, ``-1`` for the root.
        joints_left: indices of the left-side joints.
        joints_right: indices of the right-side joints, paired in order with
            ``joints_left`` (``joints_left[k]`` mirrors ``joints_right[k]``).
        names: one name per joint.
        name: a short layout name (``"h36m17"``…) used in error messages.
    """

    parents: tuple[int, ...]
    joints_left: tuple[int, ...]
    joints_right: tuple[int, ...]
    names: tuple[str, ...]
    name: str = "custom"
    _children: tuple[tuple[int, ...], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        n = len(self.parents)
        if len(self.names) != n:
            raise ValueError(f"Skeleton {self.name!r}: {len(self.names)} names for {n} joints")
        if len(self.joints_left) != len(self.joints_right):
            raise ValueError(f"Skeleton {self.name!r}: left/right joint lists differ in length")
        roots = [j for j, p in enumerate(self.parents) if p == -1]
        if len(roots) != 1:
            raise ValueError(f"Skeleton {self.name!r}: expected exactly one root, got {roots}")
        for j, p in enumerate(self.parents):
            if not -1 <= p < n or p == j:
                raise ValueError(f"Skeleton {self.name!r}: joint {j} has invalid parent {p}")
        children = [[] for _ in range(n)]
        for j, p in enumerate(self.parents):
            if p >= 0:
                children[p].append(j)
        object.__setattr__(self, "_children", tuple(tuple(c) for c in children))

    # ------------------------------------------------------------------ topology
    @property
    def num_joints(self) -> int:
        return len(self.parents)

    @property
    def root(self) -> int:
        return self.parents.index(-1)

    def children(self, joint: int) -> tuple[int, ...]:
        return self._children[joint]

    @property
    def bones(self) -> list[tuple[int, int]]:
        """``(child, parent)`` pairs, one per non-root joint, in joint order."""
        return [(j, p) for j, p in enumerate(self.parents) if p >= 0]

    @property
    def flip_permutation(self) -> list[int]:
        """Index map that swaps left and right joints (an involution)."""
        perm = list(range(self.num_joints))
        for l, r in zip(self.joints_left, self.joints_right):
            perm[l], perm[r] = r, l
        return perm

    def index(self, name: str) -> int:
        try:
            return self.names.index(name)
        except ValueError:
            raise KeyError(
                f"Skeleton {self.name!r} has no joint {name!r}; joints: {list(self.names)}"
            ) from None

    def remove_joints(self, joints_to_remove: Sequence[int], name: str | None = None) -> Skeleton:
        """Drop joints, re-parenting their children to the nearest kept ancestor.

        Returns the reduced skeleton; :meth:`kept_joints` gives the index map.
        """
        remove = set(int(j) for j in joints_to_remove)
        if self.root in remove:
            raise ValueError("cannot remove the root joint")
        kept = [j for j in range(self.num_joints) if j not in remove]
        new_index = {old: new for new, old in enumerate(kept)}
        parents = []
        for j in kept:
            p = self.parents[j]
            while p in remove:
                p = self.parents[p]
            parents.append(-1 if p == -1 else new_index[p])
        # Keep left/right *pairs* whose two joints both survive; filtering the two lists separately
        # would shift one list against the other when only one side of a pair is removed.
        pairs = [
            (new_index[l], new_index[r])
            for l, r in zip(self.joints_left, self.joints_right)
            if l in new_index and r in new_index
        ]
        return Skeleton(
            parents=tuple(parents),
            joints_left=tuple(p[0] for p in pairs),
            joints_right=tuple(p[1] for p in pairs),
            names=tuple(self.names[j] for j in kept),
            name=name or f"{self.name}-reduced",
        )

    # ------------------------------------------------------------------ graphs
    def adjacency(self, form: str = "binary") -> torch.Tensor:
        """Adjacency matrix ``[J, J]`` (float32) in the forms the original codes use.

        ``form``:
            * ``"binary"`` — symmetric 0/1 bone adjacency, zero diagonal.
            * ``"self_loops"`` — ``A + I`` (0/1); the mask of SemGCN's learnable edges.
            * ``"row_normalized"`` — ``D⁻¹(A + I)``, rows sum to one (SemGCN's
              ``adj_mx_from_skeleton``).
            * ``"degree_diag1"`` — neighbour-only ``D⁻¹A`` with the diagonal then set
              to 1 (Modulated GCN, conventions §5).
        """
        n = self.num_joints
        a = torch.zeros(n, n, dtype=torch.float32)
        for child, parent in self.bones:
            a[child, parent] = 1.0
            a[parent, child] = 1.0
        eye = torch.eye(n, dtype=torch.float32)
        if form == "binary":
            return a
        if form == "self_loops":
            return a + eye
        if form == "row_normalized":
            a_hat = a + eye
            return a_hat / a_hat.sum(dim=1, keepdim=True)
        if form == "degree_diag1":
            deg = a.sum(dim=1, keepdim=True).clamp_min(1.0)
            return a / deg * (1 - eye) + eye
        raise ValueError(
            f"unknown adjacency form {form!r}; expected one of "
            "'binary', 'self_loops', 'row_normalized', 'degree_diag1'"
        )

    def bone_vectors(self, poses: torch.Tensor) -> torch.Tensor:
        """Bone vectors ``child − parent``: ``[..., J, 3] → [..., J−1, 3]``."""
        child = torch.tensor([c for c, _ in self.bones], device=poses.device)
        parent = torch.tensor([p for _, p in self.bones], device=poses.device)
        return poses.index_select(-2, child) - poses.index_select(-2, parent)

    def flip(self, poses: torch.Tensor | np.ndarray, axis: int = 0):
        """Mirror poses ``[..., J, D]``: negate coordinate ``axis`` and swap left/right joints."""
        perm = self.flip_permutation
        if isinstance(poses, np.ndarray):
            out = poses[..., perm, :].copy()
        else:
            # index_select with an index sent ahead without waiting: on a GPU, indexing with a Python
            # list would copy the list to the device synchronously, a host sync per flipped batch.
            index = torch.tensor(perm).to(poses.device, non_blocking=True)
            out = poses.index_select(-2, index)
        out[..., axis] *= -1
        return out


# --------------------------------------------------------------------------- H36M
# fmt: off
_H36M_32_PARENTS = (
    -1, 0, 1, 2, 3, 4, 0, 6, 7, 8, 9, 0, 11, 12, 13, 14, 12,
    16, 17, 18, 19, 20, 19, 22, 12, 24, 25, 26, 27, 28, 27, 30,
)
_H36M_32_NAMES = (
    "Hip", "RHip", "RKnee", "RFoot", "RToeBase", "RSite", "LHip", "LKnee", "LFoot", "LToeBase",
    "LSite", "SpineBase", "Spine", "Thorax", "Neck/Nose", "Head", "LShoulderAnchor", "LShoulder",
    "LElbow", "LWrist", "LThumb", "LHandSite", "LWristEnd", "LThumbSite", "RShoulderAnchor",
    "RShoulder", "RElbow", "RWrist", "RThumb", "RHandSite", "RWristEnd", "RThumbSite",
)

#: The 32-marker Human3.6M mocap skeleton (VideoPose3D ``h36m_skeleton``).  Names follow the
#: 17-joint layout where a marker is kept (mocap "Spine1" is "Spine", "Neck" is "Thorax",
#: "Head" is "Neck/Nose" and the head-top site is "Head").
H36M_32 = Skeleton(
    parents=_H36M_32_PARENTS,
    joints_left=(6, 7, 8, 9, 10, 16, 17, 18, 19, 20, 21, 22, 23),
    joints_right=(1, 2, 3, 4, 5, 24, 25, 26, 27, 28, 29, 30, 31),
    names=_H36M_32_NAMES,
    name="h36m32",
)

#: Indices of the 32 mocap markers kept in the 17-joint layout.
H36M_32_TO_17 = (0, 1, 2, 3, 6, 7, 8, 12, 13, 14, 15, 17, 18, 19, 25, 26, 27)

H36M_17 = Skeleton(
    parents=(-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15),
    joints_left=(4, 5, 6, 11, 12, 13),
    joints_right=(1, 2, 3, 14, 15, 16),
    names=(
        "Hip", "RHip", "RKnee", "RFoot", "LHip", "LKnee", "LFoot", "Spine", "Thorax",
        "Neck/Nose", "Head", "LShoulder", "LElbow", "LWrist", "RShoulder", "RElbow", "RWrist",
    ),
    name="h36m17",
)

# fmt: on

#: 17 → 16: drop Neck/Nose (index 9); Head is re-parented to Thorax.
H36M_17_TO_16 = tuple(j for j in range(17) if j != 9)
H36M_16 = H36M_17.remove_joints([9], name="h36m16")

#: Stacked-Hourglass (MPII order) → 16-joint H36M order: ``h36m16 = sh[..., SH_TO_H36M_16, :]``.
SH_TO_H36M_16 = (6, 2, 1, 0, 3, 4, 5, 7, 8, 9, 13, 14, 15, 12, 11, 10)

#: The 14 joints of the MPI-INF-3DHP PCK protocol, as indices into ``H36M_17``:
#: head top ≈ H36M "Head" (10), neck ≈ "Thorax" (8), shoulders, elbows, wrists,
#: hips, knees, ankles.  Pelvis (0), Spine (7) and Neck/Nose (9) are excluded.
MPI_INF_3DHP_14_OF_H36M_17 = (10, 8, 14, 15, 16, 11, 12, 13, 1, 2, 3, 4, 5, 6)


def h36m_skeleton(num_joints: int) -> Skeleton:
    """The H36M skeleton with 16 or 17 joints."""
    if num_joints == 17:
        return H36M_17
    if num_joints == 16:
        return H36M_16
    raise PoseGCNInputError(f"Human3.6M layouts have 16 or 17 joints, got num_joints={num_joints}")


# --------------------------------------------------------------------------- HumanEva-I
# fmt: off
#: HumanEva-I, 15 joints, as exported by VideoPose3D's ``data/ConvertHumanEva.m`` (the skeleton of
#: the HumanEva evaluation code ``@body_pose/error.m``; elbows/knees/thorax average the proximal and
#: distal markers) and declared in its ``common/humaneva_dataset.py`` / ``data_utils.py``
#: (``humaneva15``: left ``[2, 3, 4, 8, 9, 10]``, right ``[5, 6, 7, 11, 12, 13]``).
HUMANEVA_15 = Skeleton(
    parents=(-1, 0, 1, 2, 3, 1, 5, 6, 0, 8, 9, 0, 11, 12, 1),
    joints_left=(2, 3, 4, 8, 9, 10),
    joints_right=(5, 6, 7, 11, 12, 13),
    names=(
        "Pelvis", "Thorax", "LShoulder", "LElbow", "LWrist", "RShoulder", "RElbow", "RWrist",
        "LHip", "LKnee", "LAnkle", "RHip", "RKnee", "RAnkle", "Head",
    ),
    name="humaneva15",
)

# --------------------------------------------------------------------------- MPI-INF-3DHP
#: The 17 joints of the MPI-INF-3DHP test set (``mpii_get_joints('relevant')`` of the dataset's
#: evaluation code; root = pelvis, index 14).  "Head" is the head centre, "HeadTop" the top.
MPI_INF_3DHP_17 = Skeleton(
    parents=(16, 15, 1, 2, 3, 1, 5, 6, 14, 8, 9, 14, 11, 12, -1, 14, 1),
    joints_left=(5, 6, 7, 11, 12, 13),
    joints_right=(2, 3, 4, 8, 9, 10),
    names=(
        "HeadTop", "Neck", "RShoulder", "RElbow", "RWrist", "LShoulder", "LElbow", "LWrist",
        "RHip", "RKnee", "RAnkle", "LHip", "LKnee", "LAnkle", "Pelvis", "Spine", "Head",
    ),
    name="mpi_inf_3dhp17",
)

#: MPI-INF-3DHP test order → ``H36M_17``: ``h36m17 = mpi[..., MPI_INF_3DHP_TO_H36M_17, :]``
#: (Pelvis→Hip, Spine→Spine, Neck→Thorax, head centre→Neck/Nose, head top→Head, limbs by name;
#: the mapping of the lifting works that evaluate on 3DHP, e.g. P-STMO, MixSTE).
MPI_INF_3DHP_TO_H36M_17 = (14, 8, 9, 10, 11, 12, 13, 15, 1, 16, 0, 5, 6, 7, 2, 3, 4)
# fmt: on

#: Every skeleton posegcn knows, by its name: data modules, configs and checkpoints carry the
#: name, never a joint count (a new 17-joint layout must not get Human3.6M's graph).
SKELETONS: dict[str, Skeleton] = {
    s.name: s for s in (H36M_32, H36M_17, H36M_16, HUMANEVA_15, MPI_INF_3DHP_17)
}


def skeleton_named(name: str) -> Skeleton:
    """The skeleton registered as ``name`` (:data:`SKELETONS`): ``h36m17``, ``h36m16``, ``humaneva15``, …"""
    try:
        return SKELETONS[name]
    except KeyError:
        raise PoseGCNInputError(f"unknown skeleton {name!r}; known skeletons: {sorted(SKELETONS)}") from None
