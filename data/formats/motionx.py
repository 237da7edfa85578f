"""Motion-X SMPL-X arrays: one (T, 322) array per file, 30 fps.

Columns: root_orient 0:3, pose_body 3:66, pose_hand 66:156, pose_jaw 156:159, face_expr 159:209 (50 FLAME
expression coefficients, zero-padded to 100 here), face_shape 209:309, trans 309:312, betas 312:322.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from data.formats.containers import ARRAY_KEY
from data.formats.fields import Arrays, bare_array
from data.formats.motion import SMPLXMotion, pad_face
from data.formats.registry import MotionFormat
from motion.frame import FPS
from motion.skeleton import SMPLX_N_JOINTS, SMPLX_POSE_SLICES

WIDTH = 322
ROOT, BODY, HANDS, JAW = slice(0, 3), slice(3, 66), slice(66, 156), slice(156, 159)
FACE_EXPR, TRANS, BETAS = slice(159, 209), slice(309, 312), slice(312, 322)


def parse(arrays: Arrays, _path: Path) -> SMPLXMotion:
    """A (T, 322) Motion-X array -> SMPL-X motion (no eye poses; 50 expressions padded to 100)."""
    a = np.asarray(arrays[ARRAY_KEY], dtype=np.float32)  # (T, 322)
    t = len(a)
    s = SMPLX_POSE_SLICES
    poses = np.zeros((t, 3 * SMPLX_N_JOINTS), dtype=np.float32)
    poses[:, s["root"]], poses[:, s["body"]], poses[:, s["jaw"]] = a[:, ROOT], a[:, BODY], a[:, JAW]
    poses[:, s["hands"]] = a[:, HANDS]
    betas = a[0, BETAS] if t else np.zeros(10, np.float32)
    return SMPLXMotion(
        poses=poses, trans=a[:, TRANS], betas=betas, expressions=pad_face(a[:, FACE_EXPR], t), fps=FPS, has_face=True
    )


FORMAT = MotionFormat(
    name="motionx",
    layout="Motion-X array (T,322): root 3, body 63, hands 90, jaw 3, face_expr 50, face_shape 100, trans 3, "
    "betas 10; 30 fps",
    matches=lambda a: bare_array(a, WIDTH),
    parse=parse,
)
