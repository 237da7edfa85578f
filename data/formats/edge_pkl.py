"""EDGE-style motion slices: a pickle (or npz) `{"q": axis-angle poses, "pos": root translation}`.

`q` is (T, 72) SMPL (AIST++ slices), (T, 156) SMPL-H / 52 joints or (T, 165) SMPL-X; `pos` is (T, 3), Y-up, in
metres, or in AIST++'s scaled units when the file has a `scale` entry (EDGE's unsliced files: metres = pos / scale).
EDGE slices AIST++ at its native 60 fps, so that is the default rate; a `fps` entry in the file overrides it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from data.formats.fields import Arrays, float_array, scalar, smpl_to_smplx_poses
from data.formats.motion import SMPLXMotion
from data.formats.registry import MotionFormat
from motion.layout import FACE_DIM
from utils.cli import UserError

DEFAULT_FPS = 60


def parse(arrays: Arrays, path: Path) -> SMPLXMotion:
    """EDGE `{q, pos[, scale, fps]}` -> SMPL-X motion (fingers at rest for SMPL poses)."""
    q = float_array(arrays, "q", path, width=(72, 156, 165))
    t = len(q)
    pos = float_array(arrays, "pos", path, width=3, n_frames=t)
    scale = scalar(arrays, "scale", 1.0, path)
    if not np.isfinite(scale) or scale <= 0:
        raise UserError(f"{path}: scale must be a positive number, got {scale}")
    return SMPLXMotion(
        poses=smpl_to_smplx_poses(q, path),
        trans=pos / np.float32(scale),
        betas=np.zeros(10, np.float32),
        expressions=np.zeros((t, FACE_DIM), np.float32),
        fps=scalar(arrays, "fps", DEFAULT_FPS, path),
    )


FORMAT = MotionFormat(
    name="edge_pkl",
    layout="EDGE motion {q (T,72|156|165) axis-angle, pos (T,3)[, scale]}, 60 fps unless an fps entry says otherwise",
    matches=lambda a: "q" in a,
    parse=parse,
)
