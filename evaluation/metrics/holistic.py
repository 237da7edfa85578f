"""Metrics beyond the body: MPJPE by part, hand kinetic features, face features (the `fixed` protocol's additions).

- `mpjpe`: mean per-joint position error (metres) over all 52 joints, the 22 body joints or the 30 finger joints.
- `hand_kinetic_features`: kinetic features (physically correct variant) of the finger joints relative to their
  wrist, so hand articulation is measured apart from arm motion; FID/Div on them give the hand metrics.
- `face_features`: per clip [mean |frame-to-frame change| (100), std (100)] of the FLAME expression coefficients;
  FID/Div on them give the face metrics; `face_mse` compares reconstructed coefficients.
"""

from __future__ import annotations

import numpy as np

from evaluation.metrics.kinetic import kinetic_features
from motion.skeleton import N_BODY_JOINTS, N_HAND_JOINTS, N_JOINTS, WRISTS

PARTS = {"all": slice(0, N_JOINTS), "body": slice(0, N_BODY_JOINTS), "hands": slice(N_BODY_JOINTS, N_JOINTS)}


def mpjpe(pred: np.ndarray, gt: np.ndarray, part: str = "all") -> float:
    """Mean Euclidean joint error of (..., T, 52, 3) arrays over a part ("all", "body", "hands"); on body-only
    (22 or 24 joint) arrays "all" is every joint."""
    sl = PARTS[part]
    return float(np.linalg.norm(pred[..., sl, :] - gt[..., sl, :], axis=-1).mean())


def fingers_relative_to_wrists(joints: np.ndarray) -> np.ndarray:
    """(T, 52, 3) -> (T, 30, 3) finger joints minus their own wrist."""
    half = N_HAND_JOINTS // 2
    left = joints[:, N_BODY_JOINTS : N_BODY_JOINTS + half] - joints[:, WRISTS[0] : WRISTS[0] + 1]
    right = joints[:, N_BODY_JOINTS + half : N_JOINTS] - joints[:, WRISTS[1] : WRISTS[1] + 1]
    return np.concatenate([left, right], axis=1)


def hand_kinetic_features(joints: np.ndarray, fps: float = 30.0, up_axis: str = "y") -> np.ndarray:
    """Kinetic features of the wrist-relative finger joints of (T, 52, 3) joints. -> (90,)"""
    return kinetic_features(fingers_relative_to_wrists(joints), frame_time=1.0 / fps, up_axis=up_axis)


def face_features(expressions: np.ndarray) -> np.ndarray:
    """(T, 100) expression coefficients -> (200,) [mean |e_t - e_(t-1)|, std e] of the clip."""
    e = np.asarray(expressions, dtype=np.float64)
    return np.concatenate([np.abs(np.diff(e, axis=0)).mean(axis=0), e.std(axis=0)]).astype(np.float32)


def face_mse(pred: np.ndarray, gt: np.ndarray) -> float:
    """Mean squared error of expression coefficients (T, 100)."""
    return float(((np.asarray(pred, np.float64) - gt) ** 2).mean())
