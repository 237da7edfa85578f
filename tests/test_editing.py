"""Editing without models: spans and parts parsed, an edit laid out on tokens and frames, sources read, and the
option combinations `gen_m2m.py` refuses (the edits themselves run in tests/test_pipeline.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from data.formats.smplx_npz import save_smplx_npz
from data.synthetic_dance import synthesize_dance
from gen_m2m import build_parser
from generator.editing import (
    Edit,
    Source,
    given_tokens,
    parse_parts,
    parse_spans,
    plan_edit,
    prefix_edit,
    read_source,
    with_rest_fingers,
)
from motion.kinematics import fk_axis_angle
from motion.skeleton import N_BODY_JOINTS, N_JOINTS, default_skeleton
from options.generation_options import edit_request
from utils.cli import UserError

PARTS = ("body", "hands", "face")


def source(frames: int = 300, fingers: bool = True, face: bool = True) -> Source:
    m = synthesize_dance(frames, seed=2)
    joints = fk_axis_angle(m.poses, m.trans)
    return Source(joints, m.expressions if face else None, Path("dance.npz"), fingers)


def test_spans_and_parts_parse_or_end_in_one_line():
    assert parse_spans("0-10, 20-35") == ((0.0, 10.0), (20.0, 35.0))
    assert parse_spans("20-35,0-10,8-12") == ((0.0, 12.0), (20.0, 35.0))  # sorted, overlaps merged
    assert parse_spans("1.5-2.25") == ((1.5, 2.25),)
    for bad in ("10-5", "a-b", "-3-4", "5", "1-2,,3-4", ""):
        with pytest.raises(UserError, match="--keep"):
            parse_spans(bad)
    assert parse_parts("hands, face") == ("hands", "face")
    with pytest.raises(UserError, match="--regen"):
        parse_parts("hands,tail")
    with pytest.raises(UserError, match="new dance"):
        Edit()
    with pytest.raises(UserError, match="variation"):
        Edit(variation=0.0)


def test_kept_spans_give_the_token_times_inside_them_and_their_frames():
    src = source(300)
    plan = plan_edit(PARTS, True, src, Edit(keep=((0, 2), (5.1, 6))), 360, 4)
    assert plan.given.shape == (3, 90)
    # 0-2 s = frames 0-59 = token times 0-14; 5.1-6 s = frames 153-179: token times 39-44 lie wholly inside
    expected = np.zeros(90, bool)
    expected[:15] = expected[39:45] = True
    assert (plan.given == expected[None]).all()
    kept = np.zeros(360, bool)
    kept[:60] = kept[153:180] = True
    assert (plan.keep.positions.all(1) == kept).all() and (plan.keep.positions.any(1) == kept).all()
    assert (plan.keep.face == kept).all()


def test_regenerated_parts_keep_the_others_where_the_source_exists():
    src = source(100)
    plan = plan_edit(PARTS, True, src, Edit(regen=("hands", "face")), 160, 4)  # the song is longer than the source
    assert plan.given[0, :25].all() and not plan.given[0, 25:].any()  # body tokens of the source's 100 frames
    assert not plan.given[1:].any()
    pos = plan.keep.positions
    assert pos[:100, :N_BODY_JOINTS].all() and not pos[:, N_BODY_JOINTS:].any() and not pos[100:].any()
    assert not plan.keep.face.any()
    body = plan_edit(PARTS, True, src, Edit(regen=("body",)), 100, 4)
    assert not body.keep.positions.any()  # a new body: no joint stays where it was
    assert body.keep.rotations[:, N_BODY_JOINTS:].all() and not body.keep.rotations[:, :N_BODY_JOINTS].any()
    assert body.keep.face.all() and body.given[1:].all() and not body.given[0].any()


def test_what_the_tokenizer_or_the_source_cannot_do_is_one_line_or_generated():
    src = source(300)
    with pytest.raises(UserError, match="one token stream"):
        plan_edit(("all",), False, src, Edit(regen=("hands",)), 300, 4)
    with pytest.raises(UserError, match="no face part"):
        plan_edit(("body", "hands"), False, src, Edit(regen=("face",)), 300, 4)
    with pytest.raises(UserError, match="leaves nothing to keep: that is a new dance"):
        plan_edit(PARTS, True, src, Edit(regen=PARTS), 300, 4)
    assert plan_edit(PARTS, True, src, Edit(keep=((0, 2),), regen=PARTS), 300, 4).given[:, :15].all()  # = --keep
    bare = source(300, fingers=False, face=False)  # nothing but a body: a new body leaves nothing to keep
    with pytest.raises(UserError, match=r"no hands or face to keep\): that is a new dance"):
        plan_edit(PARTS, True, bare, Edit(regen=("body",)), 300, 4)
    with pytest.raises(UserError, match="shorter than a frame"):
        plan_edit(PARTS, True, src, Edit(keep=((1.0, 1.01),)), 300, 4)
    with pytest.raises(UserError, match="the song is 10.00 s"):
        plan_edit(PARTS, True, src, Edit(keep=((2, 11),)), 300, 4)
    with pytest.raises(UserError, match="dance.npz is 5.00 s"):
        plan_edit(PARTS, True, source(150), Edit(keep=((2, 6),)), 300, 4)
    plan = plan_edit(PARTS, True, source(300, fingers=False, face=False), Edit(regen=("face",)), 300, 4)
    assert plan.regen == ("face", "hands") and len(plan.notes) == 1  # no fingers to keep: they are generated
    assert plan.given[0].all() and not plan.given[1:].any()


def test_a_variation_resamples_its_fraction_of_the_free_token_times():
    src = source(400)
    plan = plan_edit(PARTS, True, src, Edit(keep=((0, 4),), variation=0.25), 400, 4, seed=3)
    free_before = 100 - 30  # token times outside 0-4 s
    resampled = (~plan.given.all(0)).sum()
    assert resampled == round(0.25 * free_before) and plan.given[:, :30].all()
    again = plan_edit(PARTS, True, src, Edit(keep=((0, 4),), variation=0.25), 400, 4, seed=3)
    assert (again.given == plan.given).all()  # seeded
    assert not plan.keep.positions[120:].any()  # tokens are kept, not frames
    bare = plan_edit(PARTS, True, source(400, fingers=False, face=False), Edit(variation=0.25), 400, 4, seed=3)
    assert bare.given[0].sum() == 100 - round(0.25 * 100) and not bare.given[1:].any()  # rest fingers never kept


def test_the_songs_last_token_is_given_when_its_frames_are_kept():
    plan = plan_edit(PARTS, True, source(298), Edit(regen=("hands",)), 298, 4)  # 74.5 tokens: the last half one
    assert plan.given.shape == (3, 75) and plan.given[0].all() and plan.given[2].all() and not plan.given[1].any()


def test_without_a_residual_model_only_the_base_layer_is_given():
    src = torch.arange(2 * 5 * 3).reshape(2, 5, 3)
    given = np.array([[True, True, False, False, True, False], [False] * 6])
    tokens = given_tokens(src, given)
    assert tokens.shape == (2, 6, 3) and (tokens[0, :2] == src[0, :2]).all() and (tokens[0, 4] == src[0, 4]).all()
    assert (tokens[0, [2, 3, 5]] == -1).all() and (tokens[1] == -1).all()
    base = given_tokens(src, given, residual=False)
    assert (base[..., 0] == tokens[..., 0]).all() and (base[..., 1:] == -1).all()


def test_a_prefix_keeps_its_first_seconds():
    src = source(150)
    edit = prefix_edit(src, 3.0, 900)
    assert edit.keep == ((0.0, 3.0),) and edit.continues and "first 3 s" in edit.describe()
    assert prefix_edit(src, None, 900).keep == ((0.0, 5.0),)
    with pytest.raises(UserError, match="5.00 s long"):
        prefix_edit(src, 6.0, 900)
    with pytest.raises(UserError, match="as long as the song"):
        prefix_edit(src, 5.0, 150)
    with pytest.raises(UserError, match="give 1/30 <= S"):
        prefix_edit(src, 0.01, 900)


def test_sources_read_as_written_and_body_only_ones_get_resting_fingers(tmp_path):
    m = synthesize_dance(60, seed=4)
    joints = fk_axis_angle(m.poses, m.trans) * np.float32(1.01)  # not on the default skeleton
    ours = tmp_path / "ours.npz"
    save_smplx_npz(ours, m, joints=joints, features=np.zeros((60, 723), np.float32))
    src = read_source(ours)
    assert np.array_equal(src.joints, joints) and src.face is not None and src.fingers
    body = joints[:, :N_BODY_JOINTS]
    full = with_rest_fingers(body)
    assert np.array_equal(full[:, :N_BODY_JOINTS], body)
    parents = default_skeleton().parents
    fingers = np.arange(N_BODY_JOINTS, N_JOINTS)
    bones = np.linalg.norm(full[:, fingers] - full[:, parents[fingers]], axis=-1)
    assert bones.std(0).max() < 1e-5 and np.allclose(bones[0], default_skeleton().bone_lengths[fingers], atol=1e-5)
    with pytest.raises(UserError):
        read_source(tmp_path / "missing.npz")


@pytest.mark.parametrize(
    "args, message",
    [
        ("--keep 0-3", "--keep needs --edit"),
        ("--variation 0.5 --music {m}", "--variation needs --edit"),
        ("--edit a.npz --prefix b.bvh --music {m}", "give one"),
        ("--prefix b.bvh --keep 0-2 --music {m}", "not a --prefix"),
        ("--prefix_seconds 3 --music {m}", "--prefix_seconds needs --prefix"),
        ("--edit a.npz --keep 0-2", "needs --music FILE"),
        ("--edit a.npz --keep 0-2 --music {d}", "needs --music FILE"),
        ("--edit a.npz --music {m}", "needs --keep, --regen or --variation"),
    ],
)
def test_nonsense_option_combinations_are_one_line(tmp_path, args, message):
    song = tmp_path / "song.wav"
    song.write_bytes(b"")
    argv = ["--name", "m", *args.format(m=song, d=tmp_path).split()]
    with pytest.raises(UserError, match=message):
        edit_request(build_parser().parse_args(argv))


def test_a_plain_run_is_no_edit_and_an_edit_names_its_source(tmp_path):
    parse = build_parser().parse_args
    assert edit_request(parse(["--name", "m", "--music", "song.wav"])) is None
    argv = ["--name", "m", "--music", str(tmp_path / "s.wav"), "--edit", "d.npz", "--regen", "hands"]
    assert edit_request(parse(argv)) == (Path("d.npz"), "edit")
