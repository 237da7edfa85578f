"""PFC against EDGE's calc_physical_score transcribed; foot skating known answers; real AIST++ slices."""

import numpy as np
import pytest

from evaluation.metrics.physics import foot_skating_ratio, pfc, pfc_sequence
from tests.conftest import realdata

NAMES = (
    "true_gBR_sBM_cAll_d04_mBR0_ch02_slice0",
    "true_gLH_sBM_cAll_d18_mLH4_ch02_slice1",
    "true_gKR_sBM_cAll_d30_mKR2_ch02_slice6",
)


def reference_pfc(joint3d):
    """EDGE eval/eval_pfc.py, the per-file term, transcribed (z-up, DT = 1/30)."""
    up_dir, flat_dirs, dt = 2, [0, 1], 1 / 30
    root_v = (joint3d[1:, 0, :] - joint3d[:-1, 0, :]) / dt
    root_a = (root_v[1:] - root_v[:-1]) / dt
    root_a[:, up_dir] = np.maximum(root_a[:, up_dir], 0)
    root_a = np.linalg.norm(root_a, axis=-1)
    root_a /= root_a.max()
    feet = joint3d[:, [7, 10, 8, 11]]
    foot_v = np.linalg.norm(feet[2:, :, flat_dirs] - feet[1:-1, :, flat_dirs], axis=-1)
    foot_mins = np.zeros((len(foot_v), 2))
    foot_mins[:, 0] = np.minimum(foot_v[:, 0], foot_v[:, 1])
    foot_mins[:, 1] = np.minimum(foot_v[:, 2], foot_v[:, 3])
    return (foot_mins[:, 0] * foot_mins[:, 1] * root_a).mean()


def load(name):
    return np.loadtxt(realdata(f"aistpp_edge/{name}.csv"), delimiter=",").reshape(150, 24, 3)


def test_pfc_equals_edge_on_real_aistpp():
    seqs = [load(n) for n in NAMES]
    for s in seqs:
        assert pfc_sequence(s) == pytest.approx(reference_pfc(s), rel=1e-12)
    value = pfc(seqs)
    assert value == pytest.approx(np.mean([reference_pfc(s) for s in seqs]) * 10000, rel=1e-12)
    assert 0 < value < 10  # EDGE reports 1.33 for AIST++ ground truth on its 5 s clips


def test_pfc_known_answers_and_axes():
    still = np.tile(np.random.default_rng(0).normal(size=(1, 24, 3)), (40, 1, 1))
    assert pfc_sequence(still) == 0.0
    s = load(NAMES[0])
    y_up = s[..., [0, 2, 1]] * np.array([1.0, 1.0, -1.0])
    assert pfc_sequence(y_up, up_axis="y") == pytest.approx(pfc_sequence(s, up_axis="z"), rel=1e-12)


@np.errstate(invalid="ignore")
def reference_skating(xp, ground_height=0.0):
    """LODGE's calc_foot_skating_ratio after FK and set_on_ground, transcribed with numpy (y-up)."""
    l_toe_h, r_toe_h = xp[0, 10, 1], xp[0, 11, 1]
    height = (l_toe_h + r_toe_h) / 2 if abs(l_toe_h - r_toe_h) < 0.02 else min(l_toe_h, r_toe_h)
    xp = xp.copy()
    xp[..., 1] -= height - ground_height
    rel = xp[:, [7, 8, 10, 11], :]
    vel = np.zeros_like(rel)
    vel[:-1] = rel[1:] - rel[:-1]
    lmask = (xp[:, 7, 1] <= ground_height + 0.08) & (xp[:, 10, 1] <= ground_height + 0.05)
    rmask = (xp[:, 8, 1] <= ground_height + 0.08) & (xp[:, 11, 1] <= ground_height + 0.05)
    lv = np.concatenate([vel[:, 0:1], vel[:, 2:3]], 1)
    rv = np.concatenate([vel[:, 1:2], vel[:, 3:4]], 1)
    lv[~lmask] = 0
    rv[~rmask] = 0
    lt = np.abs(np.concatenate([lv[:, :, 0:1], lv[:, :, 2:3]], 2).mean(-1)) > 0.01
    rt = np.abs(np.concatenate([rv[:, :, 0:1], rv[:, :, 2:3]], 2).mean(-1)) > 0.01
    return lt.any(-1).sum() / lmask.sum(), rt.any(-1).sum() / rmask.sum()


def test_foot_skating_ratio():
    t = 30
    joints = np.zeros((t, 24, 3))
    joints[:, [7, 8], 1] = 0.07  # ankles just above the ground, toes on it: both feet in contact
    assert foot_skating_ratio(joints) == (0.0, 0.0)  # standing still
    joints[:, [7, 10], 0] = np.arange(t)[:, None] * 0.04  # the left foot slides 4 cm per frame (LODGE averages the
    # two horizontal components, so this counts as 2 cm against its 1 cm threshold)
    left, right = foot_skating_ratio(joints)
    assert left == pytest.approx((t - 1) / t) and right == 0.0  # the last frame has no forward displacement
    for name in NAMES:  # a real dance, Y-up, lifted off the floor: the ground comes from the first frame
        real = load(name)[..., [0, 2, 1]] * np.array([1.0, 1.0, -1.0])
        ours = foot_skating_ratio(real)
        np.testing.assert_allclose(ours, reference_skating(real), rtol=1e-12)
        assert all(np.isnan(r) or 0.0 <= r <= 1.0 for r in ours)  # NaN: that foot never touches the ground


def test_foot_skating_threshold_follows_the_frame_rate():
    t = 60
    joints = np.zeros((t, 24, 3))
    joints[:, [7, 8], 1] = 0.07
    joints[:, [7, 10], 0] = np.arange(t)[:, None] * 0.03  # 3 cm per frame: counts 1.5 cm, above 1 cm per 1/30 s
    assert foot_skating_ratio(joints, fps=30)[0] > 0.9
    assert foot_skating_ratio(joints, fps=60)[0] > 0.9  # 60 fps: 3 cm per 1/60 s is faster still
    assert foot_skating_ratio(joints, fps=15)[0] == 0.0  # 15 fps: 1.5 cm per 1/15 s is under 2 cm per frame
