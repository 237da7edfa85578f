"""Does MAGE follow the music? BAS with the own music vs another song's, on held-out synthetic songs; prints JSON.

    python bench/m2m_alignment.py [--songs 256] [--seconds 8] [--steps 1500] [--out_dir outputs/m2m_alignment]

Builds the synthetic dataset (baseline music; sequences split 50 / 25 / 25), trains a small RVQ tokenizer, a small
MMR (and embeds the music with it), then one masked transformer per music conditioning (`clip`, `frame`, `both`)
and one residual transformer (`both`), all tiny and on CPU. For every held-out (test) song it generates the first
window (148 frames) from the song's music (guidance 4, 18 steps; residual layers guidance 5, temperature 0.8),
decodes it with the tokenizer and scores its beat alignment (BAS_bailando, `fixed` protocol, sigma 3 frames) with
the song's ground-truth beats and with the next test song's beats. A sign-flip permutation test (10,000 draws) of the
paired differences asks whether the own music scores higher (one-sided p). Controls: the same checkpoints with the
music condition dropped (guidance scale 0: the unconditional model) and the ground-truth dances (the ceiling).
`--mmr_loss` adds a `both` masked transformer trained with the MMR loss.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import numpy as np
import torch

from data.dataset_build import BuildOptions, build_dataset
from data.loaders import MusicMotionClips, ProcessedData
from data.registry import dataset_spec
from data.synthetic_dance import build_dataset as make_synthetic
from evaluation.protocols import PROTOCOLS, beat_scores, motion_beats
from MMR.mmr_music_feat256 import main as mmr_music_feat256
from models.mask_transformer.loading import load_mage
from models.mask_transformer.sampling import generate
from motion.features import recover_from_ric
from options.mmr_options import mmr_parser
from options.train_options import tokenizer_parser, transformer_parser
from training.mmr import MMRTrainer
from training.tokenizer import TokenizerTrainer
from training.transformer import MaskedTrainer, ResidualTrainer
from utils.checkpoint import load_checkpoint
from utils.timing import machine_info

FPS = 30
CONDS = ("clip", "frame", "both")


def permutation_p(diff: np.ndarray, draws: int = 10000, seed: int = 0) -> float:
    """One-sided p of mean(diff) > 0 under random sign flips of the paired differences."""
    rng = np.random.default_rng(seed)
    signs = rng.choice([-1.0, 1.0], size=(draws, len(diff)))
    null = (signs * diff).mean(1)
    return float(((null >= diff.mean()).sum() + 1) / (draws + 1))


def bas(features: np.ndarray, beat_times: np.ndarray) -> float:
    """BAS_bailando (`fixed` protocol) of a feature window (T, D) starting at 0 s with beats (s)."""
    fixed = PROTOCOLS["fixed"]
    joints = recover_from_ric(features.astype(np.float64))
    beats = np.round(beat_times[beat_times < len(features) / FPS] * FPS).astype(int)
    return float(beat_scores(motion_beats(joints, FPS, fixed), beats, FPS, fixed)["BAS_bailando"])


def gap(own: list[float], other: list[float]) -> dict[str, float]:
    own_a, other_a = np.asarray(own), np.asarray(other)
    return {
        "BAS_own": round(float(own_a.mean()), 4),
        "BAS_other": round(float(other_a.mean()), 4),
        "gap": round(float((own_a - other_a).mean()), 4),
        "p": permutation_p(own_a - other_a),
    }


def prepare(args: argparse.Namespace, root: Path, ckpts: Path) -> None:
    """Dataset, tokenizer, MMR and its music features (skipped when already there)."""
    if not (root / "processed" / "summary.json").is_file():
        make_synthetic(root, songs=args.songs, seconds=args.seconds, seed=100)
        build_dataset(
            BuildOptions(
                root=root,
                spec=dataset_spec("synthetic"),
                music_types=("baseline",),
                split_ratios=(0.5, 0.25, 0.25),
                workers=2,
            )
        )
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
    ]
    if not (ckpts / "synthetic" / "rvq" / "model" / "latest.tar").is_file():
        vq_opt = tokenizer_parser().parse_args(
            [
                *common,
                "--name",
                "rvq",
                "--vq_type",
                "rvq",
                "--num_quantizers",
                "3",
                "--batch_size",
                "32",
                "--window_size",
                "64",
                "--nb_code",
                "256",
                "--code_dim",
                "128",
                "--width",
                "128",
                "--depth",
                "2",
                "--max_steps",
                str(args.vq_steps),
                "--max_epoch",
                "10000",
                "--warm_up_iter",
                "100",
                "--lr",
                "5e-4",
                "--milestones",
                str(int(args.vq_steps * 0.8)),
                "--save_latest",
                "0",
                "--eval_every_e",
                "10000",
            ]
        )
        TokenizerTrainer(vq_opt, ckpts / "synthetic" / "rvq").fit()
    mmr_run = ckpts / "mmr"
    if not (mmr_run / "model" / "latest.tar").is_file():
        opt = mmr_parser().parse_args(
            [
                *common[:4],
                "--gpu_id",
                "-1",
                "--latent",
                "64",
                "--ff",
                "128",
                "--layers",
                "2",
                "--no-vae",
                "--seed",
                "1234",
                "--batch_size",
                "32",
                "--max_epoch",
                str(10**6),
                "--max_steps",
                str(args.mmr_steps),
                "--lr",
                "2e-4",
                "--warm_up_iter",
                "100",
                "--mixed_precision",
                "no",
                "--log_every",
                "100",
                "--save_latest",
                "0",
                "--eval_every_e",
                str(10**6),
            ]
        )
        MMRTrainer(opt, mmr_run).fit()
    if "mmr" not in ProcessedData(root).summary["music"]:
        mmr_music_feat256(["--run_dir", str(mmr_run), "--which", "latest", "--gpu_id", "-1"])


def train_transformers(args: argparse.Namespace, root: Path, ckpts: Path) -> dict[str, float]:
    common = [
        "--dataset_name",
        "synthetic",
        "--data_root",
        str(root),
        "--checkpoints_dir",
        str(ckpts),
        "--gpu_id",
        "-1",
        "--vq_name",
        "rvq",
        "--batch_size",
        "32",
        "--latent_dim",
        "128",
        "--ff_size",
        "256",
        "--n_layers",
        "4",
        "--n_heads",
        "4",
        "--dropout",
        "0.1",
        "--max_steps",
        str(args.steps),
        "--max_epoch",
        "10000",
        "--warm_up_iter",
        "100",
        "--milestones",
        str(int(args.steps * 0.8)),
        "--lr",
        "5e-4",
        "--save_latest",
        "0",
        "--eval_every_e",
        "10000",
        "--seed",
        "0",
    ]
    seconds = {}
    runs = [*((f"m2m_{c}", MaskedTrainer, c, []) for c in CONDS), ("res_both", ResidualTrainer, "both", [])]
    if args.mmr_loss:
        runs.append(("m2m_both_mmrloss", MaskedTrainer, "both", ["--mmr_loss", "--mmr_run", str(ckpts / "mmr")]))
    for name, trainer, cond, extra in runs:
        latest = ckpts / "synthetic" / name / "model" / "latest.tar"
        if latest.is_file() and load_checkpoint(latest)["step"] == args.steps:
            continue
        t0 = time.perf_counter()
        opt = transformer_parser().parse_args([*common, "--name", name, "--music_cond", cond, *extra, "--overwrite"])
        trainer(opt, ckpts / "synthetic" / name).fit()
        seconds[name] = round(time.perf_counter() - t0, 1)
    return seconds


@torch.no_grad()
def dances(name: str, ckpts: Path, batch: dict, scale: float, seed: int = 0) -> np.ndarray:
    """Decoded features (B, T, D) of the first window of each song from its music (guidance `scale`; 0: none)."""
    mage = load_mage(ckpts, "synthetic", name, "res_both", mmr_run=ckpts / "mmr")
    valid = torch.ones(len(batch["music"]), mage.base.config.parts * mage.base.config.times, dtype=torch.bool)
    clip, music = mage.condition(batch["music"], batch["music_clip"])
    tokens = generate(
        mage.base,
        mage.res,
        valid,
        clip,
        music,
        cond_scale=scale,
        res_cond_scale=5.0 if scale else 0.0,
        generator=torch.Generator().manual_seed(seed),
    )
    return mage.decode(tokens).numpy()


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--songs", type=int, default=256, help="synthetic songs (a quarter are held out for testing)")
    p.add_argument("--seconds", type=float, default=8.0, help="length of each song")
    p.add_argument("--vq_steps", type=int, default=1500, help="tokenizer training steps")
    p.add_argument("--mmr_steps", type=int, default=1000, help="MMR training steps")
    p.add_argument("--steps", type=int, default=1500, help="training steps of each transformer")
    p.add_argument("--mmr_loss", action="store_true", help="also a `both` model trained with --mmr_loss")
    p.add_argument("--out_dir", type=Path, default=Path("outputs/m2m_alignment"), help="dataset and runs")
    args = p.parse_args(argv)
    logging.disable(logging.INFO)
    torch.set_num_threads(2)
    root, ckpts = args.out_dir / "synthetic", args.out_dir / "checkpoints"
    prepare(args, root, ckpts)
    train_s = train_transformers(args, root, ckpts)
    data = ProcessedData(root)
    test = MusicMotionClips(data, "test", "baseline", normalize=False, deterministic=True, clip_type="mmr")
    first = [i for i in range(len(test)) if test.window_in_clip[i] == 0]  # the first window of every test song
    batch = test.__getitems__(first)
    beats = [np.asarray(json.loads((root / "meta" / f"{n}.json").read_text())["beat_times_s"]) for n in batch["name"]]
    other = beats[1:] + beats[:1]  # the next test song's beats
    result = {
        "benchmark": "m2m_alignment",
        "songs": args.songs,
        "seconds": args.seconds,
        "test_songs": len(first),
        "steps": {"vq": args.vq_steps, "mmr": args.mmr_steps, "transformers": args.steps},
        "train_s": train_s,
        "bas": {},
    }
    gt = batch["motion"].numpy()
    result["bas"]["ground truth"] = gap(
        [bas(m, b) for m, b in zip(gt, beats, strict=True)], [bas(m, b) for m, b in zip(gt, other, strict=True)]
    )
    variants = [(c, f"m2m_{c}") for c in CONDS] + ([("both + MMR loss", "m2m_both_mmrloss")] if args.mmr_loss else [])
    for cond, name in variants:
        for label, scale in ((cond, 4.0), (f"{cond}, condition dropped", 0.0)):
            gen = dances(name, ckpts, batch, scale)
            result["bas"][label] = gap(
                [bas(m, b) for m, b in zip(gen, beats, strict=True)],
                [bas(m, b) for m, b in zip(gen, other, strict=True)],
            )
    result["machine"] = machine_info()
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
