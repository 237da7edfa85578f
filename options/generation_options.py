"""Options of `gen_m2m.py`: which runs, what music, how to sample, what to write.

Names and defaults follow the release's `EvalM2MOptions` (`--ext`, `--which_epoch`, `--repeat_times`, `--cond_scale`,
`--temperature`, `--topkr`, `--time_steps`, `--seed`, `--music_dir`), so the seed's command runs as written; the
sampling defaults are the values the release's gen_m2m actually uses (28 steps, CFG 4; residual CFG 5 at 0.8).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from evaluation.protocols import PROTOCOLS
from generator.dances import GenerationOptions
from generator.editing import TRANSITION, parse_parts, parse_spans
from options.data_options import add_dataset_options
from utils.arg_types import (
    gpu_index,
    in_range,
    non_negative_float,
    non_negative_int,
    positive_float,
    positive_int,
    seed_int,
)
from utils.cli import UserError
from utils.output_formats import FORMATS, parse_formats

DROP_FRACTION = in_range(0, 1, high_open=True)  # --topkr: the fraction of codes dropped (1 would drop them all)
VARIATION = in_range(0, 1, low_open=True)  # --variation: the fraction re-sampled (0 would change nothing)
EDITS = ("keep", "regen", "variation")  # what --edit takes


def _user_type(parse):
    """An argparse type from a parser that raises `UserError` (argparse's one-line usage error)."""

    def convert(text: str):
        try:
            return parse(text)
        except UserError as err:
            raise argparse.ArgumentTypeError(str(err)) from err

    convert.__name__ = parse.__name__
    return convert


output_formats = _user_type(parse_formats)  # --formats


def chosen_formats(args: argparse.Namespace) -> tuple[str, ...]:
    """`--formats` (default: all) without the mp4 under `--no_render`; asking for both is a one-line error."""
    if args.formats is None:
        return tuple(f for f in FORMATS if not (args.no_render and f == "mp4"))
    if args.no_render and "mp4" in args.formats:
        raise UserError("--no_render and --formats ...mp4 contradict each other: give one")
    return args.formats


def add_generation_options(p: argparse.ArgumentParser) -> None:
    """Runs, inputs, sampling and outputs of a generation."""
    add_dataset_options(p)
    p.add_argument("--name", required=True, help="masked transformer run (train_m2m.py --name)")
    p.add_argument("--res_name", help="residual transformer run (train_res.py --name); without it the base layer alone")
    p.add_argument("--vq_name", help="tokenizer run; checked against the one the transformers were trained on")
    p.add_argument(
        "--mmr_run",
        type=Path,
        help="MMR run or checkpoint for clip conditioning (default: the one the "
        "masked transformer's checkpoint records)",
    )
    p.add_argument("--checkpoints_dir", type=Path, default=Path("checkpoints"), help="root of the run folders")
    p.add_argument("--which_epoch", default="latest", choices=("latest", "best"), help="which checkpoints")
    p.add_argument(
        "--gpu_id", type=gpu_index, default=0, help="GPU index; -1 for the CPU (a missing GPU falls back to it)"
    )
    p.add_argument("--ext", default="default", help="outputs go to <out_root>/<ext>/")
    p.add_argument("--out_root", type=Path, default=Path("generation"), help="root of the output folders")
    add_input_options(p)
    add_output_options(p)
    add_sampling_options(p)
    add_edit_options(p)


def add_input_options(p: argparse.ArgumentParser) -> None:
    """What is danced to: music files, or a dataset split (evaluated), and how many dances."""
    p.add_argument(
        "--music",
        type=Path,
        help="a music file or a folder of them (wav, mp3, ogg, flac, mp4, ...): one "
        "dance each, any length; without it: the dataset's --split, evaluated",
    )
    p.add_argument(
        "--music_dir",
        type=Path,
        help="the MMR music features of training (accepted for the seed's "
        "command; generation embeds each window's music with the checkpoint's MMR)",
    )
    p.add_argument("--split", default="test", choices=("train", "val", "test"), help="clips generated (no --music)")
    p.add_argument(
        "--protocol",
        default="fixed",
        choices=tuple(PROTOCOLS),
        help="evaluation protocol of the split (fixed: the corrected one, with hand and face metrics)",
    )
    p.add_argument("--repeat_times", type=positive_int, default=1, help="dances per music of the split")
    p.add_argument(
        "--videos", type=non_negative_int, default=3, help="split mode: mp4 for the first N dances (0: none)"
    )


def add_output_options(p: argparse.ArgumentParser) -> None:
    """What is written and whether earlier outputs may be replaced."""
    p.add_argument(
        "--formats",
        type=output_formats,
        metavar="LIST",
        help=f"what to write, comma-separated from {','.join(FORMATS)} (default: all): per dance "
        "<name>.npz (always), .bvh, .glb (glTF 2.0 skin + mesh), .mp4; html: the folder's viewer.html",
    )
    p.add_argument(
        "--no_render", action="store_true", help="skip the mp4 videos (the same as leaving mp4 out of --formats)"
    )
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace the dances (and metrics.json) of an earlier run "
        "in <out_root>/<ext>/ (default: existing dances are kept, an earlier split run is refused)",
    )


def add_sampling_options(p: argparse.ArgumentParser) -> None:
    """Seeds, devices and the sampling settings (defaults: `GenerationOptions`)."""
    d = GenerationOptions()
    p.add_argument("--seed", type=seed_int, default=10107, help="seeds the sampling")
    p.add_argument(
        "--mixed_precision",
        default="auto",
        choices=("auto", "bf16", "no"),
        help="autocast of the models: auto = bf16 on GPU, fp32 on CPU (sampling itself is fp32)",
    )
    p.add_argument("--compile", action="store_true", help="torch.compile the transformers and the decoder")
    s = p.add_argument_group("sampling")
    s.add_argument("--time_steps", type=positive_int, default=d.time_steps, help="masked transformer unmasking steps")
    s.add_argument(
        "--cond_scale", type=non_negative_float, default=d.cond_scale, help="classifier-free guidance, base layer"
    )
    s.add_argument(
        "--temperature", type=non_negative_float, default=d.temperature, help="sampling temperature, base layer"
    )
    s.add_argument("--topkr", type=DROP_FRACTION, default=d.topkr, help="top-k filter: drop this fraction of the codes")
    s.add_argument(
        "--res_cond_scale", type=non_negative_float, default=d.res_cond_scale, help="guidance, residual layers"
    )
    s.add_argument(
        "--res_temperature", type=non_negative_float, default=d.res_temperature, help="temperature, residual layers"
    )
    s.add_argument(
        "--overlap",
        type=non_negative_int,
        default=d.overlap,
        help="token times shared by consecutive windows (4 frames each)",
    )
    s.add_argument(
        "--recentre",
        type=non_negative_float,
        default=d.recentre_s,
        metavar="SECONDS",
        help="remove the root's slow drift over this many seconds (e.g. 10 for long songs; 0: off)",
    )


def add_edit_options(p: argparse.ArgumentParser) -> None:
    """The editing options of `gen_m2m.py` (`edit_request` checks how they combine)."""
    e = p.add_argument_group("editing (with --music FILE: one song; the output is named after it)")
    e.add_argument(
        "--edit",
        type=Path,
        metavar="DANCE",
        help="a dance to edit for the music (our npz, or any motion "
        "file the readers accept): with --keep, --regen and/or --variation",
    )
    e.add_argument(
        "--keep",
        type=_user_type(parse_spans),
        metavar="SPANS",
        help="seconds of --edit kept exactly, e.g. 0-10,20-35; the rest is generated for the music (in-betweening)",
    )
    e.add_argument(
        "--regen",
        type=_user_type(parse_parts),
        metavar="PARTS",
        help="parts generated anew, e.g. "
        "hands,face (the body of --edit kept exactly) or body (its fingers and face kept); HRVQ only",
    )
    e.add_argument(
        "--variation",
        type=VARIATION,
        metavar="F",
        help="re-sample this fraction (0-1] of the token times of --edit that would be generated, keeping the rest",
    )
    e.add_argument(
        "--prefix",
        type=Path,
        metavar="MOTION",
        help="a motion the dance continues: its first "
        "--prefix_seconds are kept exactly, the rest of the song is generated",
    )
    e.add_argument(
        "--prefix_seconds", type=positive_float, metavar="S", help="how much of --prefix to keep (default: all of it)"
    )
    e.add_argument(
        "--transition",
        type=non_negative_int,
        default=TRANSITION,
        metavar="FRAMES",
        help="frames over which a kept part's mismatch with the generated motion fades out",
    )


def generation_options(args: argparse.Namespace) -> GenerationOptions:
    """The sampling options of parsed `add_generation_options` arguments (checked: one line when out of range)."""
    return GenerationOptions(
        time_steps=args.time_steps,
        cond_scale=args.cond_scale,
        temperature=args.temperature,
        topkr=args.topkr,
        res_cond_scale=args.res_cond_scale,
        res_temperature=args.res_temperature,
        overlap=args.overlap,
        recentre_s=args.recentre,
    )


def edit_request(args: argparse.Namespace) -> tuple[Path, str] | None:
    """(the source motion, "edit" or "prefix") of an editing run, None for a plain one; nonsense combinations of the
    editing options are one line."""
    asked = [f"--{k}" for k in EDITS if getattr(args, k) is not None]
    if args.prefix_seconds is not None and args.prefix is None:
        raise UserError("--prefix_seconds needs --prefix MOTION (the motion to continue)")
    if args.edit is not None and args.prefix is not None:
        raise UserError("--edit edits a dance for its music, --prefix continues a motion into a new dance: give one")
    if args.prefix is not None and asked:
        raise UserError(f"{' '.join(asked)} edit a dance (--edit DANCE), not a --prefix to continue")
    if args.edit is None and args.prefix is None:
        if asked:
            raise UserError(f"{' '.join(asked)} needs --edit DANCE (the dance to edit)")
        return None
    option = "--edit" if args.edit is not None else "--prefix"
    if args.music is None or args.music.is_dir():
        raise UserError(f"{option} needs --music FILE: the one song the dance is for")
    if args.edit is not None and not asked:
        raise UserError("--edit needs --keep, --regen or --variation (what to keep, what to generate)")
    return (args.edit, "edit") if args.edit is not None else (args.prefix, "prefix")
