"""Is a long generated dance one continuous dance? Joint speed at the window borders against inside the windows,
its level against the training data's, its slowest stretch, and how far the root drifts.

Long-form generation (`models.mask_transformer.longform`) joins windows in token space; a seam would show as a
speed jump at the frames where a window's fresh tokens begin. `continuity_report` compares the per-frame mean joint
speed (m/s, all joints) within `border` frames of those places with the frames elsewhere.
"""

from __future__ import annotations

import numpy as np

from motion.features import recover_from_ric
from motion.frame import FPS


def joint_speed(joints: np.ndarray, fps: float = FPS) -> np.ndarray:
    """Mean joint speed per frame step (m/s). (T, J, 3) -> (T-1,)"""
    return np.linalg.norm(np.diff(joints, axis=0), axis=-1).mean(-1) * fps


def mean_speed(features: list[np.ndarray], fps: float = FPS) -> float:
    """Mean joint speed (m/s) over dances given as motion features (T, D) (e.g. a training split's)."""
    return float(np.mean([joint_speed(recover_from_ric(f.astype(np.float64)), fps) for f in features]))


def border_frames(starts: list[int], width: int, downsampling: int = 4) -> np.ndarray:
    """Frames where windows of `width` token times starting at `starts` meet: each later window's first frame and
    the first frame of its fresh tokens (the end of the window before it)."""
    if len(starts) < 2:
        return np.zeros(0, dtype=np.int64)
    s = np.asarray(starts)
    return np.unique(np.concatenate([s[1:], s[:-1] + width])) * downsampling


def continuity_report(
    joints: np.ndarray,
    borders: np.ndarray,
    reference_speed: float,
    border: int = 3,
    stretch_s: float = 5.0,
    fps: float = FPS,
) -> dict[str, float]:
    """Speed statistics of a dance (T, J, 3) whose windows meet at frames `borders`.

    Returns: speed_border_mean, speed_inside_mean, speed_inside_p5 / p95 / p99 (per-frame speeds away from
    borders), speed_border_p95, mean_speed_ratio (mean speed / `reference_speed`, the training data's),
    min_stretch_ratio (slowest `stretch_s` moving average / reference), root_drift_m (first to last root on the
    ground), root_max_m (farthest the root gets from its start on the ground), frames.
    """
    speed = joint_speed(joints, fps)  # (T-1,)
    near = np.zeros(len(speed), dtype=bool)
    for b in borders:
        near[max(0, b - border) : b + border] = True
    inside = speed[~near]
    n = min(len(speed), round(stretch_s * fps))
    stretch = np.convolve(speed, np.ones(n) / n, mode="valid")
    ground = joints[:, 0, [0, 2]] - joints[:1, 0, [0, 2]]
    out = {
        "frames": int(len(joints)),
        "speed_inside_mean": float(inside.mean()),
        "speed_inside_p5": float(np.percentile(inside, 5)),
        "speed_inside_p95": float(np.percentile(inside, 95)),
        "speed_inside_p99": float(np.percentile(inside, 99)),
        "mean_speed_ratio": float(speed.mean() / reference_speed),
        "min_stretch_ratio": float(stretch.min() / reference_speed),
        "root_drift_m": float(np.linalg.norm(ground[-1])),
        "root_max_m": float(np.linalg.norm(ground, axis=-1).max()),
    }
    if near.any():
        out["speed_border_mean"] = float(speed[near].mean())
        out["speed_border_p95"] = float(np.percentile(speed[near], 95))
    return out
