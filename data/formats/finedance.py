"""FineDance motion arrays: (T, 315) = translation 3 + 52 joints x 6-D rotation, 30 fps, Y-up.

The 6-D form is the first two *rows* of each rotation matrix (pytorch3d's `matrix_to_rotation_6d`, as FineDance's
`ax_to_6v` writes it); joints are SMPL-X 0-21 then the 30 finger joints, hand poses relative to flat hands.
FineDance's processed (T, 319) files (4 foot contacts first) are read too.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from data.formats.containers import ARRAY_KEY
from data.formats.fields import Arrays, bare_array, smpl_to_smplx_poses
from data.formats.motion import SMPLXMotion
from data.formats.registry import MotionFormat
from motion.frame import FPS
from motion.layout import FACE_DIM
from motion.rotation import matrix_to_axis_angle, rot6d_rows_to_matrix
from motion.skeleton import N_JOINTS
from utils.cli import UserError

WIDTH, WIDTH_WITH_CONTACTS = 315, 319


def parse(arrays: Arrays, path: Path) -> SMPLXMotion:
    """A FineDance (T, 315) or (T, 319) array -> SMPL-X motion."""
    a = np.asarray(arrays[ARRAY_KEY], dtype=np.float64)
    if a.shape[1] == WIDTH_WITH_CONTACTS:
        a = a[:, 4:]
    t = len(a)
    rot6d = a[:, 3:].reshape(t, N_JOINTS, 6)
    norms = np.linalg.norm(rot6d.reshape(t, N_JOINTS, 2, 3), axis=-1)  # (T, 52, 2)
    if np.isfinite(rot6d).all() and (norms < 1e-6).any():
        raise UserError(f"{path}: degenerate 6-D rotation (a zero row) at frame {np.argwhere(norms < 1e-6)[0, 0]}")
    poses = matrix_to_axis_angle(rot6d_rows_to_matrix(rot6d)).reshape(t, 3 * N_JOINTS).astype(np.float32)
    no_face = np.zeros((t, FACE_DIM), np.float32)
    return SMPLXMotion(
        poses=smpl_to_smplx_poses(poses, path),
        trans=a[:, :3].astype(np.float32),
        betas=np.zeros(10, np.float32),
        expressions=no_face,
        fps=FPS,
    )


FORMAT = MotionFormat(
    name="finedance",
    layout="FineDance array (T,315) = trans 3 + 52 x 6-D rotation (matrix rows), or (T,319) with 4 contacts "
    "first; 30 fps",
    matches=lambda a: bare_array(a, (WIDTH, WIDTH_WITH_CONTACTS)),
    parse=parse,
)
