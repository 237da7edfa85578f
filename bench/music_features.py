"""Benchmark: 35-d baseline music features of 10 minutes of music, `full_song` versus EDGE's `per_slice`
(5 s windows every 0.5 s), in one run; prints JSON.

    python bench/music_features.py [--minutes 10]
The music is synthesised (drums, bass, chords at 120 BPM), so the benchmark runs on any machine.
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
import time
from pathlib import Path

import librosa
import numpy as np
import soundfile as sf

from data.audio_extraction.baseline import SR as FEATURE_SR
from data.audio_extraction.baseline import baseline_features, per_slice_features, song_features
from utils.timing import machine_info

SR = 22050


def synth_music(seconds: float, bpm: float = 120.0) -> np.ndarray:
    """Kick on the beat, off-beat hats, a bass line and a chord pad. -> (N,) float32"""
    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * SR)) / SR
    beat = (t * bpm / 60) % 1.0
    bar = (t * bpm / 240).astype(int) % 4
    root = np.array([110.0, 146.8, 130.8, 98.0])[bar]
    y = 0.15 * np.sin(2 * np.pi * root * t) + 0.05 * sum(np.sin(2 * np.pi * root * r * 2 * t) for r in (1, 1.26, 1.5))
    y += 0.6 * np.sin(2 * np.pi * 60 * t) * np.exp(-beat * 12)  # kick
    y += 0.1 * rng.normal(size=len(t)) * np.exp(-((beat + 0.5) % 1.0) * 40)  # hats
    return (0.5 * y).astype(np.float32)


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--minutes", type=float, default=10.0, help="length of the music, minutes")
    args = p.parse_args(argv)
    logging.disable(logging.INFO)
    with tempfile.TemporaryDirectory() as tmp:
        song = Path(tmp) / "song.wav"
        sf.write(song, synth_music(args.minutes * 60), SR)
        warm = synth_music(5.0)  # compile librosa's numba kernels outside the timings
        baseline_features(librosa.resample(warm, orig_sr=SR, target_sr=FEATURE_SR), None)
        librosa.feature.tempo(y=warm, sr=SR)
        t0 = time.perf_counter()
        full = song_features(song)
        full_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        sliced = per_slice_features(song)
        slice_s = time.perf_counter() - t0
    result = {
        "benchmark": "music_features",
        "audio_minutes": args.minutes,
        "full_song_s": round(full_s, 3),
        "full_song_frames": int(full.shape[0]),
        "per_slice_s": round(slice_s, 3),
        "per_slice_slices": int(sliced.shape[0]),
        "speedup": round(slice_s / full_s, 1),
        "target_speedup": 25,
        "machine": machine_info(),
    }
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
