"""Encode music with a trained MMR: 256-d embeddings of every 5 s window (the `mmr` music feature) and of 1 s segments.

    cd MMR && python mmr_music_feat256.py                      # the seed: run outputs/mmr_res, its own dataset
    python MMR/mmr_music_feat256.py --run_dir MMR/outputs/mmr_res --dataset_name aistpp
    python MMR/mmr_music_feat256.py --run_dir MMR/outputs/mmr_res --audio song.mp3 --out_dir mmr_feats/

Dataset mode (default): for every song of the processed dataset (the checkpoint's own unless `--dataset_name` /
`--data_root` say otherwise), reads the music features the MMR was trained on (type and mode from the checkpoint)
and writes `music/mmr/<song>.npy` (n_windows, 256): row k is the embedding (the VAE mean, `sample_mean`) of the
window starting at frame k * stride (the dataset's window stride, 0.5 s), and `music/mmr/segments/<song>.npy`
(n_seconds, 256): one per 1 s segment, for the MMR matching score. summary.json then lists `mmr` as a music
feature type. Audio mode (`--audio`, a file or a folder): computes the source features from the audio and writes
the same two arrays per file under `--out_dir`. The run folder defaults to the seed's `outputs/mmr_res`, looked up
from the current folder and then from `MMR/`.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import numpy as np
from tqdm import tqdm

from data.dataset_build import write_summary
from data.loaders import ProcessedData
from MMR.embedder import SEGMENT_FRAMES, MMREmbedder, add_mmr_run_options, mmr_and_dataset
from MMR.music_features import STRIDE_FRAMES, WINDOW_FRAMES, embed_song, source_features
from utils.atomic import save_npy
from utils.audio import MUSIC_SUFFIXES
from utils.checkpoint import file_fingerprint
from utils.cli import UserError, setup_logging, user_errors_exit

logger = logging.getLogger("mmr_music_feat256")
FEATURE_DIR = "music/mmr"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_mmr_run_options(p)
    p.add_argument("--audio", type=Path, help="a music file or a folder of them, instead of a dataset")
    p.add_argument("--out_dir", type=Path, help="where --audio embeddings go (default: <run_dir>/music_feats/)")
    return p


def encode_dataset(embedder: MMREmbedder, data: ProcessedData) -> dict:
    """Write the `mmr` features of every song of a processed dataset and register them in its summary."""
    source_dir, mode = data.music_dir(embedder.music_type)  # one line naming create_dataset when missing
    trained_mode = embedder.data.get("music_mode", mode)
    if mode != trained_mode:
        raise UserError(
            f"{data.root}: {embedder.music_type} features are {mode}, the MMR ({embedder.source}) was "
            f"trained on {trained_mode} ones; rebuild with --feature_mode {trained_mode}"
        )
    window = data.summary.get("window", {})
    stride, frames = int(window.get("stride_frames", STRIDE_FRAMES)), int(window.get("frames", WINDOW_FRAMES))
    songs = sorted({c.get("music", c["name"]) for c in data.clips})
    out = data.root / FEATURE_DIR
    for song in tqdm(songs, desc="mmr music", unit="song"):
        windows, segments = embed_song(np.load(source_dir / f"{song}.npy"), embedder, stride, frames)
        save_npy(out / f"{song}.npy", windows)
        save_npy(out / "segments" / f"{song}.npy", segments)
    info = {
        "mode": "full_song",
        "dim": int(windows.shape[-1]),
        "dir": FEATURE_DIR,
        "segments_dir": f"{FEATURE_DIR}/segments",
        "stride_frames": stride,
        "window_frames": frames,
        "segment_frames": SEGMENT_FRAMES,
        "source": {"type": embedder.music_type, "mode": mode},
        "checkpoint": embedder.source,
        "fingerprint": file_fingerprint(embedder.source),
    }
    summary = dict(data.summary)
    summary["music"] = {**summary["music"], "mmr": info}
    write_summary(data.root, summary)
    logger.info("%d songs -> %s (window every %d frames, 1 s segments)", len(songs), out, stride)
    return info


def encode_audio(embedder: MMREmbedder, audio: Path, out_dir: Path) -> list[Path]:
    """Write `<stem>.npy` (window embeddings) and `segments/<stem>.npy` for a music file or every one in a folder."""
    files = sorted(f for f in audio.iterdir() if f.suffix.lower() in MUSIC_SUFFIXES) if audio.is_dir() else [audio]
    if not files:
        raise UserError(f"{audio}: no music files ({', '.join(MUSIC_SUFFIXES)})")
    if not files[0].exists():
        raise UserError(f"{audio}: no such file")
    written = []
    for f in tqdm(files, desc="mmr music", unit="file"):
        windows, segments = embed_song(source_features(f, embedder), embedder)
        save_npy(out_dir / f"{f.stem}.npy", windows)
        save_npy(out_dir / "segments" / f"{f.stem}.npy", segments)
        written.append(out_dir / f"{f.stem}.npy")
    logger.info("%d files -> %s", len(files), out_dir)
    return written


@user_errors_exit
def main(argv: list[str] | None = None) -> dict | list[Path]:
    setup_logging()
    args = build_parser().parse_args(argv)
    run, embedder, data = mmr_and_dataset(args, need_data=args.audio is None)
    if args.audio is not None:
        return encode_audio(embedder, args.audio, args.out_dir or (run if run.is_dir() else run.parent) / "music_feats")
    return encode_dataset(embedder, data)


if __name__ == "__main__":
    main()
