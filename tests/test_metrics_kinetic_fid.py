"""Kinetic features, FID and diversity against the reference code's loops written out literally (both variants of
the acceleration term), plus known answers."""

import numpy as np
import pytest

from evaluation.metrics.fid import diversity, frechet_distance, normalize_by_gt
from evaluation.metrics.kinetic import kinetic_features
from tests.conftest import realdata


def _avg_velocity(p, i, joint, w, ft, axes):
    total, count = np.zeros(3), 0
    for j in range(-w, w + 1):
        if i + j - 1 < 0 or i + j >= len(p):
            continue
        total += p[i + j][joint] - p[i + j - 1][joint]
        count += 1
    return np.linalg.norm(total[axes] / (count * ft))


def _avg_acceleration(p, i, joint, w, ft, bug):
    total, count = np.zeros(3), 0
    for j in range(-w, w + 1):
        if i + j - 1 < 0 or i + j + 1 >= len(p):
            continue
        v2 = (p[i + j + 1][joint] - p[i + j][joint]) / ft
        v1 = p[i + j][joint] - p[i + j - 1][joint] / ft if bug else (p[i + j][joint] - p[i + j - 1][joint]) / ft
        total += (v2 - v1) / ft
        count += 1
    return np.linalg.norm(total / count)


def reference_kinetic(p, ft=1 / 60, up="y", w=2, bug=False):
    """The AIST++ API / Bailando `extract_kinetic_features` loops, transcribed (up_vec y or z)."""
    horizontal, vertical = ([0, 2], [1]) if up == "y" else ([0, 1], [2])
    out = []
    for joint in range(p.shape[1]):
        ke_h = sum(_avg_velocity(p, i, joint, w, ft, horizontal) ** 2 for i in range(1, len(p))) / (len(p) - 1.0)
        ke_v = sum(_avg_velocity(p, i, joint, w, ft, vertical) ** 2 for i in range(1, len(p))) / (len(p) - 1.0)
        energy = sum(_avg_acceleration(p, i, joint, w, ft, bug) for i in range(1, len(p))) / (len(p) - 1.0)
        out.extend([ke_h, ke_v, energy])
    return np.array(out, dtype=np.float32)


@pytest.mark.parametrize("bug", [False, True])
@pytest.mark.parametrize("up", ["y", "z"])
def test_kinetic_features_equal_the_reference_loops(bug, up):
    p = np.cumsum(np.random.default_rng(0).normal(scale=0.01, size=(40, 5, 3)), axis=0) + np.array([0.1, 0.9, 0.2])
    np.testing.assert_allclose(
        kinetic_features(p, up_axis=up, acceleration_bug=bug), reference_kinetic(p, up=up, bug=bug), rtol=2e-6
    )


def test_kinetic_features_on_a_real_aistpp_slice():
    p = np.loadtxt(realdata("aistpp_edge/true_gKR_sBM_cAll_d30_mKR2_ch02_slice6.csv"), delimiter=",")
    p = p.reshape(150, 24, 3)[:60]  # Z-up, as EDGE stores it
    for bug in (False, True):
        ours = kinetic_features(p, frame_time=1 / 30, up_axis="z", acceleration_bug=bug)
        np.testing.assert_allclose(ours, reference_kinetic(p, ft=1 / 30, up="z", bug=bug), rtol=2e-6)
        assert ours.shape == (72,) and np.isfinite(ours).all()


def test_still_pose_known_answers():
    still = np.tile(np.array([[0.0, 1.0, 0.0], [0.2, 0.5, 0.1]]), (30, 1, 1))
    np.testing.assert_array_equal(kinetic_features(still), np.zeros(6, np.float32))
    buggy = kinetic_features(still, acceleration_bug=True).reshape(2, 3)
    assert (buggy[:, :2] == 0).all() and (buggy[:, 2] > 0).all()  # the bug: energy from position alone
    ratio = kinetic_features(2 * still, acceleration_bug=True)[2::3] / buggy[:, 2]
    np.testing.assert_allclose(ratio, 2.0, rtol=1e-6)  # ... proportional to the position


def test_frechet_distance_and_diversity():
    rng = np.random.default_rng(1)
    a = rng.normal(size=(300, 8))
    assert abs(frechet_distance(a, a)) < 1e-6
    shifted = frechet_distance(a + 2.0, a)
    assert abs(shifted - 8 * 4.0) < 1e-6  # only the means differ: |mu1 - mu2|^2 = 8 * 2^2
    pts = np.array([[0.0, 0.0], [3.0, 4.0], [0.0, 8.0]])
    assert diversity(pts) == pytest.approx((5 + 8 + 5) / 3)
    gt, pred = normalize_by_gt(a, a[:10] * 3)
    np.testing.assert_allclose(gt.mean(0), 0, atol=1e-12)
    np.testing.assert_allclose(pred, (a[:10] * 3 - a.mean(0)) / (a.std(0) + 1e-10))


def test_constant_gt_dimensions_dominate_published_fid_and_are_left_out_under_fixed():
    rng = np.random.default_rng(2)
    gt, pred = rng.normal(size=(40, 6)), rng.normal(size=(40, 6)) + 0.3
    gt[:, 2], pred[:, 2] = 1.0, 1.01  # a predicate the GT never changes; the predictions differ by a hair
    published = frechet_distance(*normalize_by_gt(gt, pred)[::-1])
    assert published > 1e10  # (0.01 / 1e-10)^2: the quirk the published protocols keep
    g, p = normalize_by_gt(gt, pred, drop_constant=True)
    assert g.shape == p.shape == (40, 5)
    rest = np.delete(np.arange(6), 2)
    assert frechet_distance(p, g) == pytest.approx(frechet_distance(*normalize_by_gt(gt[:, rest], pred[:, rest])[::-1]))
