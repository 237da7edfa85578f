"""MPJPE by part, hand and face features: known answers on real and generated motion."""

import numpy as np
import pytest

from data.formats import load_motion
from data.synthetic_dance import synthesize_dance
from evaluation.metrics.holistic import (
    face_features,
    face_mse,
    fingers_relative_to_wrists,
    hand_kinetic_features,
    mpjpe,
)
from motion.kinematics import fk_axis_angle
from tests.conftest import realdata


def test_mpjpe_by_part():
    gt = np.zeros((10, 52, 3))
    pred = gt.copy()
    pred[:, 22:, 0] = 0.01  # every finger joint 1 cm off
    assert mpjpe(pred, gt, "body") == 0.0 and mpjpe(pred, gt, "hands") == pytest.approx(0.01)
    assert mpjpe(pred, gt) == pytest.approx(0.01 * 30 / 52)


def test_hand_features_ignore_arm_motion():
    m = synthesize_dance(60, seed=1)
    joints = fk_axis_angle(m.poses, m.trans)
    moved = joints + np.linspace(0, 1, 60)[:, None, None] * np.array([1.0, 0.0, 0.5])  # the whole body travels
    np.testing.assert_allclose(hand_kinetic_features(moved), hand_kinetic_features(joints), rtol=1e-5, atol=1e-7)
    assert hand_kinetic_features(joints).shape == (90,)
    rel = fingers_relative_to_wrists(joints)
    np.testing.assert_allclose(rel[:, 0], joints[:, 22] - joints[:, 20])  # left index1 from the left wrist


def test_hand_and_face_features_on_real_beat2():
    m = load_motion(realdata("beat2/2_scott_0_1_1.npz"))
    hands = hand_kinetic_features(m.joints[:300])
    assert np.isfinite(hands).all() and hands.max() > 0  # real fingers move
    face = face_features(m.face[:300])
    assert face.shape == (200,) and (face >= 0).all() and face[:100].max() > 0
    assert face_mse(m.face, m.face) == 0.0
    still = face_features(np.tile(m.face[:1], (50, 1)))
    assert (still == 0).all()
