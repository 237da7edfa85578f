"""Evaluate a folder of generated dances under one protocol: the library behind `eval_dance.py`.

`evaluate(EvalRequest(...))` reads every prediction (and ground-truth) file, converts it as the protocol says,
computes per-sequence features and scores, matches music by file name, and returns the report that
`eval_dance.py` writes as JSON:

    {"protocol": name, "counts": {"pred", "gt", "bas", "feature_dims"}, "metrics": {...}, "skipped": {metric: reason},
     "skipped_files": [...], "notes": [...], "warnings": [...], "per_sample": {name: {...}}}

Nothing is dropped silently: a metric that cannot be computed is listed under "skipped" with the reason, an
unreadable file under "skipped_files", and every approximation (joint mapping, frame-rate conversion) under "notes".
"""

from __future__ import annotations

import functools
import logging
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from evaluation import protocols as proto
from evaluation.inputs import EvalMotion, list_motion_files, read_eval_motion
from evaluation.metrics.fid import CONSTANT_STD, diversity, frechet_distance, normalize_by_gt
from evaluation.metrics.holistic import face_mse, mpjpe
from evaluation.metrics.joint_sets import as_52, available, is_exact
from evaluation.metrics.music_beats import BEAT_FILE_SUFFIXES, beat_frames, read_beat_file, track_beats
from evaluation.protocols import PROTOCOLS, Protocol
from utils.audio import MUSIC_SUFFIXES
from utils.batch import run_batch
from utils.cli import UserError

logger = logging.getLogger(__name__)

# feature families compared by FID/Div: metric suffix -> per-sample key
FEATURE_FAMILIES = {"k": "kinetic", "g": "geometric", "hand": "hand", "face": "face"}
_JOINT_SET_NAMES = {"smpl24": "24 SMPL joints", "body22": "22 body joints", "smplx24": "SMPL-X joints 0-23"}


@dataclass
class EvalRequest:
    """What to evaluate.

    Args:
        pred_dir: generated motions.
        gt_dir: ground-truth motions (FID, Div normalisation, paired MPJPE).
        audio_dir: music files matched to motions by name (beats by the protocol's tracker).
        beats_dir: `<name>.txt`/`.npy`/`.beats` beat times in seconds (instead of audio).
        protocol: one of `PROTOCOLS`.
        fps: frame rate of the inputs (default: each file's format default, see `evaluation.inputs`).
        up_axis: up axis of the inputs (default: each format's).
        workers: processes computing per-sequence features (large ground-truth sets).
        smplx_model_path: SMPL-X model for the joints of parameter files (else the project's default skeleton).
    """

    pred_dir: Path
    gt_dir: Path | None = None
    audio_dir: Path | None = None
    beats_dir: Path | None = None
    protocol: str = "bailando"
    fps: float | None = None
    up_axis: str | None = None
    workers: int = 1
    smplx_model_path: Path | None = None


@dataclass
class Sample:
    """One analysed sequence: its features and per-sequence scores."""

    motion: EvalMotion
    rate: float  # the evaluated frame rate
    frames: int  # frames at that rate
    features: dict[str, np.ndarray]
    beats: dict
    scores: dict[str, float]


def analyse(motion: EvalMotion, protocol: Protocol, frames: int | None) -> Sample:
    """Features and per-sequence scores of one motion under a protocol (`frames`: the FID crop)."""
    rate = protocol.rate(motion.fps)
    joints = proto.to_protocol_frame(motion.joints, motion.fps, protocol)  # (T', J, 3)
    k, g = proto.sequence_features(proto.feature_view(joints, protocol, frames), rate, protocol)
    features = {"kinetic": k, "geometric": g}
    if protocol.holistic:
        features.update(proto.holistic_features(joints, rate, motion.expressions))
    return Sample(
        motion,
        rate,
        len(joints),
        features,
        proto.motion_beats(joints, rate, protocol),
        proto.physical_scores(joints, rate, protocol),
    )


def analyse_all(
    motions: list[EvalMotion], protocol: Protocol, frames: int | None, workers: int = 1, desc: str = "features"
) -> list[Sample]:
    """`analyse` of every motion, in order, in `workers` processes when there are enough motions to share."""
    if workers <= 1 or len(motions) < 4 * workers:
        return [analyse(m, protocol, frames) for m in _progress(motions, desc)]
    job = functools.partial(analyse, protocol=protocol, frames=frames)
    with ProcessPoolExecutor(workers) as pool:
        chunks = max(1, len(motions) // (8 * workers))
        return list(_progress(pool.map(job, motions, chunksize=chunks), desc, total=len(motions)))


def _check_joint_sets(motions: list[EvalMotion], protocol: Protocol, what: str, where: str) -> None:
    """One skeleton per set, and the joints the protocol reads."""
    n_joints = motions[0].joints.shape[1]
    other = next((m for m in motions if m.joints.shape[1] != n_joints), None)
    if other is not None:
        raise UserError(
            f"{what} {where} mixes joint counts ({motions[0].name}: {n_joints}, {other.name}: "
            f"{other.joints.shape[1]}); keep one skeleton per folder"
        )
    for joint_set in (protocol.feature_joints, protocol.bas_joints):
        if not available(joint_set, n_joints):
            raise UserError(
                f"protocol {protocol.name} needs {_JOINT_SET_NAMES[joint_set]} (SMPL hands 22-23); the "
                f"{what} files have {n_joints} joints: use --protocol lodge or fixed"
            )


def _read_motions(folder: Path, what: str, req: EvalRequest) -> tuple[list[EvalMotion], list[dict]]:
    files = list_motion_files(folder, what)
    report = run_batch(
        files, lambda f: read_eval_motion(f, req.fps, req.up_axis, req.smplx_model_path), f"reading {what}"
    )
    return report.results, [{"file": str(f), "reason": r} for f, r in report.skipped]


def _progress(items, desc: str, total: int | None = None):
    total = len(items) if total is None else total
    return tqdm(items, desc=desc, unit="seq", total=total, disable=total < 2)


# ------------------------------------------------------------------ music
def music_index(folder: Path | None, suffixes: tuple[str, ...] = MUSIC_SUFFIXES) -> dict[str, Path]:
    """The files of a folder with one of `suffixes`, by stem (empty without a folder)."""
    if folder is None:
        return {}
    if not Path(folder).is_dir():
        raise UserError(f"music folder {folder} not found")
    return {p.stem: p for p in sorted(Path(folder).iterdir()) if p.is_file() and p.suffix.lower() in suffixes}


def match_music(name: str, index: dict[str, Path]) -> Path | None:
    """The music of a motion: the file of the same name, else the longest music name that is one of the motion
    name's `_`-separated fields or a `_`-terminated prefix of it (`gBR_sBM_cAll_d04_mBR0_ch02` -> `mBR0`)."""
    if name in index:
        return index[name]
    fields = set(name.split("_"))
    hits = [s for s in index if s in fields or name.startswith(s + "_")]
    return index[max(hits, key=len)] if hits else None


def _music_frames(sample: Sample, protocol: Protocol, audio: dict, beats: dict) -> tuple[np.ndarray, str] | None:
    """Music beat frames at the sample's evaluated rate and the music's name, or None without music."""
    path = match_music(sample.motion.name, beats)
    if path is not None:
        return beat_frames(read_beat_file(path), sample.rate), path.name
    path = match_music(sample.motion.name, audio)
    if path is not None:
        return beat_frames(track_beats(str(path), protocol.beat_tracker), sample.rate), path.name
    return None


@dataclass
class Findings:
    """What one family of metrics found over a set of samples.

    Args:
        metrics: metric name -> value.
        skipped: metric -> why it was not computed (or not for every sample).
        warnings: what makes a value unreliable.
        per_sample: sample name -> its own scores.
        count: samples the family measured (BAS: those with music; MPJPE: the pairs).
        dims: feature family -> feature width (FID).
    """

    metrics: dict[str, float] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    per_sample: dict[str, dict] = field(default_factory=dict)
    count: int = 0
    dims: dict[str, int] = field(default_factory=dict)


def _beat_alignment(samples: list[Sample], protocol: Protocol, audio: dict, beats: dict, suffix: str = "") -> Findings:
    """BAS of both definitions averaged over the samples that have music (`count`: how many had)."""
    out = Findings()
    if not audio and not beats:
        out.skipped["BAS" + suffix] = "needs --audio_dir or --beats_dir"
        return out
    scores, missing, no_beats = {"BAS_bailando": [], "BAS_fact": []}, [], []
    for s in _progress(samples, "beat alignment"):
        found = _music_frames(s, protocol, audio, beats)
        if found is None:
            missing.append(s.motion.name)
            continue
        frames, music = found
        sc = proto.beat_scores(s.beats, frames, s.rate, protocol)
        if not np.isfinite(sc["BAS_bailando"]):
            no_beats.append(s.motion.name)
            continue
        for k, v in sc.items():
            scores[k].append(v)
        out.per_sample[s.motion.name] = {**sc, "music": music}
    reasons = []
    if missing:
        reasons.append(f"no music file matches {len(missing)} sample(s): {', '.join(missing[:5])}")
    if no_beats:
        reasons.append(f"no music beat within {len(no_beats)} sample(s): {', '.join(no_beats[:5])}")
    if reasons:
        out.skipped[("BAS" + suffix) if not scores["BAS_fact"] else f"BAS{suffix} (some samples)"] = "; ".join(reasons)
    if scores["BAS_fact"]:
        out.metrics = {k + suffix: float(np.mean(v)) for k, v in scores.items()}
        out.metrics["BAS" + suffix] = out.metrics[protocol.bas + suffix]
    out.count = len(scores["BAS_fact"])
    return out


# ------------------------------------------------------------------ set metrics
def _distribution_metrics(pred: list[Sample], gt: list[Sample], protocol: Protocol) -> Findings:
    """FID and Div of every feature family the protocol measures (`dims`: the families' feature widths)."""
    out = Findings()
    metrics, skipped, warnings, dims = out.metrics, out.skipped, out.warnings, out.dims
    for suffix, key in FEATURE_FAMILIES.items():
        p = [s.features[key] for s in pred if key in s.features]
        g = [s.features[key] for s in gt if key in s.features]
        if key not in ("kinetic", "geometric") and not protocol.holistic:
            continue
        names = f"FID_{suffix}, Div_{suffix}"
        if len(p) < len(pred) or (gt and len(g) < len(gt)) or not p:
            what = "finger joints (52 or 55)" if key == "hand" else "face expressions"
            skipped[names] = f"needs {what} in every prediction and ground-truth file"
            continue
        dims[key] = int(p[0].shape[0])
        if not gt:
            skipped[names] = "needs --gt_dir (both are measured on features normalised by the ground truth)"
            continue
        if len(p) < 2 or len(g) < 2:
            skipped[names] = f"needs at least 2 samples per set (pred {len(p)}, gt {len(g)})"
            continue
        g_raw = np.stack(g).astype(np.float64)
        g_n, p_n = normalize_by_gt(g_raw, np.stack(p).astype(np.float64), protocol.drop_constant)
        for n, which in ((len(p), "predictions"), (len(g), "ground truth")):
            if n < dims[key]:
                warnings.append(
                    f"FID_{suffix}: {n} {which} for {dims[key]}-d features: the covariance is "
                    "rank-deficient and the value unstable"
                )
        constant = int((g_raw.std(axis=0) < CONSTANT_STD).sum())
        if constant and protocol.drop_constant:
            metrics[f"FID_{suffix}_dims"] = dims[key] - constant
            warnings.append(
                f"FID_{suffix}: {constant} of {dims[key]} feature dimensions are constant over the ground "
                f"truth and left out of FID_{suffix} and Div_{suffix} (FID_{suffix}_dims)"
            )
        elif constant:
            warnings.append(
                f"FID_{suffix}: {constant} of {dims[key]} feature dimensions are constant over the ground "
                "truth; the reference's normalisation divides them by 1e-10, so any prediction that "
                "differs there dominates FID and Div"
            )
        metrics[f"FID_{suffix}"] = frechet_distance(p_n, g_n, eps=protocol.fid_eps)
        metrics[f"Div_{suffix}"] = diversity(p_n)
        metrics[f"Div_{suffix}_gt"] = diversity(g_n)
    return out


def _mean_scores(samples: list[Sample], protocol: Protocol, suffix: str = "") -> Findings:
    """The protocol's per-sample physics scores (PFC, foot skating) averaged over the samples where defined."""
    out = Findings(per_sample={s.motion.name: {name: s.scores[name] for name in protocol.physics} for s in samples})
    for name in protocol.physics:
        values = [s.scores[name] for s in samples]
        finite = [v for v in values if np.isfinite(v)]
        if finite:
            out.metrics[name + suffix] = float(np.mean(finite))
        if len(finite) < len(values):
            out.skipped[f"{name}{suffix} ({len(values) - len(finite)} samples)"] = "no foot contact with the ground"
    return out


def _paired_metrics(pred: list[Sample], gt: list[Sample]) -> Findings:
    """MPJPE (and face MSE) over predictions that have a GT file of the same name, joints, rate and length."""
    out = Findings()
    by_name = {s.motion.name: s.motion for s in gt}
    pairs = [(s.motion, by_name[s.motion.name]) for s in pred if s.motion.name in by_name]
    pairs = [(a, b) for a, b in pairs if a.joints.shape == b.joints.shape and a.fps == b.fps]
    if not pairs:
        out.skipped["MPJPE"] = "no prediction has a ground-truth file of the same name, skeleton, rate and length"
        return out
    parts = ("all", "body", "hands") if available("fingers", pairs[0][0].joints.shape[1]) else ("all", "body")
    out.metrics = {
        f"MPJPE_{part}": float(np.mean([mpjpe(as_52(a.joints), as_52(b.joints), part) for a, b in pairs]))
        for part in parts
    }
    faces = [
        (a.expressions, b.expressions) for a, b in pairs if a.expressions is not None and b.expressions is not None
    ]
    if faces:
        out.metrics["face_MSE"] = float(np.mean([face_mse(a, b) for a, b in faces]))
    out.count = len(pairs)
    return out


def _notes(samples: list[Sample], protocol: Protocol, what: str) -> list[str]:
    notes = []
    rates = Counter(s.motion.fps for s in samples)
    for fps, n in sorted(rates.items()):
        if protocol.fps and fps != protocol.fps:
            notes.append(f"{what}: {n} file(s) at {fps:g} fps linearly interpolated to {protocol.fps:g} fps")
            if protocol.fps > fps:
                notes.append(
                    f"{what}: BAS_fact looks for strict speed minima, which linear up-sampling flattens "
                    "into plateaus: expect few motion beats"
                )
    n_joints = samples[0].motion.joints.shape[1]
    for joint_set in {protocol.feature_joints, protocol.bas_joints}:
        if not is_exact(joint_set, n_joints):
            how = (
                "SMPL hand joints 22/23 taken at the middle-finger base"
                if joint_set == "smpl24"
                else "SMPL-X jaw and left eye taken at the head joint"
            )
            notes.append(f"{what}: {n_joints}-joint input, {how} (an approximation of the reference's joints)")
    if protocol.up_axis == "z" and any(s.motion.source_up_axis != "z" for s in samples):
        notes.append(
            f"{what}: Y-up input rotated to EDGE's Z-up frame, not shifted (with the kept precedence "
            "bug FID_k depends on absolute positions: EDGE's value only for joints in EDGE's frame)"
        )
    return notes


def evaluate(req: EvalRequest) -> dict:
    """Run an evaluation of folders (see the module docstring for the report)."""
    if req.protocol not in PROTOCOLS:
        raise UserError(f"unknown protocol {req.protocol!r}; expected one of {', '.join(PROTOCOLS)}")
    audio = music_index(req.audio_dir, MUSIC_SUFFIXES)
    beats = music_index(req.beats_dir, BEAT_FILE_SUFFIXES)
    pred, skipped_files = _read_motions(Path(req.pred_dir), "prediction", req)
    _check_joint_sets(pred, PROTOCOLS[req.protocol], "prediction", f"folder {req.pred_dir}")
    gt = []
    if req.gt_dir is not None:
        gt, gt_skipped = _read_motions(Path(req.gt_dir), "ground-truth", req)
        _check_joint_sets(gt, PROTOCOLS[req.protocol], "ground-truth", f"folder {req.gt_dir}")
        skipped_files += gt_skipped
    return evaluate_motions(pred, gt, req.protocol, audio, beats, req.workers, skipped_files)


def evaluate_motions(
    pred_motions: list[EvalMotion],
    gt_motions: list[EvalMotion],
    protocol_name: str,
    audio: dict[str, Path] | None = None,
    beats: dict[str, Path] | None = None,
    workers: int = 1,
    skipped_files: list[dict] | None = None,
) -> dict:
    """The report of motions already in memory (`evaluate` reads them from folders). `audio` / `beats`: music
    files / beat files by name, matched to the motions by `match_music`."""
    if protocol_name not in PROTOCOLS:
        raise UserError(f"unknown protocol {protocol_name!r}; expected one of {', '.join(PROTOCOLS)}")
    protocol = PROTOCOLS[protocol_name]
    audio, beats = audio or {}, beats or {}
    for motions, what in ((pred_motions, "prediction"), (gt_motions, "ground-truth")):
        if motions:
            _check_joint_sets(motions, protocol, what, "set")
    pred = analyse_all(pred_motions, protocol, protocol.pred_frames, workers, "features (prediction)")
    gt = analyse_all(gt_motions, protocol, protocol.gt_frames, workers, "features (ground-truth)")
    distribution = _distribution_metrics(pred, gt, protocol)
    bas = _beat_alignment(pred, protocol, audio, beats)
    found = [distribution, bas, _mean_scores(pred, protocol)]  # the predictions': every field kept
    gt_found = []  # the ground truth's reference values: metrics only
    if gt:
        if audio or beats:
            gt_found.append(_beat_alignment(gt, protocol, audio, beats, suffix="_gt"))
        gt_found.append(_mean_scores(gt, protocol, suffix="_gt"))
    paired = _paired_metrics(pred, gt) if gt else Findings(skipped={"MPJPE": "needs --gt_dir"})
    found.append(paired)
    metrics = {k: v for f in (*found[:3], *gt_found, *found[3:]) for k, v in f.metrics.items()}
    skipped = {k: v for f in found for k, v in f.skipped.items()}
    warnings = [w for f in found for w in f.warnings]
    per_sample = _per_sample(found, pred)
    for w in warnings:
        logger.warning(w)
    return {
        "protocol": protocol.name,
        "protocol_summary": protocol.summary,
        "counts": {
            "pred": len(pred),
            "gt": len(gt),
            "bas": bas.count,
            "paired": paired.count,
            "feature_dims": distribution.dims,
        },
        "metrics": metrics,
        "skipped": skipped,
        "skipped_files": skipped_files or [],
        "notes": _notes(pred, protocol, "pred") + (_notes(gt, protocol, "gt") if gt else []),
        "warnings": warnings,
        "per_sample": {k: {m: _json_number(v) for m, v in per_sample[k].items()} for k in sorted(per_sample)},
    }


def _per_sample(found: list[Findings], pred: list[Sample]) -> dict[str, dict]:
    """Each prediction's own scores from every family, with its frames, rate and layout."""
    per_sample: dict[str, dict] = {}
    for f in found:
        for name, scores in f.per_sample.items():
            per_sample.setdefault(name, {}).update(scores)
    for s in pred:
        per_sample.setdefault(s.motion.name, {}).update({"frames": s.frames, "fps": s.rate, "layout": s.motion.layout})
    return per_sample


def _json_number(v):
    """NaN (an undefined per-sample score) as null, so the report is valid JSON."""
    return None if isinstance(v, float) and not np.isfinite(v) else v


def format_table(report: dict) -> str:
    """The metrics block as an aligned two-column text table."""
    rows = [(k, f"{v:.4f}" if isinstance(v, float) else str(v)) for k, v in report["metrics"].items()]
    width = max([len(k) for k, _ in rows] + [6])
    head = f"protocol {report['protocol']}: {report['counts']['pred']} predictions, {report['counts']['gt']} GT"
    lines = [head] + [f"  {k:<{width}}  {v}" for k, v in rows]
    lines += [f"  skipped {k}: {v}" for k, v in report["skipped"].items()]
    return "\n".join(lines)
