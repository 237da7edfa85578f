"""Step 1 of data preparation: motion files (SMPL-X npz, Motion-X, EDGE/AIST++ pickles, FineDance, BVH, ...) ->
joints (T, 52, 3) `.npy` at 30 fps, Y-up metres, plus face expressions (T, 100) where the source has a face.

    python raw_pose_processing.py [--input FILE|DIR] [--out_dir DIR] [--face_dir DIR] [--format auto]
                                  [--bvh_dir DIR] [--smplx_dir DIR]

Defaults: data/<dataset_name>/motion -> data/<dataset_name>/joints and .../face. Bad files in a folder are skipped
and listed at the end. No output may be an input; two inputs with one output name (`a.npz`, `a.pkl`) refuse the run;
outputs of an earlier run are kept (and listed) unless `--overwrite`.
"""

from __future__ import annotations

import argparse
import logging
from functools import partial
from pathlib import Path

from data.formats import MOTION_SUFFIXES
from data.motion_pipeline import RawPoseOptions, input_files, process_raw_pose, raw_pose_outputs, run_planned
from options.data_options import add_dataset_options, add_motion_read_options, read_options, start_data_script
from utils.cli import user_errors_exit
from utils.outputs import refuse_duplicate_outputs, refuse_overwriting_inputs

logger = logging.getLogger("raw_pose_processing")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--input", type=Path, help="motion file or folder (default: data/<dataset_name>/motion)")
    p.add_argument("--out_dir", type=Path, help="joints folder (default: data/<dataset_name>/joints)")
    p.add_argument("--face_dir", type=Path, help="face expressions folder (default: face/ beside the joints folder)")
    p.add_argument("--bvh_dir", type=Path, help="also write a 52-joint BVH per file here")
    p.add_argument("--smplx_dir", type=Path, help="also write SMPL-X parameters (BEAT2/EMAGE npz) here")
    p.add_argument("--recursive", action="store_true", help="also read the input folder's sub-folders")
    p.add_argument("--overwrite", action="store_true", help="replace outputs that exist (default: keep them)")
    add_dataset_options(p)
    add_motion_read_options(p)
    return p


@user_errors_exit
def main(argv: list[str] | None = None) -> list[Path]:
    args, root, src = start_data_script(
        build_parser(),
        argv,
        "input",
        "motion",
        "no motion files here; put the dataset's motion files there or give --input",
    )
    out_dir = args.out_dir or root / "joints"
    opts = RawPoseOptions(
        out_dir=out_dir,
        face_dir=args.face_dir or out_dir.parent / "face",
        read=read_options(args),
        bvh_dir=args.bvh_dir,
        smplx_dir=args.smplx_dir,
        overwrite=args.overwrite,
    )
    refuse_overwriting_inputs(
        {"--out_dir": out_dir, "--face_dir": opts.face_dir, "--bvh_dir": args.bvh_dir, "--smplx_dir": args.smplx_dir},
        {"--input": src, "--smplx_model_path": args.smplx_model_path},
    )
    folder = src if src.is_dir() else None
    outputs = {f: raw_pose_outputs(f, opts, folder) for f in input_files(src, MOTION_SUFFIXES, args.recursive)}
    refuse_duplicate_outputs({f: list(outs.values()) for f, outs in outputs.items()})
    needed = {f: [p for kind, p in outs.items() if kind != "face"] for f, outs in outputs.items()}  # face: if any
    return run_planned(
        needed,
        partial(process_raw_pose, opts=opts, root=folder),
        args.overwrite,
        "raw_pose_processing",
        out_dir,
        single=folder is None,
    )


if __name__ == "__main__":
    main()
