"""`load_vq`: a trained tokenizer rebuilt from its checkpoint alone (the config saved in it, its weights, Mean/Std)."""

from __future__ import annotations

from pathlib import Path

import torch

from models.vq.model import TOKENIZER_FORMAT, MotionTokenizer, TokenizerConfig
from utils.checkpoint import load_checkpoint, load_weights, rebuild_config
from utils.cli import UserError
from utils.runs import find_run


def load_vq(
    checkpoints_dir: str | Path,
    dataset: str,
    *names: str | None,
    which: str = "latest",
    dim: int | None = None,
    device: str | torch.device = "cpu",
) -> tuple[MotionTokenizer, dict]:
    """A trained tokenizer rebuilt from its checkpoint alone, and the checkpoint (options, Mean/Std, fps).

    `names` are tried in order (run folders or aliases); `dim` (when given) must match its feature width.
    """
    run = find_run(checkpoints_dir, dataset, *names)
    ckpt = load_checkpoint(run / "model" / f"{which}.tar", map_location=device)
    if ckpt.get("stage") != "vq" or "tokenizer" not in ckpt:
        raise UserError(f"{run}: not a tokenizer checkpoint (stage {ckpt.get('stage')!r})")
    path = run / "model" / f"{which}.tar"
    config = rebuild_config(TokenizerConfig, ckpt["tokenizer"], path, "tokenizer")
    if config.vq_type == "hrvq" and ckpt.get("tokenizer_format", 1) < TOKENIZER_FORMAT:
        raise UserError(
            f"{run}: an HRVQ trained before the conditioner fix (it quantized r - c, now r - sg(c) with "
            "a zero-initialised conditioner); retrain it with train_vq.py"
        )
    if dim is not None and dim != config.dim:
        raise UserError(f"{run}: the tokenizer reads {config.dim}-d features, the data has {dim}-d")
    model = MotionTokenizer(config).to(device)
    load_weights(model, ckpt["model"], path)
    return model.eval(), ckpt
