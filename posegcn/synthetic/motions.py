"""Motions: smooth anatomical joint-angle trajectories per action, for all subjects of a take at once.

Angles are sums of sinusoids with random frequencies and phases per take, with action-specific
patterns (gait cycles along an elliptic path for the walking actions, hip and knee flexion with the
pelvis lowering for the sitting ones, hand-to-head for eating/phoning/smoking, pointing, waving,
reaching, …), a root that turns about the vertical and moves inside the capture volume.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from posegcn.synthetic.kinematics import (
    _DOFS,
    _FLOOR_CLEARANCE,
    _REST_OFFSETS,
    FPS,
    _euler_angles,
    _euler_yxz,
    forward_kinematics,
)


# =============================================================================== motion
def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)


@dataclass
class Take:
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


def _base_posture(m: Take) -> None:
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
def _directions(m: Take) -> None:
    m.turn(50)
    m.wander(0.4)
    m.gait()
    left, point = m.side(), m.cycle(m.u(3, 6))
    m.add_arm(left, "shoulder_flex", point * m.u(70, 100) + m.noise(10.0), m.noise(15.0))
    m.add_arm(left, "shoulder_abd", point * m.u(0, 30))
    m.add_arm(left, "elbow", -10 * point, 10 + m.noise(15.0))
    m.add("spine_twist", point * np.where(left, 15.0, -15.0))
    m.add("neck_twist", point * np.where(left, 20.0, -20.0))


def _discussion(m: Take) -> None:
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


def _eating(m: Take) -> None:
    m.sit()
    m.turn(10)
    m.add("spine_flex", 10 + m.noise(5.0))
    m.add("neck_flex", 10)
    m.add_both("shoulder_flex", 25.0)  # forearms on the table
    m.add_both("elbow", 60 + m.noise(15.0))
    left, period = m.side(), m.u(3, 6)
    m.hand_to_head(left, m.cycle(period))
    m.hand_to_head(~left, 0.6 * m.cycle(period * m.u(1.3, 2.0)))


def _greeting(m: Take) -> None:
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


def _phoning(m: Take) -> None:
    m.turn(60)
    m.wander(0.5)
    m.gait()
    left = m.side()
    m.hand_to_head(left, np.ones_like(m.t) + m.noise(0.08))
    m.add_arm(left, "shoulder_abd", m.u(15, 30))
    m.add_arm(~left, "shoulder_flex", m.noise(20.0, 0.1, 0.5))
    m.add_arm(~left, "elbow", 20 + m.noise(25.0, 0.1, 0.6))
    m.add("neck_side", np.where(left, 10.0, -10.0))


def _photo(m: Take) -> None:
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


def _posing(m: Take) -> None:
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


def _purchases(m: Take) -> None:
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


def _sitting(m: Take) -> None:
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


def _sitting_down(m: Take) -> None:
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


def _smoking(m: Take) -> None:
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


def _waiting(m: Take) -> None:
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


def _walking(m: Take, speed: tuple[float, float] = (1.1, 1.4), arm_swing: float = 18.0) -> None:
    m.ellipse_path(m.u(*speed) * m.scale[:, None] * (1 + m.noise(0.1, 0.05, 0.2)))
    m.gait(arm_swing)


def _walk_dog(m: Take) -> None:
    m.ellipse_path(m.u(0.6, 1.0) * m.scale[:, None] * (1 + m.noise(0.4, 0.05, 0.3)))
    m.gait(8.0)
    left = m.side()  # one hand holds the leash
    m.add_arm(left, "shoulder_flex", m.u(30, 50) + m.noise(10.0, 0.2, 0.8))
    m.add_arm(left, "elbow", -10.0)
    m.add("spine_flex", m.u(8, 15))
    m.add("neck_flex", 15 + m.noise(10.0))


def _walk_together(m: Take) -> None:
    _walking(m, speed=(0.9, 1.2), arm_swing=8.0)
    left = m.side()  # looking at the companion
    m.add("neck_twist", np.where(left, 1.0, -1.0) * (m.u(15, 30) + m.noise(15.0, 0.05, 0.3)))
    m.add_arm(left, "elbow", 20.0)


_ACTION_MOTION: dict[str, Callable[[Take], None]] = {
    "Directions": _directions, "Discussion": _discussion, "Eating": _eating, "Greeting": _greeting,
    "Phoning": _phoning, "Photo": _photo, "Posing": _posing, "Purchases": _purchases,
    "Sitting": _sitting, "SittingDown": _sitting_down, "Smoking": _smoking, "Waiting": _waiting,
    "WalkDog": _walk_dog, "Walking": _walking, "WalkTogether": _walk_together,
}  # fmt: skip


def _jog(m: Take) -> None:
    _walking(m, speed=(2.2, 2.8), arm_swing=35.0)
    m.add_both("elbow", 60.0)  # jogging arms are bent


def _box(m: Take) -> None:
    m.turn(20)
    m.wander(0.2)
    m.add_both("knee", 15.0)
    m.add_both("hip_flex", 10.0)
    for side in ("L_", "R_"):  # guard up, alternating punches
        punch = m.cycle(m.u(0.6, 1.2), plateau=False)
        m.add(side + "shoulder_flex", 60 + 30 * punch)
        m.add(side + "shoulder_abd", 15.0)
        m.add(side + "elbow", 120 - 100 * punch)


_HUMANEVA_MOTION: dict[str, Callable[[Take], None]] = {"Walking": _walking, "Jog": _jog, "Box": _box}


def animate(
    motion: Callable[[Take], None], rng: np.random.Generator, offsets: np.ndarray, n_frames: int, fps: int
) -> tuple[np.ndarray, Take]:
    """One take for the bodies ``offsets [B, 32, 3]``: positions ``[B, n_frames, 32, 3]`` about the origin
    with the feet (or the pelvis, sitting on the floor) on the ground, and the :class:`Take` (its root path)."""
    scale = np.linalg.norm(offsets[:, 2], axis=-1) / np.linalg.norm(_REST_OFFSETS[2])
    m = Take(t=np.arange(n_frames) / fps, rng=rng, scale=scale)
    _base_posture(m)
    motion(m)
    root_rotation, euler = _euler_angles(m.dofs, m.yaw)
    local = forward_kinematics(offsets, root_rotation, np.zeros(m.yaw.shape + (3,)), _euler_yxz(euler))
    local[..., 2] -= local[..., 2].min(axis=-1, keepdims=True) - _FLOOR_CLEARANCE
    return local, m


def _synthetic_motion(
    motion: Callable[[Take], None], rng: np.random.Generator, offsets: np.ndarray, n_frames: int, fps: int,
    excursion: float,
) -> np.ndarray:  # fmt: skip
    """World positions ``[B, n_frames, 32, 3]`` of one take: :func:`animate` with the horizontal path
    shrunk by ``excursion`` about the origin (a smaller capture volume than Human3.6M's)."""
    world, m = animate(motion, rng, offsets, n_frames, fps)
    path = m.offset - m.offset.mean(axis=1, keepdims=True)
    world[..., :2] += excursion * path[:, :, None, :]
    return world
