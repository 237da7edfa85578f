"""Beat Align Score in its two published definitions, vectorised.

- `bas_bailando` (Bailando `utils/beat_align_score.py`; LODGE, Danceba copy it): the mean over **music** beats of
  exp(-d^2 / (2 sigma^2)), d = frames to the nearest motion beat; motion beats are the local minima (order 1) of the
  mean joint displacement per frame smoothed with a Gaussian of sigma 5 frames (`motion_beats_bailando`).
- `bas_fact` (FACT / mint `calculate_beat_scores.py`, as POPDG uses it): the mean over **motion** beats of the same
  kernel, d = frames to the nearest music beat; motion beats are the local minima (`order` frames on each side, 10
  at 60 fps) of the summed joint speed, unsmoothed (`motion_beats_fact`); 0 when there is no motion beat.
Beats are frame indices; sigma is in frames (3 in both references).
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter
from scipy.signal import argrelextrema

SIGMA_FRAMES = 3.0
BAILANDO_SMOOTHING = 5  # frames
FACT_ORDER_60FPS = 10


def _nearest_sq_dist(frm: np.ndarray, to: np.ndarray) -> np.ndarray:
    """Squared distance from each of `frm` to the nearest of `to`. -> (len(frm),)"""
    return ((np.asarray(frm, np.float64)[:, None] - np.asarray(to, np.float64)[None, :]) ** 2).min(axis=1)


def motion_beats_bailando(joints: np.ndarray, smoothing: float = BAILANDO_SMOOTHING) -> np.ndarray:
    """Motion beat frames of (T, J, 3) joints: minima of the smoothed mean joint displacement (index into T-1)."""
    speed = np.linalg.norm(np.diff(joints, axis=0), axis=-1).mean(axis=1)  # (T-1,)
    return argrelextrema(gaussian_filter(speed, smoothing), np.less)[0]


def bas_bailando(music_beats: np.ndarray, motion_beats: np.ndarray, sigma: float = SIGMA_FRAMES) -> float:
    """Mean over music beats of the alignment kernel (Bailando's `BA`).

    The reference divides by zero without music beats and fails without motion beats; here those give NaN (the
    caller reports the sequence as skipped) and 0 (no motion beat aligns with anything)."""
    if len(music_beats) == 0:
        return float("nan")
    if len(motion_beats) == 0:
        return 0.0
    return float(np.exp(-_nearest_sq_dist(music_beats, motion_beats) / 2 / sigma**2).mean())


def motion_beats_fact(joints: np.ndarray, order: int = FACT_ORDER_60FPS) -> np.ndarray:
    """Motion beat frames of (T, J, 3) joints: minima of the summed joint speed (mint's `motion_peak_onehot`)."""
    velocity = np.zeros(joints.shape, dtype=np.float32)
    velocity[1:] = joints[1:] - joints[:-1]
    envelope = np.linalg.norm(velocity, axis=2).sum(axis=1)  # (T,)
    return argrelextrema(envelope, np.less, axis=0, order=order)[0]


def bas_fact(music_beats: np.ndarray, motion_beats: np.ndarray, sigma: float = SIGMA_FRAMES) -> float:
    """Mean over motion beats of the alignment kernel (mint's `alignment_score`); 0 without motion beats."""
    if len(motion_beats) == 0:
        return 0.0
    d2 = _nearest_sq_dist(motion_beats, music_beats).astype(np.float32)  # the reference measures in float32
    return float(np.exp(-d2 / 2 / sigma**2).mean())
