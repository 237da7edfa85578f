"""Forward and inverse kinematics on a `Skeleton`, vectorised over frames and done level by level over the tree.

FK takes local rotations (SMPL-X semantics: each joint's rotation is relative to its parent, the zero pose is the
rest pose) and a root position. IK recovers such local rotations from joint positions: joints with several
children get the best rigid fit of their child bones (Kabsch), joints with one child the minimal swing from where
the parent carries the rest bone, leaves keep their parent's orientation. FK(IK(joints)) reproduces joints exactly
when they come from the same skeleton, and matches bone directions otherwise.
"""

from __future__ import annotations

import numpy as np
import torch

from motion.rotation import axis_angle_to_matrix, matrix_to_axis_angle, rotation_fit, swing_rotation
from motion.skeleton import N_JOINTS, SMPLX_JOINT_INDICES, SMPLX_N_JOINTS, Skeleton, default_skeleton


def forward_kinematics(
    local_rot: torch.Tensor | np.ndarray,
    root_pos: torch.Tensor | np.ndarray,
    skeleton: Skeleton,
    offsets: torch.Tensor | np.ndarray | None = None,
) -> tuple[torch.Tensor | np.ndarray, torch.Tensor | np.ndarray]:
    """Joint positions and global rotations from local rotations.

    Args:
        local_rot: (..., J, 3, 3) rotation of each joint relative to its parent (root: global).
        root_pos: (..., 3) world position of the root joint.
        skeleton: the tree and rest pose.
        offsets: (..., J, 3) joint offsets from their parents when they change per frame (BVH position channels);
            default: the skeleton's rest offsets.
    Returns:
        joints (..., J, 3) and global rotations (..., J, 3, 3), numpy if the inputs were numpy.
    """
    as_numpy = isinstance(local_rot, np.ndarray)
    rot = torch.as_tensor(local_rot)
    pos0 = torch.as_tensor(root_pos, dtype=rot.dtype)
    offsets = torch.as_tensor(skeleton.offsets if offsets is None else offsets, dtype=rot.dtype)  # (..., J, 3)
    parents = torch.as_tensor(skeleton.parents)
    glob: list[torch.Tensor | None] = [None] * skeleton.n_joints
    pos: list[torch.Tensor | None] = [None] * skeleton.n_joints
    glob[0], pos[0] = rot[..., 0, :, :], pos0
    for level in skeleton.depth_levels[1:]:
        idx = torch.as_tensor(level)
        par = parents[idx]
        g_par = torch.stack([glob[p] for p in par.tolist()], dim=-3)  # (..., L, 3, 3)
        x_par = torch.stack([pos[p] for p in par.tolist()], dim=-2)  # (..., L, 3)
        g = g_par @ rot[..., idx, :, :]
        x = x_par + (g_par @ offsets[..., idx, :, None]).squeeze(-1)
        for k, j in enumerate(level.tolist()):
            glob[j], pos[j] = g[..., k, :, :], x[..., k, :]
    joints, globals_ = torch.stack(pos, dim=-2), torch.stack(glob, dim=-3)
    return (joints.numpy(), globals_.numpy()) if as_numpy else (joints, globals_)


def split_smplx_poses(poses: np.ndarray) -> np.ndarray:
    """SMPL-X axis-angle poses in any common layout -> our 52 joints' rotation vectors (..., 52, 3).

    Accepts (..., 165) / (..., 55, 3) (full SMPL-X with jaw and eyes), (..., 156) / (..., 52, 3) (ours).
    """
    p = np.asarray(poses)
    if p.shape[-1] in (3 * SMPLX_N_JOINTS, 3 * N_JOINTS):
        p = p.reshape(p.shape[:-1] + (-1, 3))
    if p.ndim < 2 or p.shape[-1] != 3 or p.shape[-2] not in (SMPLX_N_JOINTS, N_JOINTS):
        raise ValueError(f"poses must be (..., 165), (..., 55, 3), (..., 156) or (..., 52, 3); got {p.shape}")
    return p[..., SMPLX_JOINT_INDICES, :] if p.shape[-2] == SMPLX_N_JOINTS else p


def fk_axis_angle(poses: np.ndarray, trans: np.ndarray, skeleton: Skeleton | None = None) -> np.ndarray:
    """Joints from SMPL-X axis-angle poses on our skeleton (no model file needed).

    Args:
        poses: (T, 165) or another layout accepted by `split_smplx_poses`.
        trans: (T, 3) SMPL-X translation; the pelvis lands at `rest pelvis + trans`, as in SMPL-X with zero betas.
        skeleton: defaults to the project's default skeleton.
    Returns:
        (T, 52, 3) joint positions, float32.
    """
    skeleton = skeleton or default_skeleton()
    rotvec = split_smplx_poses(poses).astype(np.float64)
    root = skeleton.rest_joints[0] + np.asarray(trans, dtype=np.float64)
    joints, _ = forward_kinematics(axis_angle_to_matrix(rotvec), root, skeleton)
    return joints.astype(np.float32)


def inverse_kinematics(joints: np.ndarray, skeleton: Skeleton | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Local rotations (SMPL-X semantics) that pose `skeleton` like the given joints.

    Args:
        joints: (..., J, 3) positions.
        skeleton: rest pose to pose; defaults to the project's default skeleton.
    Returns:
        local rotations (..., J, 3, 3) and the SMPL-X-style translation (..., 3) (root minus rest root).
    """
    skeleton = skeleton or default_skeleton()
    x = torch.as_tensor(np.asarray(joints, dtype=np.float64))
    rest = torch.as_tensor(skeleton.rest_joints)
    n = skeleton.n_joints
    eye = torch.eye(3, dtype=x.dtype).expand(x.shape[:-2] + (3, 3))
    glob: list[torch.Tensor] = [eye] * n
    for level in skeleton.depth_levels:
        for j in level.tolist():
            g_par = eye if j == 0 else glob[skeleton.parents[j]]
            kids = list(skeleton.children[j])
            if not kids:
                glob[j] = g_par
                continue
            src = rest[kids] - rest[j]  # (K, 3) rest bone vectors
            dst = x[..., kids, :] - x[..., j : j + 1, :]  # (..., K, 3)
            src = src / torch.linalg.norm(src, dim=-1, keepdim=True)
            dst = dst / torch.linalg.norm(dst, dim=-1, keepdim=True).clamp_min(1e-9)
            if len(kids) > 1:
                glob[j] = rotation_fit(src.expand(dst.shape), dst)
            else:
                carried = (g_par @ src[0, :, None]).squeeze(-1)  # where the parent alone puts the bone
                glob[j] = swing_rotation(carried, dst[..., 0, :]) @ g_par
    g = torch.stack(glob, dim=-3)  # (..., J, 3, 3)
    parents = torch.as_tensor(np.maximum(skeleton.parents, 0))
    local = g[..., parents, :, :].transpose(-1, -2) @ g
    local[..., 0, :, :] = g[..., 0, :, :]
    trans = x[..., 0, :] - rest[0]
    return local.numpy(), trans.numpy()


def smplx_poses(local: np.ndarray) -> np.ndarray:
    """SMPL-X `poses (..., 165)` axis-angle (jaw and eyes zero) of the 52 joints' local rotations (..., 52, 3, 3)."""
    rotvec = matrix_to_axis_angle(local)  # (..., 52, 3)
    poses = np.zeros(rotvec.shape[:-2] + (SMPLX_N_JOINTS, 3), dtype=np.float32)
    poses[..., SMPLX_JOINT_INDICES, :] = rotvec
    return poses.reshape(poses.shape[:-2] + (-1,))


def ik_axis_angle(joints: np.ndarray, skeleton: Skeleton | None = None) -> tuple[np.ndarray, np.ndarray]:
    """`inverse_kinematics` as SMPL-X `poses (T, 165)` (jaw and eyes zero) and `trans (T, 3)`."""
    local, trans = inverse_kinematics(joints, skeleton)
    return smplx_poses(local), trans.astype(np.float32)
