"""BVH motion files: writing the project's 52-joint skeleton, and reading any BVH back to joint positions.

Writing: the hierarchy carries the skeleton's rest offsets in metres (Blender's importer reads them at scale 1): the
default skeleton's rest directions with the clip's own median bone lengths, so the file reproduces the joints,
the root has position + rotation channels, every other joint `Zrotation Xrotation Yrotation`; rotations come from
inverse kinematics (`motion.kinematics.inverse_kinematics`) and are written as intrinsic Euler angles in degrees.
Reading: any channel layout and order, position channels on any joint (they replace that joint's offset, as in
files where every joint has six channels), End Sites skipped; forward kinematics gives (T, J, 3) positions.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from motion.kinematics import forward_kinematics, inverse_kinematics
from motion.rotation import euler_to_matrix, matrix_to_euler
from motion.skeleton import Skeleton, default_skeleton, rest_from_offsets
from utils.atomic import atomic_path
from utils.cli import UserError

logger = logging.getLogger(__name__)

ROT_ORDER = "ZXY"  # channel order written for rotations
END_SITE_FRACTION = 0.5  # End Site offset = this fraction of the leaf bone, continuing its direction
MAX_CHANNELS = 6  # three positions and three rotations per joint at most


@dataclass
class BVHMotion:
    """A BVH file's skeleton and motion.

    Args:
        names: joint names (End Sites excluded), J of them.
        parents: (J,) parent index, -1 for the root.
        offsets: (J, 3) rest offsets from the parent, file units.
        positions: (T, J, 3) joint positions from forward kinematics, file units.
        frame_time: seconds per frame.
    """

    names: tuple[str, ...]
    parents: np.ndarray
    offsets: np.ndarray
    positions: np.ndarray
    frame_time: float

    @property
    def fps(self) -> float:
        """Frames per second; a Frame Time written with few digits (0.0333333) gives the whole rate it stands for."""
        fps = 1.0 / self.frame_time  # read_bvh checks frame_time > 0
        return float(round(fps)) if abs(fps - round(fps)) < 1e-4 * fps else fps

    def index(self, names: tuple[str, ...]) -> np.ndarray:
        """Positions of the given joint names in this file's joint order (raises KeyError for a missing name)."""
        lookup = {n: k for k, n in enumerate(self.names)}
        return np.array([lookup[n] for n in names])


def _fmt(values: np.ndarray) -> str:
    return " ".join(f"{v:.6f}" for v in values)


def _hierarchy_lines(skeleton: Skeleton) -> list[str]:
    lines = ["HIERARCHY"]
    offsets = skeleton.offsets.copy()
    offsets[0] = 0.0  # the root's world position comes from its position channels

    def visit(j: int, depth: int) -> None:
        pad = "  " * depth
        kind = "ROOT" if j == 0 else "JOINT"
        channels = "CHANNELS 6 Xposition Yposition Zposition " if j == 0 else "CHANNELS 3 "
        channels += " ".join(f"{axis}rotation" for axis in ROT_ORDER)
        lines.extend(
            [f"{pad}{kind} {skeleton.names[j]}", f"{pad}{{", f"{pad}  OFFSET {_fmt(offsets[j])}", f"{pad}  {channels}"]
        )
        kids = skeleton.children[j]
        for k in kids:
            visit(k, depth + 1)
        if not kids:
            end = END_SITE_FRACTION * skeleton.offsets[j]
            lines.extend([f"{pad}  End Site", f"{pad}  {{", f"{pad}    OFFSET {_fmt(end)}", f"{pad}  }}"])
        lines.append(f"{pad}}}")

    visit(0, 0)
    return lines


def _dfs_order(skeleton: Skeleton) -> list[int]:
    """Joints in the depth-first order in which the hierarchy lists them (= the order of motion channels)."""
    order: list[int] = []
    stack = [0]
    while stack:
        j = stack.pop()
        order.append(j)
        stack.extend(reversed(skeleton.children[j]))
    return order


def write_bvh(
    path: str | Path,
    joints: np.ndarray,
    fps: float = 30.0,
    skeleton: Skeleton | None = None,
    rotations: np.ndarray | None = None,
) -> Path:
    """Write joint positions as a BVH of `skeleton` (default: the project's 52-joint skeleton).

    Args:
        path: output `.bvh` (written atomically: `utils.atomic`).
        joints: (T, J, 3) Y-up metres, J = the skeleton's joint count.
        fps: frame rate written as `Frame Time`.
        skeleton: the rest skeleton the rotations are solved for; default: the project's skeleton fitted to the
            clip's bone lengths. Positions come back exactly when the joints have this skeleton's proportions.
        rotations: (T, J, 3, 3) local rotations of `skeleton` already solved for these joints (skips the IK).
    Returns:
        The written path.
    """
    joints = np.asarray(joints, dtype=np.float64)
    skeleton = skeleton or default_skeleton().fitted_to(joints)
    if joints.ndim != 3 or joints.shape[1:] != (skeleton.n_joints, 3):
        raise ValueError(f"joints must be (T, {skeleton.n_joints}, 3), got {joints.shape}")
    local = inverse_kinematics(joints, skeleton)[0] if rotations is None else rotations  # (T, J, 3, 3)
    euler = np.degrees(matrix_to_euler(local, ROT_ORDER))  # (T, J, 3)
    order = _dfs_order(skeleton)
    frames = np.concatenate([joints[:, 0, :], euler[:, order, :].reshape(len(joints), -1)], axis=1)  # (T, 3 + 3J)
    path = Path(path)
    with atomic_path(path) as tmp, open(tmp, "w") as f:
        f.write("\n".join(_hierarchy_lines(skeleton)) + "\n")
        f.write(f"MOTION\nFrames: {len(frames)}\nFrame Time: {1.0 / fps:.8f}\n")
        np.savetxt(f, frames, fmt="%.6f")
    logger.info("wrote %s (%d frames, %d joints)", path, len(frames), skeleton.n_joints)
    return path


# ------------------------------------------------------------------------------------------------ reading


def _parse_hierarchy(
    tokens: list[str], path: Path
) -> tuple[list[str], list[int], list[np.ndarray], list[list[str]], int]:
    """Joints, parents, offsets and channel names from the HIERARCHY tokens; returns the index after MOTION."""
    names: list[str] = []
    parents: list[int] = []
    offsets: list[np.ndarray] = []
    channels: list[list[str]] = []
    stack: list[int] = []
    in_end_site = False
    i = 0
    while i < len(tokens) and tokens[i] != "MOTION":
        tok = tokens[i]
        if tok in ("ROOT", "JOINT"):
            names.append(tokens[i + 1])
            parents.append(stack[-1] if stack else -1)
            offsets.append(np.zeros(3))
            channels.append([])
            i += 2
        elif tok == "End":
            in_end_site = True
            i += 2
        elif tok == "{":
            if not in_end_site:
                stack.append(len(names) - 1)
            i += 1
        elif tok == "}":
            if in_end_site:
                in_end_site = False
            else:
                stack.pop()
            i += 1
        elif tok == "OFFSET":
            if not in_end_site:
                offsets[-1] = np.array([float(t) for t in tokens[i + 1 : i + 4]])
            i += 4
        elif tok == "CHANNELS":
            n = int(tokens[i + 1])
            if not 0 <= n <= MAX_CHANNELS:
                raise UserError(f"{path}: joint {names[-1] if names else '?'} declares {n} channels (0 to 6)")
            channels[-1] = [t[0].upper() + t[1:].lower() for t in tokens[i + 2 : i + 2 + n]]
            i += 2 + n
        else:
            i += 1
    if i >= len(tokens) or not names or stack:
        raise UserError(f"{path}: not a BVH file, or a truncated one (no joints, unbalanced braces or no MOTION)")
    return names, parents, offsets, channels, i + 1


def read_bvh(path: str | Path, scale: float = 1.0) -> BVHMotion:
    """Read a BVH file and compute joint positions by forward kinematics.

    Args:
        path: the `.bvh` file.
        scale: multiplies offsets and positions (0.01 turns centimetres into metres).
    Returns:
        `BVHMotion` with positions (T, J, 3).
    """
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: BVH file not found")
    tokens = path.read_text(errors="replace").split()
    try:
        names, parents, offsets, channels, i = _parse_hierarchy(tokens, path)
        n_frames = int(tokens[i + 1])  # "Frames:" N
        frame_time = float(tokens[i + 4])  # "Frame" "Time:" dt
        values = np.array(tokens[i + 5 :], dtype=np.float64)
    except UserError:
        raise
    except (IndexError, ValueError) as err:
        raise UserError(f"{path}: malformed or truncated BVH ({err})") from err
    if not np.isfinite(frame_time) or frame_time <= 0:
        raise UserError(f"{path}: Frame Time must be a positive number of seconds, got {frame_time}")
    for name, chans in zip(names, channels, strict=True):
        _check_channels(chans, name, path)
    n_channels = sum(len(c) for c in channels)
    if n_channels == 0 or n_frames < 0:
        what = "no joint has channels (no motion)" if n_channels == 0 else f"Frames: {n_frames} is negative"
        raise UserError(f"{path}: {what}")
    if not np.isfinite(np.stack(offsets)).all() or not np.isfinite(values).all():
        raise UserError(f"{path}: OFFSET or motion values contain NaN or Inf")
    if values.size != n_frames * n_channels:
        raise UserError(
            f"{path}: truncated BVH: expected {n_frames} frames x {n_channels} channels, found {values.size} values"
        )
    data = values.reshape(n_frames, n_channels)
    offs = np.stack(offsets) * scale
    rot = np.zeros((n_frames, len(names), 3, 3))
    trans = np.broadcast_to(offs, (n_frames, len(names), 3)).copy()
    col = 0
    for j, chans in enumerate(channels):
        block = data[:, col : col + len(chans)]
        col += len(chans)
        pos_cols = [k for k, c in enumerate(chans) if c.lower().endswith("position")]
        rot_cols = [k for k, c in enumerate(chans) if c.lower().endswith("rotation")]
        for k in pos_cols:
            trans[:, j, "xyz".index(chans[k][0].lower())] = block[:, k] * scale
        order = "".join(chans[k][0].upper() for k in rot_cols)
        rot[:, j] = euler_to_matrix(np.radians(block[:, rot_cols]), order) if len(rot_cols) == 3 else np.eye(3)
    skel = Skeleton(
        rest_joints=rest_from_offsets(offs, np.array(parents)), parents=np.array(parents), names=tuple(names)
    )
    positions, _ = forward_kinematics(rot, trans[:, 0], skel, offsets=trans)  # position channels: per-frame offsets
    return BVHMotion(
        names=tuple(names), parents=np.array(parents), offsets=offs, positions=positions, frame_time=frame_time
    )


_CHANNELS = {f"{axis}{kind}" for axis in "XYZ" for kind in ("position", "rotation")}


def _check_channels(chans: list[str], joint: str, path: Path) -> None:
    """Known channel names, each once, and zero or three rotations (a one-line error otherwise)."""
    rot = [c for c in chans if c.endswith("rotation")]
    if any(c not in _CHANNELS for c in chans) or len(set(chans)) != len(chans) or len(rot) not in (0, 3):
        raise UserError(f"{path}: joint {joint} has unsupported channels {' '.join(chans)}")
