"""Benchmark: batches from the processed-data loaders as tensors; prints JSON.

    python bench/loading.py [--minutes 60] [--batches 40]
Tokenizer windows (64 frames, batch 256, 723-d) and music-motion clips (150-frame windows cropped to 148, batch 256,
35-d baseline music), with normalisation in the loader and left to the device. The processed dataset is written
from random arrays in a temporary folder, so the benchmark runs on any machine.
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
import time
from pathlib import Path

import numpy as np

from data.dataset_build import SPLITS
from data.loaders import MusicMotionClips, ProcessedData, TokenizerWindows, make_loader
from utils.timing import machine_info


def fake_processed(root: Path, minutes: float, dim: int = 723, music_dim: int = 35, clip_s: float = 60.0) -> Path:
    """A processed dataset of random features: `minutes` of motion in clips of `clip_s` seconds, all in train."""
    rng = np.random.default_rng(0)
    out = root / "processed"
    (out / "motion").mkdir(parents=True)
    (out / "music" / "baseline_full_song").mkdir(parents=True)
    n_clips, frames = max(1, round(minutes * 60 / clip_s)), round(clip_s * 30)
    clips, windows = [], []
    for i in range(n_clips):
        np.save(out / "motion" / f"c{i}.npy", rng.normal(size=(frames - 1, dim)).astype(np.float32))
        music = rng.normal(size=(frames, music_dim)).astype(np.float32)
        np.save(out / "music" / "baseline_full_song" / f"c{i}.npy", music)
        clips.append({"name": f"c{i}", "sequence": f"c{i}", "split": "train"})
        starts = np.arange(0, frames - 1 - 150 + 1, 15)
        windows.append(np.stack([np.full(len(starts), i), starts, np.full(len(starts), 150)], 1))
    np.save(out / "windows.npy", np.concatenate(windows))
    np.save(out / "Mean.npy", np.zeros(dim, np.float32))
    np.save(out / "Std.npy", np.ones(dim, np.float32))
    (out / "clips.json").write_text(json.dumps(clips))
    music_info = {"baseline": {"mode": "full_song", "dim": music_dim, "dir": "music/baseline_full_song"}}
    summary = {
        "dataset": "bench",
        "clips_per_split": {s: n_clips if s == "train" else 0 for s in SPLITS},
        "music": music_info,
    }
    (out / "summary.json").write_text(json.dumps(summary))
    return out


def rate(loader, batches: int, key: str | None = None) -> float:
    """Items per second over `batches` batches (after one warm-up batch), across epochs if needed."""

    def forever():
        while True:
            yield from loader

    it = forever()
    next(it)
    n, t0 = 0, time.perf_counter()
    for _ in range(batches):
        b = next(it)
        n += len(b[key] if key else b)
    return n / (time.perf_counter() - t0)


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--minutes", type=float, default=60.0, help="minutes of motion in the fake dataset")
    p.add_argument("--batches", type=int, default=40, help="timed batches per measurement")
    args = p.parse_args(argv)
    logging.disable(logging.INFO)
    with tempfile.TemporaryDirectory() as tmp:
        data = ProcessedData(fake_processed(Path(tmp), args.minutes))
        result = {"benchmark": "loading", "motion_minutes": args.minutes, "batch": 256}
        for normalize in (True, False):
            tag = "normalised_in_loader" if normalize else "normalised_on_device"
            windows = TokenizerWindows(data, "train", window_size=64, normalize=normalize)
            result[f"tokenizer_windows_per_s_{tag}"] = round(rate(make_loader(windows, 256), args.batches))
            clips = MusicMotionClips(data, "train", "baseline", normalize=normalize)
            result[f"clips_per_s_{tag}"] = round(rate(make_loader(clips, 256), args.batches, key="motion"))
    result.update(targets={"tokenizer_windows_per_s": 20000, "clips_per_s": 4000}, machine=machine_info())
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
