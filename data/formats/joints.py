"""Joint-position files: the project's joints `.npy` and EDGE's joint CSVs.

- `joints`: (T, 52, 3) or (T, 22, 3) (also flattened to (T, 156) / (T, 66)), Y-up metres, 30 fps.
- `edge_csv`: EDGE's evaluation CSVs, (T, 72) = 24 SMPL joints x (x, y, z), Z-up metres, 30 fps; the 22 body
  joints are kept (SMPL's hand joints 22-23 are not finger joints).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from data.formats.containers import ARRAY_KEY
from data.formats.fields import Arrays, bare_array, is_numeric
from data.formats.motion import JointsMotion
from data.formats.registry import MotionFormat
from motion.frame import FPS
from motion.skeleton import N_BODY_JOINTS, N_JOINTS

SMPL_N_JOINTS = 24


def _joint_array(arrays: Arrays) -> np.ndarray | None:
    """The (T, J, 3) array of a joints file, J in (52, 22), or None."""
    a = arrays.get(ARRAY_KEY)
    if not is_numeric(a):
        return None
    if a.ndim == 2 and a.shape[1] in (3 * N_JOINTS, 3 * N_BODY_JOINTS):
        a = a.reshape(len(a), -1, 3)
    return a if a.ndim == 3 and a.shape[1:] in ((N_JOINTS, 3), (N_BODY_JOINTS, 3)) else None


def parse_joints(arrays: Arrays, _path: Path) -> JointsMotion:
    """A joints array -> joint motion at 30 fps."""
    return JointsMotion(joints=_joint_array(arrays).astype(np.float32), fps=FPS)


def parse_edge_csv(arrays: Arrays, _path: Path) -> JointsMotion:
    """EDGE's (T, 72) joint CSV -> the 22 body joints at 30 fps (still Z-up)."""
    a = np.asarray(arrays[ARRAY_KEY], dtype=np.float32)
    return JointsMotion(joints=a.reshape(len(a), SMPL_N_JOINTS, 3)[:, :N_BODY_JOINTS], fps=FPS)


FORMAT = MotionFormat(
    name="joints",
    layout="joints array (T,52,3) or (T,22,3) (or flattened (T,156)/(T,66)), Y-up metres, 30 fps",
    matches=lambda a: _joint_array(a) is not None,
    parse=parse_joints,
)

EDGE_CSV_FORMAT = MotionFormat(
    name="edge_csv",
    layout="EDGE joint CSV (T,72) = 24 SMPL joints x xyz, Z-up metres, 30 fps (22 body joints kept)",
    matches=lambda a: bare_array(a, 3 * SMPL_N_JOINTS),
    parse=parse_edge_csv,
    up_axis="z",
    suffixes=(".csv",),
)
