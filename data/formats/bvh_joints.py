"""BVH files of the project's skeleton (as `motion.bvh.write_bvh` writes them): joint positions, metres, Y-up.

Other skeletons (other joint names) are refused with a one-line error; `motion.bvh.read_bvh` still reads them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from data.formats.containers import ARRAY_KEY
from data.formats.fields import Arrays
from data.formats.motion import JointsMotion
from data.formats.registry import MotionFormat
from motion.bvh import read_bvh
from motion.skeleton import JOINT_NAMES, N_BODY_JOINTS
from utils.cli import UserError

BVH_KEY = "bvh_path"  # `load_motion` hands BVH files over by path: their parser is motion.bvh


def parse(_arrays: Arrays, path: Path) -> JointsMotion:
    """Our BVH -> joint motion in the project's joint order."""
    bvh = read_bvh(path)
    names = set(bvh.names)
    if names not in (set(JOINT_NAMES), set(JOINT_NAMES[:N_BODY_JOINTS])):
        raise UserError(
            f"{path}: BVH joints are not the project's 52 (or 22 body) joints "
            f"(found {len(names)}: {', '.join(bvh.names[:4])}, ...)"
        )
    order = bvh.index(JOINT_NAMES[: len(names)])
    return JointsMotion(joints=bvh.positions[:, order].astype(np.float32), fps=bvh.fps)


FORMAT = MotionFormat(
    name="bvh",
    layout="BVH of the project's 52-joint (or 22-joint body) skeleton in metres, as the exporter writes it",
    matches=lambda a: BVH_KEY in a and ARRAY_KEY not in a,
    parse=parse,
    suffixes=(".bvh",),
)
