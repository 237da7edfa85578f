"""The synthetic music-dance generator: tempo and phase ranges, styles, sections, beat-aligned motion, files."""

import json

import numpy as np
import pytest
import soundfile as sf

from data.formats import load_motion
from data.synthetic_dance import STYLES, TEMPO_RANGE, build_dataset, dance_for, plan_song, render_music
from motion.kinematics import fk_axis_angle


def joint_speed(motion) -> np.ndarray:
    """Mean joint speed (m/frame) at every frame (central differences). -> (T,)"""
    j = fk_axis_angle(motion.poses, motion.trans)
    v = np.linalg.norm(np.diff(j, axis=0), axis=-1).mean(1)
    return np.concatenate([[v[0]], (v[:-1] + v[1:]) / 2, [v[-1]]])


def test_plans_draw_tempo_phase_and_order():
    plans = [plan_song(s, 10.0) for s in range(60)]
    bpms = np.array([p.bpm for p in plans])
    assert TEMPO_RANGE[0] <= bpms.min() and bpms.max() <= TEMPO_RANGE[1] and bpms.std() > 10
    assert all(0 <= p.phase < p.beat_period for p in plans)
    assert {p.style for p in plans} == set(STYLES) and len(STYLES) >= 4
    p = plan_song(3, 10.0)
    np.testing.assert_allclose(np.diff(p.beat_times()), 60 / p.bpm)


@pytest.mark.parametrize("style", sorted(STYLES))
def test_motion_stops_on_every_beat_and_peaks_between(style):
    plan = plan_song(11, 12.0, style=style)
    motion = dance_for(plan)
    assert motion.poses.shape == (360, 165) and motion.expressions.shape == (360, 100) and motion.has_face
    speed = joint_speed(motion)
    minima = np.flatnonzero((speed[1:-1] <= speed[:-2]) & (speed[1:-1] <= speed[2:])) + 1
    beats = plan.beat_times() * 30
    inner = beats[(beats > 1) & (beats < len(speed) - 2)]
    dist = np.abs(minima[None, :] - inner[:, None]).min(1)
    assert (dist <= 2).mean() >= 0.9  # what the issue asks of generated pairs
    assert (dist <= 1).mean() >= 0.99  # what the generator is built for: a minimum within 1 frame of each beat
    for a, b in zip(inner[:-1], inner[1:], strict=True):  # fastest in the middle half of every beat
        seg = speed[int(np.ceil(a)) : int(b) + 1]
        peak = int(np.ceil(a)) + seg.argmax()
        assert a + 0.2 * (b - a) <= peak <= b - 0.2 * (b - a)


def test_styles_differ_in_sound_and_moves():
    centroid, arm_height = {}, {}
    for style in STYLES:
        plan = plan_song(5, 8.0, style=style, bpm=120, phase=0.1)
        y = render_music(plan)
        spec = np.abs(np.fft.rfft(y))
        freqs = np.fft.rfftfreq(len(y), 1 / 22050)
        centroid[style] = (spec * freqs).sum() / spec.sum()
        j = fk_axis_angle(dance_for(plan).poses, dance_for(plan).trans)
        arm_height[style] = (j[:, 20:22, 1] - j[:, 0:1, 1]).mean()  # wrists relative to the pelvis
    assert len({round(c, -1) for c in centroid.values()}) == len(STYLES)  # four different timbres
    assert np.ptp(list(arm_height.values())) > 0.05  # different move vocabularies


def test_sections_repeat_their_motif():
    plan = plan_song(2, 40.0, style="hiphop", bpm=120, phase=0.0)
    plan.motif_order = "ABAC"
    motion = dance_for(plan)
    per = 8 * 15  # frames per 8-beat section at 120 BPM, 30 fps
    body = motion.poses[:, 3:]  # everything but the root orientation
    last = per - 15  # the last beat blends into the next section's first key pose (B vs C)
    np.testing.assert_allclose(body[0:last], body[2 * per : 2 * per + last], atol=1e-6)  # A == A
    assert np.abs(body[0:per] - body[per : 2 * per]).max() > 0.1  # A != B
    sections = plan.ground_truth()["sections"]
    assert [s["motif"] for s in sections[:5]] == list("ABACA") and sections[1]["start_s"] == pytest.approx(4.0)
    late = plan_song(2, 10.0, style="pop", bpm=100, phase=0.3).ground_truth()["sections"]
    assert late[0]["start_beat"] == -8 and late[0]["start_s"] == 0 and late[1]["start_s"] == pytest.approx(0.3)


def test_build_dataset_writes_pairs_with_ground_truth(tmp_path):
    pairs = build_dataset(tmp_path, songs=4, seconds=4.0, seed=9)
    assert len(pairs) == 4
    styles = set()
    for paths in pairs:
        meta = json.loads(paths["meta"].read_text())
        styles.add(meta["style"])
        y, sr = sf.read(paths["music"])
        assert sr == meta["sr"] and abs(len(y) / sr - 4.0) < 1e-3 and np.abs(y).max() <= 0.9 + 1e-4  # 16-bit wav
        m = load_motion(paths["motion"])
        assert m.joints.shape == (120, 52, 3) and m.face is not None
        beats = np.array(meta["beat_times_s"])
        np.testing.assert_allclose(beats, meta["phase"] + np.arange(len(beats)) * 60 / meta["bpm"], atol=1e-5)
        assert {"bpm", "phase", "style", "sections", "motif_order"} <= set(meta)
    assert styles == set(STYLES)
    again = build_dataset(tmp_path / "again", songs=1, seconds=4.0, seed=9)[0]
    assert again["music"].read_bytes() == pairs[0]["music"].read_bytes()  # seeded


def test_cli_writes_a_small_dataset(tmp_path, capsys):
    from data.synthetic_dance import main

    pairs = main(["--out", str(tmp_path), "--songs", "2", "--seconds", "3", "--seed", "4"])
    assert len(pairs) == 2 and all(p["motion"].is_file() and p["music"].is_file() for p in pairs)
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0 and "--songs" in capsys.readouterr().out
    for bad in (["--seconds", "0"], ["--seed", "-1"], ["--songs", "0"]):
        with pytest.raises(SystemExit) as exc:
            main(["--out", str(tmp_path), *bad])
        err = capsys.readouterr().err.strip().splitlines()  # argparse's usage, then one error line
        assert exc.value.code == 2 and f"error: argument {bad[0]}: {bad[1]}" in err[-1], err
