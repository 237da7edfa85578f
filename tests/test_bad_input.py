"""Bad motion input: one line naming the file (exit 2) for a single file; skipped, continued and listed in a folder."""

import logging
import pickle
import subprocess
import sys

import numpy as np
import pytest

from data.synthetic_dance import synthesize_dance
from tests.conftest import MOTION_SCRIPTS, load_script
from utils.bvh import write_bvh
from utils.kinematics import fk_axis_angle

GOOD = synthesize_dance(12, seed=2)


def _npz(path, **arrays):
    np.savez(path, **arrays)


def _pkl(path, obj):
    with open(path, "wb") as f:
        pickle.dump(obj, f)


def _cut(path, writer):
    """A valid file of this kind, cut in half (a truncated download)."""
    writer(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


P, T = GOOD.poses, GOOD.trans
# name -> (file name, writer, expected message)
BAD_CASES = {
    "missing_key": ("missing.npz", lambda p: _npz(p, poses=P), "missing key 'trans'"),
    "unknown_layout": ("unknown.npz", lambda p: _npz(p, foo=np.zeros((12, 7)), bar=np.zeros(3)),
                       "unknown motion layout"),
    "wrong_width": ("width_poses.npz", lambda p: _npz(p, poses=P[:, :100], trans=T), "poses must be (T, 165)"),
    "wrong_width_pkl": ("width_aist.pkl", lambda p: _pkl(p, {"smpl_poses": P[:, :70], "smpl_trans": T,
                                                        "smpl_scaling": np.ones(1)}), "smpl_poses must be (T, 72)"),
    "wrong_width_array": ("width_array.npy", lambda p: np.save(p, np.zeros((12, 314))), "unknown motion layout"),
    "nan": ("nan.npz", lambda p: _npz(p, poses=np.where(np.eye(12, 165) > 0, np.nan, P), trans=T),
            "poses contains NaN or Inf"),
    "inf": ("inf.pkl", lambda p: _pkl(p, {"q": P, "pos": np.full_like(T, np.inf)}), "trans contains NaN or Inf"),
    "zero_frames": ("empty.npz", lambda p: _npz(p, poses=P[:0], trans=T[:0]), "has no frames"),
    "one_frame": ("single.npz", lambda p: _npz(p, poses=P[:1], trans=T[:1]), "needs at least 2 frames, got 1"),
    "truncated_npz": ("cut_npz.npz", lambda p: _cut(p, lambda q: _npz(q, poses=P, trans=T)), "truncated or corrupt"),
    "truncated_npy": ("cut_npy.npy", lambda p: _cut(p, lambda q: np.save(q, np.zeros((12, 322)))),
                      "truncated or corrupt"),
    "truncated_pkl": ("cut_pkl.pkl", lambda p: _cut(p, lambda q: _pkl(q, {"q": P, "pos": T})), "truncated or corrupt"),
    "truncated_bvh": ("cut_bvh.bvh", lambda p: _cut(p, lambda q: write_bvh(q, fk_axis_angle(P, T))), "truncated BVH"),
}


def run_main(module, argv, capsys) -> tuple[int, str]:
    """A script's main in-process: (exit code, stderr)."""
    with pytest.raises(SystemExit) as exc:
        module.main(argv)
    return exc.value.code, capsys.readouterr().err


@pytest.fixture(scope="module")
def scripts():
    names = {"raw": "raw_pose_processing", "repr": "motion_representation", "plot3d": "plot_3d_global",
             "plotfeat": "plot_feature"}  # fmt: skip
    return {key: load_script(name) for key, name in names.items()}


@pytest.mark.parametrize("case", BAD_CASES)
def test_single_bad_file_ends_in_one_line(tmp_path, capsys, scripts, case):
    name, writer, message = BAD_CASES[case]
    writer(tmp_path / name)
    code, err = run_main(scripts["raw"], ["--input", str(tmp_path / name), "--out_dir", str(tmp_path / "j")], capsys)
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("error: ") and name in err and message in err
    assert not (tmp_path / "j").exists()


@pytest.mark.parametrize("case", BAD_CASES)
def test_folder_run_skips_each_bad_file(tmp_path, caplog, scripts, case):
    name, writer, message = BAD_CASES[case]
    folder = tmp_path / "motion"
    folder.mkdir()
    writer(folder / name)
    np.savez(folder / "good.npz", poses=P, trans=T)
    with caplog.at_level(logging.INFO):
        outs = scripts["raw"].main(["--input", str(folder), "--out_dir", str(tmp_path / "j")])
    assert outs == [tmp_path / "j" / "good.npy"] and np.load(outs[0]).shape == (12, 52, 3)
    last = caplog.records[-1].getMessage()  # the list at the end
    assert str(folder / name) in last and message in last


def test_folder_run_skips_bad_files_and_lists_them(tmp_path, caplog, scripts):
    folder = tmp_path / "motion"
    folder.mkdir()
    for name, writer, _ in BAD_CASES.values():
        writer(folder / name)
    np.savez(folder / "good.npz", poses=P, trans=T, expressions=GOOD.expressions)
    with caplog.at_level(logging.INFO):
        outs = scripts["raw"].main(["--input", str(folder), "--out_dir", str(tmp_path / "j"),
                                    "--face_dir", str(tmp_path / "f")])  # fmt: skip
    assert outs == [tmp_path / "j" / "good.npy"]
    assert sorted(p.name for p in (tmp_path / "j").iterdir()) == ["good.npy"]
    assert np.load(tmp_path / "f" / "good.npy").shape == (12, 100)
    summary = caplog.text[caplog.text.index("skipped 13 file(s)") :]  # the list at the end
    for name, _, message in BAD_CASES.values():
        assert f"{folder / name}: " in summary and message in summary.split(str(folder / name))[1].split("\n")[0]


def test_folder_run_where_every_file_is_bad_fails(tmp_path, capsys, scripts):
    (tmp_path / "m").mkdir()
    BAD_CASES["nan"][1](tmp_path / "m" / "nan.npz")
    code, err = run_main(scripts["raw"], ["--input", str(tmp_path / "m"), "--out_dir", str(tmp_path / "j")], capsys)
    assert code == 2 and "none of the 1 file(s)" in err.splitlines()[-1]


JOINT_CASES = {
    "nan.npy": (lambda p: np.save(p, np.full((10, 52, 3), np.nan)), "contains NaN or Inf"),
    "one.npy": (lambda p: np.save(p, np.zeros((1, 52, 3))), "needs at least 2 frames"),
    "empty.npy": (lambda p: np.save(p, np.zeros((0, 52, 3))), "has no frames"),
    "width.npy": (lambda p: np.save(p, np.zeros((10, 50, 3))), "unknown motion layout"),
    "cut.npy": (lambda p: _cut(p, lambda q: np.save(q, np.zeros((10, 52, 3)))), "truncated or corrupt"),
}


@pytest.mark.parametrize("name", JOINT_CASES)
def test_motion_representation_bad_joints(tmp_path, capsys, scripts, name):
    writer, message = JOINT_CASES[name]
    writer(tmp_path / name)
    code, err = run_main(scripts["repr"], ["--joints", str(tmp_path / name)], capsys)
    assert code == 2 and err.count("\n") == 1 and name in err and message in err


def test_motion_representation_folder_skips_and_lists(tmp_path, caplog, scripts):
    folder = tmp_path / "joints"
    folder.mkdir()
    for name, (writer, _) in JOINT_CASES.items():
        writer(folder / name)
    np.save(folder / "good.npy", fk_axis_angle(P, T))
    with caplog.at_level(logging.INFO):
        outs = scripts["repr"].main(["--joints", str(folder), "--out", str(tmp_path / "f")])
    assert outs == [tmp_path / "f" / "good.npy"] and np.load(outs[0]).shape == (11, 623)
    for name, (_, message) in JOINT_CASES.items():
        assert any(name in r.getMessage() and message in r.getMessage() for r in caplog.records)


def test_plot_scripts_reject_bad_files(tmp_path, capsys, scripts):
    np.save(tmp_path / "feat.npy", np.full((10, 623), np.inf, np.float32))
    code, err = run_main(scripts["plotfeat"], ["--input", str(tmp_path / "feat.npy")], capsys)
    assert code == 2 and err.count("\n") == 1 and "feat.npy" in err and "NaN or Inf" in err
    np.save(tmp_path / "wide.npy", np.zeros((10, 624), np.float32))
    code, err = run_main(scripts["plotfeat"], ["--input", str(tmp_path / "wide.npy")], capsys)
    assert code == 2 and "expected motion features" in err
    np.save(tmp_path / "one.npy", np.zeros((1, 52, 3), np.float32))
    code, err = run_main(scripts["plot3d"], ["--input", str(tmp_path / "one.npy"), "--out", str(tmp_path / "o.mp4")],
                         capsys)  # fmt: skip
    assert code == 2 and err.count("\n") == 1 and "needs at least 2 frames" in err


def test_bad_file_in_a_real_process_has_no_traceback(tmp_path):
    BAD_CASES["truncated_pkl"][1](tmp_path / "cut.pkl")
    cmd = [sys.executable, "raw_pose_processing.py", "--input", str(tmp_path / "cut.pkl")]
    res = subprocess.run(cmd, cwd=MOTION_SCRIPTS, capture_output=True, text=True, timeout=120)
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert res.stderr.strip().splitlines()[-1].startswith(f"error: {tmp_path / 'cut.pkl'}: not a readable pkl")


def test_two_files_with_one_output_name_are_not_overwritten(tmp_path, caplog, scripts):
    (tmp_path / "m").mkdir()
    np.savez(tmp_path / "m" / "a.npz", poses=P, trans=T)
    with open(tmp_path / "m" / "a.pkl", "wb") as f:
        pickle.dump({"q": P, "pos": T + 1.0, "fps": 30}, f)
    with caplog.at_level(logging.INFO):
        outs = scripts["raw"].main(["--input", str(tmp_path / "m"), "--out_dir", str(tmp_path / "j")])
    assert outs == [tmp_path / "j" / "a.npy"]
    np.testing.assert_allclose(np.load(outs[0]), fk_axis_angle(P, T), atol=1e-6)  # the first file's joints
    assert "a.pkl: same output name as a.npz" in caplog.records[-1].getMessage()


def test_nan_face_is_refused(tmp_path, capsys, scripts):
    np.save(tmp_path / "j.npy", fk_axis_angle(P, T))
    np.save(tmp_path / "f.npy", np.full((12, 100), np.nan))
    code, err = run_main(scripts["repr"], ["--joints", str(tmp_path / "j.npy"), "--face", str(tmp_path / "f.npy")],
                         capsys)  # fmt: skip
    assert code == 2 and "f.npy: face contains NaN or Inf" in err
