"""Building a processed dataset from raw motion + music files: features, windows, splits, statistics, summary.

Output under `<data_root>/processed/`:
- `motion/<clip>.npy` full-sequence motion features (T-1, 623), or (T-1, 723) = [body | hands | face] with faces;
- `music/<type>_<mode>/<clip>.npy` music features: full_song (L, D), or per_slice (n, 150, D);
- `windows.npy` (N, 3) int64 [clip index, start frame, frames]: EDGE's 5 s / 0.5 s slicing as index views;
- `clips.json` every clip with its source sequence and split; `splits/<split>.txt` clip names per split;
- `Mean.npy`, `Std.npy` from the training split (std averaged per feature block, HumanML3D);
- `summary.json` counts, hours, feature widths and modes, and every skipped item with its reason.
Per-clip results are cached (`cache/`, written atomically), so a re-run skips finished work and an interrupted build
resumes. Splits are made per source sequence, and the build asserts no sequence is in two splits.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from data.audio_extraction.registry import music_feature
from data.formats import load_motion
from data.layout import FACE_DIM, MotionLayout, layout_for_dim
from data.registry import DatasetSpec, raw_pairs
from utils.cli import UserError
from utils.motion_features import joints_to_features
from utils.skeleton import N_JOINTS

logger = logging.getLogger(__name__)

SPLITS = ("train", "val", "test")
STD_EPS = 1e-6  # a constant block gets this std, not zero


@dataclass
class BuildOptions:
    """How `build_dataset` processes a dataset.

    Args:
        root: the dataset folder (raw files; `processed/` is written inside).
        spec: the dataset's layout.
        stride: window stride, seconds.
        length: window length, seconds.
        fps: frame rate of the processed data (the project's 30).
        music_types: music feature types to extract (`baseline`, `jukebox`).
        feature_mode: `full_song` or `per_slice`.
        workers: parallel processes for per-clip work (1: in this process).
        seed: seeds the split of sequences when the dataset ships no split lists.
        split_ratios: train / val / test fractions of the sequences for seeded splits.
        music_options: options for the music extractors (e.g. `weights_dir` for jukebox).
    """

    root: Path
    spec: DatasetSpec
    stride: float = 0.5
    length: float = 5.0
    fps: int = 30
    music_types: tuple[str, ...] = ()
    feature_mode: str = "full_song"
    workers: int = 1
    seed: int = 0
    split_ratios: tuple[float, float, float] = (0.8, 0.1, 0.1)
    music_options: dict = field(default_factory=dict)

    @property
    def out(self) -> Path:
        return self.root / "processed"

    @property
    def window_frames(self) -> int:
        return round(self.length * self.fps)

    @property
    def stride_frames(self) -> int:
        return round(self.stride * self.fps)


def _save_atomic(path: Path, array: np.ndarray | dict) -> None:
    """Write an array (.npy) or a dict of arrays (.npz) whole, then rename: no half-written file survives a crash."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")
    if isinstance(array, dict):
        np.savez(tmp, **array)
    else:
        np.save(tmp, array)
    os.replace(tmp, path)


# ------------------------------------------------------------------------------------------------ per-clip steps
def motion_step(stem: str, motion_path: Path, opts: BuildOptions) -> dict:
    """Motion file -> cached 623-d features (+ face). Returns {"frames", "face"}; raises UserError to skip."""
    cache = opts.out / "cache" / "motion" / f"{stem}.npz"
    if not cache.is_file():
        m = load_motion(motion_path, fmt=opts.spec.motion_format)
        if m.joints.shape[1] != N_JOINTS:
            raise UserError(f"{motion_path}: body-only joints ({m.joints.shape[1]}); datasets need 52 joints")
        if len(m.joints) - 1 < opts.window_frames:
            raise UserError(f"{motion_path}: too short ({len(m.joints) / opts.fps:.2f} s, a window is "
                            f"{opts.length:g} s)")  # fmt: skip
        feats = joints_to_features(m.joints).features  # (T-1, 623)
        if not np.isfinite(feats).all():  # e.g. HumanML3D's facing is undefined for a first frame facing exactly -Z
            raise UserError(f"{motion_path}: motion features are not finite (first bad row "
                            f"{np.argwhere(~np.isfinite(feats))[0, 0]})")  # fmt: skip
        arrays = {"feats": feats}
        if m.face is not None:
            arrays["face"] = m.face[:-1]  # rows follow the T-1 features
        _save_atomic(cache, arrays)
    with np.load(cache) as f:
        return {"frames": int(f["feats"].shape[0]), "face": "face" in f.files}


def music_step(stem: str, music_path: Path, music_type: str, opts: BuildOptions) -> int:
    """Music file -> cached features of one type. Returns the number of frames (full_song) or slices (per_slice)."""
    out = opts.out / "music" / f"{music_type}_{opts.feature_mode}" / f"{stem}.npy"
    if not out.is_file():
        extra = opts.music_options.get(music_type, {})
        _save_atomic(out, music_feature(music_type).extract(music_path, opts.feature_mode, **extra).astype(np.float32))
    return int(np.load(out, mmap_mode="r").shape[0])


def _run(jobs: list[tuple], fn, workers: int, desc: str) -> tuple[dict, list[tuple[str, str]]]:
    """Run fn(*job[1:]) keyed by job[0], in processes when workers > 1; UserErrors become skips."""
    done, skipped = {}, []
    if workers > 1 and len(jobs) > 1:
        # spawn, not fork: forking a process whose torch / OpenMP threads already run can deadlock the children
        with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            futures = {job[0]: pool.submit(fn, *job) for job in jobs}
            for key, fut in tqdm(futures.items(), desc=desc, unit="clip"):
                try:
                    done[key] = fut.result()
                except UserError as err:
                    skipped.append((key, str(err)))
    else:
        for job in tqdm(jobs, desc=desc, unit="clip", disable=len(jobs) < 2):
            try:
                done[job[0]] = fn(*job)
            except UserError as err:
                skipped.append((job[0], str(err)))
    return done, skipped


# ------------------------------------------------------------------------------------------------ splits and stats
def read_list(path: Path) -> list[str]:
    """Names listed one per line (blank lines and # comments ignored)."""
    return [ln.strip() for ln in path.read_text().splitlines() if ln.strip() and not ln.startswith("#")]


def assign_splits(clips: dict[str, str], opts: BuildOptions) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """Split of every clip, per source sequence: the dataset's lists when it ships them, else seeded ratios.

    Args:
        clips: clip name -> source sequence.
    Returns:
        clip -> split, and (clip, reason) for clips left out (ignore list, or in no list).
    """
    lists = {s: opts.root / f for s, f in opts.spec.split_files if (opts.root / f).is_file()}
    ignored = set(read_list(opts.root / opts.spec.ignore_file)) if opts.spec.ignore_file and \
        (opts.root / opts.spec.ignore_file).is_file() else set()  # fmt: skip
    out, skipped = {}, []
    if lists:
        listed = {name: split for split, path in lists.items() for name in read_list(path)}
        for clip, seq in clips.items():
            if clip in ignored or seq in ignored:
                skipped.append((clip, "in the dataset's ignore list"))
            elif clip in listed or seq in listed:
                out[clip] = listed.get(clip, listed.get(seq))
            else:
                skipped.append((clip, f"in none of the split lists ({', '.join(p.name for p in lists.values())})"))
    else:
        sequences = sorted(set(clips.values()))
        order = np.random.default_rng(opts.seed).permutation(len(sequences))
        n_val = int(round(opts.split_ratios[1] * len(sequences)))
        n_test = int(round(opts.split_ratios[2] * len(sequences)))
        if len(sequences) >= 3:  # every split gets a sequence when there are enough
            n_val, n_test = max(n_val, 1), max(n_test, 1)
        split_of = {}
        for rank, k in enumerate(order):
            split_of[sequences[k]] = "test" if rank < n_test else "val" if rank < n_test + n_val else "train"
        out = {clip: split_of[seq] for clip, seq in clips.items()}
    check_disjoint(out, clips)
    return out, skipped


def check_disjoint(split_of: dict[str, str], clips: dict[str, str]) -> None:
    """No source sequence may have clips in two splits (overlapping windows of one performance would leak)."""
    seen: dict[str, str] = {}
    for clip, split in split_of.items():
        seq = clips[clip]
        if seen.setdefault(seq, split) != split:
            raise UserError(f"sequence {seq!r} has clips in both {seen[seq]!r} and {split!r}; fix the split lists")


def block_stats(feats: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Per-dimension mean and per-block std (HumanML3D: each block's std is the mean of its dimensions' std).

    (T_i, D) arrays -> Mean (D,), Std (D,) float32. Blocks: root_rot_vel, root_lin_vel, root_y, ric, rot6d, vel,
    contacts, and face for the 723-d layout.
    """
    x = np.concatenate(feats).astype(np.float64)
    mean, std = x.mean(0), x.std(0)
    layout = layout_for_dim(x.shape[1])
    flat_std, face_std = layout.to_flat(std)
    block_std = flat_std.copy()
    for name in ("root_rot_vel", "root_lin_vel", "root_y", "ric", "rot6d", "vel", "contacts"):
        sl = layout.flat.flat_slices[name]
        block_std[sl] = flat_std[sl].mean()
    if face_std is not None:
        face_std = np.full_like(face_std, face_std.mean())
    std_out = layout.from_flat(block_std, face_std)
    return mean.astype(np.float32), np.maximum(std_out, STD_EPS).astype(np.float32)


# ------------------------------------------------------------------------------------------------ the build
def build_dataset(opts: BuildOptions) -> dict:
    """Process every paired clip of a dataset (see the module docstring). Returns the summary."""
    if opts.feature_mode not in ("full_song", "per_slice"):
        raise UserError(f"--feature_mode must be full_song or per_slice, got {opts.feature_mode!r}")
    pairs, skipped = raw_pairs(opts.spec, opts.root)
    if not pairs:
        raise UserError(f"{opts.root}: no motion files with matching music for {opts.spec.name} (expected "
                        f"{'/'.join(opts.spec.motion_dirs)}/ with {'/'.join(opts.spec.music_dirs)}/)")  # fmt: skip
    motion, bad = _run([(s, m, opts) for s, (m, _) in pairs.items()], motion_step, opts.workers, "motion")
    skipped += bad
    face = opts.spec.face if opts.spec.face is not None else all(v["face"] for v in motion.values())
    if face:
        skipped += [(s, "no face expressions (this dataset is 723-d)") for s, v in motion.items() if not v["face"]]
        motion = {s: v for s, v in motion.items() if v["face"]}
    music_frames: dict[str, dict[str, int]] = {}
    suffix = f"_{opts.feature_mode}"
    earlier = sorted(d.name[: -len(suffix)] for d in (opts.out / "music").glob(f"*{suffix}") if d.is_dir())
    opts.music_types = tuple(dict.fromkeys([*opts.music_types, *earlier]))  # earlier runs' types stay in the index
    for mtype in opts.music_types:
        done, bad = _run([(s, pairs[s][1], mtype, opts) for s in motion], music_step, opts.workers, mtype)
        skipped += [(s, f"{mtype} music features: {r}") for s, r in bad]
        music_frames[mtype] = done
    clips = sorted(s for s in motion if all(s in music_frames[t] for t in opts.music_types))
    split_of, bad = assign_splits({c: opts.spec.sequence_of(c) for c in clips}, opts)
    skipped += bad
    clips = [c for c in clips if c in split_of]
    if not clips:
        raise UserError(f"{opts.root}: every clip was skipped: {skipped[:3]} ...")
    dim = write_motion(clips, face, opts)
    windows = window_index(clips, {c: motion[c]["frames"] for c in clips}, music_frames, opts)
    write_index(clips, split_of, windows, opts)
    train = [np.load(opts.out / "motion" / f"{c}.npy") for c in clips if split_of[c] == "train"]
    mean, std = block_stats(train or [np.load(opts.out / "motion" / f"{c}.npy") for c in clips])
    np.save(opts.out / "Mean.npy", mean)
    np.save(opts.out / "Std.npy", std)
    summary = make_summary(clips, split_of, windows, dim, skipped, motion, opts)
    (opts.out / "summary.json").write_text(json.dumps(summary, indent=1))
    return summary


def write_motion(clips: list[str], face: bool, opts: BuildOptions) -> int:
    """Final per-clip motion features from the cache: 723-d grouped with a face, else 623-d. Returns the width."""
    layout = MotionLayout(N_JOINTS, FACE_DIM if face else 0)
    for clip in clips:
        out = opts.out / "motion" / f"{clip}.npy"
        if out.is_file() and np.load(out, mmap_mode="r").shape[1] == layout.dim:
            continue
        with np.load(opts.out / "cache" / "motion" / f"{clip}.npz") as f:
            feats = layout.from_flat(f["feats"], f["face"] if face else None)
        _save_atomic(out, feats.astype(np.float32))
    return layout.dim


def window_index(clips: list[str], frames: dict[str, int], music: dict[str, dict[str, int]],
                 opts: BuildOptions) -> np.ndarray:  # fmt: skip
    """EDGE's slicing as (N, 3) int64 rows [clip index, start frame, frames], within motion and music alike."""
    rows = []
    for i, clip in enumerate(clips):
        n_motion = (frames[clip] - opts.window_frames) // opts.stride_frames + 1
        counts = [n_motion]
        for per_clip in music.values():
            n = per_clip[clip]  # music frames (full_song) or slices (per_slice)
            counts.append(n if opts.feature_mode == "per_slice" else (n - opts.window_frames) // opts.stride_frames + 1)
        n = max(0, min(counts))
        starts = np.arange(n) * opts.stride_frames
        rows.append(np.stack([np.full(n, i), starts, np.full(n, opts.window_frames)], axis=1))
    return np.concatenate(rows).astype(np.int64) if rows else np.zeros((0, 3), np.int64)


def write_index(clips: list[str], split_of: dict[str, str], windows: np.ndarray, opts: BuildOptions) -> None:
    np.save(opts.out / "windows.npy", windows)
    info = [{"name": c, "sequence": opts.spec.sequence_of(c), "split": split_of[c]} for c in clips]
    (opts.out / "clips.json").write_text(json.dumps(info, indent=1))
    (opts.out / "splits").mkdir(parents=True, exist_ok=True)
    for split in SPLITS:
        (opts.out / "splits" / f"{split}.txt").write_text("".join(f"{c}\n" for c in clips if split_of[c] == split))


def make_summary(clips: list[str], split_of: dict[str, str], windows: np.ndarray, dim: int,
                 skipped: list[tuple[str, str]], motion: dict, opts: BuildOptions) -> dict:  # fmt: skip
    split_arr = np.array([split_of[clips[i]] for i in windows[:, 0]]) if len(windows) else np.array([])
    return {
        "dataset": opts.spec.name,
        "clips": len(clips),
        "sequences": len({opts.spec.sequence_of(c) for c in clips}),
        "clips_per_split": {s: sum(split_of[c] == s for c in clips) for s in SPLITS},
        "windows_per_split": {s: int((split_arr == s).sum()) for s in SPLITS},
        "hours": round(sum(motion[c]["frames"] for c in clips) / opts.fps / 3600, 4),
        "motion_dim": dim,
        "fps": opts.fps,
        "window": {"length_s": opts.length, "stride_s": opts.stride, "frames": opts.window_frames,
                   "stride_frames": opts.stride_frames},  # fmt: skip
        "music": {t: {"mode": opts.feature_mode, "dim": music_feature(t).dim,
                      "dir": f"music/{t}_{opts.feature_mode}"} for t in opts.music_types},  # fmt: skip
        "options": {k: v for k, v in asdict(opts).items() if k not in ("root", "spec", "music_options")},
        "skipped": [{"item": item, "reason": reason} for item, reason in skipped],
    }
