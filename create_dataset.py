"""Build a processed dataset: motion features, music features, EDGE windows, splits, Mean/Std, summary.json.

    python create_dataset.py --dataset_name souldance --extract-baseline [--extract-jukebox --jukebox_weights DIR]
                             [--data_root DIR] [--stride 0.5] [--length 5.0] [--feature_mode full_song|per_slice]

Raw layouts per dataset: see data/registry.py (and the README). `--dataset_name synthetic` first generates the
embedded synthetic pairs when the folder has none. Re-running skips finished work; an interrupted build resumes.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from data.dataset_build import BuildOptions, build_dataset, prepare_raw
from data.paths import canonical_dataset, dataset_dir
from data.registry import DATASETS, dataset_spec
from utils.arg_types import positive_float, positive_int, seed_int
from utils.cli import setup_logging, user_errors_exit

logger = logging.getLogger("create_dataset")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "--dataset_name",
        default="souldance",
        type=canonical_dataset,
        choices=tuple(DATASETS),
        help="which raw layout to read (findance is accepted for finedance)",
    )
    p.add_argument("--data_root", type=Path, help="dataset folder (default: data/<dataset_name>/)")
    p.add_argument("--extract-baseline", dest="extract_baseline", action="store_true", help="35-d librosa features")
    p.add_argument("--extract-jukebox", dest="extract_jukebox", action="store_true", help="4800-d Jukebox features")
    p.add_argument("--jukebox_weights", type=Path, help="folder with Jukebox's vqvae.pth.tar, prior_level_2.pth.tar")
    p.add_argument("--stride", type=positive_float, default=0.5, help="window stride, seconds")
    p.add_argument("--length", type=positive_float, default=5.0, help="window length, seconds")
    p.add_argument(
        "--fps", type=positive_int, default=30, help="frame rate of the processed data (the project runs at 30)"
    )
    p.add_argument(
        "--feature_mode",
        default="full_song",
        choices=("full_song", "per_slice"),
        help="music features once per song (fast) or per 5 s slice (EDGE, number for number)",
    )
    p.add_argument("--workers", type=positive_int, default=1, help="parallel processes")
    p.add_argument("--seed", type=seed_int, default=0, help="seeds the split when the dataset ships no split lists")
    p.add_argument(
        "--synthetic_songs", type=positive_int, default=8, help="songs generated for --dataset_name synthetic"
    )
    return p


@user_errors_exit
def main(argv: list[str] | None = None) -> dict:
    args = build_parser().parse_args(argv)
    setup_logging()
    types = tuple(t for t, on in (("baseline", args.extract_baseline), ("jukebox", args.extract_jukebox)) if on)
    opts = BuildOptions(
        root=dataset_dir(args.dataset_name, args.data_root),
        spec=dataset_spec(args.dataset_name),
        stride=args.stride,
        length=args.length,
        fps=args.fps,
        music_types=types,
        feature_mode=args.feature_mode,
        workers=args.workers,
        seed=args.seed,
        music_options={"jukebox": {"weights_dir": args.jukebox_weights}},
    )
    prepare_raw(opts, args.synthetic_songs)
    summary = build_dataset(opts)
    logger.info(
        "%s: %d clips, %d sequences, %.2f h, windows %s, motion %d-d, music %s -> %s",
        summary["dataset"],
        summary["clips"],
        summary["sequences"],
        summary["hours"],
        summary["windows_per_split"],
        summary["motion_dim"],
        list(summary["music"]) or "none",
        opts.out,
    )
    for item in summary["skipped"]:
        logger.warning("skipped %s: %s", item["item"], item["reason"])
    return summary


if __name__ == "__main__":
    main()
