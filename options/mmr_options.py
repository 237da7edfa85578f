"""The MMR stage's argparse options (model and data; run and loop from `train_options`), for scripts and experiments
that train MMR without Hydra. Hydra's `train_mmr.py` composes the same fields (`options/mmr_config.py`)."""

from __future__ import annotations

import argparse

from options.train_options import add_loop_options, add_run_options
from utils.arg_types import dropout_rate, positive_float, positive_int

MOTION_PARTS = ("body", "all")  # the 263-d body features, or every feature


def add_mmr_options(p: argparse.ArgumentParser) -> None:
    """MMR's model and data options (defaults: the released MMR's)."""
    p.add_argument("--music_type", default="baseline", help="registered music feature type (baseline, jukebox)")
    p.add_argument("--motion_part", default="body", choices=MOTION_PARTS, help="263-d body or every feature")
    p.add_argument("--latent", type=positive_int, default=256, help="embedding width")
    p.add_argument("--ff", type=positive_int, default=1024, help="feed-forward width")
    p.add_argument("--layers", type=positive_int, default=6, help="Transformer layers")
    p.add_argument("--heads", type=positive_int, default=4, help="attention heads")
    p.add_argument("--dropout", type=dropout_rate, default=0.1, help="dropout")
    p.add_argument("--vae", action=argparse.BooleanOptionalAction, default=True, help="VAE distribution tokens")
    p.add_argument("--temperature", type=positive_float, default=0.1, help="InfoNCE temperature")


def mmr_parser() -> argparse.ArgumentParser:
    """The MMR stage's options as an argparse parser (run, loop, model and data; Hydra's `train_mmr.py` composes the
    same fields), for scripts and experiments that train MMR without Hydra."""
    p = argparse.ArgumentParser()
    add_run_options(p, default_name="mmr")
    add_loop_options(p, batch_size=128, max_epoch=500, lr=1e-4, milestones=(10**9,), warm_up_iter=0)
    add_mmr_options(p)
    return p
