"""A synthetic Human3.6M in the exact VideoPose3D file format (conventions.md §1).

Human3.6M is licensed, so posegcn ships this generator: it writes the same files a user of the real
dataset has, and the same loader path runs on a fresh machine (demo, tests, benchmarks).

Files written into ``root``:

* ``data_3d_h36m.npz`` — ``positions_3d``: ``{subject: {take: float32 [F, 32, 3]}}``, world
  coordinates in metres, z up, floor at z ≈ 0, 50 fps.
* ``data_2d_h36m_<source>.npz`` — ``positions_2d``: ``{subject: {take: [cam0, cam1, cam2, cam3]}}``
  with float32 ``[frames, J, 2]`` pixels, and ``metadata`` ``{"num_joints", "keypoints_symmetry",
  "layout_name"}``.  Sources:

  - ``gt`` — the 17 joints of :data:`~posegcn.skeleton.H36M_17` projected exactly with the real
    cameras (``world_to_camera`` + ``project_to_2d`` with lens distortion); ``[F, 17, 2]``.
  - ``synth_det`` — CPN-like detections: per-joint Gaussian jitter (σ 3–8 px), 1 % of the joints
    displaced by 20–60 px, a left/right pair swapped in 0.5 % of the frames, and 0–2 frames more
    than the mocap, as real detections have; ``[F + 0…2, 17, 2]``.
  - ``synth_sh`` — Stacked-Hourglass-like: 16 joints in :data:`~posegcn.skeleton.H36M_16` order,
    noisier (σ 5–13 px, 2 % outliers of 20–80 px, 1 % swapped frames); ``[F + 0…2, 16, 2]``.

* ``SYNTHETIC.json`` — the generation parameters (seed, frames per take, version, sources), so
  :func:`ensure_synthetic_h36m` can tell whether an existing directory matches a request.

Content: the 7 subjects ``S1 S5 S6 S7 S8 S9 S11`` with the real camera calibration of each, the 15
action groups with two takes each (``"Walking"``, ``"Walking 1"``; the group is
``name.split(' ')[0]``).  Unlike the real dataset, S11 ``Directions`` is present (it is missing in
Human3.6M only because its video is corrupt), so every subject has all 30 takes.

Poses come from forward kinematics over the 32-marker tree :data:`~posegcn.skeleton.H36M_32` with
H36M-like bone lengths (the marker offsets of the H36M mocap skeleton, e.g. thigh 0.443 m, shin
0.454 m, upper arm 0.279 m, forearm 0.252 m; shoulder anchors coincide with the thorax, thumbs with
the wrists) times a per-subject body scale (0.9–1.1) and per-segment proportions, so bone lengths
are constant within a subject and differ between subjects.  Motion is described by anatomical joint
angles — smooth functions of time (sums of sinusoids with random frequencies and phases per take),
softly clamped to anatomical ranges — with action-specific patterns (gait cycles along an elliptic
path for the walking actions, hip and knee flexion with the pelvis lowering for the sitting ones,
hand-to-head for eating/phoning/smoking, pointing/waving/reaching, …), a root that turns about the
vertical and moves inside the capture volume, and feet on the floor.  Every joint of every frame is
checked to lie in front of each camera and inside its image; where a path would leave an image,
the take's horizontal excursion is shrunk toward the centre of the capture volume.

Same ``seed`` ⇒ identical arrays.  Everything is vectorised over the frames and over the 7 subjects
of a take; the only Python loops run over the 30 takes, the 32 joints (kinematic tree) and the 4
cameras.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from posegcn.camera import Camera, load_h36m_cameras, project_to_2d, world_to_camera
from posegcn.skeleton import H36M_16, H36M_17, H36M_17_TO_16, H36M_32, H36M_32_TO_17

__all__ = [
    "SYNTHETIC_SUBJECTS",
    "SYNTHETIC_ACTIONS",
    "SYNTHETIC_TAKES",
    "SYNTHETIC_SOURCES",
    "SYNTHETIC_VERSION",
    "FPS",
    "generate_synthetic_h36m",
    "ensure_synthetic_h36m",
    "synthetic_skeleton_offsets",
    "generate_synthetic_humaneva",
    "generate_synthetic_3dhp_test",
    "main",
]

#: Bump whenever the generated content changes, so cached directories are regenerated.
SYNTHETIC_VERSION = 1
FPS = 50

SYNTHETIC_SUBJECTS = ("S1", "S5", "S6", "S7", "S8", "S9", "S11")
#: The 15 action groups; each has two takes, ``"<group>"`` and ``"<group> 1"``.
SYNTHETIC_ACTIONS = (
    "Directions", "Discussion", "Eating", "Greeting", "Phoning", "Photo", "Posing", "Purchases",
    "Sitting", "SittingDown", "Smoking", "Waiting", "WalkDog", "Walking", "WalkTogether",
)  # fmt: skip
#: The 30 take names, the keys of the per-subject dictionaries.
SYNTHETIC_TAKES = tuple(f"{a}{suffix}" for a in SYNTHETIC_ACTIONS for suffix in ("", " 1"))
SYNTHETIC_SOURCES = ("gt", "synth_det", "synth_sh")

_MANIFEST = "SYNTHETIC.json"
_FILE_3D = "data_3d_h36m.npz"
_MAX_EXTRA_FRAMES = 2  # detections are 0–2 frames longer than the mocap
_IMAGE_MARGIN_PX = 8.0  # ground-truth joints stay this far inside every image
_FLOOR_CLEARANCE = 0.02  # the lowest marker is a marker radius above the floor (m)
#: Horizontal centre of the capture volume (m) where a person of any pose is seen by all cameras.
_VOLUME_CENTRE = np.array([0.25, 0.6])

# RNG streams: every random draw comes from default_rng([seed, stream, ...]), so the draws of one
# take or subject never depend on the order of generation.
_STREAM_BODY, _STREAM_MOTION, _STREAM_DETECTIONS = 1, 2, 3


# =============================================================================== skeleton
# Rest pose of the 32 markers: offsets from the parent in metres, body frame x forward, y left,
# z up, arms hanging.  Lengths are those of the H36M mocap skeleton (e.g. QuaterNet's
# ``skeleton_h36m``); several markers coincide as in the real data (Spine with Hip, the shoulder
# anchors with the Thorax, the thumbs with the wrists).
_REST_OFFSETS = np.array([
    [0.000, 0.000, 0.000],    # 0 Hip (root)
    [0.000, -0.133, 0.000],   # 1 RHip
    [0.000, 0.000, -0.443],   # 2 RKnee
    [0.000, 0.000, -0.454],   # 3 RFoot (ankle)
    [0.140, 0.000, -0.083],   # 4 RToeBase
    [0.075, 0.000, 0.000],    # 5 RSite
    [0.000, 0.133, 0.000],    # 6 LHip
    [0.000, 0.000, -0.443],   # 7 LKnee
    [0.000, 0.000, -0.454],   # 8 LFoot
    [0.140, 0.000, -0.083],   # 9 LToeBase
    [0.075, 0.000, 0.000],    # 10 LSite
    [0.000, 0.000, 0.000],    # 11 (coincides with Hip)
    [0.000, 0.000, 0.233],    # 12 Spine of the 17-joint layout
    [-0.010, 0.000, 0.257],   # 13 Thorax
    [0.055, 0.000, 0.108],    # 14 Neck/Nose
    [-0.020, 0.000, 0.113],   # 15 Head (top)
    [-0.010, 0.000, 0.257],   # 16 LShoulderAnchor (coincides with Thorax)
    [0.000, 0.145, -0.042],   # 17 LShoulder
    [0.000, 0.000, -0.279],   # 18 LElbow
    [0.000, 0.000, -0.252],   # 19 LWrist
    [0.000, 0.000, 0.000],    # 20 LThumb (coincides with the wrist)
    [0.030, 0.000, -0.095],   # 21 LHandSite
    [0.000, 0.000, -0.100],   # 22 LWristEnd
    [0.000, 0.000, 0.000],    # 23 LThumbSite
    [-0.010, 0.000, 0.257],   # 24 RShoulderAnchor
    [0.000, -0.145, -0.042],  # 25 RShoulder
    [0.000, 0.000, -0.279],   # 26 RElbow
    [0.000, 0.000, -0.252],   # 27 RWrist
    [0.000, 0.000, 0.000],    # 28 RThumb
    [0.030, 0.000, -0.095],   # 29 RHandSite
    [0.000, 0.000, -0.100],   # 30 RWristEnd
    [0.000, 0.000, 0.000],    # 31 RThumbSite
])  # fmt: skip

# Segment groups whose lengths vary together between subjects (left and right alike).
_SEGMENTS = {
    "leg": (2, 3, 7, 8),
    "foot": (4, 5, 9, 10),
    "pelvis": (1, 6),
    "torso": (12, 13, 16, 24),  # the anchors must keep coinciding with the thorax
    "head": (14, 15),
    "shoulders": (17, 25),
    "arm": (18, 19, 26, 27),
    "hand": (21, 22, 29, 30),
}


def synthetic_skeleton_offsets(seed: int = 0) -> dict[str, np.ndarray]:
    """Per-subject bone offsets ``{subject: [32, 3]}`` (metres, rest pose, body frame).

    A global body scale in [0.9, 1.1] times per-segment proportions in [0.96, 1.04].
    """
    out = {}
    for s, subject in enumerate(SYNTHETIC_SUBJECTS):
        rng = np.random.default_rng([seed, _STREAM_BODY, s])
        factor = np.full(H36M_32.num_joints, rng.uniform(0.9, 1.1))
        for joints in _SEGMENTS.values():
            factor[list(joints)] *= rng.uniform(0.96, 1.04)
        out[subject] = _REST_OFFSETS * factor[:, None]
    return out


# =============================================================================== rotations
def _rot(axis: int, angle: np.ndarray) -> np.ndarray:
    """Rotation matrices about a coordinate axis: ``[...] → [..., 3, 3]``."""
    c, s = np.cos(angle), np.sin(angle)
    one, zero = np.ones_like(angle), np.zeros_like(angle)
    if axis == 0:
        rows = [[one, zero, zero], [zero, c, -s], [zero, s, c]]
    elif axis == 1:
        rows = [[c, zero, s], [zero, one, zero], [-s, zero, c]]
    else:
        rows = [[c, -s, zero], [s, c, zero], [zero, zero, one]]
    return np.stack([np.stack(r, axis=-1) for r in rows], axis=-2)


def _euler_yxz(angles: np.ndarray) -> np.ndarray:
    """``R = R_y(a_y) R_x(a_x) R_z(a_z)`` from ``angles [..., 3] = (a_x, a_y, a_z)`` → ``[..., 3, 3]``.

    For a limb along the local z axis: the twist about the limb acts first, then ab/adduction
    (about the forward axis), then flexion (about the lateral axis).
    """
    return _rot(1, angles[..., 1]) @ _rot(0, angles[..., 0]) @ _rot(2, angles[..., 2])


def forward_kinematics(
    offsets: np.ndarray, root_rotation: np.ndarray, root_position: np.ndarray, local_rotations: np.ndarray
) -> np.ndarray:
    """Joint positions of the 32-marker tree by forward kinematics.

    ``G_j = G_parent(j) R_j`` and ``p_j = p_parent(j) + G_parent(j) o_j``: the offset ``o_j`` of a
    joint is expressed in its parent's frame, so the rotation of joint ``j`` moves its children.

    Shapes: offsets ``[B, J, 3]``, root_rotation ``[B, F, 3, 3]``, root_position ``[B, F, 3]``,
    local_rotations ``[B, F, J, 3, 3]`` → positions ``[B, F, J, 3]``.
    """
    parents = H36M_32.parents
    frames = [root_rotation]
    positions = [root_position]
    for j in range(1, len(parents)):  # parents precede children in the H36M order
        g_parent = frames[parents[j]]
        positions.append(positions[parents[j]] + np.einsum("bfij,bj->bfi", g_parent, offsets[:, j]))
        frames.append(g_parent @ local_rotations[:, :, j])
    return np.stack(positions, axis=2)


# =============================================================================== joint angles
#: Anatomical ranges (degrees) of the motion parameters; L_/R_ variants share a range.
_LIMITS = {
    "hip_flex": (-25.0, 125.0),
    "hip_abd": (-25.0, 50.0),
    "hip_rot": (-35.0, 40.0),
    "knee": (0.0, 150.0),
    "ankle": (-30.0, 45.0),
    "shoulder_flex": (-50.0, 175.0),
    "shoulder_abd": (-25.0, 170.0),
    "shoulder_rot": (-90.0, 80.0),  # positive = internal rotation
    "elbow": (0.0, 150.0),
    "wrist": (-60.0, 60.0),
    "spine_flex": (-25.0, 70.0),
    "spine_side": (-30.0, 30.0),
    "spine_twist": (-40.0, 40.0),
    "neck_flex": (-45.0, 60.0),
    "neck_side": (-30.0, 30.0),
    "neck_twist": (-70.0, 70.0),
    "pelvis_pitch": (-15.0, 30.0),
    "pelvis_roll": (-10.0, 10.0),
}
_SOFTNESS = 3.0  # degrees over which a limit is approached smoothly
_FOOT_FLATTENING = 0.8  # share of the hip and knee flexion the ankle compensates


def _soft_clamp(x: np.ndarray, lo: float, hi: float, b: float = _SOFTNESS) -> np.ndarray:
    """Smoothly limit ``x`` to ``(lo, hi)``: the identity away from the limits, C∞ everywhere."""
    y = lo + b * np.logaddexp(0.0, (x - lo) / b)
    y = hi - b * np.logaddexp(0.0, (hi - y) / b)
    return np.clip(y, lo, hi)


def _dof_names() -> list[str]:
    names = []
    for name in _LIMITS:
        if name.startswith(("hip", "knee", "ankle", "shoulder", "elbow", "wrist")):
            names += [f"L_{name}", f"R_{name}"]
        else:
            names.append(name)
    return names


_DOFS = _dof_names()


def _euler_angles(dofs: dict[str, np.ndarray], yaw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Anatomical angles (degrees) → root rotation ``[B, F, 3, 3]`` and local Euler angles ``[B, F, 32, 3]``.

    Sign conventions (body frame x forward, y left, z up): flexion moves a hip/shoulder forward
    (rotation by −θ about y), knee flexion moves the foot back (+θ), elbow flexion the hand forward
    (−θ); abduction moves a limb away from the midline (+α about x on the left, −α on the right);
    internal rotation turns a limb toward the midline.
    """
    deg = {}
    for name in _DOFS:
        if not name.endswith("ankle"):
            lo, hi = _LIMITS[name[2:] if name[:2] in ("L_", "R_") else name]
            deg[name] = _soft_clamp(dofs[name], lo, hi)
    for side in ("L_", "R_"):
        # the ankle angle is relative to a foot kept (mostly) parallel to the floor
        flat = _FOOT_FLATTENING * (deg[side + "knee"] - deg[side + "hip_flex"])
        deg[side + "ankle"] = _soft_clamp(dofs[side + "ankle"] + flat, *_LIMITS["ankle"])
    d = {name: np.radians(value) for name, value in deg.items()}
    shape = yaw.shape
    e = np.zeros(shape + (H36M_32.num_joints, 3))
    for side, sign, (hip, knee, foot, shoulder, elbow, wrist) in (
        ("R_", -1.0, (1, 2, 3, 25, 26, 27)),
        ("L_", 1.0, (6, 7, 8, 17, 18, 19)),
    ):
        e[..., hip, :] = np.stack(
            [sign * d[side + "hip_abd"], -d[side + "hip_flex"], -sign * d[side + "hip_rot"]], -1
        )
        e[..., knee, 1] = d[side + "knee"]
        e[..., foot, 1] = -d[side + "ankle"]
        e[..., shoulder, :] = np.stack(
            [sign * d[side + "shoulder_abd"], -d[side + "shoulder_flex"], -sign * d[side + "shoulder_rot"]],
            -1,
        )
        e[..., elbow, 1] = -d[side + "elbow"]
        e[..., wrist, 1] = -d[side + "wrist"]
    # the spine and the neck bend at two markers each
    spine = np.stack([d["spine_side"], d["spine_flex"], d["spine_twist"]], -1) / 2
    neck = np.stack([d["neck_side"], d["neck_flex"], d["neck_twist"]], -1) / 2
    e[..., 11, :] = e[..., 12, :] = spine
    e[..., 13, :] = e[..., 14, :] = neck
    root = _rot(2, yaw) @ _rot(1, d["pelvis_pitch"]) @ _rot(0, d["pelvis_roll"])
    return root, e


# =============================================================================== motion
def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)


@dataclass
class _Take:
    """Motion of one take for all subjects at once: every array is ``[B, F]`` (B subjects)."""

    t: np.ndarray  # [F] seconds
    rng: np.random.Generator
    scale: np.ndarray  # [B] body scale (leg length / nominal)
    dofs: dict[str, np.ndarray] = field(init=False)  # anatomical angles in degrees, see _LIMITS
    yaw: np.ndarray = field(init=False)  # heading about the vertical, radians
    offset: np.ndarray = field(init=False)  # [B, F, 2] horizontal root position from the take's centre (m)
    seated: bool = False

    def __post_init__(self) -> None:
        shape = (self.scale.shape[0], self.t.shape[0])
        self.dofs = {name: np.zeros(shape) for name in _DOFS}
        self.yaw = np.zeros(shape)
        self.offset = np.zeros(shape + (2,))

    @property
    def batch(self) -> int:
        return self.scale.shape[0]

    def u(self, lo: float, hi: float) -> np.ndarray:
        """One uniform draw per subject, ``[B, 1]``."""
        return self.rng.uniform(lo, hi, (self.batch, 1))

    def noise(
        self, amplitude: float | np.ndarray, f_lo: float = 0.05, f_hi: float = 0.5, k: int = 4
    ) -> np.ndarray:
        """Smooth noise ``[B, F]`` in ``[−amplitude, amplitude]``: a convex mix of ``k`` sinusoids with
        random frequencies in ``[f_lo, f_hi]`` Hz and random phases."""
        f = self.rng.uniform(f_lo, f_hi, (self.batch, 1, k))
        phase = self.rng.uniform(0, 2 * np.pi, (self.batch, 1, k))
        w = self.rng.dirichlet(np.ones(k), self.batch)[:, None, :]
        return amplitude * (w * np.sin(2 * np.pi * f * self.t[None, :, None] + phase)).sum(-1)

    def cycle(self, period: np.ndarray, plateau: bool = True) -> np.ndarray:
        """A smooth periodic activation in ``[0, 1]`` with random phase; with ``plateau`` it dwells at 0 and 1."""
        phase = self.rng.uniform(0, 2 * np.pi, (self.batch, 1))
        s = 0.5 - 0.5 * np.cos(2 * np.pi * self.t / period + phase)
        return _smoothstep(s) if plateau else s

    def side(self) -> np.ndarray:
        """A random side per subject, ``[B, 1]`` bool: True = left."""
        return self.rng.random((self.batch, 1)) < 0.5

    def add(self, name: str, value: np.ndarray | float) -> None:
        self.dofs[name] = self.dofs[name] + value

    def add_both(self, name: str, value: np.ndarray | float) -> None:
        self.add("L_" + name, value)
        self.add("R_" + name, value)

    def add_arm(
        self, left: np.ndarray, name: str, active: np.ndarray | float, other: np.ndarray | float = 0.0
    ) -> None:
        """``active`` on the chosen arm (``left`` True → left), ``other`` on the opposite one."""
        self.add("L_" + name, np.where(left, active, other))
        self.add("R_" + name, np.where(left, other, active))

    # ----------------------------------------------------------------- building blocks
    def turn(self, amplitude_deg: float) -> None:
        """A random heading plus slow turning about the vertical axis."""
        self.yaw = self.yaw + self.u(0, 2 * np.pi) + np.radians(self.noise(amplitude_deg, 0.02, 0.15, 3))

    def wander(self, amplitude: float) -> None:
        """Slow drift of the root over the floor, up to ``amplitude`` metres (steps come from :meth:`gait`)."""
        self.offset = self.offset + np.stack(
            [self.noise(amplitude, 0.02, 0.1, 3), self.noise(amplitude, 0.02, 0.1, 3)], -1
        )

    def ellipse_path(self, speed: np.ndarray) -> None:
        """Walk along an ellipse about the take's centre at ``speed [B, F]`` m/s, facing the direction of travel."""
        a, b = self.u(0.8, 1.0), self.u(1.25, 1.6)
        direction = np.where(self.side(), 1.0, -1.0)
        arc = np.cumsum(speed, axis=1) / FPS  # distance travelled
        alpha = self.u(0, 2 * np.pi) + direction * arc / (0.5 * (a + b))
        self.offset = self.offset + np.stack([a * np.cos(alpha), b * np.sin(alpha)], -1)
        velocity = np.stack([-a * np.sin(alpha), b * np.cos(alpha)], -1) * direction[..., None]
        self.yaw = self.yaw + np.arctan2(velocity[..., 1], velocity[..., 0])

    def gait(self, arm_swing: np.ndarray | float = 15.0) -> None:
        """Gait cycles driven by the horizontal speed of the root: the phase advances one cycle per
        stride (two steps), the amplitude grows with the speed."""
        velocity = np.gradient(self.offset, axis=1) * FPS
        speed = np.linalg.norm(velocity, axis=-1)
        stride = 1.35 * self.scale[:, None]
        phi = self.u(0, 2 * np.pi) + 2 * np.pi * np.cumsum(speed, axis=1) / FPS / stride
        a = np.tanh(speed / 0.8)
        for side, shift in (("R_", 0.0), ("L_", np.pi)):
            p = phi + shift
            self.add(side + "hip_flex", a * (5 + 20 * np.sin(p)))
            self.add(side + "knee", a * 45 * ((1 + np.sin(p + np.pi / 2 + 0.5)) / 2) ** 2)
            self.add(side + "ankle", a * 10 * np.sin(p - 1.0))
            self.add(side + "shoulder_flex", a * arm_swing * np.sin(p + np.pi))
            self.add(side + "elbow", a * 8 * (1 + np.sin(p + np.pi)))
        self.add("spine_twist", a * 5 * np.sin(phi))
        self.add("pelvis_roll", a * 3 * np.sin(2 * phi))
        self.add("pelvis_pitch", a * 3)
        self.yaw = self.yaw + np.radians(a * 5 * np.sin(phi + np.pi))

    def sit(self) -> None:
        """Seated on a chair: thighs about horizontal, shins about vertical (the floor contact then
        puts the pelvis at knee height)."""
        self.seated = True
        self.add_both("hip_flex", self.u(80, 95) + self.noise(5.0))
        self.add("L_knee", self.u(75, 100) + self.noise(10.0))
        self.add("R_knee", self.u(75, 100) + self.noise(10.0))
        self.add_both("hip_abd", self.u(3, 15))
        self.add("L_hip_rot", self.noise(8.0))
        self.add("R_hip_rot", self.noise(8.0))

    def hand_to_head(self, left: np.ndarray, activation: np.ndarray) -> None:
        """Bring one hand to the face (``activation`` 0 → arm down, 1 → hand at the mouth)."""
        self.add_arm(left, "shoulder_flex", activation * self.u(35, 50))
        self.add_arm(left, "shoulder_abd", activation * self.u(5, 15))
        self.add_arm(left, "shoulder_rot", activation * self.u(20, 40))
        self.add_arm(left, "elbow", activation * self.u(105, 120))


def _base_posture(m: _Take) -> None:
    """Relaxed standing posture with small random sways on every joint, shared by all actions."""
    for side in ("L_", "R_"):
        m.add(side + "knee", 4 + m.noise(3.0))
        m.add(side + "hip_abd", 4 + m.noise(2.0))
        m.add(side + "hip_flex", 2 + m.noise(3.0))
        m.add(side + "hip_rot", m.noise(5.0))
        m.add(side + "ankle", m.noise(3.0))
        m.add(side + "shoulder_abd", 8 + m.noise(4.0))
        m.add(side + "shoulder_flex", 5 + m.noise(5.0))
        m.add(side + "shoulder_rot", 10 + m.noise(10.0))
        m.add(side + "elbow", 15 + m.noise(8.0, 0.1, 0.6))
        m.add(side + "wrist", m.noise(10.0))
    m.add("spine_flex", 3 + m.noise(3.0))
    m.add("spine_side", m.noise(3.0))
    m.add("spine_twist", m.noise(5.0))
    m.add("neck_flex", 5 + m.noise(6.0))
    m.add("neck_side", m.noise(4.0))
    m.add("neck_twist", m.noise(15.0, 0.05, 0.4))
    m.add("pelvis_pitch", m.noise(2.0))
    m.add("pelvis_roll", m.noise(2.0))


# One function per action group; each adds its pattern to the base posture.
def _directions(m: _Take) -> None:
    m.turn(50)
    m.wander(0.4)
    m.gait()
    left, point = m.side(), m.cycle(m.u(3, 6))
    m.add_arm(left, "shoulder_flex", point * m.u(70, 100) + m.noise(10.0), m.noise(15.0))
    m.add_arm(left, "shoulder_abd", point * m.u(0, 30))
    m.add_arm(left, "elbow", -10 * point, 10 + m.noise(15.0))
    m.add("spine_twist", point * np.where(left, 15.0, -15.0))
    m.add("neck_twist", point * np.where(left, 20.0, -20.0))


def _discussion(m: _Take) -> None:
    m.turn(70)
    m.wander(0.3)
    m.gait()
    for side in ("L_", "R_"):
        m.add(side + "shoulder_flex", 15 + m.noise(25.0, 0.2, 0.8))
        m.add(side + "shoulder_abd", m.noise(12.0, 0.2, 0.8))
        m.add(side + "shoulder_rot", m.noise(25.0, 0.2, 0.8))
        m.add(side + "elbow", 40 + m.noise(35.0, 0.2, 0.9))
    sway = m.noise(1.0, 0.05, 0.2)
    m.add("L_hip_abd", 5 * sway)
    m.add("R_hip_abd", -5 * sway)
    m.add("pelvis_roll", 3 * sway)
    m.add("neck_twist", m.noise(30.0, 0.05, 0.3))


def _eating(m: _Take) -> None:
    m.sit()
    m.turn(10)
    m.add("spine_flex", 10 + m.noise(5.0))
    m.add("neck_flex", 10)
    m.add_both("shoulder_flex", 25.0)  # forearms on the table
    m.add_both("elbow", 60 + m.noise(15.0))
    left, period = m.side(), m.u(3, 6)
    m.hand_to_head(left, m.cycle(period))
    m.hand_to_head(~left, 0.6 * m.cycle(period * m.u(1.3, 2.0)))


def _greeting(m: _Take) -> None:
    m.turn(40)
    m.wander(0.6)
    m.gait()
    left, wave = m.side(), m.cycle(m.u(4, 7))
    m.add_arm(left, "shoulder_abd", wave * m.u(80, 110))
    m.add_arm(left, "shoulder_rot", -wave * m.u(70, 90))  # external rotation: forearm up
    f_wave = m.u(1.5, 2.5)
    m.add_arm(left, "elbow", wave * (80 + 25 * np.sin(2 * np.pi * f_wave * m.t + m.u(0, 2 * np.pi))))
    shake = (1 - wave) * m.cycle(m.u(5, 8))  # the other hand reaches out for a handshake
    m.add_arm(~left, "shoulder_flex", shake * m.u(35, 55))
    m.add_arm(~left, "elbow", shake * m.u(20, 40))
    m.add("spine_flex", 8 * shake)


def _phoning(m: _Take) -> None:
    m.turn(60)
    m.wander(0.5)
    m.gait()
    left = m.side()
    m.hand_to_head(left, np.ones_like(m.t) + m.noise(0.08))
    m.add_arm(left, "shoulder_abd", m.u(15, 30))
    m.add_arm(~left, "shoulder_flex", m.noise(20.0, 0.1, 0.5))
    m.add_arm(~left, "elbow", 20 + m.noise(25.0, 0.1, 0.6))
    m.add("neck_side", np.where(left, 10.0, -10.0))


def _photo(m: _Take) -> None:
    m.turn(60)
    m.wander(0.3)
    m.gait()
    camera_up = m.cycle(m.u(3, 6))
    m.add_both("shoulder_flex", camera_up * m.u(50, 70))
    m.add_both("shoulder_abd", camera_up * m.u(15, 30))
    m.add_both("shoulder_rot", camera_up * m.u(30, 50))
    m.add_both("elbow", camera_up * m.u(100, 120))
    crouch = m.cycle(m.u(5, 9)) * m.u(0.3, 1.0)
    m.add_both("knee", crouch * 70)
    m.add_both("hip_flex", crouch * 50)
    m.add("spine_flex", crouch * 15)
    m.add("spine_twist", m.noise(25.0, 0.05, 0.3))


def _posing(m: _Take) -> None:
    """Held poses with smooth transitions between random key poses."""
    m.turn(30)
    m.wander(0.2)
    keyed = {
        "shoulder_flex": (-20, 160), "shoulder_abd": (0, 150), "shoulder_rot": (-60, 60), "elbow": (0, 130),
        "hip_flex": (-10, 40), "hip_abd": (0, 30), "knee": (0, 45),
    }  # fmt: skip
    hold = m.u(1.5, 3.0)
    k = (m.t[None, :] + m.u(0, 3.0)) / hold
    index = np.floor(k).astype(int)
    w = _smoothstep(2 * (k - index) - 1)  # hold for the first half of each interval, then move
    n_keys = int(index.max()) + 2

    def keyframes(lo: float, hi: float) -> np.ndarray:
        keys = m.rng.uniform(lo, hi, (m.batch, n_keys))
        start = np.take_along_axis(keys, index, axis=1)
        return start + w * (np.take_along_axis(keys, index + 1, axis=1) - start)

    for name, (lo, hi) in keyed.items():
        m.add("L_" + name, keyframes(lo, hi))
        m.add("R_" + name, keyframes(lo, hi))
    for name, (lo, hi) in {"spine_side": (-20, 20), "spine_flex": (-10, 25), "spine_twist": (-25, 25),
                           "neck_twist": (-40, 40), "neck_flex": (-20, 20)}.items():  # fmt: skip
        m.add(name, keyframes(lo, hi))


def _purchases(m: _Take) -> None:
    m.turn(60)
    m.wander(0.5)
    m.gait()
    left, reach = m.side(), m.cycle(m.u(3, 6))
    m.add("spine_flex", reach * m.u(25, 50))
    m.add_both("hip_flex", reach * m.u(10, 30))
    m.add_both("knee", reach * m.u(5, 25))
    m.add_arm(left, "shoulder_flex", reach * m.u(50, 90), 10.0)
    m.add_arm(left, "elbow", -10 * reach, 70 + m.noise(15.0))  # the other hand holds a basket
    m.add("neck_flex", reach * 20)


def _sitting(m: _Take) -> None:
    m.sit()
    m.turn(10)
    m.add("spine_flex", 8 + m.noise(12.0))
    m.add("spine_twist", m.noise(15.0))
    m.add_both("shoulder_flex", 20.0)  # hands on the thighs
    m.add_both("elbow", 45.0)
    left = m.side()
    m.add_arm(left, "shoulder_flex", m.noise(30.0, 0.1, 0.5))
    m.add_arm(left, "elbow", 30 + m.noise(40.0, 0.1, 0.6))
    m.add("neck_twist", m.noise(30.0, 0.05, 0.3))


def _sitting_down(m: _Take) -> None:
    """Repeatedly going down from standing to sitting low on the floor with the knees up, and back."""
    m.turn(20)
    level = m.cycle(m.u(6, 10))
    level = _smoothstep(level)
    hip = level * m.u(85, 100)
    m.add_both("hip_flex", hip)
    m.add_both(
        "knee", hip + 40 * np.sin(np.pi * level) - 45 * level**3
    )  # squat on the way, knees up at the end
    m.add_both("hip_abd", level * m.u(5, 20))
    m.add("spine_flex", 30 * np.sin(np.pi * level) + 10 * level)
    m.add_both("shoulder_flex", 40 * np.sin(np.pi * level))  # reaching for support
    m.add_both("elbow", 20 * np.sin(np.pi * level))
    m.add("neck_flex", 15 * level)


def _smoking(m: _Take) -> None:
    m.turn(40)
    m.wander(0.2)
    m.gait()
    left = m.side()
    puff = m.cycle(m.u(4, 8))
    m.hand_to_head(left, puff)
    m.add_arm(~left, "shoulder_rot", m.u(40, 60))  # the other forearm across the belly
    m.add_arm(~left, "elbow", m.u(70, 90))
    m.add("neck_flex", -10 * puff)
    sway = m.noise(1.0, 0.05, 0.15)
    m.add("L_hip_abd", 5 * sway)
    m.add("R_hip_abd", -5 * sway)


def _waiting(m: _Take) -> None:
    m.turn(80)
    m.wander(0.3)
    m.gait()
    crossed = m.side()  # arms crossed, or hands on the hips
    m.add_both("shoulder_flex", np.where(crossed, 25.0, 0.0))
    m.add_both("shoulder_abd", np.where(crossed, 10.0, 40.0))
    m.add_both("shoulder_rot", np.where(crossed, 70.0, 25.0))
    m.add_both("elbow", np.where(crossed, 95.0, 85.0))
    shift = m.noise(1.0, 0.05, 0.15)  # weight shifting from one leg to the other
    m.add("L_hip_abd", 6 * shift)
    m.add("R_hip_abd", -6 * shift)
    m.add("L_knee", 15 * np.clip(shift, 0, None) ** 2)
    m.add("R_knee", 15 * np.clip(-shift, 0, None) ** 2)
    m.add("pelvis_roll", 3 * shift)
    m.add("neck_twist", m.noise(40.0, 0.05, 0.3))


def _walking(m: _Take, speed: tuple[float, float] = (1.1, 1.4), arm_swing: float = 18.0) -> None:
    m.ellipse_path(m.u(*speed) * m.scale[:, None] * (1 + m.noise(0.1, 0.05, 0.2)))
    m.gait(arm_swing)


def _walk_dog(m: _Take) -> None:
    m.ellipse_path(m.u(0.6, 1.0) * m.scale[:, None] * (1 + m.noise(0.4, 0.05, 0.3)))
    m.gait(8.0)
    left = m.side()  # one hand holds the leash
    m.add_arm(left, "shoulder_flex", m.u(30, 50) + m.noise(10.0, 0.2, 0.8))
    m.add_arm(left, "elbow", -10.0)
    m.add("spine_flex", m.u(8, 15))
    m.add("neck_flex", 15 + m.noise(10.0))


def _walk_together(m: _Take) -> None:
    _walking(m, speed=(0.9, 1.2), arm_swing=8.0)
    left = m.side()  # looking at the companion
    m.add("neck_twist", np.where(left, 1.0, -1.0) * (m.u(15, 30) + m.noise(15.0, 0.05, 0.3)))
    m.add_arm(left, "elbow", 20.0)


_ACTION_MOTION: dict[str, Callable[[_Take], None]] = {
    "Directions": _directions, "Discussion": _discussion, "Eating": _eating, "Greeting": _greeting,
    "Phoning": _phoning, "Photo": _photo, "Posing": _posing, "Purchases": _purchases,
    "Sitting": _sitting, "SittingDown": _sitting_down, "Smoking": _smoking, "Waiting": _waiting,
    "WalkDog": _walk_dog, "Walking": _walking, "WalkTogether": _walk_together,
}  # fmt: skip


# =============================================================================== cameras
@dataclass(frozen=True)
class _CameraRig:
    """The 4 cameras of every subject stacked for broadcasting over ``[B, F, J, 3]``."""

    orientation: np.ndarray  # [C, B, 1, 1, 4]
    translation: np.ndarray  # [C, B, 1, 1, 3]
    intrinsics: list[dict[str, np.ndarray]]  # per camera, each [1, 1, 1, k]
    resolution: np.ndarray  # [C, 2] (w, h)

    @classmethod
    def from_cameras(cls, cameras: dict[str, list[Camera]], subjects: Sequence[str]) -> _CameraRig:
        missing = [s for s in subjects if s not in cameras]
        if missing:
            raise KeyError(f"camera calibration has no subject(s) {missing}; it has {sorted(cameras)}")
        cams = [cameras[s] for s in subjects]
        n_cam = len(cams[0])

        def stack(attr: str) -> np.ndarray:
            a = np.array([[getattr(c[i], attr) for c in cams] for i in range(n_cam)], dtype=np.float64)
            return a[:, :, None, None, :]

        intrinsics = [
            {
                key: np.asarray(getattr(cams[0][i], key), dtype=np.float64).reshape(1, 1, 1, -1)
                for key in ("focal_length", "center", "radial_distortion", "tangential_distortion")
            }
            for i in range(n_cam)
        ]
        resolution = np.array([[cams[0][i].res_w, cams[0][i].res_h] for i in range(n_cam)], dtype=np.float64)
        return cls(stack("orientation"), stack("translation"), intrinsics, resolution)

    def project(
        self, world: np.ndarray, subjects: np.ndarray | None = None
    ) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """World points ``[B, F, J, 3]`` → per camera pixels ``[B, F, J, 2]`` and depths ``[B, F, J]``.

        ``subjects`` selects the rows of the rig that ``world`` holds (default: all of them).
        """
        rows = slice(None) if subjects is None else subjects
        pixels, depths = [], []
        for c, intr in enumerate(self.intrinsics):
            x_cam = world_to_camera(world, self.orientation[c][rows], self.translation[c][rows])
            pixels.append(project_to_2d(x_cam, **intr))
            depths.append(x_cam[..., 2])
        return pixels, depths

    def visible(self, world: np.ndarray, margin: float, subjects: np.ndarray | None = None) -> np.ndarray:
        """``[B]`` bool: every joint of every frame in front of every camera and ``margin`` px inside its image."""
        pixels, depths = self.project(world, subjects)
        ok = np.ones(world.shape[0], dtype=bool)
        for uv, z, (w, h) in zip(pixels, depths, self.resolution):
            inside = (z > 0.1) & (uv[..., 0] >= margin) & (uv[..., 0] <= w - margin)
            inside &= (uv[..., 1] >= margin) & (uv[..., 1] <= h - margin)
            ok &= inside.reshape(world.shape[0], -1).all(axis=1)
        return ok


# =============================================================================== generation
def _generate_take(
    action: str, take: int, seed: int, n_frames: int, offsets: np.ndarray, rig: _CameraRig
) -> np.ndarray:
    """World positions ``[B, n_frames, 32, 3]`` (float64) of one take for all subjects."""
    rng = np.random.default_rng([seed, _STREAM_MOTION, SYNTHETIC_ACTIONS.index(action), take])
    scale = np.linalg.norm(offsets[:, 2], axis=-1) / np.linalg.norm(_REST_OFFSETS[2])
    m = _Take(t=np.arange(n_frames) / FPS, rng=rng, scale=scale)
    _base_posture(m)
    _ACTION_MOTION[action](m)
    root_rotation, euler = _euler_angles(m.dofs, m.yaw)
    zero = np.zeros(m.yaw.shape + (3,))
    local = forward_kinematics(offsets, root_rotation, zero, _euler_yxz(euler))
    # feet (or the pelvis, sitting on the floor) on the ground
    local[..., 2] -= local[..., 2].min(axis=-1, keepdims=True) - _FLOOR_CLEARANCE
    # take's centre near the middle of the capture volume, chairs stay closer to it
    spread = 0.15 if m.seated else 0.3
    centre = _VOLUME_CENTRE + rng.uniform(-spread, spread, (m.batch, 2))
    # shrink the excursion toward the volume centre until every camera sees the whole body
    placed = np.zeros(m.batch, dtype=bool)
    world = local.copy()
    for shrink in (1.0, 0.85, 0.7, 0.55, 0.4, 0.25, 0.1, 0.0):
        todo = ~placed
        c = shrink * centre[todo] + (1 - shrink) * _VOLUME_CENTRE
        xy = c[:, None, :] + shrink * m.offset[todo]
        candidate = local[todo].copy()
        candidate[..., :2] += xy[:, :, None, :]
        ok = rig.visible(candidate, _IMAGE_MARGIN_PX, np.flatnonzero(todo))
        idx = np.flatnonzero(todo)[ok]
        world[idx] = candidate[ok]
        placed[idx] = True
        if placed.all():
            return world
    raise RuntimeError(
        f"synthetic take {action!r} #{take} (seed {seed}): subjects "
        f"{[SYNTHETIC_SUBJECTS[i] for i in np.flatnonzero(~placed)]} do not fit inside every camera image"
    )


# Per-joint jitter σ (px) of the CPN-like detections, H36M-17 order: hips and the spine are
# ill-defined on the image, the head and shoulders are sharp, wrists move fast.
_DET_SIGMA_17 = np.array([6, 7, 5, 5, 7, 5, 5, 8, 4, 3, 4, 4, 5, 6, 4, 5, 6], dtype=np.float64)


@dataclass(frozen=True)
class _DetectorModel:
    joints: tuple[int, ...]  # indices into the 17 joints
    sigma: np.ndarray  # [J] px
    outlier_rate: float
    outlier_px: tuple[float, float]
    swap_rate: float  # fraction of frames with one left/right pair swapped
    pairs: np.ndarray  # [P, 2] left/right joint pairs in the output order


_DETECTORS = {
    "synth_det": _DetectorModel(
        joints=tuple(range(17)),
        sigma=_DET_SIGMA_17,
        outlier_rate=0.01,
        outlier_px=(20.0, 60.0),
        swap_rate=0.005,
        pairs=np.stack([H36M_17.joints_left, H36M_17.joints_right], -1),
    ),
    "synth_sh": _DetectorModel(
        joints=H36M_17_TO_16,
        sigma=_DET_SIGMA_17[list(H36M_17_TO_16)] * 1.6,
        outlier_rate=0.02,
        outlier_px=(20.0, 80.0),
        swap_rate=0.01,
        pairs=np.stack([H36M_16.joints_left, H36M_16.joints_right], -1),
    ),
}


def _detect(
    clean: np.ndarray, model: _DetectorModel, rng: np.random.Generator, size: tuple[int, int]
) -> np.ndarray:
    """Simulated detections from exact projections ``[F, 17, 2]`` → ``[F, J, 2]`` inside the image ``size = (w, h)``."""
    x = clean[:, list(model.joints)].copy()
    n_frames, n_joints = x.shape[:2]
    x += rng.normal(size=x.shape) * model.sigma[None, :, None]
    outlier = rng.random((n_frames, n_joints)) < model.outlier_rate
    radius = rng.uniform(*model.outlier_px, (n_frames, n_joints))
    angle = rng.uniform(0, 2 * np.pi, (n_frames, n_joints))
    x += (outlier * radius)[..., None] * np.stack([np.cos(angle), np.sin(angle)], -1)
    frames = np.flatnonzero(rng.random(n_frames) < model.swap_rate)
    pair = model.pairs[rng.integers(0, len(model.pairs), frames.size)]
    x[frames[:, None], pair] = x[frames[:, None], pair[:, ::-1]]
    return np.clip(x, 0.0, np.asarray(size, dtype=np.float64) - 1.0)


def _metadata(num_joints: int) -> dict:
    skeleton = H36M_17 if num_joints == 17 else H36M_16
    return {
        "num_joints": num_joints,
        "keypoints_symmetry": [list(skeleton.joints_left), list(skeleton.joints_right)],
        "layout_name": "h36m",
    }


def _save_npz(path: Path, **arrays) -> None:
    """``np.savez_compressed`` through a temporary file, so readers never see a half-written file."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as fh:
        np.savez_compressed(fh, **arrays)
    os.replace(tmp, path)


def _manifest(frames_per_take: int, seed: int, sources: Sequence[str]) -> dict:
    return {
        "generator": "posegcn.data.synthetic",
        "version": SYNTHETIC_VERSION,
        "seed": int(seed),
        "frames_per_take": int(frames_per_take),
        "fps": FPS,
        "sources": list(sources),
        "subjects": list(SYNTHETIC_SUBJECTS),
        "takes": list(SYNTHETIC_TAKES),
        "files": [_FILE_3D] + [f"data_2d_h36m_{s}.npz" for s in sources],
        "notes": "Synthetic Human3.6M in VideoPose3D format; unlike the real data, S11 'Directions' is present.",
    }


def _check_arguments(frames_per_take: int, seed: int, sources: Sequence[str]) -> tuple[str, ...]:
    if isinstance(sources, str):
        sources = (sources,)
    if not isinstance(frames_per_take, int | np.integer) or frames_per_take < 1:
        raise ValueError(f"frames_per_take must be a positive integer, got {frames_per_take!r}")
    if not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    unknown = [s for s in sources if s not in SYNTHETIC_SOURCES]
    if unknown:
        raise ValueError(
            f"unknown synthetic 2D source(s) {unknown}; expected a subset of {list(SYNTHETIC_SOURCES)}"
        )
    return tuple(dict.fromkeys(sources))


def generate_synthetic_h36m(
    root: str | Path,
    frames_per_take: int = 200,
    seed: int = 0,
    sources: Sequence[str] = SYNTHETIC_SOURCES,
) -> Path:
    """Write the synthetic dataset into ``root`` (created if needed) and return ``root`` as a Path.

    Args:
        root: output directory.
        frames_per_take: mocap frames of every take (50 fps); 7 subjects × 30 takes of them.
            About 2500 gives Human3.6M scale.
        seed: everything is a deterministic function of the seed.
        sources: 2D files to write, a subset of ``("gt", "synth_det", "synth_sh")``.
    """
    sources = _check_arguments(frames_per_take, seed, sources)
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    (root / _MANIFEST).unlink(missing_ok=True)  # the directory is inconsistent until the end
    # The projections are many small tensor ops: intra-op threads only add synchronisation, which
    # is ruinous on a loaded machine (50x slower measured on 2 busy cores).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        _write_dataset(root, frames_per_take, seed, sources)
    finally:
        torch.set_num_threads(threads)
    return root


def _write_dataset(root: Path, frames_per_take: int, seed: int, sources: tuple[str, ...]) -> None:

    offsets = synthetic_skeleton_offsets(seed)
    body = np.stack([offsets[s] for s in SYNTHETIC_SUBJECTS])
    rig = _CameraRig.from_cameras(load_h36m_cameras(), SYNTHETIC_SUBJECTS)
    n_total = frames_per_take + _MAX_EXTRA_FRAMES
    positions_3d: dict[str, dict[str, np.ndarray]] = {s: {} for s in SYNTHETIC_SUBJECTS}
    positions_2d: dict[str, dict[str, dict[str, list[np.ndarray]]]] = {
        src: {s: {} for s in SYNTHETIC_SUBJECTS} for src in sources
    }
    take_names = iter(SYNTHETIC_TAKES)
    for a, action in enumerate(SYNTHETIC_ACTIONS):
        for take in range(2):
            name = next(take_names)
            world = _generate_take(action, take, seed, n_total, body, rig)
            # the 2D ground truth is projected from the stored float32 mocap
            world32 = world.astype(np.float32)
            pixels, _ = rig.project(world32[:, :, list(H36M_32_TO_17)].astype(np.float64))
            for b, subject in enumerate(SYNTHETIC_SUBJECTS):
                positions_3d[subject][name] = np.ascontiguousarray(world32[b, :frames_per_take])
                for src in sources:
                    if src == "gt":
                        cams = [uv[b, :frames_per_take].astype(np.float32) for uv in pixels]
                    else:
                        k = list(_DETECTORS).index(src)
                        rng = np.random.default_rng([seed, _STREAM_DETECTIONS, k, b, a, take])
                        extra = rng.integers(0, _MAX_EXTRA_FRAMES + 1, len(pixels))
                        cams = [
                            _detect(
                                uv[b, : frames_per_take + extra[c]], _DETECTORS[src], rng, rig.resolution[c]
                            ).astype(np.float32)
                            for c, uv in enumerate(pixels)
                        ]
                    positions_2d[src][subject][name] = cams

    _save_npz(root / _FILE_3D, positions_3d=positions_3d)
    for src in sources:
        num_joints = 16 if src == "synth_sh" else 17
        _save_npz(
            root / f"data_2d_h36m_{src}.npz", positions_2d=positions_2d[src], metadata=_metadata(num_joints)
        )
    tmp = root / f".{_MANIFEST}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(_manifest(frames_per_take, seed, sources), indent=1) + "\n")
    os.replace(tmp, root / _MANIFEST)


def ensure_synthetic_h36m(
    root: str | Path, frames_per_take: int = 200, seed: int = 0, sources: Sequence[str] = SYNTHETIC_SOURCES
) -> Path:
    """Generate the synthetic dataset into ``root`` unless it already holds one with these parameters.

    The directory is reused when its ``SYNTHETIC.json`` has the same version, seed and frames per
    take, lists every requested source, and all files exist; otherwise it is (re)generated.
    """
    sources = _check_arguments(frames_per_take, seed, sources)
    root = Path(root)
    manifest = root / _MANIFEST
    try:
        found = json.loads(manifest.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        found = None
    if (
        isinstance(found, dict)
        and found.get("version") == SYNTHETIC_VERSION
        and found.get("seed") == seed
        and found.get("frames_per_take") == frames_per_take
        and set(sources) <= set(found.get("sources", ()))
        and all((root / f).is_file() for f in [_FILE_3D] + [f"data_2d_h36m_{s}.npz" for s in sources])
    ):
        return root
    return generate_synthetic_h36m(root, frames_per_take=frames_per_take, seed=seed, sources=sources)


# =============================================================================== other datasets
# The same kinematics in the file layouts of the cross-dataset evaluations (README.md § Data):
# HumanEva-I as VideoPose3D writes it, and the MPI-INF-3DHP test set as P-STMO writes it.

#: Joints of the 32-marker tree kept in the HumanEva-I 15-joint order (Pelvis, Thorax, left arm,
#: right arm, left leg, right leg, Head top).
H36M_32_TO_HUMANEVA_15 = (0, 13, 17, 18, 19, 25, 26, 27, 6, 7, 8, 1, 2, 3, 15)
#: Synthetic HumanEva-I takes and the motion each is made of; ``chunk2`` mimics a sequence cut
#: at corrupt mocap frames.
SYNTHETIC_HUMANEVA_TAKES = ("Walking 1 chunk0", "Walking 1 chunk2", "Jog 1 chunk0", "Box 1 chunk0")
SYNTHETIC_HUMANEVA_SUBJECTS = tuple(f"{split}/S{k}" for split in ("Train", "Validate") for k in (1, 2, 3))
#: Motion of each synthetic MPI-INF-3DHP test sequence (an H36M action pattern).
SYNTHETIC_3DHP_MOTION = {
    "TS1": "Walking", "TS2": "Directions", "TS3": "Sitting", "TS4": "Greeting", "TS5": "Walking",
    "TS6": "Discussion",
}  # fmt: skip
_STREAM_HUMANEVA, _STREAM_3DHP = 4, 5
_HUMANEVA_FOCAL_PX = 760.0  # a plausible pinhole for the 640x480 cameras (the real files ship 2D pixels)
_3DHP_FOCAL_PX = {"studio": 1500.0, "outdoor": 1684.0}  # ≈ the test set's intrinsics (TS1–4 / TS5–6)


def _jog(m: _Take) -> None:
    _walking(m, speed=(2.2, 2.8), arm_swing=35.0)
    m.add_both("elbow", 60.0)  # jogging arms are bent


def _box(m: _Take) -> None:
    m.turn(20)
    m.wander(0.2)
    m.add_both("knee", 15.0)
    m.add_both("hip_flex", 10.0)
    for side in ("L_", "R_"):  # guard up, alternating punches
        punch = m.cycle(m.u(0.6, 1.2), plateau=False)
        m.add(side + "shoulder_flex", 60 + 30 * punch)
        m.add(side + "shoulder_abd", 15.0)
        m.add(side + "elbow", 120 - 100 * punch)


_HUMANEVA_MOTION: dict[str, Callable[[_Take], None]] = {"Walking": _walking, "Jog": _jog, "Box": _box}


def _synthetic_motion(
    motion: Callable[[_Take], None], rng: np.random.Generator, offsets: np.ndarray, n_frames: int, fps: int,
    excursion: float,
) -> np.ndarray:  # fmt: skip
    """World positions ``[B, n_frames, 32, 3]`` of one take for the bodies ``offsets [B, 32, 3]``: the
    kinematics of :func:`_generate_take`, with the horizontal path shrunk by ``excursion`` about the
    origin (a smaller capture volume than Human3.6M's)."""
    scale = np.linalg.norm(offsets[:, 2], axis=-1) / np.linalg.norm(_REST_OFFSETS[2])
    m = _Take(t=np.arange(n_frames) / fps, rng=rng, scale=scale)
    _base_posture(m)
    motion(m)
    root_rotation, euler = _euler_angles(m.dofs, m.yaw)
    world = forward_kinematics(offsets, root_rotation, np.zeros(m.yaw.shape + (3,)), _euler_yxz(euler))
    world[..., 2] -= world[..., 2].min(axis=-1, keepdims=True) - _FLOOR_CLEARANCE
    path = m.offset - m.offset.mean(axis=1, keepdims=True)
    world[..., :2] += excursion * path[:, :, None, :]
    return world


def generate_synthetic_humaneva(root: str | Path, frames_per_take: int = 120, seed: int = 0) -> Path:
    """Write a synthetic HumanEva-I in VideoPose3D's layout into ``root``; returns ``root``.

    Files: ``data_3d_humaneva15.npz`` (``positions_3d``: ``{subject: {take: float32 [F, 15, 3]}}``,
    world metres, z up, 60 fps) and ``data_2d_humaneva15_gt.npz`` (``positions_2d``:
    ``{subject: {take: [C1, C2, C3]}}`` of float32 ``[F, 15, 2]`` pixels, ``metadata`` of the
    ``humaneva15`` layout).  Subjects ``Train/S1…S3`` and ``Validate/S1…S3`` (S1–S3 have the bodies of
    the synthetic Human3.6M S1, S5, S6), takes :data:`SYNTHETIC_HUMANEVA_TAKES`.  The 2D keypoints
    are pinhole projections (focal 760 px, 640×480) through the real HumanEva extrinsics, which
    the loader uses to move the 3D poses into each camera.
    """
    from posegcn.data.humaneva import HUMANEVA_EXTRINSICS, HUMANEVA_FPS, HUMANEVA_RESOLUTION

    if not isinstance(frames_per_take, int | np.integer) or frames_per_take < 1:
        raise ValueError(f"frames_per_take must be a positive integer, got {frames_per_take!r}")
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    bodies = synthetic_skeleton_offsets(seed)
    body = np.stack([bodies[s] for s in ("S1", "S5", "S6")])
    w, h = HUMANEVA_RESOLUTION
    centre = np.array([w / 2, h / 2])
    positions_3d: dict[str, dict[str, np.ndarray]] = {s: {} for s in SYNTHETIC_HUMANEVA_SUBJECTS}
    positions_2d: dict[str, dict[str, list[np.ndarray]]] = {s: {} for s in SYNTHETIC_HUMANEVA_SUBJECTS}
    for split_index, split in enumerate(("Train", "Validate")):
        for take_index, take in enumerate(SYNTHETIC_HUMANEVA_TAKES):
            rng = np.random.default_rng([seed, _STREAM_HUMANEVA, split_index, take_index])
            motion = _HUMANEVA_MOTION[take.split(" ")[0]]
            world = _synthetic_motion(motion, rng, body, frames_per_take, HUMANEVA_FPS, excursion=0.3)
            joints = world[:, :, list(H36M_32_TO_HUMANEVA_15)].astype(np.float32)
            for b in range(3):
                subject = f"{split}/S{b + 1}"
                positions_3d[subject][take] = np.ascontiguousarray(joints[b])
                cams = []
                for q, t in HUMANEVA_EXTRINSICS[f"S{b + 1}"]:
                    x_cam = world_to_camera(
                        joints[b].astype(np.float64), np.asarray(q), np.asarray(t, dtype=np.float64) / 1000
                    )
                    uv = _HUMANEVA_FOCAL_PX * x_cam[..., :2] / x_cam[..., 2:] + centre
                    cams.append(uv.astype(np.float32))
                positions_2d[subject][take] = cams
    metadata = {
        "layout_name": "humaneva15",
        "num_joints": 15,
        "keypoints_symmetry": [[2, 3, 4, 8, 9, 10], [5, 6, 7, 11, 12, 13]],
    }
    _save_npz(root / "data_3d_humaneva15.npz", positions_3d=positions_3d)
    _save_npz(root / "data_2d_humaneva15_gt.npz", positions_2d=positions_2d, metadata=metadata)
    return root


def generate_synthetic_3dhp_test(
    root: str | Path, frames_per_sequence: int = 150, seed: int = 0, invalid_fraction: float = 0.1
) -> Path:
    """Write a synthetic MPI-INF-3DHP test set ``data_test_3dhp.npz`` (P-STMO's layout) into ``root``.

    ``data`` → ``{"TS1"…"TS6": {"data_2d": float32 [F, 17, 2] px, "data_3d": float32 [F, 17, 3]
    camera-frame mm, "valid": uint8 [F]}}`` in the 17-joint 3DHP test order
    (:data:`~posegcn.skeleton.MPI_INF_3DHP_17`); images 2048×2048 (TS1–4) and 1920×1080 (TS5–6)
    seen by a level pinhole camera 4.5 m (studio) or 5.5 m (outdoor) away.  About
    ``invalid_fraction`` of the frames of every sequence, in two blocks, are flagged invalid and
    hold zeros, so a reader that ignores ``valid`` gets visibly wrong poses.
    """
    from posegcn.data.mpi_inf_3dhp import MPI_INF_3DHP_IMAGE_SIZE
    from posegcn.skeleton import MPI_INF_3DHP_TO_H36M_17

    if not isinstance(frames_per_sequence, int | np.integer) or frames_per_sequence < 4:
        raise ValueError(f"frames_per_sequence must be an integer >= 4, got {frames_per_sequence!r}")
    if not 0.0 <= invalid_fraction < 1.0:
        raise ValueError(f"invalid_fraction must lie in [0, 1), got {invalid_fraction!r}")
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    bodies = synthetic_skeleton_offsets(seed)
    # h36m17[i] = mpi17[MPI_INF_3DHP_TO_H36M_17[i]]  ⇒  mpi17 = h36m17[inverse]
    inverse = np.argsort(MPI_INF_3DHP_TO_H36M_17)
    data = {}
    for k, (name, action) in enumerate(SYNTHETIC_3DHP_MOTION.items()):
        rng = np.random.default_rng([seed, _STREAM_3DHP, k])
        body = bodies[SYNTHETIC_SUBJECTS[k % len(SYNTHETIC_SUBJECTS)]][None]
        world = _synthetic_motion(_ACTION_MOTION[action], rng, body, frames_per_sequence, FPS, excursion=0.3)
        h36m17 = world[0][:, list(H36M_32_TO_17)]
        outdoor = name in ("TS5", "TS6")
        distance, height = (5.5, 1.0) if outdoor else (4.5, 1.0)
        # level camera looking along +y: x right, y down, z forward
        x_cam = np.stack([h36m17[..., 0], height - h36m17[..., 2], h36m17[..., 1] + distance], -1)
        w, h = MPI_INF_3DHP_IMAGE_SIZE[name]
        f = _3DHP_FOCAL_PX["outdoor" if outdoor else "studio"]
        uv = f * x_cam[..., :2] / x_cam[..., 2:] + np.array([w / 2, h / 2])
        valid = np.ones(frames_per_sequence, dtype=np.uint8)
        n_bad = int(round(invalid_fraction * frames_per_sequence / 2))
        if n_bad:
            half = frames_per_sequence // 2
            for lo, hi in ((1, half - n_bad), (half, frames_per_sequence - n_bad)):
                start = int(rng.integers(lo, max(lo + 1, hi)))
                valid[start : start + n_bad] = 0
        data_2d = uv[:, inverse].astype(np.float32)
        data_3d = (1000.0 * x_cam[:, inverse]).astype(np.float32)
        data_2d[valid == 0] = 0.0
        data_3d[valid == 0] = 0.0
        data[name] = {"data_2d": data_2d, "data_3d": data_3d, "valid": valid}
    _save_npz(root / "data_test_3dhp.npz", data=data)
    return root


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m posegcn.data.synthetic --root DIR --frames-per-take N --seed S``."""
    parser = argparse.ArgumentParser(
        prog="python -m posegcn.data.synthetic",
        description="Write a synthetic Human3.6M dataset in the VideoPose3D file format.",
    )
    parser.add_argument("--root", required=True, help="output directory")
    parser.add_argument(
        "--frames-per-take", type=int, default=200, help="mocap frames per take (default 200)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sources", nargs="+", default=list(SYNTHETIC_SOURCES), choices=SYNTHETIC_SOURCES)
    parser.add_argument("--force", action="store_true", help="regenerate even if ROOT already matches")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    make = generate_synthetic_h36m if args.force else ensure_synthetic_h36m
    root = make(args.root, frames_per_take=args.frames_per_take, seed=args.seed, sources=args.sources)
    elapsed = time.perf_counter() - start
    n_3d = len(SYNTHETIC_SUBJECTS) * len(SYNTHETIC_TAKES) * args.frames_per_take
    print(
        f"synthetic Human3.6M in {root} ({elapsed:.1f} s; seed {args.seed}, {args.frames_per_take} frames per take)"
    )
    print(
        f"  {len(SYNTHETIC_SUBJECTS)} subjects x {len(SYNTHETIC_TAKES)} takes: {n_3d} mocap frames, {4 * n_3d} 2D poses per source"
    )
    for name in [_FILE_3D] + [f"data_2d_h36m_{s}.npz" for s in args.sources] + [_MANIFEST]:
        size = (root / name).stat().st_size
        print(f"  {name:32s} {size / 2**20:9.1f} MiB")


if __name__ == "__main__":
    main()
