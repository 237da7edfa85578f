"""Benchmark: masked and residual transformer training steps (samples/s); prints JSON.

    python bench/train_m2m.py [--steps 2] [--device cpu|cuda] [--configs paper tiny]

`paper`: 8 layers, latent 384, 6 heads, ff 1024, batch 64 (the published recipe); `tiny`: 2 layers, latent 64,
4 heads, ff 128, batch 32. Token grid of HRVQ on 723-d features (3 parts x 37 times, 6 layers, 512 codes) with
`both` conditioning (MMR clip token + 35-d frame features); a step = masking, forward, cross-entropy, backward,
AdamW, on random tokens (the cost does not depend on their values; the frozen tokenizer's encoding is not included).
On CUDA also bf16 autocast and `torch.compile`.
"""

from __future__ import annotations

import json

import torch
import torch.nn.functional as F

from models.mask_transformer.masking import mask_tokens
from models.mask_transformer.transformer import MaskTransformer, ResidualTransformer, TransformerConfig
from utils.timing import machine_info, precision_variants, speed_parser, training_rate

CONFIGS = {
    "paper": ({"latent_dim": 384, "n_layers": 8, "n_heads": 6, "ff_size": 1024}, 64),
    "tiny": ({"latent_dim": 64, "n_layers": 2, "n_heads": 4, "ff_size": 128}, 32),
}
GRID = {"nb_code": 512, "parts": 3, "times": 37, "num_quantizers": 6, "clip_dim": 256, "music_dim": 35}


def step_rate(kind: str, shape: dict, batch: int, steps: int, device: str, bf16: bool, compiled: bool) -> float:
    """Training samples per second of the masked ("m2m") or residual ("res") transformer."""
    torch.manual_seed(0)
    c = TransformerConfig(**GRID, **shape)
    model = (MaskTransformer if kind == "m2m" else ResidualTransformer)(c).to(device).train()
    forward = torch.compile(model) if compiled else model
    opt = torch.optim.AdamW(model.parameters(), lr=2e-4, betas=(0.9, 0.99))
    tokens = torch.randint(0, c.nb_code, (batch, c.parts * c.times, c.num_quantizers), device=device)
    valid = torch.ones(batch, c.parts * c.times, dtype=torch.bool, device=device)
    clip, music = torch.randn(batch, c.clip_dim, device=device), torch.randn(batch, c.times * 4, c.music_dim,
                                                                              device=device)  # fmt: skip

    def loss():
        if kind == "m2m":
            x, where = mask_tokens(tokens[..., 0], valid, c.nb_code, c.nb_code)
            logits, target = forward(x, valid, clip, music), tokens[..., 0]
        else:
            layer = torch.randint(1, c.num_quantizers, (batch,), device=device)
            logits, where = forward(tokens, layer, valid, clip, music), valid
            target = tokens.gather(-1, layer[:, None, None].expand(-1, tokens.shape[1], 1))[..., 0]
        return F.cross_entropy(logits[where].float(), target[where])

    return training_rate(loss, opt, batch, steps, device, bf16)


def main(argv: list[str] | None = None) -> dict:
    p = speed_parser(__doc__, CONFIGS)
    args = p.parse_args(argv)
    result = {"benchmark": "train_m2m", "grid": GRID, "device": args.device, "steps": args.steps, "results": []}
    variants = precision_variants(args.device)
    for name in args.configs:
        shape, batch = CONFIGS[name]
        for kind in ("m2m", "res"):
            for bf16, compiled in variants:
                rate = step_rate(kind, shape, batch, args.steps, args.device, bf16, compiled)
                result["results"].append({"config": name, "transformer": kind, "batch": batch,
                                          "precision": "bf16" if bf16 else "fp32", "compile": compiled,
                                          "samples_per_s": round(rate, 1),
                                          "s_per_step": round(batch / rate, 3)})  # fmt: skip
    result["machine"] = machine_info(args.device)
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
