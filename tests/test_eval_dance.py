"""Evaluation protocols and `eval_dance.py`: known answers, protocol conversions, real AIST++ slices, the synthetic
own-vs-other-music check, input readers and bad input."""

import json
import os
import pickle
import re
import shutil

import numpy as np
import pytest
import soundfile as sf

from data.formats.motion import JointsMotion, resample
from data.synthetic_dance import build_dataset, synthesize_dance
from eval_dance import main as eval_main
from evaluation.evaluate import EvalRequest, evaluate, match_music
from evaluation.inputs import read_eval_motion
from evaluation.metrics.beat_align import bas_bailando, bas_fact
from evaluation.metrics.joint_sets import select
from evaluation.metrics.music_beats import LODGE_SR, track_beats
from evaluation.protocols import PROTOCOLS, feature_view, physical_scores, sequence_features, to_protocol_frame
from motion.frame import Z_TO_Y_UP
from motion.kinematics import fk_axis_angle
from tests.conftest import realdata
from utils.cli import UserError

AIST_SLICES = (
    "true_gBR_sBM_cAll_d04_mBR0_ch02_slice0",
    "true_gKR_sBM_cAll_d30_mKR2_ch02_slice6",
    "true_gLH_sBM_cAll_d18_mLH4_ch02_slice1",
)


def dance_joints(n_frames: int = 150, seed: int = 0, fps: float = 30.0) -> np.ndarray:
    """(T, 52, 3) joints of a synthetic whole-body dance."""
    m = synthesize_dance(n_frames, bpm=100 + 7 * seed, seed=seed, fps=fps)
    return fk_axis_angle(m.poses, m.trans).astype(np.float64)


def write_set(folder, sequences, suffix=".npy"):
    folder.mkdir(parents=True, exist_ok=True)
    for i, j in enumerate(sequences):
        np.save(folder / f"seq{i:02d}{suffix}", j)
    return folder


def still_pose(n_frames: int = 40) -> np.ndarray:
    return np.repeat(dance_joints(2)[:1], n_frames, axis=0)


# ------------------------------------------------------------------ known answers
def test_still_pose_under_fixed_and_bailando():
    still = still_pose()
    fixed = PROTOCOLS["fixed"]
    k, _ = sequence_features(feature_view(still, fixed, None), 30.0, fixed)
    np.testing.assert_array_equal(k, 0.0)
    assert physical_scores(still, 30.0, fixed)["PFC"] == 0.0
    # bailando keeps the precedence bug: a still joint gets energy |p - root_0| (1/dt - 1) / dt, dt = 1/60
    bailando = PROTOCOLS["bailando"]
    joints = to_protocol_frame(still, 30.0, bailando)
    view = feature_view(joints, bailando, bailando.pred_frames)
    k, _ = sequence_features(view, 60.0, bailando)
    k = k.reshape(24, 3)
    assert (k[:, :2] == 0).all()
    expected = np.linalg.norm(view[0], axis=-1) * (60 - 1) * 60
    np.testing.assert_allclose(k[:, 2], expected, rtol=1e-5)
    assert k[0, 2] == 0 and (k[1:, 2] > 10).all()  # the root sits at the origin after the first-frame shift


def test_fid_of_a_set_with_itself_is_zero(tmp_path):
    folder = write_set(tmp_path / "set", [dance_joints(120, seed=s) for s in range(12)])
    for protocol in ("bailando", "fixed"):
        m = evaluate(EvalRequest(pred_dir=folder, gt_dir=folder, protocol=protocol))["metrics"]
        # 12 samples of 72-d features: sqrtm of a singular product is accurate to ~1e-7 of the trace (~72)
        assert abs(m["FID_k"]) < 1e-4 and abs(m["FID_g"]) < 1e-4
        assert m["Div_k"] == pytest.approx(m["Div_k_gt"]) and m["Div_k"] > 0
        assert m["MPJPE_all"] == 0.0
        assert ("FID_hand" in m) == (protocol == "fixed") and m.get("FID_hand", 0) == pytest.approx(0, abs=1e-4)


def test_beat_scores_known_answers():
    beats = np.arange(10, 300, 20)
    assert bas_bailando(beats, beats) == 1.0 and bas_fact(beats, beats) == 1.0
    for shift in (1, 2, 4):
        expected = np.exp(-(shift**2) / (2 * 3.0**2))
        assert bas_bailando(beats + shift, beats) == pytest.approx(expected)
        assert bas_fact(beats + shift, beats) == pytest.approx(expected, rel=1e-6)


def test_beat_files_give_known_scores_through_the_protocol(tmp_path):
    """Music beats given in seconds at the motion's own minima score 1 under fixed; a shifted grid scores lower."""
    joints = dance_joints(300, seed=1)
    write_set(tmp_path / "pred", [joints])
    fixed = PROTOCOLS["fixed"]
    from evaluation.protocols import motion_beats

    beats = motion_beats(joints, 30.0, fixed)["bailando"]
    (tmp_path / "beats").mkdir()
    np.savetxt(tmp_path / "beats" / "seq00.txt", beats / 30.0)
    r = evaluate(EvalRequest(pred_dir=tmp_path / "pred", beats_dir=tmp_path / "beats", protocol="fixed"))
    assert r["metrics"]["BAS"] == pytest.approx(1.0)
    np.savetxt(tmp_path / "beats" / "seq00.txt", (beats + 1) / 30.0)  # one frame late: sigma is 1.5 frames at 30 fps
    r = evaluate(EvalRequest(pred_dir=tmp_path / "pred", beats_dir=tmp_path / "beats", protocol="fixed"))
    assert r["metrics"]["BAS"] == pytest.approx(np.exp(-1 / (2 * 1.5**2)), rel=1e-6)


def test_z_up_and_y_up_copies_agree_under_fixed(tmp_path):
    seqs = [dance_joints(90, seed=s) for s in range(4)]
    write_set(tmp_path / "y", seqs)
    write_set(tmp_path / "z", [j @ Z_TO_Y_UP for j in seqs])  # the same motion stored Z-up
    (tmp_path / "beats").mkdir()
    for i in range(4):
        np.savetxt(tmp_path / "beats" / f"seq{i:02d}.txt", np.arange(0.2, 3.0, 0.5))
    common = {"beats_dir": tmp_path / "beats", "protocol": "fixed"}
    a = evaluate(EvalRequest(pred_dir=tmp_path / "y", gt_dir=tmp_path / "y", **common))["metrics"]
    b = evaluate(EvalRequest(pred_dir=tmp_path / "z", gt_dir=tmp_path / "z", up_axis="z", **common))["metrics"]
    assert a.keys() == b.keys()
    for k in a:
        assert b[k] == pytest.approx(a[k], rel=1e-6, abs=1e-8), k


def test_30_fps_under_bailando_equals_its_60_fps_interpolation(tmp_path):
    seqs = [dance_joints(75, seed=s) for s in range(4)]
    write_set(tmp_path / "30", seqs)
    write_set(tmp_path / "60", [resample(JointsMotion(joints=j, fps=30.0), 60.0).joints for j in seqs])
    (tmp_path / "gt").mkdir()
    for s in range(5):  # ground truth at 60 fps, stored with its rate
        np.savez(tmp_path / "gt" / f"gt{s}.npz", joints=dance_joints(150, seed=10 + s, fps=60.0), mocap_frame_rate=60)
    (tmp_path / "beats").mkdir()
    for i in range(4):
        np.savetxt(tmp_path / "beats" / f"seq{i:02d}.txt", np.arange(0.1, 2.5, 0.4))
    common = {"gt_dir": tmp_path / "gt", "beats_dir": tmp_path / "beats", "protocol": "bailando"}
    a = evaluate(EvalRequest(pred_dir=tmp_path / "30", **common))
    b = evaluate(EvalRequest(pred_dir=tmp_path / "60", fps=60, **common))
    assert any(n.startswith("pred: 4 file(s) at 30 fps linearly interpolated to 60 fps") for n in a["notes"])
    assert not any("interpolated" in n for n in b["notes"])
    assert a["metrics"]["FID_k"] > 1
    for k in ("FID_k", "FID_g", "Div_k", "Div_g", "BAS"):
        assert b["metrics"][k] == pytest.approx(a["metrics"][k], rel=1e-6), k


# ------------------------------------------------------------------ joint sets and readers
def test_joint_sets_from_every_skeleton():
    j52 = dance_joints(10)
    j55 = np.concatenate([j52[:, :22], j52[:, 15:16].repeat(3, axis=1), j52[:, 22:]], axis=1)
    np.testing.assert_array_equal(select(j52, "smpl24"), select(j55, "smpl24"))
    np.testing.assert_array_equal(select(j52, "smpl24")[:, 22], j52[:, 25])  # left middle-finger base
    np.testing.assert_array_equal(select(j55, "smplx24"), j55[:, :24])
    np.testing.assert_array_equal(select(j55, "fingers"), j52[:, 22:])
    with pytest.raises(ValueError, match="cannot be taken from 22-joint"):
        select(j52[:, :22], "smpl24")


def test_readers_of_the_common_output_layouts(tmp_path):
    j24 = select(dance_joints(20), "smpl24")
    np.save(tmp_path / "bailando.pkl", {"pred_position": j24.reshape(20, 72)})  # np.save of a dict, as Bailando
    (tmp_path / "bailando.pkl.npy").rename(tmp_path / "bailando.pkl")
    with open(tmp_path / "edge.pkl", "wb") as f:
        pickle.dump({"full_pose": j24 @ Z_TO_Y_UP, "smpl_poses": np.zeros((20, 72))}, f)
    np.savez(tmp_path / "ours.npz", joints=dance_joints(20), expressions=np.ones((20, 100)), mocap_frame_rate=30)
    b = read_eval_motion(tmp_path / "bailando.pkl")
    assert b.fps == 60 and b.joints.shape == (20, 24, 3)
    np.testing.assert_allclose(b.joints, j24)
    e = read_eval_motion(tmp_path / "edge.pkl")
    assert e.fps == 30 and e.layout == "EDGE full_pose"
    np.testing.assert_allclose(e.joints, j24, atol=1e-12)
    o = read_eval_motion(tmp_path / "ours.npz")
    assert o.joints.shape == (20, 52, 3) and o.expressions.shape == (20, 100)
    m = synthesize_dance(40, fps=60.0)  # an AIST++ annotation pickle (SMPL poses, 60 fps) through FK, at its rate
    with open(tmp_path / "aist.pkl", "wb") as f:
        pickle.dump({"smpl_poses": m.poses[:, :72], "smpl_trans": m.trans * 90.0, "smpl_scaling": np.float32(90.0)}, f)
    a = read_eval_motion(tmp_path / "aist.pkl")
    assert a.fps == 60 and a.joints.shape == (40, 52, 3) and a.layout == "aistpp (FK)"


def test_reports_name_every_conversion(tmp_path):
    folder = write_set(tmp_path / "y", [dance_joints(60, seed=s) for s in range(2)])  # 52 joints, Y-up, 30 fps
    notes = evaluate(EvalRequest(pred_dir=folder, protocol="edge"))["notes"]
    assert any("rotated to EDGE's Z-up frame" in n for n in notes)
    assert any("middle-finger base" in n for n in notes)
    notes = evaluate(EvalRequest(pred_dir=folder, protocol="bailando"))["notes"]
    assert any("30 fps linearly interpolated to 60 fps" in n for n in notes)
    assert not any("Z-up" in n for n in notes)


def test_music_matching_by_name(tmp_path):
    index = {s: tmp_path / f"{s}.wav" for s in ("mBR0", "mBR01", "song")}
    assert match_music("gBR_sBM_cAll_d04_mBR0_ch02", index).stem == "mBR0"
    assert match_music("song", index).stem == "song"
    assert match_music("song_slice3", index).stem == "song"
    assert match_music("other", index) is None


# ------------------------------------------------------------------ real AIST++ slices
@pytest.fixture(scope="module")
def aist_dirs(tmp_path_factory):
    root = tmp_path_factory.mktemp("aist")
    for sub in ("gt", "pred", "audio"):
        (root / sub).mkdir()
    rng = np.random.default_rng(0)
    for name in AIST_SLICES:
        csv = realdata(f"aistpp_edge/{name}.csv")
        shutil.copy(csv, root / "gt")
        a = np.loadtxt(csv, delimiter=",")
        np.savetxt(root / "pred" / f"{name}.csv", a + rng.normal(scale=0.005, size=a.shape), delimiter=",")
        shutil.copy(realdata("librosa_data/sorohanro_solo_trumpet_06.ogg"), root / "audio" / f"{name}.ogg")
    return root


@pytest.mark.parametrize("protocol", list(PROTOCOLS))
def test_every_protocol_on_real_aistpp_slices(aist_dirs, protocol):
    r = evaluate(
        EvalRequest(
            pred_dir=aist_dirs / "pred", gt_dir=aist_dirs / "gt", audio_dir=aist_dirs / "audio", protocol=protocol
        )
    )
    m = r["metrics"]
    assert r["counts"]["pred"] == 3 and r["counts"]["bas"] == 3
    assert r["counts"]["feature_dims"]["kinetic"] == (72 if PROTOCOLS[protocol].feature_joints == "smpl24" else 66)
    assert all(np.isfinite(v) for v in m.values())
    # three clips make degenerate covariances, so FID itself says little here: check it is defined and >= 0
    assert m["FID_k"] > -1e-6 and m["FID_g"] > -1e-6 and 5 < m["Div_k_gt"] < 30 and 3 < m["Div_g_gt"] < 15
    assert 0 < m["BAS"] <= 1 and 0 < m["BAS_gt"] <= 1
    for name in PROTOCOLS[protocol].physics:
        assert 0 <= m[name] < (50 if name == "PFC" else 1)
    assert m["MPJPE_all"] == pytest.approx(0.005 * np.sqrt(3) * 0.92, rel=0.15)  # mean norm of 3-d N(0, 5 mm)
    assert any("constant over the ground truth" in w for w in r["warnings"])  # 3 GT clips: degenerate dims


# ------------------------------------------------------------------ synthetic music: own beats beat other beats
@pytest.fixture(scope="module")
def synthetic_pairs(tmp_path_factory):
    root = tmp_path_factory.mktemp("synthetic")
    pairs = build_dataset(root, songs=4, seconds=10.0, seed=3)
    names = sorted(p["music"].stem for p in pairs)
    (root / "other").mkdir()
    for i, n in enumerate(names):  # every dance gets the next song's music under its own name
        shutil.copy(root / "music" / f"{names[(i + 1) % 4]}.wav", root / "other" / f"{n}.wav")
    return root


@pytest.mark.parametrize("protocol", ["fixed", "edge", "lodge"])
def test_own_music_aligns_better_than_another_songs(synthetic_pairs, protocol):
    own = evaluate(
        EvalRequest(pred_dir=synthetic_pairs / "motion", audio_dir=synthetic_pairs / "music", protocol=protocol)
    )
    other = evaluate(
        EvalRequest(pred_dir=synthetic_pairs / "motion", audio_dir=synthetic_pairs / "other", protocol=protocol)
    )
    assert own["counts"]["bas"] == other["counts"]["bas"] == 4
    assert own["metrics"]["BAS"] > other["metrics"]["BAS"] + 0.1
    # the dataset's SMPL-X npz files carry faces and fingers: fixed reports hands and face without a GT of its own
    if protocol == "fixed":
        assert own["counts"]["feature_dims"] == {"kinetic": 66, "geometric": 32, "hand": 90, "face": 200}


# ------------------------------------------------------------------ bad input
def test_bad_input(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="no .* files"):
        evaluate(EvalRequest(pred_dir=tmp_path / "empty"))
    mixed = write_set(tmp_path / "mixed", [dance_joints(30), select(dance_joints(30), "smpl24")])
    with pytest.raises(UserError, match="mixes joint counts"):
        evaluate(EvalRequest(pred_dir=mixed))
    body = write_set(tmp_path / "body", [dance_joints(30)[:, :22]] * 2)
    with pytest.raises(UserError, match="bailando needs 24 SMPL joints.*22 joints"):
        evaluate(EvalRequest(pred_dir=body, protocol="bailando"))
    assert evaluate(EvalRequest(pred_dir=body, protocol="lodge"))["counts"]["pred"] == 2
    bad = write_set(tmp_path / "nan", [dance_joints(30, seed=s) for s in range(3)])
    j = dance_joints(30)
    j[5, 3] = np.nan
    np.save(bad / "broken.npy", j)
    np.save(bad / "odd.npy", np.zeros((30, 23, 3)))
    r = evaluate(EvalRequest(pred_dir=bad, protocol="fixed"))
    reasons = {s["file"].rsplit("/", 1)[-1]: s["reason"] for s in r["skipped_files"]}
    assert r["counts"]["pred"] == 3 and "NaN" in reasons["broken.npy"] and "22, 24, 52, 55" in reasons["odd.npy"]
    assert "needs --gt_dir" in r["skipped"]["FID_k, Div_k"] and "needs --audio_dir" in r["skipped"]["BAS"]
    (tmp_path / "beats").mkdir()
    np.savetxt(tmp_path / "beats" / "seq00.txt", [0.1, 0.5, 0.9])
    r = evaluate(EvalRequest(pred_dir=bad, beats_dir=tmp_path / "beats", protocol="fixed"))
    assert r["counts"]["bas"] == 1 and "seq01, seq02" in r["skipped"]["BAS (some samples)"]
    assert "BAS" in r["metrics"]


def test_cli_writes_the_report(tmp_path, capsys):
    folder = write_set(tmp_path / "pred", [dance_joints(60, seed=s) for s in range(3)])
    gt = shutil.copytree(folder, tmp_path / "gt")
    report = eval_main(["--pred_dir", str(folder), "--gt_dir", str(gt), "--protocol", "fixed"])
    written = json.loads((folder / "metrics_fixed.json").read_text())
    assert written["inputs"]["pred"]["files"] == 3 and written["inputs"]["gt"]["folder"] == str(gt)
    assert list(written)[:4] == ["protocol", "protocol_summary", "counts", "metrics"]
    assert list(written).index("metrics") < list(written).index("per_sample")
    assert written["metrics"] == pytest.approx(report["metrics"])
    with pytest.raises(SystemExit) as exit_info:
        eval_main(["--pred_dir", str(tmp_path / "nowhere")])
    assert exit_info.value.code == 2 and "not found" in capsys.readouterr().err


# ------------------------------------------------------------------ bad-input catalogue
class Reduce:
    """Pickles as `fn(*args)`: how a corrupt or hostile pickle asks for something."""

    def __init__(self, fn, *args):
        self.fn, self.args = fn, args

    def __reduce__(self):
        return self.fn, self.args


def ours(path, **extra):
    """Our generation npz (joints (40, 52, 3)) with extra or replaced keys."""
    np.savez(path, joints=dance_joints(40, seed=9), **extra)


def dump(path, obj):
    with open(path, "wb") as f:
        pickle.dump(obj, f)


# name -> (file name, writer, what the one line says); each file sits in a folder of two good predictions
CATALOGUE_EVAL_FILES = {
    "fps_empty": (
        "fps_empty.npz",
        lambda p: ours(p, mocap_frame_rate=np.array([])),
        "mocap_frame_rate must be one number",
    ),
    "fps_string": (
        "fps_string.npz",
        lambda p: ours(p, mocap_frame_rate=np.array("thirty")),
        "mocap_frame_rate must be one number",
    ),
    "fps_key_string": ("fps_key.npz", lambda p: ours(p, fps=np.array(["30"])), "fps must be one number"),
    "fps_nan": ("fps_nan.npz", lambda p: ours(p, mocap_frame_rate=np.nan), "frame rate nan is outside"),
    "fps_zero": ("fps_zero.npz", lambda p: ours(p, mocap_frame_rate=0), "frame rate 0 is outside"),
    "fps_negative": ("fps_neg.npz", lambda p: ours(p, fps=-30.0), "frame rate -30 is outside"),
    "expressions_string": (
        "face_str.npz",
        lambda p: ours(p, expressions=np.full((40, 100), "x")),
        "expressions must be a real-valued numeric array",
    ),
    "expressions_rows": (
        "face_rows.npz",
        lambda p: ours(p, expressions=np.ones((39, 100))),
        "expressions must be (40, <=100)",
    ),
    "joints_23": ("j23.npy", lambda p: np.save(p, np.zeros((40, 23, 3))), "22, 24, 52, 55"),
    "joints_nan": ("jnan.npy", lambda p: np.save(p, np.full((40, 52, 3), np.nan)), "NaN"),
    "bvh_no_joints": (
        "nojoints.bvh",
        lambda p: p.write_text("HIERARCHY\nMOTION\nFrames: 2\nFrame Time: 0.03\n"),
        "not a BVH file",
    ),
    "pickle_bytes_2_60": ("huge.pkl", lambda p: dump(p, {"pred_position": Reduce(bytes, 2**60)}), "bytes asks for"),
}


@pytest.mark.parametrize("case", CATALOGUE_EVAL_FILES)
def test_bad_eval_file_is_one_line_and_skipped_in_a_folder(tmp_path, case):
    name, writer, message = CATALOGUE_EVAL_FILES[case]
    folder = write_set(tmp_path / "pred", [dance_joints(40, seed=s) for s in range(2)])
    writer(folder / name)
    with pytest.raises(UserError) as err:
        read_eval_motion(folder / name)
    line = str(err.value)
    assert "\n" not in line and line.startswith(f"{folder / name}: ") and message in line, line
    report = eval_main(["--pred_dir", str(folder), "--protocol", "fixed", "--out", str(tmp_path / "r.json")])
    assert report["counts"]["pred"] == 2  # the good files are still evaluated
    (skipped,) = report["skipped_files"]
    assert skipped["file"] == str(folder / name) and message in skipped["reason"]


@pytest.fixture
def eval_tree(tmp_path):
    """Two predictions (and a copy as ground truth), bad beat folders, a 1 Hz 'song', an earlier report, a file
    where a folder is expected."""
    write_set(tmp_path / "pred", [dance_joints(40, seed=s) for s in range(2)])
    shutil.copytree(tmp_path / "pred", tmp_path / "gt")
    beats = {
        "b_strings_npy": lambda p: np.save(p / "seq00.npy", np.array(["one", "two"])),
        "b_strings_txt": lambda p: (p / "seq00.txt").write_text("one two\nthree four\n"),
        "b_huge": lambda p: np.savetxt(p / "seq00.txt", [0.5, 1e12]),
        "b_negative": lambda p: np.savetxt(p / "seq00.txt", [-1.0, 0.5]),
    }
    for sub, writer in beats.items():
        (tmp_path / sub).mkdir()
        writer(tmp_path / sub)
    (tmp_path / "a_1hz").mkdir()
    sf.write(tmp_path / "a_1hz" / "seq00.wav", np.zeros(100, np.float32), 1)  # "100 s" of music
    (tmp_path / "old.json").write_text("{}\n")
    (tmp_path / "a_file").write_text("")
    return tmp_path


# name -> (arguments after --pred_dir {t}/pred --protocol fixed, what the one line says, refused before evaluating)
CATALOGUE_EVAL_CLI = {
    "pred_is_gt": ("--gt_dir {t}/pred", "--pred_dir and --gt_dir are the same folder", True),
    "pred_is_gt_spelled_otherwise": ("--gt_dir {t}/gt/../pred/", "--pred_dir and --gt_dir are the same folder", True),
    "pred_is_beats": ("--beats_dir {t}/pred", "--pred_dir and --beats_dir are the same folder", True),
    "report_exists": ("--out {t}/old.json", "{t}/old.json exists (an earlier run's); give --overwrite", True),
    "report_not_json": ("--out {t}/r.npy", "--out {t}/r.npy: the report is JSON", True),
    "report_folder_unwritable": ("--out {t}/a_file/r.json", "--out: cannot write in {t}/a_file", True),
    "beats_strings_npy": ("--beats_dir {t}/b_strings_npy", "seq00.npy: expected beat times in seconds", True),
    "beats_strings_txt": ("--beats_dir {t}/b_strings_txt", "seq00.txt: not a readable beat file", True),
    "beats_huge": ("--beats_dir {t}/b_huge", "seq00.txt: beat times must be finite seconds in [0, 86400]", True),
    "beats_negative": ("--beats_dir {t}/b_negative", "seq00.txt: beat times must be finite seconds", True),
    "audio_1_hz": ("--audio_dir {t}/a_1hz", "seq00.wav: sample rate 1 Hz is outside 1000-1000000 Hz", False),
}


@pytest.mark.parametrize("case", CATALOGUE_EVAL_CLI)
def test_eval_cli_refuses_in_one_line(eval_tree, capsys, monkeypatch, case):
    import eval_dance

    extra, message, early = CATALOGUE_EVAL_CLI[case]
    if early:  # found before the evaluation runs
        monkeypatch.setattr(eval_dance, "evaluate", lambda _req: pytest.fail("the evaluation ran"))
    before = {p: p.read_bytes() for p in eval_tree.rglob("*") if p.is_file()}
    argv = ["--pred_dir", str(eval_tree / "pred"), "--protocol", "fixed", *extra.format(t=eval_tree).split()]
    with pytest.raises(SystemExit) as exc:
        eval_dance.main(argv)
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.strip() and not re.search(r"\d+%\|", ln)]  # minus progress bars
    assert exc.value.code == 2 and len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err
    assert message.format(t=eval_tree) in lines[0], err
    assert {p: p.read_bytes() for p in eval_tree.rglob("*") if p.is_file()} == before  # no report, nothing else


def test_report_is_replaced_only_with_overwrite(tmp_path):
    folder = write_set(tmp_path / "pred", [dance_joints(40, seed=s) for s in range(2)])
    eval_main(["--pred_dir", str(folder), "--protocol", "fixed"])
    assert json.loads((folder / "metrics_fixed.json").read_text())["counts"]["pred"] == 2
    np.save(folder / "seq02.npy", dance_joints(40, seed=2))
    eval_main(["--pred_dir", str(folder), "--protocol", "fixed", "--overwrite"])
    assert json.loads((folder / "metrics_fixed.json").read_text())["counts"]["pred"] == 3


def test_leftovers_of_killed_writes_are_not_predictions(tmp_path):
    """A temporary file of an interrupted write (here a whole joints file) is not read as a prediction."""
    folder = write_set(tmp_path / "pred", [dance_joints(40, seed=s) for s in range(2)])
    np.save(folder / ".seq02.999999-0123abcd.tmp.npy", dance_joints(40, seed=2))
    report = eval_main(["--pred_dir", str(folder), "--protocol", "fixed"])
    assert report["counts"]["pred"] == 2 and sorted(report["per_sample"]) == ["seq00", "seq01"]
    assert report["inputs"]["pred"]["files"] == 2


def test_beats_of_a_replaced_music_file_are_tracked_again(tmp_path):
    """The beat cache follows the file: a song replaced under the same name is not scored with its old beats."""
    sr = LODGE_SR
    song = tmp_path / "song.wav"

    def clicks(bpm):
        y = np.zeros(3 * sr, np.float32)
        for t in np.arange(0.25, 3, 60 / bpm):
            y[int(t * sr) : int(t * sr) + 200] = 0.8
        return y

    sf.write(song, clicks(120), sr)
    first = track_beats(song, "fixed")
    sf.write(song, clicks(75), sr)
    os.utime(song, ns=(song.stat().st_atime_ns, song.stat().st_mtime_ns + 10**9))
    second = track_beats(song, "fixed")
    assert len(second) < len(first)  # the first song's beats were cached under this name
