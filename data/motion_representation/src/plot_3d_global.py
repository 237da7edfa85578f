"""Step 3 (optional): skeleton videos of joint sequences (b x frame x 52 x 3), mp4 (H.264) or gif, or viewer pages.

    python plot_3d_global.py [--input FILE|DIR] [--out FILE|DIR] [--audio MUSIC] [--max_files 1] [--html]

`--input`: joints .npy (T, J, 3) or (B, T, J, 3), features .npy (T|B x T, 263/623/723), or any motion file;
default: the first file of data/<dataset_name>/joints. Each sequence gets its own video (`--side_by_side`: one
video with all of them); `--audio` muxes a music file in. Videos go to data/<dataset_name>/plots/ by default; videos
that exist are kept unless `--overwrite`. `--html` (or `--out X.html`) writes the web viewer page instead: one
offline HTML file that plays the file's sequences side by side with the music, turnable and scrubbable.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from data.formats import MOTION_SUFFIXES
from data.motion_pipeline import input_files, run_planned
from export.plot_inputs import VideoOptions, render_file
from export.viewer.files import page_file
from options.data_options import add_dataset_options, start_data_script
from utils.cli import UserError, user_errors_exit
from utils.outputs import refuse_overwriting_inputs

logger = logging.getLogger("plot_3d_global")
VIDEO_SUFFIXES = (".mp4", ".gif", ".html")


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
    p.add_argument(
        "--html",
        action="store_true",
        help="write the viewer page (.html: turn, scrub, play with the music in a browser) instead of a video",
    )
    p.add_argument("--overwrite", action="store_true", help="replace videos that exist (default: keep them)")
    add_dataset_options(p)
    return p


@user_errors_exit
def main(argv: list[str] | None = None) -> list[Path]:
    args, root, src = start_data_script(
        build_parser(),
        argv,
        "input",
        "joints",
        "nothing to plot; run raw_pose_processing.py first or give --input FILE",
    )
    if args.audio is not None and not args.audio.is_file():
        raise UserError(f"{args.audio}: audio file not found")
    opts = VideoOptions(args.fps, args.size, args.audio, args.max_seconds, args.side_by_side, args.overwrite)
    if args.gif and args.html:
        raise UserError("--gif and --html contradict each other: give one")
    suffix = ".html" if args.html else ".gif" if args.gif else ".mp4"
    folder = src if src.is_dir() else None
    out = args.out or (root / "plots" if folder else root / "plots" / f"{src.stem}{suffix}")
    if folder is None and out.suffix.lower() not in VIDEO_SUFFIXES:
        raise UserError(f"{out}: the output must end in .mp4, .gif or .html")
    if folder is None:
        if (args.html or args.gif) and out.suffix.lower() != suffix:
            raise UserError(f"{out}: --{suffix[1:]} writes a {suffix} file")
        suffix = out.suffix.lower()
    refuse_overwriting_inputs({"--out": out}, {"--input": src, "--audio": args.audio})
    planned = {
        f: [out / f"{f.stem}{suffix}" if folder else out]
        for f in input_files(src, MOTION_SUFFIXES, limit=args.max_files)
    }

    def one(f: Path) -> list[Path]:
        if suffix == ".html":
            return page_file(f, planned[f][0], args.fps, args.audio, args.max_seconds, args.overwrite)
        return render_file(f, planned[f][0], opts)

    videos = run_planned(planned, one, args.overwrite, "plot_3d_global", out, single=folder is None)
    return [video for vs in videos for video in vs]


if __name__ == "__main__":
    main()
