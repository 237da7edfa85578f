"""Joints <-> motion features in the HumanML3D / HumanTOMATO convention (623-d for 52 joints, 263-d for 22).

`joints_to_features` follows the reference recipe step by step so its numbers match the reference code's:
retarget to one canonical skeleton (`uniform_skeleton`), put on the floor, move the first root to the XZ origin,
turn the first frame to face +Z, detect foot contacts, IK to the reference skeleton's rotations (6-D), then
concatenate root velocities and height, root-relative heading-canonical joint positions (ric), rotations,
local velocities and contacts. Its quirks are kept on purpose (see `reference/official-souldance-digest.md`):
- the IK unpacks the facing joints as (l_hip, r_hip, r_shoulder, l_shoulder) while the initial facing uses
  (r_hip, l_hip, ...), so the IK's "across" vector is (left hip - right hip) + (right - left shoulder);
- the IK's forward direction is smoothed by a Gaussian of sigma 20 frames (mode 'nearest') for the rotation
  features, and its first frame's root rotation is forced to identity;
- each kinematic chain starts from the root rotation, so rot6d is not a SMPL-X local rotation;
- quaternion steps run in float32, as the reference's numpy wrappers do;
- T joint frames give T-1 feature rows.
`recover_from_ric` / `recover_from_rot` invert the features (numpy or torch, differentiable in torch).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from scipy.ndimage import gaussian_filter1d, uniform_filter1d

from motion.layout import ROOT_LIN_VEL, MotionLayout, layout_for_dim
from motion.rotation import cont6d_to_matrix, qbetween, qinv, qmul, qrot, quat_to_cont6d
from motion.skeleton import (
    FACE_JOINTS,
    LEFT_FOOT_JOINTS,
    LEG_JOINTS,
    RIGHT_FOOT_JOINTS,
    T2M_RAW_OFFSETS,
    default_rest_joints,
    t2m_chain,
    tree_levels,
)

FOOT_CONTACT_THRESHOLD = 0.002  # squared per-frame foot displacement (m^2) under which a foot is in contact
FORWARD_SMOOTH_SIGMA = 20.0  # frames, Gaussian smoothing of the facing direction for the rotation features


def _f32(x: np.ndarray) -> np.ndarray:
    return np.asarray(x, dtype=np.float32)


def _by_chunks(fn, n: int, chunk: int = 2048) -> np.ndarray:
    """Apply a frame-wise function `fn(slice) -> (frames, ...)` over [0, n) in cache-sized chunks."""
    return np.concatenate([fn(slice(i, min(i + chunk, n))) for i in range(0, n, chunk)], axis=0)


def _normalize(v: np.ndarray) -> np.ndarray:
    return v / np.sqrt((v**2).sum(axis=-1))[..., None]


class FeatureSkeleton:
    """The reference skeleton of the features: unit raw offsets and kinematic chains for 22 or 52 joints.

    Args:
        n_joints: 22 or 52.
    """

    def __init__(self, n_joints: int) -> None:
        self.n_joints = n_joints
        self.chains = t2m_chain(n_joints)
        self.raw_offsets = T2M_RAW_OFFSETS[:n_joints]
        self.parents = np.full(n_joints, -1, dtype=np.int64)
        # the rotation each joint's bone is expressed against: the root's for the first bone of every chain
        # (chains from the spine or the wrists restart at the root rotation), else the parent's
        self.chain_parent = np.zeros(n_joints, dtype=np.int64)
        for chain in self.chains:
            self.parents[list(chain[1:])] = chain[:-1]
            self.chain_parent[list(chain[2:])] = chain[1:-1]
        self.levels = tree_levels(self.parents)[1:]  # below the root

    def offsets_from_joints(self, joints: np.ndarray) -> np.ndarray:
        """Offsets of a skeleton given in one pose: raw directions times its bone lengths. (J, 3) -> (J, 3) f32"""
        lengths = np.linalg.norm(_f32(joints) - _f32(joints)[np.maximum(self.parents, 0)], axis=-1)
        lengths[0] = 1.0  # the root's raw offset is zero anyway
        return _f32(self.raw_offsets) * lengths[:, None]

    def root_rotation(self, joints: np.ndarray, smooth_forward: bool = False) -> np.ndarray:
        """Reference root (heading) rotation taking the facing direction to +Z. (T, J, 3) -> (T, 4) float32"""
        l_hip, r_hip, sdr_r, sdr_l = FACE_JOINTS  # (sic) the reference's order here; see the module docstring
        across = _normalize((joints[:, r_hip] - joints[:, l_hip]) + (joints[:, sdr_r] - joints[:, sdr_l]))
        forward = np.cross(np.array([[0, 1, 0]]), across, axis=-1)
        if smooth_forward:
            forward = gaussian_filter1d(forward, FORWARD_SMOOTH_SIGMA, axis=0, mode="nearest")
        root_quat = qbetween(_f32(_normalize(forward)), np.array([0.0, 0.0, 1.0], dtype=np.float32))
        root_quat[0] = (1.0, 0.0, 0.0, 0.0)  # the reference forces the first root rotation to identity
        return root_quat

    def bone_rotations(self, joints: np.ndarray, root_quat: np.ndarray) -> np.ndarray:
        """Reference IK given the root rotation, frame-wise. (T, J, 3), (T, 4) -> quaternions (T, J, 4) float32

        Along a chain the reference accumulates R <- R * R_loc with R_loc = R^-1 * q(raw -> bone), so R is the
        parent bone's shortest-arc rotation; all bones are therefore solved in one vectorised step.
        """
        bones = _normalize(joints[:, 1:] - joints[:, self.parents[1:]])  # (T, J-1, 3)
        arcs = qbetween(_f32(self.raw_offsets[1:]), _f32(bones))  # (T, J-1, 4) raw offset -> bone
        stacked = np.concatenate([root_quat[:, None], arcs], axis=1)  # (T, J, 4): index j = bone ending at j
        local = qmul(qinv(stacked[:, self.chain_parent[1:]]), arcs)
        return np.concatenate([root_quat[:, None], local], axis=1)

    def inverse_kinematics(self, joints: np.ndarray, smooth_forward: bool = False) -> np.ndarray:
        """Reference IK: per-chain rotations from raw offsets to bones. (T, J, 3) -> quaternions (T, J, 4)"""
        root = self.root_rotation(joints, smooth_forward)
        return _by_chunks(lambda sl: self.bone_rotations(joints[sl], root[sl]), len(joints))

    def forward_kinematics(self, quat: np.ndarray, root_pos: np.ndarray, offsets: np.ndarray) -> np.ndarray:
        """Reference FK from the IK's quaternions, level by level. (T, J, 4), (T, 3), (J, 3) -> (T, J, 3)"""
        q = _f32(quat)
        glob = q.copy()  # glob[:, 0] is the root rotation every chain starts from
        joints = np.zeros(quat.shape[:-1] + (3,))
        joints[:, 0] = root_pos
        for level in self.levels:
            glob[:, level] = qmul(glob[:, self.chain_parent[level]], q[:, level])
            bone = qrot(glob[:, level], np.broadcast_to(offsets[level], glob.shape[:1] + (len(level), 3)))
            joints[:, level] = bone + joints[:, self.parents[level]]
        return joints

    def forward_kinematics_cont6d(
        self, cont6d: torch.Tensor, root_pos: torch.Tensor, offsets: torch.Tensor
    ) -> torch.Tensor:
        """FK from 6-D rotations (root included), differentiable. (..., J, 6), (..., 3), (J, 3) -> (..., J, 3)"""
        mats = cont6d_to_matrix(cont6d)  # (..., J, 3, 3)
        pos: list[torch.Tensor | None] = [None] * self.n_joints
        pos[0] = root_pos
        for chain in self.chains:
            rot = mats[..., 0, :, :]
            for parent, child in zip(chain[:-1], chain[1:], strict=False):
                rot = rot @ mats[..., child, :, :]
                pos[child] = (rot @ offsets[child, :, None]).squeeze(-1) + pos[parent]
        return torch.stack(pos, dim=-2)


def target_offsets(target: str | Path, joints: np.ndarray | None = None, n_joints: int = 52) -> np.ndarray:
    """Offsets of the canonical skeleton every sequence is retargeted to. -> (J, 3) float32

    Args:
        target: "default" (the project's default skeleton), "first_frame" (the clip's own skeleton, read from
            `joints[0]`), or a path to a `.npy` of joints (J, 3) or (T, J, 3) whose first frame is used.
        joints: (T, J, 3) the clip, needed for "first_frame".
        n_joints: 22 or 52.
    """
    skel = FeatureSkeleton(n_joints)
    if str(target) == "default":
        return skel.offsets_from_joints(default_rest_joints()[:n_joints])
    if str(target) == "first_frame":
        if joints is None:
            raise ValueError("target 'first_frame' needs the clip's joints")
        return skel.offsets_from_joints(joints[0, :n_joints])
    path = Path(target)
    if not path.is_file():
        raise FileNotFoundError(f"target skeleton '{path}' not found: use 'default', 'first_frame' or a joints .npy")
    ref = np.load(path)
    ref = ref[0] if ref.ndim == 3 else ref
    if ref.ndim != 2 or ref.shape[-1] != 3 or ref.shape[0] < n_joints:
        raise ValueError(f"target skeleton '{path}' must hold joints (J, 3) or (T, J, 3) with J >= {n_joints}")
    return skel.offsets_from_joints(ref[:n_joints])


def uniform_skeleton(positions: np.ndarray, tgt_offsets: np.ndarray) -> np.ndarray:
    """Retarget joints to the target offsets: IK on the clip, FK on the target, root scaled by leg length."""
    skel = FeatureSkeleton(positions.shape[1])
    src = skel.offsets_from_joints(positions[0])
    leg = list(LEG_JOINTS)
    scale = np.abs(tgt_offsets[leg]).max(-1).sum() / np.abs(src[leg]).max(-1).sum()
    root = skel.root_rotation(positions)
    root_pos = positions[:, 0] * scale

    def retarget(sl: slice) -> np.ndarray:
        return skel.forward_kinematics(skel.bone_rotations(positions[sl], root[sl]), root_pos[sl], tgt_offsets)

    return _by_chunks(retarget, len(positions))


@dataclass
class MotionFeatures:
    """Output of `joints_to_features`.

    Args:
        features: (T-1, 12J-1) float32 features (623 for 52 joints, 263 for 22).
        positions: (T, J, 3) the canonical joints the features describe (retargeted, on the floor, first frame at
            the XZ origin facing +Z); `recover_from_ric(features)` returns `positions[:-1]`.
    """

    features: np.ndarray
    positions: np.ndarray


def joints_to_features(
    joints: np.ndarray, tgt_offsets: np.ndarray | None = None, feet_threshold: float = FOOT_CONTACT_THRESHOLD
) -> MotionFeatures:
    """Motion features of a joint sequence (T, J, 3), J = 22 or 52, Y-up metres, T >= 2.

    `tgt_offsets` defaults to the project's default skeleton (`target_offsets("default")`).
    """
    if joints.ndim != 3 or joints.shape[-1] != 3 or len(joints) < 2:
        raise ValueError(f"joints must be (T >= 2, J, 3), got {joints.shape}")
    n = joints.shape[1]
    skel = FeatureSkeleton(n)
    tgt = target_offsets("default", n_joints=n) if tgt_offsets is None else tgt_offsets
    positions = uniform_skeleton(np.asarray(joints), tgt)
    positions[:, :, 1] -= positions.min(axis=0).min(axis=0)[1]  # on the floor
    init = positions[0]
    positions = positions - init[0] * np.array([1, 0, 1])  # first root at the XZ origin
    r_hip, l_hip, sdr_r, sdr_l = FACE_JOINTS
    across = _normalize((init[r_hip] - init[l_hip]) + (init[sdr_r] - init[sdr_l]))
    forward = _normalize(np.cross(np.array([0, 1, 0]), across))
    quat_init = qbetween(_f32(forward[None]), _f32(np.array([[0.0, 0.0, 1.0]])))  # (1, 4)
    positions = qrot(np.broadcast_to(quat_init, positions.shape[:-1] + (4,)), _f32(positions))  # face +Z
    global_positions = positions.copy()

    feet = [
        ((positions[1:, list(f)] - positions[:-1, list(f)]) ** 2).sum(-1) < feet_threshold
        for f in (LEFT_FOOT_JOINTS, RIGHT_FOOT_JOINTS)
    ]

    r_rot = skel.root_rotation(positions, smooth_forward=True)  # (T, 4) heading, a rotation about Y
    root_vel = qrot(r_rot[1:], positions[1:, 0] - positions[:-1, 0])  # (T-1, 3) in the heading frame
    r_vel = qmul(r_rot[1:], qinv(r_rot[:-1]))  # (T-1, 4)

    def pose_block(sl: slice) -> np.ndarray:
        """Frame-wise [ric (J-1)*3 | rot6d (J-1)*6] for frames sl."""
        cont6d = quat_to_cont6d(skel.bone_rotations(positions[sl], r_rot[sl]))  # (t, J, 6)
        local = positions[sl].copy()
        local[..., [0, 2]] -= local[:, 0:1, [0, 2]]
        local = qrot(np.repeat(r_rot[sl, None], n, axis=1), local)  # root-relative, heading-canonical
        return np.concatenate([local[:, 1:].reshape(len(local), -1), cont6d[:, 1:].reshape(len(local), -1)], -1)

    t = len(positions)
    pose = _by_chunks(pose_block, t - 1)  # the last frame has no feature row
    root_y = positions[:-1, 0, 1:2]  # the heading rotation leaves heights unchanged
    root_data = np.concatenate([np.arcsin(r_vel[:, 2:3]), root_vel[:, [0, 2]], root_y], axis=-1)
    local_vel = qrot(np.repeat(r_rot[:-1, None], n, axis=1), global_positions[1:] - global_positions[:-1])
    data = np.concatenate(
        [root_data, pose, local_vel.reshape(t - 1, -1), feet[0].astype(np.float32), feet[1].astype(np.float32)],
        axis=-1,
    )
    return MotionFeatures(features=data.astype(np.float32), positions=global_positions.astype(np.float32))


# ------------------------------------------------------------------------------------------- recovery


def _as_flat_tensor(data: np.ndarray | torch.Tensor) -> tuple[torch.Tensor, MotionLayout, bool]:
    as_numpy = isinstance(data, np.ndarray)
    x = torch.from_numpy(np.ascontiguousarray(data)) if as_numpy else data
    layout = layout_for_dim(x.shape[-1])
    flat, _ = layout.to_flat(x)
    return flat, layout.flat, as_numpy


def recover_root_rot_pos(data: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Heading quaternions (..., T, 4) and root positions (..., T, 3) from flat features (..., T, D)."""
    ang = torch.cumsum(torch.cat([torch.zeros_like(data[..., :1, 0]), data[..., :-1, 0]], dim=-1), dim=-1)
    zero = torch.zeros_like(ang)
    r_rot = torch.stack([torch.cos(ang), zero, torch.sin(ang), zero], dim=-1)
    step = torch.stack([data[..., :-1, 1], torch.zeros_like(data[..., :-1, 1]), data[..., :-1, 2]], dim=-1)
    step = torch.cat([torch.zeros_like(step[..., :1, :]), step], dim=-2)
    r_pos = torch.cumsum(qrot(qinv(r_rot), step), dim=-2)
    r_pos = torch.stack([r_pos[..., 0], data[..., 3], r_pos[..., 2]], dim=-1)
    return r_rot, r_pos


def recover_from_ric(data: np.ndarray | torch.Tensor) -> np.ndarray | torch.Tensor:
    """Joint positions (..., T, J, 3) from features (..., T, 263 | 623 | 723) through the ric block."""
    flat, layout, as_numpy = _as_flat_tensor(data)
    r_rot, r_pos = recover_root_rot_pos(flat)
    ric = flat[..., layout.flat_slices["ric"]].unflatten(-1, (-1, 3))  # (..., T, J-1, 3)
    ric = qrot(qinv(r_rot)[..., None, :], ric)
    ric = ric + torch.stack([r_pos[..., 0], torch.zeros_like(r_pos[..., 0]), r_pos[..., 2]], -1)[..., None, :]
    joints = torch.cat([r_pos[..., None, :], ric], dim=-2)
    return joints.numpy() if as_numpy else joints


def recover_from_rot(data: np.ndarray | torch.Tensor, offsets: np.ndarray | torch.Tensor | None = None):
    """Joint positions (..., T, J, 3) by FK of the rot6d block on the canonical skeleton (HumanML3D convention).

    `offsets` (J, 3) defaults to the default skeleton's (`target_offsets("default")`).
    """
    flat, layout, as_numpy = _as_flat_tensor(data)
    n = layout.n_joints
    off = target_offsets("default", n_joints=n) if offsets is None else offsets
    r_rot, r_pos = recover_root_rot_pos(flat)
    rot6d = flat[..., layout.flat_slices["rot6d"]].unflatten(-1, (n - 1, 6))
    cont6d = torch.cat([quat_to_cont6d(r_rot)[..., None, :], rot6d], dim=-2)  # (..., T, J, 6)
    joints = FeatureSkeleton(n).forward_kinematics_cont6d(cont6d, r_pos, torch.as_tensor(off, dtype=flat.dtype))
    return joints.numpy() if as_numpy else joints


def recentre_root(features: np.ndarray, window: int = 300) -> np.ndarray:
    """Features (T, D) whose root no longer wanders off: the slow drift of the root's ground-plane path (its moving
    average over `window` frames, taken relative to the first frame) is removed from the root velocities, so the
    dance keeps its steps and turns but stays around where it started. Everything else is unchanged."""
    layout = layout_for_dim(features.shape[-1])
    parts = layout.split(features)
    root = np.array(parts["root"], dtype=np.float32)  # (T, 4) [rot vel, x vel, z vel, height], heading frame
    r_rot, r_pos = recover_root_rot_pos(torch.from_numpy(root))
    path = r_pos.numpy()[:, [0, 2]]  # (T, 2) ground-plane root positions
    drift = uniform_filter1d(path, size=min(window, len(path)), axis=0, mode="nearest")
    kept = path - (drift - drift[:1])
    step = np.zeros((len(path), 3), np.float32)
    step[1:, [0, 2]] = np.diff(kept, axis=0)
    local = qrot(r_rot, torch.from_numpy(step)).numpy()  # world step into the previous frame's heading frame
    root[:-1, ROOT_LIN_VEL] = local[1:, [0, 2]]
    parts["root"] = root
    return layout.merge(parts).astype(features.dtype)
