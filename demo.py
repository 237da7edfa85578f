"""`make demo`: the whole pipeline, small, on this machine: a synthetic dataset, a tokenizer, an MMR, the masked and
residual transformers, then a dance for a song none of them has heard (or your music) and the test-split metrics.

    python demo.py [--music path/to/song.mp3] [--out_dir outputs/demo] [--seconds 30] [--quick]

Each stage runs the project's own command (create_dataset, train_vq, MMR training, mmr_music_feat256, train_m2m,
train_res, gen_m2m) with small sizes; a stage that finished is not run again, an interrupted training run is resumed
(delete `<out_dir>` to start over). About 8 minutes on 2 CPU cores (`--quick`: tiny sizes and few steps, about 1
minute, a much worse dance).
Outputs: `<out_dir>/generation/<song>.{npz,bvh,glb,mp4}` and `viewer.html` (open it in a browser),
`<out_dir>/generation/test/metrics.json` and `viewer.html` (ground truth beside the dances), `summary.json`.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import soundfile as sf

from create_dataset import main as create_dataset
from data.synthetic_dance import SR, plan_song, render_music
from gen_m2m import main as gen_m2m
from MMR.mmr_music_feat256 import main as mmr_music_feat256
from options.mmr_options import mmr_parser
from train_m2m import main as train_m2m
from train_res import main as train_res
from train_vq import main as train_vq
from training.mmr import MMRTrainer
from utils.arg_types import positive_float
from utils.atomic import atomic_path, write_json
from utils.checkpoint import file_fingerprint
from utils.cli import setup_logging, user_errors_exit
from utils.runs import run_status

logger = logging.getLogger("demo")

DATASET = "synthetic"
NEW_SONG_SEED = 90_001  # far from the dataset's song seeds (0, 1, ...): a song no stage has heard
# sizes and steps: (default, --quick)
PRESETS = {
    "songs": (32, 8),
    "vq": (
        [
            "--nb_code",
            "256",
            "--code_dim",
            "64",
            "--width",
            "96",
            "--depth",
            "2",
            "--num_quantizers",
            "4",
            "--window_size",
            "64",
            "--batch_size",
            "64",
            "--lr",
            "1e-3",
            "--max_steps",
            "1000",
        ],
        [
            "--nb_code",
            "64",
            "--code_dim",
            "32",
            "--width",
            "32",
            "--depth",
            "1",
            "--num_quantizers",
            "3",
            "--window_size",
            "32",
            "--batch_size",
            "32",
            "--lr",
            "1e-3",
            "--max_steps",
            "300",
        ],
    ),
    "mmr": (
        [
            "--latent",
            "64",
            "--ff",
            "128",
            "--layers",
            "2",
            "--batch_size",
            "32",
            "--max_steps",
            "150",
            "--eval_every_e",
            "3",
        ],
        ["--latent", "32", "--ff", "64", "--layers", "1", "--batch_size", "16", "--max_steps", "40"],
    ),
    "transformer": (
        [
            "--latent_dim",
            "128",
            "--ff_size",
            "256",
            "--n_layers",
            "3",
            "--n_heads",
            "4",
            "--batch_size",
            "24",
            "--lr",
            "1e-3",
            "--max_steps",
            "700",
            "--eval_windows",
            "8",
            "--eval_every_e",
            "15",
        ],
        [
            "--latent_dim",
            "64",
            "--ff_size",
            "128",
            "--n_layers",
            "2",
            "--batch_size",
            "16",
            "--lr",
            "1e-3",
            "--max_steps",
            "300",
            "--eval_windows",
            "4",
            "--eval_every_e",
            "10",
        ],
    ),
}


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "--music", type=Path, help="your music file (wav, mp3, ogg, flac, mp4, ...); default: a new synthetic song"
    )
    p.add_argument(
        "--out_dir",
        type=Path,
        help="where everything goes (default: outputs/demo, outputs/demo_quick "
        "with --quick, so the two never reuse each other's models)",
    )
    p.add_argument("--seconds", type=positive_float, default=30.0, help="length of the new synthetic song")
    p.add_argument("--quick", action="store_true", help="tiny sizes and few steps (about 1 minute; a poor dance)")
    return p


def _stage(name: str, done: Path, seconds: dict, fn, *args) -> None:
    """Run a stage unless its output `done` exists (written last, atomically, when the stage finished); record its
    duration."""
    if done.exists():
        logger.info("%s: %s exists, skipping (delete it to run again)", name, done)
        return
    _timed(name, seconds, fn, *args)


def _training_stage(name: str, run_dir: Path, seconds: dict, train, argv: list[str]) -> None:
    """Train a run unless it finished; an interrupted one (killed, Ctrl-C) is resumed (`--is_continue`)."""
    status = run_status(run_dir)
    if status == "finished":
        logger.info("%s: %s finished, skipping (delete it to train again)", name, run_dir)
        return
    if status == "interrupted":
        logger.info("%s: resuming the interrupted run %s", name, run_dir)
        argv = [*argv, "--is_continue"]
    _timed(name, seconds, train, argv)


def _timed(name: str, seconds: dict, fn, *args) -> None:
    logger.info("=== %s", name)
    t0 = time.perf_counter()
    fn(*args)
    seconds[name] = round(time.perf_counter() - t0, 1)


def _embedded(root: Path, mmr_run: Path) -> Path:
    """The marker of the MMR music-features stage: the dataset summary registers `mmr` features of this MMR's
    finished checkpoint (a non-existent path otherwise)."""
    summary = root / "processed" / "summary.json"
    info = json.loads(summary.read_text())["music"].get("mmr", {}) if summary.is_file() else {}
    latest = mmr_run / "model" / "latest.tar"
    same = latest.is_file() and info.get("fingerprint") == file_fingerprint(latest)
    return summary if same else root / "processed" / "music" / "mmr" / ".not-embedded"


@user_errors_exit
def main(argv: list[str] | None = None) -> dict:
    args = build_parser().parse_args(argv)
    setup_logging()
    out = args.out_dir or Path("outputs/demo_quick" if args.quick else "outputs/demo")
    seconds: dict[str, float] = {}
    train_every_stage(out, 1 if args.quick else 0, seconds)
    music = args.music or new_song(out, args.seconds)
    summary = dance_and_test(out, music, seconds)
    write_json(out / "summary.json", summary)
    lines = [f"  {k:<5} {v}" for k, v in summary["dance"].items() if k != "frames"]
    logger.info(
        "demo done in %.0f s; the dance (%d frames) for %s:\n%s\n  test-split metrics: %s\n  test split, "
        "ground truth beside the dances: %s\n  summary: %s",
        sum(seconds.values()),
        summary["dance"]["frames"],
        music,
        "\n".join(lines),
        summary["metrics"],
        summary["test_viewer"],
        out / "summary.json",
    )
    return summary


def train_every_stage(out: Path, k: int, seconds: dict[str, float]) -> None:
    """The dataset, the tokenizer, MMR and its music features, both transformers (preset `k`: 0 full, 1 quick), each
    skipped when finished and resumed when interrupted; `seconds` gets each stage's time."""
    root, ckpts, mmr_run = out / "data" / DATASET, out / "checkpoints", out / "mmr"
    runs = ckpts / DATASET
    dataset = _flags(dataset_name=DATASET, data_root=root)
    loop = _flags(gpu_id=-1, save_latest=0, log_every=50)
    common = [*dataset, *_flags(checkpoints_dir=ckpts, warm_up_iter=50), *loop]
    songs = _flags(synthetic_songs=PRESETS["songs"][k])
    _stage(
        "dataset",
        root / "processed" / "summary.json",
        seconds,
        create_dataset,
        [*dataset, *songs, "--extract-baseline"],
    )
    _training_stage(
        "tokenizer (HRVQ)",
        runs / "hrvq_demo",
        seconds,
        train_vq,
        [*common, "--vq_type", "hrvq", "--name", "hrvq_demo", *PRESETS["vq"][k]],
    )
    mmr_argv = [*dataset, *loop, *_flags(warm_up_iter=20), *PRESETS["mmr"][k]]
    _training_stage(
        "MMR", mmr_run, seconds, lambda argv: MMRTrainer(mmr_parser().parse_args(argv), mmr_run).fit(), mmr_argv
    )
    _stage(
        "MMR music features",
        _embedded(root, mmr_run),
        seconds,
        mmr_music_feat256,
        ["--run_dir", str(mmr_run), "--gpu_id", "-1", "--which", "latest"],
    )
    _training_stage(
        "masked transformer",
        runs / "mtrans_demo",
        seconds,
        train_m2m,
        [*common, "--name", "mtrans_demo", "--vq_name", "hrvq_demo", *PRESETS["transformer"][k]],
    )
    _training_stage(
        "residual transformer",
        runs / "rtrans_demo",
        seconds,
        train_res,
        [*common, "--name", "rtrans_demo", "--vq_name", "hrvq_demo", "--hrvq", *PRESETS["transformer"][k]],
    )


def _flags(**options) -> list[str]:
    """Command-line flags of keyword values: `_flags(gpu_id=-1)` -> ["--gpu_id", "-1"]."""
    return [item for name, value in options.items() for item in (f"--{name}", str(value))]


def new_song(out: Path, length: float) -> Path:
    """A new synthetic song (a seed no training song has) of `length` seconds, written under `out/music/`."""
    plan = plan_song(NEW_SONG_SEED, length)
    music = out / "music" / f"{plan.name}.wav"
    with atomic_path(music) as tmp:
        sf.write(tmp, render_music(plan), SR)
    logger.info("new song: %s (%.0f BPM, %s, %.0f s)", music, plan.bpm, plan.style, plan.seconds)
    return music


def dance_and_test(out: Path, music: Path, seconds: dict[str, float]) -> dict:
    """gen_m2m.py on the song and on the test split (scored); the demo's summary."""
    root, ckpts = out / "data" / DATASET, out / "checkpoints"
    gen = [
        *_flags(gpu_id=-1, name="mtrans_demo", res_name="rtrans_demo", dataset_name=DATASET, data_root=root),
        *_flags(checkpoints_dir=ckpts, out_root=out),
        "--overwrite",
    ]  # the demo's own dance and test split: made again each time
    t0 = time.perf_counter()
    result = gen_m2m([*gen, "--ext", "generation", "--music", str(music)])
    dance = result["done"][0] | {"viewer": result["viewer"]}
    seconds["dance"] = round(time.perf_counter() - t0, 1)
    t0 = time.perf_counter()
    report = gen_m2m([*gen, "--ext", "generation/test", "--videos", "0"])
    seconds["test split + metrics"] = round(time.perf_counter() - t0, 1)
    summary = {
        "music": str(music),
        "dance": {k: v for k, v in dance.items() if k != "music"},
        "metrics": str(out / "generation" / "test" / "metrics.json"),
        "test_viewer": report["viewer"],
        "test_metrics": {
            k: report["metrics"][k]
            for k in ("FID_k", "Div_k", "BAS", "BAS_gt", "PFC", "MMR_MS", "MMR_MS_gt")
            if k in report["metrics"]
        },
        "seconds": seconds,
    }
    return summary


if __name__ == "__main__":
    main()
