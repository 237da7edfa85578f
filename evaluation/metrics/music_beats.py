"""Music beats for the Beat Align Score, tracked as each reference protocol tracked them, or read from a file.

Every tracker returns beat times in seconds; a protocol turns them into frame indices at its frame rate
(`beat_frames`), which gives back the reference's own frame indices when the rates agree.

- `bailando` (Bailando `_prepro_aistpp_music.py` + `extractor.py`, the 60 fps `aistpp_test_full_wav` features):
  audio at 30,720 Hz, harmonic/percussive separation, onset strength of the percussive part with a median
  aggregate, `librosa.beat.beat_track` with default settings, hop 512 (60 fps). Bailando loaded audio with
  essentia's MonoLoader; we resample with librosa, so beats can differ by a frame on some songs.
- `edge` (EDGE's 35-d baseline features, whose last column is what POPDG's beat score reads): the beat column of
  `data.audio_extraction.baseline.file_features` on the whole file, 30 fps.
- `lodge` (LODGE `metric/beat_align_score.py::get_music_beat_fromwav`): audio at 15,360 Hz, onset strength, start
  tempo from `librosa.beat.tempo(y=...)` at librosa's default 22,050 Hz although the audio is at 15,360 Hz (kept),
  `beat_track(tightness=100)`, 30 fps.
- `fixed`: the same tracker with the start tempo estimated at the audio's true rate.
"""

from __future__ import annotations

import functools
from pathlib import Path

import librosa
import numpy as np

from data.audio_extraction import baseline
from utils.arrays import is_numeric
from utils.audio import load_audio
from utils.cli import UserError

HOP_LENGTH = 512
BAILANDO_FPS = 60
BAILANDO_SR = BAILANDO_FPS * HOP_LENGTH  # 30,720 Hz
LODGE_SR = baseline.SR  # 15,360 Hz = 30 fps
LIBROSA_DEFAULT_SR = 22050
TRACKERS = ("bailando", "edge", "lodge", "fixed")
BEAT_FILE_SUFFIXES = (".txt", ".npy", ".beats")
MAX_BEAT_SECONDS = 24 * 3600  # a beat time beyond a day is a unit mistake (ms, samples), not music


def _bailando(path: Path) -> np.ndarray:
    y, _ = load_audio(path, sr=BAILANDO_SR)
    _, percussive = librosa.effects.hpss(y)
    envelope = librosa.onset.onset_strength(y=percussive, sr=BAILANDO_SR, aggregate=np.median)
    _, frames = librosa.beat.beat_track(onset_envelope=envelope, sr=BAILANDO_SR, hop_length=HOP_LENGTH)
    return frames / BAILANDO_FPS


def _edge(path: Path) -> np.ndarray:
    beats = baseline.file_features(path, no_chop=True)[:, -1]  # (L,) one-hot, 30 fps
    return np.flatnonzero(beats) / baseline.FPS


def _onset_beats(y: np.ndarray, start_bpm: float) -> np.ndarray:
    envelope = librosa.onset.onset_strength(y=y, sr=LODGE_SR)
    _, frames = librosa.beat.beat_track(
        onset_envelope=envelope,
        sr=LODGE_SR,
        hop_length=HOP_LENGTH,
        start_bpm=start_bpm,
        tightness=baseline.BEAT_TIGHTNESS,
    )
    return frames / baseline.FPS


def _lodge(path: Path) -> np.ndarray:
    y, _ = load_audio(path, sr=LODGE_SR)
    start_bpm = float(librosa.feature.tempo(y=y, sr=LIBROSA_DEFAULT_SR)[0])  # the reference's rate mix-up
    return _onset_beats(y, start_bpm)


def _fixed(path: Path) -> np.ndarray:
    y, _ = load_audio(path, sr=LODGE_SR)
    return _onset_beats(y, float(librosa.feature.tempo(y=y, sr=LODGE_SR)[0]))


_TRACK = {"bailando": _bailando, "edge": _edge, "lodge": _lodge, "fixed": _fixed}


@functools.lru_cache(maxsize=256)
def _tracked(path: str, tracker: str, _stamp: tuple[int, int]) -> np.ndarray:  # _stamp: the cache key only
    times = _TRACK[tracker](Path(path))
    times.setflags(write=False)
    return times


def track_beats(path: str | Path, tracker: str) -> np.ndarray:
    """Beat times (s) of a music file with one of `TRACKERS`. -> (B,) float64 (cached per file, tracker and the
    file's modification time and size, so a file replaced since is tracked again)."""
    if tracker not in _TRACK:
        raise ValueError(f"unknown beat tracker {tracker!r}; expected one of {TRACKERS}")
    try:
        stat = Path(path).stat()
    except OSError as err:
        raise UserError(f"{path}: music file not readable ({err.strerror})") from err
    return _tracked(str(path), tracker, (stat.st_mtime_ns, stat.st_size))


def read_beat_file(path: str | Path) -> np.ndarray:
    """Beat times (s) from a `.txt`/`.beats` file (first column; madmom's `time bar` lines work) or a `.npy` of
    times (N,) or rows (N, C) whose first column is the time. -> (N,) float64, sorted"""
    path = Path(path)
    try:
        if path.suffix == ".npy":
            times = np.load(path, allow_pickle=False)
            if not is_numeric(times) or times.ndim > 2:
                raise UserError(
                    f"{path}: expected beat times in seconds (N,) or (N, C), got {times.shape} {times.dtype}"
                )
            times = times[:, 0] if times.ndim == 2 else times
        else:
            times = np.loadtxt(path, ndmin=2, dtype=np.float64)
            times = times[:, 0] if times.size else times.reshape(0)
    except (OSError, ValueError) as err:
        if isinstance(err, UserError):
            raise
        raise UserError(f"{path}: not a readable beat file ({err}); expected beat times in seconds") from err
    times = np.asarray(times, dtype=np.float64).reshape(-1)
    if not np.isfinite(times).all() or (times < 0).any() or (times > MAX_BEAT_SECONDS).any():
        raise UserError(f"{path}: beat times must be finite seconds in [0, {MAX_BEAT_SECONDS}]")
    return np.sort(times)


def check_beat_folder(folder: str | Path | None) -> None:
    """Read every beat file of a folder now (a bad one ends in one line before any evaluation work)."""
    if folder is None or not Path(folder).is_dir():
        return
    for path in sorted(Path(folder).iterdir()):
        if path.is_file() and path.suffix.lower() in BEAT_FILE_SUFFIXES:
            read_beat_file(path)


def beat_frames(times: np.ndarray, fps: float) -> np.ndarray:
    """Beat times (s) -> unique frame indices at `fps`. -> (B',) int64"""
    return np.unique(np.round(np.asarray(times) * fps).astype(np.int64))
