"""BVH export and import: round trips on real motion, a real third-party BVH, malformed files."""

import numpy as np
import pytest

from data.formats import load_motion
from motion.bvh import read_bvh, write_bvh
from motion.skeleton import JOINT_NAMES, PARENTS, default_skeleton
from tests.conftest import realdata
from utils.cli import UserError


def test_bvh_round_trip_on_real_beat2(tmp_path):
    joints = load_motion(realdata("beat2/2_scott_0_1_1.npz")).joints  # (1906, 52, 3) real fingers
    write_bvh(tmp_path / "scott.bvh", joints)
    bvh = read_bvh(tmp_path / "scott.bvh")
    assert bvh.fps == 30 and set(bvh.names) == set(JOINT_NAMES) and bvh.positions.shape == (1906, 52, 3)
    order = bvh.index(JOINT_NAMES)
    assert np.abs(bvh.positions[:, order] - joints).max() < 0.01  # the bound: 1 cm
    assert np.abs(bvh.positions[:, order] - joints).max() < 1e-4  # what it really is: rounding of the text
    parents = {bvh.names[j]: bvh.names[p] for j, p in enumerate(bvh.parents) if p >= 0}
    assert all(parents[JOINT_NAMES[j]] == JOINT_NAMES[PARENTS[j]] for j in range(1, 52))
    rest_lengths = np.linalg.norm(bvh.offsets[order][1:], axis=-1)
    np.testing.assert_allclose(rest_lengths, default_skeleton().bone_lengths[1:], atol=1e-6)  # metres, our skeleton
    reread = load_motion(tmp_path / "scott.bvh")
    assert reread.fmt == "bvh" and np.abs(reread.joints - joints).max() < 1e-4


def test_bvh_of_a_taller_performer_reimports_within_1cm(tmp_path):
    rng = np.random.default_rng(0)
    joints = load_motion(realdata("beat2/2_scott_0_1_1.npz")).joints[:100] * 1.1  # other proportions
    joints += rng.normal(scale=1e-3, size=joints.shape).astype(np.float32)  # and mocap noise
    write_bvh(tmp_path / "b.bvh", joints)
    bvh = read_bvh(tmp_path / "b.bvh")
    back = bvh.positions[:, bvh.index(JOINT_NAMES)]
    assert np.abs(back - joints).max() < 0.01
    lengths = np.linalg.norm(bvh.offsets[bvh.index(JOINT_NAMES)][1:], axis=-1)
    np.testing.assert_allclose(lengths, 1.1 * default_skeleton().bone_lengths[1:], atol=2e-3)  # the clip's bones


def test_read_real_bandai_dance_bvh():
    bvh = read_bvh(realdata("bandai/dataset-1_dance-short_normal_001.bvh"), scale=0.01)  # centimetres
    assert bvh.positions.shape == (1901, 22, 3) and bvh.fps == 30
    assert bvh.names[1] == "Hips" and bvh.names[-1] == "Toes_R"
    p = bvh.positions
    lengths = np.linalg.norm(p[:, 2:] - p[:, bvh.parents[2:]], axis=-1)  # every joint has 6 channels here
    assert lengths.std(0).max() < 1e-6  # bones stay rigid: channels parsed in the right order
    head, toes = bvh.names.index("Head"), bvh.names.index("Toes_L")
    assert 1.1 < np.median(p[:, head, 1] - p[:, toes, 1]) < 1.6  # a standing adult, Y up, metres


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda t: t[: len(t) - 500], "truncated BVH"),
        (lambda t: t[:2000], "not a BVH file, or a truncated one"),
        (lambda t: t.replace("Frame Time: 0.03333333", "Frame Time: 0"), "Frame Time must be a positive"),
        (lambda t: t.replace("Zrotation Xrotation Yrotation", "Xrotation Xrotation Yrotation", 1), "unsupported"),
        (
            lambda t: t.replace("CHANNELS 3 Zrotation Xrotation Yrotation", "CHANNELS 2 Zrotation Xrotation", 1),
            "unsupported channels",
        ),
        (lambda t: t.replace("Xposition", "Wposition", 1), "unsupported channels"),
    ],
)
def test_malformed_bvh_files_end_in_one_line(tmp_path, edit, message):
    joints = load_motion(realdata("beat2/2_scott_0_1_1.npz")).joints[:20]
    text = write_bvh(tmp_path / "ok.bvh", joints).read_text()
    (tmp_path / "bad.bvh").write_text(edit(text))
    with pytest.raises(UserError, match=message) as err:
        read_bvh(tmp_path / "bad.bvh")
    assert str(err.value).count(str(tmp_path / "bad.bvh")) == 1 and "\n" not in str(err.value)


def test_foreign_bvh_is_not_read_as_project_joints():
    with pytest.raises(UserError, match="not the project's 52"):
        load_motion(realdata("bandai/dataset-1_dance-short_normal_001.bvh"))


def test_a_failed_bvh_write_leaves_the_previous_file(tmp_path, monkeypatch):
    """write_bvh goes through utils.atomic: a write that fails half-way keeps the old file and leaves no temporary."""
    joints = default_skeleton().rest_joints[None].repeat(3, axis=0)  # (3, 52, 3)
    path = write_bvh(tmp_path / "a.bvh", joints)
    before = path.read_text()

    def fail(*_args, **_kwargs):
        raise OSError("disk unplugged")

    monkeypatch.setattr(np, "savetxt", fail)
    with pytest.raises(OSError, match="disk unplugged"):
        write_bvh(path, joints + 1.0)
    assert path.read_text() == before and [p.name for p in tmp_path.iterdir()] == ["a.bvh"]
