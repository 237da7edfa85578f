"""Geometric features against the AIST++ API's per-frame loop (fixed version) written out literally."""

import numpy as np
import pytest

from evaluation.metrics.geometric import HL, HW, PREDICATES, SMPL_JOINT_NAMES, SW, geometric_features
from tests.conftest import realdata

TPF = 1 / 120


def _fetch(p, f, name):
    special = {"y_unit": [0, 1, 0], "minus_y_unit": [0, -1, 0], "zero": [0, 0, 0]}
    if name in special:
        return np.array(special[name], dtype=float)
    if name == "y_min":
        return np.array([0, min(y for (_, y, _) in p[f]), 0])
    return p[f][SMPL_JOINT_NAMES.index(name)]


def _prev(p, f, name):
    return p[f - 1][SMPL_JOINT_NAMES.index(name)]


def reference_frame(p, f, kind, names, arg):
    """One predicate at frame f, as `ManualFeatures` + `features/utils.py` compute it."""
    cur = [_fetch(p, f, n) for n in names]
    if kind == "move":
        j1, j2, j3 = cur[0], cur[1], cur[2]
        j1p, j3p = _prev(p, f, names[0]), _prev(p, f, names[2])
        v = j3 - j1 - (j3p - j1p)
        d = j2 - j1
        return np.dot(v, d) / np.linalg.norm(d) / TPF > arg
    if kind == "nmove":
        j1, j2, j3, j4 = cur
        j1p, j4p = _prev(p, f, names[0]), _prev(p, f, names[3])
        v = j4 - j1 - (j4p - j1p)
        d = np.cross(j3 - j1, j2 - j1)
        return np.dot(v, d) / np.linalg.norm(d) / TPF > arg
    if kind == "plane":
        a, b, c, q = cur
        cross = np.cross(c - a, b - a)
        return np.dot(cross, q - a) / np.linalg.norm(cross) > arg
    if kind == "nplane":
        n1, n2, a, q = cur
        normal = n2 - n1
        return np.dot(normal, q - a) / np.linalg.norm(normal) > arg
    if kind == "angle":
        j = cur[1] - cur[0]
        k = cur[3] - cur[2]
        angle = np.degrees(np.arccos(np.dot(j, k) / (np.linalg.norm(j) * np.linalg.norm(k))))
        return arg[0] < angle < arg[1]
    return np.linalg.norm(cur[0] - _prev(p, f, names[0])) / TPF > arg  # fast


def reference_geometric(p):
    rows = [[reference_frame(p, f, *pred) for pred in PREDICATES] for f in range(1, len(p))]
    return np.array(rows, dtype=np.float32).mean(axis=0)


def z_to_y_up(p):
    return p[..., [0, 2, 1]] * np.array([1.0, 1.0, -1.0])


@pytest.mark.parametrize(
    "name",
    [
        "true_gBR_sBM_cAll_d04_mBR0_ch02_slice0",
        "true_gLH_sBM_cAll_d18_mLH4_ch02_slice1",
        "true_gKR_sBM_cAll_d30_mKR2_ch02_slice6",
    ],
)
def test_geometric_features_equal_the_reference_on_real_aistpp(name):
    p = z_to_y_up(np.loadtxt(realdata(f"aistpp_edge/{name}.csv"), delimiter=",").reshape(150, 24, 3))
    ours = geometric_features(p)
    np.testing.assert_array_equal(ours, reference_geometric(p))
    assert ours.shape == (32,) and 0 < ours.mean() < 1  # a real dance switches some predicates on and off


def test_geometric_constants_and_count():
    assert len(PREDICATES) == 32
    lsh, lel = (
        np.array([1.99113488e-01, 2.36807942e-01, -1.80702247e-02]),
        np.array([4.54445392e-01, 2.21158922e-01, -4.10167128e-02]),
    )
    rsh = np.array([-1.91692337e-01, 2.36928746e-01, -1.23055102e-02])
    lhip, rhip = (
        np.array([5.64076714e-02, -3.23069185e-01, 1.09197125e-02]),
        np.array([-6.24834076e-02, -3.31302464e-01, 1.50412619e-02]),
    )
    assert (HL, SW, HW) == (np.linalg.norm(lsh - lel), np.linalg.norm(lsh - rsh), np.linalg.norm(lhip - rhip))
    assert HL == pytest.approx(0.2568, abs=1e-4)  # humerus length of the SMPL template


def test_geometric_features_of_z_up_input():
    p = z_to_y_up(
        np.loadtxt(realdata("aistpp_edge/true_gKR_sBM_cAll_d30_mKR2_ch02_slice6.csv"), delimiter=",").reshape(
            150, 24, 3
        )
    )
    z_up = p[..., [0, 2, 1]] * np.array([1.0, -1.0, 1.0])  # the same motion stored Z-up
    np.testing.assert_array_equal(geometric_features(z_up, up_axis="z"), geometric_features(p))
    assert not np.array_equal(geometric_features(z_up), geometric_features(p))  # the reference's Y-up assumption
    slower = geometric_features(p, time_per_frame=1 / 30)  # true 30 fps speeds: fewer "fast" frames than at 1/120
    assert slower[[12, 13, 21, 22, 31]].sum() <= geometric_features(p)[[12, 13, 21, 22, 31]].sum()
