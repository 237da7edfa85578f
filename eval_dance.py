"""Evaluate generated dances under a published protocol (bug for bug) or the corrected one; writes a JSON report.

    python eval_dance.py --pred_dir generation/test --gt_dir data/aistpp_gt --audio_dir music/ --protocol bailando
    python eval_dance.py --pred_dir out/ --beats_dir beats/ --protocol fixed --out metrics_fixed.json

Inputs: joints `.npy` (T,J,3)/(T,J*3) with J in 22/24/52/55, EDGE `.csv` and `full_pose` pickles, Bailando
`pred_position` files, our generation `.npz`, or any motion file `data.formats` reads. Protocols and what each
number means: docs/metrics.md. Before any work: the prediction folder must differ from the ground-truth and beat
folders, and the report must be a new `.json` (or `--overwrite`) in a folder that can be written. The report lists
how many files each folder held and when they were written (`inputs`), so leftovers of an earlier run show.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from evaluation.evaluate import EvalRequest, evaluate, format_table
from evaluation.inputs import check_eval_paths, folder_summary
from evaluation.metrics.music_beats import check_beat_folder
from evaluation.protocols import PROTOCOLS
from utils.arg_types import positive_float, positive_int
from utils.atomic import write_json
from utils.cli import setup_logging, user_errors_exit

logger = logging.getLogger("eval_dance")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--pred_dir", type=Path, required=True, help="folder of generated motions")
    p.add_argument("--gt_dir", type=Path, help="folder of ground-truth motions (FID, Div, paired MPJPE)")
    music = p.add_mutually_exclusive_group()
    music.add_argument(
        "--audio_dir", type=Path, help="music files, matched to motions by name; beats by the protocol's tracker"
    )
    music.add_argument("--beats_dir", type=Path, help="<name>.txt/.npy/.beats files of beat times in seconds")
    p.add_argument(
        "--protocol",
        default="bailando",
        choices=tuple(PROTOCOLS),
        help="bailando / edge / lodge reproduce published evaluations; fixed is the corrected one",
    )
    p.add_argument("--fps", type=positive_float, help="frame rate of every input (default: each format's, .npy 30)")
    p.add_argument("--up_axis", choices=("y", "z"), help="up axis of every input (default: each format's, .npy y)")
    p.add_argument(
        "--smplx_model_path",
        type=Path,
        help="SMPL-X model for exact joints of parameter files (SMPL-X "
        "npz, AIST++ pkl, FineDance npy); default: the project's skeleton",
    )
    p.add_argument(
        "--workers", type=positive_int, default=1, help="processes for the per-sequence features (large GT sets)"
    )
    p.add_argument("--out", type=Path, help="JSON report (default: <pred_dir>/metrics_<protocol>.json)")
    p.add_argument("--overwrite", action="store_true", help="replace the report if it exists (default: refuse)")
    return p


@user_errors_exit
def main(argv: list[str] | None = None) -> dict:
    args = build_parser().parse_args(argv)
    setup_logging()
    out = args.out or args.pred_dir / f"metrics_{args.protocol}.json"
    check_eval_paths(args.pred_dir, args.gt_dir, args.beats_dir, out, args.overwrite)  # before any work
    check_beat_folder(args.beats_dir)
    report = evaluate(
        EvalRequest(
            pred_dir=args.pred_dir,
            gt_dir=args.gt_dir,
            audio_dir=args.audio_dir,
            beats_dir=args.beats_dir,
            protocol=args.protocol,
            fps=args.fps,
            up_axis=args.up_axis,
            workers=args.workers,
            smplx_model_path=args.smplx_model_path,
        )
    )
    report["inputs"] = {k: folder_summary(d) for k, d in (("pred", args.pred_dir), ("gt", args.gt_dir)) if d}
    write_json(out, report)
    for note in report["notes"]:
        logger.info("note: %s", note)
    for what, summary in report["inputs"].items():
        logger.info(
            "%s: %d file(s) in %s, modified %s .. %s",
            what,
            summary["files"],
            summary["folder"],
            summary["oldest"],
            summary["newest"],
        )
    logger.info("%s\nreport -> %s", format_table(report), out)
    return report


if __name__ == "__main__":
    main()
