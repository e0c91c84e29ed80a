"""Plots: bones and colours come from the skeleton, coordinates are drawn where they belong."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from PIL import Image

from posegcn.analysis.figures import (
    GT_COLOR,
    LEFT_COLOR,
    RIGHT_COLOR,
    affinity_figure,
    bone_colors,
    figure_to_array,
    plot_affinity,
    pose_figure,
    save_pose_gif,
)
from posegcn.skeleton import H36M_16, H36M_17


def test_bone_colors_follow_left_right_joints():
    colors = bone_colors(H36M_17)
    for (child, _), color in zip(H36M_17.bones, colors):
        name = H36M_17.names[child]
        if name.startswith("L"):
            assert color == LEFT_COLOR, name
        elif name.startswith("R"):
            assert color == RIGHT_COLOR, name
        else:
            assert color not in (LEFT_COLOR, RIGHT_COLOR), name


def test_pose_figure_draws_every_bone_in_the_upright_camera_frame():
    rng = np.random.default_rng(0)
    pose_2d = rng.uniform(0, 1000, (2, 17, 2))
    pred = torch.as_tensor(rng.normal(0, 0.3, (2, 17, 3)))
    gt = rng.normal(0, 0.3, (2, 17, 3))
    fig = pose_figure(pose_2d, pred, H36M_17, gt_3d=gt)
    axes = fig.axes
    assert len(axes) == 4  # 2D | 3D per sample
    ax2, ax3 = axes[0], axes[1]
    assert len(ax2.lines) == len(H36M_17.bones)
    assert ax2.yaxis_inverted()  # image y points down
    # 3D: ground truth (grey) first, then the prediction, one line per bone each
    assert len(ax3.lines) == 2 * len(H36M_17.bones)
    pred_lines = ax3.lines[len(H36M_17.bones) :]
    p = pred[0].numpy() - pred[0, 0].numpy()
    for line, (child, parent) in zip(pred_lines, H36M_17.bones):
        xs, ys, zs = line.get_data_3d()
        # plotted as (x, z, −y) relative to the root
        np.testing.assert_allclose(xs, p[[child, parent], 0], atol=1e-6)
        np.testing.assert_allclose(ys, p[[child, parent], 2], atol=1e-6)
        np.testing.assert_allclose(zs, -p[[child, parent], 1], atol=1e-6)
    assert all(line.get_color() == GT_COLOR for line in ax3.lines[: len(H36M_17.bones)])
    plt.close(fig)


def test_pose_figure_rejects_wrong_joint_count():
    with pytest.raises(ValueError, match="h36m16"):
        pose_figure(np.zeros((17, 2)), np.zeros((17, 3)), H36M_16)


def test_affinity_heatmap_shows_the_matrix_with_joint_names():
    m = torch.rand(16, 16)
    fig, ax = plt.subplots()
    im = plot_affinity(ax, m, H36M_16.names, title="layer")
    np.testing.assert_allclose(im.get_array(), m.numpy())
    assert [t.get_text() for t in ax.get_xticklabels()] == list(H36M_16.names)
    assert [t.get_text() for t in ax.get_yticklabels()] == list(H36M_16.names)
    plt.close(fig)
    with pytest.raises(ValueError, match="16 joint names"):
        plot_affinity(plt.subplots()[1], torch.rand(17, 17), H36M_16.names)


def test_affinity_figure_grid_and_rendering():
    mats = {f"layer{i}": torch.rand(16, 16) for i in range(5)}
    fig = affinity_figure(mats, H36M_16.names, cols=4)
    titled = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title() for ax in titled] == list(mats)
    image = figure_to_array(fig)
    assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3
    plt.close(fig)


def test_gif_has_one_frame_per_pose(tmp_path):
    rng = np.random.default_rng(1)
    pred = rng.normal(0, 0.3, (4, 16, 3))
    pose_2d = rng.uniform(0, 1000, (4, 16, 2))
    path = save_pose_gif(str(tmp_path / "seq.gif"), pred, H36M_16, pose_2d=pose_2d, gt_3d=pred + 0.01, fps=5)
    with Image.open(path) as gif:
        assert gif.format == "GIF"
        assert gif.n_frames == 4
