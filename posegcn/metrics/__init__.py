"""3D human pose metrics: Protocol #1 (MPJPE), Protocol #2 (P-MPJPE), N-MPJPE, 3DPCK and AUC.

Pure tensor functions live in :mod:`posegcn.metrics.functional` (metres in, millimetres or
percent out); :mod:`posegcn.metrics.pose` wraps them as ``torchmetrics`` classes that
accumulate per-action-group sums, exact under DDP, and report frame-pooled and action-wise means.
"""

from __future__ import annotations

from posegcn.metrics.functional import (
    AUC_THRESHOLDS,
    ROOT_ALIGNMENTS,
    ActionwiseResult,
    actionwise_mean,
    align_root,
    auc,
    joint_errors,
    mpi_inf_3dhp_joints,
    mpjpe,
    n_mpjpe,
    p_mpjpe,
    pck,
    per_pose_auc,
    per_pose_mpjpe,
    per_pose_n_mpjpe,
    per_pose_p_mpjpe,
    per_pose_pck,
    procrustes_align,
    select_joints,
    similarity_transform,
)
from posegcn.metrics.pose import AUC3D, MPJPE, NMPJPE, PCK3D, PMPJPE, ActionwiseMetric, PoseMetrics

__all__ = [
    "AUC3D",
    "AUC_THRESHOLDS",
    "MPJPE",
    "NMPJPE",
    "PCK3D",
    "PMPJPE",
    "ActionwiseMetric",
    "ActionwiseResult",
    "PoseMetrics",
    "ROOT_ALIGNMENTS",
    "actionwise_mean",
    "align_root",
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
