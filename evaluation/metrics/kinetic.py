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


def kinetic_features(
    positions: np.ndarray,
    frame_time: float = 1.0 / 60,
    up_axis: str = "y",
    sliding_window: int = 2,
    acceleration_bug: bool = False,
) -> np.ndarray:
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
    p = np.ascontiguousarray(np.asarray(positions, dtype=np.float64).transpose(1, 2, 0))  # (J, 3, T): frames last
    t = p.shape[-1]
    up = UP_AXES[up_axis]
    horizontal = [a for a in range(3) if a != up]
    # velocity of frame i: the mean of the displacements into frames k = lo..hi, a telescoping sum
    lo, hi = _window_bounds(t, 1, t - 1, sliding_window)
    vel = (p[..., hi] - p[..., lo - 1]) / ((hi - lo + 1) * frame_time)  # (J, 3, T-1)
    ke_h = (vel[:, horizontal[0]] ** 2 + vel[:, horizontal[1]] ** 2).sum(-1) / (t - 1.0)  # (J,)
    ke_v = (vel[:, up] ** 2).sum(-1) / (t - 1.0)
    # acceleration of frame i: the mean over terms k = lo..hi (1 <= k <= T-2) of (v2 - v1) / dt with
    # v2 = (p[k+1] - p[k]) / dt and v1 = (p[k] - p[k-1]) / dt, or p[k] - p[k-1] / dt with the bug
    lo, hi = _window_bounds(t, 1, t - 2, sliding_window)
    empty = hi < lo  # no term at all (T < 3): 0/0 = nan, as the reference
    lo, hi = np.where(empty, 1, lo), np.where(empty, 0, hi)
    if acceleration_bug:
        csum = np.concatenate([np.zeros(p.shape[:-1] + (1,)), np.cumsum(p, axis=-1)], axis=-1)  # sum p[..., :k]
        v2_sum = (p[..., hi + 1] - p[..., lo]) / frame_time
        v1_sum = (csum[..., hi + 1] - csum[..., lo]) - (csum[..., hi] - csum[..., lo - 1]) / frame_time
        acc = (v2_sum - v1_sum) / frame_time
    else:
        acc = ((p[..., hi + 1] - p[..., hi]) - (p[..., lo] - p[..., lo - 1])) / frame_time**2
    with np.errstate(invalid="ignore", divide="ignore"):
        acc = acc / np.where(empty, 0, hi - lo + 1)  # (J, 3, T-1)
    energy = np.sqrt(acc[:, 0] ** 2 + acc[:, 1] ** 2 + acc[:, 2] ** 2).sum(-1) / (t - 1.0)
    return np.stack([ke_h, ke_v, energy], axis=-1).reshape(-1).astype(np.float32)
