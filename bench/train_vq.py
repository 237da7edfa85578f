"""Benchmark: tokenizer training steps per second (forward, loss, backward, AdamW); prints JSON.

    python bench/train_vq.py [--steps 2] [--device cpu|cuda] [--configs paper tiny]

`paper`: width 512, depth 3, 512 codes of 512-d, 6 quantizers, batch 256, window 64 (the published recipe); `tiny`:
width 32, depth 1, 64 codes of 32-d, 3 quantizers, batch 32. Both for RVQ on 623-d and HRVQ on 723-d features,
random inputs (the step cost does not depend on the data). On CUDA also bf16 autocast and `torch.compile`.
"""

from __future__ import annotations

import json

import torch

from models.vq.model import MotionTokenizer, TokenizerConfig, reconstruction_loss
from motion.layout import MotionLayout
from utils.timing import machine_info, maybe_compile, precision_variants, speed_parser, training_rate

CONFIGS = {
    "paper": ({"width": 512, "depth": 3, "nb_code": 512, "code_dim": 512, "num_quantizers": 6}, 256),
    "tiny": ({"width": 32, "depth": 1, "nb_code": 64, "code_dim": 32, "num_quantizers": 3}, 32),
}
WINDOW = 64


def step_rate(
    vq_type: str,
    dim: int,
    shape: dict,
    batch: int,
    steps: int,
    device: str,
    bf16: bool = False,
    compile_model: bool = False,
    window: int = WINDOW,
) -> float:
    """Training samples per second over `steps` steps (windows of `window` frames) after one warm-up step."""
    torch.manual_seed(0)
    model = MotionTokenizer(TokenizerConfig(vq_type=vq_type, dim=dim, **shape)).to(device).train()
    layout = MotionLayout(face_dim=100) if dim == 723 else MotionLayout()
    opt = torch.optim.AdamW(model.parameters(), lr=2e-4, betas=(0.9, 0.99))
    forward = maybe_compile(model, compile_model)
    x = torch.randn(batch, window, dim, device=device)

    def loss():
        out = forward(x)
        losses = reconstruction_loss(x, out["recon"].float(), layout)
        return losses["recon"] + 0.5 * losses["joints"] + 0.02 * out["commit"]

    return training_rate(loss, opt, batch, steps, device, bf16)


def main(argv: list[str] | None = None) -> dict:
    p = speed_parser(__doc__, CONFIGS)
    args = p.parse_args(argv)
    result = {"benchmark": "train_vq", "window": WINDOW, "device": args.device, "steps": args.steps, "results": []}
    variants = precision_variants(args.device)
    for name in args.configs:
        shape, batch = CONFIGS[name]
        for vq_type, dim in (("rvq", 623), ("hrvq", 723)):
            for bf16, compiled in variants:
                rate = step_rate(vq_type, dim, shape, batch, args.steps, args.device, bf16, compiled)
                result["results"].append(
                    {
                        "config": name,
                        "vq_type": vq_type,
                        "dim": dim,
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
