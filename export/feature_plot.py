"""One figure of a motion feature sequence: a panel per named block of its `MotionLayout`.

Narrow blocks (root rotation velocity, root XZ velocity, root height, foot contacts) are line plots over time; wide
blocks (ric, rot6d, velocities, face) are heat maps of dimension x time with a shared colour scale per block.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from motion.layout import layout_for_dim  # noqa: E402
from motion.skeleton import N_BODY_JOINTS  # noqa: E402
from utils.atomic import atomic_path  # noqa: E402

LINE_BLOCKS = ("root_rot_vel", "root_lin_vel", "root_y", "contacts")
HEATMAP_BLOCKS = ("ric", "rot6d", "vel", "face")
# Rows where the finger joints start in each per-joint block (ric and rot6d skip the root joint).
HAND_START_ROW = {"ric": 3 * (N_BODY_JOINTS - 1), "rot6d": 6 * (N_BODY_JOINTS - 1), "vel": 3 * N_BODY_JOINTS}


def feature_blocks(feats: np.ndarray) -> dict[str, np.ndarray]:
    """Blocks of features (T, D), D in 263/623/723, in plotting order: name -> (T, width)."""
    layout = layout_for_dim(feats.shape[-1])
    flat, face = layout.to_flat(feats)
    s = layout.flat.flat_slices
    blocks = {
        name: flat[:, s[name]] for name in ("root_rot_vel", "root_lin_vel", "root_y", "ric", "rot6d", "vel", "contacts")
    }
    if face is not None:
        blocks["face"] = face
    return blocks


def plot_features(
    feats: np.ndarray,
    out: str | Path,
    fps: float = 30.0,
    title: str | None = None,
    width_px: int = 1600,
    height_px: int = 1200,
    dpi: int = 100,
) -> Path:
    """Write a PNG of exactly `width_px` x `height_px` with one panel per feature block.

    Args:
        feats: (T, D) features, D in 263 / 623 / 723.
        out: the `.png` path.
        fps: frame rate (the x axis is in seconds).
        title: figure title.
    """
    blocks = feature_blocks(np.asarray(feats, dtype=np.float32))
    t = np.arange(len(feats)) / fps
    heights = [1.0 if name in LINE_BLOCKS else 2.0 for name in blocks]
    fig, axes = plt.subplots(
        len(blocks),
        1,
        figsize=(width_px / dpi, height_px / dpi),
        dpi=dpi,
        sharex=True,
        gridspec_kw={"height_ratios": heights},
    )
    for ax, (name, block) in zip(axes, blocks.items(), strict=True):
        label = f"{name} ({block.shape[1]})"
        if name in LINE_BLOCKS:
            ax.plot(t, block, linewidth=0.8)
            ax.set_ylabel(label, rotation=0, ha="right", va="center", fontsize=8)
        else:
            lim = float(np.percentile(np.abs(block), 99)) or 1.0
            extent = (t[0], t[-1] + 1 / fps, block.shape[1], 0)
            ax.imshow(
                block.T, aspect="auto", cmap="RdBu_r", vmin=-lim, vmax=lim, extent=extent, interpolation="nearest"
            )
            ax.set_ylabel(label, rotation=0, ha="right", va="center", fontsize=8)
            if name in HAND_START_ROW and block.shape[1] > HAND_START_ROW[name]:  # body above, fingers below
                ax.axhline(HAND_START_ROW[name], color="black", linestyle="--", linewidth=0.8)
        ax.tick_params(labelsize=7)
    axes[-1].set_xlabel("time (s)")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.subplots_adjust(left=0.12, right=0.98, top=0.95 if title else 0.98, bottom=0.05, hspace=0.15)
    out = Path(out)
    try:
        with atomic_path(out) as tmp:
            fig.savefig(tmp, dpi=dpi, format="png")
    finally:
        plt.close(fig)
    return out
