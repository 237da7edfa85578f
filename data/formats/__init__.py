"""Motion file readers: every supported layout to joints (T, J, 3) and SMPL-X parameters at 30 fps, Y-up.

`load_motion(path)` detects the layout (or takes `fmt`), parses it, converts it to the project's frame and frame
rate and computes joints; `read_joints` is the short form used by the scripts. Layouts: see `format_table()`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from data.formats.bvh_joints import BVH_KEY
from data.formats.containers import CONTAINER_SUFFIXES, read_container
from data.formats.motion import JointsMotion, SMPLXMotion, to_project_frame
from data.formats.registry import detect, format_names, registry
from motion.frame import FPS
from motion.kinematics import fk_axis_angle
from motion.layout import FACE_DIM
from utils.cli import UserError

MOTION_SUFFIXES = CONTAINER_SUFFIXES + (".bvh",)

__all__ = [
    "FPS",
    "MOTION_SUFFIXES",
    "LoadedMotion",
    "SMPLXMotion",
    "format_names",
    "format_table",
    "load_motion",
    "motion_to_joints",
    "read_joints",
]


@dataclass
class LoadedMotion:
    """A motion file brought to the project's conventions.

    Args:
        joints: (T, J, 3) float32 joint positions, Y-up metres, 30 fps unless asked otherwise (J = 52, or 22 for
            body-only sources).
        smplx: the SMPL-X parameters at the same rate, or None for joint-only formats.
        expressions: (T, 100) FLAME-2020 expression coefficients, zeros where the source has no face.
        has_face: whether the source carries a face.
        fmt: the format the file was read as.
        source_fps: the file's own frame rate.
    """

    joints: np.ndarray
    smplx: SMPLXMotion | None
    expressions: np.ndarray
    has_face: bool
    fmt: str
    source_fps: float

    @property
    def face(self) -> np.ndarray | None:
        """The expressions (T, 100) when the source has a face, else None (features then stay 623-d)."""
        return self.expressions if self.has_face else None


def motion_to_joints(motion: SMPLXMotion, smplx_model_path: str | Path | None = None) -> np.ndarray:
    """(T, 52, 3) joints of SMPL-X motion: exact through `smplx` when a model path is given, else our own FK."""
    if smplx_model_path:
        from motion.smplx_model import smplx_joints

        return smplx_joints(motion.poses, motion.trans, smplx_model_path, motion.betas, motion.expressions)
    return fk_axis_angle(motion.poses, motion.trans)


def load_motion(
    path: str | Path,
    fmt: str = "auto",
    fps: float | None = None,
    up_axis: str | None = None,
    smplx_model_path: str | Path | None = None,
    out_fps: float | None = FPS,
) -> LoadedMotion:
    """Read any supported motion file.

    Args:
        path: the file.
        fmt: a format name, "auto" (detect among all) or "souldance" (detect among SMPL-X layouts).
        fps: the source frame rate, overriding the file's or the layout's default.
        up_axis: "y" or "z", overriding the layout's default.
        smplx_model_path: SMPL-X model for exact, shaped joints (else the project's skeleton).
        out_fps: the frame rate to resample to (the project's 30 fps); None keeps the source's (evaluation).
    Returns:
        `LoadedMotion` at `out_fps`, Y-up. Raises `UserError` (one line naming the file) for any bad input.
    """
    path = Path(path)
    if path.suffix.lower() == ".bvh":
        if not path.is_file():
            raise UserError(f"{path}: motion file not found")
        arrays = {BVH_KEY: np.array(str(path))}
    else:
        arrays = read_container(path)
    spec = detect(arrays, path, fmt)
    motion = spec.parse(arrays, path)
    if fps is not None:
        motion.fps = float(fps)
    source_fps = motion.fps
    motion = to_project_frame(motion, path, up_axis or spec.default_up_axis(arrays), out_fps or motion.fps)
    if isinstance(motion, JointsMotion):
        no_face = np.zeros((len(motion.joints), FACE_DIM), np.float32)
        return LoadedMotion(motion.joints.astype(np.float32), None, no_face, False, spec.name, source_fps)
    joints = motion_to_joints(motion, smplx_model_path)
    return LoadedMotion(joints, motion, motion.expressions, motion.has_face, spec.name, source_fps)


def read_joints(
    path: str | Path, smplx_model_path: str | Path | None = None, fmt: str = "auto", **kwargs
) -> tuple[np.ndarray, np.ndarray | None]:
    """Joints (T, J, 3) and face expressions (T, 100) or None, from any motion file (see `load_motion`)."""
    m = load_motion(path, fmt=fmt, smplx_model_path=smplx_model_path, **kwargs)
    return m.joints, m.face


def format_table() -> str:
    """Markdown table of the formats and their layouts (the README's table is this)."""
    rows = [f"| `{f.name}` | {f.layout} |" for f in registry().values()]
    return "\n".join(["| format | layout |", "|---|---|", *rows])
