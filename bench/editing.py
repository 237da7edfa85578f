"""Experiment: how well do edits join, dance to the music and keep hands with their body? Prints JSON.

    python bench/editing.py [--out_dir outputs/demo] [--name mtrans_demo --res_name rtrans_demo] [--splits test val]
                            [--seeds 2] [--gaps 2 5] [--transitions 0 2 4 8 12 16]

Uses trained runs (default: the ones `make demo` leaves in outputs/demo) and the ground-truth dances of the dataset's
songs as the sources to edit. Per song and seed:

- in-betweening: a gap of `g` seconds in the middle of the song is generated (`--keep 0-a,b-end`); the one generation
  is spliced with every `--transitions` length, the mismatch fading from its value alone (`--rate_frames 0`, offset
  blending) or from its value and its rate measured over 1 or 4 kept frames (`motion.splice`). At the two
  junctions, the largest per-frame joint speed and acceleration (m/s, m/s^2, mean over all joints, and over the
  body's) within 8 frames, divided by the higher of the 95th percentiles inside the generated gap and inside the kept
  frames (> 12 frames from a junction); the source's own ratio at the same frames is the reference (no seam there),
  and the decoded dance's before it is spliced in (the tokens' seam alone).
- BAS (Bailando's, music beats tracked as protocol `fixed` tracks them) over the music beats inside the gap: the
  edit's, a whole-dance generation's (`dance_for_music`, same seed) and the ground truth's over the same seconds.
- `--regen hands`: the correlation over frames of wrist speed (world) with finger speed relative to the wrist (mean
  of the two hands) for the ground truth, our edit (the body's tokens given to the transformers) and the same edit
  with the body's tokens hidden (hands generated with a body of their own, then put on the source's body).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from data.loaders import ProcessedData
from data.registry import music_files
from evaluation.metrics.beat_align import bas_bailando, motion_beats_bailando
from evaluation.metrics.continuity import joint_speed
from evaluation.metrics.holistic import fingers_relative_to_wrists
from evaluation.metrics.music_beats import track_beats
from export.dance import rigid_dance
from generator.dances import GenerationOptions, dance_for_music
from generator.editing import Edit, Source, generate_edit, plan_edit, splice_edit
from generator.music_input import dataset_music
from models.mask_transformer.loading import load_mage
from motion.frame import FPS
from motion.skeleton import N_BODY_JOINTS, WRISTS

NEAR, AWAY = 8, 12  # frames: a junction's neighbourhood, and how far "inside" starts


def speed_accel(joints: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame mean joint speed (T-1,) m/s and acceleration magnitude (T-2,) m/s^2 of joints (T, J, 3)."""
    x = joints.astype(np.float64)
    a = np.diff(x, n=2, axis=0) * FPS**2
    return joint_speed(x), np.linalg.norm(a, axis=-1).mean(-1)


def seam_ratios(joints: np.ndarray, junctions: list[int], generated: np.ndarray) -> dict[str, float]:
    """The largest speed and acceleration within `NEAR` frames of the junctions over the 95th percentile inside
    (farther than `AWAY` frames from them) the generated frames (`generated` (T,) bool) and the kept ones, whichever
    is higher, for all joints and the body's (a seam is invisible when it is no faster than either side)."""
    out = {}
    for label, idx in (("", slice(None)), ("_body", slice(0, N_BODY_JOINTS))):
        speed, accel = speed_accel(joints[:, idx])
        for name, x in (("speed", speed), ("accel", accel)):
            frames = np.arange(len(x))
            dist = np.min(np.abs(frames[:, None] - np.asarray(junctions)[None]), axis=1)
            gen = generated[: len(x)]
            inside = max(np.percentile(x[(dist > AWAY) & gen], 95), np.percentile(x[(dist > AWAY) & ~gen], 95))
            out[name + label] = float(x[dist <= NEAR].max() / inside)
    return out


def hand_body_correlation(joints: np.ndarray) -> float:
    """Correlation over frames of wrist speed with the speed of its fingers relative to it, mean of both hands."""
    rel = fingers_relative_to_wrists(joints)  # (T, 30, 3): the left hand's 15, then the right's
    finger_speed = np.linalg.norm(np.diff(rel, axis=0), axis=-1)
    half = rel.shape[1] // 2
    out = [
        np.corrcoef(
            np.linalg.norm(np.diff(joints[:, w], axis=0), axis=-1), finger_speed[:, k * half : (k + 1) * half].mean(-1)
        )[0, 1]
        for k, w in enumerate(WRISTS)
    ]
    return float(np.mean(out))


def span_bas(joints: np.ndarray, beats_s: np.ndarray, a: int, b: int) -> float:
    """Bailando's BAS over the music beats in frames [a, b), the dance's motion beats found on the whole dance."""
    beats = np.round(beats_s * FPS).astype(int)
    inside = beats[(beats >= a) & (beats < b)]
    return bas_bailando(inside, motion_beats_bailando(joints.astype(np.float64)))


def mean_of(rows: list[dict]) -> dict:
    return {k: round(float(np.mean([r[k] for r in rows])), 4) for k in rows[0]}


def gap_rows(
    mage,
    song,
    src: Source,
    plan,
    whole: np.ndarray,
    beats: np.ndarray,
    gap_s: float,
    seed: int,
    transitions: list[int],
    rate_frames: list[int],
) -> dict:
    """One in-betweening of a `gap_s` gap: its seam ratios per splice (and the source's and the unspliced
    decode's), BAS in the gap for the edit, the whole-dance generation and the ground truth, and its seconds."""
    n = song.frames
    a, b = round(n / 2 - gap_s * FPS / 2), round(n / 2 + gap_s * FPS / 2)
    gap = np.zeros(n, bool)
    gap[a:b] = True
    p = plan(Edit(keep=((0.0, a / FPS), (b / FPS, n / FPS))))
    t0 = time.perf_counter()
    generated = generate_edit(mage, song, src, p, GenerationOptions(), seed, progress=False)
    seconds = time.perf_counter() - t0
    seams = {
        f"transition {t}, rate over {r}": seam_ratios(splice_edit(src, generated, p, t, r).joints, [a, b], gap)
        for t in transitions
        for r in rate_frames
    }
    seams["source_same_frames"] = seam_ratios(src.joints, [a, b], gap)
    seams["decoded_unspliced"] = seam_ratios(generated.joints, [a, b], gap)
    out = splice_edit(src, generated, p).joints
    bas = {
        "edit": span_bas(out, beats, a, b),
        "whole": span_bas(whole, beats, a, b),
        "ground_truth": span_bas(src.joints, beats, a, b),
    }
    return {"seams": seams, "bas": bas, "seconds": seconds}


def hand_rows(mage, song, src: Source, plan, seed: int) -> dict:
    """`--regen hands` with the body's tokens given and hidden: the hand-body correlations, and the ground truth's."""
    opts = GenerationOptions()
    given = plan(Edit(regen=("hands",)))
    ours = splice_edit(src, generate_edit(mage, song, src, given, opts, seed, progress=False), given).joints
    hidden_plan = plan(Edit(regen=("hands",)))
    hidden_plan.given[:] = False  # the body's tokens hidden: the hands come with a body of their own
    hidden = splice_edit(src, generate_edit(mage, song, src, hidden_plan, opts, seed, progress=False), hidden_plan)
    return {
        "ground_truth": hand_body_correlation(src.joints),
        "regen_hands": hand_body_correlation(ours),
        "body_tokens_hidden": hand_body_correlation(hidden.joints),
    }


def planner(mage, src: Source, frames: int, face: bool, seed: int):
    """edit -> its plan on this song (`plan_edit` with the model's parts and down-sampling)."""
    return lambda edit: plan_edit(mage.vq.parts, face, src, edit, frames, mage.base.config.downsampling, seed)


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out_dir", type=Path, default=Path("outputs/demo"), help="a `demo.py` output folder")
    p.add_argument("--dataset_name", default="synthetic")
    p.add_argument("--name", default="mtrans_demo")
    p.add_argument("--res_name", default="rtrans_demo")
    p.add_argument("--splits", nargs="+", default=["test", "val"])
    p.add_argument("--seeds", type=int, default=2)
    p.add_argument("--gaps", type=float, nargs="+", default=[2.0, 5.0])
    p.add_argument("--transitions", type=int, nargs="+", default=[0, 2, 4, 8, 12, 16])
    p.add_argument("--rate_frames", type=int, nargs="+", default=[0, 1, 4], help="0: the mismatch's value alone")
    args = p.parse_args(argv)
    root = args.out_dir / "data" / args.dataset_name
    data = ProcessedData(root)
    mage = load_mage(args.out_dir / "checkpoints", args.dataset_name, args.name, args.res_name)
    files = music_files(data.summary["dataset"], root)
    face = mage.vq.config.layout.face_dim > 0
    gaps: dict[float, list[dict]] = {g: [] for g in args.gaps}
    hands, whole_s = [], []
    for clip in [c for split in args.splits for c in data.clip_ids(split)]:
        song = dataset_music(mage, data, clip, files)
        truth = rigid_dance(data.motion(clip).astype(np.float32))
        src = Source(truth.joints, truth.expressions if face else None, Path(song.name))
        beats = track_beats(song.audio, "fixed")
        for seed in range(args.seeds):
            plan = planner(mage, src, song.frames, face, seed)
            t0 = time.perf_counter()
            whole = rigid_dance(dance_for_music(mage, song, GenerationOptions(), seed, progress=False)).joints
            whole_s.append(time.perf_counter() - t0)
            for g in args.gaps:
                gaps[g].append(
                    gap_rows(mage, song, src, plan, whole, beats, g, seed, args.transitions, args.rate_frames)
                )
            hands.append(hand_rows(mage, song, src, plan, seed))
    result = {
        "runs": {"name": args.name, "res_name": args.res_name, "out_dir": str(args.out_dir)},
        "samples": len(hands),
        "seam_ratio (junction max / inside p95)": {
            f"gap_{g:g}s": {key: mean_of([r["seams"][key] for r in rows]) for key in rows[0]["seams"]}
            for g, rows in gaps.items()
        },
        "bas_in_gap": {f"gap_{g:g}s": mean_of([r["bas"] for r in rows]) for g, rows in gaps.items()},
        "hand_body_correlation": mean_of(hands),
        "seconds_per_generation": {
            "edit": round(float(np.mean([r["seconds"] for rows in gaps.values() for r in rows])), 2),
            "whole": round(float(np.mean(whole_s)), 2),
        },
    }
    print(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    main()
