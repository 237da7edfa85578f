"""EDGE-style motion slices: a pickle (or npz) `{"q": axis-angle poses, "pos": root translation}`.

`q` is (T, 72) SMPL (AIST++ slices), (T, 156) SMPL-H / 52 joints or (T, 165) SMPL-X; `pos` is (T, 3) metres, Y-up.
EDGE slices AIST++ at its native 60 fps, so that is the default rate; a `fps` entry in the file overrides it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from data.formats.motion import SMPLXMotion
from data.formats.registry import Arrays, MotionFormat, float_array, scalar, smpl_to_smplx_poses

DEFAULT_FPS = 60


def parse(arrays: Arrays, path: Path) -> SMPLXMotion:
    q = float_array(arrays, "q", path, width=(72, 156, 165))
    t = len(q)
    return SMPLXMotion(
        poses=smpl_to_smplx_poses(q, path),
        trans=float_array(arrays, "pos", path, width=3, n_frames=t),
        betas=np.zeros(10, np.float32),
        expressions=np.zeros((t, 100), np.float32),
        fps=scalar(arrays, "fps", DEFAULT_FPS, path),
    )


FORMAT = MotionFormat(
    name="edge_pkl",
    layout="EDGE slice {q (T,72|156|165) axis-angle, pos (T,3)}, 60 fps unless an fps entry says otherwise",
    matches=lambda a: "q" in a,
    parse=parse,
)
