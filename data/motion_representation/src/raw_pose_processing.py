"""Step 1 of data preparation: motion files (SMPL-X npz, Motion-X, EDGE/AIST++ pickles, FineDance, BVH, ...) ->
joints (T, 52, 3) `.npy` at 30 fps, Y-up metres, plus face expressions (T, 100) where the source has a face.

    python raw_pose_processing.py [--input FILE|DIR] [--out_dir DIR] [--face_dir DIR] [--format auto]
                                  [--bvh_dir DIR] [--smplx_dir DIR]

Defaults: data/<dataset_name>/motion -> data/<dataset_name>/joints and .../face. Bad files in a folder are skipped
and listed at the end.
"""

from __future__ import annotations

import argparse
import logging
from functools import partial
from pathlib import Path

from data.formats import MOTION_SUFFIXES
from data.motion_pipeline import RawPoseOptions, process_raw_pose
from options.data_options import add_dataset_options, add_motion_read_options, read_options, start_data_script
from utils.batch import list_files, run_batch, unique_outputs
from utils.cli import user_errors_exit

logger = logging.getLogger("raw_pose_processing")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--input", type=Path, help="motion file or folder (default: data/<dataset_name>/motion)")
    p.add_argument("--out_dir", type=Path, help="joints folder (default: data/<dataset_name>/joints)")
    p.add_argument("--face_dir", type=Path, help="face expressions folder (default: face/ beside the joints folder)")
    p.add_argument("--bvh_dir", type=Path, help="also write a 52-joint BVH per file here")
    p.add_argument("--smplx_dir", type=Path, help="also write SMPL-X parameters (BEAT2/EMAGE npz) here")
    p.add_argument("--recursive", action="store_true", help="also read the input folder's sub-folders")
    add_dataset_options(p)
    add_motion_read_options(p)
    return p


@user_errors_exit
def main(argv: list[str] | None = None) -> list[Path]:
    args, root, src = start_data_script(build_parser(), argv, "input", "motion",
                                        "no motion files here; put the dataset's motion files there or give --input")
    out_dir = args.out_dir or root / "joints"
    opts = RawPoseOptions(out_dir=out_dir, face_dir=args.face_dir or out_dir.parent / "face", read=read_options(args),
                          bvh_dir=args.bvh_dir, smplx_dir=args.smplx_dir)  # fmt: skip
    if src.is_file():
        out = process_raw_pose(src, opts)
        logger.info("wrote %s", out)
        return [out]
    files = list_files(src, MOTION_SUFFIXES, args.recursive)
    step = unique_outputs(partial(process_raw_pose, opts=opts, root=src), files, src)
    return run_batch(files, step, desc="raw_pose_processing", dest=out_dir).results


if __name__ == "__main__":
    main()
