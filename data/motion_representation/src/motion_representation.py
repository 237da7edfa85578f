"""Step 2 of data preparation: joints -> 623-d motion features (723-d with a face, 263-d for 22 joints).

    python motion_representation.py [--joints FILE|DIR] [--face FILE|DIR] [--out FILE|DIR]
                                    [--target_skeleton default|first_frame|PATH]

`--joints` takes joints .npy (T, 52|22, 3) or any motion file; the output has T-1 rows. With a face (T, <=100)
per clip the output is the grouped 723-d layout [body 263 | hands 360 | face 100]. Defaults:
data/<dataset_name>/joints (+ .../face when it exists) -> data/<dataset_name>/motion_623 or motion_723.
"""

from __future__ import annotations

import argparse
import logging
from functools import partial
from pathlib import Path

from data.formats import MOTION_SUFFIXES
from data.motion_pipeline import FeatureOptions, check_target_skeleton, output_path, process_features
from options.data_options import add_dataset_options, add_motion_read_options, read_options, start_data_script
from utils.batch import list_files, run_batch
from utils.cli import user_errors_exit

logger = logging.getLogger("motion_representation")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--joints", type=Path, help="joints .npy / motion file, or a folder (default: data/<ds>/joints)")
    p.add_argument("--face", type=Path, help="face .npy (T, <=100), or a folder of them: output the 723-d layout")
    p.add_argument("--out", type=Path, help="output .npy, or folder for a folder run")
    p.add_argument("--target_skeleton", default="default",
                   help="skeleton to retarget to: 'default', 'first_frame' (the clip's own) or a joints .npy")
    p.add_argument("--recursive", action="store_true", help="also read the joints folder's sub-folders")
    add_dataset_options(p)
    add_motion_read_options(p)
    return p


def features_into(path: Path, out_dir: Path, root: Path, opts: FeatureOptions) -> Path:
    """One file of a folder run: features at the same relative name under `out_dir`."""
    return process_features(path, output_path(path, root, out_dir, ".npy"), opts, root)


@user_errors_exit
def main(argv: list[str] | None = None) -> list[Path]:
    args, root, src = start_data_script(build_parser(), argv, "joints", "joints",
                                        "no joints here; run raw_pose_processing.py first or give --joints FILE")
    check_target_skeleton(args.target_skeleton)
    face = args.face
    if face is None and args.joints is None and (root / "face").is_dir():
        face = root / "face"  # the default run pairs joints with the faces raw_pose_processing.py wrote
    opts = FeatureOptions(target=args.target_skeleton, face=face, read=read_options(args))
    if src.is_file():
        out = process_features(src, args.out or src.with_name(f"{src.stem}_feats.npy"), opts)
        logger.info("wrote %s", out)
        return [out]
    out_dir = args.out or root / ("motion_723" if face is not None else "motion_623")
    files = list_files(src, MOTION_SUFFIXES, args.recursive)
    step = partial(features_into, out_dir=out_dir, root=src, opts=opts)
    return run_batch(files, step, desc="motion_representation", dest=out_dir).results


if __name__ == "__main__":
    main()
