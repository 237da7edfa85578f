"""The seed's data-preparation scripts run with no arguments (as the README runs them), on files and folders,
and write files a person can open: joints, 623/723-d features, mp4/gif videos, PNG feature plots."""

import pickle
import struct

import imageio.v2 as imageio
import imageio_ffmpeg
import numpy as np
import pytest
import soundfile as sf

from data.synthetic_dance import synthesize_dance
from tests.conftest import load_script, streams
from utils.kinematics import fk_axis_angle

SCRIPTS = ("raw_pose_processing", "motion_representation", "plot_3d_global", "plot_feature")


@pytest.fixture(scope="module")
def mods():
    return {name: load_script(name) for name in SCRIPTS}


def png_size(path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def test_without_data_each_script_says_what_to_run_first(tmp_path, monkeypatch, mods, capsys):
    monkeypatch.setenv("DANCE_DATA_DIR", str(tmp_path))
    hints = {"raw_pose_processing": "put the dataset's motion files there", "motion_representation":
             "run raw_pose_processing.py first", "plot_3d_global": "run raw_pose_processing.py first",
             "plot_feature": "run motion_representation.py first"}  # fmt: skip
    for name, mod in mods.items():
        with pytest.raises(SystemExit) as exc:
            mod.main([])
        err = capsys.readouterr().err
        assert exc.value.code == 2 and err.count("\n") == 1 and hints[name] in err, (name, err)


def test_seed_steps_with_no_arguments(tmp_path, monkeypatch, mods):
    """README steps 1-3 from data/<dataset>/motion: a SoulDance-style SMPL-X npz with a face and an EDGE slice."""
    monkeypatch.setenv("DANCE_DATA_DIR", str(tmp_path))
    motion_dir = tmp_path / "souldance" / "motion"
    motion_dir.mkdir(parents=True)
    m = synthesize_dance(46, seed=4)
    np.savez(motion_dir / "a_slice0.npz", poses=m.poses, trans=m.trans, betas=m.betas, expressions=m.expressions,
             mocap_frame_rate=30)  # fmt: skip
    joints = mods["raw_pose_processing"].main([])
    assert [p.name for p in joints] == ["a_slice0.npy"]
    np.testing.assert_allclose(np.load(joints[0]), fk_axis_angle(m.poses, m.trans), atol=1e-6)
    np.testing.assert_array_equal(np.load(tmp_path / "souldance" / "face" / "a_slice0.npy"), m.expressions)

    feats = mods["motion_representation"].main([])
    assert feats == [tmp_path / "souldance" / "motion_723" / "a_slice0.npy"]
    f = np.load(feats[0])
    assert f.shape == (45, 723)
    np.testing.assert_array_equal(f[:, 623:], m.expressions[:-1])

    (png,) = mods["plot_feature"].main([])
    assert png == tmp_path / "souldance" / "plots" / "a_slice0_features.png" and png_size(png) == (1600, 1200)

    (video,) = mods["plot_3d_global"].main([])
    assert video == tmp_path / "souldance" / "plots" / "a_slice0.mp4"
    n_frames, secs = imageio_ffmpeg.count_frames_and_secs(str(video))
    assert n_frames == 46 and abs(secs - 46 / 30) < 0.05 and "Video: h264" in streams(video)


def test_folder_of_mixed_formats_to_joints_bvh_and_smplx(tmp_path, mods):
    src = tmp_path / "in"
    src.mkdir()
    m = synthesize_dance(40, seed=5)
    with open(src / "edge_slice.pkl", "wb") as f:
        pickle.dump({"q": m.poses, "pos": m.trans}, f)  # 60 fps by EDGE's convention
    np.save(src / "fd.npy", np.zeros((40, 315), np.float32) + np.tile([0, 0, 0] + [1, 0, 0, 0, 1, 0] * 52, (40, 1)))
    argv = ["--input", str(src), "--out_dir", str(tmp_path / "j"), "--bvh_dir", str(tmp_path / "bvh"), "--smplx_dir",
            str(tmp_path / "smplx")]  # fmt: skip
    outs = mods["raw_pose_processing"].main(argv)
    assert [p.name for p in outs] == ["edge_slice.npy", "fd.npy"]
    assert np.load(outs[0]).shape == (20, 52, 3) and np.load(outs[1]).shape == (40, 52, 3)
    assert sorted(p.name for p in (tmp_path / "bvh").iterdir()) == ["edge_slice.bvh", "fd.bvh"]
    with np.load(tmp_path / "smplx" / "fd.npz") as z:
        assert z["poses"].shape == (40, 165) and np.abs(z["poses"]).max() < 1e-6  # identity 6-D = zero pose


def test_plot_3d_global_batch_gif_and_audio(tmp_path, mods):
    m = synthesize_dance(31, seed=6)
    batch = np.stack([fk_axis_angle(m.poses, m.trans), fk_axis_angle(m.poses, m.trans + 0.2)])  # (2, T, 52, 3)
    np.save(tmp_path / "batch.npy", batch)
    vids = mods["plot_3d_global"].main(["--input", str(tmp_path / "batch.npy"), "--out", str(tmp_path / "b.mp4")])
    assert [v.name for v in vids] == ["b_0.mp4", "b_1.mp4"]
    (gif,) = mods["plot_3d_global"].main(["--input", str(tmp_path / "batch.npy"), "--out", str(tmp_path / "b.gif"),
                                          "--side_by_side", "--size", "200"])  # fmt: skip
    frames = imageio.mimread(gif)
    assert len(frames) == 31 and frames[0].shape[:2] == (200, 400)  # two panels side by side
    sr = 22050
    sf.write(tmp_path / "music.wav", 0.3 * np.sin(2 * np.pi * 440 * np.arange(2 * sr) / sr), sr)
    (vid,) = mods["plot_3d_global"].main(["--input", str(tmp_path / "batch.npy"), "--out", str(tmp_path / "a.mp4"),
                                          "--side_by_side", "--audio", str(tmp_path / "music.wav")])  # fmt: skip
    info = streams(vid)
    assert "Video: h264" in info and "Audio: aac" in info
    n_frames, secs = imageio_ffmpeg.count_frames_and_secs(str(vid))
    assert n_frames == 31 and abs(secs - 31 / 30) < 0.1


def test_plot_feature_of_features_file_and_size(tmp_path, mods):
    f = np.random.default_rng(0).normal(size=(3, 20, 623)).astype(np.float32)
    np.save(tmp_path / "f.npy", f)
    pngs = mods["plot_feature"].main(["--input", str(tmp_path / "f.npy"), "--out", str(tmp_path / "p.png"),
                                      "--width", "800", "--height", "640"])  # fmt: skip
    assert [p.name for p in pngs] == ["p_0.png", "p_1.png", "p_2.png"]
    assert all(png_size(p) == (800, 640) for p in pngs)
    np.save(tmp_path / "body.npy", f[0, :, :263])
    (png,) = mods["plot_feature"].main(["--input", str(tmp_path / "body.npy"), "--out", str(tmp_path / "q.png")])
    assert png_size(png) == (1600, 1200)
