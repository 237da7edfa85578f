"""Beat Align Score: both published definitions against their reference loops, and known answers."""

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter
from scipy.signal import argrelextrema

from evaluation.metrics.beat_align import bas_bailando, bas_fact, motion_beats_bailando, motion_beats_fact
from tests.conftest import realdata


def reference_bailando(joints, music_beats):
    """Bailando's calc_db + BA, transcribed."""
    kinetic_vel = np.mean(np.sqrt(np.sum((joints[1:] - joints[:-1]) ** 2, axis=2)), axis=1)
    motion_beats = argrelextrema(gaussian_filter(kinetic_vel, 5), np.less)
    ba = 0
    for bb in music_beats:
        ba += np.exp(-np.min((motion_beats[0] - bb) ** 2) / 2 / 9)
    return ba / len(music_beats)


def reference_fact(joints, music_onehot, order=10, sigma=3):
    """mint's motion_peak_onehot + alignment_score, transcribed."""
    velocity = np.zeros_like(joints, dtype=np.float32)
    velocity[1:] = joints[1:] - joints[:-1]
    envelope = np.sum(np.linalg.norm(velocity, axis=2), axis=1)
    motion_onehot = np.zeros_like(envelope, dtype=bool)
    motion_onehot[argrelextrema(envelope, np.less, axis=0, order=order)] = 1
    if motion_onehot.sum() == 0:
        return 0.0
    music_idx, scores = np.where(music_onehot)[0], []
    for m in np.where(motion_onehot)[0]:
        dists = np.abs(music_idx - m).astype(np.float32)
        scores.append(np.exp(-(dists[np.argmin(dists)] ** 2) / 2 / sigma**2))
    return sum(scores) / len(scores)


@pytest.fixture(scope="module")
def real_joints():
    p = np.loadtxt(realdata("aistpp_edge/true_gLH_sBM_cAll_d18_mLH4_ch02_slice1.csv"), delimiter=",")
    return p.reshape(150, 24, 3)


def test_both_definitions_equal_their_references(real_joints):
    music = np.arange(3, 150, 15)  # a 120 BPM grid at 30 fps
    onehot = np.zeros(150, bool)
    onehot[music] = True
    ours_b = bas_bailando(music, motion_beats_bailando(real_joints))
    assert ours_b == pytest.approx(reference_bailando(real_joints, music), rel=1e-12)
    for order in (5, 10):
        ours_f = bas_fact(music, motion_beats_fact(real_joints, order=order))
        assert ours_f == pytest.approx(reference_fact(real_joints, onehot, order=order), rel=1e-6)
    assert 0 < ours_b < 1 and 0 < ours_f < 1


def test_known_answers():
    beats = np.array([10, 40, 70, 100])
    assert bas_bailando(beats, beats) == 1.0 and bas_fact(beats, beats) == 1.0
    shifted = beats + 2  # every beat 2 frames late: exp(-4 / 18)
    assert bas_bailando(beats, shifted) == pytest.approx(np.exp(-4 / 18))
    assert bas_fact(beats, shifted) == pytest.approx(np.exp(-4 / 18), rel=1e-6)
    extra = np.sort(np.concatenate([beats, beats + 15]))  # extra motion beats between music beats
    assert bas_bailando(beats, extra) == 1.0 and bas_fact(beats, extra) < 0.6  # averaged over music vs motion beats
    assert bas_fact(beats, np.array([], int)) == 0.0
