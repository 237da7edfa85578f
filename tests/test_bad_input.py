"""Bad motion input: one line naming the file (exit 2) for a single file; skipped, continued and listed in a folder.

The `CATALOGUE_*` dicts are the bad-input catalogue: motion files, hostile or corrupt pickles, broken BVH files and
joints whose features cannot be computed.
"""

import codecs
import io
import logging
import os
import pickle
import subprocess
import sys
import zipfile

import numpy as np
import pytest

from data.synthetic_dance import synthesize_dance
from motion.bvh import write_bvh
from motion.kinematics import fk_axis_angle
from tests.conftest import MOTION_SCRIPTS, load_script

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


class Reduce:
    """Pickles as `fn(*args)` (then `state` through BUILD): how a hostile or corrupt pickle asks for something."""

    def __init__(self, fn, *args, state=None):
        self.fn, self.args, self.state = fn, args, state

    def __reduce__(self):
        return (self.fn, self.args) if self.state is None else (self.fn, self.args, self.state)


def _npy_header(shape, descr="<f8") -> bytes:
    """A .npy header (no data) announcing an array of `shape`."""
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": descr, "fortran_order": False, "shape": shape})
    return buffer.getvalue()


def _npz_member(path, name, data):
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(name, data)


P, T = GOOD.poses, GOOD.trans
RECONSTRUCT = np._core.multiarray._reconstruct
# name -> (file name, writer, expected message)
CATALOGUE_MOTION = {
    "missing_key": ("missing.npz", lambda p: _npz(p, poses=P), "missing key 'trans'"),
    "unknown_layout": (
        "unknown.npz",
        lambda p: _npz(p, foo=np.zeros((12, 7)), bar=np.zeros(3)),
        "unknown motion layout",
    ),
    "wrong_width": ("width_poses.npz", lambda p: _npz(p, poses=P[:, :100], trans=T), "poses must be (T, 165)"),
    "wrong_width_pkl": (
        "width_aist.pkl",
        lambda p: _pkl(p, {"smpl_poses": P[:, :70], "smpl_trans": T, "smpl_scaling": np.ones(1)}),
        "smpl_poses must be (T, 72)",
    ),
    "wrong_width_array": ("width_array.npy", lambda p: np.save(p, np.zeros((12, 314))), "unknown motion layout"),
    "nan": (
        "nan.npz",
        lambda p: _npz(p, poses=np.where(np.eye(12, 165) > 0, np.nan, P), trans=T),
        "poses contains NaN or Inf",
    ),
    "inf": ("inf.pkl", lambda p: _pkl(p, {"q": P, "pos": np.full_like(T, np.inf)}), "trans contains NaN or Inf"),
    "zero_frames": ("empty.npz", lambda p: _npz(p, poses=P[:0], trans=T[:0]), "has no frames"),
    "one_frame": ("single.npz", lambda p: _npz(p, poses=P[:1], trans=T[:1]), "needs at least 2 frames, got 1"),
    "truncated_npz": ("cut_npz.npz", lambda p: _cut(p, lambda q: _npz(q, poses=P, trans=T)), "truncated or corrupt"),
    "truncated_npy": (
        "cut_npy.npy",
        lambda p: _cut(p, lambda q: np.save(q, np.zeros((12, 322)))),
        "truncated or corrupt",
    ),
    "truncated_pkl": ("cut_pkl.pkl", lambda p: _cut(p, lambda q: _pkl(q, {"q": P, "pos": T})), "truncated or corrupt"),
    "truncated_bvh": ("cut_bvh.bvh", lambda p: _cut(p, lambda q: write_bvh(q, fk_axis_angle(P, T))), "truncated BVH"),
}

HUGE = 2**40  # elements or bytes a corrupt file may ask for; nothing may be allocated for them
# Pickles (and .npy/.npz headers) that ask for what no motion file needs: refused before anything is allocated.
CATALOGUE_PICKLES = {
    "bytes_2_60": ("p_bytes.pkl", lambda p: _pkl(p, {"q": Reduce(bytes, 2**60), "pos": T}), "bytes asks for"),
    "bytearray_huge": ("p_bytearray.pkl", lambda p: _pkl(p, {"q": Reduce(bytearray, HUGE)}), "bytearray asks for"),
    "ndarray_huge": ("p_ndarray.pkl", lambda p: _pkl(p, {"q": Reduce(np.ndarray, (HUGE,))}), "an array asks for"),
    "reconstruct_huge": (
        "p_reconstruct.pkl",
        lambda p: _pkl(p, {"q": Reduce(RECONSTRUCT, np.ndarray, (HUGE,), b"b")}),
        "an array asks for",
    ),
    "array_state_huge": (
        "p_state.pkl",
        lambda p: _pkl(
            p,
            {"q": Reduce(RECONSTRUCT, np.ndarray, (0,), b"b", state=(1, (HUGE, 3), np.dtype(np.float64), False, b""))},
        ),
        "an array asks for",
    ),
    "object_items_short": (
        "p_objects.pkl",
        lambda p: _pkl(
            p,
            {"q": Reduce(RECONSTRUCT, np.ndarray, (0,), b"b", state=(1, (150,), np.dtype(object), False, [{"a": 1}]))},
        ),
        "items do not match its shape",
    ),  # numpy segfaulted
    "dtype_state_garbled": (
        "p_dtype.pkl",
        lambda p: _pkl(p, {"q": Reduce(np.dtype, "f8", False, True, state=(3, "<", None, None, None, -1, -1, 63))}),
        "refusing the dtype state",
    ),
    "runs_code": ("p_system.pkl", lambda p: _pkl(p, Reduce(os.system, "true")), "refusing to load posix.system"),
    "codec_rot13": (
        "p_codec.pkl",
        lambda p: _pkl(p, {"q": Reduce(codecs.encode, "abc", "rot13")}),
        "_codecs.encode other than latin1",
    ),
    "npy_header_huge": (
        "h_npy.npy",
        lambda p: p.write_bytes(_npy_header((HUGE, 52, 3)) + bytes(64)),
        "needs more bytes than the file has",
    ),
    "npz_header_huge": (
        "h_npz.npz",
        lambda p: _npz_member(p, "poses.npy", _npy_header((HUGE, 165)) + bytes(64)),
        "needs more bytes than the file has",
    ),
}

_BVH_HEAD = "HIERARCHY\nROOT Hips\n{\n OFFSET %s\n CHANNELS %s\n}\nMOTION\nFrames: %s\nFrame Time: 0.0333333\n"
# BVH files with no joints, no channels or impossible counts (a negative channel count used to loop forever).
CATALOGUE_BVH = {
    "bvh_no_joints": (
        "b_nojoints.bvh",
        lambda p: p.write_text("HIERARCHY\nMOTION\nFrames: 2\nFrame Time: 0.0333\n"),
        "not a BVH file",
    ),
    "bvh_empty": ("b_empty.bvh", lambda p: p.write_text(""), "not a BVH file"),
    "bvh_no_channels": (
        "b_nochannels.bvh",
        lambda p: p.write_text(_BVH_HEAD % ("0 0 0", "0", "2")),
        "no joint has channels",
    ),
    "bvh_negative_channels": (
        "b_negchannels.bvh",
        lambda p: p.write_text(_BVH_HEAD % ("0 0 0", "-3", "2")),
        "declares -3 channels",
    ),
    "bvh_negative_frames": (
        "b_negframes.bvh",
        lambda p: p.write_text(_BVH_HEAD % ("0 0 0", "3 Xposition Yposition Zposition", "-1")),
        "Frames: -1 is negative",
    ),
    "bvh_nan_offset": (
        "b_nanoffset.bvh",
        lambda p: p.write_text(_BVH_HEAD % ("nan 0 0", "3 Xposition Yposition Zposition", "2") + "0 0 0\n0 0 0\n"),
        "NaN or Inf",
    ),
    "bvh_extra_brace": (
        "b_brace.bvh",
        lambda p: p.write_text("HIERARCHY\nROOT Hips\n{\n}\n}\nMOTION\nFrames: 1\n"),
        "malformed",
    ),
}
ALL_MOTION = {**CATALOGUE_MOTION, **CATALOGUE_PICKLES, **CATALOGUE_BVH}


def run_main(module, argv, capsys) -> tuple[int, str]:
    """A script's main in-process: (exit code, stderr)."""
    with pytest.raises(SystemExit) as exc:
        module.main(argv)
    return exc.value.code, capsys.readouterr().err


@pytest.fixture(scope="module")
def scripts():
    names = {
        "raw": "raw_pose_processing",
        "repr": "motion_representation",
        "plot3d": "plot_3d_global",
        "plotfeat": "plot_feature",
    }
    return {key: load_script(name) for key, name in names.items()}


@pytest.mark.parametrize("case", ALL_MOTION)
def test_single_bad_file_ends_in_one_line(tmp_path, capsys, scripts, case):
    name, writer, message = ALL_MOTION[case]
    writer(tmp_path / name)
    code, err = run_main(scripts["raw"], ["--input", str(tmp_path / name), "--out_dir", str(tmp_path / "j")], capsys)
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("error: ") and name in err and message in err, err
    assert "Traceback" not in err and not (tmp_path / "j").exists()


@pytest.mark.parametrize("case", ALL_MOTION)
def test_folder_run_skips_each_bad_file(tmp_path, caplog, scripts, case):
    name, writer, message = ALL_MOTION[case]
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
    for name, writer, _ in ALL_MOTION.values():
        writer(folder / name)
    np.savez(folder / "good.npz", poses=P, trans=T, expressions=GOOD.expressions)
    with caplog.at_level(logging.INFO):
        outs = scripts["raw"].main(
            ["--input", str(folder), "--out_dir", str(tmp_path / "j"), "--face_dir", str(tmp_path / "f")]
        )
    assert outs == [tmp_path / "j" / "good.npy"]
    assert sorted(p.name for p in (tmp_path / "j").iterdir()) == ["good.npy"]
    assert np.load(tmp_path / "f" / "good.npy").shape == (12, 100)
    summary = caplog.text[caplog.text.index(f"skipped {len(ALL_MOTION)} file(s)") :]  # the list at the end
    for name, _, message in ALL_MOTION.values():
        assert f"{folder / name}: " in summary and message in summary.split(str(folder / name))[1].split("\n")[0]


def test_folder_run_where_every_file_is_bad_fails(tmp_path, capsys, scripts):
    (tmp_path / "m").mkdir()
    CATALOGUE_MOTION["nan"][1](tmp_path / "m" / "nan.npz")
    code, err = run_main(scripts["raw"], ["--input", str(tmp_path / "m"), "--out_dir", str(tmp_path / "j")], capsys)
    assert code == 2 and "none of the 1 file(s)" in err.splitlines()[-1]


CATALOGUE_JOINTS = {
    "nan.npy": (lambda p: np.save(p, np.full((10, 52, 3), np.nan)), "contains NaN or Inf"),
    "one.npy": (lambda p: np.save(p, np.zeros((1, 52, 3))), "needs at least 2 frames"),
    "empty.npy": (lambda p: np.save(p, np.zeros((0, 52, 3))), "has no frames"),
    "width.npy": (lambda p: np.save(p, np.zeros((10, 50, 3))), "unknown motion layout"),
    "cut.npy": (lambda p: _cut(p, lambda q: np.save(q, np.zeros((10, 52, 3)))), "truncated or corrupt"),
    # finite joints whose features are not: they used to be written as NaN
    "point.npy": (lambda p: np.save(p, np.zeros((10, 52, 3))), "features come out NaN or Inf"),
    "huge.npy": (
        lambda p: np.save(p, np.full((10, 52, 3), 3e38, np.float32) * np.linspace(0.1, 1, 3)),
        "features come out NaN or Inf",
    ),
}


@pytest.mark.parametrize("name", CATALOGUE_JOINTS)
def test_motion_representation_bad_joints(tmp_path, capsys, scripts, name):
    writer, message = CATALOGUE_JOINTS[name]
    writer(tmp_path / name)
    code, err = run_main(scripts["repr"], ["--joints", str(tmp_path / name)], capsys)
    assert code == 2 and err.count("\n") == 1 and err.startswith("error: ") and name in err and message in err
    assert "Traceback" not in err and not (tmp_path / f"{name[:-4]}_feats.npy").exists()


def test_motion_representation_folder_skips_and_lists(tmp_path, caplog, scripts):
    folder = tmp_path / "joints"
    folder.mkdir()
    for name, (writer, _) in CATALOGUE_JOINTS.items():
        writer(folder / name)
    np.save(folder / "good.npy", fk_axis_angle(P, T))
    with caplog.at_level(logging.INFO):
        outs = scripts["repr"].main(["--joints", str(folder), "--out", str(tmp_path / "f")])
    assert outs == [tmp_path / "f" / "good.npy"] and np.load(outs[0]).shape == (11, 623)
    for name, (_, message) in CATALOGUE_JOINTS.items():
        assert any(name in r.getMessage() and message in r.getMessage() for r in caplog.records)


def test_plot_scripts_reject_bad_files(tmp_path, capsys, scripts):
    np.save(tmp_path / "feat.npy", np.full((10, 623), np.inf, np.float32))
    code, err = run_main(scripts["plotfeat"], ["--input", str(tmp_path / "feat.npy")], capsys)
    assert code == 2 and err.count("\n") == 1 and "feat.npy" in err and "NaN or Inf" in err
    np.save(tmp_path / "wide.npy", np.zeros((10, 624), np.float32))
    code, err = run_main(scripts["plotfeat"], ["--input", str(tmp_path / "wide.npy")], capsys)
    assert code == 2 and "expected motion features" in err
    np.save(tmp_path / "one.npy", np.zeros((1, 52, 3), np.float32))
    code, err = run_main(
        scripts["plot3d"], ["--input", str(tmp_path / "one.npy"), "--out", str(tmp_path / "o.mp4")], capsys
    )
    assert code == 2 and err.count("\n") == 1 and "needs at least 2 frames" in err


def test_bad_file_in_a_real_process_has_no_traceback(tmp_path):
    CATALOGUE_MOTION["truncated_pkl"][1](tmp_path / "cut.pkl")
    cmd = [sys.executable, "raw_pose_processing.py", "--input", str(tmp_path / "cut.pkl")]
    res = subprocess.run(cmd, cwd=MOTION_SCRIPTS, capture_output=True, text=True, timeout=120)
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert res.stderr.strip().splitlines()[-1].startswith(f"error: {tmp_path / 'cut.pkl'}: not a readable pkl")


def test_folder_run_goes_past_unexpected_errors(tmp_path, caplog, scripts, monkeypatch):
    """A bug-like error in one file (not a UserError) skips that file with its type; the others are processed."""
    import data.motion_pipeline as pipeline

    real = pipeline.joints_to_features

    def flaky(joints, *args, **kwargs):
        if len(joints) == 7:
            raise IndexError("index 99 is out of bounds")
        return real(joints, *args, **kwargs)

    monkeypatch.setattr(pipeline, "joints_to_features", flaky)
    (tmp_path / "j").mkdir()
    np.save(tmp_path / "j" / "a.npy", fk_axis_angle(P, T))
    np.save(tmp_path / "j" / "b.npy", fk_axis_angle(P, T)[:7])
    np.save(tmp_path / "j" / "c.npy", fk_axis_angle(P, T))
    with caplog.at_level(logging.INFO):
        outs = scripts["repr"].main(["--joints", str(tmp_path / "j"), "--out", str(tmp_path / "f")])
    assert [o.name for o in outs] == ["a.npy", "c.npy"]
    assert "b.npy: IndexError: index 99 is out of bounds" in caplog.text
    assert sorted(p.name for p in (tmp_path / "f").iterdir()) == ["a.npy", "c.npy"]


def test_nan_face_is_refused(tmp_path, capsys, scripts):
    np.save(tmp_path / "j.npy", fk_axis_angle(P, T))
    np.save(tmp_path / "f.npy", np.full((12, 100), np.nan))
    code, err = run_main(
        scripts["repr"], ["--joints", str(tmp_path / "j.npy"), "--face", str(tmp_path / "f.npy")], capsys
    )
    assert code == 2 and "f.npy: face contains NaN or Inf" in err
