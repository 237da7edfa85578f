"""Step 3 (optional): a PNG of motion features (b x frame x 623, or 263 / 723), one panel per feature block.

    python plot_feature.py [--input FILE|DIR] [--out FILE|DIR] [--width 1600] [--height 1200]

Default input: the first file of data/<dataset_name>/motion_723 (or motion_623); PNGs go to
data/<dataset_name>/plots/<name>_features.png. A batch file (B, T, D) gives one PNG per sequence.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from data.motion_pipeline import feature_sequences
from options.data_options import add_dataset_options, start_data_script
from utils.batch import list_files, run_batch
from utils.cli import user_errors_exit
from utils.feature_plot import plot_features

logger = logging.getLogger("plot_feature")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--input", type=Path, help="features .npy (T, D) or (B, T, D), or a folder of them")
    p.add_argument("--out", type=Path, help="output .png (one input) or folder (default: data/<ds>/plots)")
    p.add_argument("--max_files", type=int, default=1, help="files plotted from a folder (0: all)")
    p.add_argument("--width", type=int, default=1600, help="image width in pixels")
    p.add_argument("--height", type=int, default=1200, help="image height in pixels")
    p.add_argument("--fps", type=float, default=30.0, help="frame rate of the features")
    add_dataset_options(p)
    return p


def plot_file(path: Path, out: Path, args: argparse.Namespace) -> list[Path]:
    feats = feature_sequences(path)  # (B, T, D)
    outs = [out] if len(feats) == 1 else [out.with_name(f"{out.stem}_{b}.png") for b in range(len(feats))]
    return [plot_features(f, o, args.fps, f"{path.name} [{b}] {f.shape}", args.width, args.height)
            for b, (f, o) in enumerate(zip(feats, outs, strict=True))]  # fmt: skip


def default_input(root: Path) -> Path:
    """The dataset's feature folder: motion_723, else motion_623, else motion_263."""
    found = [root / n for n in ("motion_723", "motion_623", "motion_263") if (root / n).is_dir()]
    return found[0] if found else root / "motion_723"


@user_errors_exit
def main(argv: list[str] | None = None) -> list[Path]:
    args, root, src = start_data_script(build_parser(), argv, "input", default_input,
                                        "no features here; run motion_representation.py first or give --input FILE")
    if src.is_dir():
        files = list_files(src, (".npy",))[: args.max_files or None]
        out_dir = args.out or root / "plots"
        step = lambda f: plot_file(f, out_dir / f"{f.stem}_features.png", args)  # noqa: E731
        return [p for ps in run_batch(files, step, desc="plot_feature", dest=out_dir).results for p in ps]
    pngs = plot_file(src, args.out or root / "plots" / f"{src.stem}_features.png", args)
    logger.info("wrote %s", ", ".join(str(p) for p in pngs))
    return pngs


if __name__ == "__main__":
    main()
