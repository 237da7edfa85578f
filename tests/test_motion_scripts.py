"""The seed's data-preparation scripts run with no arguments (as the README runs them), on files and folders,
and write files a person can open: joints, 623/723-d features, mp4/gif videos, PNG feature plots."""

import logging
import os
import pickle
import struct
from pathlib import Path

import imageio.v2 as imageio
import imageio_ffmpeg
import numpy as np
import pytest
import soundfile as sf

from data.synthetic_dance import synthesize_dance
from motion.kinematics import fk_axis_angle
from tests.conftest import load_script, streams

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
    hints = {
        "raw_pose_processing": "put the dataset's motion files there",
        "motion_representation": "run raw_pose_processing.py first",
        "plot_3d_global": "run raw_pose_processing.py first",
        "plot_feature": "run motion_representation.py first",
    }
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
    np.savez(
        motion_dir / "a_slice0.npz",
        poses=m.poses,
        trans=m.trans,
        betas=m.betas,
        expressions=m.expressions,
        mocap_frame_rate=30,
    )
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
    argv = [
        "--input",
        str(src),
        "--out_dir",
        str(tmp_path / "j"),
        "--bvh_dir",
        str(tmp_path / "bvh"),
        "--smplx_dir",
        str(tmp_path / "smplx"),
    ]
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
    (gif,) = mods["plot_3d_global"].main(
        ["--input", str(tmp_path / "batch.npy"), "--out", str(tmp_path / "b.gif"), "--side_by_side", "--size", "200"]
    )
    frames = imageio.mimread(gif)
    assert len(frames) == 31 and frames[0].shape[:2] == (200, 400)  # two panels side by side
    sr = 22050
    sf.write(tmp_path / "music.wav", 0.3 * np.sin(2 * np.pi * 440 * np.arange(2 * sr) / sr), sr)
    (vid,) = mods["plot_3d_global"].main(
        [
            "--input",
            str(tmp_path / "batch.npy"),
            "--out",
            str(tmp_path / "a.mp4"),
            "--side_by_side",
            "--audio",
            str(tmp_path / "music.wav"),
        ]
    )
    info = streams(vid)
    assert "Video: h264" in info and "Audio: aac" in info
    n_frames, secs = imageio_ffmpeg.count_frames_and_secs(str(vid))
    assert n_frames == 31 and abs(secs - 31 / 30) < 0.1


def test_plot_feature_of_features_file_and_size(tmp_path, mods):
    f = np.random.default_rng(0).normal(size=(3, 20, 623)).astype(np.float32)
    np.save(tmp_path / "f.npy", f)
    pngs = mods["plot_feature"].main(
        ["--input", str(tmp_path / "f.npy"), "--out", str(tmp_path / "p.png"), "--width", "800", "--height", "640"]
    )
    assert [p.name for p in pngs] == ["p_0.png", "p_1.png", "p_2.png"]
    assert all(png_size(p) == (800, 640) for p in pngs)
    np.save(tmp_path / "body.npy", f[0, :, :263])
    (png,) = mods["plot_feature"].main(["--input", str(tmp_path / "body.npy"), "--out", str(tmp_path / "q.png")])
    assert png_size(png) == (1600, 1200)


# ------------------------------------------------------------------ outputs: never over an input, never twice
@pytest.fixture
def tree(tmp_path):
    """Inputs of every script: motion m/, joints j/, faces f/, features feat/, clashing names dup/ and jdup/, a
    skeleton, a video, and outputs of an earlier run (done/, feat/a.npy, p.png)."""
    m = synthesize_dance(12, seed=7)
    joints = fk_axis_angle(m.poses, m.trans)
    for sub in ("m", "j", "f", "feat", "dup", "jdup", "done"):
        (tmp_path / sub).mkdir()
    np.savez(tmp_path / "m" / "a.npz", poses=m.poses, trans=m.trans, expressions=m.expressions)
    np.save(tmp_path / "j" / "a.npy", joints)
    np.save(tmp_path / "f" / "a.npy", m.expressions)
    np.save(tmp_path / "feat" / "a.npy", np.zeros((11, 623), np.float32))
    np.savez(tmp_path / "dup" / "a.npz", poses=m.poses, trans=m.trans)
    with open(tmp_path / "dup" / "a.pkl", "wb") as f:
        pickle.dump({"q": m.poses, "pos": m.trans}, f)
    np.save(tmp_path / "jdup" / "a.npy", joints)
    np.savez(tmp_path / "jdup" / "a.npz", joints=joints)
    np.save(tmp_path / "skel.npy", joints)
    (tmp_path / "song.mp4").write_bytes(b"not really a video")
    np.save(tmp_path / "done" / "a.npy", joints)
    (tmp_path / "p.png").write_bytes(b"an earlier plot")
    return tmp_path


def snapshot(folder) -> dict:
    return {p: p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# name -> (script, argv with {t} for the folder, what the one line must say)
CATALOGUE_OUTPUTS = {
    "raw_out_dir_is_input": ("raw_pose_processing", "--input {t}/m --out_dir {t}/m", "--out_dir {t}/m is the input"),
    "raw_face_dir_is_input": (
        "raw_pose_processing",
        "--input {t}/m --out_dir {t}/o --face_dir {t}/m",
        "--face_dir {t}/m is the input --input",
    ),
    "raw_bvh_dir_is_input": (
        "raw_pose_processing",
        "--input {t}/m --out_dir {t}/o --bvh_dir {t}/m",
        "--bvh_dir {t}/m is the input",
    ),
    "raw_smplx_dir_is_input": (
        "raw_pose_processing",
        "--input {t}/m --out_dir {t}/o --smplx_dir {t}/m",
        "--smplx_dir {t}/m is the input",
    ),
    "raw_out_dir_inside_input": (
        "raw_pose_processing",
        "--input {t}/m --out_dir {t}/m/joints",
        "lies inside the input --input {t}/m",
    ),
    "raw_single_out_dir_is_file": (
        "raw_pose_processing",
        "--input {t}/m/a.npz --out_dir {t}/m/a.npz",
        "--out_dir {t}/m/a.npz is the input",
    ),
    "raw_face_dir_is_out_dir": (
        "raw_pose_processing",
        "--input {t}/m --out_dir {t}/o --face_dir {t}/o",
        "a.npz (twice) -> {t}/o/a.npy",
    ),
    "raw_same_stem": ("raw_pose_processing", "--input {t}/dup --out_dir {t}/o", "a.npz + a.pkl -> {t}/o/a.npy"),
    "raw_existing_single": (
        "raw_pose_processing",
        "--input {t}/m/a.npz --out_dir {t}/done",
        "{t}/m/a.npz: its output(s) exist already ({t}/done/a.npy); give --overwrite",
    ),
    "repr_out_is_joints_file": (
        "motion_representation",
        "--joints {t}/j/a.npy --out {t}/j/a.npy",
        "--out {t}/j/a.npy is the input --joints",
    ),
    "repr_out_is_joints_dir": ("motion_representation", "--joints {t}/j --out {t}/j", "--out {t}/j is the input"),
    "repr_out_is_face_dir": (
        "motion_representation",
        "--joints {t}/j --face {t}/f --out {t}/f",
        "--out {t}/f is the input --face",
    ),
    "repr_out_is_target_skeleton": (
        "motion_representation",
        "--joints {t}/j --target_skeleton {t}/skel.npy --out {t}/skel.npy",
        "is the input --target_skeleton",
    ),
    "repr_same_stem": ("motion_representation", "--joints {t}/jdup --out {t}/o", "a.npy + a.npz -> {t}/o/a.npy"),
    "repr_existing_single": (
        "motion_representation",
        "--joints {t}/j/a.npy --out {t}/feat/a.npy",
        "exist already ({t}/feat/a.npy); give --overwrite",
    ),
    "plot3d_out_is_input": ("plot_3d_global", "--input {t}/j --out {t}/j", "--out {t}/j is the input --input"),
    "plot3d_out_is_audio": (
        "plot_3d_global",
        "--input {t}/j/a.npy --audio {t}/song.mp4 --out {t}/song.mp4",
        "is the input --audio",
    ),
    "plotfeat_out_is_input": ("plot_feature", "--input {t}/feat --out {t}/feat", "--out {t}/feat is the input"),
    "plotfeat_out_inside_input": ("plot_feature", "--input {t}/feat --out {t}/feat/png", "lies inside the input"),
    "plotfeat_existing_single": (
        "plot_feature",
        "--input {t}/feat/a.npy --out {t}/p.png",
        "exist already ({t}/p.png); give --overwrite",
    ),
}


@pytest.mark.parametrize("case", CATALOGUE_OUTPUTS)
def test_no_command_writes_over_its_inputs(tree, mods, capsys, case):
    """Refused in one line before any work; every file in the folder is byte for byte as it was, none is added."""
    script, argv, message = CATALOGUE_OUTPUTS[case]
    before = snapshot(tree)
    with pytest.raises(SystemExit) as exc:
        mods[script].main(argv.format(t=tree).split())
    err = capsys.readouterr().err
    assert exc.value.code == 2 and err.count("\n") == 1 and err.startswith("error: "), err
    assert message.format(t=tree) in err and "Traceback" not in err
    assert snapshot(tree) == before


def test_existing_outputs_are_kept_and_listed_unless_overwrite(tree, mods, caplog):
    """A second folder run keeps what the first wrote (listed in the log), processes only the new input, and
    `--overwrite` replaces the outputs."""
    argv = ["--input", str(tree / "m"), "--out_dir", str(tree / "o"), "--bvh_dir", str(tree / "bvh")]
    assert [p.name for p in mods["raw_pose_processing"].main(argv)] == ["a.npy"]
    first = snapshot(tree / "o") | snapshot(tree / "bvh")
    m = synthesize_dance(12, seed=8)
    np.savez(tree / "m" / "a.npz", poses=m.poses, trans=m.trans)  # the input changed since
    np.savez(tree / "m" / "b.npz", poses=m.poses, trans=m.trans)  # and a new one came
    with caplog.at_level(logging.INFO):
        outs = mods["raw_pose_processing"].main(argv)
    assert [p.name for p in outs] == ["b.npy"]
    assert all(first[p] == p.read_bytes() for p in first)  # kept as the first run wrote them
    kept = next(r.getMessage() for r in caplog.records if "kept 2 existing output(s)" in r.getMessage())
    assert str(tree / "o" / "a.npy") in kept and str(tree / "bvh" / "a.bvh") in kept and "--overwrite" in kept
    outs = mods["raw_pose_processing"].main([*argv, "--overwrite"])
    assert [p.name for p in outs] == ["a.npy", "b.npy"]
    np.testing.assert_allclose(np.load(tree / "o" / "a.npy"), fk_axis_angle(m.poses, m.trans), atol=1e-6)
    # a plot folder run keeps an earlier PNG the same way
    (tree / "png").mkdir()
    (tree / "png" / "a_features.png").write_bytes(b"earlier")
    assert mods["plot_feature"].main(["--input", str(tree / "feat"), "--out", str(tree / "png")]) == []
    assert (tree / "png" / "a_features.png").read_bytes() == b"earlier"


def test_every_output_is_written_atomically(tree, mods, monkeypatch):
    """Each file the scripts write arrives by one rename of a finished temporary file (utils.atomic)."""
    import utils.atomic

    renamed = []
    real_replace = os.replace

    def replace(src, dst):
        renamed.append(Path(dst))
        real_replace(src, dst)

    monkeypatch.setattr(utils.atomic.os, "replace", replace)  # os.replace, seen from utils.atomic
    mods["raw_pose_processing"].main(
        [
            "--input",
            str(tree / "m"),
            "--out_dir",
            str(tree / "o"),
            "--face_dir",
            str(tree / "of"),
            "--bvh_dir",
            str(tree / "b"),
            "--smplx_dir",
            str(tree / "s"),
        ]
    )
    mods["motion_representation"].main(
        ["--joints", str(tree / "o"), "--face", str(tree / "of"), "--out", str(tree / "r")]
    )
    mods["plot_feature"].main(
        ["--input", str(tree / "r"), "--out", str(tree / "png"), "--width", "320", "--height", "480"]
    )
    written = [p for d in ("o", "of", "b", "s", "r", "png") for p in snapshot(tree / d)]
    assert sorted(written) == sorted(p for p in renamed if tree in p.parents) and len(written) == 6
    assert not [p for p in tree.rglob(".*") if p.is_file()]  # no temporary file left behind


def test_unfinished_temporaries_are_not_inputs(tree, mods, caplog):
    """A temporary file left by a killed writer (`.a.<pid>-<hex>.tmp.npz`) is never read as motion."""
    (tree / "m" / ".b.999999-0123abcd.tmp.npz").write_bytes((tree / "m" / "a.npz").read_bytes()[:100])
    with caplog.at_level(logging.INFO):
        outs = mods["raw_pose_processing"].main(["--input", str(tree / "m"), "--out_dir", str(tree / "o")])
    assert [p.name for p in outs] == ["a.npy"] and "ignoring 1 unfinished temporary file(s)" in caplog.text
