"""Typed fields out of a motion file's arrays, each with a one-line error naming the file, and SMPL pose widths."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from data.formats.containers import ARRAY_KEY
from motion.skeleton import SMPLX_N_JOINTS, SMPLX_POSE_SLICES
from utils.arrays import is_numeric, scalar  # noqa: F401  (re-exported: the formats read fields with them)
from utils.cli import UserError

Arrays = dict[str, np.ndarray]


def bare_array(arrays: Arrays, width: int | tuple[int, ...]) -> bool:
    """True when the file holds one numeric (T, width) array."""
    a = arrays.get(ARRAY_KEY)
    widths = (width,) if isinstance(width, int) else width
    return is_numeric(a) and a.ndim == 2 and a.shape[1] in widths


def shown_keys(arrays: Arrays) -> list[str]:
    """The file's own keys (without the internal alias of a single bare array)."""
    return sorted(k for k in arrays if k != ARRAY_KEY) or [ARRAY_KEY]


def float_array(
    arrays: Arrays, key: str, path: Path, width: int | tuple[int, ...] | None = None, n_frames: int | None = None
) -> np.ndarray:
    """`arrays[key]` as float32 (T, width), with a one-line error naming the file, the key and the shape."""
    if key not in arrays:
        raise UserError(f"{path}: missing key {key!r} (keys: {shown_keys(arrays)})")
    a = arrays[key]
    if not is_numeric(a):
        raise UserError(f"{path}: {key} must be a real-valued numeric array, got {np.asarray(a).dtype}")
    a = a.astype(np.float32)
    if width is not None:
        widths = (width,) if isinstance(width, int) else width
        if a.ndim != 2 or a.shape[1] not in widths:
            want = " or ".join(f"(T, {w})" for w in widths)
            raise UserError(f"{path}: {key} must be {want}, got {a.shape}")
    if n_frames is not None and len(a) != n_frames:
        raise UserError(f"{path}: {key} has {len(a)} frames, poses have {n_frames}")
    return a


def betas(arrays: Arrays, path: Path) -> np.ndarray:
    """Shape coefficients (B,); per-frame (T, B) betas give their first row; zeros (10,) when absent."""
    if "betas" not in arrays:
        return np.zeros(10, np.float32)
    b = float_array(arrays, "betas", path)
    if b.ndim > 2 or (b.ndim == 2 and len(b) == 0):
        raise UserError(f"{path}: betas must be (B,) or (T, B), got {b.shape}")
    return b[0] if b.ndim == 2 else b.reshape(-1)


def smpl_to_smplx_poses(poses: np.ndarray, path: Path) -> np.ndarray:
    """Axis-angle poses of SMPL (T, 72), SMPL-H / our 52 joints (T, 156) or SMPL-X (T, 165) -> SMPL-X (T, 165).

    SMPL's hand joints (22, 23) carry no finger rotations and are dropped (fingers at rest); SMPL-H / 52-joint poses
    get zero jaw and eyes.
    """
    t, width = poses.shape
    s = SMPLX_POSE_SLICES
    out = np.zeros((t, 3 * SMPLX_N_JOINTS), dtype=np.float32)
    if width == 72:
        out[:, : s["body"].stop] = poses[:, : s["body"].stop]
    elif width == 156:
        out[:, : s["body"].stop] = poses[:, : s["body"].stop]
        out[:, s["hands"]] = poses[:, s["body"].stop :]
    elif width == 3 * SMPLX_N_JOINTS:
        out[:] = poses
    else:
        raise UserError(f"{path}: poses must be (T, 72) SMPL, (T, 156) SMPL-H or (T, 165) SMPL-X, got {poses.shape}")
    return out
