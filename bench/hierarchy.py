"""Whole-body dances from the HRVQ hierarchy under one fixed CPU budget: music alignment, realism and smoothness of
body, fingers and face, and seams; prints JSON.

    python bench/hierarchy.py [--variant NAME] [--vq_variant NAME] [--m2m_variant NAME] [--vq_args=...]
                              [--m2m_args=...] [--res_args=...] [--base_only] [--train_seed 0] [--seed 0]
                              [--songs 128] [--seconds 10] [--vq_steps 1000] [--steps 1000]

Builds the synthetic dataset (723-d: body, fingers, face; baseline music; sequences split 50 / 25 / 25), trains a
small HRVQ tokenizer (4 layers per part; `--vq_args=--conditioner`: extra `train_vq` options, written with `=`), a
masked and a residual transformer (`--music_cond frame`, latent 128, 3 blocks; `--m2m_args` / `--res_args` extra
options; `--base_only`: no residual transformer, the base layer decoded alone) and generates one whole dance
per held-out song from its music (`longform.generate_long`: 3 windows of 37 token times per 10 s song, overlap 8;
18 unmasking steps, guidance 4; residual guidance 5, temperature 0.8). Reported against the test ground truth:
BAS_bailando (`fixed` protocol) with the own song's beats and the next test song's ("gap"), FID_k / FID_g of the
whole dances, hand-joint jerk (finger joints relative to their wrist) and face-coefficient jerk as ratios to the
ground truth's, and the joint speed within 3 frames of the window seams against inside the windows.
Runs are kept in `--out_dir` and reused (a variant's runs are named after it).
"""

from __future__ import annotations

import argparse
import json
import logging
import shlex
import time
from pathlib import Path

import numpy as np
import torch

from data.dataset_build import BuildOptions, build_dataset
from data.loaders import ProcessedData
from data.registry import dataset_spec
from data.synthetic_dance import build_dataset as make_synthetic
from evaluation.metrics.continuity import border_frames, continuity_report, mean_speed
from evaluation.protocols import PROTOCOLS, beat_scores, motion_beats
from evaluation.transformer import dance_metrics
from models.mask_transformer.loading import load_mage
from models.mask_transformer.longform import generate_long, song_window_starts
from motion.features import recover_from_ric
from motion.layout import layout_for_dim
from options.train_options import tokenizer_parser, transformer_parser
from training.tokenizer import TokenizerTrainer
from training.transformer import MaskedTrainer, ResidualTrainer
from utils.checkpoint import load_checkpoint
from utils.timing import machine_info

FPS = 30
WRISTS = {20: range(22, 37), 21: range(37, 52)}  # left / right wrist -> its 15 finger joints
SAMPLING = {"time_steps": 18, "cond_scale": 4.0, "res_cond_scale": 5.0, "res_temperature": 0.8}


def jerk(x: np.ndarray) -> float:
    """Mean magnitude of the third time difference (x fps^3) of a trajectory (T, ...) whose last axis is a vector."""
    d3 = np.diff(x, n=3, axis=0) * FPS**3
    return float(np.linalg.norm(d3, axis=-1).mean())


def hand_jerk(joints: np.ndarray) -> float:
    """Jerk (m/s^3) of the finger joints relative to their wrist. (T, 52, 3)"""
    rel = np.concatenate([joints[:, list(f)] - joints[:, w : w + 1] for w, f in WRISTS.items()], axis=1)
    return jerk(rel)


def bas(joints: np.ndarray, beat_times: np.ndarray) -> float:
    fixed = PROTOCOLS["fixed"]
    beats = np.round(beat_times[beat_times < len(joints) / FPS] * FPS).astype(int)
    return float(beat_scores(motion_beats(joints, FPS, fixed), beats, FPS, fixed)["BAS_bailando"])


def prepare(args: argparse.Namespace, root: Path) -> None:
    if not (root / "processed" / "summary.json").is_file():
        make_synthetic(root, songs=args.songs, seconds=args.seconds, seed=100)
        build_dataset(
            BuildOptions(
                root=root, spec=dataset_spec("synthetic"), music_types=("baseline",), split_ratios=(0.5, 0.25, 0.25)
            )
        )


def train(trainer, parser, argv: list[str], run: Path, steps: int) -> float:
    """Train a run unless it is there already; its training seconds (nan when reused)."""
    latest = run / "model" / "latest.tar"
    if latest.is_file() and load_checkpoint(latest)["step"] == steps:
        return float("nan")
    t0 = time.perf_counter()
    trainer(parser().parse_args([*argv, "--overwrite"]), run).fit()  # a run of other steps: trained again
    return round(time.perf_counter() - t0, 1)


def train_all(args: argparse.Namespace, root: Path, ckpts: Path, vq: str, m2m: str, res: str) -> dict[str, float]:
    common = [
        "--dataset_name",
        "synthetic",
        "--data_root",
        str(root),
        "--checkpoints_dir",
        str(ckpts),
        "--gpu_id",
        "-1",
        "--save_latest",
        "0",
        "--max_epoch",
        "100000",
    ]
    vq_argv = [
        *common,
        "--seed",
        "0",
        "--name",
        vq,
        "--vq_type",
        "hrvq",
        "--num_quantizers",
        "4",
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
        "--warm_up_iter",
        "100",
        "--lr",
        "5e-4",
        "--milestones",
        str(int(args.vq_steps * 0.8)),
        "--eval_every_e",
        "100000",
        *shlex.split(args.vq_args),
    ]
    seconds = {"vq": train(TokenizerTrainer, tokenizer_parser, vq_argv, ckpts / "synthetic" / vq, args.vq_steps)}
    tr = [
        *common,
        "--seed",
        str(args.train_seed),
        "--vq_name",
        vq,
        "--batch_size",
        "32",
        "--latent_dim",
        "128",
        "--ff_size",
        "256",
        "--n_layers",
        "3",
        "--n_heads",
        "4",
        "--dropout",
        "0.1",
        "--music_cond",
        "frame",
        "--max_steps",
        str(args.steps),
        "--warm_up_iter",
        "100",
        "--milestones",
        str(int(args.steps * 0.8)),
        "--lr",
        "5e-4",
        "--eval_every_e",
        "100000",
        "--eval_windows",
        "0",
    ]
    seconds["m2m"] = train(
        MaskedTrainer,
        transformer_parser,
        [*tr, "--name", m2m, *shlex.split(args.m2m_args)],
        ckpts / "synthetic" / m2m,
        args.steps,
    )
    if args.base_only:
        return seconds
    seconds["res"] = train(
        ResidualTrainer,
        transformer_parser,
        [*tr, "--name", res, *shlex.split(args.res_args)],
        ckpts / "synthetic" / res,
        args.steps,
    )
    return seconds


def evaluate(root: Path, ckpts: Path, m2m: str, res: str, seed: int = 0) -> dict[str, float]:
    data = ProcessedData(root)
    music_dir, _ = data.music_dir("baseline")
    clips = data.clip_ids("test")
    mage = load_mage(ckpts, "synthetic", m2m, res)
    c = mage.base.config
    layout = layout_for_dim(int(data.mean.shape[0]))
    face = layout.part_index["face"]
    gt, gen, beats, starts = [], [], [], None
    t0 = time.perf_counter()
    for k, clip in enumerate(clips):
        name = data.clips[clip]["name"]
        music = np.load(music_dir / f"{data.clips[clip].get('music', name)}.npy").astype(np.float32)
        motion = data.motion(clip).astype(np.float32)
        n = min(len(music), len(motion))
        features, _ = generate_long(mage, music[:n], overlap=8, seed=seed + k, progress=False, **SAMPLING)
        gt.append(motion[:n])
        gen.append(features)
        beats.append(np.asarray(json.loads((root / "meta" / f"{name}.json").read_text())["beat_times_s"]))
        starts = song_window_starts(n, c.times, 8, c.downsampling)
    gen_s = time.perf_counter() - t0
    n = min(len(x) for x in gt)
    gt_a, gen_a = np.stack([x[:n] for x in gt]), np.stack([x[:n] for x in gen])
    joints = {
        "gt": [recover_from_ric(x.astype(np.float64)) for x in gt_a],
        "gen": [recover_from_ric(x.astype(np.float64)) for x in gen_a],
    }
    metrics = dance_metrics(gt_a, gen_a)
    other = beats[1:] + beats[:1]
    own_b = np.array([bas(j, b) for j, b in zip(joints["gen"], beats, strict=True)])
    other_b = np.array([bas(j, b) for j, b in zip(joints["gen"], other, strict=True)])
    gt_b = np.array([bas(j, b) for j, b in zip(joints["gt"], beats, strict=True)])
    train_speed = mean_speed([data.motion(i) for i in data.clip_ids("train")])
    borders = border_frames(starts, c.times, c.downsampling)
    seams = [continuity_report(j, borders, train_speed) for j in joints["gen"]]
    hj = {w: np.mean([hand_jerk(j) for j in joints[w]]) for w in joints}
    fj = {w: np.mean([jerk(x[:, face][:, None, :]) for x in arr]) for w, arr in (("gt", gt_a), ("gen", gen_a))}
    return {
        "test_songs": len(clips),
        "frames": n,
        "BAS_own": own_b.mean(),
        "BAS_other": other_b.mean(),
        "BAS_gap": (own_b - other_b).mean(),
        "BAS_gt": gt_b.mean(),
        "FID_k": metrics["FID_k"],
        "FID_g": metrics["FID_g"],
        "Div_k": metrics["Div_k"],
        "Div_k_gt": metrics["Div_k_gt"],
        "hand_jerk_ratio": hj["gen"] / hj["gt"],
        "face_jerk_ratio": fj["gen"] / fj["gt"],
        "seam_speed_ratio": np.mean([s["speed_border_mean"] / s["speed_inside_mean"] for s in seams]),
        "seam_p95_ratio": np.mean([s["speed_border_p95"] / s["speed_inside_p95"] for s in seams]),
        "mean_speed_ratio": np.mean([s["mean_speed_ratio"] for s in seams]),
        "generate_s": gen_s,
    }


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--variant", default="default", help="names this variant's transformer runs")
    p.add_argument("--vq_variant", default="default", help="names this variant's tokenizer run")
    p.add_argument("--m2m_variant", help="names this variant's masked transformer run (default: --variant)")
    p.add_argument("--vq_args", default="", help="extra train_vq options")
    p.add_argument("--m2m_args", default="", help="extra train_m2m options")
    p.add_argument("--res_args", default="", help="extra train_res options")
    p.add_argument("--songs", type=int, default=128, help="synthetic songs (a quarter held out for testing)")
    p.add_argument("--seconds", type=float, default=10.0, help="length of each song")
    p.add_argument("--vq_steps", type=int, default=1000, help="tokenizer training steps")
    p.add_argument("--steps", type=int, default=1000, help="training steps of each transformer")
    p.add_argument("--out_dir", type=Path, default=Path("outputs/hierarchy"), help="dataset and runs")
    p.add_argument("--seed", type=int, default=0, help="sampling seed of the first test song (the k-th: seed + k)")
    p.add_argument("--train_seed", type=int, default=0, help="training seed of the transformers")
    p.add_argument("--base_only", action="store_true", help="no residual transformer: dances of the base layer alone")
    args = p.parse_args(argv)
    logging.disable(logging.INFO)
    torch.set_num_threads(2)
    root, ckpts = args.out_dir / "synthetic", args.out_dir / "checkpoints"
    prepare(args, root)
    vq, m2m, res = f"hrvq_{args.vq_variant}", f"m2m_{args.m2m_variant or args.variant}", f"res_{args.variant}"
    seconds = train_all(args, root, ckpts, vq, m2m, res)
    metrics = evaluate(root, ckpts, m2m, None if args.base_only else res, args.seed)
    result = {
        "benchmark": "hierarchy",
        "variant": args.variant,
        "runs": [vq, m2m] + ([] if args.base_only else [res]),
        "seed": args.seed,
        "train_seed": args.train_seed,
        "args": {"vq": args.vq_args, "m2m": args.m2m_args, "res": args.res_args},
        "budget": {"songs": args.songs, "seconds": args.seconds, "vq_steps": args.vq_steps, "steps": args.steps},
        "train_s": seconds,
        "metrics": {k: round(float(v), 4) for k, v in metrics.items()},
        "machine": machine_info(),
    }
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
