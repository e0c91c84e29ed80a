"""Modulated GCN's pose-refinement module — USES THE GROUND-TRUTH ROOT DEPTH AT TEST TIME.

The CPN-setting numbers of Modulated GCN (49.4 / 39.1 mm) include a refinement
module taken from Cai et al. (ICCV 2019): the 2D input is back-projected to 3D with
the *ground-truth* absolute depth of the root joint plus the predicted relative
depths, and a small MLP blends, per joint, the predicted ``(X, Y)`` with the
back-projected ones.  Knowing the true root depth at test time is information a
monocular system does not have: results obtained with this module are **not
comparable** with numbers that do not use it.  It is provided only to reproduce
the paper; the class name says so on purpose.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["GTRootDepthRefinement", "back_project_with_root_depth"]


def back_project_with_root_depth(
    pose_2d: torch.Tensor,
    pose_3d: torch.Tensor,
    root_depth: torch.Tensor,
    focal: torch.Tensor,
    center: torch.Tensor,
) -> torch.Tensor:
    r"""Root-relative 3D from 2D keypoints and depths ``Z_j = Z_root + z_j`` (pinhole, no distortion).

    ``X_j = (u_j − c_x) Z_j / f_x``, ``Y_j = (v_j − c_y) Z_j / f_y``, then the root is
    subtracted (the original ``get_uvd2xyz``).  ``pose_2d``, ``focal`` and ``center``
    must share units (pixels, or the normalised screen coordinates of
    :class:`posegcn.data.codec.PoseCodec` for all three); the result has
    the units of ``root_depth``.

    Shapes:
        ``pose_2d [N, J, 2]``, ``pose_3d [N, J, 3]`` (root-relative; only ``z`` is used),
        ``root_depth [N]`` (ground truth!), ``focal, center [N, 2]`` or ``[2]`` → ``[N, J, 3]``.
    """
    z = pose_3d[..., 2:] + root_depth.reshape(-1, 1, 1)  # absolute depth of every joint
    z = torch.cat((root_depth.reshape(-1, 1, 1), z[:, 1:]), dim=1)  # the root at exactly Z_root
    xy = (pose_2d - center.reshape(-1, 1, 2)) * z / focal.reshape(-1, 1, 2)
    xyz = torch.cat((xy, z), dim=-1)
    return xyz - xyz[:, :1]


class GTRootDepthRefinement(nn.Module):
    r"""Pose refinement of Modulated GCN's CPN setting — **reads the ground-truth root depth**.

    A per-joint score ``s = sigmoid(MLP([P̂; P_uv]))`` blends the predicted ``(X, Y)``
    with those back-projected from the 2D input (:func:`back_project_with_root_depth`):

    .. math::
        \tilde P_{xy} = s ⊙ \hat P_{xy} + (1 − s) ⊙ P^{uv}_{xy}, \qquad \tilde P_z = \hat P_z

    MLP: ``Linear(6J → hidden) → ReLU → Dropout(0.5) → Linear(hidden → 2J) → Sigmoid``
    over the concatenated ``[P̂; P^{uv}]`` (3 + 3 coordinates) of all joints, as the original
    ``post_refine`` (``fc_in = 3·2·J``, ``fc_out = 2·J``).

    Shapes:
        ``pose_3d [N, J, 3]``, ``pose_2d [N, J, 2]``, ``root_depth [N]``,
        ``focal, center [N, 2]`` → ``[N, J, 3]``.
    """

    def __init__(self, num_joints: int, hidden: int = 1024, dropout: float = 0.5) -> None:
        super().__init__()
        self.num_joints = num_joints
        self.mlp = nn.Sequential(
            nn.Linear(num_joints * 6, hidden),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(hidden, num_joints * 2),
            nn.Sigmoid(),
        )

    def forward(
        self,
        pose_3d: torch.Tensor,
        pose_2d: torch.Tensor,
        root_depth: torch.Tensor,
        focal: torch.Tensor,
        center: torch.Tensor,
    ) -> torch.Tensor:
        n, j = pose_3d.shape[0], self.num_joints
        if pose_3d.shape != (n, j, 3) or pose_2d.shape != (n, j, 2):
            raise ValueError(
                f"GTRootDepthRefinement({j} joints): expected pose_3d [N, {j}, 3] and pose_2d [N, {j}, 2], "
                f"got {tuple(pose_3d.shape)} and {tuple(pose_2d.shape)}"
            )
        uv_3d = back_project_with_root_depth(pose_2d, pose_3d, root_depth, focal, center)
        score = self.mlp(torch.cat((pose_3d, uv_3d), dim=-1).reshape(n, -1)).view(n, j, 2)
        xy = score * pose_3d[..., :2] + (1 - score) * uv_3d[..., :2]
        return torch.cat((xy, pose_3d[..., 2:]), dim=-1)
