"""Experiment: are long generated dances one continuous dance? Continuity statistics per song; prints JSON.

    python bench/longform.py [--out_dir outputs/demo] [--name mtrans_demo --res_name rtrans_demo]
                             [--music SONG ...] [--synthetic_seconds 180] [--recentre 0] [--seed 10107]
                             [--time_steps 28 --res_cond_scale 5 --overlap 8]

Uses trained runs (default: the ones `make demo` leaves in outputs/demo). For each song: a dance of the whole song
(`gen_m2m.py --music` settings), then `evaluation.metrics.continuity.continuity_report`: per-frame mean joint speed
within 3 frames of the places where windows meet against elsewhere (5th / 95th / 99th percentiles), the mean speed and
the slowest 5 s stretch relative to the training dances' mean speed, and the root's drift. Default songs: a new
synthetic song of `--synthetic_seconds` and, when ../shared/realdata is there, a 133 s real song.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import soundfile as sf

from data.loaders import ProcessedData
from data.synthetic_dance import SR, plan_song, render_music
from evaluation.metrics.continuity import border_frames, continuity_report, mean_speed
from export.dance import rigid_dance
from generator.dances import GenerationOptions, dance_for_music
from generator.music_input import file_music
from models.mask_transformer.loading import load_mage
from models.mask_transformer.longform import song_window_starts
from motion.frame import FPS

REAL_SONG = (
    Path(__file__).resolve().parents[2] / "shared" / "realdata" / "librosa_data" / "karissa_hobbs_lets_go_fishin.ogg"
)


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out_dir", type=Path, default=Path("outputs/demo"), help="a `demo.py` output folder")
    p.add_argument("--checkpoints_dir", type=Path, help="default: <out_dir>/checkpoints")
    p.add_argument("--data_root", type=Path, help="the processed dataset (default: <out_dir>/data/synthetic)")
    p.add_argument("--dataset_name", default="synthetic")
    p.add_argument("--name", default="mtrans_demo")
    p.add_argument("--res_name", default="rtrans_demo")
    p.add_argument("--music", type=Path, nargs="*", help="songs (default: a synthetic song and the real one)")
    p.add_argument("--synthetic_seconds", type=float, default=180.0)
    d = GenerationOptions()
    p.add_argument("--recentre", type=float, default=0.0, help="gen_m2m.py --recentre")
    p.add_argument("--time_steps", type=int, default=d.time_steps, help="gen_m2m.py --time_steps")
    p.add_argument("--res_cond_scale", type=float, default=d.res_cond_scale, help="gen_m2m.py --res_cond_scale")
    p.add_argument("--overlap", type=int, default=d.overlap, help="gen_m2m.py --overlap")
    p.add_argument("--seed", type=int, default=10107)
    args = p.parse_args(argv)
    ckpts = args.checkpoints_dir or args.out_dir / "checkpoints"
    data = ProcessedData(args.data_root or args.out_dir / "data" / args.dataset_name)
    train_speed = mean_speed([data.motion(i) for i in data.clip_ids("train")])
    mage = load_mage(ckpts, args.dataset_name, args.name, args.res_name)
    opts = GenerationOptions(
        time_steps=args.time_steps, res_cond_scale=args.res_cond_scale, overlap=args.overlap, recentre_s=args.recentre
    )
    result = {
        "experiment": "longform",
        "runs": [args.name, args.res_name],
        "train_speed_m_s": round(train_speed, 3),
        "options": vars(opts),
        "seed": args.seed,
        "songs": {},
    }
    with tempfile.TemporaryDirectory() as tmp:
        songs = list(args.music or [])
        if not songs:
            synthetic = Path(tmp) / f"synthetic_{args.synthetic_seconds:.0f}s.wav"
            sf.write(synthetic, render_music(plan_song(1234, args.synthetic_seconds)), SR)
            songs = [synthetic] + ([REAL_SONG] if REAL_SONG.is_file() else [])
        for path in songs:
            song = file_music(mage, path)
            t0 = time.perf_counter()
            dance = rigid_dance(dance_for_music(mage, song, opts, args.seed, progress=False))
            seconds = time.perf_counter() - t0
            c = mage.base.config
            starts = song_window_starts(song.frames, c.times, opts.overlap, c.downsampling)
            report = continuity_report(dance.joints, border_frames(starts, c.times, c.downsampling), train_speed)
            result["songs"][path.stem] = {
                "seconds": round(song.frames / FPS, 1),
                "windows": len(starts),
                "compute_s": round(seconds, 1),
                **{k: round(v, 3) for k, v in report.items()},
            }
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
