"""The music a MAGE checkpoint dances to: frame-level features of its type and mode, for a file or a dataset song.

A checkpoint records the music feature type and mode it was trained on (`baseline` full_song, ...) and, for clip
conditioning, the MMR whose music encoder reads its own type. `file_music` computes both for any music file with
the registry's extractors (the same code that built the training data), one row per output frame: a song of d
seconds gives round(30 d) frames. `dataset_music` reads them from a processed dataset instead. Per-slice features
(EDGE's 5 s slices every 0.5 s; the dataset's stride for dataset songs) become frame-level by taking every frame
from the slice that starts at or before it on a 5 s grid, so each frame keeps the values its slice computation gave
it; a generation window can then span two slice computations, which a training window never does (full_song music,
the default, has no such seam).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from data.audio_extraction.registry import music_feature
from data.loaders import ProcessedData
from motion.frame import FPS
from utils.audio import load_audio
from utils.cli import UserError

MIN_SECONDS = 1.0  # shorter music is refused: not a dance
SILENCE_PEAK = 1e-4  # peak amplitude under which a file counts as silent
SLICE_STRIDE_FRAMES = 15  # per_slice features: one 150-frame slice every 0.5 s


@dataclass
class SongMusic:
    """One song, ready for `longform.generate_long`.

    Args:
        name: output name (the file stem or the dataset song).
        frames: output frames, round(30 * duration).
        music: (frames, Dm) the features the transformers read.
        clip_source: (frames, Dm') the features the MMR reads (None when the MMR reads `music` or there is none).
        audio: the music file (muxed into the video), when there is one.
    """

    name: str
    frames: int
    music: np.ndarray
    clip_source: np.ndarray | None = None
    audio: Path | None = None


def slices_to_frames(slices: np.ndarray, frames: int, stride: int = SLICE_STRIDE_FRAMES) -> np.ndarray:
    """Frame-level features (frames, D) from per-slice features (n, L, D) whose slice k starts at frame k * stride:
    frame t comes from the last slice on the L-frame grid that starts at or before it (the last slice covers the
    tail)."""
    n, length = slices.shape[:2]
    per_grid = max(1, length // stride)  # slices between two grid slices (10 for 5 s slices every 0.5 s)
    t = np.arange(frames)
    k = np.minimum(t // (per_grid * stride) * per_grid, n - 1)
    offset = np.minimum(t - k * stride, length - 1)
    return slices[k, offset]


def fit_frames(feats: np.ndarray, frames: int) -> np.ndarray:
    """Full-song features cut to `frames` rows (or padded by repeating the last one)."""
    if len(feats) >= frames:
        return feats[:frames]
    return np.concatenate([feats, np.repeat(feats[-1:], frames - len(feats), axis=0)])


def music_frames(path: str | Path) -> int:
    """Output frames of a music file, round(30 d), after checking it is music one can dance to."""
    y, sr = load_audio(path)
    seconds = len(y) / sr
    if seconds < MIN_SECONDS:
        raise UserError(f"{path}: {seconds:.2f} s of music; at least {MIN_SECONDS:g} s is needed")
    if np.abs(y).max() < SILENCE_PEAK:
        raise UserError(f"{path}: the audio is silent (peak amplitude {np.abs(y).max():.1e})")
    return round(FPS * seconds)


def file_features(path: str | Path, music_type: str, mode: str, frames: int) -> np.ndarray:
    """(frames, D) features of one type and mode for a music file."""
    feats = music_feature(music_type).extract(path, mode).astype(np.float32)
    return slices_to_frames(feats, frames) if feats.ndim == 3 else fit_frames(feats, frames)


def _separate_mmr_music(mage) -> tuple[str, str] | None:
    """(type, mode) of the music the MMR reads when it is not the transformers' own, else None."""
    if mage.mmr is None or mage.mmr.music_type == mage.music["music_type"]:
        return None
    return mage.mmr.music_type, mage.mmr.data.get("music_mode", "full_song")


def file_music(mage, path: str | Path) -> SongMusic:
    """The music of a file as `mage` (a `training.MAGEModels`) reads it."""
    path = Path(path)
    frames = music_frames(path)
    cfg = mage.music
    music = file_features(path, cfg["music_type"], cfg["music_mode"], frames)
    mmr_music = _separate_mmr_music(mage)
    clip_source = None if mmr_music is None else file_features(path, *mmr_music, frames)
    return SongMusic(path.stem, frames, music, clip_source, path)


def _dataset_features(data: ProcessedData, music_type: str, mode: str, song: str, frames: int) -> np.ndarray:
    folder, have = data.music_dir(music_type)
    if have != mode:
        raise UserError(f"{data.root}: {music_type!r} features are {have}, the checkpoint was trained on {mode}")
    feats = np.load(folder / f"{song}.npy").astype(np.float32)
    if feats.ndim == 3:  # per_slice, at the dataset's window stride
        return slices_to_frames(feats, frames, int(data.summary["window"]["stride_frames"]))
    return fit_frames(feats, frames)


def dataset_music(mage, data: ProcessedData, clip: int, audio: dict[str, Path] | None = None) -> SongMusic:
    """The music of clip `clip` of a processed dataset (its motion's length) as `mage` reads it; `audio`: the
    dataset's music files by song (`data.registry.music_files`), for the video and the beats."""
    info = data.clips[clip]
    song, frames = info.get("music", info["name"]), len(data.motion(clip))
    cfg = mage.music
    music = _dataset_features(data, cfg["music_type"], cfg["music_mode"], song, frames)
    mmr_music = _separate_mmr_music(mage)
    clip_source = None if mmr_music is None else _dataset_features(data, *mmr_music, song, frames)
    return SongMusic(info["name"], frames, music, clip_source, (audio or {}).get(song))
