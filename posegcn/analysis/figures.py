"""Plots of poses and graph affinities (matplotlib, no ffmpeg).

Everything derives its bones, joint names and left/right colours from a
:class:`~posegcn.skeleton.Skeleton`, so the same functions serve the training logger
(:mod:`posegcn.callbacks`), the affinity notebook and ``posegcn lift``
(:mod:`posegcn.lift.lifting`):

* :func:`pose_figure` — 2D input | 3D prediction vs ground truth, side by side, one row
  per sample;
* :func:`affinity_figure` / :func:`plot_affinity` — heatmaps with joint names on both axes;
* :func:`save_pose_gif` — an animated GIF of a predicted sequence via matplotlib's
  ``PillowWriter`` (Pillow ships with matplotlib; no ffmpeg needed).

Conventions: 2D keypoints in pixels or normalised screen units, image ``y`` down (the
2D axes are inverted); 3D poses in the camera frame (``x`` right, ``y`` down, ``z``
forward), drawn with the camera's ``y`` pointing up and depth going into the page.
Functions return :class:`matplotlib.figure.Figure` objects; closing them is the
caller's business (``plt.close(fig)``) — the helpers never call ``plt.show``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.animation import FuncAnimation, PillowWriter
from matplotlib.figure import Figure

from posegcn.skeleton import Skeleton

__all__ = [
    "LEFT_COLOR",
    "RIGHT_COLOR",
    "CENTER_COLOR",
    "GT_COLOR",
    "bone_colors",
    "plot_pose_2d",
    "plot_pose_3d",
    "pose_figure",
    "plot_affinity",
    "affinity_figure",
    "save_pose_gif",
    "figure_to_array",
]

LEFT_COLOR = "tab:blue"
RIGHT_COLOR = "tab:red"
CENTER_COLOR = "0.2"
GT_COLOR = "0.6"


def _np(x) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().float().cpu().numpy()
    return np.asarray(x, dtype=np.float64)


def bone_colors(skeleton: Skeleton) -> list[str]:
    """One colour per bone of ``skeleton.bones``: left limbs blue, right red, the trunk dark."""
    left, right = set(skeleton.joints_left), set(skeleton.joints_right)
    return [
        LEFT_COLOR if c in left else RIGHT_COLOR if c in right else CENTER_COLOR for c, _ in skeleton.bones
    ]


def _check_pose(pose: np.ndarray, skeleton: Skeleton, dim: int, what: str) -> None:
    if pose.shape != (skeleton.num_joints, dim):
        raise ValueError(
            f"{what}: expected one pose [{skeleton.num_joints}, {dim}] for skeleton {skeleton.name!r}, "
            f"got {tuple(pose.shape)}"
        )


def plot_pose_2d(ax, pose_2d, skeleton: Skeleton, color: str | None = None, invert_y: bool = True) -> None:
    """Draw one 2D pose ``[J, 2]`` (pixels or normalised units) on a 2D axes."""
    p = _np(pose_2d)
    _check_pose(p, skeleton, 2, "plot_pose_2d")
    for (c, parent), bc in zip(skeleton.bones, bone_colors(skeleton)):
        ax.plot(p[[c, parent], 0], p[[c, parent], 1], color=color or bc, lw=2)
    ax.scatter(p[:, 0], p[:, 1], s=8, color=color or CENTER_COLOR, zorder=3)
    ax.set_aspect("equal", adjustable="datalim")
    if invert_y and not ax.yaxis_inverted():
        ax.invert_yaxis()


def _to_plot_frame(p: np.ndarray) -> np.ndarray:
    """Camera ``(x right, y down, z forward)`` → plot ``(x, z, −y)``: upright, depth into the page."""
    return np.stack([p[..., 0], p[..., 2], -p[..., 1]], axis=-1)


def plot_pose_3d(
    ax, pose_3d, skeleton: Skeleton, color: str | None = None, alpha: float = 1.0, radius: float | None = None
) -> None:
    """Draw one 3D camera-frame pose ``[J, 3]`` (any unit) on a 3D axes, centred on the root.

    ``color=None`` colours bones left/right; ``radius`` fixes the half-width of the box
    (default: fits the pose).
    """
    p = _np(pose_3d)
    _check_pose(p, skeleton, 3, "plot_pose_3d")
    q = _to_plot_frame(p - p[skeleton.root])
    for (c, parent), bc in zip(skeleton.bones, bone_colors(skeleton)):
        ax.plot(q[[c, parent], 0], q[[c, parent], 1], q[[c, parent], 2], color=color or bc, lw=2, alpha=alpha)
    r = radius if radius is not None else max(float(np.abs(q).max()), 1e-6)
    ax.set_xlim(-r, r)
    ax.set_ylim(-r, r)
    ax.set_zlim(-r, r)
    ax.set_box_aspect((1, 1, 1))
    ax.set_xlabel("x")
    ax.set_ylabel("z (depth)")
    ax.set_zlabel("−y")


def pose_figure(
    pose_2d,
    pred_3d,
    skeleton: Skeleton,
    gt_3d=None,
    titles: Sequence[str] | None = None,
    elev: float = 15.0,
    azim: float = -70.0,
    size: float = 3.0,
) -> Figure:
    """2D input and 3D prediction (coloured) vs ground truth (grey), one row per sample.

    Shapes:
        ``pose_2d [N, J, 2]`` or ``[J, 2]``, ``pred_3d`` and ``gt_3d`` ``[N, J, 3]`` or ``[J, 3]``.
    """
    p2, p3 = _np(pose_2d), _np(pred_3d)
    if p2.ndim == 2:
        p2, p3 = p2[None], p3[None]
    g3 = None if gt_3d is None else _np(gt_3d).reshape(p3.shape)
    if p2.shape[0] != p3.shape[0]:
        raise ValueError(f"pose_figure: {p2.shape[0]} 2D poses but {p3.shape[0]} 3D predictions")
    n = p2.shape[0]
    fig = plt.figure(figsize=(2 * size, size * n))
    for i in range(n):
        ax2 = fig.add_subplot(n, 2, 2 * i + 1)
        plot_pose_2d(ax2, p2[i], skeleton)
        ax2.set_title(("2D input" if titles is None else titles[i]), fontsize=9)
        ax3 = fig.add_subplot(n, 2, 2 * i + 2, projection="3d")
        rel = p3[i] - p3[i, skeleton.root]
        radius = float(np.abs(rel).max())
        if g3 is not None:
            radius = max(radius, float(np.abs(g3[i] - g3[i, skeleton.root]).max()))
            plot_pose_3d(ax3, g3[i], skeleton, color=GT_COLOR, alpha=0.8, radius=radius)
        plot_pose_3d(ax3, p3[i], skeleton, radius=radius)
        ax3.view_init(elev=elev, azim=azim)
        ax3.set_title("3D prediction" + (" vs ground truth (grey)" if g3 is not None else ""), fontsize=9)
        ax3.tick_params(labelsize=6)
    fig.tight_layout()
    return fig


def plot_affinity(
    ax, matrix, joint_names: Sequence[str], title: str = "", cmap: str = "viridis", colorbar: bool = True
):
    """Heatmap of one affinity ``[J, J]`` (row ``i`` aggregates from column ``j``) with joint names."""
    m = _np(matrix)
    j = len(joint_names)
    if m.shape != (j, j):
        raise ValueError(
            f"plot_affinity: expected a [{j}, {j}] matrix for {j} joint names, got {tuple(m.shape)}"
        )
    im = ax.imshow(m, cmap=cmap, interpolation="nearest")
    ax.set_xticks(range(j), joint_names, rotation=90, fontsize=6)
    ax.set_yticks(range(j), joint_names, fontsize=6)
    if title:
        ax.set_title(title, fontsize=8)
    if colorbar:
        ax.figure.colorbar(im, ax=ax, fraction=0.046, pad=0.04).ax.tick_params(labelsize=6)
    return im


def affinity_figure(
    affinities: Mapping[str, torch.Tensor | np.ndarray],
    joint_names: Sequence[str],
    cols: int = 4,
    size: float = 3.2,
    cmap: str = "viridis",
) -> Figure:
    """A grid of :func:`plot_affinity` heatmaps, one per named ``[J, J]`` matrix (e.g. per layer)."""
    if not affinities:
        raise ValueError("affinity_figure: no affinity matrices given")
    n = len(affinities)
    cols = max(1, min(cols, n))
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(size * cols, size * rows), squeeze=False)
    for ax, (name, matrix) in zip(axes.flat, affinities.items()):
        plot_affinity(ax, matrix, joint_names, title=name, cmap=cmap)
    for ax in axes.flat[n:]:
        ax.axis("off")
    fig.tight_layout()
    return fig


def save_pose_gif(
    path: str,
    pred_3d,
    skeleton: Skeleton,
    pose_2d=None,
    gt_3d=None,
    fps: int = 10,
    elev: float = 15.0,
    azim: float = -70.0,
    dpi: int = 72,
) -> str:
    """Write an animated GIF of a sequence (PillowWriter: no ffmpeg needed); returns ``path``.

    Shapes: ``pred_3d [F, J, 3]``, optional ``pose_2d [F, J, 2]`` drawn on the left and
    ``gt_3d [F, J, 3]`` drawn in grey.
    """
    p3 = _np(pred_3d)
    if p3.ndim != 3:
        raise ValueError(f"save_pose_gif: expected pred_3d [F, J, 3], got {tuple(p3.shape)}")
    p2 = None if pose_2d is None else _np(pose_2d)
    g3 = None if gt_3d is None else _np(gt_3d)
    rel = p3 - p3[:, skeleton.root : skeleton.root + 1]
    radius = float(np.abs(rel).max())
    if g3 is not None:
        radius = max(radius, float(np.abs(g3 - g3[:, skeleton.root : skeleton.root + 1]).max()))
    fig = plt.figure(figsize=(6 if p2 is not None else 3.5, 3.5))
    ax2 = fig.add_subplot(1, 2, 1) if p2 is not None else None
    ax3 = fig.add_subplot(1, 2 if p2 is not None else 1, 2 if p2 is not None else 1, projection="3d")
    if p2 is not None:
        lo, hi = p2.reshape(-1, 2).min(0), p2.reshape(-1, 2).max(0)

    def draw(f: int):
        if ax2 is not None:
            ax2.cla()
            plot_pose_2d(ax2, p2[f], skeleton)
            ax2.set_xlim(lo[0], hi[0])
            ax2.set_ylim(hi[1], lo[1])
            ax2.set_title(f"frame {f}", fontsize=8)
        ax3.cla()
        if g3 is not None:
            plot_pose_3d(ax3, g3[f], skeleton, color=GT_COLOR, alpha=0.8, radius=radius)
        plot_pose_3d(ax3, p3[f], skeleton, radius=radius)
        ax3.view_init(elev=elev, azim=azim)
        ax3.tick_params(labelsize=5)
        return []

    anim = FuncAnimation(fig, draw, frames=p3.shape[0], blit=False)
    anim.save(path, writer=PillowWriter(fps=fps), dpi=dpi)
    plt.close(fig)
    return path


def figure_to_array(fig: Figure) -> np.ndarray:
    """Render a figure to an ``uint8 [H, W, 3]`` RGB array (for loggers that take arrays)."""
    fig.canvas.draw()
    return np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()
