"""Skeleton videos: a 3-D stick figure per frame, written as H.264 mp4 (or gif), music muxed in when given.

All bones of a frame are one `Line3DCollection` (fast: one artist per skeleton), frames go straight to the
encoder. The `ffmpeg` binary is the one `imageio-ffmpeg` ships, so no system install is needed.
"""

from __future__ import annotations

import logging
import os
import subprocess
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import imageio.v2 as imageio  # noqa: E402
import imageio_ffmpeg  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from mpl_toolkits.mplot3d.art3d import Line3DCollection  # noqa: E402
from tqdm import tqdm  # noqa: E402

from motion.skeleton import JOINT_NAMES, N_BODY_JOINTS, PARENTS  # noqa: E402
from utils.atomic import atomic_path, out_of_space  # noqa: E402

logger = logging.getLogger(__name__)

BODY_COLOR, LEFT_COLOR, RIGHT_COLOR = "#1f3b73", "#d1495b", "#00798c"
BODY_LINEWIDTH, FINGER_LINEWIDTH = 2.5, 1.2  # thinner finger bones keep the five fingers apart
VIEW_ZOOM = 1.35  # matplotlib's 3-D view leaves wide margins; zoom so the dancer fills the panel


def _bone_colors(n_joints: int) -> list[str]:
    """Colour of the bone ending at each joint: left side red, right side teal, midline dark blue."""
    names = JOINT_NAMES[:n_joints] if n_joints <= len(JOINT_NAMES) else [""] * n_joints
    return [
        LEFT_COLOR if n.startswith("left") else RIGHT_COLOR if n.startswith("right") else BODY_COLOR for n in names[1:]
    ]


def _figure(seqs: list[np.ndarray], parents: np.ndarray, titles: Sequence[str] | None, size_px: int) -> tuple:
    """The figure of side-by-side 3-D panels, one per sequence (T, J, 3), each with its first frame's bones: (figure,
    one line collection per panel)."""
    dpi, n_joints = 100, seqs[0].shape[1]
    fig = plt.figure(figsize=(size_px * len(seqs) / dpi, size_px / dpi), dpi=dpi)
    colors = _bone_colors(n_joints)
    collections = []
    for k, seq in enumerate(seqs):
        ax = fig.add_subplot(1, len(seqs), k + 1, projection="3d")
        _setup_axes(ax, seq, titles[k] if titles else None)
        widths = [BODY_LINEWIDTH if j < N_BODY_JOINTS else FINGER_LINEWIDTH for j in range(1, n_joints)]
        lc = Line3DCollection(_segments(seq[0], parents), colors=colors, linewidths=widths)
        ax.add_collection3d(lc, autolim=False)
        collections.append(lc)
    fig.subplots_adjust(0, 0, 1, 1, 0, 0)
    return fig, collections


def render_skeleton_video(
    joints: np.ndarray | Sequence[np.ndarray],
    out_path: str | Path,
    fps: float = 30.0,
    parents: np.ndarray | None = None,
    titles: Sequence[str] | None = None,
    audio: str | Path | None = None,
    size_px: int = 480,
) -> Path:
    """Render one or more skeleton sequences side by side.

    Args:
        joints: (T, J, 3) Y-up metres, or a list of such arrays (same T) shown side by side.
        out_path: `.mp4` (H.264) or `.gif`.
        fps: frame rate of the sequences and of the video.
        parents: (J,) kinematic tree; defaults to the 52-joint (or its 22-joint body) tree.
        titles: one title per sequence.
        audio: an audio file muxed into the mp4, cut to the video's length.
        size_px: height of the video in pixels (width scales with the number of panels).
    Returns:
        The written path.
    """
    seqs = [np.asarray(joints)] if isinstance(joints, np.ndarray) else [np.asarray(j) for j in joints]
    n_frames, n_joints = seqs[0].shape[:2]
    if any(s.shape[:2] != (n_frames, n_joints) or s.shape[-1] != 3 for s in seqs):
        raise ValueError("all sequences must be (T, J, 3) with the same T and J")
    parents = PARENTS[:n_joints] if parents is None else np.asarray(parents)
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)

    fig, collections = _figure(seqs, parents, titles, size_px)

    writer_kwargs = (
        {"fps": fps, "codec": "libx264", "quality": 7, "macro_block_size": 1, "ffmpeg_log_level": "error"}
        if out_path.suffix == ".mp4"
        else {"duration": 1000.0 / fps, "loop": 0}  # gif: frame duration in ms
    )
    with atomic_path(out_path) as tmp:  # the finished video replaces out_path; a failure leaves it as it was
        video_path = tmp.with_name(tmp.stem + ".silent.mp4") if audio and out_path.suffix == ".mp4" else tmp
        try:
            with imageio.get_writer(video_path, **writer_kwargs) as writer:
                for t in tqdm(range(n_frames), desc=f"render {out_path.name}", unit="frame", leave=False):
                    for lc, seq in zip(collections, seqs, strict=True):
                        lc.set_segments(_segments(seq[t], parents))
                    fig.canvas.draw()
                    writer.append_data(np.asarray(fig.canvas.buffer_rgba())[..., :3])
            if video_path != tmp:
                mux_audio(video_path, audio, tmp)
        except (OSError, RuntimeError, subprocess.CalledProcessError) as err:  # ffmpeg's errors carry no errno
            code = out_of_space(video_path, tmp)
            if code is None:
                raise
            raise OSError(code, os.strerror(code)) from err
        finally:
            plt.close(fig)
            if video_path != tmp:
                video_path.unlink(missing_ok=True)
    logger.info("wrote %s (%d frames, %.1f s)", out_path, n_frames, n_frames / fps)
    return out_path


def mux_audio(video: str | Path, audio: str | Path, out_path: str | Path) -> None:
    """Copy the video stream and add the audio track (AAC), cut to the shorter of the two."""
    cmd = [
        imageio_ffmpeg.get_ffmpeg_exe(),
        "-y",
        "-loglevel",
        "error",
        "-i",
        str(video),
        "-i",
        str(audio),
        "-map",
        "0:v",
        "-map",
        "1:a",
        "-c:v",
        "copy",
        "-c:a",
        "aac",
        "-shortest",
        str(out_path),
    ]
    subprocess.run(cmd, check=True)


def _segments(frame: np.ndarray, parents: np.ndarray) -> np.ndarray:
    """Bones of one frame as plot segments (J-1, 2, 3), mapping Y-up data to matplotlib's Z-up axes."""
    xyz = frame[:, [0, 2, 1]]  # (J, 3): x, depth, up
    return np.stack([xyz[parents[1:]], xyz[1:]], axis=1)


def _setup_axes(ax, seq: np.ndarray, title: str | None) -> None:
    """Fixed cube limits around the whole sequence, a floor grid, no tick clutter."""
    lo, hi = seq.reshape(-1, 3).min(0), seq.reshape(-1, 3).max(0)
    centre, radius = (lo + hi) / 2, max((hi - lo)[[0, 2]].max() / 2, (hi - lo)[1] / 2, 0.5) * 1.05
    ax.set_xlim(centre[0] - radius, centre[0] + radius)
    ax.set_ylim(centre[2] - radius, centre[2] + radius)
    ax.set_zlim(lo[1], lo[1] + 2 * radius)
    ax.set_box_aspect((1, 1, 1), zoom=VIEW_ZOOM)
    ax.view_init(elev=15, azim=-70)
    ax.set_xticklabels([])
    ax.set_yticklabels([])
    ax.set_zticklabels([])
    gx, gz = np.meshgrid(
        np.linspace(centre[0] - radius, centre[0] + radius, 9), np.linspace(centre[2] - radius, centre[2] + radius, 9)
    )
    ax.plot_wireframe(gx, gz, np.full_like(gx, lo[1]), color="#bbbbbb", linewidth=0.5)
    if title:
        ax.text2D(0.5, 0.94, title, transform=ax.transAxes, ha="center", fontsize=10)
