"""Training on a dataset larger than memory: a generated dataset of `--hours` of 723-d motion with 4,800-d
(Jukebox-width) music, packed per split and read through memory maps.

    python bench/large_dataset.py --hours 15 --out_dir outputs/large_dataset     # about 36 GB on disk
    python bench/large_dataset.py --hours 0.5 --out_dir outputs/small_dataset    # the same commands, small

Builds `<out_dir>/processed/` the way `create_dataset.py` lays it out: `--unique` distinct synthetic dances
(`data.synthetic_dance`, turned into 723-d features) and as many distinct random 4,800-d feature tables are hard-linked
as the per-clip / per-song source files of `--hours` of clips (repeated features: Jukebox cannot run here), then
`pack_splits` (the build's own packing) writes the packed, memory-mapped split arrays: real bytes on disk, the
size of the real dataset. Then, each in its own process whose memory is sampled every 0.2 s (peak USS: private
memory, and peak RssAnon: anonymous memory): a loader-only pass (clips/s and MB/s read), `--steps` steps of MMR
training on jukebox music, a small tokenizer, and `--steps` steps of masked transformer training on jukebox music
(tokens of every sequence encoded first). The disk's sequential read rate is measured on the packed music file
with its pages evicted from the page cache first. Prints JSON (and writes `<out_dir>/bench.json`).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import psutil
import torch
from loading import rate  # bench/loading.py (this script's folder)

from data.dataset_build import SPLITS, block_stats, write_summary
from data.formats import motion_to_joints
from data.loaders import MusicMotionClips, ProcessedData, make_loader, pack_splits
from data.synthetic_dance import synthesize_dance
from motion.features import joints_to_features
from motion.layout import FACE_DIM, MotionLayout
from motion.skeleton import N_JOINTS
from utils.atomic import save_npy
from utils.timing import machine_info

REPO = Path(__file__).resolve().parents[1]
MUSIC_DIR = "music/jukebox_full_song"
logger = logging.getLogger("bench.large_dataset")


def unique_motion(count: int, frames: int, seed: int) -> list[np.ndarray]:
    """`count` distinct synthetic dances (body, fingers, face) as 723-d features, (frames, 723) float32."""
    layout = MotionLayout(N_JOINTS, FACE_DIM)
    out = []
    for k in range(count):
        dance = synthesize_dance(frames + 1, bpm=96 + 8 * k, seed=seed + k)
        feats = joints_to_features(motion_to_joints(dance)).features  # (frames, 623)
        out.append(layout.from_flat(feats, dance.expressions[:-1, :FACE_DIM]).astype(np.float32))
    return out


def write_dataset(out_dir: Path, hours: float, clip_s: float, unique: int, music_dim: int, seed: int) -> dict:
    """The processed dataset (see the module docstring). Returns timings and sizes."""
    processed = out_dir / "processed"
    if processed.exists():
        raise SystemExit(f"{processed} exists: remove it or pick another --out_dir")
    t0 = time.perf_counter()
    frames = round(clip_s * 30)
    n_clips = max(3, round(hours * 3600 / clip_s))
    rng = np.random.default_rng(seed)
    sources = out_dir / "sources"
    motions = unique_motion(unique, frames, seed)
    for k, m in enumerate(motions):
        save_npy(sources / f"motion_{k}.npy", m)
        save_npy(sources / f"music_{k}.npy", rng.normal(size=(frames, music_dim)).astype(np.float32))
    clips, window, stride = [], 150, 15
    for i in range(n_clips):
        name = f"clip{i:05d}"
        split = "train" if i % 20 < 18 else SPLITS[1 + i % 2]
        for src, dst in (
            (f"motion_{i % unique}", processed / "motion" / f"{name}.npy"),
            (f"music_{(i * 7 + 3) % unique}", processed / MUSIC_DIR / f"{name}.npy"),
        ):
            dst.parent.mkdir(parents=True, exist_ok=True)
            os.link(sources / f"{src}.npy", dst)
        clips.append({"name": name, "sequence": name, "split": split, "music": name})
    per_clip = (frames - window) // stride + 1
    windows = np.stack(
        [
            np.repeat(np.arange(n_clips), per_clip),
            np.tile(np.arange(per_clip) * stride, n_clips),
            np.full(n_clips * per_clip, window),
        ],
        axis=1,
    ).astype(np.int64)
    save_npy(processed / "windows.npy", windows)
    (processed / "clips.json").write_text(json.dumps(clips))
    mean, std = block_stats(motions)
    save_npy(processed / "Mean.npy", mean)
    save_npy(processed / "Std.npy", std)
    counts = {s: sum(c["split"] == s for c in clips) for s in SPLITS}
    write_summary(
        processed,
        {
            "dataset": "custom",
            "clips": n_clips,
            "sequences": n_clips,
            "clips_per_split": counts,
            "windows_per_split": {s: counts[s] * per_clip for s in SPLITS},
            "hours": round(n_clips * frames / 30 / 3600, 4),
            "motion_dim": 723,
            "fps": 30,
            "window": {"length_s": 5.0, "stride_s": 0.5, "frames": window, "stride_frames": stride},
            "music": {"jukebox": {"mode": "full_song", "dim": music_dim, "dir": MUSIC_DIR}},
            "skipped": [],
        },
    )
    sources_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    pack_splits(ProcessedData(processed))
    pack_s = time.perf_counter() - t0
    packed = sum(f.stat().st_size for f in (processed / "packed").rglob("*.npy"))
    return {
        "clips": n_clips,
        "clip_s": clip_s,
        "hours": round(n_clips * frames / 30 / 3600, 3),
        "windows": int(len(windows)),
        "sources_s": round(sources_s, 1),
        "pack_s": round(pack_s, 1),
        "packed_gb": round(packed / 1e9, 2),
        "pack_mb_s": round(packed / 1e6 / pack_s, 1),
    }


def sequential_read_mb_s(path: Path, limit_gb: float = 8.0, chunk: int = 64 << 20) -> float:
    """MB/s of one sequential read of the file's first `limit_gb` GB, its pages evicted from the page cache first."""
    evict(path)
    fd = os.open(path, os.O_RDONLY)
    try:
        total, limit, t0 = 0, int(limit_gb * 1e9), time.perf_counter()
        while total < limit and (block := os.read(fd, chunk)):
            total += len(block)
        return total / 1e6 / (time.perf_counter() - t0)
    finally:
        os.close(fd)


def evict(path: Path) -> None:
    """Drop a file's pages from the page cache (the next read comes from the disk)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def monitored(cmd: list[str], cwd: Path, log: Path) -> dict:
    """Run `cmd`, sampling the peak USS and RssAnon of it and its children every 0.2 s."""
    peak = {"uss": 0, "anon": 0}
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    t0 = time.perf_counter()
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, env=env)
        watched = psutil.Process(proc.pid)

        def sample() -> None:
            while proc.poll() is None:
                try:
                    for p in [watched, *watched.children(recursive=True)]:
                        peak["uss"] = max(peak["uss"], p.memory_full_info().uss)
                        status = Path(f"/proc/{p.pid}/status").read_text()
                        peak["anon"] = max(peak["anon"], int(re.search(r"RssAnon:\s+(\d+)", status)[1]) * 1024)
                except (psutil.Error, OSError, TypeError):
                    pass
                time.sleep(0.2)

        thread = threading.Thread(target=sample, daemon=True)
        thread.start()
        rc = proc.wait()
        thread.join()
    text = log.read_text()
    rate = re.findall(r"(\d+) steps in ([\d.]+) s: ([\d.]+) samples/s", text)
    loader = re.findall(r"LOADER clips/s ([\d.]+) MB/s ([\d.]+)", text)
    row = {
        "rc": rc,
        "wall_s": round(time.perf_counter() - t0, 1),
        "peak_uss_mb": round(peak["uss"] / 2**20),
        "peak_anon_mb": round(peak["anon"] / 2**20),
    }
    if rate:
        row.update(steps=int(rate[-1][0]), loop_s=float(rate[-1][1]), clips_s=float(rate[-1][2]))
    if loader:
        row.update(clips_s=float(loader[-1][0]), read_mb_s=float(loader[-1][1]))
    if rc:
        row["error"] = text[-2000:]
    return row


def read_only(root: Path, batch: int, steps: int) -> None:
    """The training loader alone: `steps` shuffled batches of (motion, jukebox music) clips; prints the rate."""
    data = ProcessedData(root)
    clips = MusicMotionClips(data, "train", "jukebox", normalize=False, seed=0)
    clips_s = rate(make_loader(clips, batch, shuffle=True, seed=0), steps, "motion")
    clip_bytes = 4 * clips.length * (clips.motion.rows.shape[-1] + clips.music.rows.shape[-1])
    print(f"LOADER clips/s {clips_s:.1f} MB/s {clips_s * clip_bytes / 1e6:.1f}", flush=True)


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--hours", type=float, default=15.0, help="hours of clips")
    p.add_argument("--clip_s", type=float, default=60.0, help="seconds per clip")
    p.add_argument("--unique", type=int, default=8, help="distinct dances and music tables behind the clips")
    p.add_argument("--music_dim", type=int, default=4800, help="music feature width (Jukebox: 4800)")
    p.add_argument("--steps", type=int, default=200, help="training steps of MMR and the masked transformer")
    p.add_argument("--batch_size", type=int, default=32, help="clips per step")
    p.add_argument("--out_dir", type=Path, default=Path("outputs/large_dataset"), help="the dataset and the runs")
    p.add_argument("--reuse", action="store_true", help="use the dataset already in --out_dir")
    p.add_argument("--read_only", action="store_true", help=argparse.SUPPRESS)  # the loader-only child process
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    if args.read_only:
        read_only(args.out_dir, args.batch_size, args.steps)
        return {}
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    out = args.out_dir.resolve()
    result: dict = {
        "benchmark": "large_dataset",
        "machine": machine_info(),
        "torch": torch.__version__,
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
    }
    if not args.reuse:
        shutil.rmtree(out / "runs", ignore_errors=True)
        result["build"] = write_dataset(out, args.hours, args.clip_s, args.unique, args.music_dim, args.seed)
        logger.info("built: %s", result["build"])
    music = next((out / "processed" / "packed" / "train").glob("jukebox_*.npy"))
    result["disk_sequential_read_mb_s"] = round(sequential_read_mb_s(music), 1)
    py, runs = sys.executable, out / "runs"
    runs.mkdir(parents=True, exist_ok=True)
    common = [
        "--gpu_id",
        "-1",
        "--max_epoch",
        "1000",
        "--eval_every_e",
        "1000",
        "--save_latest",
        "0",
        "--log_every",
        "20",
        "--overwrite",
    ]  # steps, not epochs, end the runs; no validation; --reuse trains again
    vq = [
        "--dataset_name",
        "custom",
        "--data_root",
        str(out),
        "--checkpoints_dir",
        str(runs),
        "--name",
        "vq",
        "--vq_type",
        "hrvq",
        "--nb_code",
        "128",
        "--code_dim",
        "32",
        "--width",
        "64",
        "--depth",
        "1",
        "--num_quantizers",
        "3",
        "--batch_size",
        "64",
        "--window_size",
        "64",
        "--max_steps",
        "50",
        *common,
    ]
    m2m = [
        "--dataset_name",
        "custom",
        "--data_root",
        str(out),
        "--checkpoints_dir",
        str(runs),
        "--name",
        "m2m",
        "--vq_name",
        "vq",
        "--music_type",
        "jukebox",
        "--music_cond",
        "frame",
        "--latent_dim",
        "128",
        "--ff_size",
        "256",
        "--n_layers",
        "2",
        "--n_heads",
        "4",
        "--eval_windows",
        "0",
        "--batch_size",
        str(args.batch_size),
        "--max_steps",
        str(args.steps),
        *common,
    ]
    mmr = [
        f"run_dir={runs / 'mmr'}",
        "data=custom",
        f"data.data_root={out}",
        "data.music_type=jukebox",
        "model.layers=2",
        "model.latent=128",
        "model.ff=256",
        "trainer.gpu_id=-1",
        "trainer.max_epoch=1000",
        "trainer.eval_every_e=1000",
        f"trainer.max_steps={args.steps}",
        f"trainer.batch_size={args.batch_size}",
        "trainer.save_latest=0",
        "trainer.log_every=20",
        "trainer.overwrite=true",
    ]
    jobs = {
        "loader": [
            py,
            str(REPO / "bench" / "large_dataset.py"),
            "--read_only",
            "--out_dir",
            str(out),
            "--steps",
            str(args.steps),
            "--batch_size",
            str(args.batch_size),
        ],
        "mmr": [py, str(REPO / "MMR" / "train_mmr.py"), *mmr],
        "tokenizer": [py, str(REPO / "train_vq.py"), *vq],
        "masked_transformer": [py, str(REPO / "train_m2m.py"), *m2m],
    }
    result["runs"] = {}
    for name, cmd in jobs.items():
        for f in (out / "processed" / "packed").rglob("*.npy"):  # every run starts with a cold page cache
            evict(f)
        logger.info("%s: %s", name, " ".join(cmd))
        result["runs"][name] = monitored(cmd, REPO, runs / f"{name}.log")
        logger.info("%s: %s", name, {k: v for k, v in result["runs"][name].items() if k != "error"})
    text = json.dumps(result, indent=1)
    print(text)
    (out / "bench.json").write_text(text + "\n")
    return result


if __name__ == "__main__":
    main()
