"""Benchmark: seconds of compute per minute of generated dance (any-length generation, `gen_m2m.py --music`); JSON.

    python bench/generate.py [--seconds 60] [--device cpu|cuda] [--presets paper fast] [--repeats 1]

Paper-size models with random weights (the cost does not depend on the weights): HRVQ tokenizer on 723-d features
(3 parts, 6 layers, 512 codes of 512-d, width 512, depth 3), MMR (latent 256, 6 layers) embedding every window's
music, masked and residual transformers of the published recipe (8 layers, latent 384, 6 heads, ff 1024, `both`
conditioning). Music: a synthetic song of `--seconds`; its 35-d features are timed apart (`features_s`), then the
dance: windows of 37 token times (148 frames) with 8 shared, one decode of the whole sequence (`dance_s`).
Presets: `paper` = the release's gen_m2m settings (masked 28 steps CFG 4, residual CFG 5); `fast` = 10 steps, CFG
4, residual layers without guidance (one forward pass each), overlap 4. On CUDA also bf16 autocast.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from data.synthetic_dance import SR, plan_song, render_music
from generator.dances import GenerationOptions, dance_for_music
from generator.music_input import SongMusic, file_features, music_frames
from MMR.embedder import MMREmbedder, MMRInputs
from MMR.model import MMRConfig, MusicMotionRetrieval
from models.mask_transformer.loading import MAGEModels
from models.mask_transformer.transformer import MaskTransformer, ResidualTransformer, TransformerConfig
from models.vq.model import MotionTokenizer, TokenizerConfig
from utils.timing import machine_info

DIM, MUSIC_DIM, CLIP_DIM = 723, 35, 256
TOKENIZER = {"vq_type": "hrvq", "nb_code": 512, "code_dim": 512, "width": 512, "depth": 3, "num_quantizers": 6}
MMR_SHAPE = {"latent": 256, "ff": 1024, "layers": 6}
TRANSFORMER = {
    "latent_dim": 384,
    "n_layers": 8,
    "n_heads": 6,
    "ff_size": 1024,
    "nb_code": 512,
    "parts": 3,
    "times": 37,
    "num_quantizers": 6,
    "clip_dim": CLIP_DIM,
    "music_dim": MUSIC_DIM,
}
PRESETS = {
    "paper": GenerationOptions(time_steps=28, cond_scale=4.0, res_cond_scale=5.0, overlap=8),
    "fast": GenerationOptions(time_steps=10, cond_scale=4.0, res_cond_scale=1.0, overlap=4),
}


def paper_models(
    device: str, tokenizer: dict | None = None, transformer: dict | None = None, mmr_shape: dict | None = None
) -> MAGEModels:
    """The whole generation stack, random weights, on `device`: paper size (TOKENIZER, TRANSFORMER, MMR_SHAPE)
    unless other shapes are given."""
    torch.manual_seed(0)
    vq = MotionTokenizer(TokenizerConfig(dim=DIM, **(tokenizer or TOKENIZER))).to(device).eval()
    cfg = TransformerConfig(**(transformer or TRANSFORMER))
    base, res = MaskTransformer(cfg).to(device).eval(), ResidualTransformer(cfg).to(device).eval()
    shape = mmr_shape or MMR_SHAPE
    model = MusicMotionRetrieval(MMRConfig(music_dim=MUSIC_DIM, motion_dim=263, **shape)).to(device)
    inputs = MMRInputs(
        DIM,
        "body",
        "baseline",
        torch.zeros(263, device=device),
        torch.ones(263, device=device),
        torch.zeros(MUSIC_DIM, device=device),
        torch.ones(MUSIC_DIM, device=device),
    )
    mmr = MMREmbedder(model, inputs, {"clip_frames": 148, "music_mode": "full_song"})
    ckpt = {"music": {"music_type": "baseline", "music_mode": "full_song", "music_cond": "both"}}
    zeros, ones = torch.zeros(DIM, device=device), torch.ones(DIM, device=device)
    return MAGEModels(
        base,
        res,
        ckpt,
        vq,
        zeros,
        ones,
        mmr,
        torch.zeros(MUSIC_DIM, device=device),
        torch.ones(MUSIC_DIM, device=device),
    )


def synthetic_song(seconds: float) -> tuple[SongMusic, float]:
    """A synthetic song of `seconds` with its 35-d baseline features, and the seconds the features took."""
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "song.wav"
        sf.write(wav, render_music(plan_song(7, seconds)), SR)
        t0 = time.perf_counter()
        frames = music_frames(wav)
        music = file_features(wav, "baseline", "full_song", frames)
        features_s = time.perf_counter() - t0
    return SongMusic("song", frames, music), features_s


def dance_seconds(
    mage: MAGEModels, song: SongMusic, opts: GenerationOptions, device: str, bf16: bool, repeats: int
) -> float:
    """The fastest of `repeats` timed dances for `song` (after one warm-up), seconds; under bf16 autocast if asked."""
    autocast = torch.autocast(torch.device(device).type, dtype=torch.bfloat16) if bf16 else nullcontext()
    cuda = torch.device(device).type == "cuda"
    times = []
    with autocast:
        dance_for_music(mage, song, opts, seed=0, progress=False)  # warm-up (allocations, kernels)
        for r in range(repeats):
            if cuda:
                torch.cuda.synchronize()
            t0 = time.perf_counter()
            out = dance_for_music(mage, song, opts, seed=r, progress=False)
            if cuda:
                torch.cuda.synchronize()
            times.append(time.perf_counter() - t0)
    assert out.shape == (song.frames, DIM) and np.isfinite(out).all()
    return min(times)


def preset_row(name: str, bf16: bool, dance_s: float, features_s: float, frames: int) -> dict:
    """One result row: the preset's settings and its seconds per minute of dance (features apart and included)."""
    minutes = frames / 30 / 60
    return {
        "preset": name,
        "precision": "bf16" if bf16 else "fp32",
        **vars(PRESETS[name]),
        "dance_s": round(dance_s, 2),
        "dance_s_per_minute": round(dance_s / minutes, 2),
        "total_s_per_minute": round((dance_s + features_s) / minutes, 2),
        "real_time_factor": round(frames / 30 / (dance_s + features_s), 2),
    }


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, default=60.0, help="length of the song")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu", help="cpu or cuda")
    p.add_argument("--presets", nargs="+", default=list(PRESETS), choices=list(PRESETS), help="sampling settings")
    p.add_argument("--repeats", type=int, default=1, help="timed generations per setting (the fastest is kept)")
    args = p.parse_args(argv)
    mage = paper_models(args.device)
    song, features_s = synthetic_song(args.seconds)
    result = {
        "benchmark": "generate",
        "seconds_of_music": song.frames / 30,
        "device": args.device,
        "features_s": round(features_s, 2),
        "results": [],
    }
    for bf16 in [False] + ([True] if args.device == "cuda" else []):
        for name in args.presets:
            best = dance_seconds(mage, song, PRESETS[name], args.device, bf16, args.repeats)
            result["results"].append(preset_row(name, bf16, best, features_s, song.frames))
    result["machine"] = machine_info(args.device)
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
