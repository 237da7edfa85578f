"""Benchmark: MMR training and embedding throughput (clips of 148 frames per second); prints JSON.

    python bench/mmr.py [--steps 2] [--device cpu|cuda] [--configs paper small] [--music_dims 35 4800]

`paper`: the released MMR (latent 256, ff 1024, 6 layers, 4 heads, VAE), training batch 128; `small`: the one the
synthetic retrieval experiment trains (latent 64, ff 128, 2 layers), batch 32. Training = both encoders, the
decoder twice, the TMR loss, backward and AdamW; embedding = both encoders in eval mode (music and motion of each
clip), batch 256. Music 35-d (baseline) and 4800-d (Jukebox); motion 263-d. Random inputs (the cost does not depend
on the data). On CUDA also bf16 autocast and `torch.compile`.
"""

from __future__ import annotations

import json

import torch

from MMR.model import MMRConfig, MusicMotionRetrieval
from utils.timing import items_per_second, machine_info, maybe_compile, precision_variants, speed_parser, training_rate

CONFIGS = {
    "paper": ({"latent": 256, "ff": 1024, "layers": 6, "heads": 4}, 128),
    "small": ({"latent": 64, "ff": 128, "layers": 2, "heads": 4}, 32),
}
CLIP_FRAMES, MOTION_DIM, EMBED_BATCH = 148, 263, 256


def measure(
    shape: dict,
    batch: int,
    music_dim: int,
    steps: int,
    device: str,
    bf16: bool,
    compile_model: bool,
    frames: int = CLIP_FRAMES,
    embed_batch: int = EMBED_BATCH,
) -> dict[str, float]:
    """(training clips/s, embedding clips/s) of one configuration, clips of `frames` frames."""
    torch.manual_seed(0)
    model = MusicMotionRetrieval(MMRConfig(music_dim=music_dim, motion_dim=MOTION_DIM, **shape)).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    losses = maybe_compile(model.losses, compile_model)
    motion, music = (
        torch.randn(batch, frames, MOTION_DIM, device=device),
        torch.randn(batch, frames, music_dim, device=device),
    )
    groups = torch.arange(batch, device=device)

    def loss():
        model.train()
        return losses(motion, music, groups=groups)["loss"]

    e_motion, e_music = (
        torch.randn(embed_batch, frames, MOTION_DIM, device=device),
        torch.randn(embed_batch, frames, music_dim, device=device),
    )

    @torch.no_grad()
    def embed():
        model.eval()
        with torch.autocast(device_type=device, dtype=torch.bfloat16, enabled=bf16):
            model.encode_music(e_music), model.encode_motion(e_motion)

    return {
        "train_clips_per_s": round(training_rate(loss, opt, batch, steps, device, bf16), 1),
        "embed_clips_per_s": round(items_per_second(embed, embed_batch, steps, device), 1),
    }


def main(argv: list[str] | None = None) -> dict:
    p = speed_parser(__doc__, CONFIGS)
    p.add_argument("--music_dims", nargs="+", type=int, default=[35, 4800], help="music feature widths")
    args = p.parse_args(argv)
    result = {
        "benchmark": "mmr",
        "clip_frames": CLIP_FRAMES,
        "device": args.device,
        "steps": args.steps,
        "embed_batch": EMBED_BATCH,
        "results": [],
    }
    variants = precision_variants(args.device)
    for name in args.configs:
        shape, batch = CONFIGS[name]
        for music_dim in args.music_dims:
            for bf16, compiled in variants:
                rates = measure(shape, batch, music_dim, args.steps, args.device, bf16, compiled)
                result["results"].append(
                    {
                        "config": name,
                        "music_dim": music_dim,
                        "batch": batch,
                        "precision": "bf16" if bf16 else "fp32",
                        "compile": compiled,
                        **rates,
                    }
                )
    result["machine"] = machine_info(args.device)
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
