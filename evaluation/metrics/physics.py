"""Physical plausibility: EDGE's Physical Foot Contact score (PFC) and LODGE's foot-skating ratio, vectorised.

Both follow their reference code (EDGE `eval/eval_pfc.py`, LODGE `metric/foot_skating.py`), transcribed in the tests.

`pfc_sequence` is the per-sequence term of EDGE's `calc_physical_score` (root acceleration with its upward part
clamped at 0, normalised by the sequence maximum, times the slower horizontal speed of each foot's ankle/toe pair,
averaged over frames); `pfc` averages sequences and multiplies by 10,000 as EDGE reports it. EDGE's code assumes
Z-up joints at 30 fps; `up_axis` and `fps` are explicit here. A still root (maximum acceleration 0) gives 0/0 in
EDGE's code; here it gives 0 and a still pose scores 0.
"""

from __future__ import annotations

import numpy as np

from evaluation.metrics.kinetic import UP_AXES

FOOT_JOINTS = (7, 10, 8, 11)  # left ankle, left toe, right ankle, right toe (SMPL order)
PFC_SCALE = 10000.0
FSR_SPEED_THRESHOLD = 0.01  # metres per frame at 30 fps (LODGE)
FSR_REFERENCE_FPS = 30.0


def pfc_sequence(joints: np.ndarray, fps: float = 30.0, up_axis: str = "z") -> float:
    """EDGE's per-sequence foot-contact term of (T, J, 3) SMPL-ordered joints (T >= 3)."""
    up = UP_AXES[up_axis]
    flat = [a for a in range(3) if a != up]
    dt = 1.0 / fps
    root_v = (joints[1:, 0] - joints[:-1, 0]) / dt  # (T-1, 3)
    root_a = (root_v[1:] - root_v[:-1]) / dt  # (T-2, 3)
    root_a[:, up] = np.maximum(root_a[:, up], 0)
    root_a = np.linalg.norm(root_a, axis=-1)  # (T-2,)
    scale = root_a.max()
    if scale == 0:
        return 0.0
    root_a = root_a / scale
    feet = joints[:, list(FOOT_JOINTS)]  # (T, 4, 3)
    foot_v = np.linalg.norm(feet[2:][..., flat] - feet[1:-1][..., flat], axis=-1)  # (T-2, 4), per frame
    left, right = np.minimum(foot_v[:, 0], foot_v[:, 1]), np.minimum(foot_v[:, 2], foot_v[:, 3])
    return float((left * right * root_a).mean())


def pfc(sequences: list[np.ndarray], fps: float = 30.0, up_axis: str = "z") -> float:
    """EDGE's PFC of a set of sequences: mean per-sequence term x 10,000 (lower is better)."""
    return float(np.mean([pfc_sequence(s, fps, up_axis) for s in sequences]) * PFC_SCALE)


def foot_skating_ratio(
    joints: np.ndarray,
    up_axis: str = "y",
    ankle_height: float = 0.08,
    toe_height: float = 0.05,
    speed_threshold: float = FSR_SPEED_THRESHOLD,
    fps: float = FSR_REFERENCE_FPS,
) -> tuple[float, float]:
    """LODGE's `calc_foot_skating_ratio` on SMPL-ordered joints (T, J, 3): (left ratio, right ratio).

    Ground = the first frame's toe height (their mean when within 2 cm of each other, else the lower one). A foot
    is in contact on frames where its ankle is within `ankle_height` and its toe within `toe_height` of the ground;
    it slides on contact frames where, for its ankle or its toe, |mean of the two horizontal components of the
    forward per-frame displacement| (0 on the last frame) exceeds `speed_threshold` metres per 1/30 s, LODGE's data
    rate (at other `fps` the per-frame threshold scales by 30 / fps). Ratio = sliding frames / contact frames (NaN
    without contact, as the reference's 0/0). LODGE reports the mean of both.
    """
    up = UP_AXES[up_axis]
    flat = [a for a in range(3) if a != up]
    l_toe, r_toe = joints[0, 10, up], joints[0, 11, up]
    ground = (l_toe + r_toe) / 2 if abs(l_toe - r_toe) < 0.02 else min(l_toe, r_toe)
    vel = np.zeros_like(joints[:, :, flat])
    vel[:-1] = np.diff(joints[:, :, flat], axis=0)  # (T, J, 2) forward displacement
    ratios = []
    for ankle, toe in ((7, 10), (8, 11)):
        contact = (joints[:, ankle, up] <= ground + ankle_height) & (joints[:, toe, up] <= ground + toe_height)
        tangent = np.abs(vel[:, [ankle, toe]].mean(axis=-1))  # (T, 2): |mean of the horizontal components|
        sliding = contact & (tangent > speed_threshold * FSR_REFERENCE_FPS / fps).any(axis=-1)
        with np.errstate(invalid="ignore", divide="ignore"):
            ratios.append(float(np.float64(sliding.sum()) / contact.sum()))
    return ratios[0], ratios[1]
