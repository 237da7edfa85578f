"""The web viewer page of any dances: one self-contained HTML file that plays them side by side with their music.

    python view_dance.py generation/music/song.npz --music song.mp3
    python view_dance.py gt.npz generated.npz other.bvh --music song.wav --out compare.html
    python view_dance.py generation/music/      # a folder: each of its motion files is a lane
    python view_dance.py generation/ckpt_a generation/ckpt_b --music songs/   # folders compared: a scene per
                                                # dance name (a menu), a lane per folder, the song of that name

Inputs: any motion file the readers accept (SMPL-X npz, AIST++ pkl, FineDance npy, BVH, our dance npz), joints
`.npy` (T, J, 3) / (B, T, J, 3) or features `.npy` (T|B x T, 263/623/723), in order, as lanes on one time base
(arrays are taken at 30 fps). Two or more folders are compared instead: one scene per dance name, one lane per
folder that holds it, and `--music DIR` gives each scene the music file of its name. The page opens offline from
disk (no server, no network) in any current browser; `#t=12.5` after its address opens it paused at 12.5 s. Music
beats are tracked from `--music` (or read from `--beats`); each lane's dance beats are drawn under them. An existing
page is kept unless `--overwrite`.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from export.viewer import write_viewer
from export.viewer.files import folder_scenes, inputs_scene
from utils.cli import UserError, setup_logging, user_errors_exit
from utils.outputs import refuse_existing, refuse_overwriting_inputs

logger = logging.getLogger("view_dance")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("inputs", type=Path, nargs="+", help="motion files or folders; each sequence is a lane")
    p.add_argument(
        "--music",
        type=Path,
        help="the music the dances go with (played as the page's clock); with "
        "several folders, a music folder whose files match the dance names",
    )
    p.add_argument("--beats", type=Path, help="music beat times (.txt/.beats/.npy, seconds) instead of tracking them")
    p.add_argument("--no_beats", action="store_true", help="no music beats on the time bar (skips beat tracking)")
    p.add_argument(
        "--names", help="comma-separated lane names, one per input file or compared folder (default: their names)"
    )
    p.add_argument("--title", help="page title (default: the output's name)")
    p.add_argument("--out", type=Path, help="the page (default: <input>.html beside a single input, else viewer.html)")
    p.add_argument("--overwrite", action="store_true", help="replace the page if it exists")
    return p


def default_out(inputs: list[Path]) -> Path:
    if len(inputs) == 1:
        src = inputs[0].resolve()
        return src.parent / f"{src.name if src.is_dir() else src.stem}.html"
    return Path("viewer.html")


@user_errors_exit
def main(argv: list[str] | None = None) -> Path:
    args = build_parser().parse_args(argv)
    setup_logging()
    out = args.out or default_out(args.inputs)
    if out.suffix.lower() not in (".html", ".htm"):
        raise UserError(f"{out}: the page must end in .html")
    for path in [*args.inputs, args.music, args.beats]:
        if path is not None and not path.exists():
            raise UserError(f"{path}: not found")
    inputs = {f"input {i + 1}": p for i, p in enumerate(args.inputs)} | {"--music": args.music, "--beats": args.beats}
    refuse_overwriting_inputs({"--out": out}, inputs)
    refuse_existing(out, args.overwrite)
    if args.no_beats and args.beats is not None:
        raise UserError("--no_beats and --beats contradict each other: give one")
    names = [n.strip() for n in args.names.split(",")] if args.names else None
    if len(args.inputs) > 1 and all(p.is_dir() for p in args.inputs):
        if args.beats is not None:
            raise UserError("--beats gives one song's beats; compared folders have a song per dance name")
        scenes = folder_scenes(args.inputs, args.music, names)
    else:
        if args.music is not None and args.music.is_dir():
            raise UserError(f"--music {args.music} is a folder: that is for comparing folders; give the song's file")
        scenes = [inputs_scene(args.inputs, args.music, args.beats, names, args.title)]
    page = write_viewer(out, scenes, args.title or out.stem, beats=not args.no_beats)
    logger.info(
        "%d scene(s), %d lane(s) -> %s (%.1f MB); open it in a browser",
        len(scenes),
        sum(len(s.lanes) for s in scenes),
        page,
        page.stat().st_size / 1e6,
    )
    return page


if __name__ == "__main__":
    main()
