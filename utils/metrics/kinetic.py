"""Kinetic features (AIST++ API / Bailando / LODGE lineage): 3 numbers per joint, vectorised.

Per joint, averaged over frames 1..T-1: horizontal kinetic energy (squared horizontal speed), vertical kinetic
energy (squared vertical speed) and energy expenditure (norm of the acceleration). Speeds and accelerations are
averaged over a window of +-`sliding_window` frames that is cut at the sequence ends, as the reference loops do.

`acceleration_bug=True` reproduces the operator-precedence bug of the released code that Bailando-lineage numbers
were computed with: the previous velocity is `p[k] - p[k-1] / frame_time` instead of `(p[k] - p[k-1]) / frame_time`,
so the energy term grows with absolute joint position (a still pose gets a non-zero value). The AIST++ API fixed it
later; `acceleration_bug=False` is the physically correct feature.
"""

from __future__ import annotations

import numpy as np

UP_AXES = {"y": 1, "z": 2}


def _window_bounds(n: int, first: int, last: int, window: int) -> tuple[np.ndarray, np.ndarray]:
    """For frames i = 1..n-1: the clipped index range [lo, hi] of terms k = i + j, |j| <= window, first <= k <= last."""
    i = np.arange(1, n)
    return np.maximum(i - window, first), np.minimum(i + window, last)


def _window_sums(terms: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Sums of terms[k] for k in [lo, hi] per frame, by cumulative sums. terms: (K, ...) indexed from 0."""
    csum = np.concatenate([np.zeros((1,) + terms.shape[1:]), np.cumsum(terms, axis=0)])  # csum[k] = sum terms[:k]
    empty = hi < lo
    out = csum[np.where(empty, 0, hi + 1)] - csum[np.where(empty, 0, lo)]
    return out


def kinetic_features(positions: np.ndarray, frame_time: float = 1.0 / 60, up_axis: str = "y",
                     sliding_window: int = 2, acceleration_bug: bool = False) -> np.ndarray:  # fmt: skip
    """Kinetic features of one sequence.

    Args:
        positions: (T, J, 3) joint positions, metres.
        frame_time: seconds per frame (the reference hard-codes 1/60).
        up_axis: "y" or "z".
        sliding_window: half-width of the averaging window, frames.
        acceleration_bug: reproduce the released code's precedence bug (see the module docstring).
    Returns:
        (3 J,) float32: per joint [horizontal KE, vertical KE, energy expenditure].
    """
    p = np.asarray(positions, dtype=np.float64)  # (T, J, 3)
    t = len(p)
    up = UP_AXES[up_axis]
    horizontal = [a for a in range(3) if a != up]
    d = np.diff(p, axis=0)  # (T-1, J, 3): d[k-1] = p[k] - p[k-1]
    # velocities: terms k = i + j in [1, T-1] (the displacement into frame k)
    lo, hi = _window_bounds(t, 1, t - 1, sliding_window)
    count = (hi - lo + 1)[:, None, None].astype(np.float64)
    vel = _window_sums(d, lo - 1, hi - 1) / (count * frame_time)  # (T-1, J, 3)
    ke_h = (np.linalg.norm(vel[..., horizontal], axis=-1) ** 2).sum(0) / (t - 1.0)
    ke_v = (np.abs(vel[..., up]) ** 2).sum(0) / (t - 1.0)
    # accelerations: terms k in [1, T-2]; term k uses p[k+1], p[k], p[k-1]
    lo, hi = _window_bounds(t, 1, t - 2, sliding_window)
    v2 = d[1:] / frame_time  # (T-2, J, 3): (p[k+1] - p[k]) / dt for k = 1..T-2
    v1 = p[1:-1] - p[:-2] / frame_time if acceleration_bug else d[:-1] / frame_time
    acc = _window_sums((v2 - v1) / frame_time, lo - 1, hi - 1)
    with np.errstate(invalid="ignore", divide="ignore"):  # no term at all: 0/0 = nan, as the reference
        acc = acc / (hi - lo + 1)[:, None, None]
    energy = np.linalg.norm(acc, axis=-1).sum(0) / (t - 1.0)
    return np.stack([ke_h, ke_v, energy], axis=-1).reshape(-1).astype(np.float32)
