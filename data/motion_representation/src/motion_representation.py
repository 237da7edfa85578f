"""Step 2 of data preparation: joints -> 623-d motion features (723-d with a face, 263-d for 22 joints).

    python motion_representation.py [--joints FILE|DIR] [--face FILE|DIR] [--out FILE|DIR]
                                    [--target_skeleton default|first_frame|PATH]

`--joints` takes joints .npy (T, 52|22, 3) or any motion file; the output has T-1 rows. With a face (T, <=100)
per clip the output is the grouped 723-d layout [body 263 | hands 360 | face 100]. Defaults:
data/<dataset_name>/joints (+ .../face when it exists) -> data/<dataset_name>/motion_623 or motion_723. The output
is never an input; features that come out NaN are refused; outputs of an earlier run are kept unless `--overwrite`.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from data.formats import MOTION_SUFFIXES
from data.motion_pipeline import (
    FeatureOptions,
    check_target_skeleton,
    input_files,
    output_path,
    process_features,
    run_planned,
)
from options.data_options import add_dataset_options, add_motion_read_options, read_options, start_data_script
from utils.cli import user_errors_exit
from utils.outputs import refuse_overwriting_inputs

logger = logging.getLogger("motion_representation")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--joints", type=Path, help="joints .npy / motion file, or a folder (default: data/<ds>/joints)")
    p.add_argument("--face", type=Path, help="face .npy (T, <=100), or a folder of them: output the 723-d layout")
    p.add_argument("--out", type=Path, help="output .npy, or folder for a folder run")
    p.add_argument(
        "--target_skeleton",
        default="default",
        help="skeleton to retarget to: 'default', 'first_frame' (the clip's own) or a joints .npy",
    )
    p.add_argument("--recursive", action="store_true", help="also read the joints folder's sub-folders")
    p.add_argument("--overwrite", action="store_true", help="replace outputs that exist (default: keep them)")
    add_dataset_options(p)
    add_motion_read_options(p)
    return p


@user_errors_exit
def main(argv: list[str] | None = None) -> list[Path]:
    args, root, src = start_data_script(
        build_parser(),
        argv,
        "joints",
        "joints",
        "no joints here; run raw_pose_processing.py first or give --joints FILE",
    )
    check_target_skeleton(args.target_skeleton)
    face = args.face
    if face is None and args.joints is None and (root / "face").is_dir():
        face = root / "face"  # the default run pairs joints with the faces raw_pose_processing.py wrote
    opts = FeatureOptions(target=args.target_skeleton, face=face, read=read_options(args), overwrite=args.overwrite)
    folder = src if src.is_dir() else None
    if folder is not None:
        out = args.out or root / ("motion_723" if face is not None else "motion_623")
    else:
        out = args.out or src.with_name(f"{src.stem}_feats.npy")
    target = None if args.target_skeleton in ("default", "first_frame") else Path(args.target_skeleton)
    refuse_overwriting_inputs({"--out": out}, {"--joints": src, "--face": face, "--target_skeleton": target})
    planned = {
        f: [output_path(f, folder, out, ".npy") if folder else out]
        for f in input_files(src, MOTION_SUFFIXES, args.recursive)
    }
    return run_planned(
        planned,
        lambda f: process_features(f, planned[f][0], opts, folder),
        args.overwrite,
        "motion_representation",
        out,
        single=folder is None,
    )


if __name__ == "__main__":
    main()
