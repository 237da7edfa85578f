"""MotionLayout: named blocks, exact 623 <-> 723 permutations, 263 body-only view, numpy and torch."""

import numpy as np
import pytest
import torch

from motion.layout import FACE_DIM, MotionLayout, layout_for_dim


def test_sizes_match_the_published_layouts():
    assert MotionLayout().dim == 623 and MotionLayout(22).dim == 263 and MotionLayout(face_dim=FACE_DIM).dim == 723
    s = MotionLayout().flat_slices
    widths = {k: v.stop - v.start for k, v in s.items()}
    assert widths == {
        "root": 4,
        "ric": 153,
        "rot6d": 306,
        "vel": 156,
        "contacts": 4,
        "root_rot_vel": 1,
        "root_lin_vel": 2,
        "root_y": 1,
    }
    assert MotionLayout(face_dim=FACE_DIM).part_dims == (263, 360, 100)
    assert MotionLayout().part_dims == (263, 360)


def test_grouped_layout_is_body_hands_face_by_hand_computed_indices():
    x = np.arange(623, dtype=np.float64)
    face = 1000 + np.arange(100.0)
    g = MotionLayout(face_dim=FACE_DIM).from_flat(x, face)
    expected_body = np.r_[0:4, 4:67, 157:283, 463:529, 619:623]  # root, body ric/rot/vel, contacts
    expected_hands = np.r_[67:157, 283:463, 529:619]
    np.testing.assert_array_equal(g[:263], expected_body)
    np.testing.assert_array_equal(g[263:623], expected_hands)
    np.testing.assert_array_equal(g[623:], face)


@pytest.mark.parametrize("as_torch", [False, True])
def test_round_trips_are_exact(as_torch):
    rng = np.random.default_rng(0)
    flat, face = rng.normal(size=(7, 623)), rng.normal(size=(7, 100))
    if as_torch:
        flat, face = torch.from_numpy(flat), torch.from_numpy(face)
    grouped = MotionLayout(face_dim=FACE_DIM)
    back, back_face = grouped.to_flat(grouped.from_flat(flat, face))
    assert (back == flat).all() and (back_face == face).all()
    for layout, x in ((MotionLayout(), flat), (grouped, grouped.from_flat(flat, face))):
        parts = layout.split(x)
        assert (layout.merge(parts) == x).all()
        assert (parts["ric"] == flat[..., 4:157]).all()


def test_body_only_is_the_same_263_from_either_layout():
    rng = np.random.default_rng(1)
    flat = rng.normal(size=(3, 623))
    grouped = MotionLayout(face_dim=FACE_DIM)
    np.testing.assert_array_equal(MotionLayout().body_only(flat), grouped.body_only(grouped.from_flat(flat)))
    assert MotionLayout(22).body_only(flat[:, :263]).shape == (3, 263)


def test_wrong_width_is_a_clear_error():
    with pytest.raises(ValueError, match="expected 623-d"):
        MotionLayout().split(np.zeros((2, 600)))
    with pytest.raises(ValueError, match="unknown motion feature width 500"):
        layout_for_dim(500)
