"""Train a motion tokenizer (VQ, RVQ or HRVQ) on a processed dataset.

    python train_vq.py --vq_type hrvq --name hvq5 --vq_name hrvq5_souldance --gpu_id 0 --dataset_name souldance \\
        --batch_size 256 --num_quantizers 6 --max_epoch 30 --quantize_dropout_prob 0.2 --gamma 0.05

The run goes to `<checkpoints_dir>/<dataset_name>/<vq_name or name>/` (`--name` is recorded as an alias):
`opt.txt`, `opt.json`, `model/latest.tar`, `model/best.tar` (lowest validation MPJPE), TensorBoard logs.
Several GPUs: `accelerate launch --multi_gpu --num_processes N train_vq.py ...`. Resume: add `--is_continue`.
"""

from __future__ import annotations

import argparse
import logging

from options.train_options import tokenizer_parser
from training.tokenizer import TokenizerTrainer
from utils.cli import setup_logging, user_errors_exit
from utils.runs import dataset_runs, register_alias

logger = logging.getLogger("train_vq")


def build_parser() -> argparse.ArgumentParser:
    return tokenizer_parser(__doc__)


@user_errors_exit
def main(argv: list[str] | None = None) -> dict:
    args = build_parser().parse_args(argv)
    setup_logging()
    run = args.vq_name or args.name
    run_dir = dataset_runs(args.checkpoints_dir, args.dataset_name) / run
    trainer = TokenizerTrainer(args, run_dir)
    metrics = trainer.fit()
    if trainer.accelerator.is_main_process:
        register_alias(args.checkpoints_dir, args.dataset_name, args.name, run)
        shown = ", ".join(f"{k} {v:.4g}" for k, v in metrics.items() if k.startswith("mpjpe")) or "no validation"
        logger.info("tokenizer run -> %s (%s)", run_dir, shown)
    return metrics


if __name__ == "__main__":
    main()
