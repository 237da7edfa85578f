"""SMPL-X parameter files in the BEAT2 / EMAGE npz layout: reading and writing.

Layout: `poses (T, 165)` axis-angle of the 55 SMPL-X joints, `trans (T, 3)`, `betas (B,)`, `expressions (T, <=100)`
(FLAME-2020 expression coefficients), `mocap_frame_rate` (scalar, 30 when absent); `gender` and `model` strings.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from data.formats.fields import Arrays, betas, float_array, scalar
from data.formats.motion import SMPLXMotion, pad_face
from data.formats.registry import MotionFormat
from motion.frame import FPS
from motion.layout import FACE_DIM
from utils.atomic import save_npz
from utils.cli import UserError

BEAT2_N_BETAS = 300  # BEAT2/EMAGE files carry 300 shape coefficients, and their loaders expect that many


def parse(arrays: Arrays, path: Path) -> SMPLXMotion:
    """BEAT2/EMAGE npz arrays -> SMPL-X motion at the file's `mocap_frame_rate`."""
    poses = float_array(arrays, "poses", path, width=165)
    t = len(poses)
    has_face = "expressions" in arrays
    face = float_array(arrays, "expressions", path, n_frames=t) if has_face else np.zeros((t, FACE_DIM), np.float32)
    try:
        face = pad_face(face, t)
    except ValueError as err:
        raise UserError(f"{path}: {err}") from err
    return SMPLXMotion(
        poses=poses,
        trans=float_array(arrays, "trans", path, width=3, n_frames=t),
        betas=betas(arrays, path),
        expressions=face,
        fps=scalar(arrays, "mocap_frame_rate", FPS, path),
        has_face=has_face,
    )


FORMAT = MotionFormat(
    name="smplx_npz",
    layout="SMPL-X npz (BEAT2/EMAGE): poses (T,165), trans (T,3), optional betas, expressions (T,<=100), "
    "mocap_frame_rate (default 30)",
    matches=lambda a: "poses" in a or "trans" in a,
    parse=parse,
)


def save_smplx_npz(path: str | Path, motion: SMPLXMotion, **extra: np.ndarray) -> Path:
    """Write SMPL-X motion in the BEAT2/EMAGE layout (neutral SMPL-X 2020, 100 expression coefficients, 300 betas:
    fewer are zero-padded, as EMAGE's loaders reshape them to 300); `extra` arrays are stored beside them. Written
    atomically (`utils.atomic`), under exactly `path` (no `.npz` appended)."""
    path = Path(path)
    betas300 = np.zeros(BEAT2_N_BETAS, np.float32)
    n = min(BEAT2_N_BETAS, motion.betas.size)
    betas300[:n] = motion.betas.reshape(-1)[:n]
    save_npz(
        path,
        poses=motion.poses.astype(np.float32),
        trans=motion.trans.astype(np.float32),
        betas=betas300,
        expressions=motion.expressions.astype(np.float32),
        mocap_frame_rate=np.array(round(motion.fps), dtype=np.int32),
        gender=np.array("neutral"),
        model=np.array("smplx2020"),
        **extra,
    )
    return path
