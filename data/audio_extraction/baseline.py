"""The 35-d librosa "baseline" music features of EDGE / SoulDance / FineDance / LODGE, at 30 fps.

Per frame (hop 512 at 15,360 Hz = 30 fps): onset envelope 1 | MFCC 20 | chroma CENS 12 | onset peaks 1 | beats 1.
Two modes (DESIGN.md §3):
- `per_slice` reproduces EDGE's `extract` number for number: the song is cut at its own sample rate into 5 s slices
  every 0.5 s, each slice goes through a 16-bit wav (as EDGE writes its slice files), is re-read at 15,360 Hz, and
  gets its own features; the beat tracker starts from the AIST++ tempo in the file name, else from librosa's tempo
  estimate of the slice re-read at 22,050 Hz; the result is cut to 150 frames.
- `full_song` (default) computes the features once over the whole song and windows them: much faster, but values
  differ by design (librosa normalises dB and chroma over its whole input, the beat tracker sees the whole song, and
  its start tempo comes from the song's own onset envelope rather than from a second read at 22,050 Hz).

    python -m data.audio_extraction.baseline IN --out OUT.npy [--per_slice] [--no_chop]
"""

from __future__ import annotations

import argparse
import io
import logging
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import librosa
import numpy as np
import soundfile as sf

from motion.frame import FPS
from utils.atomic import save_npy
from utils.audio import MUSIC_SUFFIXES, load_audio
from utils.cli import UserError, setup_logging, user_errors_exit

logger = logging.getLogger(__name__)

HOP_LENGTH = 512
SR = FPS * HOP_LENGTH  # 15,360 Hz: one hop per motion frame
TEMPO_SR = 22050  # EDGE's fallback tempo estimate loads the slice at librosa's default rate
SLICE_SECONDS, STRIDE_SECONDS = 5.0, 0.5
SLICE_FRAMES = round(SLICE_SECONDS * FPS)  # 150
BASELINE_DIM = 35
N_MFCC, N_CHROMA = 20, 12
BEAT_TIGHTNESS = 100
# AIST++ music ids (5th '_' field of a file name, e.g. mBR0): genre -> (base BPM, BPM per id step)
AIST_TEMPO = {**{g: (80, 10) for g in ("mBR", "mPO", "mLO", "mMH", "mLH", "mWA", "mKR", "mJS", "mJB")}, "mHO": (110, 5)}


def aist_tempo(name: str) -> float | None:
    """The BPM an AIST++ name encodes: a motion name (`gBR_sBM_cAll_d04_mBR0_ch02` -> 80, its 5th field, as EDGE
    parses it) or a bare music id (`mBR0` -> 80, the AIST++ music files); None for other names."""
    fields = name.split("_")
    music_id = fields[4] if len(fields) >= 5 else name if len(fields) == 1 else ""
    if len(music_id) != 4 or music_id[:3] not in AIST_TEMPO or not music_id[3].isdigit():
        return None
    base, step = AIST_TEMPO[music_id[:3]]
    return float(int(music_id[3]) * step + base)


def estimate_tempo(y_tempo_sr: np.ndarray) -> float:
    """librosa's global tempo estimate of audio at 22,050 Hz (EDGE's `lr.beat.tempo(y=lr.load(f)[0])[0]`)."""
    return float(librosa.feature.tempo(y=y_tempo_sr, sr=TEMPO_SR)[0])


def baseline_features(y: np.ndarray, start_bpm: float | None) -> np.ndarray:
    """The 35-d features of audio at 15,360 Hz, call by call as EDGE computes them. (N,) -> (L, 35) float32

    `start_bpm` seeds the beat tracker; None estimates it from this onset envelope (the full_song mode's choice:
    EDGE re-reads the audio at 22,050 Hz for that, which costs more than the features on a whole song).
    """
    with ThreadPoolExecutor(max_workers=1) as pool:  # the CQT chroma (the slowest part) runs beside the rest
        chroma_job = pool.submit(librosa.feature.chroma_cens, y=y, sr=SR, hop_length=HOP_LENGTH, n_chroma=N_CHROMA)
        envelope = librosa.onset.onset_strength(y=y, sr=SR)  # (L,)
        if start_bpm is None:
            start_bpm = float(librosa.feature.tempo(onset_envelope=envelope, sr=SR, hop_length=HOP_LENGTH)[0])
        mfcc = librosa.feature.mfcc(y=y, sr=SR, n_mfcc=N_MFCC).T  # (L, 20)
        chroma = chroma_job.result().T  # (L, 12)
    peak_idxs = librosa.onset.onset_detect(onset_envelope=envelope.flatten(), sr=SR, hop_length=HOP_LENGTH)
    peaks = np.zeros_like(envelope, dtype=np.float32)
    peaks[peak_idxs] = 1.0
    _, beat_idxs = librosa.beat.beat_track(
        onset_envelope=envelope, sr=SR, hop_length=HOP_LENGTH, start_bpm=start_bpm, tightness=BEAT_TIGHTNESS
    )
    beats = np.zeros_like(envelope, dtype=np.float32)
    beats[beat_idxs] = 1.0
    feats = np.concatenate([envelope[:, None], mfcc, chroma, peaks[:, None], beats[:, None]], axis=-1)
    return feats.astype(np.float32)


def chop(feats: np.ndarray, source: str | Path, seconds: float, length: float = SLICE_SECONDS) -> np.ndarray:
    """EDGE's cut to exactly `length` s (150 frames for 5 s); shorter audio (`seconds`) is a one-line error."""
    n = round(length * FPS)
    if len(feats) < n:
        raise UserError(
            f"{source}: {seconds:.2f} s of audio, a slice needs {length:g} s (use --no_chop to keep every frame)"
        )
    return feats[:n]


def file_features(path: str | Path, no_chop: bool = False) -> np.ndarray:
    """EDGE's `extract` on one file taken as a slice: (150, 35), or every frame with `no_chop`."""
    path = Path(path)
    y, _ = load_audio(path, sr=SR)
    start_bpm = aist_tempo(path.stem)
    if start_bpm is None:
        start_bpm = estimate_tempo(load_audio(path, sr=TEMPO_SR)[0])
    feats = baseline_features(y, start_bpm)
    if not no_chop and len(y) > SLICE_SECONDS * SR + HOP_LENGTH:
        logger.warning(
            "%s: %.1f s long; EDGE's extract keeps its first %g s (--no_chop keeps every frame, "
            "per_slice_features() slices a whole song)",
            path,
            len(y) / SR,
            SLICE_SECONDS,
        )
    return feats if no_chop else chop(feats, path, len(y) / SR)


def edge_slices(
    y: np.ndarray, sr: int, stride: float = STRIDE_SECONDS, length: float = SLICE_SECONDS
) -> list[np.ndarray]:
    """EDGE's `slice_audio` at the song's own rate: windows of `length` s every `stride` s (the last partial one
    dropped). -> [(window,)]"""
    window, step = int(length * sr), int(stride * sr)
    return [y[s : s + window] for s in range(0, len(y) - window + 1, step)]


def _as_slice_file(y: np.ndarray, sr: int) -> io.BytesIO:
    """A slice as EDGE stores it: a 16-bit PCM wav (soundfile's default for .wav)."""
    buf = io.BytesIO()
    sf.write(buf, y, sr, format="WAV")
    buf.seek(0)
    return buf


def per_slice_features(path: str | Path, stride: float = STRIDE_SECONDS, length: float = SLICE_SECONDS) -> np.ndarray:
    """EDGE's per-slice features of a whole song: slice, write, re-read, extract. -> (n_slices, 150, 35)"""
    path = Path(path)
    y, sr = load_audio(path)  # native rate, mono: EDGE's lr.load(f, sr=None)
    start_bpm = aist_tempo(path.stem)  # slice names keep the song's fields, so the AIST++ tempo is the song's
    out = []
    for piece in edge_slices(y, sr, stride, length):
        wav = _as_slice_file(piece, sr)
        y_slice, _ = librosa.load(wav, sr=SR)
        bpm = start_bpm
        if bpm is None:
            wav.seek(0)
            bpm = estimate_tempo(librosa.load(wav)[0])
        out.append(chop(baseline_features(y_slice, bpm), path, len(y_slice) / SR, length))
    if not out:
        raise UserError(f"{path}: {len(y) / sr:.2f} s of audio, shorter than one {length:g} s slice")
    return np.stack(out)


def song_features(path: str | Path) -> np.ndarray:
    """`full_song` mode: the features of the whole song at once. -> (L, 35), L = 1 + samples // 512 at 15,360 Hz

    The beat tracker starts from the AIST++ tempo of the name, else from the tempo of the song's own onset envelope.
    """
    path = Path(path)
    y, _ = load_audio(path, sr=SR)
    return baseline_features(y, aist_tempo(path.stem))


def windows(feats: np.ndarray, length: int = SLICE_FRAMES, stride: int = round(STRIDE_SECONDS * FPS)) -> np.ndarray:
    """Windows of a full-song feature sequence, as views (no copy). (L, D) -> (n, length, D)

    Counted in frames: for about 7 % of song lengths this gives one window more than EDGE's slicer, whose count is
    taken in samples (the last window then ends on the final, partial frame).
    """
    if len(feats) < length:
        return feats[:0, None].repeat(length, axis=1)
    view = np.lib.stride_tricks.sliding_window_view(feats, length, axis=0)  # (L - length + 1, D, length)
    return view[::stride].transpose(0, 2, 1)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m data.audio_extraction.baseline",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("input", type=Path, help="music file (wav/mp3/ogg/flac/mp4/...) or a folder of them")
    p.add_argument("--out", type=Path, help="output .npy (a folder for a folder input; default: beside the input)")
    p.add_argument(
        "--per_slice",
        action="store_true",
        help="EDGE's extract on the file as one slice (number for number); default: full_song",
    )
    p.add_argument("--no_chop", action="store_true", help="with --per_slice: keep every frame, not the first 150")
    return p


def extract_file(path: Path, out: Path, per_slice: bool, no_chop: bool) -> Path:
    """One music file -> `out` (.npy of (L, 35))."""
    feats = file_features(path, no_chop) if per_slice else song_features(path)  # (L, 35)
    return save_npy(out, feats)


@user_errors_exit
def main(argv: list[str] | None = None) -> list[Path]:
    from utils.batch import list_files, run_batch
    from utils.outputs import refuse_duplicate_outputs

    args = build_parser().parse_args(argv)
    setup_logging()
    if args.no_chop and not args.per_slice:
        raise UserError("--no_chop goes with --per_slice (full_song always keeps every frame)")
    if args.input.is_dir():
        out_dir = args.out or args.input
        files = list_files(args.input, MUSIC_SUFFIXES)
        refuse_duplicate_outputs({f: [out_dir / f"{f.stem}.npy"] for f in files})  # song.wav + song.mp3: one line
        step = lambda f: extract_file(f, out_dir / f"{f.stem}.npy", args.per_slice, args.no_chop)  # noqa: E731
        return run_batch(files, step, "baseline features", out_dir).results
    out = extract_file(args.input, args.out or args.input.with_suffix(".npy"), args.per_slice, args.no_chop)
    logger.info("wrote %s %s", out, np.load(out).shape)
    return [out]


if __name__ == "__main__":
    main()
