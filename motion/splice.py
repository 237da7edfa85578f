"""Splice a generated motion into a given one: what is kept comes back exactly, the rest joins it without a jump.

An edit (`generator.editing`) keeps some of a source motion (whole frames, or some joints at every
frame) and generates the rest. `splice` builds the output on the source's rigid skeleton:

- kept joint positions are the source's, bit for bit; joints hanging from a kept joint (fingers from a kept wrist)
  move with it;
- the generated root path is turned and moved onto the source's: its heading is corrected by the source's minus its
  own at the kept frames around each free stretch (interpolated across it), its steps (their difference from the
  source's steps at the junctions fading out) are integrated from the kept frame before, and what is left at the
  kept frame after is spread over the stretch, so the root never jumps;
- every joint's local rotation takes the generated motion's times the mismatch at the nearest kept frames, which
  fades out over `transition` frames from its value and its rate of change there (a cubic Hermite offset: position
  and velocity continue across the seam, the generated motion keeps its own speed);
- face expressions likewise (kept frames copied, the mismatch faded out in coefficient space).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from motion.kinematics import forward_kinematics, inverse_kinematics
from motion.rotation import axis_angle_to_quat, matrix_to_quat, qinv, qmul, quat_to_axis_angle, quat_to_matrix
from motion.skeleton import Skeleton, default_skeleton


@dataclass
class Keep:
    """What an output takes from its source, per frame of the output.

    Args:
        positions: (T, J) bool, joints whose positions are the source's exactly.
        rotations: (T, J) bool, joints whose local rotations are the source's (every kept position, and joints kept
            relative to their parent only: fingers kept while the body is generated).
        face: (T,) bool, frames whose face expressions are the source's.
    """

    positions: np.ndarray
    rotations: np.ndarray
    face: np.ndarray


def fade(distance: np.ndarray, transition: int) -> np.ndarray:
    """Weight of a junction's mismatch `distance` frames away from it: 1 at 0, easing (smoothstep) to 0 at
    `transition` + 1 frames and beyond; 0 everywhere with `transition` 0."""
    x = np.clip(np.asarray(distance, np.float64) / (transition + 1), 0.0, 1.0)
    return 1.0 - x * x * (3.0 - 2.0 * x)


def fade_rate(distance: np.ndarray, transition: int) -> np.ndarray:
    """Weight of a junction's mismatch *rate* (per frame, away from the junction) `distance` frames away: the cubic
    Hermite basis that starts at 0 with slope 1 and ends at 0 with slope 0 at `transition` + 1 frames."""
    span = transition + 1
    x = np.clip(np.asarray(distance, np.float64) / span, 0.0, 1.0)
    return span * x * (1.0 - x) ** 2


def nearest_kept(kept: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per frame, the last kept frame at or before it (-1: none) and the first at or after it (T: none), along
    axis 0 of a (T, ...) bool mask."""
    t = len(kept)
    idx = np.arange(t).reshape((t,) + (1,) * (kept.ndim - 1))
    before = np.maximum.accumulate(np.where(kept, idx, -1), axis=0)
    after = np.minimum.accumulate(np.where(kept, idx, t)[::-1], axis=0)[::-1]
    return before, after


def heading(root_rotation: np.ndarray) -> np.ndarray:
    """Heading angle about +Y (rad) of root rotations (T, 3, 3): where the body's +Z points on the ground."""
    forward = root_rotation[..., :, 2]
    return np.arctan2(forward[..., 0], forward[..., 2])


def yaw_matrix(angle: np.ndarray) -> np.ndarray:
    """Rotations (T, 3, 3) about +Y by `angle` (T,) (rad)."""
    c, s = np.cos(angle), np.sin(angle)
    m = np.zeros(np.shape(angle) + (3, 3))
    m[..., 0, 0], m[..., 0, 2], m[..., 1, 1], m[..., 2, 0], m[..., 2, 2] = c, s, 1.0, -s, c
    return m


def _wrap_near(angle: np.ndarray, reference: np.ndarray) -> np.ndarray:
    return reference + (angle - reference + np.pi) % (2 * np.pi) - np.pi


def _between(
    values_before: np.ndarray,
    values_after: np.ndarray,
    before: np.ndarray,
    after: np.ndarray,
    n: int,
    anchor: np.ndarray,
) -> np.ndarray:
    """Per frame, the value of its stretch: linear between the kept frames around it, the one that exists at the ends,
    `anchor` where neither does."""
    has_b, has_a = before >= 0, after < n
    span = np.maximum(after - before, 1)
    w = np.clip((np.arange(n) - before) / span, 0.0, 1.0)
    w = w.reshape(w.shape + (1,) * (values_before.ndim - 1))
    both = values_before + (values_after - values_before) * w
    cond = lambda m: m.reshape(m.shape + (1,) * (values_before.ndim - 1))  # noqa: E731
    return np.where(
        cond(has_b & has_a), both, np.where(cond(has_b), values_before, np.where(cond(has_a), values_after, anchor))
    )


RATE_FRAMES = 4  # kept frames a junction's mismatch rate is measured over (one frame is noisy on decoded fingers)


def junction_offsets(
    mismatch: np.ndarray, kept: np.ndarray, transition: int, rate_frames: int = RATE_FRAMES
) -> np.ndarray:
    """What to add at free frames so that they continue the kept ones: for the kept frame before and the one after
    each free frame, the `mismatch` (T, ...) there (source minus generated) and its rate of change away from the kept
    stretch (its mean step over up to `rate_frames` kept frames inwards; 0: no rate), faded out over `transition`
    frames (`fade`, `fade_rate`). `kept` is (T,) or shaped like mismatch's leading axes. -> like `mismatch`"""
    n = len(kept)
    before, after = nearest_kept(kept)
    free_before, free_after = nearest_kept(~kept)
    t = np.arange(n).reshape((n,) + (1,) * (kept.ndim - 1))
    cols = tuple(np.indices(kept.shape[1:])) if kept.ndim > 1 else ()
    tail = (1,) * (mismatch.ndim - kept.ndim)
    total = np.zeros_like(mismatch, dtype=np.float64)
    for near, inward, distance, free in ((before, -1, t - before, free_before), (after, 1, after - t, free_after)):
        exists = (near >= 0) & (near < n)
        k = np.clip(near, 0, n - 1)
        value = mismatch[(k, *cols)]
        total += value * (fade(distance, transition) * exists).reshape(exists.shape + tail)
        if rate_frames:
            run = np.abs(free[(k, *cols)] - k) - 1  # kept frames beyond `near`, inwards, in its kept run
            frames = np.minimum(run, rate_frames)
            k_in = np.clip(k + inward * frames, 0, n - 1)
            slope = (value - mismatch[(k_in, *cols)]) / np.maximum(frames, 1).reshape(frames.shape + tail)
            weight = fade_rate(distance, transition) * exists * (frames > 0)
            total += slope * weight.reshape(exists.shape + tail)
    return total


def root_path(
    source: np.ndarray,
    generated: np.ndarray,
    kept: np.ndarray,
    turn: np.ndarray,
    transition: int,
    rate_frames: int = RATE_FRAMES,
) -> np.ndarray:
    """Root positions (T, 3) of the output: the source's where `kept`; elsewhere the generated steps turned by
    `turn` (T,) (rad about +Y), their difference from the source's at the junctions faded out, integrated from the
    kept frame before, with what is left at the kept frame after spread linearly over the stretch (ground plane);
    the height is the generated one plus the junctions' mismatch (`junction_offsets`). Without a kept frame the
    generated start is put on the source's first frame."""
    n = len(generated)
    steps = np.zeros((n, 3))
    steps[1:] = np.einsum("tij,tj->ti", yaw_matrix(turn[1:]), np.diff(generated, axis=0))
    src_steps = np.zeros((n, 3))
    src_steps[1:] = np.diff(source, axis=0)
    if rate_frames:  # step t is frame t-1 -> t: kept "steps" are those between two kept frames
        kept_steps = kept & np.concatenate([[False], kept[:-1]])
        steps += junction_offsets(src_steps - steps, kept_steps, transition, rate_frames=0)
    walked = np.cumsum(steps, axis=0)  # (T, 3): the turned path from frame 0
    before, after = nearest_kept(kept)
    b, a = np.clip(before, 0, n - 1), np.clip(after, 0, n - 1)
    from_before = source[b] + walked - walked[b]
    from_after = source[a] - (walked[a] - walked)
    # between two kept frames: the walk from the one before, shifted linearly into the walk to the one after
    out = _between(from_before, from_after, before, after, n, source[0] + walked - walked[0])
    height = generated[:, 1] + junction_offsets(source[:, 1] - generated[:, 1], kept, transition, rate_frames)
    any_kept = (before >= 0) | (after < n)
    out[:, 1] = np.where(any_kept, height, generated[:, 1] + source[0, 1] - generated[0, 1])
    return np.where(kept[:, None], source, out)


def blend_rotations(
    source_q: np.ndarray, generated_q: np.ndarray, kept: np.ndarray, transition: int, rate_frames: int = RATE_FRAMES
) -> np.ndarray:
    """Quaternions (T, J, 4): the source's where `kept` (T, J); elsewhere the generated ones times the junctions'
    mismatch (a rotation vector per joint, `junction_offsets`)."""
    mismatch = quat_to_axis_angle(qmul(source_q, qinv(generated_q)))  # (T, J, 3)
    offset = axis_angle_to_quat(junction_offsets(mismatch, kept, transition, rate_frames))
    return np.where(kept[..., None], source_q, qmul(offset, generated_q))


def blend_values(
    source: np.ndarray, generated: np.ndarray, kept: np.ndarray, transition: int, rate_frames: int = RATE_FRAMES
) -> np.ndarray:
    """Values (T, D) (face expressions): the source's where `kept` (T,), elsewhere the generated ones plus the
    junctions' mismatch (`junction_offsets`)."""
    out = generated + junction_offsets(source - generated.astype(np.float64), kept, transition, rate_frames)
    return np.where(kept[:, None], source, out)


def carried_shift(skeleton: Skeleton, kept: np.ndarray, delta: np.ndarray) -> np.ndarray:
    """(T, J, 3) shift of every joint that is not kept but hangs from a kept one: the kept ancestor's `delta`
    (T, J, 3) (source minus forward kinematics), so a generated hand follows the source's wrist exactly."""
    shift = np.zeros_like(delta)
    for level in skeleton.depth_levels[1:]:
        parents = skeleton.parents[level]
        free = ~kept[:, level, None]
        from_parent = np.where(kept[:, parents, None], delta[:, parents], shift[:, parents])
        shift[:, level] = np.where(free, from_parent, 0.0)
    return shift


@dataclass
class Spliced:
    """The output of `splice`: joints (T, J, 3) float32, local rotations (T, J, 3, 3), root positions (T, 3), face
    expressions (T, E) and the skeleton (the source's bone lengths)."""

    joints: np.ndarray
    rotations: np.ndarray
    root: np.ndarray
    expressions: np.ndarray
    skeleton: Skeleton


def splice(
    source: np.ndarray,
    generated: np.ndarray,
    keep: Keep,
    transition: int,
    source_face: np.ndarray | None = None,
    generated_face: np.ndarray | None = None,
    rate_frames: int = RATE_FRAMES,
) -> Spliced:
    """Splice `generated` joints (T, J, 3) into `source` joints (T, J, 3) (frames past the source's end are never
    kept), as `keep` says, joined over `transition` frames. Faces (T, E) are spliced with `keep.face`. `rate_frames`
    0: the mismatch's value alone fades out, not its rate of change (offset blending, for comparison)."""
    src = np.asarray(source, np.float64)
    gen = np.asarray(generated, np.float64)
    n = len(gen)
    skeleton = default_skeleton().fitted_to(src)
    r_src, _ = inverse_kinematics(src, skeleton)  # (T, J, 3, 3)
    r_gen, _ = inverse_kinematics(gen, skeleton)
    root_kept = keep.rotations[:, 0]
    before, after = nearest_kept(root_kept)
    h_src, h_gen = heading(r_src[:, 0]), heading(r_gen[:, 0])
    b, a = np.clip(before, 0, n - 1), np.clip(after, 0, n - 1)
    turn_b = h_src[b] - h_gen[b]
    turn_a = _wrap_near(h_src[a] - h_gen[a], turn_b)
    turn = _between(turn_b, turn_a, before, after, n, np.asarray(h_src[0] - h_gen[0]))
    root = root_path(src[:, 0], gen[:, 0], keep.positions[:, 0], turn, transition, rate_frames)
    r_gen[:, 0] = yaw_matrix(turn) @ r_gen[:, 0]
    q = blend_rotations(matrix_to_quat(r_src), matrix_to_quat(r_gen), keep.rotations, transition, rate_frames)
    rotations = np.where(keep.rotations[..., None, None], r_src, quat_to_matrix(q))
    fk, _ = forward_kinematics(rotations, root, skeleton)
    fk = fk + carried_shift(skeleton, keep.positions, src - fk)
    joints = np.where(keep.positions[..., None], np.asarray(source), fk.astype(np.float32)).astype(np.float32)
    face = np.zeros((n, 0), np.float32)
    if generated_face is not None:
        face_src = generated_face if source_face is None else source_face
        face = blend_values(face_src, generated_face, keep.face, transition, rate_frames).astype(np.float32)
    return Spliced(joints, rotations, root, face, skeleton)
