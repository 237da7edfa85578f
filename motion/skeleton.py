"""The project's 52-joint skeleton: SMPL-X body joints 0-21 plus the 30 finger joints (SMPL-X 25-54).

Y is up, X is the subject's left, Z faces forward; metres. The default rest pose is the project's own, built from
stature-relative segment proportions (Drillis-Contini style body ratios and hand-length ratios for the fingers),
approximate by design: it only fixes the canonical proportions the motion features retarget to and gives forward
kinematics without any licensed body-model file. The zero pose is the SMPL-X T-pose (arms along +-X, palms down,
fingers straight), so SMPL-X axis-angle poses mean the same thing on it.

This module also holds the HumanML3D/HumanTOMATO conventions of the 623-d features (unit raw offsets, kinematic
chains, facing and leg joints): they are data about this joint set, defined once here.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

N_BODY_JOINTS = 22
N_HAND_JOINTS = 30  # 15 per hand
N_JOINTS = N_BODY_JOINTS + N_HAND_JOINTS  # 52

_FINGERS = ("index", "middle", "pinky", "ring", "thumb")  # SMPL-X order within each hand
BODY_JOINT_NAMES = (
    "pelvis",
    "left_hip",
    "right_hip",
    "spine1",
    "left_knee",
    "right_knee",
    "spine2",
    "left_ankle",
    "right_ankle",
    "spine3",
    "left_foot",
    "right_foot",
    "neck",
    "left_collar",
    "right_collar",
    "head",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
)
JOINT_NAMES: tuple[str, ...] = BODY_JOINT_NAMES + tuple(
    f"{side}_{finger}{k}" for side in ("left", "right") for finger in _FINGERS for k in (1, 2, 3)
)
_BODY_PARENTS = (-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19)
WRISTS = (20, 21)  # left, right: each hand's 15 finger joints follow the body joints in this order
PARENTS: np.ndarray = np.array(
    _BODY_PARENTS
    + tuple(
        wrist if k == 0 else N_BODY_JOINTS + 15 * side + 3 * f + k - 1
        for side, wrist in enumerate(WRISTS)
        for f in range(5)
        for k in range(3)
    ),
    dtype=np.int64,
)
# Position of each of our 52 joints in the 55-joint SMPL-X set (jaw 22 and eyes 23, 24 are not used).
SMPLX_JOINT_INDICES: np.ndarray = np.array(list(range(22)) + list(range(25, 55)), dtype=np.int64)
SMPLX_N_JOINTS = 55

JAW_SMPLX_INDEX = 22  # the jaw and eyes are carried in poses (T, 165) but are not skeleton joints here
# Column blocks of SMPL-X axis-angle poses (T, 165): root 1, body 21, jaw 1, eyes 2, hands 2 x 15 joints.
SMPLX_POSE_SLICES = {
    "root": slice(0, 3),
    "body": slice(3, 66),
    "jaw": slice(66, 69),
    "eyes": slice(69, 75),
    "hands": slice(75, 165),
}
LEFT_FOOT_JOINTS = (7, 10)  # ankle, foot (ball): foot-contact joints of the features
RIGHT_FOOT_JOINTS = (8, 11)

# ------------------------------------------------------------------ HumanML3D / HumanTOMATO feature conventions
_L, _R, _U, _D, _F = (1, 0, 0), (-1, 0, 0), (0, 1, 0), (0, -1, 0), (0, 0, 1)
T2M_RAW_OFFSETS: np.ndarray = np.array(
    [(0, 0, 0), _L, _R, _U, _D, _D, _U, _D, _D, _U, _F, _F, _U, _L, _R, _F, _D, _D, _D, _D, _D, _D]
    + [_L] * 15
    + [_R] * 15,
    dtype=np.float64,
)  # (52, 3) unit bone directions of the reference skeleton (fingers along +-X)
T2M_BODY_CHAIN = ((0, 2, 5, 8, 11), (0, 1, 4, 7, 10), (0, 3, 6, 9, 12, 15), (9, 14, 17, 19, 21), (9, 13, 16, 18, 20))
T2M_HAND_CHAIN = (
    (20, 22, 23, 24),
    (20, 34, 35, 36),
    (20, 25, 26, 27),
    (20, 31, 32, 33),
    (20, 28, 29, 30),
    (21, 43, 44, 45),
    (21, 46, 47, 48),
    (21, 40, 41, 42),
    (21, 37, 38, 39),
    (21, 49, 50, 51),
)
FACE_JOINTS = (2, 1, 17, 16)  # r_hip, l_hip, r_shoulder, l_shoulder: facing direction
LEG_JOINTS = (5, 8)  # the two offsets whose lengths define the leg length of uniform_skeleton


def t2m_chain(n_joints: int) -> tuple[tuple[int, ...], ...]:
    """Kinematic chains of the features for 22 (body-only) or 52 joints."""
    if n_joints == N_BODY_JOINTS:
        return T2M_BODY_CHAIN
    if n_joints == N_JOINTS:
        return T2M_BODY_CHAIN + T2M_HAND_CHAIN
    raise ValueError(f"motion features support 22 or 52 joints, got {n_joints}")


# ------------------------------------------------------------------ the default rest pose
DEFAULT_STATURE = 1.65  # metres
PELVIS_REST = (0.0, -0.35, 0.0)  # pelvis in the SMPL-family template frame, so SMPL-X `trans` keeps its meaning
HAND_LENGTH_RATIO = 0.108  # wrist crease to middle fingertip / stature

# Left-side and midline bones as fractions of stature (x = lateral, y = up, z = forward).
_BODY_BONES = {
    "left_hip": (0.050, -0.050, -0.010),
    "left_knee": (0.0, -0.245, 0.0),  # thigh
    "left_ankle": (0.0, -0.246, 0.0),  # shank
    "left_foot": (0.0, -0.027, 0.079),  # ankle to ball of the foot
    "spine1": (0.0, 0.066, -0.010),
    "spine2": (0.0, 0.080, 0.0),
    "spine3": (0.0, 0.036, 0.010),
    "neck": (0.0, 0.100, -0.010),
    "head": (0.0, 0.098, 0.012),
    "left_collar": (0.028, 0.052, 0.0),
    "left_shoulder": (0.074, 0.020, 0.0),
    "left_elbow": (0.172, 0.0, 0.0),  # upper arm, T-pose
    "left_wrist": (0.148, 0.0, 0.0),  # forearm
}
# Fingers as fractions of hand length: wrist -> first joint offset, then the two phalanx lengths, which continue
# along the first offset's horizontal direction (thumb: explicit directions).
_FINGER_BONES = {
    "index": ((0.57, -0.02, 0.11), 0.180, 0.130),
    "middle": ((0.60, -0.02, -0.01), 0.175, 0.135),
    "pinky": ((0.48, -0.04, -0.24), 0.115, 0.110),
    "ring": ((0.55, -0.02, -0.13), 0.165, 0.135),
    "thumb": ((0.22, -0.08, 0.15), 0.170, 0.148),
}
_THUMB_DIRECTIONS = ((0.55, 0.0, 0.83), (0.75, -0.15, 0.65))


def _unit(v: tuple[float, float, float]) -> np.ndarray:
    a = np.asarray(v, dtype=np.float64)
    return a / np.linalg.norm(a)


def _left_offsets(stature: float) -> dict[str, np.ndarray]:
    """Offsets of the midline and left-side joints from their parents (metres)."""
    offsets = {name: stature * np.asarray(v, dtype=np.float64) for name, v in _BODY_BONES.items()}
    hand = HAND_LENGTH_RATIO * stature
    for finger, (first, len2, len3) in _FINGER_BONES.items():
        offsets[f"left_{finger}1"] = hand * np.asarray(first)
        if finger == "thumb":
            d2, d3 = (_unit(d) for d in _THUMB_DIRECTIONS)
        else:
            d2 = d3 = _unit((first[0], 0.0, first[2]))
        offsets[f"left_{finger}2"] = hand * len2 * d2
        offsets[f"left_{finger}3"] = hand * len3 * d3
    return offsets


def tree_levels(parents: np.ndarray) -> tuple[np.ndarray, ...]:
    """Joints grouped by depth in the tree (level 0 = root); parents must come before children."""
    depth = np.zeros(len(parents), dtype=np.int64)
    for j in range(1, len(parents)):
        depth[j] = depth[parents[j]] + 1
    return tuple(np.flatnonzero(depth == d) for d in range(depth.max() + 1))


def rest_from_offsets(offsets: np.ndarray, parents: np.ndarray) -> np.ndarray:
    """Rest joint positions from parent-relative offsets (the root's offset is its position). (J, 3) -> (J, 3)"""
    rest = np.array(offsets, dtype=np.float64)
    for level in tree_levels(np.asarray(parents))[1:]:
        rest[level] += rest[np.asarray(parents)[level]]
    return rest


def default_rest_joints(stature: float = DEFAULT_STATURE) -> np.ndarray:
    """Rest-pose joint positions of the default skeleton, left/right symmetric. -> (52, 3)"""
    left = _left_offsets(stature)
    mirror = np.array([-1.0, 1.0, 1.0])
    joints = np.zeros((N_JOINTS, 3))
    joints[0] = PELVIS_REST
    for j in range(1, N_JOINTS):
        name = JOINT_NAMES[j]
        off = left[name] if name in left else left["left" + name.removeprefix("right")] * mirror
        joints[j] = joints[PARENTS[j]] + off
    return joints


@dataclass(frozen=True)
class Skeleton:
    """A kinematic tree with a rest pose.

    Args:
        rest_joints: (J, 3) joint positions in the rest (zero) pose, metres.
        parents: (J,) parent index of each joint, -1 for the root; parents come before children.
        names: joint names, J of them.
    """

    rest_joints: np.ndarray
    parents: np.ndarray
    names: tuple[str, ...]

    def __post_init__(self) -> None:
        j = len(self.parents)
        if self.rest_joints.shape != (j, 3) or len(self.names) != j:
            raise ValueError(f"skeleton needs rest_joints ({j}, 3) and {j} names, got {self.rest_joints.shape}")
        if self.parents[0] != -1 or any(self.parents[i] >= i for i in range(1, j)):
            raise ValueError("skeleton parents must be topologically ordered with the root first")

    @property
    def n_joints(self) -> int:
        return len(self.parents)

    @cached_property
    def offsets(self) -> np.ndarray:
        """Rest offset of each joint from its parent; the root's is its rest position. -> (J, 3)"""
        off = self.rest_joints - self.rest_joints[np.maximum(self.parents, 0)]
        off[0] = self.rest_joints[0]
        return off

    @cached_property
    def bone_lengths(self) -> np.ndarray:
        """Length of the bone ending at each joint (0 for the root). -> (J,)"""
        lengths = np.linalg.norm(self.offsets, axis=-1)
        lengths[0] = 0.0
        return lengths

    @cached_property
    def children(self) -> tuple[tuple[int, ...], ...]:
        return tuple(tuple(int(c) for c in np.flatnonzero(self.parents == j)) for j in range(self.n_joints))

    def with_bone_lengths(self, lengths: np.ndarray) -> Skeleton:
        """The same rest directions with other bone lengths (J,) (the root's entry is ignored)."""
        direction = self.offsets / np.maximum(self.bone_lengths, 1e-12)[:, None]
        offsets = direction * np.asarray(lengths, dtype=np.float64)[:, None]
        offsets[0] = self.rest_joints[0]
        return Skeleton(rest_joints=rest_from_offsets(offsets, self.parents), parents=self.parents, names=self.names)

    def fitted_to(self, joints: np.ndarray) -> Skeleton:
        """This skeleton with the median bone lengths of a joint sequence (T, J, 3)."""
        lengths = np.median(np.linalg.norm(joints[:, 1:] - joints[:, self.parents[1:]], axis=-1), axis=0)
        return self.with_bone_lengths(np.concatenate([[0.0], lengths]))

    @cached_property
    def depth_levels(self) -> tuple[np.ndarray, ...]:
        """Joints grouped by tree depth (level 0 = root), for level-by-level vectorised kinematics."""
        return tree_levels(self.parents)


def default_skeleton(stature: float = DEFAULT_STATURE) -> Skeleton:
    """The project's default 52-joint skeleton (see the module docstring)."""
    return Skeleton(rest_joints=default_rest_joints(stature), parents=PARENTS, names=JOINT_NAMES)
