"""Splicing a generated motion into a source (`motion.splice`): what is kept comes back bit for bit, the rest
is put on the source's path and joins it without a jump."""

from __future__ import annotations

import numpy as np
import pytest

from data.synthetic_dance import synthesize_dance
from evaluation.metrics.continuity import joint_speed
from motion.kinematics import fk_axis_angle
from motion.skeleton import N_BODY_JOINTS, N_JOINTS, default_skeleton
from motion.splice import Keep, fade, fade_rate, heading, junction_offsets, nearest_kept, splice, yaw_matrix


def dance(frames: int, seed: int) -> np.ndarray:
    m = synthesize_dance(frames, bpm=110 + 10 * seed, seed=seed)
    return fk_axis_angle(m.poses, m.trans)  # (T, 52, 3) float32


def moved(joints: np.ndarray, angle: float, shift: tuple[float, float, float]) -> np.ndarray:
    """The same motion turned about +Y through the origin and shifted."""
    return (joints.astype(np.float64) @ yaw_matrix(np.asarray(angle)).T + np.asarray(shift)).astype(np.float32)


def frames_kept(n: int, spans: list[tuple[int, int]]) -> Keep:
    kept = np.zeros(n, dtype=bool)
    for a, b in spans:
        kept[a:b] = True
    joints = np.repeat(kept[:, None], N_JOINTS, axis=1)
    return Keep(joints, joints.copy(), kept)


def test_fade_and_nearest_kept_known_values():
    assert fade(np.arange(6), 4).tolist() == pytest.approx([1.0, 0.896, 0.648, 0.352, 0.104, 0.0])
    assert fade(np.arange(3), 0).tolist() == [1.0, 0.0, 0.0]
    before, after = nearest_kept(np.array([False, True, False, False, True, False]))
    assert before.tolist() == [-1, 1, 1, 1, 4, 4] and after.tolist() == [1, 1, 4, 4, 4, 6]
    turned = yaw_matrix(np.asarray([0.3, -2.0]))
    assert heading(turned).tolist() == pytest.approx([0.3, -2.0])


def test_the_mismatch_fades_from_its_value_and_its_rate_over_the_last_kept_frames():
    kept = np.array([True] * 6 + [False] * 12 + [True] * 2)
    t = np.arange(20.0)
    mismatch = np.where(t < 6, 2.0 + 0.5 * t, 0.0) + np.where(t >= 18, 1.0, 0.0)  # a ramp, then a step after
    out = junction_offsets(mismatch, kept, transition=8, rate_frames=4)
    d = np.arange(1, 13)  # free frames 6..17: distance from frame 5 and from frame 18
    left = 4.5 * fade(d, 8) + 0.5 * fade_rate(d, 8)  # the ramp's value at frame 5 and its slope, 0.5 per frame
    right = 1.0 * fade(d[::-1], 8)  # the step's value at 18; its slope over the kept frames 18-19 is 0
    assert np.allclose(out[6:18], left + right)
    assert np.allclose(junction_offsets(mismatch, kept, 8, rate_frames=0)[6:18], 4.5 * fade(d, 8) + right)
    assert fade_rate(0, 8) == 0 and fade_rate(9, 8) == 0 and fade_rate(1, 8) == pytest.approx(0.790, abs=1e-3)


def test_kept_frames_come_back_bit_for_bit_and_the_same_motion_elsewhere_is_the_source_again():
    src = dance(240, 0)
    n = len(src)
    keep = frames_kept(n, [(0, 60), (120, 150)])
    gen = moved(src, 1.1, (2.0, 0.0, -3.0))  # the source itself, elsewhere on the floor (heights are absolute)
    out = splice(src, gen, keep, transition=8)
    kept = keep.positions.all(1)
    assert np.array_equal(out.joints[kept], src[kept])  # bit for bit
    assert np.abs(out.joints - src).max() < 1e-3  # turned and moved back onto the source's path


def test_a_different_motion_joins_the_kept_frames_without_a_jump():
    src, other = dance(300, 0), dance(300, 3)
    gen = moved(other, -2.4, (5.0, 0.0, 1.0))
    keep = frames_kept(len(src), [(0, 90), (150, 210)])
    out = splice(src, gen, keep, transition=8)
    speed = joint_speed(out.joints)  # (T-1,)
    inside = np.concatenate([joint_speed(src), joint_speed(other)])
    for junction in (90, 150, 210):  # the steps into and out of each kept span
        assert speed[junction - 1] <= np.percentile(inside, 99.5), junction
    root_step = np.linalg.norm(np.diff(out.joints[:, 0], axis=0), axis=-1)  # (T-1,) metres per frame
    for junction in (90, 150, 210):  # the root steps on into the kept span, it does not teleport
        assert root_step[junction - 1] < 3 * np.percentile(root_step, 95), junction
    bones = np.linalg.norm(out.joints[:, 1:] - out.joints[:, default_skeleton().parents[1:]], axis=-1)
    assert bones.std(0).max() < 1e-4  # one rigid skeleton throughout (the source's bone lengths)
    without = splice(src, gen, keep, transition=0)
    assert speed[89:92].max() < joint_speed(without.joints)[89:92].max()  # the fade smooths the seam


def test_kept_body_gives_the_source_body_and_generated_fingers_on_its_wrists():
    src, other = dance(120, 0), dance(120, 5)
    n = len(src)
    body = np.zeros((n, N_JOINTS), dtype=bool)
    body[:, :N_BODY_JOINTS] = True
    out = splice(src, moved(other, 0.5, (1.0, 0.0, 0.0)), Keep(body, body.copy(), np.ones(n, bool)), transition=8)
    assert np.array_equal(out.joints[:, :N_BODY_JOINTS], src[:, :N_BODY_JOINTS])
    parents = default_skeleton().parents
    fingers = np.arange(N_BODY_JOINTS, N_JOINTS)
    length = np.linalg.norm(out.joints[:, fingers] - out.joints[:, parents[fingers]], axis=-1)
    assert length.std(0).max() < 1e-4  # rigid fingers hanging from the source's wrists
    wrist_rel = out.joints[:, fingers] - out.joints[:, parents[fingers]]
    src_rel = src[:, fingers] - src[:, parents[fingers]]
    assert np.abs(wrist_rel - src_rel).max() > 1e-3  # the fingers are the generated ones, not the source's


def test_fingers_kept_as_rotations_follow_a_new_body():
    src, other = dance(120, 0), dance(120, 5)
    n = len(src)
    rot = np.zeros((n, N_JOINTS), dtype=bool)
    rot[:, N_BODY_JOINTS:] = True
    out = splice(src, other, Keep(np.zeros_like(rot), rot, np.zeros(n, bool)), transition=8)
    src_local = out.rotations[:, N_BODY_JOINTS:]
    from motion.kinematics import inverse_kinematics

    expected, _ = inverse_kinematics(src, out.skeleton)
    assert np.abs(src_local - expected[:, N_BODY_JOINTS:]).max() < 1e-12
    assert np.abs(out.joints[:, :N_BODY_JOINTS] - src[:, :N_BODY_JOINTS]).max() > 0.05  # a new body


def test_faces_are_kept_where_asked_and_faded_into_the_generated_face():
    n = 60
    src_face, gen_face = np.zeros((n, 100), np.float32), np.ones((n, 100), np.float32)
    joints = dance(n, 0)
    keep = frames_kept(n, [(0, 20)])
    out = splice(joints, joints, keep, transition=4, source_face=src_face, generated_face=gen_face)
    assert np.array_equal(out.expressions[:20], src_face[:20])
    assert out.expressions[20:25, 0].tolist() == pytest.approx([0.104, 0.352, 0.648, 0.896, 1.0])
    assert np.array_equal(out.expressions[25:], gen_face[25:])
