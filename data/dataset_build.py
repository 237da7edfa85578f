"""Building a processed dataset from raw motion + music files: features, windows, splits, statistics, summary.

Output under `<data_root>/processed/`:
- `motion/<clip>.npy` full-sequence motion features (T-1, 623), or (T-1, 723) = [body | hands | face] with faces;
- `music/<type>_<mode>/<song>.npy` music features: full_song (L, D), or per_slice (n, 150, D), each with a
  `<song>.source.json` record of the audio it was made from (size, time, SHA-256): a replaced song is redone;
- `windows.npy` (N, 3) int64 [clip index, start frame, frames]: EDGE's 5 s / 0.5 s slicing as index views;
- `clips.json` every clip with its source sequence and split; `splits/<split>.txt` clip names per split;
- `Mean.npy`, `Std.npy` from the training split (std averaged per feature block, HumanML3D);
- `summary.json` counts, hours, feature widths and modes, and every skipped item with its reason;
- `packed/<split>/` each split's motion and frame-level music features concatenated, read by training through
  memory maps (`data.packed`; they double the disk use of the features, and make datasets larger than memory
  trainable).
Every file is written atomically (`utils.atomic`). Per-clip results are cached (`cache/`), so a re-run skips finished
work and an interrupted build resumes. Splits are made per source sequence, and the build asserts no sequence is in
two splits.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from data.audio_extraction.cache import cached_features
from data.audio_extraction.registry import music_feature
from data.formats import FPS, load_motion
from data.loaders import ProcessedData, pack_splits
from data.registry import DatasetSpec, raw_pairs
from motion.features import joints_to_features
from motion.layout import FACE_DIM, MotionLayout, layout_for_dim
from motion.skeleton import N_JOINTS
from utils.atomic import save_npy, save_npz, write_json, write_text
from utils.cli import UserError

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

    def __post_init__(self) -> None:
        if self.fps != FPS:
            raise UserError(f"--fps {self.fps}: the project processes everything at {FPS} fps")
        for flag, seconds in (("--stride", self.stride), ("--length", self.length)):
            frames = seconds * self.fps
            if not math.isfinite(frames) or round(frames) < 1 or abs(frames - round(frames)) > 1e-6:
                raise UserError(
                    f"{flag} {seconds:g}: must be a whole number of frames at {self.fps} fps, at least "
                    f"one (a multiple of {1 / self.fps:.4g} s)"
                )
        if self.workers < 1:
            raise UserError(f"--workers {self.workers}: must be at least 1")
        if self.feature_mode not in ("full_song", "per_slice"):
            raise UserError(f"--feature_mode must be full_song or per_slice, got {self.feature_mode!r}")
        for t in self.music_types:
            if self.feature_mode not in music_feature(t).modes:
                raise UserError(f"music features {t!r} have no {self.feature_mode} mode ({music_feature(t).modes})")
        if "jukebox" in self.music_types and not self.music_options.get("jukebox", {}).get("weights_dir"):
            raise UserError("--extract-jukebox needs --jukebox_weights DIR (vqvae.pth.tar, prior_level_2.pth.tar)")

    @property
    def out(self) -> Path:
        return self.root / "processed"

    def music_dir(self, music_type: str, mode: str) -> str:
        """Folder (under processed/) of a type's features; per_slice names its slicing."""
        return f"music/{music_type}_{mode}" + (f"_{self.length:g}s_{self.stride:g}s" if mode == "per_slice" else "")

    @property
    def window_frames(self) -> int:
        return round(self.length * self.fps)

    @property
    def stride_frames(self) -> int:
        return round(self.stride * self.fps)


def write_summary(folder: Path, summary: dict) -> None:
    """`summary.json` of a processed dataset, written atomically (it is what marks the build finished)."""
    write_json(folder / "summary.json", summary)


# ------------------------------------------------------------------------------------------------ per-clip steps
def _source_key(path: Path, fmt: str) -> str:
    st = path.stat()
    return f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}|{fmt}"


def motion_step(stem: str, motion_path: Path, opts: BuildOptions) -> dict:
    """Motion file -> cached 623-d features (+ face). Returns {"frames", "face"}; raises UserError to skip.

    The cache remembers its source (path, size, modification time, format) and is redone when that changes.
    """
    cache = opts.out / "cache" / "motion" / f"{stem}.npz"
    key = _source_key(motion_path, opts.spec.motion_format)
    fresh = False
    if cache.is_file():
        with np.load(cache) as f:
            fresh = "source" in f.files and str(f["source"]) == key
    if not fresh:
        m = load_motion(motion_path, fmt=opts.spec.motion_format)
        if m.joints.shape[1] != N_JOINTS:
            raise UserError(f"{motion_path}: body-only joints ({m.joints.shape[1]}); datasets need 52 joints")
        feats = joints_to_features(m.joints).features  # (T-1, 623)
        if not np.isfinite(feats).all():  # e.g. HumanML3D's facing is undefined for a first frame facing exactly -Z
            raise UserError(
                f"{motion_path}: motion features are not finite (first bad row "
                f"{np.argwhere(~np.isfinite(feats))[0, 0]})"
            )
        arrays = {"feats": feats, "source": np.array(key)}
        if m.face is not None:
            arrays["face"] = m.face[:-1]  # rows follow the T-1 features
        save_npz(cache, **arrays)
    with np.load(cache) as f:
        frames, face = int(f["feats"].shape[0]), "face" in f.files
    if frames < opts.window_frames:
        raise UserError(f"{motion_path}: too short ({(frames + 1) / opts.fps:.2f} s, a window is {opts.length:g} s)")
    return {"frames": frames, "face": face}


def music_step(music_path: Path, music_type: str, mode: str, opts: BuildOptions) -> int:
    """Music file -> cached features of one type and mode (one file per song, shared by the clips that use it),
    extracted again when the file's content or the options changed (`data.audio_extraction.cache`).

    Returns the frames (full_song) or slices (per_slice) available.
    """
    out = opts.out / opts.music_dir(music_type, mode) / f"{music_path.stem}.npy"
    extra = dict(opts.music_options.get(music_type, {}))
    if mode == "per_slice":
        extra.update(stride=opts.stride, length=opts.length)

    def extract() -> np.ndarray:
        return music_feature(music_type).extract(music_path, mode, **extra).astype(np.float32)

    cached_features(out, music_path, extract, extra)
    return int(np.load(out, mmap_mode="r").shape[0])


def _run(jobs: list[tuple], fn, workers: int, desc: str) -> tuple[dict, list[tuple[str, str]]]:
    """Run fn(*job[1:]) keyed by job[0], in processes when workers > 1; UserErrors become skips."""
    done, skipped = {}, []
    if workers > 1 and len(jobs) > 1:
        # spawn, not fork: forking a process whose torch / OpenMP threads already run can deadlock the children
        with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            futures = {job[0]: pool.submit(fn, *job[1:]) for job in jobs}
            for key, fut in tqdm(futures.items(), desc=desc, unit="clip"):
                try:
                    done[key] = fut.result()
                except UserError as err:
                    skipped.append((key, str(err)))
    else:
        for job in tqdm(jobs, desc=desc, unit="clip", disable=len(jobs) < 2):
            try:
                done[job[0]] = fn(*job[1:])
            except UserError as err:
                skipped.append((job[0], str(err)))
    return done, skipped


# ------------------------------------------------------------------------------------------------ splits and stats
def read_list(path: Path) -> list[str]:
    """Names listed one per line (blank lines and # comments ignored)."""
    return [ln.strip() for ln in path.read_text().splitlines() if ln.strip() and not ln.startswith("#")]


def _stable_unit(seed: int, name: str) -> float:
    """A number in [0, 1) fixed by (seed, name): a sequence keeps its split when the dataset grows."""
    digest = hashlib.sha256(f"{seed}|{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def assign_splits(clips: dict[str, str], opts: BuildOptions) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """Split of every clip, per source sequence: the dataset's lists when it ships them, else seeded ratios.

    Args:
        clips: clip name -> source sequence.
    Returns:
        clip -> split, and (clip, reason) for clips left out (ignore list, or in no list).
    """
    lists = {s: opts.root / f for s, f in opts.spec.split_files if (opts.root / f).is_file()}
    ignore = opts.root / opts.spec.ignore_file if opts.spec.ignore_file else None
    ignored = set(read_list(ignore)) if ignore is not None and ignore.is_file() else set()
    skipped = [(c, "in the dataset's ignore list") for c, seq in clips.items() if c in ignored or seq in ignored]
    clips = {c: seq for c, seq in clips.items() if c not in ignored and seq not in ignored}
    out = {}
    if lists:
        listed: dict[str, str] = {}
        for split, path in lists.items():
            for name in read_list(path):
                if listed.setdefault(name, split) != split:
                    raise UserError(f"{name!r} is listed in both the {listed[name]} and {split} split lists")
        for clip, seq in clips.items():
            if clip in listed or seq in listed:
                out[clip] = listed.get(clip, listed.get(seq))
            else:
                skipped.append((clip, f"in none of the split lists ({', '.join(p.name for p in lists.values())})"))
    else:  # sequences ranked by a hash of their name: adding a sequence moves at most those at the boundaries
        sequences = sorted(set(clips.values()), key=lambda q: _stable_unit(opts.seed, q))
        n_val = round(opts.split_ratios[1] * len(sequences))
        n_test = round(opts.split_ratios[2] * len(sequences))
        if len(sequences) >= 3:  # every split gets a sequence when there are enough
            n_val, n_test = max(n_val, 1), max(n_test, 1)
        split_of = {
            q: "test" if r < n_test else "val" if r < n_test + n_val else "train" for r, q in enumerate(sequences)
        }
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


def block_stats(feats: list[np.ndarray] | list[Path]) -> tuple[np.ndarray, np.ndarray]:
    """Per-dimension mean and per-block std (HumanML3D: each block's std is the mean of its dimensions' std).

    Arrays (T_i, D), or `.npy` paths of them read one at a time (sums in float64, so memory stays one clip).
    Returns Mean (D,), Std (D,) float32. Blocks: root_rot_vel, root_lin_vel, root_y, ric, rot6d, vel, contacts, and
    face for the 723-d layout.
    """
    n, total, squares = 0, 0.0, 0.0
    for item in feats:
        x = (np.load(item) if isinstance(item, Path) else item).astype(np.float64)
        n, total, squares = n + len(x), total + x.sum(0), squares + (x * x).sum(0)
    mean = total / n
    std = np.sqrt(np.maximum(squares / n - mean * mean, 0.0))
    layout = layout_for_dim(len(mean))
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
def prepare_raw(opts: BuildOptions, synthetic_songs: int = 8) -> None:
    """Make the raw files a dataset needs when they can be made: the synthetic pairs are generated if missing."""
    if opts.spec.name == "synthetic" and not (opts.root / "motion").is_dir():
        from data.synthetic_dance import build_dataset as make_synthetic

        make_synthetic(opts.root, songs=synthetic_songs, seed=opts.seed)


def previous_music(opts: BuildOptions) -> dict[str, str]:
    """Music types (and their modes) of the last build, so a re-run without the flags keeps them. Features made by a
    trained model (`mmr`) are dropped: the rebuilt windows may differ, so they are made again by their command."""
    summary = opts.out / "summary.json"
    if not summary.is_file():
        return {}
    music = json.loads(summary.read_text()).get("music", {})
    for t in [t for t in music if music_feature(t).made_by]:
        logger.warning("%s music features are dropped by the rebuild; make them again: %s", t, music_feature(t).made_by)
    return {t: info["mode"] for t, info in music.items() if not music_feature(t).made_by}


def build_dataset(opts: BuildOptions) -> dict:
    """Process every paired clip of a dataset (see the module docstring). Returns the summary."""
    pairs, skipped = raw_pairs(opts.spec, opts.root)
    if not pairs:
        raise UserError(
            f"{opts.root}: no motion files with matching music for {opts.spec.name} (expected "
            f"{'/'.join(opts.spec.motion_dirs)}/ with {'/'.join(opts.spec.music_dirs)}/)"
        )
    music_modes = {**previous_music(opts), **{t: opts.feature_mode for t in opts.music_types}}
    (opts.out / "summary.json").unlink(missing_ok=True)  # the index is rewritten below; the summary comes last
    motion, bad = _run([(s, s, m, opts) for s, (m, _) in pairs.items()], motion_step, opts.workers, "motion")
    skipped += bad
    face = opts.spec.face if opts.spec.face is not None else all(v["face"] for v in motion.values())
    if face:
        skipped += [(s, "no face expressions (this dataset is 723-d)") for s, v in motion.items() if not v["face"]]
        motion = {s: v for s, v in motion.items() if v["face"]}
    elif opts.spec.face is None and any(v["face"] for v in motion.values()):
        logger.warning(
            "some motions have no face, so the dataset is 623-d: %s",
            ", ".join(s for s, v in motion.items() if not v["face"]),
        )
    music_frames: dict[str, dict[str, int]] = {}
    for mtype, mode in music_modes.items():
        songs = {pairs[s][1] for s in motion}
        workers = 1 if mtype == "jukebox" else opts.workers  # one copy of a large model
        done, bad = _run([(m.stem, m, mtype, mode, opts) for m in sorted(songs)], music_step, workers, mtype)
        skipped += [(s, f"{mtype} music features: {r}") for s, r in bad]
        music_frames[mtype] = {s: done[pairs[s][1].stem] for s in motion if pairs[s][1].stem in done}
    clips = sorted(s for s in motion if all(s in music_frames[t] for t in music_modes))
    counts = window_counts(clips, {c: motion[c]["frames"] for c in clips}, music_frames, music_modes, opts)
    skipped += [(c, f"music shorter than one {opts.length:g} s window") for c in clips if counts[c] == 0]
    clips = [c for c in clips if counts[c] > 0]
    split_of, bad = assign_splits({c: opts.spec.sequence_of(c) for c in clips}, opts)
    skipped += bad
    clips = [c for c in clips if c in split_of]
    if not clips:
        raise UserError(f"{opts.root}: every clip was skipped, e.g. {skipped[0][0]}: {skipped[0][1]}")
    dim = write_motion(clips, face, opts)
    windows = window_rows(clips, counts, opts)
    write_index(clips, split_of, windows, {c: pairs[c][1].stem for c in clips}, opts)
    train = [opts.out / "motion" / f"{c}.npy" for c in clips if split_of[c] == "train"]
    if not train:
        logger.warning("no clip in the train split: Mean/Std come from every clip")
    mean, std = block_stats(train or [opts.out / "motion" / f"{c}.npy" for c in clips])
    save_npy(opts.out / "Mean.npy", mean)
    save_npy(opts.out / "Std.npy", std)
    summary = make_summary(clips, split_of, windows, dim, skipped, motion, music_modes, opts)
    write_summary(opts.out, summary)
    pack_splits(ProcessedData(opts.out))
    return summary


def write_motion(clips: list[str], face: bool, opts: BuildOptions) -> int:
    """Final per-clip motion features from the cache: 723-d grouped with a face, else 623-d. Returns the width."""
    layout = MotionLayout(N_JOINTS, FACE_DIM if face else 0)
    for clip in clips:  # always rewritten from the cache (a permutation and a concatenation: cheap, never stale)
        out = opts.out / "motion" / f"{clip}.npy"
        with np.load(opts.out / "cache" / "motion" / f"{clip}.npz") as f:
            feats = layout.from_flat(f["feats"], f["face"] if face else None)
        save_npy(out, feats.astype(np.float32))
    return layout.dim


def window_counts(
    clips: list[str],
    frames: dict[str, int],
    music: dict[str, dict[str, int]],
    modes: dict[str, str],
    opts: BuildOptions,
) -> dict[str, int]:
    """Windows per clip: EDGE's slicing of the motion, cut to what every music feature covers."""
    out = {}
    for clip in clips:
        counts = [(frames[clip] - opts.window_frames) // opts.stride_frames + 1]
        for mtype, per_clip in music.items():
            n = per_clip[clip]  # music frames (full_song) or slices (per_slice)
            counts.append(n if modes[mtype] == "per_slice" else (n - opts.window_frames) // opts.stride_frames + 1)
        out[clip] = max(0, min(counts))
    return out


def window_rows(clips: list[str], counts: dict[str, int], opts: BuildOptions) -> np.ndarray:
    """EDGE's slicing as (N, 3) int64 rows [clip index, start frame, frames]."""
    rows = [
        np.stack(
            [np.full(counts[c], i), np.arange(counts[c]) * opts.stride_frames, np.full(counts[c], opts.window_frames)],
            axis=1,
        )
        for i, c in enumerate(clips)
    ]
    return np.concatenate(rows).astype(np.int64)


def write_index(
    clips: list[str], split_of: dict[str, str], windows: np.ndarray, music_of: dict[str, str], opts: BuildOptions
) -> None:
    save_npy(opts.out / "windows.npy", windows)
    info = [
        {"name": c, "sequence": opts.spec.sequence_of(c), "split": split_of[c], "music": music_of[c]} for c in clips
    ]
    write_json(opts.out / "clips.json", info)
    for split in SPLITS:
        write_text(opts.out / "splits" / f"{split}.txt", "".join(f"{c}\n" for c in clips if split_of[c] == split))


def make_summary(
    clips: list[str],
    split_of: dict[str, str],
    windows: np.ndarray,
    dim: int,
    skipped: list[tuple[str, str]],
    motion: dict,
    modes: dict[str, str],
    opts: BuildOptions,
) -> dict:
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
        "window": {
            "length_s": opts.length,
            "stride_s": opts.stride,
            "frames": opts.window_frames,
            "stride_frames": opts.stride_frames,
        },
        "music": {t: {"mode": m, "dim": music_feature(t).dim, "dir": opts.music_dir(t, m)} for t, m in modes.items()},
        "options": {k: v for k, v in asdict(opts).items() if k not in ("root", "spec", "music_options")},
        "skipped": [{"item": item, "reason": reason} for item, reason in skipped],
    }
