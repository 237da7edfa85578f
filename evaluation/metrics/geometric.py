"""Geometric ("manual") features: the 32 Müller-style boolean predicates of the AIST++ API (fixed version, as
Bailando's `manual_new.py`, LODGE and POPDG use it), averaged over frames, vectorised.

Joints are the 24 SMPL joints in SMPL order, Y-up (the predicates use the +Y axis and the lowest joint as the
floor). Thresholds scale with the SMPL template's humerus length, shoulder width and hip width; velocity predicates
divide by a frame time of 1/120 s whatever the data's rate, as the reference does (`time_per_frame`).
"""

from __future__ import annotations

import numpy as np

from evaluation.metrics.kinetic import UP_AXES
from motion.frame import Z_TO_Y_UP

SMPL_JOINT_NAMES = (
    "root",
    "lhip",
    "rhip",
    "belly",
    "lknee",
    "rknee",
    "spine",
    "lankle",
    "rankle",
    "chest",
    "ltoes",
    "rtoes",
    "neck",
    "linshoulder",
    "rinshoulder",
    "head",
    "lshoulder",
    "rshoulder",
    "lelbow",
    "relbow",
    "lwrist",
    "rwrist",
    "lhand",
    "rhand",
)
_J = {n: i for i, n in enumerate(SMPL_JOINT_NAMES)}
TIME_PER_FRAME = 1 / 120  # the reference's default for every velocity predicate
_L_SHOULDER = np.array([1.99113488e-01, 2.36807942e-01, -1.80702247e-02])  # SMPL template joints
_L_ELBOW = np.array([4.54445392e-01, 2.21158922e-01, -4.10167128e-02])
_R_SHOULDER = np.array([-1.91692337e-01, 2.36928746e-01, -1.23055102e-02])
_L_HIP = np.array([5.64076714e-02, -3.23069185e-01, 1.09197125e-02])
_R_HIP = np.array([-6.24834076e-02, -3.31302464e-01, 1.50412619e-02])
HL = float(np.linalg.norm(_L_SHOULDER - _L_ELBOW))  # humerus length
SW = float(np.linalg.norm(_L_SHOULDER - _R_SHOULDER))  # shoulder width
HW = float(np.linalg.norm(_L_HIP - _R_HIP))  # hip width

# (kind, joints, threshold or angle range), in the reference's order
PREDICATES = (
    ("nmove", ("neck", "rhip", "lhip", "rwrist"), 1.8 * HL),
    ("nmove", ("neck", "lhip", "rhip", "lwrist"), 1.8 * HL),
    ("nplane", ("chest", "neck", "neck", "rwrist"), 0.2 * HL),
    ("nplane", ("chest", "neck", "neck", "lwrist"), 0.2 * HL),
    ("move", ("belly", "chest", "chest", "rwrist"), 1.8 * HL),
    ("move", ("belly", "chest", "chest", "lwrist"), 1.8 * HL),
    ("angle", ("relbow", "rshoulder", "relbow", "rwrist"), (0, 110)),
    ("angle", ("lelbow", "lshoulder", "lelbow", "lwrist"), (0, 110)),
    ("nplane", ("lshoulder", "rshoulder", "lwrist", "rwrist"), 2.5 * SW),
    ("move", ("lwrist", "rwrist", "rwrist", "lwrist"), 1.4 * HL),
    ("move", ("rwrist", "root", "lwrist", "root"), 1.4 * HL),
    ("move", ("lwrist", "root", "rwrist", "root"), 1.4 * HL),
    ("fast", ("rwrist",), 2.5 * HL),
    ("fast", ("lwrist",), 2.5 * HL),
    ("plane", ("root", "lhip", "ltoes", "rankle"), 0.38 * HL),
    ("plane", ("root", "rhip", "rtoes", "lankle"), 0.38 * HL),
    ("nplane", ("zero", "y_unit", "y_min", "rankle"), 1.2 * HL),
    ("nplane", ("zero", "y_unit", "y_min", "lankle"), 1.2 * HL),
    ("nplane", ("lhip", "rhip", "lankle", "rankle"), 2.1 * HW),
    ("angle", ("rknee", "rhip", "rknee", "rankle"), (0, 110)),
    ("angle", ("lknee", "lhip", "lknee", "lankle"), (0, 110)),
    ("fast", ("rankle",), 2.5 * HL),
    ("fast", ("lankle",), 2.5 * HL),
    ("angle", ("neck", "root", "rshoulder", "relbow"), (25, 180)),
    ("angle", ("neck", "root", "lshoulder", "lelbow"), (25, 180)),
    ("angle", ("neck", "root", "rhip", "rknee"), (50, 180)),
    ("angle", ("neck", "root", "lhip", "lknee"), (50, 180)),
    ("plane", ("rankle", "neck", "lankle", "root"), 0.5 * HL),
    ("angle", ("neck", "root", "zero", "y_unit"), (70, 110)),
    ("nplane", ("zero", "minus_y_unit", "y_min", "rwrist"), -1.2 * HL),
    ("nplane", ("zero", "minus_y_unit", "y_min", "lwrist"), -1.2 * HL),
    ("fast", ("root",), 2.3 * HL),
)


def _points(name: str, frames: np.ndarray) -> np.ndarray:
    """Positions (3, F) of a joint or of a reference point over joint-major frames (24, 3, F)."""
    f = frames.shape[2]
    const = {"y_unit": (0.0, 1.0, 0.0), "minus_y_unit": (0.0, -1.0, 0.0), "zero": (0.0, 0.0, 0.0)}
    if name in const:
        return np.broadcast_to(np.asarray(const[name])[:, None], (3, f))
    if name == "y_min":
        zeros = np.zeros(f)
        return np.stack([zeros, frames[:, 1].min(axis=0), zeros])
    return frames[_J[name]]


def _dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise dot products of component-first vectors (3, F) -> (F,), summed x, y, z as np.dot does."""
    return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]


def _norm(a: np.ndarray) -> np.ndarray:
    return np.sqrt(_dot(a, a))


def _cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.stack([a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]])


def _along(v: np.ndarray, direction: np.ndarray) -> np.ndarray:
    """Component of v along direction, per frame. (3, F), (3, F) -> (F,)"""
    return _dot(v, direction) / _norm(direction)


def _predicate(kind: str, names: tuple[str, ...], arg, cur: np.ndarray, prev: np.ndarray, dt: float) -> np.ndarray:
    """One predicate for frames 1..T-1 (cur = frames 1.., prev = frames ..T-2, both (J, 3, F)). -> (T-1,) bool"""
    p = [_points(n, cur) for n in names]
    with np.errstate(invalid="ignore", divide="ignore"):
        if kind == "move":  # velocity of j3 relative to j1, along j1 -> j2
            q = [_points(n, prev) for n in names]
            return _along((p[2] - p[0]) - (q[2] - q[0]), p[1] - p[0]) / dt > arg
        if kind == "nmove":  # velocity of j4 relative to j1, along the normal of the plane (j1, j2, j3)
            q = [_points(n, prev) for n in names]
            normal = _cross(p[2] - p[0], p[1] - p[0])
            return _along((p[3] - p[0]) - (q[3] - q[0]), normal) / dt > arg
        if kind == "plane":  # j4 beyond the plane through j1, j2, j3
            return _along(p[3] - p[0], _cross(p[2] - p[0], p[1] - p[0])) > arg
        if kind == "nplane":  # j4 beyond the plane through j3 with normal j1 -> j2
            return _along(p[3] - p[2], p[1] - p[0]) > arg
        if kind == "angle":
            a, b = p[1] - p[0], p[3] - p[2]
            angle = np.degrees(np.arccos(_dot(a, b) / (_norm(a) * _norm(b))))
            return (angle > arg[0]) & (angle < arg[1])
        if kind == "fast":
            return _norm(p[0] - _points(names[0], prev)) / dt > arg
    raise ValueError(f"unknown predicate kind {kind!r}")


def geometric_features(positions: np.ndarray, time_per_frame: float = TIME_PER_FRAME, up_axis: str = "y") -> np.ndarray:
    """The 32 predicates of a sequence (T, 22 or 24, 3) (SMPL joint order), averaged over frames 1..T-1.

    Args:
        positions: (T, 22 | 24, 3) joints, metres.
        time_per_frame: divides the per-frame displacements of the velocity predicates: the reference's 1/120 s
            whatever the data's rate, or 1/fps for physically meaningful speeds (the `fixed` protocol).
        up_axis: the up axis of `positions`; "z" is rotated to the Y-up frame the predicates are written in (the
            reference always assumes Y-up, which is what `up_axis="y"` on Z-up data reproduces).
    Returns:
        (32,) float32: the fraction of frames each predicate holds.
    """
    p = np.asarray(positions, dtype=np.float64)
    if p.ndim != 3 or p.shape[1] < len(SMPL_JOINT_NAMES) - 2 or p.shape[2] != 3:
        raise ValueError(f"positions must be (T, 24, 3) SMPL joints, got {p.shape}")
    if up_axis not in UP_AXES:
        raise ValueError(f"up_axis must be one of {tuple(UP_AXES)}, got {up_axis!r}")
    if up_axis == "z":
        p = p @ Z_TO_Y_UP.T
    c = np.ascontiguousarray(p.transpose(1, 2, 0))  # (J, 3, T): per-frame maths becomes elementwise over frames
    cur, prev = c[..., 1:], c[..., :-1]
    table = np.stack(
        [_predicate(kind, names, arg, cur, prev, time_per_frame) for kind, names, arg in PREDICATES], axis=1
    )
    return table.astype(np.float32).mean(axis=0)
