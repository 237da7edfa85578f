"""Generation's pieces without trained models: music rows per output frame, root re-centring, the exported files,
the continuity statistics and the sampling options."""

import inspect

import numpy as np
import pytest
import soundfile as sf

from data.formats import motion_to_joints
from data.synthetic_dance import synthesize_dance
from evaluation.metrics.continuity import border_frames, continuity_report, joint_speed
from export.dance import export_dance, rigid_dance
from generator.dances import GenerationOptions
from generator.music_input import fit_frames, music_frames, slices_to_frames
from models.mask_transformer.sampling import generate
from motion.bvh import read_bvh
from motion.features import joints_to_features, recentre_root, recover_from_ric
from motion.kinematics import forward_kinematics
from motion.layout import FACE_DIM, ROOT_LIN_VEL, MotionLayout
from motion.rotation import axis_angle_to_matrix
from motion.skeleton import JOINT_NAMES, PARENTS, SMPLX_JOINT_INDICES, default_skeleton
from utils.cli import UserError


@pytest.fixture(scope="module")
def dance_features() -> np.ndarray:
    """(360, 723) features of a 12 s synthetic dance that walks 3 m sideways."""
    motion = synthesize_dance(361, seed=3)
    joints = motion_to_joints(motion, None)
    joints[..., 0] += np.linspace(0, 3, len(joints))[:, None]
    flat = joints_to_features(joints).features
    return MotionLayout(52, FACE_DIM).from_flat(flat, motion.expressions[:-1]).astype(np.float32)


def test_per_slice_rows_come_from_the_slice_that_holds_each_frame():
    # slice k starts at frame 15 k; give every row its song frame number
    # (song frame, slice) of every row: which slice a frame is taken from is visible
    n, length = 12, 150
    frame = np.arange(n)[:, None] * 15 + np.arange(length)[None]  # (n, 150)
    slices = np.stack([frame, np.repeat(np.arange(n)[:, None], length, 1)], -1).astype(np.float32)  # (n, 150, 2)
    frames = 15 * (n - 1) + length  # the last slice ends here
    out = slices_to_frames(slices, frames)
    assert out.shape == (frames, 2) and np.array_equal(out[:, 0], np.arange(frames))
    # slices on the 5 s grid (0, 10), the last one (11) for the tail after frame 300
    assert np.array_equal(out[:, 1], np.repeat([0, 10, 11], [150, 150, frames - 300]))
    longer = slices_to_frames(slices, frames + 20)  # past the last slice: its last row
    assert np.array_equal(longer[frames:, 0], np.full(20, frames - 1))
    # a dataset built with another stride (1 s slices of 4 s): the grid follows it
    frame = np.arange(6)[:, None] * 30 + np.arange(120)[None]
    other = slices_to_frames(frame[..., None].astype(np.float32), 270, stride=30)
    assert np.array_equal(other[:, 0], np.arange(270))
    full = np.arange(10, dtype=np.float32)[:, None]
    assert np.array_equal(fit_frames(full, 4)[:, 0], [0, 1, 2, 3])
    assert np.array_equal(fit_frames(full, 12)[:, 0], [*range(10), 9, 9])


def test_music_shorter_than_a_second_or_silent_is_refused(tmp_path):
    sr = 16000
    sf.write(tmp_path / "ok.wav", 0.3 * np.sin(np.arange(int(1.5 * sr)) * 0.05), sr)
    assert music_frames(tmp_path / "ok.wav") == 45
    sf.write(tmp_path / "short.wav", 0.3 * np.sin(np.arange(sr // 2) * 0.05), sr)
    with pytest.raises(UserError, match="0.50 s of music"):
        music_frames(tmp_path / "short.wav")
    sf.write(tmp_path / "silent.wav", np.zeros(3 * sr), sr)
    with pytest.raises(UserError, match="silent"):
        music_frames(tmp_path / "silent.wav")


def test_recentring_removes_the_drift_and_keeps_the_dance(dance_features):
    before = recover_from_ric(dance_features.astype(np.float64))
    after = recover_from_ric(recentre_root(dance_features, window=90).astype(np.float64))
    assert np.linalg.norm(before[-1, 0, [0, 2]] - before[0, 0, [0, 2]]) > 2.9
    assert np.linalg.norm(after[-1, 0, [0, 2]] - after[0, 0, [0, 2]]) < 0.3
    # the body relative to its root, heights and turns are untouched
    assert np.allclose(after - after[:, :1], before - before[:, :1], atol=1e-5)
    layout = MotionLayout(52, FACE_DIM)
    before_parts, after_parts = layout.split(dance_features), layout.split(recentre_root(dance_features, window=90))
    for name, block in before_parts.items():  # only the root's ground velocity changes
        keep = np.delete(block, ROOT_LIN_VEL, axis=1) if name == "root" else block
        kept = np.delete(after_parts[name], ROOT_LIN_VEL, axis=1) if name == "root" else after_parts[name]
        assert np.array_equal(keep, kept), name


def test_exported_files_describe_one_rigid_dance(dance_features, tmp_path):
    layout = MotionLayout(52, FACE_DIM)
    parts = layout.split(dance_features)
    parts["ric"] = parts["ric"] + np.random.default_rng(0).normal(0, 0.01, parts["ric"].shape)  # bones vary
    noisy = layout.merge(parts).astype(np.float32)
    dance = rigid_dance(noisy)
    paths = export_dance(dance, tmp_path, "d", formats=("npz", "bvh"))
    assert set(paths) == {"npz", "bvh"}
    with np.load(paths["npz"]) as f:
        joints, poses, trans = f["joints"], f["poses"], f["trans"]
        assert joints.shape == (360, 52, 3) and poses.shape == (360, 165) and f["expressions"].shape == (360, 100)
        assert f["features"].shape == (360, 723) and int(f["mocap_frame_rate"]) == 30
        assert np.allclose(f["expressions"], parts["face"])
    bones = np.linalg.norm(joints[:, 1:] - joints[:, PARENTS[1:]], axis=-1)
    assert bones.std(axis=0).max() < 1e-5  # rigid: one length per bone
    assert np.abs(joints - recover_from_ric(noisy.astype(np.float64))).mean() < 0.02  # still the generated dance
    # poses/trans re-pose the dance's skeleton: FK gives the joints back
    local = axis_angle_to_matrix(poses.reshape(360, 55, 3)[:, SMPLX_JOINT_INDICES].astype(np.float64))
    fk, _ = forward_kinematics(local, trans + dance.skeleton.rest_joints[0], dance.skeleton)
    assert np.abs(fk - joints).max() < 1e-4
    bvh = read_bvh(paths["bvh"])
    assert np.abs(bvh.positions[:, bvh.index(JOINT_NAMES)] - joints).max() < 5e-5


def test_continuity_sees_a_seam_and_passes_a_smooth_dance():
    # a skeleton circling at 1.05 m/s, every joint also swaying at its own phase
    t = np.arange(360)[:, None] / 30.0
    phase = np.random.default_rng(1).uniform(0, 2 * np.pi, 52)
    joints = np.repeat(default_skeleton().rest_joints[None], 360, axis=0)
    joints[..., 0] += 0.5 * np.cos(2.1 * t) + 0.05 * np.sin(6 * t + phase)
    joints[..., 2] += 0.5 * np.sin(2.1 * t)
    starts = [0, 29, 58, 63]  # the last window ends at the song's end: its fresh tokens start at 58 + 37
    borders = border_frames(starts, 37)
    assert list(borders) == [4 * t for t in (29, 37, 58, 63, 66, 95)]
    ref = joint_speed(joints).mean()
    smooth = continuity_report(joints, borders, ref)
    assert smooth["speed_inside_p5"] <= smooth["speed_border_mean"] <= smooth["speed_inside_p95"]
    assert smooth["speed_border_p95"] <= smooth["speed_inside_p99"]
    assert abs(smooth["mean_speed_ratio"] - 1) < 1e-9 and smooth["root_max_m"] == pytest.approx(1.0, abs=0.1)
    seamed = joints.copy()
    for b in borders:  # each window starts 20 cm off
        seamed[b:] += np.array([0.2, 0.0, 0.0])
    bad = continuity_report(seamed, borders, ref)
    assert bad["speed_border_p95"] > bad["speed_inside_p99"]
    still = np.repeat(joints[:1], len(joints), axis=0)
    assert continuity_report(still, borders, ref)["min_stretch_ratio"] == 0


def test_sampling_options_are_the_generate_arguments():
    options = GenerationOptions().sampling()
    params = inspect.signature(generate).parameters
    assert set(options) <= set(params)
    assert (options["time_steps"], options["cond_scale"], options["res_cond_scale"], options["res_temperature"]) == (
        28,
        4.0,
        5.0,
        0.8,
    )
