"""Skeleton definition, forward/inverse kinematics and the exact smplx path."""

import json

import numpy as np
import pytest

from motion.kinematics import fk_axis_angle, forward_kinematics, ik_axis_angle, inverse_kinematics
from motion.rotation import axis_angle_to_matrix
from motion.skeleton import JOINT_NAMES, N_JOINTS, PARENTS, SMPLX_JOINT_INDICES, default_skeleton
from tests.conftest import realdata


def test_joint_set_is_smplx_body_plus_fingers():
    assert len(JOINT_NAMES) == N_JOINTS == 52
    assert JOINT_NAMES[20:24] == ("left_wrist", "right_wrist", "left_index1", "left_index2")
    assert JOINT_NAMES[PARENTS[22]] == "left_wrist" and JOINT_NAMES[PARENTS[37]] == "right_wrist"
    assert list(SMPLX_JOINT_INDICES[21:23]) == [21, 25]


def test_default_skeleton_is_symmetric_and_plausible():
    s = default_skeleton()
    left = [i for i, n in enumerate(JOINT_NAMES) if n.startswith("left")]
    for i in left:
        j = JOINT_NAMES.index("right" + JOINT_NAMES[i].removeprefix("left"))
        np.testing.assert_allclose(s.rest_joints[j], s.rest_joints[i] * [-1, 1, 1], atol=1e-12)
    height = s.rest_joints[:, 1].max() - s.rest_joints[:, 1].min()  # head joint to ball of foot
    assert 1.4 < height < 1.7


def test_default_bone_lengths_within_15_percent_of_smplx_rest():
    ref = json.loads(realdata("skeleton/smplx55_rest.json").read_text())
    joints = np.asarray(ref["rest_joints"])[ref["subset52_indices"]]
    assert ref["subset52_parents"] == PARENTS.tolist() and ref["subset52_names"] == list(JOINT_NAMES)
    ref_len = np.linalg.norm(joints[1:] - joints[PARENTS[1:]], axis=-1)
    ratio = default_skeleton().bone_lengths[1:] / ref_len
    worst = np.argmax(np.abs(ratio - 1))
    assert np.all(np.abs(ratio - 1) < 0.15), f"{JOINT_NAMES[worst + 1]} ratio {ratio[worst]:.3f}"


def test_fk_of_rest_pose_gives_rest_joints():
    s = default_skeleton()
    joints = fk_axis_angle(np.zeros((3, 165)), np.zeros((3, 3)))
    np.testing.assert_allclose(joints, np.broadcast_to(s.rest_joints, joints.shape), atol=1e-6)
    shifted = fk_axis_angle(np.zeros((1, 165)), np.array([[1.0, 2.0, 3.0]]))
    np.testing.assert_allclose(shifted[0], s.rest_joints + [1, 2, 3], atol=1e-6)


def test_fk_matches_a_naive_per_joint_loop():
    s = default_skeleton()
    rng = np.random.default_rng(1)
    rot = axis_angle_to_matrix(rng.normal(scale=0.5, size=(4, N_JOINTS, 3)))
    root = rng.normal(size=(4, 3))
    joints, glob = forward_kinematics(rot, root, s)
    for t in range(4):
        g = [rot[t, 0]]
        x = [root[t]]
        for j in range(1, N_JOINTS):
            p = PARENTS[j]
            g.append(g[p] @ rot[t, j])
            x.append(x[p] + g[p] @ s.offsets[j])
        np.testing.assert_allclose(joints[t], np.stack(x), atol=1e-12)
        np.testing.assert_allclose(glob[t], np.stack(g), atol=1e-12)


def test_fk_ik_round_trip_on_beat2(beat2):
    joints = fk_axis_angle(beat2["poses"], beat2["trans"])  # (T, 52, 3) real body + finger motion
    poses, trans = ik_axis_angle(joints)
    again = fk_axis_angle(poses, trans)
    assert np.linalg.norm(again - joints, axis=-1).max() < 0.01
    assert np.abs(poses.reshape(-1, 55, 3)[:, 22:25]).max() == 0  # jaw and eyes are not solved


def test_ik_on_another_skeleton_matches_bone_directions():
    s = default_skeleton()
    rng = np.random.default_rng(2)
    joints = fk_axis_angle(rng.normal(scale=0.3, size=(5, 165)), np.zeros((5, 3)))
    stretched = joints * 1.1  # a taller performer: directions stay, lengths change
    local, trans = inverse_kinematics(stretched, s)
    again, _ = forward_kinematics(local, s.rest_joints[0] + trans, s)
    kids = np.arange(1, N_JOINTS)
    d1 = again[:, kids] - again[:, PARENTS[kids]]
    d2 = stretched[:, kids] - stretched[:, PARENTS[kids]]
    cos = (d1 * d2).sum(-1) / np.linalg.norm(d1, axis=-1) / np.linalg.norm(d2, axis=-1)
    assert cos.min() > 0.999


def test_smplx_package_path_matches_our_fk(fake_smplx_dir, beat2):
    pytest.importorskip("smplx")
    from motion.smplx_model import smplx_joints

    sl = slice(0, 120)
    ours = fk_axis_angle(beat2["poses"][sl], beat2["trans"][sl])
    theirs = smplx_joints(
        beat2["poses"][sl], beat2["trans"][sl], fake_smplx_dir, beat2["betas"], beat2["expressions"][sl]
    )
    np.testing.assert_allclose(theirs, ours, atol=1e-5)


def test_smplx_missing_model_says_where_to_get_it(tmp_path):
    from motion.smplx_model import resolve_smplx_file

    with pytest.raises(FileNotFoundError, match="smpl-x.is.tue.mpg.de"):
        resolve_smplx_file(tmp_path)
