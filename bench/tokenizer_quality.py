"""Tokenizer quality on the synthetic dataset under one fixed CPU budget; prints JSON.

    python bench/tokenizer_quality.py [--songs 16] [--steps 1500] [--out_dir outputs/tokenizer_quality]

Builds the synthetic dataset (723-d: body, fingers, face; baseline music), then trains VQ (1 layer), RVQ (6),
HRVQ (6 per part; independent per-part RVQs, the default), HRVQ with its conditioner (`--conditioner`: each finer
part predicted from the coarser part's code) and with the conditioner also trained as a predictor (`--cond_loss 1`)
with the same small architecture and the same number of steps, and reports on the test and validation sequences:
MPJPE (mm; all, body, hands), face error, BAS of the reconstructions relative to the ground truth's, the HRVQ
conditioner's ||c|| / ||r|| per finer part and layer, plus two references: an untrained HRVQ and the mean pose (the
dataset's Mean features on every frame).
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import numpy as np
import torch

from data.dataset_build import BuildOptions, build_dataset, prepare_raw
from data.loaders import ProcessedData
from data.registry import dataset_spec
from evaluation.tokenizer import Reconstruction, evaluate_reconstructions, reconstruct
from models.vq.loading import load_vq
from models.vq.model import MotionTokenizer, tokenizer_std
from motion.features import recover_from_ric
from options.train_options import tokenizer_parser
from training.tokenizer import TokenizerStageConfig, TokenizerTrainer
from utils.checkpoint import load_checkpoint
from utils.timing import machine_info

MODELS = {
    "VQ-1": ("rvq", 1, []),
    "RVQ-6": ("rvq", 6, []),
    "HRVQ-6": ("hrvq", 6, []),
    "HRVQ-6-cond": ("hrvq", 6, ["--conditioner"]),
    "HRVQ-6-condloss": ("hrvq", 6, ["--conditioner", "--cond_loss", "1"]),
}


def architecture(steps: int) -> list[str]:
    """The shared small architecture and budget (the paper's shape scaled down for 2 CPU cores)."""
    return [
        "--gpu_id",
        "-1",
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
        str(steps),
        "--max_epoch",
        "1000",
        "--warm_up_iter",
        "100",
        "--milestones",
        str(int(steps * 0.8)),
        "--lr",
        "5e-4",
        "--log_every",
        "50",
        "--save_latest",
        "0",
        "--eval_every_e",
        "1000",
    ]


def mean_pose(data: ProcessedData, clips: list[int]) -> list[Reconstruction]:
    out = []
    for c in clips:
        gt = data.motion(c).astype(np.float32)
        gt = gt[: len(gt) // 4 * 4]
        rec = np.broadcast_to(data.mean.astype(np.float32), gt.shape).copy()
        out.append(Reconstruction(data.clips[c]["name"], recover_from_ric(gt), recover_from_ric(rec), gt, rec))
    return out


@torch.no_grad()
def conditioner_ratios(model: MotionTokenizer, data: ProcessedData, clips: list[int], ckpt: dict) -> dict[str, float]:
    """The HRVQ conditioner's ||c|| / ||r|| per finer part and layer, averaged over the evaluation sequences."""
    mean, std = ckpt["mean"].numpy(), ckpt["std"].numpy()
    ratios = []
    for c in clips:
        x = (data.motion(c) - mean) / std
        x = torch.from_numpy(x[: len(x) // 4 * 4]).float()[None]
        ratios.append(model.eval()(x)["cond_ratio"])
    if not ratios or ratios[0].numel() == 0:
        return {}
    mean_ratio = torch.stack(ratios).mean(0)  # (P-1, Q)
    return {
        f"cond_ratio_{model.parts[p + 1]}": [round(float(v), 3) for v in mean_ratio[p]]
        for p in range(mean_ratio.shape[0])
    }


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--songs", type=int, default=16, help="synthetic songs of 20 s")
    p.add_argument("--steps", type=int, default=1500, help="training steps per tokenizer")
    p.add_argument("--out_dir", type=Path, default=Path("outputs/tokenizer_quality"), help="dataset and runs")
    p.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS), help="tokenizers to train")
    args = p.parse_args(argv)
    logging.disable(logging.INFO)
    torch.set_num_threads(2)
    root, ckpts = args.out_dir / "synthetic", args.out_dir / "checkpoints"
    if not (root / "processed" / "summary.json").is_file():
        build = BuildOptions(root=root, spec=dataset_spec("synthetic"), music_types=("baseline",))
        prepare_raw(build, args.songs)
        build_dataset(build)
    data = ProcessedData(root)
    clips = data.clip_ids("test") + data.clip_ids("val")
    result = {
        "benchmark": "tokenizer_quality",
        "songs": args.songs,
        "eval_sequences": len(clips),
        "budget": {
            "steps": args.steps,
            "batch": 32,
            "window": 64,
            "width": 128,
            "code_dim": 128,
            "nb_code": 256,
            "depth": 2,
            "feat_bias": 5,
        },
        "models": {},
    }
    common = ["--dataset_name", "synthetic", "--data_root", str(root), "--checkpoints_dir", str(ckpts)]
    opt = tokenizer_parser().parse_args(
        [*common, *architecture(args.steps), "--vq_type", "hrvq", "--num_quantizers", "6"]
    )
    torch.manual_seed(0)
    untrained = MotionTokenizer(TokenizerStageConfig.from_options(opt).tokenizer(int(data.mean.shape[0])))
    std = tokenizer_std(data.std, untrained.config.layout, opt.feat_bias)
    untrained.train()(torch.from_numpy((data.motion(clips[0])[:64] - data.mean) / std).float()[None])
    recs, _ = reconstruct(untrained, data, clips, data.mean, std)
    result["models"]["untrained HRVQ-6"] = evaluate_reconstructions(recs, data, clips)
    result["models"]["mean pose"] = evaluate_reconstructions(mean_pose(data, clips), data, clips)
    for name in args.models:
        vq_type, layers, extra = MODELS[name]
        run = name.lower().replace("-", "")
        t0 = time.perf_counter()
        opt = tokenizer_parser().parse_args(
            [
                *common,
                *architecture(args.steps),
                "--vq_type",
                vq_type,
                "--num_quantizers",
                str(layers),
                "--name",
                run,
                *extra,
                "--overwrite",
            ]
        )  # a run of other steps is trained again
        latest = ckpts / "synthetic" / run / "model" / "latest.tar"
        if latest.is_file() and load_checkpoint(latest)["step"] == args.steps:
            seconds = float("nan")  # trained by an earlier run of this script: evaluated again only
        else:
            TokenizerTrainer(opt, ckpts / "synthetic" / run).fit()
            seconds = time.perf_counter() - t0
        model, ckpt = load_vq(ckpts, "synthetic", run, which="latest")
        recs, counts = reconstruct(model, data, clips, ckpt["mean"].numpy(), ckpt["std"].numpy())
        metrics = evaluate_reconstructions(recs, data, clips, counts, model.parts)
        result["models"][name] = {
            "train_s": round(seconds, 1),
            **metrics,
            **conditioner_ratios(model, data, clips, ckpt),
        }
    for entry in result["models"].values():
        for k in list(entry):
            if k.startswith(("perplexity", "dead_codes")):
                entry.pop(k)
            elif isinstance(entry[k], float):
                entry[k] = round(entry[k], 4)
    result["machine"] = machine_info()
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
