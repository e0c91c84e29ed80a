"""3D pose metrics as pure tensor functions (conventions.md §4; VideoPose3D ``common/loss.py``).

Every function takes ``pred`` and ``target`` of shape ``[..., J, 3]`` (any leading shape) in
**metres**, works internally in float64 and returns **millimetres** (errors) or **percent**
(PCK, AUC) as float64.  The inputs are expected to be root-relative already (conventions.md §2):
Protocol #1 does not re-align them.

* :func:`mpjpe` — Protocol #1, mean per-joint position error.
* :func:`align_root` — the three root conventions of Protocol #1 found in the field
  (``unaligned``, ``root_zeroed``, ``root_aligned``), applied to the prediction first.
* :func:`p_mpjpe` — Protocol #2, MPJPE after a per-pose similarity Procrustes alignment
  (rotation with the reflection fix, uniform scale, translation).
* :func:`n_mpjpe` — MPJPE after a per-pose least-squares scale ``s = Σ⟨pred, gt⟩ / Σ⟨pred, pred⟩``.
* :func:`pck` — 3DPCK, % of joints with error strictly below 150 mm.
* :func:`auc` — mean 3DPCK over the 31 thresholds 0, 5, …, 150 mm.

The ``per_pose_*`` variants return one value per pose, shape ``[...]`` (the mean over joints);
the scalar versions are their mean over all poses (frame-pooled).  Because every pose has the
same joints, the pose-pooled PCK equals the joint-pooled PCK.

The torchmetrics classes in :mod:`posegcn.metrics.pose` accumulate per-pose values through the
torchmetrics-style :func:`_actionwise_update` (per-action-group sums and counts, float64) and
:func:`_actionwise_compute` (frame-pooled and action-wise means) split.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from posegcn.skeleton import H36M_17, MPI_INF_3DHP_14_OF_H36M_17, Skeleton

__all__ = [
    "AUC_THRESHOLDS",
    "ROOT_ALIGNMENTS",
    "align_root",
    "PROCRUSTES_METHODS",
    "ActionwiseResult",
    "actionwise_mean",
    "auc",
    "joint_errors",
    "mpi_inf_3dhp_joints",
    "mpjpe",
    "n_mpjpe",
    "p_mpjpe",
    "pck",
    "per_pose_auc",
    "per_pose_mpjpe",
    "per_pose_n_mpjpe",
    "per_pose_p_mpjpe",
    "per_pose_pck",
    "procrustes_align",
    "select_joints",
    "similarity_transform",
]

#: The 31 AUC thresholds 0, 5, …, 150 mm, in metres (each the double nearest ``k·5/1000``).
AUC_THRESHOLDS: Tensor = torch.arange(0, 155, 5, dtype=torch.float64) / 1000.0

#: Root conventions of Protocol #1 (see :func:`align_root`).
ROOT_ALIGNMENTS = ("unaligned", "root_zeroed", "root_aligned")

#: Ways to solve the per-pose orthogonal Procrustes problem (see :func:`similarity_transform`).
PROCRUSTES_METHODS = ("jacobi", "svd")

# Below this many units of the pose scale a singular direction is treated as absent.
_RANK_TOL = 1e-9
_TINY = 1e-300


# --------------------------------------------------------------------------- inputs
def _check_pair(pred: Tensor, target: Tensor, promote: bool = True) -> tuple[Tensor, Tensor]:
    """Validate ``[..., J, 3]`` inputs of equal shape and promote them to float64 (if ``promote``)."""
    pred = torch.as_tensor(pred)
    target = torch.as_tensor(target, device=pred.device)
    if pred.ndim < 2 or pred.shape[-1] != 3 or pred.shape[-2] < 1:
        raise ValueError(f"pred must have shape [..., J, 3] with J >= 1, got {tuple(pred.shape)}")
    if pred.shape != target.shape:
        raise ValueError(
            f"pred and target must have the same shape [..., J, 3]; "
            f"got pred {tuple(pred.shape)} and target {tuple(target.shape)}"
        )
    if not promote:
        return pred, target
    return pred.to(torch.float64), target.to(torch.float64)


def select_joints(poses: Tensor, joints: Sequence[int] | None) -> Tensor:
    """Keep the joints ``joints`` of poses ``[..., J, D]`` → ``[..., len(joints), D]`` (``None``: all)."""
    if joints is None:
        return poses
    index = torch.as_tensor(list(joints), dtype=torch.long, device=poses.device)
    num_joints = poses.shape[-2]
    if index.ndim != 1 or index.numel() == 0:
        raise ValueError(f"joints must be a non-empty sequence of joint indices, got {list(joints)}")
    if int(index.min()) < -num_joints or int(index.max()) >= num_joints:
        raise ValueError(f"joint indices {index.tolist()} out of range for poses with J={num_joints} joints")
    return poses.index_select(-2, index % num_joints)


def mpi_inf_3dhp_joints(skeleton: Skeleton) -> list[int]:
    """Indices of the 14 MPI-INF-3DHP evaluation joints in ``skeleton``, found by joint name.

    The protocol uses head top, neck, shoulders, elbows, wrists, hips, knees and ankles
    (conventions.md §3).  In the H36M layouts these are ``Head`` (≈ head top), ``Thorax``
    (≈ neck) and the twelve limb joints; ``Hip`` (pelvis), ``Spine`` and ``Neck/Nose`` are
    left out.  ``H36M_17`` → :data:`~posegcn.skeleton.MPI_INF_3DHP_14_OF_H36M_17`
    ``(10, 8, 14, 15, 16, 11, 12, 13, 1, 2, 3, 4, 5, 6)``; ``H36M_16`` →
    ``(9, 8, 13, 14, 15, 10, 11, 12, 1, 2, 3, 4, 5, 6)``.

    Raises:
        KeyError: ``skeleton`` lacks one of the joint names.
    """
    return [skeleton.index(H36M_17.names[j]) for j in MPI_INF_3DHP_14_OF_H36M_17]


def joint_errors(pred: Tensor, target: Tensor, joints: Sequence[int] | None = None) -> Tensor:
    """Euclidean distance of every joint, in **metres**, float64.

    Shapes: ``[..., J, 3], [..., J, 3] → [..., J]``.
    """
    pred, target = _check_pair(pred, target)
    return torch.linalg.vector_norm(select_joints(pred, joints) - select_joints(target, joints), dim=-1)


# --------------------------------------------------------------------------- Protocol #1
def align_root(pred: Tensor, alignment: str = "unaligned", root: int = 0) -> Tensor:
    """The prediction as one of the three Protocol #1 conventions of the field sees it (conventions.md §4).

    The targets are root-relative (root joint at the origin); what happens to the *prediction*
    differs between codes, by 0.1–4 mm:

    * ``"unaligned"`` — VideoPose3D: the prediction as the network gave it.
    * ``"root_zeroed"`` — what SemGCN and Modulated GCN literally compute, and so what their
      papers' tables report.  Their evaluation writes ``outputs_3d[:, :, :] -= outputs_3d[:, :1, :]``
      on a CPU tensor; the right-hand side is a view of the tensor being written, so the
      subtraction reads memory it has already changed: the root row becomes 0 first and every
      other joint then subtracts that 0.  Net effect: the predicted root joint is set to zero,
      the other joints stay as predicted.
    * ``"root_aligned"`` — a true root alignment: the predicted root is subtracted from every joint.

    Measured on real Human3.6M with the authors' Modulated GCN GT weights: 38.30 / 38.17 /
    38.03 mm (unaligned / root_zeroed / root_aligned); the original code prints 38.17.

    Shapes: ``[..., J, 3] → [..., J, 3]`` (``pred`` itself for ``"unaligned"``, else a new tensor).
    """
    if alignment == "unaligned":
        return pred
    if alignment == "root_zeroed":
        out = pred.clone()
        out[..., root, :] = 0.0
        return out
    if alignment == "root_aligned":
        return pred - pred[..., root : root + 1, :]
    raise ValueError(f"unknown Protocol #1 alignment {alignment!r}; expected one of {ROOT_ALIGNMENTS}")


def per_pose_mpjpe(pred: Tensor, target: Tensor, joints: Sequence[int] | None = None) -> Tensor:
    """Protocol #1 per pose: ``(1/J) Σ_j ‖pred_j − gt_j‖`` in millimetres.

    No alignment: the poses are root-relative already.  Shapes: ``[..., J, 3] → [...]``.
    """
    return joint_errors(pred, target, joints).mean(dim=-1) * 1000.0


def mpjpe(pred: Tensor, target: Tensor, joints: Sequence[int] | None = None) -> Tensor:
    """Protocol #1, MPJPE (mean per-joint position error) over all poses, in millimetres."""
    return per_pose_mpjpe(pred, target, joints).mean()


# --------------------------------------------------------------------------- N-MPJPE
def per_pose_n_mpjpe(pred: Tensor, target: Tensor, joints: Sequence[int] | None = None) -> Tensor:
    """N-MPJPE per pose: MPJPE after the least-squares scale ``s = Σ_j⟨pred_j, gt_j⟩ / Σ_j⟨pred_j, pred_j⟩``.

    As VideoPose3D's ``n_mpjpe``, the scale is fitted to the root-relative poses as given (no
    re-centring).  A zero ``pred`` gets ``s = 0``, i.e. the error of predicting the root
    everywhere, ``(1/J) Σ_j ‖gt_j‖``.  Shapes: ``[..., J, 3] → [...]``, millimetres.
    """
    pred, target = _check_pair(pred, target)
    pred, target = select_joints(pred, joints), select_joints(target, joints)
    scale = (pred * target).sum(dim=(-2, -1)) / (pred * pred).sum(dim=(-2, -1)).clamp_min(_TINY)
    error = torch.linalg.vector_norm(scale[..., None, None] * pred - target, dim=-1)
    return error.mean(dim=-1) * 1000.0


def n_mpjpe(pred: Tensor, target: Tensor, joints: Sequence[int] | None = None) -> Tensor:
    """N-MPJPE (scale-normalised MPJPE) over all poses, in millimetres."""
    return per_pose_n_mpjpe(pred, target, joints).mean()


# --------------------------------------------------------------------------- Protocol #2
# Layout: poses are handled as [N, 3, J] float64 (coordinates outermost within a pose), where
# centring, Xᵀ Y and the residual are contiguous passes; [N, J, 3] broadcasting and batched
# [3, J] products are several times slower on CPU.
def _coordinate_major(poses: Tensor) -> Tensor:
    """``[..., J, 3]`` (any float dtype) → float64 ``[N, 3, J]``, one copy."""
    flat = poses.reshape(-1, *poses.shape[-2:])
    out = torch.empty(flat.shape[0], 3, flat.shape[1], dtype=torch.float64, device=poses.device)
    return out.copy_(flat.mT)


def _unit_or(v: Tensor, fallback: Callable[[], Tensor], tol: Tensor) -> Tensor:
    """``v / ‖v‖`` for ``v [N, 3]``; rows with ``‖v‖ ≤ tol`` take ``fallback()`` (unit vectors)."""
    norm = (v * v).sum(dim=-1, keepdim=True).sqrt_()  # vector_norm is slow over a last dim of 3
    unit = v / norm.clamp_min(_TINY)
    small = norm <= tol[:, None]
    return torch.where(small, fallback(), unit) if bool(small.any()) else unit


def _perpendicular(a: Tensor) -> Tensor:
    """A unit vector orthogonal to unit vectors ``a [N, 3]`` (crossed with their smallest axis)."""
    axis = torch.nn.functional.one_hot(a.abs().argmin(dim=-1), 3).to(a.dtype)
    p = torch.linalg.cross(a, axis)
    return p / torch.linalg.vector_norm(p, dim=-1, keepdim=True)


def _eigh3_jacobi(m: Tensor, max_sweeps: int = 12) -> tuple[Tensor, Tensor]:
    """Eigen-decomposition of symmetric 3×3 matrices by cyclic Jacobi rotations, vectorised over poses.

    Each rotation ``(p, q)`` annihilates ``m_pq`` with ``t = tan φ`` the smaller root of
    ``t² + 2θt − 1 = 0``, ``θ = (m_qq − m_pp) / 2m_pq`` (Numerical Recipes §11.1), written as
    ``t = 2m_pq / (d + sgn(d)·√(d² + 4m_pq²))``, ``d = m_qq − m_pp``, so that ``m_pq = 0`` is
    harmless.  Convergence is quadratic: 4 sweeps reach float64 round-off on poses.

    Shapes: ``[N, 3, 3] → ([N, 3] eigenvalues, [N, 3, 3] eigenvectors as columns)``, unsorted.
    """
    a = [[m[:, i, j] for j in range(3)] for i in range(3)]
    eye = torch.eye(3, dtype=m.dtype, device=m.device).expand(m.shape[0], 3, 3)
    v = [eye[:, :, k] for k in range(3)]  # eigenvector columns, rotated along
    zero, one = torch.zeros_like(a[0][0]), torch.ones_like(a[0][0])
    for sweep in range(max_sweeps):
        if sweep >= 3:  # generic inputs need 4 sweeps; checking earlier only costs time
            off = a[0][1].abs() + a[0][2].abs() + a[1][2].abs()
            if bool((off <= 1e-18 * (a[0][0].abs() + a[1][1].abs() + a[2][2].abs())).all()):
                break
        for p, q, r in ((0, 1, 2), (0, 2, 1), (1, 2, 0)):
            apq, app, aqq, arp, arq = a[p][q], a[p][p], a[q][q], a[r][p], a[r][q]
            diff = aqq - app
            t = 2.0 * apq
            root = torch.hypot(diff, t).add_(_TINY).copysign_(diff).add_(diff)
            t.div_(root)
            c = torch.addcmul(one, t, t).rsqrt_()
            s = t * c
            a[p][p] = torch.addcmul(app, t, apq, value=-1.0)
            a[q][q] = torch.addcmul(aqq, t, apq)
            a[p][q] = a[q][p] = zero
            a[r][p] = a[p][r] = torch.addcmul(c * arp, s, arq, value=-1.0)
            a[r][q] = a[q][r] = torch.addcmul(s * arp, c, arq)
            c_, s_ = c[:, None], s[:, None]
            v[p], v[q] = torch.addcmul(c_ * v[p], s_, v[q], value=-1.0), torch.addcmul(s_ * v[p], c_, v[q])
    return torch.stack((a[0][0], a[1][1], a[2][2]), dim=-1), torch.stack(v, dim=-1)


def _optimal_rotation(k: Tensor, tol: Tensor, method: str) -> Tensor:
    """Rotation ``R`` (det +1) maximising ``tr(R K)`` for ``K = Xᵀ Y`` (X: pred, Y: target, centred).

    With ``K = U Σ Wᵀ`` the answer is ``R = W diag(1, 1, d) Uᵀ``, ``d = sign det(W Uᵀ)`` (Umeyama
    1991, Eq. 39–40: flip the last singular vector and value when the determinant is negative).

    * ``method="svd"``: exactly that, with one batched ``torch.linalg.svd`` on ``[N, 3, 3]``.
    * ``method="jacobi"``: since ``R u_k = w_k`` for the two leading singular pairs and ``R`` is
      proper, ``R = w₁u₁ᵀ + w₂u₂ᵀ + (w₁×w₂)(u₁×u₂)ᵀ`` — no ``σ₃``, no determinant.  ``u₁, u₂``
      come from a vectorised Jacobi eigen-decomposition of ``K Kᵀ = U Σ² Uᵀ`` and
      ``w_k = Kᵀ u_k / σ_k``; a direction with ``σ_k ≤ tol`` is free (every choice attains the
      optimum) and is completed to an orthonormal frame.

    Shapes: ``[N, 3, 3], [N] → [N, 3, 3]``.
    """
    if method == "svd":
        u, _, wt = torch.linalg.svd(k)
        d = torch.sign(torch.linalg.det(wt.mT @ u.mT))
        flip = torch.stack((torch.ones_like(d), torch.ones_like(d), d), dim=-1)
        return (wt.mT * flip[:, None, :]) @ u.mT
    if method != "jacobi":
        raise ValueError(f"unknown Procrustes method {method!r}; expected one of {PROCRUSTES_METHODS}")
    eigenvalues, vectors = _eigh3_jacobi(k @ k.mT)
    order = eigenvalues.argsort(dim=-1, descending=True)[:, :2]
    u12 = vectors.gather(-1, order[:, None, :].expand(-1, 3, -1))  # [N, 3, 2]: u₁, u₂
    w12 = k.mT @ u12  # σ₁w₁, σ₂w₂
    u1, u2, w1, w2 = u12[..., 0], u12[..., 1], w12[..., 0], w12[..., 1]
    w1 = _unit_or(w1, lambda: u1, tol)
    # Gram–Schmidt: near σ₁ = σ₂ only the span of the rounded u's is sharp
    w2 = _unit_or(w2 - (w2 * w1).sum(-1, keepdim=True) * w1, lambda: _perpendicular(w1), tol)
    w_frame = torch.stack((w1, w2, torch.linalg.cross(w1, w2)), dim=-1)
    u_frame = torch.stack((u1, u2, torch.linalg.cross(u1, u2)), dim=-1)
    return w_frame @ u_frame.mT


def _fit_similarity(x: Tensor, y: Tensor, method: str) -> tuple[Tensor, Tensor]:
    """Rotation and scale of the similarity Procrustes of centred poses ``x → y`` (float64).

    ``s = tr(R K) / ‖X‖²`` with ``K = Xᵀ Y``; ``s = 0`` when ``X = 0`` (guarded, no NaN).
    Shapes: ``[N, 3, J], [N, 3, J] → (R [N, 3, 3], s [N])``.
    """
    k = x @ y.mT
    norm_x = torch.linalg.vector_norm(x.flatten(1), dim=-1)
    norm_x2 = norm_x.square()
    tol = _RANK_TOL * norm_x * torch.linalg.vector_norm(y.flatten(1), dim=-1)
    rotation = _optimal_rotation(k, tol, method)
    scale = (rotation * k.mT).sum(dim=(-2, -1)) / norm_x2.clamp_min(_TINY)
    return rotation, scale


def similarity_transform(
    pred: Tensor, target: Tensor, joints: Sequence[int] | None = None, method: str = "jacobi"
) -> tuple[Tensor, Tensor, Tensor]:
    """Per-pose similarity Procrustes: ``R, s, t`` minimising ``Σ_j ‖s R pred_j + t − gt_j‖²``.

    ``R`` is a proper rotation (the reflection fix: a mirrored pose is *not* matched by a
    reflection), ``s ≥ 0`` a uniform scale and ``t`` a translation (Umeyama 1991; VideoPose3D
    ``p_mpjpe``), fitted on the ``joints`` subset when given.  Degenerate poses never give NaN:
    a ``pred`` with all joints equal gets ``s = 0`` and ``t = mean(gt)`` — its aligned pose is
    the target centroid —, and a target with all joints equal is matched exactly with ``s = 0``.
    ``method``: ``"jacobi"`` (default, fastest on CPU) or ``"svd"`` (one batched
    ``torch.linalg.svd``), see :func:`_optimal_rotation`; they agree to round-off.  Float64.

    Shapes: ``[..., J, 3], [..., J, 3] → (R [..., 3, 3], s [...], t [..., 3])``.
    """
    pred, target = _check_pair(pred, target, promote=False)  # promoted by _coordinate_major
    lead = pred.shape[:-2]
    x = _coordinate_major(select_joints(pred, joints))
    y = _coordinate_major(select_joints(target, joints))
    mu_x, mu_y = x.mean(dim=-1, keepdim=True), y.mean(dim=-1, keepdim=True)
    rotation, scale = _fit_similarity(x - mu_x, y - mu_y, method)
    translation = (mu_y - scale[:, None, None] * (rotation @ mu_x)).squeeze(-1)
    return rotation.reshape(*lead, 3, 3), scale.reshape(lead), translation.reshape(*lead, 3)


def procrustes_align(
    pred: Tensor, target: Tensor, joints: Sequence[int] | None = None, method: str = "jacobi"
) -> Tensor:
    """``pred`` after the similarity alignment of :func:`similarity_transform` (float64).

    The transform is fitted on ``joints`` (all when ``None``) and applied to all joints.
    Shapes: ``[..., J, 3], [..., J, 3] → [..., J, 3]``.
    """
    rotation, scale, translation = similarity_transform(pred, target, joints, method)
    pred = torch.as_tensor(pred).to(device=rotation.device, dtype=torch.float64)
    return scale[..., None, None] * (pred @ rotation.mT) + translation[..., None, :]


def per_pose_p_mpjpe(
    pred: Tensor, target: Tensor, joints: Sequence[int] | None = None, method: str = "jacobi"
) -> Tensor:
    """Protocol #2 per pose: MPJPE after similarity Procrustes alignment, in millimetres.

    Rotation with the reflection fix, uniform scale and translation per pose
    (:func:`similarity_transform`), fitted and evaluated on ``joints``.  A ``pred`` with all
    joints equal scores ``(1/J) Σ_j ‖gt_j − mean(gt)‖`` (nothing to align, ``s = 0``).
    Shapes: ``[..., J, 3] → [...]``.
    """
    pred, target = _check_pair(pred, target, promote=False)  # promoted by _coordinate_major
    lead = pred.shape[:-2]
    x = _coordinate_major(select_joints(pred, joints))
    y = _coordinate_major(select_joints(target, joints))
    x.sub_(x.mean(dim=-1, keepdim=True))
    y.sub_(y.mean(dim=-1, keepdim=True))
    rotation, scale = _fit_similarity(x, y, method)
    # aligned − gt = s R x_c − y_c, one coordinate row at a time (contiguous [N, J] passes)
    a = scale[:, None, None] * rotation
    residual = y.neg_()
    for c in range(3):
        for k in range(3):
            residual[:, c].addcmul_(x[:, k], a[:, c, k, None])
    squared = residual[:, 0] * residual[:, 0]
    squared.addcmul_(residual[:, 1], residual[:, 1]).addcmul_(residual[:, 2], residual[:, 2])
    return squared.sqrt_().mean(dim=-1).reshape(lead) * 1000.0


def p_mpjpe(
    pred: Tensor, target: Tensor, joints: Sequence[int] | None = None, method: str = "jacobi"
) -> Tensor:
    """Protocol #2, P-MPJPE (Procrustes-aligned MPJPE) over all poses, in millimetres."""
    return per_pose_p_mpjpe(pred, target, joints, method).mean()


# --------------------------------------------------------------------------- 3DPCK and AUC
def per_pose_pck(
    pred: Tensor, target: Tensor, threshold: float = 0.150, joints: Sequence[int] | None = None
) -> Tensor:
    """3DPCK per pose: percentage of joints with error **strictly below** ``threshold`` (metres).

    An error of exactly 150 mm is not correct; 149.9 mm is.  Shapes: ``[..., J, 3] → [...]``, in %.
    """
    if not threshold >= 0:
        raise ValueError(f"PCK threshold must be a non-negative distance in metres, got {threshold}")
    correct = joint_errors(pred, target, joints) < threshold
    return correct.to(torch.float64).mean(dim=-1) * 100.0


def pck(
    pred: Tensor, target: Tensor, threshold: float = 0.150, joints: Sequence[int] | None = None
) -> Tensor:
    """3DPCK over all joints of all poses (% with error < ``threshold``, default 150 mm)."""
    return per_pose_pck(pred, target, threshold, joints).mean()


def per_pose_auc(pred: Tensor, target: Tensor, joints: Sequence[int] | None = None) -> Tensor:
    """AUC per pose: mean of 3DPCK over the 31 thresholds 0, 5, …, 150 mm (:data:`AUC_THRESHOLDS`), in %.

    Counted without a ``[..., J, 31]`` table: a joint with error ``e`` is correct at the
    ``#{τ > e}`` thresholds, found by binary search.  Shapes: ``[..., J, 3] → [...]``.
    """
    errors = joint_errors(pred, target, joints)
    thresholds = AUC_THRESHOLDS.to(errors.device)
    correct_at = thresholds.numel() - torch.bucketize(errors, thresholds, right=True)
    return correct_at.to(torch.float64).mean(dim=-1) * (100.0 / thresholds.numel())


def auc(pred: Tensor, target: Tensor, joints: Sequence[int] | None = None) -> Tensor:
    """AUC of the 3DPCK curve over 0…150 mm (31 thresholds), pooled over all poses, in %."""
    return per_pose_auc(pred, target, joints).mean()


# --------------------------------------------------------------------------- action-wise statistics
@dataclass(frozen=True)
class ActionwiseResult:
    """Frame-pooled and action-wise summaries of a per-pose metric.

    Attributes:
        pooled: mean over all poses (frame-weighted), scalar.
        actionwise: unweighted mean over the groups with at least one pose — the papers'
            headline number (conventions.md §4); scalar.
        per_group: mean per group ``[G]``, NaN for empty groups.
        counts: poses per group ``[G]`` (float64, exact below 2⁵³).
    """

    pooled: Tensor
    actionwise: Tensor
    per_group: Tensor
    counts: Tensor


def _actionwise_update(values: Tensor, group: Tensor | None, num_groups: int) -> tuple[Tensor, Tensor]:
    """Sufficient statistics of per-pose ``values``: per-group sums and counts, float64.

    ``group`` holds the action-group index of each pose (same shape as ``values``; ``None``: all
    in group 0).  The sums are a one-hot matrix product rather than ``bincount``/``index_add``,
    which are non-deterministic (and refused under ``deterministic=True``) on CUDA.

    Shapes: ``[...], [...] → ([G], [G])``.
    """
    values = values.reshape(-1).to(torch.float64)
    if group is None:
        group = torch.zeros(values.shape, dtype=torch.long, device=values.device)
    else:
        group = torch.as_tensor(group, device=values.device)
        if group.numel() != values.numel() or group.is_floating_point() or group.is_complex():
            raise ValueError(
                f"group must hold one integer group index per pose: expected {values.numel()} "
                f"integers, got {group.dtype} of shape {tuple(group.shape)}"
            )
        group = group.reshape(-1).long()
    one_hot = torch.nn.functional.one_hot(group, num_groups).to(torch.float64)
    return values @ one_hot, one_hot.sum(dim=0)


def _actionwise_compute(total: Tensor, count: Tensor) -> ActionwiseResult:
    """Finish :func:`_actionwise_update` statistics: pooled, action-wise and per-group means.

    Shapes: ``[G], [G] → ActionwiseResult``.  Empty groups give NaN in ``per_group`` and are
    left out of ``actionwise``; with no poses at all everything is NaN.
    """
    total, count = total.to(torch.float64), count.to(torch.float64)
    nan = torch.full_like(total, float("nan"))
    per_group = torch.where(count > 0, total / count.clamp_min(1.0), nan)
    seen = count > 0
    pooled = total.sum() / count.sum() if bool(seen.any()) else nan[0].clone()
    actionwise = per_group[seen].mean() if bool(seen.any()) else nan[0].clone()
    return ActionwiseResult(pooled=pooled, actionwise=actionwise, per_group=per_group, counts=count.clone())


def actionwise_mean(
    values: Tensor, group: Tensor | None = None, num_groups: int | None = None
) -> ActionwiseResult:
    """Pooled and action-wise means of per-pose ``values`` with group indices ``group``.

    ``num_groups`` defaults to ``group.max() + 1``.  Shapes: ``[N], [N] → ActionwiseResult``.
    """
    if num_groups is None:
        num_groups = (
            1
            if group is None or torch.as_tensor(group).numel() == 0
            else int(torch.as_tensor(group).max()) + 1
        )
    return _actionwise_compute(*_actionwise_update(values, group, num_groups))
