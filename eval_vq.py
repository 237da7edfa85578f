"""Evaluate a trained tokenizer on the whole sequences of a split; writes metrics.json and side-by-side videos.

    python eval_vq.py --gpu_id 0 --name rvq_nq6_dc512_nc512_noshare_qdp0.2 --dataset_name souldance --ext rvq5_souldance

The tokenizer is found by `--name`, then `--ext` (run folders or the aliases train_vq.py records). Results go to
`<run>/eval/<ext>/`: `metrics.json` (MPJPE all/body/hands in mm, face error, codebook usage, kinetic FID/Div of the
reconstructions against the ground truth, BAS of both with the music) and `<sequence>.mp4` (ground truth | tokens).
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from data.loaders import ProcessedData
from data.paths import dataset_dir
from data.registry import music_files
from evaluation.tokenizer import evaluate_tokenizer, flame_expression_basis, skipped_metrics
from export.render import render_skeleton_video
from models.vq.loading import load_vq
from options.data_options import add_dataset_options
from utils.arg_types import gpu_index, non_negative_int, positive_float
from utils.atomic import write_json
from utils.cli import inference_device, setup_logging, user_errors_exit
from utils.outputs import refuse_existing
from utils.runs import find_run

logger = logging.getLogger("eval_vq")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_dataset_options(p)
    p.add_argument("--name", required=True, help="the tokenizer run (or an alias)")
    p.add_argument("--ext", default="default", help="output folder name; also tried as the run name")
    p.add_argument("--checkpoints_dir", type=Path, default=Path("checkpoints"), help="root of the run folders")
    p.add_argument("--which_epoch", default="best", choices=("best", "latest"), help="which checkpoint")
    p.add_argument("--split", default="test", choices=("train", "val", "test"), help="sequences evaluated")
    p.add_argument("--videos", type=non_negative_int, default=3, help="side-by-side videos written (0: none)")
    p.add_argument("--video_seconds", type=positive_float, default=10.0, help="length of each video (from the start)")
    p.add_argument("--gpu_id", type=gpu_index, default=0, help="GPU index; -1 for the CPU")
    p.add_argument("--overwrite", action="store_true", help="replace the report of an earlier evaluation with --ext")
    p.add_argument(
        "--flame_model_path",
        type=Path,
        help="FLAME 2020 model (npz/pkl with shapedirs): face error "
        "in mm on its vertices (else on the expression coefficients only)",
    )
    return p


@user_errors_exit
def main(argv: list[str] | None = None) -> dict:
    args = build_parser().parse_args(argv)
    setup_logging()
    device = inference_device(args.gpu_id)
    data = ProcessedData(dataset_dir(args.dataset_name, args.data_root))
    run = find_run(args.checkpoints_dir, args.dataset_name, args.name, args.ext)
    out = run / "eval" / args.ext
    refuse_existing(out / "metrics.json", args.overwrite)
    which = args.which_epoch
    if which == "best" and not (run / "model" / "best.tar").is_file():
        logger.warning("%s has no best.tar (no validation ran): evaluating latest.tar", run)
        which = "latest"
    model, ckpt = load_vq(
        args.checkpoints_dir, args.dataset_name, run.name, which=which, dim=int(data.mean.shape[0]), device=device
    )
    basis = flame_expression_basis(args.flame_model_path) if args.flame_model_path else None
    metrics, recs = evaluate_tokenizer(
        model, data, ckpt["mean"].numpy(), ckpt["std"].numpy(), args.split, device, basis
    )
    report = {
        "run": str(run),
        "checkpoint": which,
        "step": int(ckpt["step"]),
        "split": args.split,
        "vq_type": model.config.vq_type,
        "metrics": metrics,
        "skipped": skipped_metrics(metrics),
    }
    write_json(out / "metrics.json", report)
    raw = dataset_dir(args.dataset_name, args.data_root)
    n = max(2, round(args.video_seconds * 30))
    audio = music_files(data.summary["dataset"], raw)
    song_of = {c["name"]: audio.get(c.get("music", c["name"])) for c in data.clips}
    for r in recs[: args.videos]:
        render_skeleton_video(
            [r.gt_joints[:n], r.rec_joints[:n]],
            out / f"{r.name}.mp4",
            titles=["ground truth", "tokens"],
            audio=song_of.get(r.name),
        )
    shown = ", ".join(f"{k} {v:.4g}" for k, v in metrics.items() if k.startswith(("mpjpe", "face", "FID", "BAS")))
    logger.info("%s: %s -> %s", run.name, shown, out)
    return report


if __name__ == "__main__":
    main()
