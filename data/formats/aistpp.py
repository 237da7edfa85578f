"""AIST++ motion pickles and the SMPL pickles that EDGE-family models write.

AIST++ annotation: `smpl_poses (T, 72)` axis-angle (SMPL, hands at rest), `smpl_trans (T, 3)` in the dataset's
scaled units, `smpl_scaling (1,)`; metres = trans / scaling; 60 fps; Y-up.
Without `smpl_scaling` the file is read as a generated SMPL/SMPL-X pickle (EDGE, FineNet outputs): `smpl_poses`
(T, 72|156|165), `smpl_trans` in metres, 30 fps, Y-up; EDGE's outputs, recognised by their `full_pose` joints, are
Z-up and read as such.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from data.formats.fields import Arrays, float_array, scalar, smpl_to_smplx_poses
from data.formats.motion import SMPLXMotion
from data.formats.registry import MotionFormat
from motion.frame import FPS
from motion.layout import FACE_DIM
from utils.cli import UserError

AISTPP_FPS = 60


def parse(arrays: Arrays, path: Path) -> SMPLXMotion:
    """AIST++ annotation or generated SMPL pickle -> SMPL-X motion (fingers at rest for SMPL poses)."""
    annotation = "smpl_scaling" in arrays
    poses = float_array(arrays, "smpl_poses", path, width=72 if annotation else (72, 156, 165))
    t = len(poses)
    trans = float_array(arrays, "smpl_trans", path, width=3, n_frames=t)
    if annotation:
        scaling = scalar(arrays, "smpl_scaling", 1.0, path)
        if not np.isfinite(scaling) or scaling <= 0:
            raise UserError(f"{path}: smpl_scaling must be a positive number, got {scaling}")
        trans = trans / np.float32(scaling)
    default_fps = AISTPP_FPS if annotation else FPS
    return SMPLXMotion(
        poses=smpl_to_smplx_poses(poses, path),
        trans=trans,
        betas=np.zeros(10, np.float32),
        expressions=np.zeros((t, FACE_DIM), np.float32),
        fps=scalar(arrays, "fps", default_fps, path),
    )


FORMAT = MotionFormat(
    name="aistpp",
    layout="AIST++ pkl {smpl_poses (T,72), smpl_trans (T,3), smpl_scaling (1,)} at 60 fps; without smpl_scaling "
    "a generated {smpl_poses (T,72|156|165), smpl_trans} pickle at 30 fps (Z-up with EDGE's full_pose)",
    matches=lambda a: "smpl_poses" in a,
    parse=parse,
    up_axis=lambda a: "z" if "full_pose" in a and "smpl_scaling" not in a else "y",  # EDGE's outputs are Z-up
)
