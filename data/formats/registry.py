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
from data.formats.motion import JointsMotion, SMPLXMotion
from utils.cli import UserError

Arrays = dict[str, np.ndarray]


@dataclass(frozen=True)
class MotionFormat:
    """A motion file layout.

    Args:
        name: the name `--format` takes.
        layout: one line saying what the file holds (shown in docs and errors).
        matches: whether a file's arrays are in this layout (keys and widths only; the parser checks the rest).
        parse: arrays -> motion at the source frame rate; raises `UserError` for a malformed file.
        up_axis: the up axis the layout stores ("y" or "z").
        suffixes: file suffixes the layout comes in (empty: any array container).
    """

    name: str
    layout: str
    matches: Callable[[Arrays], bool]
    parse: Callable[[Arrays, Path], SMPLXMotion | JointsMotion]
    up_axis: str = "y"
    suffixes: tuple[str, ...] = ()

    def accepts(self, arrays: Arrays, path: Path) -> bool:
        """Whether a file with these arrays and this suffix is in this layout."""
        return (not self.suffixes or path.suffix.lower() in self.suffixes) and self.matches(arrays)


def bare_array(arrays: Arrays, width: int | tuple[int, ...]) -> bool:
    """True when the file holds one (T, width) array."""
    a = arrays.get(ARRAY_KEY)
    widths = (width,) if isinstance(width, int) else width
    return a is not None and a.ndim == 2 and a.shape[1] in widths and np.issubdtype(a.dtype, np.number)


def float_array(arrays: Arrays, key: str, path: Path, width: int | tuple[int, ...] | None = None,
                n_frames: int | None = None) -> np.ndarray:  # fmt: skip
    """`arrays[key]` as float32 (T, width), with a one-line error naming the file, the key and the shape."""
    if key not in arrays:
        raise UserError(f"{path}: missing key {key!r} (keys: {sorted(arrays)})")
    try:
        a = np.asarray(arrays[key], dtype=np.float32)
    except (TypeError, ValueError) as err:
        raise UserError(f"{path}: {key} is not numeric ({err})") from err
    if width is not None:
        widths = (width,) if isinstance(width, int) else width
        if a.ndim != 2 or a.shape[1] not in widths:
            want = " or ".join(f"(T, {w})" for w in widths)
            raise UserError(f"{path}: {key} must be {want}, got {a.shape}")
    if n_frames is not None and len(a) != n_frames:
        raise UserError(f"{path}: {key} has {len(a)} frames, poses have {n_frames}")
    return a


def scalar(arrays: Arrays, key: str, default: float, path: Path) -> float:
    """A scalar entry (e.g. a frame rate) or its default."""
    if key not in arrays:
        return default
    a = np.asarray(arrays[key])
    if a.size != 1 or not np.issubdtype(a.dtype, np.number):
        raise UserError(f"{path}: {key} must be one number, got {a.shape} {a.dtype}")
    return float(a.reshape(-1)[0])


def smpl_to_smplx_poses(poses: np.ndarray, path: Path) -> np.ndarray:
    """Axis-angle poses of SMPL (T, 72), SMPL-H/ours (T, 156) or SMPL-X (T, 165) -> SMPL-X (T, 165).

    SMPL's hand joints (22, 23) carry no finger rotations and are dropped (fingers at rest); SMPL-H / 52-joint poses
    get zero jaw and eyes.
    """
    t, width = poses.shape
    out = np.zeros((t, 165), dtype=np.float32)
    if width == 72:
        out[:, :66] = poses[:, :66]
    elif width == 156:
        out[:, :66] = poses[:, :66]
        out[:, 75:] = poses[:, 66:]
    elif width == 165:
        out[:] = poses
    else:
        raise UserError(f"{path}: poses must be (T, 72) SMPL, (T, 156) SMPL-H or (T, 165) SMPL-X, got {poses.shape}")
    return out


def registry() -> dict[str, MotionFormat]:
    """Every format by name, in detection order."""
    from data.formats import aistpp, bvh_joints, edge_pkl, finedance, joints, motionx, smplx_npz

    formats = (smplx_npz.FORMAT, edge_pkl.FORMAT, aistpp.FORMAT, motionx.FORMAT, finedance.FORMAT, joints.FORMAT,
               joints.EDGE_CSV_FORMAT, bvh_joints.FORMAT)  # fmt: skip
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
        return formats[fmt]
    if fmt not in FORMAT_GROUPS:
        raise UserError(f"{path}: unknown format {fmt!r}; choose one of {', '.join(format_names())}")
    names = FORMAT_GROUPS[fmt] or tuple(formats)
    for name in names:
        if formats[name].accepts(arrays, path):
            return formats[name]
    accepted = "; ".join(f"{n}: {formats[n].layout}" for n in names)
    raise UserError(f"{path}: unknown motion layout ({describe_arrays(arrays)}); accepted layouts: {accepted}")
