"""Rotation conversions: round trips, known values, numpy/torch parity, fitting."""

import numpy as np
import pytest
import torch

from motion import rotation as R

RNG = np.random.default_rng(0)


def random_rotvec(n: int) -> np.ndarray:
    axis = RNG.normal(size=(n, 3))
    axis /= np.linalg.norm(axis, axis=-1, keepdims=True)
    return axis * RNG.uniform(0, np.pi - 1e-3, size=(n, 1))


def test_known_quarter_turn_about_z():
    m = R.axis_angle_to_matrix(np.array([0.0, 0.0, np.pi / 2]))
    np.testing.assert_allclose(m @ np.array([1.0, 0, 0]), [0, 1, 0], atol=1e-12)
    q = R.axis_angle_to_quat(np.array([0.0, 0.0, np.pi / 2]))
    np.testing.assert_allclose(R.qrot(q, np.array([1.0, 0, 0])), [0, 1, 0], atol=1e-12)


@pytest.mark.parametrize("n", [1, 257])
def test_round_trips(n):
    aa = random_rotvec(n)
    np.testing.assert_allclose(R.quat_to_axis_angle(R.axis_angle_to_quat(aa)), aa, atol=1e-9)
    m = R.axis_angle_to_matrix(aa)
    np.testing.assert_allclose(R.matrix_to_axis_angle(m), aa, atol=1e-7)
    np.testing.assert_allclose(R.cont6d_to_matrix(R.matrix_to_cont6d(m)), m, atol=1e-12)
    np.testing.assert_allclose(m @ np.swapaxes(m, -1, -2), np.broadcast_to(np.eye(3), m.shape), atol=1e-12)
    q = R.matrix_to_quat(m)
    np.testing.assert_allclose(R.quat_to_matrix(q), m, atol=1e-12)


def test_small_angles_are_stable():
    aa = np.array([[1e-9, 0, 0], [0, 0, 0]])
    assert np.isfinite(R.quat_to_axis_angle(R.axis_angle_to_quat(aa))).all()
    np.testing.assert_allclose(R.matrix_to_axis_angle(R.axis_angle_to_matrix(aa)), aa, atol=1e-12)


def test_quaternion_algebra_matches_matrices():
    q1, q2 = R.axis_angle_to_quat(random_rotvec(50)), R.axis_angle_to_quat(random_rotvec(50))
    v = RNG.normal(size=(50, 3))
    product = R.quat_to_matrix(q1) @ R.quat_to_matrix(q2)
    np.testing.assert_allclose(R.quat_to_matrix(R.qmul(q1, q2)), product, atol=1e-12)
    np.testing.assert_allclose(R.qrot(R.qinv(q1), R.qrot(q1, v)), v, atol=1e-12)
    np.testing.assert_allclose(R.qrot(q1, v), (R.quat_to_matrix(q1) @ v[..., None])[..., 0], atol=1e-12)


def test_qbetween_and_swing_map_directions():
    u, v = RNG.normal(size=(100, 3)), RNG.normal(size=(100, 3))
    unit = v / np.linalg.norm(v, axis=-1, keepdims=True)
    rotated = R.qrot(R.qbetween(u, v), u)
    np.testing.assert_allclose(rotated / np.linalg.norm(rotated, axis=-1, keepdims=True), unit, atol=1e-9)
    sw = R.swing_rotation(u, v) @ (u / np.linalg.norm(u, axis=-1, keepdims=True))[..., None]
    np.testing.assert_allclose(sw[..., 0], unit, atol=1e-9)
    # exactly opposite directions: still a proper rotation taking u to -u
    opp = R.swing_rotation(np.array([1.0, 0, 0]), np.array([-1.0, 0, 0]))
    np.testing.assert_allclose(opp @ [1.0, 0, 0], [-1, 0, 0], atol=1e-12)
    assert np.linalg.det(opp) == pytest.approx(1.0)


def test_qfix_removes_sign_flips():
    q = R.axis_angle_to_quat(np.linspace([0, 0, 0], [0, 2.5, 0], 20))
    flipped = q * np.where(np.arange(20) % 3 == 1, -1, 1)[:, None]
    fixed = R.qfix(flipped[:, None])[:, 0]
    assert ((fixed[1:] * fixed[:-1]).sum(-1) > 0).all()
    np.testing.assert_allclose(np.abs(fixed), np.abs(q))
    one = R.qfix(q[:1, None])  # a single frame is kept as it is (it used to come back empty)
    np.testing.assert_array_equal(one, q[:1, None])


def test_rotation_fit_recovers_rigid_rotation():
    rot = R.axis_angle_to_matrix(random_rotvec(10))  # (10, 3, 3)
    src = RNG.normal(size=(10, 5, 3))
    dst = np.einsum("bij,bkj->bki", rot, src)
    np.testing.assert_allclose(R.rotation_fit(src, dst), rot, atol=1e-9)


def test_numpy_and_torch_agree_and_torch_is_differentiable():
    aa = random_rotvec(8)
    np.testing.assert_allclose(R.axis_angle_to_matrix(torch.from_numpy(aa)).numpy(), R.axis_angle_to_matrix(aa))
    assert isinstance(R.qmul(torch.ones(4), torch.ones(4)), torch.Tensor)
    x = torch.from_numpy(aa).requires_grad_()
    R.matrix_to_cont6d(R.axis_angle_to_matrix(x)).sum().backward()
    assert torch.isfinite(x.grad).all()


def test_long_inputs_are_chunked_without_changing_results():
    q = R.axis_angle_to_quat(random_rotvec(3 * R.CHUNK_FRAMES + 5))
    v = RNG.normal(size=q.shape[:-1] + (3,))
    whole = R.qrot(torch.from_numpy(q), torch.from_numpy(v)).numpy()
    np.testing.assert_array_equal(R.qrot(q, v), whole)


@pytest.mark.parametrize("order", ["XYZ", "XZY", "YXZ", "YZX", "ZXY", "ZYX"])
def test_euler_round_trip_and_axis_order(order):
    rng = np.random.default_rng(1)
    angles = rng.uniform(-3.0, 3.0, (500, 3))
    angles[:, 1] = rng.uniform(-1.5, 1.5, 500)  # away from gimbal lock
    m = R.euler_to_matrix(angles, order)
    np.testing.assert_allclose(R.matrix_to_euler(m, order), angles, atol=1e-9)
    # intrinsic order: R = R_first @ R_second @ R_third, each a rotation about its own axis
    single = [R.euler_to_matrix(np.where(np.arange(3) == k, angles[:1], 0.0), order)[0] for k in range(3)]
    np.testing.assert_allclose(single[0] @ single[1] @ single[2], m[0], atol=1e-12)
    axis = {"X": 0, "Y": 1, "Z": 2}[order[0]]
    np.testing.assert_allclose(single[0][:, axis], np.eye(3)[axis], atol=1e-12)  # the first turns about its axis


def test_rows_6d_and_slerp():
    rng = np.random.default_rng(2)
    m = R.axis_angle_to_matrix(rng.normal(size=(50, 3)))
    np.testing.assert_allclose(R.rot6d_rows_to_matrix(m[:, :2, :].reshape(50, 6)), m, atol=1e-12)
    q0, q1 = R.axis_angle_to_quat(rng.normal(size=(50, 3))), R.axis_angle_to_quat(rng.normal(size=(50, 3)))
    np.testing.assert_array_equal(R.qslerp(q0, q1, np.zeros(50)), q0)
    mid = R.qslerp(q0, q1, np.full(50, 0.5))
    d0, d1 = np.abs((mid * q0).sum(-1)), np.abs((mid * q1).sum(-1))
    np.testing.assert_allclose(d0, d1, atol=1e-9)  # halfway: equally far from both ends
    np.testing.assert_allclose(np.linalg.norm(mid, axis=-1), 1.0, atol=1e-12)
