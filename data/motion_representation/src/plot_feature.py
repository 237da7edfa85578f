"""Step 3 (optional): a PNG of motion features (b x frame x 623, or 263 / 723), one panel per feature block.

    python plot_feature.py [--input FILE|DIR] [--out FILE|DIR] [--width 1600] [--height 1200]

Default input: the first file of data/<dataset_name>/motion_723 (or motion_623); PNGs go to
data/<dataset_name>/plots/<name>_features.png. A batch file (B, T, D) gives one PNG per sequence; PNGs that exist
are kept unless `--overwrite`.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from data.motion_pipeline import input_files, run_planned
from export.plot_inputs import plot_feature_file
from options.data_options import add_dataset_options, start_data_script
from utils.cli import user_errors_exit
from utils.outputs import refuse_overwriting_inputs

logger = logging.getLogger("plot_feature")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--input", type=Path, help="features .npy (T, D) or (B, T, D), or a folder of them")
    p.add_argument("--out", type=Path, help="output .png (one input) or folder (default: data/<ds>/plots)")
    p.add_argument("--max_files", type=int, default=1, help="files plotted from a folder (0: all)")
    p.add_argument("--width", type=int, default=1600, help="image width in pixels")
    p.add_argument("--height", type=int, default=1200, help="image height in pixels")
    p.add_argument("--fps", type=float, default=30.0, help="frame rate of the features")
    p.add_argument("--overwrite", action="store_true", help="replace PNGs that exist (default: keep them)")
    add_dataset_options(p)
    return p


def default_input(root: Path) -> Path:
    """The dataset's feature folder: motion_723, else motion_623, else motion_263."""
    found = [root / n for n in ("motion_723", "motion_623", "motion_263") if (root / n).is_dir()]
    return found[0] if found else root / "motion_723"


@user_errors_exit
def main(argv: list[str] | None = None) -> list[Path]:
    args, root, src = start_data_script(
        build_parser(),
        argv,
        "input",
        default_input,
        "no features here; run motion_representation.py first or give --input FILE",
    )
    folder = src if src.is_dir() else None
    out = args.out or (root / "plots" if folder else root / "plots" / f"{src.stem}_features.png")
    refuse_overwriting_inputs({"--out": out}, {"--input": src})
    planned = {
        f: [out / f"{f.stem}_features.png" if folder else out]
        for f in input_files(src, (".npy",), limit=args.max_files)
    }
    pngs = run_planned(
        planned,
        lambda f: plot_feature_file(f, planned[f][0], args.fps, args.width, args.height, args.overwrite),
        args.overwrite,
        "plot_feature",
        out,
        single=folder is None,
    )
    return [png for ps in pngs for png in ps]


if __name__ == "__main__":
    main()
