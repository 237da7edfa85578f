"""Motion readers: each layout written as documented (from real or generated motion) reads back to the right joints."""

import pickle

import numpy as np
import pytest

from data.formats import format_names, load_motion
from data.formats.motion import SMPLXMotion, resample, z_up_to_y_up
from data.formats.smplx_npz import save_smplx_npz
from data.synthetic_dance import synthesize_dance
from motion.kinematics import fk_axis_angle, ik_axis_angle, inverse_kinematics
from motion.rotation import axis_angle_to_matrix, matrix_to_axis_angle
from motion.skeleton import JOINT_NAMES, PARENTS, Skeleton, default_rest_joints
from tests.conftest import REPO, realdata
from utils.cli import UserError


@pytest.fixture(scope="module")
def dance() -> SMPLXMotion:
    return synthesize_dance(60, seed=3)


def fk(m: SMPLXMotion) -> np.ndarray:
    return fk_axis_angle(m.poses, m.trans)


def test_smplx_npz_on_real_beat2(beat2):
    m = load_motion(realdata("beat2/2_scott_0_1_1.npz"))
    assert m.fmt == "smplx_npz" and m.source_fps == 30 and m.joints.shape == (1906, 52, 3)
    np.testing.assert_allclose(m.joints, fk_axis_angle(beat2["poses"], beat2["trans"]), atol=1e-6)
    np.testing.assert_allclose(m.face, beat2["expressions"], atol=1e-6)
    assert m.smplx.betas.shape == (300,)


def test_smplx_npz_at_60_fps_keeps_every_other_frame(tmp_path):
    m60 = synthesize_dance(61, fps=60, seed=1)
    np.savez(tmp_path / "a.npz", poses=m60.poses, trans=m60.trans, mocap_frame_rate=60)
    m = load_motion(tmp_path / "a.npz")
    assert m.source_fps == 60 and len(m.joints) == 31 and m.face is None
    np.testing.assert_allclose(m.smplx.poses, m60.poses[::2], atol=1e-6)
    np.testing.assert_allclose(m.joints, fk_axis_angle(m60.poses[::2], m60.trans[::2]), atol=1e-5)


def test_smplx_npz_export_round_trip(tmp_path, dance):
    save_smplx_npz(tmp_path / "out.npz", dance)
    with np.load(tmp_path / "out.npz") as f:
        assert {"poses", "trans", "betas", "expressions", "mocap_frame_rate", "gender", "model"} <= set(f.files)
        assert f["poses"].shape == (60, 165) and float(f["mocap_frame_rate"]) == 30
    m = load_motion(tmp_path / "out.npz")
    np.testing.assert_array_equal(m.smplx.poses, dance.poses)
    np.testing.assert_array_equal(m.face, dance.expressions)


def test_motionx_322(tmp_path, dance):
    t = len(dance)
    a = np.zeros((t, 322), np.float32)
    a[:, 0:66], a[:, 66:156], a[:, 156:159] = dance.poses[:, :66], dance.poses[:, 75:], dance.poses[:, 66:69]
    a[:, 159:209], a[:, 209:309] = dance.expressions[:, :50], 0.3
    a[:, 309:312], a[:, 312:322] = dance.trans, 0.1
    np.save(tmp_path / "mx.npy", a)
    m = load_motion(tmp_path / "mx.npy")
    assert m.fmt == "motionx"
    expected = dance.poses.copy()
    expected[:, 69:75] = 0  # Motion-X has no eye poses
    np.testing.assert_array_equal(m.smplx.poses, expected)
    np.testing.assert_array_equal(m.face[:, :50], dance.expressions[:, :50])
    assert (m.face[:, 50:] == 0).all() and m.face.shape == (t, 100)
    np.testing.assert_allclose(m.smplx.betas, 0.1)
    np.testing.assert_allclose(m.joints, fk_axis_angle(expected, dance.trans), atol=1e-6)


@pytest.mark.parametrize("width", [72, 156, 165])
def test_edge_pickle(tmp_path, dance, width):
    q = {
        72: np.concatenate([dance.poses[:, :66], np.zeros((60, 6))], 1),
        156: np.delete(dance.poses, range(66, 75), 1),
        165: dance.poses,
    }[width]
    with open(tmp_path / "s.pkl", "wb") as f:
        pickle.dump({"q": q, "pos": dance.trans, "fps": 30}, f)
    m = load_motion(tmp_path / "s.pkl")
    assert m.fmt == "edge_pkl" and m.joints.shape == (60, 52, 3)
    body = fk(dance)[:, :22]
    np.testing.assert_allclose(m.joints[:, :22], body, atol=1e-5)  # the body is the same in every width
    if width == 72:  # SMPL: fingers at rest (flat), so finger bones follow the wrist
        assert np.abs(m.smplx.poses[:, 75:]).max() == 0


def _real_aistpp_pickle(tmp_path, scaling: float = 93.4):
    """An AIST++ annotation pickle made from a real AIST++ slice (EDGE's joint CSV, 30 fps) by IK, at 60 fps."""
    csv = realdata("aistpp_edge/true_gLH_sBM_cAll_d18_mLH4_ch02_slice1.csv")
    joints = load_motion(csv).joints  # (150, 22, 3) real AIST++ body joints, Y-up
    body = Skeleton(default_rest_joints()[:22], PARENTS[:22], JOINT_NAMES[:22])
    local, trans = inverse_kinematics(joints, body)
    smpl = np.zeros((len(joints), 24, 3))
    smpl[:, :22] = matrix_to_axis_angle(local)
    doubled = np.repeat(smpl.reshape(-1, 72), 2, axis=0)  # each frame twice: a 60 fps motion
    with open(tmp_path / "gLH_sBM_cAll_d18_mLH4_ch02.pkl", "wb") as f:
        pickle.dump(
            {
                "smpl_poses": doubled,
                "smpl_trans": np.repeat(trans, 2, 0) * scaling,
                "smpl_scaling": np.array([scaling]),
            },
            f,
        )
    return tmp_path / "gLH_sBM_cAll_d18_mLH4_ch02.pkl", joints


def test_aistpp_pickle_from_a_real_aistpp_slice(tmp_path):
    path, real = _real_aistpp_pickle(tmp_path)
    m = load_motion(path)
    assert m.fmt == "aistpp" and m.source_fps == 60 and m.joints.shape == (150, 52, 3)
    np.testing.assert_allclose(m.joints[:, 0], real[:, 0], atol=1e-4)  # trans / smpl_scaling = metres
    bone = lambda j: j[:, 1:22] - j[:, PARENTS[1:22]]  # noqa: E731
    cos = (bone(m.joints) * bone(real)).sum(-1) / np.linalg.norm(bone(m.joints), axis=-1)
    cos /= np.linalg.norm(bone(real), axis=-1)
    branch_kids = np.isin(PARENTS[1:22], [0, 9])  # hips/spine and neck/collars: a best rigid fit of several bones
    assert cos[:, ~branch_kids].min() > 0.999  # every other bone points where the real dancer's did
    assert cos[:, branch_kids].min() > 0.95


def test_generated_smpl_pickle_and_z_up(tmp_path, dance):
    rest_pelvis = default_rest_joints()[0]
    r_inv = np.array([[1.0, 0, 0], [0, 0, -1], [0, 1, 0]])  # Y-up -> Z-up
    poses = dance.poses.copy()
    poses[:, :3] = matrix_to_axis_angle(r_inv @ axis_angle_to_matrix(poses[:, :3].astype(np.float64)))
    trans = (dance.trans + rest_pelvis) @ r_inv.T - rest_pelvis
    with open(tmp_path / "edge_out.pkl", "wb") as f:
        pickle.dump({"smpl_poses": poses, "smpl_trans": trans}, f)
    m = load_motion(tmp_path / "edge_out.pkl", up_axis="z")
    assert m.fmt == "aistpp" and m.source_fps == 30
    np.testing.assert_allclose(m.joints, fk(dance), atol=1e-5)


@pytest.mark.parametrize("width", [315, 319])
def test_finedance_rows_6d(tmp_path, dance, width):
    t = len(dance)
    local = axis_angle_to_matrix(np.delete(dance.poses, range(66, 75), 1).reshape(t, 52, 3).astype(np.float64))
    rows6d = local[..., :2, :].reshape(t, 312)  # FineDance/pytorch3d: the first two matrix rows
    a = np.concatenate([dance.trans, rows6d], 1)
    if width == 319:
        a = np.concatenate([np.ones((t, 4)), a], 1)
    np.save(tmp_path / "001.npy", a.astype(np.float32))
    m = load_motion(tmp_path / "001.npy")
    assert m.fmt == "finedance"
    np.testing.assert_allclose(m.joints, fk(dance), atol=1e-5)


@pytest.mark.parametrize("shape", [(40, 52, 3), (40, 22, 3), (40, 156), (40, 66)])
def test_joints_npy(tmp_path, shape):
    a = np.random.default_rng(0).normal(size=shape).astype(np.float32)
    np.save(tmp_path / "j.npy", a)
    m = load_motion(tmp_path / "j.npy")
    assert m.fmt == "joints" and m.smplx is None
    np.testing.assert_array_equal(m.joints, a.reshape(40, -1, 3))


def test_edge_csv_real_aistpp_slice():
    path = realdata("aistpp_edge/true_gBR_sBM_cAll_d04_mBR0_ch02_slice0.csv")
    raw = np.loadtxt(path, delimiter=",").reshape(150, 24, 3)
    m = load_motion(path)
    assert m.fmt == "edge_csv" and m.joints.shape == (150, 22, 3)
    np.testing.assert_allclose(m.joints, raw[:, :22] @ np.array([[1, 0, 0], [0, 0, 1], [0, -1, 0]]).T, atol=1e-6)
    j = m.joints
    assert (j[:, 15, 1] > j[:, 0, 1]).all() and (j[:, 0, 1] > j[:, [10, 11], 1].max(1)).all()  # head > pelvis > feet
    lengths = np.linalg.norm(j[:, 1:] - j[:, PARENTS[1:22]], axis=-1)
    assert lengths.std(0).max() < 1e-4  # rigid bones: a real FK skeleton


def test_souldance_detects_smplx_layouts_and_lists_them(tmp_path, dance):
    np.savez(tmp_path / "slice0.npz", poses=dance.poses, trans=dance.trans)
    assert load_motion(tmp_path / "slice0.npz", fmt="souldance").fmt == "smplx_npz"
    with open(tmp_path / "slice1.pkl", "wb") as f:
        pickle.dump({"q": dance.poses, "pos": dance.trans, "fps": 30}, f)
    assert load_motion(tmp_path / "slice1.pkl", fmt="souldance").fmt == "edge_pkl"
    np.save(tmp_path / "fd.npy", np.zeros((10, 315), np.float32))
    with pytest.raises(UserError) as err:
        load_motion(tmp_path / "fd.npy", fmt="souldance")
    msg = str(err.value)
    assert "fd.npy" in msg and "\n" not in msg
    assert all(name in msg for name in ("smplx_npz", "motionx", "edge_pkl", "aistpp")) and "finedance" not in msg
    assert set(format_names()) >= {"auto", "souldance", "finedance", "bvh", "edge_csv"}


def test_npy_holding_a_pickled_dict(tmp_path, dance):
    np.save(tmp_path / "d.npy", {"q": dance.poses, "pos": dance.trans, "fps": 30}, allow_pickle=True)
    assert load_motion(tmp_path / "d.npy").fmt == "edge_pkl"


def test_pickles_cannot_run_code(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("code ran",))

    with open(tmp_path / "evil.pkl", "wb") as f:
        pickle.dump({"q": Evil()}, f)
    with pytest.raises(UserError, match="refusing to load builtins.print"):
        load_motion(tmp_path / "evil.pkl")


def test_resample_interpolates_rotations_and_positions(dance):
    half = resample(SMPLXMotion(dance.poses[::2], dance.trans[::2], dance.betas, dance.expressions[::2], fps=15), 30)
    assert len(half) == 59  # frames 0 .. 58 of the 30 fps timeline
    np.testing.assert_allclose(half.poses[::2], dance.poses[::2], atol=1e-5)  # exact on source frames
    err = np.abs(fk_axis_angle(half.poses, half.trans) - fk(dance)[:59]).max()
    assert err < 0.02  # in-between frames: slerp of a smooth dance stays within 2 cm


def test_z_up_conversion_rotates_joints_rigidly(dance):
    joints = fk(dance)
    r_inv = np.array([[1.0, 0, 0], [0, 0, -1], [0, 1, 0]])
    poses, trans = ik_axis_angle(joints @ r_inv.T)  # the same dance, Z-up
    z_up = SMPLXMotion(poses, trans, dance.betas, dance.expressions)
    np.testing.assert_allclose(fk(z_up_to_y_up(z_up)), joints, atol=1e-5)


def test_readme_lists_every_format():
    readme = (REPO / "README.md").read_text()
    assert all(f"| `{name}` |" in readme for name in format_names() if name not in ("auto", "souldance"))


def test_a_named_format_checks_the_layout(tmp_path, dance):
    np.savez(tmp_path / "a.npz", poses=dance.poses, trans=dance.trans)
    for fmt in ("finedance", "joints", "motionx", "edge_csv", "bvh"):
        with pytest.raises(UserError, match=f"not a {fmt} file"):
            load_motion(tmp_path / "a.npz", fmt=fmt)


def test_edge_unsliced_pickle_divides_by_scale(tmp_path, dance):
    with open(tmp_path / "gBR.pkl", "wb") as f:
        pickle.dump({"q": dance.poses, "pos": dance.trans * 90.0, "scale": np.array([90.0]), "fps": 30}, f)
    np.testing.assert_allclose(load_motion(tmp_path / "gBR.pkl").smplx.trans, dance.trans, atol=1e-6)


def test_edge_outputs_with_full_pose_are_read_z_up(tmp_path, dance):
    joints = fk(dance)
    r_inv = np.array([[1.0, 0, 0], [0, 0, -1], [0, 1, 0]])  # Y-up -> Z-up
    poses, trans = ik_axis_angle(joints @ r_inv.T)
    with open(tmp_path / "test_out.pkl", "wb") as f:
        pickle.dump({"smpl_poses": poses, "smpl_trans": trans, "full_pose": joints[:, :24] @ r_inv.T}, f)
    np.testing.assert_allclose(load_motion(tmp_path / "test_out.pkl").joints, joints, atol=1e-5)


@pytest.mark.parametrize(
    "content, message",
    [
        ({"poses": np.zeros((2, 165)), "trans": np.zeros((2, 3)), "mocap_frame_rate": 60}, "needs at least 2 frames"),
        ({"poses": np.zeros((5, 165)), "trans": np.zeros((5, 3)), "mocap_frame_rate": 1e-300}, "frame rate"),
        ({"poses": np.zeros((5, 165)), "trans": np.zeros((5, 3)), "betas": np.array(["a", "b"])}, "betas must be"),
        ({"poses": np.zeros((5, 165)).astype(str), "trans": np.zeros((5, 3))}, "poses must be a real-valued"),
        ({"x": 5}, "unknown motion layout"),
        ({"q": [[1, 2], [3]], "pos": np.zeros((2, 3))}, "q must be a real-valued"),
    ],
)
def test_odd_contents_end_in_one_line(tmp_path, content, message):
    with open(tmp_path / "odd.pkl", "wb") as f:
        pickle.dump(content, f)
    with pytest.raises(UserError, match=message) as err:
        load_motion(tmp_path / "odd.pkl")
    assert "odd.pkl" in str(err.value) and "\n" not in str(err.value)


def test_finedance_zero_6d_row_is_reported(tmp_path):
    a = np.tile([0, 0, 0] + [1, 0, 0, 0, 1, 0] * 52, (10, 1)).astype(np.float32)
    a[4, 10:16] = 0
    np.save(tmp_path / "fd.npy", a)
    with pytest.raises(UserError, match="degenerate 6-D rotation .* frame 4"):
        load_motion(tmp_path / "fd.npy")


def test_npz_with_a_pickled_metadata_member(tmp_path, dance):
    np.savez(tmp_path / "m.npz", poses=dance.poses, trans=dance.trans, meta=np.array({"source": "x"}, dtype=object))
    assert load_motion(tmp_path / "m.npz").joints.shape == (60, 52, 3)


def test_pickles_cannot_import_other_numpy_modules(tmp_path):
    (tmp_path / "f2py.pkl").write_bytes(b"cnumpy.f2py.__main__\nXDType\n.")
    with pytest.raises(UserError, match="refusing to load numpy.f2py.__main__.XDType"):
        load_motion(tmp_path / "f2py.pkl")


def test_exported_npz_has_beat2_betas(tmp_path, dance):
    save_smplx_npz(tmp_path / "e.npz", dance)
    with np.load(tmp_path / "e.npz") as f:
        assert f["betas"].shape == (300,) and f["mocap_frame_rate"].dtype == np.int32


@pytest.mark.parametrize("protocol", range(6))
def test_edge_slice_of_every_pickle_protocol(tmp_path, dance, protocol):
    """EDGE slices pickled with protocol 2 spell their array bytes as `_codecs.encode(text, "latin1")`: read, and
    equal to every other protocol's."""
    with open(tmp_path / "slice.pkl", "wb") as f:
        pickle.dump({"q": dance.poses[:, :72], "pos": dance.trans, "scale": np.float32(1.0)}, f, protocol=protocol)
    m = load_motion(tmp_path / "slice.pkl")
    assert m.fmt == "edge_pkl" and m.joints.shape[1:] == (52, 3)
    with open(tmp_path / "slice.pkl", "wb") as f:
        pickle.dump({"q": dance.poses[:, :72], "pos": dance.trans, "scale": np.float32(1.0)}, f, protocol=4)
    reference = load_motion(tmp_path / "slice.pkl")
    np.testing.assert_array_equal(m.joints, reference.joints)
