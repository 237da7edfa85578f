"""MMR music embeddings as a music feature type (`mmr`, 256-d for the paper's MMR): its music encoder over windows.

Row k of a song's `mmr` features is the embedding (the VAE mean, TMR's `sample_mean`) of the 5 s window starting at
frame k * stride (stride 15 frames = 0.5 s by default, so 2 rows per second, the dataset windows' stride). The
features the MMR reads (its checkpoint records the type and mode, e.g. `baseline` full_song) are computed with the
registry first. `segments` gives the 1 s segment embeddings the matching score compares against the motion's.
Made by `MMR/mmr_music_feat256.py`, not by `create_dataset.py`: the features depend on a trained model. Importing this
module gives the registry's `mmr` type its extractor (`song_features`).
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from data.audio_extraction.registry import music_feature, provide_extractor
from MMR.embedder import load_mmr
from motion.frame import FPS as MOTION_FPS

WINDOW_FRAMES, STRIDE_FRAMES = 150, 15
FPS = MOTION_FPS / STRIDE_FRAMES  # rows per second


@functools.lru_cache(maxsize=2)
def _embedder(run: str, which: str, device: str):
    return load_mmr(run, which, device)


def source_features(path: Path, embedder) -> np.ndarray:
    """The music features the MMR reads, computed for a file: (L, Dm) full_song or (n, 150, Dm) per_slice."""
    mode = embedder.data.get("music_mode", "full_song")
    return music_feature(embedder.music_type).extract(path, mode)


def embed_song(
    feats: np.ndarray, embedder, stride: int = STRIDE_FRAMES, window: int = WINDOW_FRAMES
) -> tuple[np.ndarray, np.ndarray]:
    """(window embeddings (n, 256), 1 s segment embeddings (S, 256)) of a song's source features.

    Per-slice features (n, 150, Dm) are EDGE's 5 s slices at 0.5 s: slice k is window k, and the segments come from
    the slices' first 0.5 s pieces laid end to end (the song's frames)."""
    if feats.ndim == 3:
        windows = embedder.music(feats[:, : embedder.clip_frames]).numpy()
        song = feats[:, :stride].reshape(-1, feats.shape[-1])
        return windows, embedder.segment_embeddings(song, "music")
    return embedder.window_embeddings(feats, stride, window), embedder.segment_embeddings(feats, "music")


def song_features(
    path: Path, run: str | Path, which: str = "best", device: str = "cpu", stride: int = STRIDE_FRAMES
) -> np.ndarray:
    """`mmr` features of a music file with the MMR of `run` (a run folder or checkpoint). -> (n, latent) float32"""
    embedder = _embedder(str(run), which, str(device))
    return embed_song(source_features(path, embedder), embedder, stride)[0].astype(np.float32)


provide_extractor("mmr", song_features)
