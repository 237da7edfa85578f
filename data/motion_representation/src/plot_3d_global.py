"""Step 3 (optional): skeleton videos of joint sequences (b x frame x 52 x 3), mp4 (H.264) or gif.

    python plot_3d_global.py [--input FILE|DIR] [--out FILE|DIR] [--audio MUSIC] [--max_files 1]

`--input`: joints .npy (T, J, 3) or (B, T, J, 3), features .npy (T|B x T, 263/623/723), or any motion file;
default: the first file of data/<dataset_name>/joints. Each sequence gets its own video (`--side_by_side`: one
video with all of them); `--audio` muxes a music file in. Videos go to data/<dataset_name>/plots/ by default.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from data.formats import MOTION_SUFFIXES
from options.data_options import add_dataset_options, start_data_script
from utils.batch import list_files, run_batch
from utils.cli import UserError, user_errors_exit
from utils.plot_inputs import VideoOptions, render_file

logger = logging.getLogger("plot_3d_global")
VIDEO_SUFFIXES = (".mp4", ".gif")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--input", type=Path, help="joints/features .npy or motion file, or a folder of them")
    p.add_argument("--out", type=Path, help="output .mp4/.gif (one input) or folder (default: data/<ds>/plots)")
    p.add_argument("--audio", type=Path, help="music file muxed into the mp4 (cut to the video's length)")
    p.add_argument("--max_files", type=int, default=1, help="files rendered from a folder (0: all)")
    p.add_argument("--max_seconds", type=float, help="render at most this many seconds of each sequence")
    p.add_argument("--side_by_side", action="store_true", help="all sequences of a batch file in one video")
    p.add_argument("--fps", type=float, default=30.0, help="frame rate of the sequences")
    p.add_argument("--size", type=int, default=480, help="video height in pixels")
    p.add_argument("--gif", action="store_true", help="write .gif instead of .mp4 when --out is a folder")
    add_dataset_options(p)
    return p


@user_errors_exit
def main(argv: list[str] | None = None) -> list[Path]:
    args, root, src = start_data_script(build_parser(), argv, "input", "joints",
                                        "nothing to plot; run raw_pose_processing.py first or give --input FILE")
    if args.audio is not None and not args.audio.is_file():
        raise UserError(f"{args.audio}: audio file not found")
    opts = VideoOptions(args.fps, args.size, args.audio, args.max_seconds, args.side_by_side)
    suffix = ".gif" if args.gif else ".mp4"
    if src.is_dir():
        out_dir = args.out or root / "plots"
        report = run_batch(list_files(src, MOTION_SUFFIXES, limit=args.max_files),
                           lambda f: render_file(f, out_dir / f"{f.stem}{suffix}", opts), "plot_3d_global", out_dir)
        return [video for videos in report.results for video in videos]
    out = args.out or root / "plots" / f"{src.stem}{suffix}"
    if out.suffix.lower() not in VIDEO_SUFFIXES:
        raise UserError(f"{out}: the output must end in .mp4 or .gif")
    videos = render_file(src, out, opts)
    logger.info("wrote %s", ", ".join(str(v) for v in videos))
    return videos


if __name__ == "__main__":
    main()
