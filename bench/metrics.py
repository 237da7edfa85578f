"""Benchmark: per-sequence dance features and FID/Div as `eval_dance.py` computes them; prints JSON.

    python bench/metrics.py [--sequences 1000] [--seconds 20] [--workers 2]

Sequences are 24-joint, 60 fps synthetic dances (20 distinct dances, each copy moved and jittered), evaluated under
the `bailando` protocol (kinetic features with the precedence bug, geometric features, motion beats), then FID and
Div of the first half against the second half for both feature families. Target: >= 200 sequences/s on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import logging
import time

import numpy as np

from data.synthetic_dance import synthesize_dance
from evaluation.evaluate import analyse_all
from evaluation.inputs import EvalMotion
from evaluation.metrics.fid import diversity, frechet_distance, normalize_by_gt
from evaluation.metrics.joint_sets import select
from evaluation.protocols import PROTOCOLS
from motion.kinematics import fk_axis_angle
from utils.timing import machine_info

FPS = 60.0


def sequences(n: int, seconds: float, distinct: int = 20) -> list[EvalMotion]:
    """`n` (T, 24, 3) float32 sequences at 60 fps from `distinct` synthetic dances, each copy shifted and jittered."""
    frames = round(seconds * FPS)
    bases = []
    for s in range(distinct):
        m = synthesize_dance(frames, bpm=90 + 3 * s, seed=s, fps=FPS)
        bases.append(select(fk_axis_angle(m.poses, m.trans), "smpl24").astype(np.float32))
    rng = np.random.default_rng(0)
    out = []
    for i in range(n):
        j = bases[i % distinct] + rng.normal(scale=0.003, size=bases[0].shape).astype(np.float32)
        j += np.float32([rng.uniform(-1, 1), 0, rng.uniform(-1, 1)])
        out.append(EvalMotion(f"s{i}", j, FPS, None, "bench"))
    return out


def set_metrics(samples: list) -> dict:
    """FID_k, FID_g, Div_k, Div_g of the first half (prediction) against the second half (ground truth)."""
    half = len(samples) // 2
    out = {}
    for key, name in (("kinetic", "k"), ("geometric", "g")):
        feats = np.stack([s.features[key] for s in samples]).astype(np.float64)
        gt, pred = normalize_by_gt(feats[half:], feats[:half])
        out[f"FID_{name}"], out[f"Div_{name}"] = frechet_distance(pred, gt), diversity(pred)
    return out


def run(motions: list[EvalMotion], workers: int) -> tuple[float, float, dict]:
    """(feature seconds, FID/Div seconds, metrics) of one pass."""
    protocol = PROTOCOLS["bailando"]
    t0 = time.perf_counter()
    samples = analyse_all(motions, protocol, protocol.pred_frames, workers)
    t1 = time.perf_counter()
    metrics = set_metrics(samples)
    return t1 - t0, time.perf_counter() - t1, metrics


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sequences", type=int, default=1000, help="sequences to evaluate")
    p.add_argument("--seconds", type=float, default=20.0, help="length of each sequence (60 fps)")
    p.add_argument("--workers", type=int, default=2, help="feature processes")
    args = p.parse_args(argv)
    logging.disable(logging.INFO)
    motions = sequences(args.sequences, args.seconds)
    result = {
        "benchmark": "metrics",
        "protocol": "bailando",
        "sequences": args.sequences,
        "frames_per_sequence": round(args.seconds * FPS),
        "joints": 24,
    }
    for workers in sorted({1, args.workers}):
        features_s, fid_s, metrics = run(motions, workers)
        result[f"workers_{workers}"] = {
            "features_s": round(features_s, 2),
            "fid_div_s": round(fid_s, 3),
            "sequences_per_s": round(args.sequences / (features_s + fid_s), 1),
            "ms_per_sequence_per_worker": round(1000 * features_s * workers / args.sequences, 2),
        }
    result["metrics_check"] = {k: round(v, 4) for k, v in metrics.items()}
    result.update(targets={"sequences_per_s": 200}, machine=machine_info())
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
