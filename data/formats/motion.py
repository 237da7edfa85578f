"""The containers every motion reader returns, their checks, and conversion to the project's frame and frame rate.

Readers return motion at the source's frame rate; `to_project_frame` brings it to 30 fps (rotations by slerp,
positions linearly; an integer ratio such as 60 -> 30 keeps every other frame exactly) and to Y-up.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from motion.frame import FPS, UP_AXES, Z_TO_Y_UP
from motion.layout import FACE_DIM
from motion.rotation import (
    axis_angle_to_matrix,
    axis_angle_to_quat,
    matrix_to_axis_angle,
    qfix,
    qslerp,
    quat_to_axis_angle,
)
from motion.skeleton import PELVIS_REST, SMPLX_N_JOINTS
from utils.cli import UserError

FPS_RANGE = (1.0, 1000.0)  # source frame rates outside this range are refused as mistakes


@dataclass
class SMPLXMotion:
    """SMPL-X motion.

    Args:
        poses: (T, 165) float32 axis-angle, SMPL-X joint order (jaw, eyes and hands zero where the source has none).
        trans: (T, 3) float32 translation (metres).
        betas: (B,) float32 shape coefficients.
        expressions: (T, 100) float32 FLAME-2020 expression coefficients (zeros where the source has none).
        fps: frames per second (30 once `to_project_frame` has run).
        has_face: whether the source carries face expressions (False: `expressions` are zeros).
    """

    poses: np.ndarray
    trans: np.ndarray
    betas: np.ndarray
    expressions: np.ndarray
    fps: float = FPS
    has_face: bool = False

    def __len__(self) -> int:
        return len(self.poses)


@dataclass
class JointsMotion:
    """Joint positions without rotations.

    Args:
        joints: (T, J, 3) float32, J = 52 (body + fingers) or 22 (body), metres.
        fps: frames per second.
    """

    joints: np.ndarray
    fps: float = FPS

    def __len__(self) -> int:
        return len(self.joints)


def pad_face(expressions: np.ndarray, n_frames: int) -> np.ndarray:
    """(T, E<=100) expressions zero-padded to (T, 100) float32 (Motion-X and FLAME subsets carry 50 or 10)."""
    e = np.asarray(expressions, dtype=np.float32)
    if e.ndim != 2 or len(e) != n_frames or e.shape[1] > FACE_DIM:
        raise ValueError(f"expressions must be ({n_frames}, <={FACE_DIM}), got {e.shape}")
    return np.pad(e, ((0, 0), (0, FACE_DIM - e.shape[1])))


def check_frames(n_frames: int, source: str | Path) -> None:
    """Zero or one frame: a one-line error (features need velocities, so at least 2 frames)."""
    if n_frames == 0:
        raise UserError(f"{source}: has no frames")
    if n_frames < 2:
        raise UserError(f"{source}: needs at least 2 frames, got {n_frames}")


def _check_finite(source: str | Path, **arrays: np.ndarray) -> None:
    for name, a in arrays.items():
        if not np.isfinite(a).all():
            raise UserError(f"{source}: {name} contains NaN or Inf")


def validate_motion(motion: SMPLXMotion | JointsMotion, source: str | Path) -> SMPLXMotion | JointsMotion:
    """Check shapes, finiteness and length; raise `UserError` naming the file otherwise."""
    if isinstance(motion, JointsMotion):
        check_frames(len(motion.joints), source)
        _check_finite(source, joints=motion.joints)
        return motion
    t = len(motion.poses)
    poses_ok = motion.poses.ndim == 2 and motion.poses.shape[1] == 3 * SMPLX_N_JOINTS
    checks = [
        (poses_ok, f"poses must be (T, 165), got {motion.poses.shape}"),
        (motion.trans.shape == (t, 3), f"trans must be ({t}, 3), got {motion.trans.shape}"),
        (motion.expressions.shape == (t, FACE_DIM), f"expressions must be ({t}, 100), got {motion.expressions.shape}"),
    ]
    for ok, msg in checks:
        if not ok:
            raise UserError(f"{source}: {msg}")
    check_frames(t, source)
    _check_finite(source, poses=motion.poses, trans=motion.trans, expressions=motion.expressions, betas=motion.betas)
    return motion


def _sample_points(n_src: int, src_fps: float, dst_fps: float) -> tuple[np.ndarray, np.ndarray]:
    """Source frame index and blend weight of every output frame (frame t at t / fps). -> (T',), (T',)"""
    n_dst = max(1, int(np.floor((n_src - 1) * dst_fps / src_fps + 1e-6)) + 1)
    u = np.arange(n_dst) * (src_fps / dst_fps)  # source frame position
    i0 = np.minimum(np.floor(u + 1e-9).astype(np.int64), n_src - 1)
    w = np.clip(u - i0, 0.0, 1.0)
    w[np.abs(w) < 1e-9] = 0.0
    return i0, w


def _lerp(x: np.ndarray, i0: np.ndarray, w: np.ndarray) -> np.ndarray:
    i1 = np.minimum(i0 + 1, len(x) - 1)
    ww = w.reshape((-1,) + (1,) * (x.ndim - 1))
    return ((1 - ww) * x[i0] + ww * x[i1]).astype(x.dtype)


def resample(motion: SMPLXMotion | JointsMotion, fps: float = FPS) -> SMPLXMotion | JointsMotion:
    """The same motion at `fps`: rotations by slerp, positions and expressions linearly; exact on source frames."""
    if motion.fps == fps:
        return motion
    n = len(motion)
    i0, w = _sample_points(n, motion.fps, fps)
    if isinstance(motion, JointsMotion):
        return JointsMotion(joints=_lerp(motion.joints, i0, w), fps=fps)
    q = qfix(axis_angle_to_quat(motion.poses.reshape(n, -1, 3).astype(np.float64)))  # (T, 55, 4), continuous
    i1 = np.minimum(i0 + 1, n - 1)
    q_out = qslerp(q[i0], q[i1], np.broadcast_to(w[:, None], q[i0].shape[:-1]).copy())
    poses = quat_to_axis_angle(q_out).reshape(len(i0), -1).astype(np.float32)
    return replace(
        motion, poses=poses, trans=_lerp(motion.trans, i0, w), expressions=_lerp(motion.expressions, i0, w), fps=fps
    )


def z_up_to_y_up(motion: SMPLXMotion | JointsMotion) -> SMPLXMotion | JointsMotion:
    """Rotate Z-up motion (EDGE's frame) into the project's Y-up frame.

    Joints are rotated directly. SMPL-X parameters get the rotation on the global orientation and on the pelvis
    position, `trans' = R (pelvis_rest + trans) - pelvis_rest`, with the default skeleton's rest pelvis.
    """
    r = Z_TO_Y_UP
    if isinstance(motion, JointsMotion):
        return JointsMotion(joints=(motion.joints @ r.T).astype(np.float32), fps=motion.fps)
    poses = motion.poses.copy()
    poses[:, :3] = matrix_to_axis_angle(r @ axis_angle_to_matrix(poses[:, :3].astype(np.float64)))
    pelvis = np.asarray(PELVIS_REST)
    trans = (motion.trans + pelvis) @ r.T - pelvis
    return replace(motion, poses=poses.astype(np.float32), trans=trans.astype(np.float32))


def to_project_frame(
    motion: SMPLXMotion | JointsMotion, source: str | Path, up_axis: str = "y", fps: float = FPS
) -> SMPLXMotion | JointsMotion:
    """Validate, turn to Y-up and resample to the project's frame rate."""
    if up_axis not in UP_AXES:
        raise UserError(f"{source}: up axis must be one of {UP_AXES}, got {up_axis!r}")
    if not FPS_RANGE[0] <= motion.fps <= FPS_RANGE[1]:
        raise UserError(f"{source}: frame rate {motion.fps:g} is outside {FPS_RANGE[0]:g}-{FPS_RANGE[1]:g} fps")
    motion = validate_motion(motion, source)
    if up_axis == "z":
        motion = z_up_to_y_up(motion)
    motion = resample(motion, fps)
    check_frames(len(motion), f"{source} (at {fps:g} fps)")
    return motion
