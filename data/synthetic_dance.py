"""Procedural SMPL-X dance motion: beat-driven bounce, sway, turns, arm waves, finger curls and face expressions.

No data file is needed, so the demo and the tests have a real whole-body motion on any machine. Joint angles stay
in natural ranges; `seed` varies amplitudes and phases, `bpm` sets the beat the motion follows.
"""

from __future__ import annotations

import numpy as np

from data.formats.motion import FPS, SMPLXMotion
from data.layout import FACE_DIM
from utils.skeleton import SMPLX_N_JOINTS

_J = {name: i for i, name in enumerate(
    ("pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee", "spine2", "left_ankle", "right_ankle",
     "spine3", "left_foot", "right_foot", "neck", "left_collar", "right_collar", "head", "left_shoulder",
     "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist"))}  # fmt: skip
_X, _Y, _Z = 0, 1, 2


def synthesize_dance(n_frames: int, bpm: float = 120.0, seed: int = 0, fps: float = FPS) -> SMPLXMotion:
    """A whole-body dance of `n_frames` frames at `fps`, following a beat of `bpm`.

    Returns:
        `SMPLXMotion` with poses (T, 165), trans (T, 3), zero betas and expressions (T, 100).
    """
    if n_frames < 2:
        raise ValueError(f"n_frames must be >= 2, got {n_frames}")
    rng = np.random.default_rng(seed)
    t = np.arange(n_frames) / fps  # (T,) seconds
    beat = 2 * np.pi * bpm / 60.0 * t  # one cycle per beat
    ph = rng.uniform(0, 2 * np.pi, size=8)
    amp = rng.uniform(0.7, 1.3, size=8)
    pose = np.zeros((n_frames, SMPLX_N_JOINTS, 3))

    bounce = 0.5 * (1 - np.cos(beat))  # 0 on the beat, 1 between beats
    sway = np.sin(beat / 2 + ph[0])  # one side per bar half
    for side, sign in (("left", 1.0), ("right", -1.0)):
        knee = 0.15 + 0.45 * amp[1] * bounce * (1 + 0.3 * sign * sway)
        pose[:, _J[f"{side}_hip"], _X] = -0.6 * knee
        pose[:, _J[f"{side}_knee"], _X] = knee
        pose[:, _J[f"{side}_ankle"], _X] = -0.4 * knee
        pose[:, _J[f"{side}_hip"], _Z] = sign * 0.08 * (1 + sway * sign)
        # arms: down from the T-pose, waving with the beat, elbows bending
        wave = np.sin(beat / 2 + ph[2] + (0 if sign > 0 else np.pi))
        pose[:, _J[f"{side}_shoulder"], _Z] = -sign * (0.9 - 0.6 * amp[2] * wave)
        pose[:, _J[f"{side}_shoulder"], _Y] = sign * 0.3 * np.sin(beat / 4 + ph[3])
        pose[:, _J[f"{side}_elbow"], _Y] = sign * (0.4 + 0.5 * (1 + np.sin(beat + ph[4])) / 2)
        pose[:, _J[f"{side}_wrist"], _X] = 0.3 * np.sin(beat + ph[5])
    for joint in ("spine1", "spine2", "spine3"):
        pose[:, _J[joint], _Z] = 0.08 * amp[6] * sway
        pose[:, _J[joint], _X] = 0.05 * bounce
        pose[:, _J[joint], _Y] = 0.12 * np.sin(beat / 2 + ph[3])  # torso twist against the hips
    pose[:, _J["neck"], _X] = 0.12 * np.sin(beat + ph[7])
    pose[:, _J["head"], _Y] = 0.2 * np.sin(beat / 4)
    pose[:, 22, _X] = 0.1 * (1 + np.sin(beat)) / 2  # jaw

    # fingers: each hand opens and closes on alternate beats (curl about Z bends towards the palm)
    curl = 0.2 + 0.6 * (1 + np.sin(beat / 2 + ph[1])) / 2  # (T,)
    for start, sign in ((25, -1.0), (40, 1.0)):
        for k in range(15):
            joint = start + k
            is_thumb = k >= 12
            pose[:, joint, _Y if is_thumb else _Z] = sign * curl * (0.5 if is_thumb else 1.0) * (1 - 0.15 * (k % 3))

    # global motion: slow turns, a gentle figure-of-eight path, vertical bounce
    pose[:, 0, _Y] = 0.7 * np.sin(2 * np.pi * t / 12 + ph[0]) + 0.25 * np.sin(beat / 4)
    trans = np.stack([0.35 * np.sin(2 * np.pi * t / 10), -0.05 * amp[1] * bounce, 0.2 * np.sin(4 * np.pi * t / 10)], -1)

    expressions = np.zeros((n_frames, FACE_DIM))
    k = np.arange(10)
    expressions[:, :10] = 0.8 * np.sin(beat[:, None] / (1 + k) + rng.uniform(0, 2 * np.pi, 10))
    return SMPLXMotion(
        poses=pose.reshape(n_frames, -1).astype(np.float32),
        trans=trans.astype(np.float32),
        betas=np.zeros(10, dtype=np.float32),
        expressions=expressions.astype(np.float32),
        fps=fps,
        has_face=True,
    )
