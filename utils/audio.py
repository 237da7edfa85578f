"""Reading music: wav, mp3, ogg, flac (through soundfile) and the audio track of videos (mp4, mov, ...) through the
`ffmpeg` binary that `imageio-ffmpeg` ships; mono by default, resampled as asked (librosa's soxr_hq, as
`librosa.load` does). Unreadable files, empty audio, absurd sample rates (outside 1 kHz-1 MHz) and videos without an
audio track end in a one-line `UserError`.
"""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

import imageio_ffmpeg
import librosa
import numpy as np
import soundfile as sf

from utils.cli import UserError

AUDIO_SUFFIXES = (".wav", ".mp3", ".ogg", ".flac", ".aif", ".aiff", ".oga", ".opus")
VIDEO_SUFFIXES = (".mp4", ".mov", ".m4a", ".mkv", ".webm", ".avi", ".aac")
MUSIC_SUFFIXES = AUDIO_SUFFIXES + VIDEO_SUFFIXES
RESAMPLE_TYPE = "soxr_hq"  # librosa.load's default
SAMPLE_RATE_RANGE = (1000, 1_000_000)  # Hz; a header outside it (1 Hz: samples counted as seconds) is refused


def _ffmpeg_decode(path: Path, mono: bool) -> tuple[np.ndarray, int]:
    """The first audio track of a media file at its own rate, decoded by ffmpeg to a float wav in memory and read
    like any audio file (channels averaged when `mono`, as librosa does). -> (N,) or (C, N) float32, sr"""
    cmd = [
        imageio_ffmpeg.get_ffmpeg_exe(),
        "-hide_banner",
        "-nostdin",
        "-i",
        str(path),
        "-map",
        "0:a:0",
        "-vn",
        "-f",
        "wav",
        "-acodec",
        "pcm_f32le",
        "-",
    ]
    res = subprocess.run(cmd, capture_output=True)
    log = res.stderr.decode(errors="replace")
    if res.returncode != 0 or not res.stdout:
        if "matches no streams" in log or "does not contain any stream" in log:
            raise UserError(f"{path}: has no audio track")
        last = log.strip().splitlines()[-1] if log.strip() else f"ffmpeg exit code {res.returncode}"
        raise UserError(f"{path}: not a readable audio or video file ({last})")
    y, sr = _soundfile_decode(io.BytesIO(res.stdout), mono)
    if y is None:
        raise UserError(f"{path}: ffmpeg decoded the audio track into something unreadable")
    return y, sr


def _soundfile_decode(source: Path | io.BytesIO, mono: bool) -> tuple[np.ndarray | None, int]:
    """Samples as `librosa.load` reads them (float32; mono: channels averaged, else (C, N) with C > 1 or (N,)),
    or (None, 0) when libsndfile cannot read them."""
    try:
        y, sr = sf.read(source, dtype="float32", always_2d=True)  # (N, C)
    except (sf.LibsndfileError, RuntimeError, EOFError):
        return None, 0
    y = y.T  # (C, N)
    return (librosa.to_mono(y) if mono or len(y) == 1 else y), int(sr)


def load_audio(path: str | Path, sr: int | None = None, mono: bool = True) -> tuple[np.ndarray, int]:
    """Read a music file.

    Args:
        path: wav / mp3 / ogg / flac / ... or a video with an audio track (mp4, mov, ...).
        sr: target sample rate (None: the file's own).
        mono: average the channels.
    Returns:
        samples (N,) float32 (or (C, N) when `mono` is False and the file has C > 1 channels), and the sample rate.
    """
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: music file not found")
    y, native = _soundfile_decode(path, mono) if path.suffix.lower() in AUDIO_SUFFIXES else (None, 0)
    if y is None:  # videos, and anything libsndfile cannot read: ffmpeg
        y, native = _ffmpeg_decode(path, mono)
    if not SAMPLE_RATE_RANGE[0] <= native <= SAMPLE_RATE_RANGE[1]:
        raise UserError(
            f"{path}: sample rate {native} Hz is outside {SAMPLE_RATE_RANGE[0]}-"
            f"{SAMPLE_RATE_RANGE[1]} Hz; the header is wrong or this is not music"
        )
    if sr is not None and sr != native and y.size:
        y = librosa.resample(y, orig_sr=native, target_sr=sr, res_type=RESAMPLE_TYPE)
    out_sr = sr or native
    if y.size == 0:
        raise UserError(f"{path}: has no audio samples")
    if not np.isfinite(y).all():
        raise UserError(f"{path}: audio contains NaN or Inf")
    return y.astype(np.float32), int(out_sr)
