"""MMR retrieval on held-out synthetic songs under a CPU budget of minutes; prints JSON.

    python bench/mmr_retrieval.py [--songs 128] [--seconds 12] [--steps 3000] [--out_dir outputs/mmr_retrieval]

Builds the synthetic dataset (baseline music; sequences split 50 / 25 / 25 into train / val / test), trains a small
MMR with `train_mmr.py`'s trainer (the best checkpoint by validation R@1 on batches of 32), and reports retrieval
on the test sequences, both directions, on the whole split and on 100 seeded random batches of 32 windows (chance
R@1 3.125 %) for three models embedded the same way:

- the trained MMR (loaded back from its checkpoint, as later stages do);
- the same architecture at random initialisation (same normalisation);
- a metadata oracle, the ceiling of a model that knows each clip's style and tempo and nothing else: similarity
  = [same style] - |bpm difference| / 60 (windows of one song tie; ties count half).

It also reports the MMR matching scores (`evaluation/metrics/mmr_matching.py`, 1 s segments) of every test dance with
its own music and with the next test song's music: a score that follows the music should prefer the own music.
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
from data.synthetic_dance import TEMPO_RANGE
from data.synthetic_dance import build_dataset as make_synthetic
from evaluation.metrics.mmr_matching import embedded_matching_scores
from MMR.embedder import MMREmbedder, embed_clips, load_mmr
from MMR.losses import similarity
from MMR.model import MusicMotionRetrieval
from MMR.retrieval import retrieval_report
from options.mmr_options import mmr_parser
from training.mmr import MMRTrainer
from utils.checkpoint import load_checkpoint
from utils.timing import machine_info

CHANCE_R01 = 100 / 32


def options(root: Path, args: argparse.Namespace) -> argparse.Namespace:
    """The trainer's options: a small MMR (TMR's losses and weights) and the experiment's budget."""
    return mmr_parser().parse_args(
        [
            "--dataset_name",
            "synthetic",
            "--data_root",
            str(root),
            "--latent",
            str(args.latent),
            "--ff",
            str(args.ff),
            "--layers",
            str(args.layers),
            "--vae" if args.vae else "--no-vae",
            "--seed",
            "1234",
            "--gpu_id",
            "-1",
            "--batch_size",
            str(args.batch_size),
            "--max_epoch",
            str(10**6),
            "--max_steps",
            str(args.steps),
            "--lr",
            str(args.lr),
            "--warm_up_iter",
            "100",
            "--milestones",
            str(int(args.steps * 0.8)),
            "--mixed_precision",
            "no",
            "--log_every",
            "100",
            "--save_latest",
            "0",
            "--eval_every_e",
            str(args.eval_every_e),
        ]
    )


def build(root: Path, songs: int, seconds: float) -> ProcessedData:
    if not (root / "processed" / "summary.json").is_file():
        make_synthetic(root, songs=songs, seconds=seconds, seed=0)
        build_dataset(
            BuildOptions(
                root=root,
                spec=dataset_spec("synthetic"),
                music_types=("baseline",),
                split_ratios=(0.5, 0.25, 0.25),
                workers=2,
            )
        )
    return ProcessedData(root)


def report(sims: np.ndarray) -> dict[str, float]:
    return {(k if k.startswith("batch/") else f"all/{k}"): round(v, 2) for k, v in retrieval_report(sims).items()}


def matching(embedder: MMREmbedder, data: ProcessedData) -> dict[str, dict[str, float]]:
    """Matching scores of the test dances with their own music and with the next test song's (cut to length)."""
    clips = data.clip_ids("test")
    motions = [data.motion(c) for c in clips]
    music_dir, _ = data.music_dir("baseline")
    songs = [np.load(music_dir / f"{data.clips[c].get('music', data.clips[c]['name'])}.npy") for c in clips]
    other = songs[1:] + songs[:1]
    out = {
        "own music": embedded_matching_scores(embedder, motions, songs),
        "next song's music": embedded_matching_scores(embedder, motions, other),
    }
    return {k: {m: round(v, 4) for m, v in scores.items()} for k, scores in out.items()}


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--songs", type=int, default=128, help="synthetic songs")
    p.add_argument("--seconds", type=float, default=12.0, help="length of each song")
    p.add_argument("--steps", type=int, default=3000, help="training steps")
    p.add_argument("--batch_size", type=int, default=64, help="training batch")
    p.add_argument("--lr", type=float, default=2e-4, help="learning rate")
    p.add_argument("--latent", type=int, default=128, help="embedding width")
    p.add_argument("--ff", type=int, default=256, help="feed-forward width")
    p.add_argument("--layers", type=int, default=2, help="Transformer layers")
    p.add_argument("--vae", action=argparse.BooleanOptionalAction, default=True, help="VAE tokens (TMR)")
    p.add_argument("--eval_every_e", type=int, default=5, help="validation every this many epochs")
    p.add_argument("--out_dir", type=Path, default=Path("outputs/mmr_retrieval"), help="dataset and run")
    args = p.parse_args(argv)
    logging.disable(logging.INFO)
    torch.set_num_threads(2)
    root, run = args.out_dir / "synthetic", args.out_dir / f"mmr_{'vae' if args.vae else 'det'}"
    data = build(root, args.songs, args.seconds)
    t0 = time.perf_counter()
    latest = run / "model" / "latest.tar"
    if latest.is_file() and load_checkpoint(latest)["step"] == args.steps:
        train_s = float("nan")  # trained by an earlier run of this script: evaluated again only
    else:
        opt = options(root, args)
        opt.overwrite = True  # a run of other steps is trained again
        MMRTrainer(opt, run).fit()
        train_s = time.perf_counter() - t0
    trained = load_mmr(run, "best")
    test = MusicMotionClips(data, "test", "baseline", normalize=False, deterministic=True)
    meta = [json.loads((root / "meta" / f"{data.clips[c]['name']}.json").read_text()) for c in test.clip]
    style = np.array([m["style"] for m in meta])
    bpm = np.array([m["bpm"] for m in meta])
    torch.manual_seed(0)
    random_init = MMREmbedder(MusicMotionRetrieval(trained.model.config), trained.inputs, trained.data)
    oracle = (style[:, None] == style[None]).astype(float) - np.abs(bpm[:, None] - bpm[None]) / np.ptp(TEMPO_RANGE)
    result = {
        "benchmark": "mmr_retrieval",
        "songs": args.songs,
        "seconds": args.seconds,
        "test_sequences": len(set(test.sequence.tolist())),
        "test_windows": len(test),
        "chance_R01": CHANCE_R01,
        "budget": {
            "steps": args.steps,
            "batch": args.batch_size,
            "latent": args.latent,
            "ff": args.ff,
            "layers": args.layers,
            "vae": args.vae,
            "lr": args.lr,
        },
        "train_s": round(train_s, 1),
        "models": {},
    }
    for name, embedder in (("trained", trained), ("random init", random_init)):
        music, motion = embed_clips(embedder, test)
        result["models"][name] = report(similarity(music, motion).numpy())
    result["models"]["metadata oracle"] = report(oracle)
    result["matching"] = {
        name: matching(embedder, data) for name, embedder in (("trained", trained), ("random init", random_init))
    }
    result["machine"] = machine_info()
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
