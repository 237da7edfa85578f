"""Option groups of the training scripts: the run (name, dataset, checkpoints), the loop, the tokenizer.

Option names and defaults follow the published code (MoMask's `vq_option.py`), so the seed's commands run as written;
`--quantize_drop_prob` is accepted for `--quantize_dropout_prob`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from models.vq.model import VQ_TYPES
from options.data_options import add_dataset_options
from utils.arg_types import (
    dropout_rate,
    gpu_index,
    in_range,
    non_negative_float,
    non_negative_int,
    positive_float,
    positive_int,
    probability,
    seed_int,
)

LR_DECAY = in_range(0, 1, low_open=True)  # --gamma: 1 keeps the LR, 0 would stop learning


def add_run_options(p: argparse.ArgumentParser, default_name: str = "test") -> None:
    """Where a run lives: `<checkpoints_dir>/<dataset_name>/<name>/`."""
    add_dataset_options(p)
    p.add_argument("--name", default=default_name, help="run name")
    p.add_argument("--checkpoints_dir", type=Path, default=Path("checkpoints"), help="root of every run folder")
    p.add_argument(
        "--gpu_id", type=gpu_index, default=0, help="GPU index; -1 for the CPU (a missing GPU falls back to it)"
    )
    p.add_argument("--seed", type=seed_int, default=3407, help="seeds the weights, the data order and the crops")


def add_loop_options(
    p: argparse.ArgumentParser,
    batch_size: int = 256,
    max_epoch: int = 50,
    lr: float = 2e-4,
    milestones: tuple[int, ...] = (150000, 250000),
    warm_up_iter: int = 2000,
) -> None:
    """The shared training loop (`utils.trainer.Trainer`)."""
    p.add_argument("--batch_size", type=positive_int, default=batch_size, help="batch per process")
    p.add_argument("--max_epoch", type=non_negative_int, default=max_epoch, help="epochs")
    p.add_argument("--max_steps", type=non_negative_int, default=0, help="stop after this many steps (0: no limit)")
    p.add_argument("--lr", type=positive_float, default=lr, help="AdamW learning rate after warm-up")
    p.add_argument("--weight_decay", type=non_negative_float, default=0.0, help="AdamW weight decay")
    p.add_argument("--warm_up_iter", type=non_negative_int, default=warm_up_iter, help="linear warm-up steps")
    p.add_argument(
        "--milestones", type=positive_int, nargs="+", default=list(milestones), help="steps where the LR decays"
    )
    p.add_argument("--gamma", type=LR_DECAY, default=0.1, help="LR decay factor at each milestone")
    p.add_argument("--grad_clip", type=non_negative_float, default=1.0, help="gradient-norm clip (0: off)")
    p.add_argument(
        "--mixed_precision",
        default="auto",
        choices=("auto", "bf16", "no"),
        help="autocast: auto = bf16 on GPU, fp32 on CPU; bf16 is honoured on CPU too (slow: tests)",
    )
    p.add_argument("--compile", action="store_true", help="torch.compile the model (inductor)")
    p.add_argument("--workers", type=non_negative_int, default=0, help="data-loader worker processes")
    p.add_argument("--log_every", type=positive_int, default=10, help="steps between logged losses")
    p.add_argument(
        "--save_latest", type=non_negative_int, default=500, help="steps between latest.tar saves (0: per epoch)"
    )
    p.add_argument("--eval_every_e", type=positive_int, default=1, help="epochs between evaluations")
    p.add_argument("--is_continue", action="store_true", help="resume the run from its latest.tar")
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an existing run (its checkpoints and logs are "
        "deleted first); without it or --is_continue an existing run is refused",
    )


def add_tokenizer_options(p: argparse.ArgumentParser) -> None:
    """The motion tokenizer's architecture and loss (MoMask names and defaults)."""
    p.add_argument("--vq_type", default="rvq", choices=VQ_TYPES, help="vq (1 layer), rvq or hrvq (body/hands/face)")
    p.add_argument("--vq_name", help="run name of the tokenizer (train_vq.py stores its run under it)")
    p.add_argument("--window_size", type=positive_int, default=64, help="training crop, frames")
    p.add_argument("--nb_code", type=positive_int, default=512, help="codes per codebook")
    p.add_argument("--code_dim", type=positive_int, default=512, help="code width")
    p.add_argument("--num_quantizers", type=positive_int, default=3, help="quantizer layers (per part for hrvq)")
    p.add_argument(
        "--quantize_dropout_prob",
        "--quantize_drop_prob",
        type=probability,
        default=0.2,
        help="probability of keeping only the first n layers in a training step",
    )
    p.add_argument("--shared_codebook", action="store_true", help="accepted for the seed's commands; not supported")
    p.add_argument("--mu", type=probability, default=0.99, help="EMA decay of the codebooks")
    p.add_argument(
        "--sample_temperature", type=non_negative_float, default=0.5, help="stochastic code assignment (0: off)"
    )
    p.add_argument("--no_code_reset", action="store_true", help="keep dead codes (no reset)")
    p.add_argument(
        "--conditioner",
        action="store_true",
        help="hrvq: predict each finer part from the coarser part's "
        "code of the same layer (off: independent per-part RVQs, which generated better dances here)",
    )
    p.add_argument(
        "--cond_loss",
        type=non_negative_float,
        default=0.0,
        help="with --conditioner: weight of MSE(c, "
        "sg(r)), which trains the conditioner to predict what is missing in the finer part (0: "
        "reconstruction only)",
    )
    p.add_argument("--width", type=positive_int, default=512, help="encoder/decoder channels")
    p.add_argument("--depth", type=positive_int, default=3, help="residual blocks per resolution")
    p.add_argument("--down_t", type=non_negative_int, default=2, help="temporal down-sampling stages")
    p.add_argument("--stride_t", type=positive_int, default=2, help="stride of each stage")
    p.add_argument(
        "--dilation_growth_rate", type=positive_int, default=3, help="dilation growth of the residual blocks"
    )
    p.add_argument("--vq_act", default="relu", choices=("relu", "silu", "gelu"), help="activation")
    p.add_argument("--vq_dropout", type=dropout_rate, default=0.2, help="dropout in the residual blocks")
    p.add_argument("--commit", type=non_negative_float, default=0.02, help="commitment loss weight")
    p.add_argument(
        "--loss_vel", type=non_negative_float, default=0.5, help="weight of the joint-position (ric) loss, body + hands"
    )
    p.add_argument(
        "--feat_bias",
        type=positive_float,
        default=5.0,
        help="root and foot-contact channels weigh this much more (their std is divided by it)",
    )
    p.add_argument("--ext", default="default", help="name of an evaluation or generation output folder")


def tokenizer_parser(description: str | None = None) -> argparse.ArgumentParser:
    """Every option of `train_vq.py`: run, loop and tokenizer groups."""
    p = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_run_options(p)
    add_loop_options(p)
    add_tokenizer_options(p)
    return p


def add_transformer_options(p: argparse.ArgumentParser) -> None:
    """The transformer stages' model, conditioning and masking options (defaults: the paper's)."""
    p.add_argument("--vq_name", required=True, help="tokenizer run (train_vq.py --vq_name or --name)")
    p.add_argument(
        "--vq_which",
        default="latest",
        choices=("latest", "best"),
        help="the tokenizer checkpoint trained "
        "on (recorded with its content fingerprint; generation loads the same one)",
    )
    p.add_argument("--hrvq", action="store_true", help="the seed's flag: checked against the tokenizer's type")
    p.add_argument("--music_type", default="baseline", help="frame-level music features (registered type)")
    p.add_argument("--music_dir", help="folder of MMR window features per song (default / missing: the dataset's)")
    p.add_argument("--music_cond", default="both", choices=("clip", "frame", "both"), help="music conditioning")
    p.add_argument("--latent_dim", type=positive_int, default=384, help="Transformer width")
    p.add_argument("--ff_size", type=positive_int, default=1024, help="feed-forward width")
    p.add_argument("--n_layers", type=positive_int, default=8, help="Transformer blocks")
    p.add_argument("--n_heads", type=positive_int, default=6, help="attention heads")
    p.add_argument(
        "--dim_head", type=positive_int, help="head width (default latent_dim // n_heads, 64 if not divisible)"
    )
    p.add_argument("--dropout", type=dropout_rate, default=0.2, help="dropout")
    p.add_argument(
        "--cond_drop_prob", type=probability, default=0.1, help="condition dropout (classifier-free guidance)"
    )
    add_masking_options(p)
    add_mmr_loss_options(p)
    add_validation_options(p)


def add_masking_options(p: argparse.ArgumentParser) -> None:
    """How training windows are masked: random codes, [MASK], continued windows, the residual parts' order."""
    p.add_argument("--random_prob", type=probability, default=0.1, help="masked positions replaced by a random code")
    p.add_argument("--mask_prob", type=probability, default=0.7, help="of the others, the share that becomes [MASK]")
    p.add_argument(
        "--cont_prob",
        type=probability,
        default=0.5,
        help="share of training windows whose first "
        "--cont_tokens token times are given in every layer (continuation, as long-form generation uses "
        "it)",
    )
    p.add_argument(
        "--cont_tokens",
        type=non_negative_int,
        default=8,
        help="token times given to a continued window (gen_m2m.py --overlap)",
    )
    p.add_argument(
        "--part_order",
        action="store_true",
        help="residual transformer: the parts of a layer in turn, "
        "body -> hands -> face, each given the coarser parts' codes (for an HRVQ --conditioner; default: "
        "all parts of a layer in one pass)",
    )


def add_mmr_loss_options(p: argparse.ArgumentParser) -> None:
    """The MMR loss (the generated tokens' MMR embedding against the music's)."""
    p.add_argument("--mmr_loss", action="store_true", help="add the MMR loss (decoded prediction vs the music)")
    p.add_argument(
        "--mmr_loss_weight", type=non_negative_float, default=0.5, help="weight of the MMR loss (the release's)"
    )
    p.add_argument("--mmr_temperature", type=positive_float, default=0.7, help="InfoNCE temperature of the MMR loss")
    p.add_argument("--gumbel_tau", type=positive_float, default=0.01, help="Gumbel-softmax temperature of the MMR loss")
    p.add_argument("--mmr_run", help="MMR run of the MMR loss (default: the one that made the dataset's features)")


def add_validation_options(p: argparse.ArgumentParser) -> None:
    """What the transformer stages' validation measures and which metric picks best.tar."""
    p.add_argument(
        "--eval_windows",
        type=non_negative_int,
        default=32,
        help="validation windows generated and scored (FID, BAS, MMR matching score; 0: token accuracy only)",
    )
    p.add_argument(
        "--eval_time_steps", type=positive_int, default=10, help="unmasking steps of the validation's generation"
    )
    p.add_argument(
        "--best_metric",
        default="acc",
        choices=("acc", "ce", "FID_k", "FID_g", "BAS", "MMR_MS", "MMR_cos"),
        help="validation metric that picks best.tar",
    )


def transformer_parser(description: str | None = None) -> argparse.ArgumentParser:
    """Every option of `train_m2m.py` / `train_res.py`: run, loop (the paper's AdamW 2e-4, batch 64, 2,000 warm-up
    steps, decay x gamma at 50k) and transformer groups."""
    p = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_run_options(p)
    add_loop_options(p, batch_size=64, max_epoch=500, lr=2e-4, milestones=(50000,), warm_up_iter=2000)
    add_transformer_options(p)
    return p
