"""623-d features on real data (BEAT2) and generated motion: recovery, rotations, velocities, contacts, quirks."""

import numpy as np
import pytest
import torch

from data.synthetic_dance import synthesize_dance
from motion.features import (
    FeatureSkeleton,
    joints_to_features,
    recover_from_ric,
    recover_from_rot,
    recover_root_rot_pos,
    target_offsets,
)
from motion.kinematics import fk_axis_angle
from motion.layout import FACE_DIM, MotionLayout
from motion.rotation import qinv, qrot


@pytest.fixture(scope="module")
def beat2_features(beat2):
    joints = fk_axis_angle(beat2["poses"], beat2["trans"])
    return joints, joints_to_features(joints)


def test_shapes_and_rows(beat2_features):
    joints, mf = beat2_features
    assert mf.features.shape == (len(joints) - 1, 623) and mf.features.dtype == np.float32
    assert mf.positions.shape == joints.shape
    assert np.isfinite(mf.features).all()


def test_recover_from_ric_returns_canonical_joints_within_1mm(beat2_features):
    _, mf = beat2_features
    rec = recover_from_ric(mf.features)
    assert np.linalg.norm(rec - mf.positions[:-1], axis=-1).mean() < 1e-3


def test_canonical_joints_are_on_the_floor_at_origin_facing_z(beat2_features):
    _, mf = beat2_features
    p = mf.positions
    assert p[..., 1].min() == pytest.approx(0.0, abs=1e-6)
    np.testing.assert_allclose(p[0, 0, [0, 2]], 0.0, atol=1e-6)
    across = (p[0, 2] - p[0, 1]) + (p[0, 17] - p[0, 16])  # right minus left
    forward = np.cross([0, 1, 0], across)
    assert forward[2] / np.linalg.norm(forward) > 0.999


def test_rot6d_fk_reproduces_ric_joints_within_1cm(beat2_features):
    _, mf = beat2_features
    by_rot = recover_from_rot(mf.features)
    by_ric = recover_from_ric(mf.features)
    assert np.linalg.norm(by_rot - by_ric, axis=-1).max() < 0.01


def test_velocity_block_is_finite_difference_of_canonical_joints(beat2_features):
    _, mf = beat2_features
    vel = MotionLayout().split(mf.features)["vel"].reshape(-1, 52, 3)
    heading, _ = recover_root_rot_pos(torch.from_numpy(mf.features))
    world = qrot(qinv(heading.numpy())[:, None], vel)  # back from the heading frame
    np.testing.assert_allclose(world, mf.positions[1:] - mf.positions[:-1], atol=1e-5)


def test_foot_contacts_follow_the_threshold(beat2_features):
    _, mf = beat2_features
    p = mf.positions
    contacts = MotionLayout().split(mf.features)["contacts"]
    disp = ((p[1:, [7, 10, 8, 11]] - p[:-1, [7, 10, 8, 11]]) ** 2).sum(-1)
    np.testing.assert_array_equal(contacts, (disp < 0.002).astype(np.float32))


def test_face_round_trip_through_723(beat2_features, beat2):
    _, mf = beat2_features
    face = beat2["expressions"][:-1].astype(np.float32)
    layout = MotionLayout(face_dim=FACE_DIM)
    x723 = layout.from_flat(mf.features, face)
    back, back_face = layout.to_flat(x723)
    assert (back == mf.features).all() and (back_face == face).all()
    np.testing.assert_array_equal(recover_from_ric(x723), recover_from_ric(mf.features))


def test_retargeting_sets_canonical_bone_lengths(beat2_features):
    _, mf = beat2_features
    skel = FeatureSkeleton(52)
    tgt = target_offsets("default")
    lengths = np.linalg.norm(mf.positions[:, 1:] - mf.positions[:, skel.parents[1:]], axis=-1)
    np.testing.assert_allclose(lengths, np.broadcast_to(np.linalg.norm(tgt[1:], axis=-1), lengths.shape), atol=1e-5)


def test_first_frame_target_keeps_the_clip_skeleton():
    motion = synthesize_dance(60, seed=3)
    joints = fk_axis_angle(motion.poses, motion.trans) * 0.9  # a smaller performer
    mf = joints_to_features(joints, target_offsets("first_frame", joints))
    skel = FeatureSkeleton(52)
    src = np.linalg.norm(joints[:, 1:] - joints[:, skel.parents[1:]], axis=-1)
    out = np.linalg.norm(mf.positions[:, 1:] - mf.positions[:, skel.parents[1:]], axis=-1)
    np.testing.assert_allclose(out, src, atol=1e-5)


def test_reference_quirks_identity_first_root_and_hip_order():
    motion = synthesize_dance(90, seed=4)
    joints = fk_axis_angle(motion.poses, motion.trans)
    skel = FeatureSkeleton(52)
    quat = skel.inverse_kinematics(joints, smooth_forward=True)
    np.testing.assert_array_equal(quat[0, 0], [1, 0, 0, 0])  # identity first root
    # the IK's facing uses (left hip - right hip) + (right - left shoulder): recompute it by hand
    p = joints
    across = (p[:, 1] - p[:, 2]) + (p[:, 17] - p[:, 16])
    fwd = np.cross([0, 1, 0], across)
    fwd = fwd / np.linalg.norm(fwd, axis=-1, keepdims=True)
    unsmoothed = skel.root_rotation(joints, smooth_forward=False)
    turned = qrot(unsmoothed[1:], fwd[1:].astype(np.float32))
    np.testing.assert_allclose(turned, np.broadcast_to([0, 0, 1], turned.shape), atol=1e-5)
    # and the conventional order would have given other headings on this twisting motion
    across_ok = (p[:, 2] - p[:, 1]) + (p[:, 17] - p[:, 16])
    fwd_ok = np.cross([0, 1, 0], across_ok)
    fwd_ok = fwd_ok / np.linalg.norm(fwd_ok, axis=-1, keepdims=True)
    assert np.degrees(np.arccos(np.clip((fwd * fwd_ok).sum(-1), -1, 1))).max() > 1.0


def test_body_only_22_joint_features():
    motion = synthesize_dance(40, seed=5)
    joints = fk_axis_angle(motion.poses, motion.trans)[:, :22]
    mf = joints_to_features(joints)
    assert mf.features.shape == (39, 263)
    np.testing.assert_allclose(recover_from_ric(mf.features), mf.positions[:-1], atol=1e-5)


def test_recovery_is_differentiable_in_torch():
    motion = synthesize_dance(20, seed=6)
    feats = torch.from_numpy(joints_to_features(fk_axis_angle(motion.poses, motion.trans)).features).requires_grad_()
    (recover_from_ric(feats).sum() + recover_from_rot(feats).sum()).backward()
    assert torch.isfinite(feats.grad).all() and feats.grad.abs().sum() > 0


def test_bad_input_is_rejected():
    with pytest.raises(ValueError, match="joints must be"):
        joints_to_features(np.zeros((1, 52, 3)))
    with pytest.raises(ValueError, match="22 or 52 joints"):
        joints_to_features(np.zeros((5, 24, 3)))
