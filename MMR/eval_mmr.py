"""Retrieval of a trained MMR on held-out sequences: R@1/2/3/5/10 and MedR both ways, whole split and batches of 32.

    cd MMR && python eval_mmr.py                                   # run outputs/mmr_res, its dataset's test split
    python MMR/eval_mmr.py --run_dir outputs/mmr_synthetic --split val --gpu_id -1

Embeds every window of the split (music and body motion, the checkpoint's own features and normalisation) and
ranks each window's partner among all windows (`m2d`: music -> dance, `d2m`: dance -> music; ties count half),
then on `--repeats` seeded random batches of `--batch` windows (TMR's "guo" protocol: chance R@1 = 1 / batch).
Writes `<run_dir>/eval/retrieval_<split>.json` and TensorBoard scalars under `<run_dir>/eval/`; logs a table.
"""

from __future__ import annotations

import argparse
import logging

from torch.utils.tensorboard import SummaryWriter

from data.loaders import MusicMotionClips
from MMR.embedder import add_mmr_run_options, embed_clips, mmr_and_dataset
from MMR.losses import similarity
from MMR.retrieval import retrieval_report
from utils.arg_types import positive_int, seed_int
from utils.atomic import write_json
from utils.cli import setup_logging, user_errors_exit
from utils.outputs import refuse_existing

logger = logging.getLogger("eval_mmr")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_mmr_run_options(p)
    p.add_argument("--split", default="test", choices=("train", "val", "test"), help="held-out split")
    p.add_argument("--batch", type=positive_int, default=32, help="windows per random batch")
    p.add_argument("--repeats", type=positive_int, default=100, help="random batches")
    p.add_argument("--seed", type=seed_int, default=0, help="seeds the batches")
    p.add_argument("--overwrite", action="store_true", help="replace the report of an earlier evaluation")
    return p


@user_errors_exit
def main(argv: list[str] | None = None) -> dict:
    setup_logging()
    args = build_parser().parse_args(argv)
    run, embedder, data = mmr_and_dataset(args)
    out = (run if run.is_dir() else run.parent) / "eval"
    refuse_existing(out / f"retrieval_{args.split}.json", args.overwrite)
    clips = MusicMotionClips(data, args.split, embedder.music_type, normalize=False, deterministic=True)
    music, motion = embed_clips(embedder, clips)
    metrics = retrieval_report(similarity(music, motion).numpy(), args.batch, args.repeats, args.seed)
    report = {
        "checkpoint": embedder.source,
        "step": embedder.step,
        "dataset": str(data.root),
        "split": args.split,
        "windows": len(clips),
        "sequences": len(set(clips.sequence.tolist())),
        "batch": args.batch,
        "repeats": args.repeats,
        "seed": args.seed,
        "chance_R01": 100 / args.batch,
        "metrics": metrics,
    }
    write_json(out / f"retrieval_{args.split}.json", report)
    with SummaryWriter(str(out)) as writer:
        for k, v in metrics.items():
            writer.add_scalar(f"{args.split}/{k}", v, report["step"])
    rows = [f"{'':10s}{'R@1':>8s}{'R@2':>8s}{'R@3':>8s}{'R@5':>8s}{'R@10':>8s}{'MedR':>8s}"]
    for prefix in ("", "batch/"):
        for way in ("m2d", "d2m"):
            if f"{prefix}{way}/R01" in metrics:
                values = [metrics[f"{prefix}{way}/{k}"] for k in ("R01", "R02", "R03", "R05", "R10", "MedR")]
                rows.append(f"{prefix + way:10s}" + "".join(f"{v:8.2f}" for v in values))
    logger.info(
        "%d windows of %d %s sequences (chance R@1 %.2f %% per batch)\n%s\nreport -> %s",
        len(clips),
        report["sequences"],
        args.split,
        report["chance_R01"],
        "\n".join(rows),
        out / f"retrieval_{args.split}.json",
    )
    return report


if __name__ == "__main__":
    main()
