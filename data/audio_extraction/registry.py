"""Music feature types by name: width, frame rate, extraction modes and the functions that compute them.

Dataset building, training and generation look features up here (`music_feature("baseline")`), so a checkpoint
that records a feature name and mode can recompute exactly the same features for new music. `mmr` (a trained
MMR's embeddings of 5 s windows) needs a model, so `made_by` names the command that makes it for a dataset, and its
extractor comes from the layer above: `MMR.music_features` supplies it (`provide_extractor`) when imported.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from data.audio_extraction import baseline, jukebox
from utils.cli import UserError

MMR_ROWS_PER_SECOND = 2.0  # one MMR window embedding every 0.5 s (MMR.music_features)
MODES = ("full_song", "per_slice")  # DESIGN.md §3: once per song and windowed, or EDGE's per 5 s slice


@dataclass(frozen=True)
class MusicFeatureType:
    """One kind of music feature.

    Args:
        name: registry name (recorded in datasets and checkpoints).
        dim: feature width per row (None: set by the model that makes them, e.g. the MMR's latent width).
        fps: frames per second (30: aligned with motion frames).
        modes: extraction modes it supports, the first being the default.
        description: one line for docs and errors.
        song: full_song extractor, path (+ options) -> (L, dim) float32.
        slices: per_slice extractor, path (+ options) -> (n_slices, 150, dim) float32 (5 s windows, 0.5 s stride).
        made_by: for features computed from a trained model, the command that adds them to a processed dataset
            (create_dataset.py extracts the others).
    """

    name: str
    dim: int | None
    fps: float
    modes: tuple[str, ...]
    description: str
    song: Callable[..., np.ndarray] | None = None
    slices: Callable[..., np.ndarray] | None = None
    made_by: str | None = None

    @property
    def default_mode(self) -> str:
        return self.modes[0]

    def extract(self, path: str | Path, mode: str | None = None, **options) -> np.ndarray:
        """Features of a music file: (L, dim) for full_song, (n_slices, 150, dim) for per_slice.

        `options` go to the extractor (e.g. `weights_dir` for jukebox).
        """
        mode = mode or self.default_mode
        if mode not in self.modes:
            raise UserError(f"music feature {self.name!r} has no mode {mode!r}; modes: {', '.join(self.modes)}")
        fn = self.song if mode == "full_song" else self.slices
        if fn is None:
            current = _REGISTRY.get(self.name)
            if current is not None and current is not self:  # its extractor was provided since this was looked up
                return current.extract(path, mode, **options)
            raise UserError(f"music feature {self.name!r} is computed by a trained model: {self.made_by}")
        feats = fn(Path(path), **options)
        if self.dim is not None and feats.shape[-1] != self.dim:
            raise ValueError(f"{self.name} extractor returned width {feats.shape[-1]}, expected {self.dim}")
        return feats


_REGISTRY: dict[str, MusicFeatureType] = {}


def register_music_feature(feature: MusicFeatureType) -> MusicFeatureType:
    """Add (or replace) a feature type."""
    if not feature.modes or any(m not in MODES for m in feature.modes):
        raise ValueError(f"modes must be a non-empty subset of {MODES}, got {feature.modes}")
    _REGISTRY[feature.name] = feature
    return feature


def music_feature(name: str) -> MusicFeatureType:
    """The feature type of a name, with a one-line error listing the known ones."""
    if name not in _REGISTRY:
        raise UserError(f"unknown music feature {name!r}; known: {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[name]


def provide_extractor(name: str, song: Callable[..., np.ndarray]) -> MusicFeatureType:
    """Give a registered type its full_song extractor (a model-made type, whose code lives above data/)."""
    return register_music_feature(replace(music_feature(name), song=song))


def music_feature_names() -> tuple[str, ...]:
    return tuple(sorted(_REGISTRY))


register_music_feature(
    MusicFeatureType(
        name="baseline",
        dim=baseline.BASELINE_DIM,
        fps=baseline.FPS,
        modes=MODES,
        description="librosa onset envelope, MFCC 20, chroma CENS 12, onset peaks, beats (EDGE recipe)",
        song=baseline.song_features,
        slices=baseline.per_slice_features,
    )
)
register_music_feature(
    MusicFeatureType(
        name="jukebox",
        dim=jukebox.JUKEBOX_DIM,
        fps=jukebox.FPS,
        modes=("full_song",),
        description="OpenAI Jukebox top-prior layer 66 (optional jukebox-infer package and local weights; "
        "untested here)",
        song=jukebox.song_features,
    )
)
register_music_feature(
    MusicFeatureType(
        name="mmr",
        dim=None,
        fps=MMR_ROWS_PER_SECOND,
        modes=("full_song",),
        description="a trained MMR's music embedding of the 5 s window at every 0.5 s (option run=<MMR run folder>)",
        made_by="python MMR/mmr_music_feat256.py --run_dir <MMR run> --dataset_name <dataset>",
    )
)
