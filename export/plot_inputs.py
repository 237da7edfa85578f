"""What the plot scripts draw: joint sequences and feature sequences read from a file, then rendered per file.

Joints come from joints `.npy` (T, J, 3) / (B, T, J, 3), from feature `.npy` (T, D) / (B, T, D) (joints recovered
from the ric block) or from any motion file; features from `.npy` (T, D) / (B, T, D), D in 263 / 623 / 723. A video
or image that exists is kept unless asked to overwrite it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from data.formats import load_motion
from data.formats.containers import read_container
from data.formats.motion import check_frames
from export.feature_plot import plot_features
from export.render import render_skeleton_video
from motion.features import recover_from_ric
from motion.skeleton import N_BODY_JOINTS, N_JOINTS
from utils.arrays import is_numeric
from utils.cli import UserError
from utils.outputs import split_existing

FEATURE_DIMS = (263, 623, 723)  # body-only, body + hands, grouped with face


def _checked(a: np.ndarray, path: Path, what: str) -> np.ndarray:
    check_frames(a.shape[1], path)
    if not np.isfinite(a).all():
        raise UserError(f"{path}: {what} contain NaN or Inf")
    return a.astype(np.float32)


def feature_sequences(path: Path) -> np.ndarray:
    """Motion features from a `.npy` (T, D) or (B, T, D), D in 263/623/723. -> (B, T, D)"""
    a = read_container(path).get("array")
    if not is_numeric(a) or a.ndim not in (2, 3) or a.shape[-1] not in FEATURE_DIMS:
        got = f"{np.shape(a)} {np.asarray(a).dtype}" if a is not None else "no single array"
        raise UserError(f"{path}: expected motion features (T, D) or (B, T, D) with D in {FEATURE_DIMS}, got {got}")
    return _checked(a.reshape((-1,) + a.shape[-2:]), path, "features")


def joint_sequences(path: Path) -> np.ndarray:
    """Joint sequences to plot from a file. -> (B, T, J, 3)"""
    if path.suffix.lower() == ".npy":
        a = read_container(path).get("array")
        if is_numeric(a) and a.ndim in (3, 4) and a.shape[-1] == 3 and a.shape[-2] in (N_BODY_JOINTS, N_JOINTS):
            return _checked(a.reshape((-1,) + a.shape[-3:]), path, "joints")
        if is_numeric(a) and a.ndim in (2, 3) and a.shape[-1] in FEATURE_DIMS:
            return recover_from_ric(feature_sequences(path))
    return load_motion(path).joints[None]


@dataclass
class VideoOptions:
    """How `render_file` draws a file's sequences.

    Args:
        fps: frame rate of the sequences.
        size_px: video height.
        audio: music muxed into the mp4.
        max_seconds: cut each sequence to this length.
        side_by_side: all sequences of a batch in one video (else one video each, `<out>_<b>`).
        overwrite: replace videos that exist (else they are kept).
    """

    fps: float = 30.0
    size_px: int = 480
    audio: Path | None = None
    max_seconds: float | None = None
    side_by_side: bool = False
    overwrite: bool = False


def render_file(path: Path, out: Path, opts: VideoOptions) -> list[Path]:
    """Videos of every sequence in a file; `out` names the video (suffixed `_<b>` per sequence of a batch). Returns
    the videos written (those that exist are kept unless `opts.overwrite`)."""
    seqs = joint_sequences(path)  # (B, T, J, 3)
    if opts.max_seconds is not None:
        seqs = seqs[:, : max(2, round(opts.max_seconds * opts.fps))]
    kw = {"fps": opts.fps, "audio": opts.audio, "size_px": opts.size_px}
    if opts.side_by_side or len(seqs) == 1:
        titles = [f"{path.stem}[{b}]" for b in range(len(seqs))] if len(seqs) > 1 else None
        jobs = {out: (list(seqs), titles)}
    else:
        jobs = {out.with_name(f"{out.stem}_{b}{out.suffix}"): (s, None) for b, s in enumerate(seqs)}
    todo, _ = split_existing(list(jobs), opts.overwrite)
    return [render_skeleton_video(jobs[o][0], o, titles=jobs[o][1], **kw) for o in todo]


def plot_feature_file(
    path: Path, out: Path, fps: float = 30.0, width_px: int = 1600, height_px: int = 1200, overwrite: bool = False
) -> list[Path]:
    """One PNG per feature sequence of a file (`<out>_<b>.png` for a batch); returns those written (a PNG that exists
    is kept unless `overwrite`)."""
    feats = feature_sequences(path)  # (B, T, D)
    outs = [out] if len(feats) == 1 else [out.with_name(f"{out.stem}_{b}.png") for b in range(len(feats))]
    todo = set(split_existing(outs, overwrite)[0])
    return [
        plot_features(f, o, fps, f"{path.name} [{b}] {f.shape}", width_px, height_px)
        for b, (f, o) in enumerate(zip(feats, outs, strict=True))
        if o in todo
    ]
