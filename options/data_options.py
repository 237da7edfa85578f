"""Option groups for the data scripts: which dataset, how motion files are read."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

from data.formats import format_names
from data.motion_pipeline import ReadOptions
from data.paths import DEFAULT_DATASET, canonical_dataset, dataset_dir
from motion.frame import UP_AXES
from utils.arg_types import positive_float
from utils.cli import UserError, setup_logging


def add_dataset_options(p: argparse.ArgumentParser) -> None:
    """`--dataset_name` and `--data_root`: where the default inputs and outputs of a script live."""
    p.add_argument(
        "--dataset_name",
        default=DEFAULT_DATASET,
        type=canonical_dataset,
        help="dataset whose folder holds the default inputs/outputs (souldance, aistpp, finedance, ...)",
    )
    p.add_argument("--data_root", type=Path, help="the dataset folder (default: data/<dataset_name>/)")


def resolve_dataset_dir(args: argparse.Namespace) -> Path:
    """The dataset folder the options name."""
    return dataset_dir(args.dataset_name, args.data_root)


def add_motion_read_options(p: argparse.ArgumentParser) -> None:
    """How motion files are read: layout, source frame rate, up axis, SMPL-X model."""
    p.add_argument(
        "--format",
        default="auto",
        choices=format_names(),
        help="motion layout; 'auto' detects it, 'souldance' detects among the SMPL-X layouts",
    )
    p.add_argument(
        "--fps", type=positive_float, help="source frame rate, overriding the file's or the layout's default"
    )
    p.add_argument("--up_axis", choices=UP_AXES, help="source up axis, overriding the layout's default")
    p.add_argument("--smplx_model_path", type=Path, help="SMPL-X model file/folder: exact, shaped joints")


def start_data_script(
    parser: argparse.ArgumentParser,
    argv: list[str] | None,
    given: str,
    default: str | Callable[[Path], Path],
    hint: str,
) -> tuple[argparse.Namespace, Path, Path]:
    """Parse a data script's options, set up logging, and find its dataset folder and its input.

    Args:
        parser: the script's parser (with `add_dataset_options`).
        argv: command line (None: sys.argv).
        given: the option that names the input (e.g. "input", "joints").
        default: the input inside the dataset folder when the option is absent (a sub-path, or a function of it).
        hint: what to do when the input does not exist (the one-line error says it after the path).
    Returns:
        (options, dataset folder, input file or folder).
    """
    args = parser.parse_args(argv)
    setup_logging()
    root = resolve_dataset_dir(args)
    src = getattr(args, given) or (default(root) if callable(default) else root / default)
    if not src.exists():
        raise UserError(f"{src}: {hint}")
    return args, root, src


def read_options(args: argparse.Namespace) -> ReadOptions:
    """The `add_motion_read_options` values as `ReadOptions`."""
    return ReadOptions(fmt=args.format, fps=args.fps, up_axis=args.up_axis, smplx_model_path=args.smplx_model_path)
