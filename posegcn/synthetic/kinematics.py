"""Bodies and their kinematics: the 32-marker Human3.6M tree, per-subject bone lengths, joint angles.

Poses come from forward kinematics over :data:`~posegcn.skeleton.H36M_32` with H36M-like bone
lengths (thigh 0.443 m, shin 0.454 m, upper arm 0.279 m, forearm 0.252 m; shoulder anchors coincide
with the thorax, thumbs with the wrists) times a per-subject body scale (0.9–1.1) and per-segment
proportions, so bone lengths are constant within a subject and differ between subjects.  Motion is
described by anatomical joint angles (:mod:`posegcn.synthetic.motions`), softly clamped here to
anatomical ranges and turned into local rotations.
"""

from __future__ import annotations

import numpy as np

from posegcn.skeleton import H36M_32

__all__ = [
    "FPS",
    "SYNTHETIC_ACTIONS",
    "SYNTHETIC_SOURCES",
    "SYNTHETIC_SUBJECTS",
    "SYNTHETIC_TAKES",
    "SYNTHETIC_VERSION",
    "forward_kinematics",
    "synthetic_skeleton_offsets",
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
