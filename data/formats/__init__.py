"""Readers of motion file formats; each returns 30 fps motion in one of the project's containers."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from data.formats.smplx_npz import SMPLXMotion, load_smplx_npz
from utils.cli import UserError
from utils.kinematics import fk_axis_angle
from utils.skeleton import N_BODY_JOINTS, N_JOINTS

JOINT_FILE_SUFFIXES = (".npy",)
SMPLX_FILE_SUFFIXES = (".npz",)


def motion_to_joints(motion: SMPLXMotion, smplx_model_path: str | Path | None = None) -> np.ndarray:
    """(T, 52, 3) joints of SMPL-X motion: exact through `smplx` when a model path is given, else our own FK."""
    if smplx_model_path:
        from utils.smplx_model import smplx_joints

        return smplx_joints(motion.poses, motion.trans, smplx_model_path, motion.betas, motion.expressions)
    return fk_axis_angle(motion.poses, motion.trans)


def read_joints(path: str | Path, smplx_model_path: str | Path | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """Joints (T, J, 3) (J = 52, or 22 body-only) and face expressions (T, 100) or None, from a motion file.

    `.npz`: SMPL-X parameters (BEAT2/EMAGE layout); `.npy`: joint positions (T, J, 3) or (T, 3J), Y-up metres.
    """
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: motion file not found")
    if path.suffix in SMPLX_FILE_SUFFIXES:
        motion = load_smplx_npz(path)
        return motion_to_joints(motion, smplx_model_path), motion.expressions
    if path.suffix not in JOINT_FILE_SUFFIXES:
        raise UserError(f"{path}: unknown motion format; expected {SMPLX_FILE_SUFFIXES + JOINT_FILE_SUFFIXES}")
    try:
        joints = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as err:
        raise UserError(f"{path}: not a readable .npy file ({err})") from err
    if joints.ndim == 2 and joints.shape[1] in (3 * N_JOINTS, 3 * N_BODY_JOINTS):
        joints = joints.reshape(len(joints), -1, 3)
    if joints.ndim != 3 or joints.shape[1:] not in ((N_JOINTS, 3), (N_BODY_JOINTS, 3)):
        raise UserError(f"{path}: joints must be (T, 52, 3) or (T, 22, 3), got {joints.shape}")
    if len(joints) < 2 or not np.isfinite(joints).all():
        raise UserError(f"{path}: joints need at least 2 frames and finite values")
    return joints.astype(np.float32), None
