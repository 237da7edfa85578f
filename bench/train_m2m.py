"""Benchmark: masked and residual transformer training steps (samples/s); prints JSON.

    python bench/train_m2m.py [--steps 2] [--device cpu|cuda] [--configs paper tiny]

`paper`: 8 layers, latent 384, 6 heads, ff 1024, batch 64 (the published recipe); `tiny`: 2 layers, latent 64,
4 heads, ff 128, batch 32. Token grid of HRVQ on 723-d features (3 parts x 37 times, 6 layers, 512 codes) with
`both` conditioning (MMR clip token + 35-d frame features); a step = masking, forward, cross-entropy, backward,
AdamW, on random tokens (the cost does not depend on their values; the frozen tokenizer's encoding is not included).
On CUDA also bf16 autocast and `torch.compile`.

    python bench/train_m2m.py --pipeline [--steps 3] [--out_dir outputs/train_m2m_pipeline]

times the stages' real training step instead (`MaskedTrainer` / `ResidualTrainer.training_step` on the loader's
batches of a synthetic 723-d dataset, with a paper-size HRVQ (width 512, depth 3, 6 x 512 codes of 512-d per part,
random weights) under the paper transformers, batch 64, `frame` conditioning): everything a step costs, the tokens
of its windows included (cut from the cached token streams; before them, the frozen tokenizer encoded every batch).
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from models.mask_transformer.masking import mask_tokens
from models.mask_transformer.transformer import MaskTransformer, ResidualTransformer, TransformerConfig
from utils.timing import machine_info, maybe_compile, precision_variants, speed_parser, training_rate

CONFIGS = {
    "paper": ({"latent_dim": 384, "n_layers": 8, "n_heads": 6, "ff_size": 1024}, 64),
    "tiny": ({"latent_dim": 64, "n_layers": 2, "n_heads": 4, "ff_size": 128}, 32),
}
GRID = {"nb_code": 512, "parts": 3, "times": 37, "num_quantizers": 6, "clip_dim": 256, "music_dim": 35}


def step_rate(
    kind: str, shape: dict, batch: int, steps: int, device: str, bf16: bool, compiled: bool, grid: dict | None = None
) -> float:
    """Training samples per second of the masked ("m2m") or residual ("res") transformer on `grid` (default GRID)."""
    torch.manual_seed(0)
    c = TransformerConfig(**(grid or GRID), **shape)
    model = (MaskTransformer if kind == "m2m" else ResidualTransformer)(c).to(device).train()
    forward = maybe_compile(model, compiled)
    opt = torch.optim.AdamW(model.parameters(), lr=2e-4, betas=(0.9, 0.99))
    tokens = torch.randint(0, c.nb_code, (batch, c.parts * c.times, c.num_quantizers), device=device)
    valid = torch.ones(batch, c.parts * c.times, dtype=torch.bool, device=device)
    clip, music = (
        torch.randn(batch, c.clip_dim, device=device),
        torch.randn(batch, c.times * 4, c.music_dim, device=device),
    )

    def loss():
        if kind == "m2m":
            x, where = mask_tokens(tokens[..., 0], valid, c.nb_code, c.nb_code)
            logits, target = forward(x, valid, clip, music), tokens[..., 0]
        else:
            layer = torch.randint(1, c.num_quantizers, (batch,), device=device)
            logits, where = forward(tokens, layer, valid, clip, music), valid  # all parts at once (the upper bound)
            target = tokens.gather(-1, layer[:, None, None].expand(-1, tokens.shape[1], 1))[..., 0]
        return F.cross_entropy(logits[where].float(), target[where])

    return training_rate(loss, opt, batch, steps, device, bf16)


def pipeline_rates(steps: int, out_dir: Path) -> list[dict]:
    """Samples per second of the masked and residual stages' full training step (see the module docstring)."""
    from data.dataset_build import BuildOptions, build_dataset
    from data.registry import dataset_spec
    from data.synthetic_dance import build_dataset as make_synthetic
    from options.train_options import tokenizer_parser, transformer_parser
    from training.tokenizer import TokenizerTrainer
    from training.transformer import MaskedTrainer, ResidualTrainer

    root, ckpts = out_dir / "synthetic", out_dir / "checkpoints"
    if not (root / "processed" / "summary.json").is_file():
        make_synthetic(root, songs=16, seconds=20, seed=0)
        build_dataset(BuildOptions(root=root, spec=dataset_spec("synthetic"), music_types=("baseline",)))
    common = [
        "--dataset_name",
        "synthetic",
        "--data_root",
        str(root),
        "--checkpoints_dir",
        str(ckpts),
        "--gpu_id",
        "-1",
        "--seed",
        "0",
        "--save_latest",
        "0",
        "--max_epoch",
        "1000",
        "--eval_every_e",
        "1000",
    ]
    if not (ckpts / "synthetic" / "hrvq_paper" / "model" / "latest.tar").is_file():
        opt = tokenizer_parser().parse_args(
            [
                *common,
                "--name",
                "hrvq_paper",
                "--vq_type",
                "hrvq",
                "--num_quantizers",
                "6",
                "--batch_size",
                "2",
                "--max_steps",
                "1",
            ]
        )
        TokenizerTrainer(opt, ckpts / "synthetic" / "hrvq_paper").fit()
    shape = ["--latent_dim", "384", "--n_layers", "8", "--n_heads", "6", "--ff_size", "1024", "--batch_size", "64"]
    out = []
    for kind, trainer_class in (("m2m", MaskedTrainer), ("res", ResidualTrainer)):
        opt = transformer_parser().parse_args(
            [*common, *shape, "--name", f"bench_{kind}", "--vq_name", "hrvq_paper", "--music_cond", "frame"]
        )
        torch.manual_seed(0)
        trainer = trainer_class(opt, out_dir / f"bench_{kind}")
        t0 = time.perf_counter()
        train, _ = trainer.build_data()  # encodes the token streams once (or reads their cache)
        setup_s = time.perf_counter() - t0
        model = trainer.build_model().train()
        optimizer = torch.optim.AdamW(model.parameters(), lr=2e-4, betas=(0.9, 0.99))
        batches = [train.__getitems__(list(range(i * 64, (i + 1) * 64))) for i in range(steps + 1)]
        times = []
        for batch in batches:
            t0 = time.perf_counter()
            trainer.training_step(model, batch)["loss"].backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            times.append(time.perf_counter() - t0)
        step_s = min(times[1:])  # after one warm-up step
        out.append(
            {
                "transformer": kind,
                "batch": 64,
                "s_per_step": round(step_s, 3),
                "samples_per_s": round(64 / step_s, 1),
                "data_setup_s": round(setup_s, 1),
            }
        )
    return out


def main(argv: list[str] | None = None) -> dict:
    p = speed_parser(__doc__, CONFIGS)
    p.add_argument("--pipeline", action="store_true", help="time the stages' full training step on real batches")
    p.add_argument("--out_dir", type=Path, default=Path("outputs/train_m2m_pipeline"), help="--pipeline's data")
    args = p.parse_args(argv)
    if args.pipeline:
        logging.disable(logging.INFO)
        torch.set_num_threads(2)
        result = {
            "benchmark": "train_m2m_pipeline",
            "steps": args.steps,
            "results": pipeline_rates(args.steps, args.out_dir),
            "machine": machine_info(),
        }
        print(json.dumps(result, indent=2))
        return result
    result = {"benchmark": "train_m2m", "grid": GRID, "device": args.device, "steps": args.steps, "results": []}
    variants = precision_variants(args.device)
    for name in args.configs:
        shape, batch = CONFIGS[name]
        for kind in ("m2m", "res"):
            for bf16, compiled in variants:
                rate = step_rate(kind, shape, batch, args.steps, args.device, bf16, compiled)
                result["results"].append(
                    {
                        "config": name,
                        "transformer": kind,
                        "batch": batch,
                        "precision": "bf16" if bf16 else "fp32",
                        "compile": compiled,
                        "samples_per_s": round(rate, 1),
                        "s_per_step": round(batch / rate, 3),
                    }
                )
    result["machine"] = machine_info(args.device)
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
