"""SMPL-X parameter files in the BEAT2 / EMAGE npz layout, and the container every SMPL-X reader returns.

Layout: `poses (T, 165)` axis-angle of the 55 SMPL-X joints, `trans (T, 3)`, `betas (B,)`, `expressions (T, 100)`
(FLAME-2020 expression coefficients; zeros when absent), `mocap_frame_rate` (scalar).
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from data.layout import FACE_DIM
from utils.cli import UserError
from utils.skeleton import SMPLX_N_JOINTS

FPS = 30  # frame rate inside the project


@dataclass
class SMPLXMotion:
    """SMPL-X motion at 30 fps.

    Args:
        poses: (T, 165) float32 axis-angle, SMPL-X joint order.
        trans: (T, 3) float32 translation (metres).
        betas: (B,) float32 shape coefficients.
        expressions: (T, 100) float32 FLAME-2020 expression coefficients (zeros where the source has none).
        fps: frames per second (always 30 after loading).
    """

    poses: np.ndarray
    trans: np.ndarray
    betas: np.ndarray
    expressions: np.ndarray
    fps: float = FPS

    def __len__(self) -> int:
        return len(self.poses)


def validate_motion(motion: SMPLXMotion, source: str | Path) -> SMPLXMotion:
    """Check shapes, finiteness and length; raise `UserError` naming the file otherwise."""
    t = len(motion.poses)
    poses_ok = motion.poses.ndim == 2 and motion.poses.shape[1] == 3 * SMPLX_N_JOINTS
    checks = [
        (poses_ok, f"poses must be (T, 165), got {motion.poses.shape}"),
        (motion.trans.shape == (t, 3), f"trans must be ({t}, 3), got {motion.trans.shape}"),
        (motion.expressions.shape == (t, FACE_DIM), f"expressions must be ({t}, 100), got {motion.expressions.shape}"),
        (t >= 2, f"needs at least 2 frames, got {t}"),
    ]
    for ok, msg in checks:
        if not ok:
            raise UserError(f"{source}: {msg}")
    for name in ("poses", "trans", "expressions"):
        if not np.isfinite(getattr(motion, name)).all():
            raise UserError(f"{source}: {name} contains NaN or Inf")
    return motion


def load_smplx_npz(path: str | Path) -> SMPLXMotion:
    """Read a BEAT2/EMAGE-style SMPL-X npz at 30 fps (other rates: a one-line error)."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as f:
            data = {k: f[k] for k in f.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as err:
        raise UserError(f"{path}: not a readable npz file ({err})") from err
    missing = [k for k in ("poses", "trans") if k not in data]
    if missing:
        raise UserError(f"{path}: missing keys {missing}; an SMPL-X npz needs poses (T, 165) and trans (T, 3)")
    poses = np.asarray(data["poses"], dtype=np.float32)
    t = len(poses)
    fps = float(data.get("mocap_frame_rate", FPS))
    if fps != FPS:
        raise UserError(f"{path}: mocap_frame_rate is {fps:g}; this reader takes 30 fps files")
    expressions = np.asarray(data.get("expressions", np.zeros((t, FACE_DIM))), dtype=np.float32)
    if expressions.ndim == 2 and expressions.shape[1] < FACE_DIM:  # e.g. Motion-X's 50: zero-padded to 100
        expressions = np.pad(expressions, ((0, 0), (0, FACE_DIM - expressions.shape[1])))
    motion = SMPLXMotion(
        poses=poses,
        trans=np.asarray(data["trans"], dtype=np.float32),
        betas=np.asarray(data.get("betas", np.zeros(10)), dtype=np.float32).reshape(-1),
        expressions=expressions,
    )
    return validate_motion(motion, path)
