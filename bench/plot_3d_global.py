"""Benchmark: `plot_3d_global.py`'s renderer on 150 frames (5 s) of 52 joints, mp4 (and gif, and mp4 + audio); JSON.

    python bench/plot_3d_global.py [--frames 150] [--repeats 3] [--size 480]
The dance is generated (`data/synthetic_dance.py`) and the music is a synthetic tone, so it runs on any machine.
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

from data.synthetic_dance import synthesize_dance
from export.render import render_skeleton_video
from motion.kinematics import fk_axis_angle
from utils.timing import best_of, machine_info


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--frames", type=int, default=150, help="frames rendered (30 fps)")
    p.add_argument("--repeats", type=int, default=3, help="timed repeats (the best is reported)")
    p.add_argument("--size", type=int, default=480, help="video height in pixels")
    args = p.parse_args(argv)
    logging.disable(logging.INFO)
    m = synthesize_dance(args.frames)
    joints = fk_axis_angle(m.poses, m.trans)  # (T, 52, 3)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        sr = 22050
        sf.write(out / "music.wav", 0.2 * np.sin(2 * np.pi * 220 * np.arange(args.frames * sr // 30) / sr), sr)
        mp4 = best_of(lambda: render_skeleton_video(joints, out / "a.mp4", size_px=args.size), args.repeats)
        audio = best_of(
            lambda: render_skeleton_video(joints, out / "b.mp4", size_px=args.size, audio=out / "music.wav"),
            args.repeats,
        )
        gif = best_of(lambda: render_skeleton_video(joints, out / "c.gif", size_px=args.size), args.repeats)
        size_kb = (out / "a.mp4").stat().st_size / 1024
    result = {
        "benchmark": "plot_3d_global",
        "frames": args.frames,
        "joints": int(joints.shape[1]),
        "size_px": args.size,
        "mp4_s": round(mp4, 3),
        "mp4_fps": round(args.frames / mp4, 1),
        "mp4_with_audio_s": round(audio, 3),
        "gif_s": round(gif, 3),
        "mp4_kb": round(size_kb, 1),
        "target_s": 10.0,
        "machine": machine_info(),
    }
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
