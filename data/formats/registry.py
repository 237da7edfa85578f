"""The motion formats the project reads, each a documented layout with a detector and a parser.

A parser turns the arrays of one file (see `containers.read_container`) into `SMPLXMotion` or `JointsMotion` at the
source's frame rate; `data.formats.load_motion` then brings them to 30 fps, Y-up. Layout descriptions double as
the error message when no format fits a file.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from data.formats.containers import ARRAY_KEY
from data.formats.fields import Arrays
from data.formats.motion import JointsMotion, SMPLXMotion
from utils.cli import UserError


@dataclass(frozen=True)
class MotionFormat:
    """A motion file layout.

    Args:
        name: the name `--format` takes.
        layout: one line saying what the file holds (shown in docs and errors).
        matches: whether a file's arrays are in this layout (keys and widths only; the parser checks the rest).
        parse: arrays -> motion at the source frame rate; raises `UserError` for a malformed file.
        up_axis: the up axis the layout stores ("y" or "z"), or a function of the file's arrays that says it.
        suffixes: file suffixes the layout comes in (empty: any array container).
    """

    name: str
    layout: str
    matches: Callable[[Arrays], bool]
    parse: Callable[[Arrays, Path], SMPLXMotion | JointsMotion]
    up_axis: str | Callable[[Arrays], str] = "y"
    suffixes: tuple[str, ...] = ()

    def default_up_axis(self, arrays: Arrays) -> str:
        """The up axis files of this layout store."""
        return self.up_axis(arrays) if callable(self.up_axis) else self.up_axis

    def accepts(self, arrays: Arrays, path: Path) -> bool:
        """Whether a file with these arrays and this suffix is in this layout."""
        return (not self.suffixes or path.suffix.lower() in self.suffixes) and self.matches(arrays)


def registry() -> dict[str, MotionFormat]:
    """Every format by name, in detection order."""
    from data.formats import aistpp, bvh_joints, edge_pkl, finedance, joints, motionx, smplx_npz

    formats = (
        smplx_npz.FORMAT,
        edge_pkl.FORMAT,
        aistpp.FORMAT,
        motionx.FORMAT,
        finedance.FORMAT,
        joints.FORMAT,
        joints.EDGE_CSV_FORMAT,
        bvh_joints.FORMAT,
    )
    return {f.name: f for f in formats}


# Named groups: `--format souldance` tries the SMPL-X layouts the SoulDance release may use.
FORMAT_GROUPS = {"auto": None, "souldance": ("smplx_npz", "motionx", "edge_pkl", "aistpp")}


def format_names() -> tuple[str, ...]:
    """Everything `--format` accepts."""
    return tuple(FORMAT_GROUPS) + tuple(registry())


def describe_arrays(arrays: Arrays) -> str:
    """Short description of a file's content for error messages: `keys {q (150, 72), pos (150, 3)}`."""
    if set(arrays) == {ARRAY_KEY}:
        return f"one array {arrays[ARRAY_KEY].shape}"
    shown = [f"{k} {np.shape(v)}" for k, v in arrays.items() if k != ARRAY_KEY]
    return "keys {" + ", ".join(shown) + "}"


def detect(arrays: Arrays, path: Path, fmt: str = "auto") -> MotionFormat:
    """The format of a file: the named one, or the first of the group whose layout matches."""
    formats = registry()
    if fmt in formats:
        if not formats[fmt].accepts(arrays, path):
            raise UserError(f"{path}: not a {fmt} file ({describe_arrays(arrays)}); {fmt} is: {formats[fmt].layout}")
        return formats[fmt]
    if fmt not in FORMAT_GROUPS:
        raise UserError(f"{path}: unknown format {fmt!r}; choose one of {', '.join(format_names())}")
    names = FORMAT_GROUPS[fmt] or tuple(formats)
    for name in names:
        if formats[name].accepts(arrays, path):
            return formats[name]
    if FORMAT_GROUPS[fmt] is None:  # every format: their names (the README's table has the layouts)
        accepted = f"{', '.join(names)} (see README 'Motion formats' or --format)"
    else:
        accepted = "; ".join(f"{n}: {formats[n].layout}" for n in names)
    raise UserError(f"{path}: unknown motion layout ({describe_arrays(arrays)}); accepted layouts: {accepted}")
