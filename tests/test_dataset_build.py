"""Dataset building and loaders: every raw layout on tiny files, splits per sequence, skips, resume, shapes."""

import json
import os
import pickle
import shutil
import subprocess
import time

import imageio_ffmpeg
import numpy as np
import pytest
import soundfile as sf
import torch

from data.dataset_build import BuildOptions, assign_splits, block_stats, build_dataset, check_disjoint
from data.loaders import MusicMotionClips, ProcessedData, TokenizerWindows, make_loader
from data.packed import row_statistics
from data.registry import dataset_spec
from data.synthetic_dance import synthesize_dance
from motion.rotation import axis_angle_to_matrix
from tests.conftest import REPO, load_script
from utils.cli import UserError

SR = 22050


def music(path, seconds: float, bpm: float = 120.0) -> None:
    """A click track (wav/mp3/... by suffix; mp4 through ffmpeg)."""
    t = np.arange(int(seconds * SR)) / SR
    y = 0.3 * np.sin(2 * np.pi * 440 * t) * (((t * bpm / 60) % 1) < 0.05)
    if path.suffix == ".mp4":
        sf.write(path.with_suffix(".tmp.wav"), y.astype(np.float32), SR)
        subprocess.run(
            [
                imageio_ffmpeg.get_ffmpeg_exe(),
                "-y",
                "-loglevel",
                "error",
                "-f",
                "lavfi",
                "-i",
                f"color=c=black:s=32x32:d={seconds}",
                "-i",
                str(path.with_suffix(".tmp.wav")),
                "-shortest",
                "-c:v",
                "libx264",
                "-c:a",
                "aac",
                str(path),
            ],
            check=True,
        )
        path.with_suffix(".tmp.wav").unlink()
    else:
        sf.write(path, y.astype(np.float32), SR)


def smplx_npz(path, seconds: float, seed: int = 0, face: bool = True) -> None:
    m = synthesize_dance(round(seconds * 30), seed=seed)
    extra = {"expressions": m.expressions} if face else {}
    np.savez(path, poses=m.poses, trans=m.trans, betas=m.betas, mocap_frame_rate=30, **extra)


def build(root, name, **kw) -> dict:
    return build_dataset(BuildOptions(root=root, spec=dataset_spec(name), **kw))


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    """`create_dataset.py --dataset_name synthetic`, then `--extract-baseline`, as a user runs them."""
    base = tmp_path_factory.mktemp("data")
    mp = pytest.MonkeyPatch()
    mp.setenv("DANCE_DATA_DIR", str(base))
    main = load_script("create_dataset", folder=REPO).main
    first = main(["--dataset_name", "synthetic", "--synthetic_songs", "4"])
    cache = sorted((base / "synthetic" / "processed" / "cache" / "motion").glob("*.npz"))
    stamps = [p.stat().st_mtime_ns for p in cache]
    second = main(["--dataset_name", "synthetic", "--synthetic_songs", "4", "--extract-baseline"])
    mp.undo()
    return {"root": base / "synthetic", "first": first, "second": second, "cache": cache, "stamps": stamps}


def test_synthetic_build_then_baseline(synthetic):
    first, second = synthetic["first"], synthetic["second"]
    assert first["music"] == {} and second["music"]["baseline"]["dim"] == 35
    assert second["clips"] == 4 and second["motion_dim"] == 723 and second["skipped"] == []
    assert sum(second["windows_per_split"].values()) == 4 * ((599 - 150) // 15 + 1)
    assert [p.stat().st_mtime_ns for p in synthetic["cache"]] == synthetic["stamps"]  # motion not redone
    out = synthetic["root"] / "processed"
    for f in ("Mean.npy", "Std.npy", "windows.npy", "clips.json", "summary.json", "splits/train.txt"):
        assert (out / f).is_file()


def test_loaders_return_the_documented_shapes(synthetic):
    data = ProcessedData(synthetic["root"])
    windows = make_loader(TokenizerWindows(data, "train", window_size=64), batch_size=16)
    batch = next(iter(windows))
    assert batch.shape == (16, 64, 723) and batch.dtype == torch.float32
    clips = MusicMotionClips(data, "train", "baseline")
    b = next(iter(make_loader(clips, batch_size=8)))
    assert b["motion"].shape == (8, 148, 723) and b["music"].shape == (8, 148, 35) and b["music_clip"].shape == (8, 35)
    assert b["length"].tolist() == [148] * 8 and len(b["name"]) == 8 and b["sequence"].shape == (8,)
    ev = MusicMotionClips(data, "test", "baseline", deterministic=True, normalize=False)
    item = ev[0]
    clip = data.clips[int(item["sequence"])]["name"]
    start = int(data.windows[data.windows[:, 0] == int(item["sequence"])][int(item["window"]), 1])
    motion = np.load(synthetic["root"] / "processed" / "motion" / f"{clip}.npy")
    np.testing.assert_array_equal(item["motion"].numpy(), motion[start : start + 148])  # frame-aligned, no offset
    song = np.load(synthetic["root"] / "processed" / "music" / "baseline_full_song" / f"{clip}.npy")
    np.testing.assert_array_equal(item["music"].numpy(), song[start : start + 148])
    with pytest.raises(UserError, match="create_dataset.py --dataset_name synthetic --data_root .* --extract-jukebox"):
        MusicMotionClips(data, "train", "jukebox")


def test_loaders_run_with_worker_processes(synthetic):
    data = ProcessedData(synthetic["root"])
    loader = make_loader(TokenizerWindows(data, "train", window_size=64), batch_size=8, workers=2)
    first, second = [b for _, b in zip(range(2), loader, strict=False)]
    assert first.shape == second.shape == (8, 64, 723) and not torch.equal(first, second)
    clips = make_loader(MusicMotionClips(data, "train", "baseline"), batch_size=4, workers=2)
    batch = next(iter(clips))
    assert batch["motion"].shape == (4, 148, 723) and len(batch["name"]) == 4


def test_normalised_windows_use_block_stats(synthetic):
    data = ProcessedData(synthetic["root"])
    raw = TokenizerWindows(data, "train", 64, normalize=False, deterministic=True)
    norm = TokenizerWindows(data, "train", 64, normalize=True, deterministic=True)
    mean, std = data.normalizer()
    np.testing.assert_allclose(((raw[5] - mean) / std).numpy(), norm[5].numpy(), atol=1e-5)
    layout_blocks = {"ric": slice(4, 67)}  # the body ric block of the 723 layout shares one std
    assert np.unique(data.std[layout_blocks["ric"]]).size == 1


def test_training_reads_packed_memory_maps_remade_when_a_source_changes(synthetic, tmp_path):
    """Loaders map `packed/<split>/` (written by the build) instead of loading the split; a worker gets the path, not
    the data; a replaced music file is packed again."""
    root = tmp_path / "copy"
    shutil.copytree(synthetic["root"] / "processed", root / "processed")
    packed = root / "processed" / "packed"
    assert {p.name for p in (packed / "train").iterdir()} >= {"motion.npy", "baseline_full_song.npy"}
    data = ProcessedData(root)
    clips = MusicMotionClips(data, "train", "baseline", deterministic=True, normalize=False)
    assert isinstance(clips.motion.rows, np.memmap) and isinstance(clips.music.rows, np.memmap)
    assert len(pickle.dumps(clips)) < clips.music.rows.nbytes / 4  # workers map the file again
    assert isinstance(pickle.loads(pickle.dumps(clips)).music.rows, np.memmap)
    first = clips[0]
    song = root / "processed" / "music" / "baseline_full_song" / f"{first['name']}.npy"
    np.save(song, np.load(song) + 1.0)
    os.utime(song, ns=(time.time_ns(), time.time_ns() + 10**9))  # a later modification time, whatever the clock
    again = MusicMotionClips(data, "train", "baseline", deterministic=True, normalize=False)[0]
    np.testing.assert_array_equal(again["music"].numpy(), first["music"].numpy() + 1.0)
    np.testing.assert_array_equal(again["motion"].numpy(), first["motion"].numpy())
    rows = np.random.default_rng(0).normal(3.0, 2.0, size=(1000, 7))
    mean, std = row_statistics(rows, chunk=64)
    np.testing.assert_allclose(mean, rows.mean(0), rtol=1e-12)
    np.testing.assert_allclose(std, rows.std(0), rtol=1e-9)


def test_block_stats_known_values():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(500, 623)) * np.linspace(0.5, 2.0, 623)
    mean, std = block_stats([x[:200], x[200:]])
    np.testing.assert_allclose(mean, x.mean(0), atol=1e-5)
    np.testing.assert_allclose(std[4:157], x.std(0)[4:157].mean(), rtol=1e-5)  # the ric block: one value
    np.testing.assert_allclose(std[0], x.std(0)[0], rtol=1e-5)


def test_splits_never_straddle_sequences(tmp_path):
    spec = dataset_spec("souldance")
    clips = {f"{seq}_slice{k}": seq for seq in ("a", "b", "c", "d", "e", "f") for k in range(5)}
    split_of, skipped = assign_splits(clips, BuildOptions(root=tmp_path, spec=spec, seed=3))
    assert skipped == [] and set(split_of.values()) == {"train", "val", "test"}
    for seq in "abcdef":
        assert len({split_of[c] for c, s in clips.items() if s == seq}) == 1
    with pytest.raises(UserError, match="sequence 'a' has clips in both"):
        check_disjoint({"a_slice0": "train", "a_slice1": "test"}, {"a_slice0": "a", "a_slice1": "a"})
    (tmp_path / "splits").mkdir()
    (tmp_path / "splits" / "train.txt").write_text("a_slice0\nb\n")
    (tmp_path / "splits" / "test.txt").write_text("a_slice1\n")
    with pytest.raises(UserError, match="both"):
        assign_splits({"a_slice0": "a", "a_slice1": "a", "b_slice0": "b"}, BuildOptions(root=tmp_path, spec=spec))


def test_souldance_layout_with_mp4_music_and_skips(tmp_path):
    (tmp_path / "motion").mkdir()
    (tmp_path / "music").mkdir()
    for k in range(3):
        smplx_npz(tmp_path / "motion" / f"4036_slice{k}.npz", 5.5, seed=k)
        music(tmp_path / "music" / f"4036_slice{k}.mp4", 5.5)
    smplx_npz(tmp_path / "motion" / "9_slice0.npz", 5.5, seed=5)
    music(tmp_path / "music" / "9_slice0.mp4", 5.5)
    smplx_npz(tmp_path / "motion" / "lonely_slice0.npz", 5.5)  # motion without music
    music(tmp_path / "music" / "orphan.mp4", 2.0)  # music without motion
    smplx_npz(tmp_path / "motion" / "short_slice0.npz", 2.0)  # too short
    music(tmp_path / "music" / "short_slice0.mp4", 2.0)
    (tmp_path / "motion" / "broken_slice0.npz").write_bytes(b"PK\x03\x04 cut")  # unreadable
    music(tmp_path / "music" / "broken_slice0.mp4", 5.5)
    smplx_npz(tmp_path / "motion" / "noface_slice0.npz", 5.5, face=False)  # souldance is 723-d
    music(tmp_path / "music" / "noface_slice0.mp4", 5.5)
    summary = build(tmp_path, "souldance", music_types=("baseline",))
    assert summary["clips"] == 4 and summary["sequences"] == 2 and summary["motion_dim"] == 723
    reasons = {item["item"]: item["reason"] for item in summary["skipped"]}
    assert "motion without music" in reasons["lonely_slice0"] and "music without motion" in reasons["orphan"]
    assert "too short" in reasons["short_slice0"] and "truncated or corrupt" in reasons["broken_slice0"]
    assert "no face" in reasons["noface_slice0"]
    clips = json.loads((tmp_path / "processed" / "clips.json").read_text())
    assert len({c["split"] for c in clips if c["sequence"] == "4036"}) == 1


def test_aistpp_layout_with_edge_lists(tmp_path):
    (tmp_path / "motions").mkdir()
    (tmp_path / "wavs").mkdir()
    (tmp_path / "splits").mkdir()
    names = ["gBR_sBM_cAll_d04_mBR0_ch01", "gBR_sBM_cAll_d04_mBR0_ch02", "gLH_sBM_cAll_d18_mLH4_ch02"]
    for k, name in enumerate(names):
        m = synthesize_dance(2 * 181, fps=60, seed=k)  # 6 s at 60 fps
        smpl = np.concatenate([m.poses[:, :66], np.zeros((len(m.poses), 6))], 1)
        with open(tmp_path / "motions" / f"{name}.pkl", "wb") as f:
            pickle.dump({"smpl_poses": smpl, "smpl_trans": m.trans * 90.0, "smpl_scaling": np.array([90.0])}, f)
    music(tmp_path / "wavs" / "mBR0.wav", 6.0)  # AIST++ music ids
    music(tmp_path / "wavs" / "mLH4.wav", 6.0)
    (tmp_path / "splits" / "crossmodal_train.txt").write_text(f"{names[0]}\n{names[2]}\n")
    (tmp_path / "splits" / "crossmodal_test.txt").write_text(f"{names[1]}\n")
    (tmp_path / "splits" / "ignore_list.txt").write_text(f"{names[2]}\n")
    summary = build(tmp_path, "aistpp", music_types=("baseline",))
    assert summary["clips"] == 2 and summary["motion_dim"] == 623
    songs = sorted(p.name for p in (tmp_path / "processed" / summary["music"]["baseline"]["dir"]).glob("*.npy"))
    assert songs == ["mBR0.npy", "mLH4.npy"]  # one file per song: the two mBR0 dancers share theirs
    assert {c["music"] for c in json.loads((tmp_path / "processed" / "clips.json").read_text())} == {"mBR0"}
    assert summary["clips_per_split"] == {"train": 1, "val": 0, "test": 1}
    assert any("ignore list" in s["reason"] for s in summary["skipped"])


def test_finedance_layout(tmp_path):
    (tmp_path / "motion").mkdir()
    (tmp_path / "music_wav").mkdir()
    for k in range(3):
        m = synthesize_dance(180, seed=k)
        rot = axis_angle_to_matrix(np.delete(m.poses, range(66, 75), 1).reshape(180, 52, 3).astype(np.float64))
        np.save(tmp_path / "motion" / f"00{k}.npy", np.concatenate([m.trans, rot[..., :2, :].reshape(180, 312)], 1))
        music(tmp_path / "music_wav" / f"00{k}.wav", 6.0)
    summary = build(tmp_path, "findance")  # the seed's spelling
    assert summary["dataset"] == "finedance" and summary["clips"] == 3 and summary["motion_dim"] == 623


def test_custom_layout_per_slice_music_and_resume(tmp_path):
    for k in range(3):
        smplx_npz(tmp_path / f"take{k}.npz", 6.0, seed=k)
        music(tmp_path / f"take{k}.mp3", 6.0)
    summary = build(tmp_path, "custom", music_types=("baseline",), feature_mode="per_slice")
    assert summary["clips"] == 3 and summary["motion_dim"] == 723
    assert summary["music"]["baseline"]["mode"] == "per_slice"
    data = ProcessedData(tmp_path)
    clips = MusicMotionClips(data, "train", "baseline", deterministic=True)
    item = clips[1]
    slices = np.load(tmp_path / "processed" / summary["music"]["baseline"]["dir"] / f"{item['name']}.npy")
    assert slices.shape[1:] == (150, 35)
    np.testing.assert_array_equal(item["music"].numpy(), slices[int(item["window"])][:148])
    again = build(tmp_path, "custom", music_types=("baseline",), feature_mode="per_slice")
    assert again["windows_per_split"] == summary["windows_per_split"]


def test_create_dataset_cli_errors(tmp_path, monkeypatch, capsys):
    main = load_script("create_dataset", folder=REPO).main
    monkeypatch.setenv("DANCE_DATA_DIR", str(tmp_path))
    for argv, message in (
        (["--dataset_name", "finedance"], "no motion files with matching music"),
        (["--dataset_name", "synthetic", "--fps", "60"], "30 fps"),
    ):
        with pytest.raises(SystemExit) as exc:
            main(argv)
        err = capsys.readouterr().err
        assert exc.value.code == 2 and err.count("\n") == 1 and message in err


def test_parallel_workers_give_the_same_dataset(tmp_path):
    _mk(tmp_path / "a")
    for k in range(3):
        smplx_npz(tmp_path / "a" / f"t{k}.npz", 5.5, seed=k)
        music(tmp_path / "a" / f"t{k}.wav", 5.5)
    serial = build(tmp_path / "a", "custom")
    windows = np.load(tmp_path / "a" / "processed" / "windows.npy")
    parallel = build(_copy(tmp_path / "a", tmp_path / "b"), "custom", workers=2)
    assert parallel["clips_per_split"] == serial["clips_per_split"]
    np.testing.assert_array_equal(np.load(tmp_path / "b" / "processed" / "windows.npy"), windows)
    for k in range(3):
        np.testing.assert_array_equal(
            np.load(tmp_path / "a" / "processed" / "motion" / f"t{k}.npy"),
            np.load(tmp_path / "b" / "processed" / "motion" / f"t{k}.npy"),
        )


def _mk(path):
    path.mkdir(parents=True, exist_ok=True)
    return path


def _copy(src, dst):
    _mk(dst)
    for f in src.iterdir():
        if f.is_file():
            (dst / f.name).write_bytes(f.read_bytes())
    return dst


def test_stale_caches_and_changed_options_are_redone(tmp_path):
    for k in range(3):
        smplx_npz(tmp_path / f"t{k}.npz", 5.5, seed=k)
        music(tmp_path / f"t{k}.wav", 5.5)
    build(tmp_path, "custom")
    with pytest.raises(UserError, match="too short"):  # the cached 5.5 s clips no longer hold a 6 s window
        build(tmp_path, "custom", length=6.0)
    before = np.load(tmp_path / "processed" / "motion" / "t0.npy")
    smplx_npz(tmp_path / "t0.npz", 5.5, seed=9)  # a corrected take under the same name
    build(tmp_path, "custom")
    assert not np.array_equal(np.load(tmp_path / "processed" / "motion" / "t0.npy"), before)


def test_short_music_is_skipped_not_kept_without_windows(tmp_path):
    for k in range(3):
        smplx_npz(tmp_path / f"t{k}.npz", 6.0, seed=k)
        music(tmp_path / f"t{k}.wav", 6.0 if k else 3.0)
    summary = build(tmp_path, "custom", music_types=("baseline",))
    assert summary["clips"] == 2
    assert {"item": "t0", "reason": "music shorter than one 5 s window"} in summary["skipped"]


def test_per_slice_follows_stride_and_length(tmp_path):
    for k in range(3):
        smplx_npz(tmp_path / f"t{k}.npz", 7.0, seed=k)
        music(tmp_path / f"t{k}.wav", 7.0)
    summary = build(tmp_path, "custom", music_types=("baseline",), feature_mode="per_slice", stride=1.0, length=4.0)
    assert summary["music"]["baseline"]["dir"].endswith("_4s_1s")
    windows = np.load(tmp_path / "processed" / "windows.npy")
    assert windows[:, 2].tolist() == [120] * len(windows) and sorted(set(windows[:, 1].tolist())) == [0, 30, 60]
    clips = MusicMotionClips(ProcessedData(tmp_path), "train", "baseline", deterministic=True)
    item = clips[2]
    slices = np.load(tmp_path / "processed" / summary["music"]["baseline"]["dir"] / f"{item['name']}.npy")
    assert slices.shape[1:] == (120, 35)
    np.testing.assert_array_equal(item["music"].numpy(), slices[int(item["window"])][:120])


def test_split_lists_ignore_lists_and_growth(tmp_path):
    spec = dataset_spec("aistpp")
    (tmp_path / "splits").mkdir()
    (tmp_path / "splits" / "ignore_list.txt").write_text("b\n")
    split_of, skipped = assign_splits({"a": "a", "b": "b", "c": "c"}, BuildOptions(root=tmp_path, spec=spec))
    assert "b" not in split_of and skipped == [("b", "in the dataset's ignore list")]  # seeded branch too
    (tmp_path / "splits" / "crossmodal_train.txt").write_text("a\nc\n")
    (tmp_path / "splits" / "crossmodal_test.txt").write_text("c\n")
    with pytest.raises(UserError, match="'c' is listed in both"):
        assign_splits({"a": "a", "c": "c"}, BuildOptions(root=tmp_path, spec=spec))
    opts = BuildOptions(root=tmp_path / "none", spec=dataset_spec("custom"), seed=1)
    twenty = assign_splits({f"s{i:02d}": f"s{i:02d}" for i in range(20)}, opts)[0]
    more = assign_splits({f"s{i:02d}": f"s{i:02d}" for i in range(21)}, opts)[0]
    assert sum(twenty[k] != more[k] for k in twenty) <= 2  # a new sequence moves at most the boundary ones


def test_window_ids_group_by_source_sequence(tmp_path):
    (tmp_path / "motion").mkdir()
    (tmp_path / "music").mkdir()
    for seq, k in (("40", 0), ("40", 1), ("41", 0), ("42", 0)):
        smplx_npz(tmp_path / "motion" / f"{seq}_slice{k}.npz", 5.2, seed=k + int(seq))
        music(tmp_path / "music" / f"{seq}_slice{k}.wav", 5.2)
    build(tmp_path, "souldance", music_types=("baseline",))
    data = ProcessedData(tmp_path)
    split = next(c["split"] for c in data.clips if c["sequence"] == "40")
    clips = MusicMotionClips(data, split, "baseline", deterministic=True)
    batch = clips.__getitems__(list(range(len(clips))))
    by_name = {n: int(s) for n, s in zip(batch["name"], batch["sequence"], strict=True)}
    assert by_name["40_slice0"] == by_name["40_slice1"] and batch["clip"].unique().numel() >= 2


def test_bad_build_options(tmp_path):
    with pytest.raises(UserError, match="--stride 0: must be a whole number of frames at 30 fps"):
        BuildOptions(root=tmp_path, spec=dataset_spec("custom"), stride=0)
    with pytest.raises(UserError, match="--length 5.01: must be a whole number of frames"):
        BuildOptions(root=tmp_path, spec=dataset_spec("custom"), length=5.01)
    assert BuildOptions(root=tmp_path, spec=dataset_spec("custom"), stride=1 / 3).stride_frames == 10
    with pytest.raises(UserError, match="--jukebox_weights"):
        BuildOptions(root=tmp_path, spec=dataset_spec("custom"), music_types=("jukebox",))
    with pytest.raises(UserError, match="no per_slice mode"):
        BuildOptions(
            root=tmp_path,
            spec=dataset_spec("custom"),
            music_types=("jukebox",),
            feature_mode="per_slice",
            music_options={"jukebox": {"weights_dir": tmp_path}},
        )
