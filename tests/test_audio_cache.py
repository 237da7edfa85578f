"""Music features are cached by the audio's content: a replaced song is extracted again, an unchanged one is not; two
music files of one clip end in one line naming both, before any work."""

from __future__ import annotations

import json
import os
import shutil

import numpy as np
import pytest
import soundfile as sf

from data.audio_extraction import registry
from data.audio_extraction.cache import record_path
from data.audio_extraction.registry import MusicFeatureType
from data.dataset_build import BuildOptions, music_step
from data.registry import dataset_spec
from tests.conftest import REPO, load_script

SR = 22050


def song(path, hz: float, bpm: float, seconds: float = 1.5) -> None:
    """A click track at `hz`, a beat every 60 / bpm s (the same length gives the same wav size)."""
    t = np.arange(int(seconds * SR)) / SR
    sf.write(path, (0.3 * np.sin(2 * np.pi * hz * t) * (((t * bpm / 60) % 1) < 0.1)).astype(np.float32), SR)


@pytest.fixture
def counting(monkeypatch):
    """A registered feature type that counts its extractions: (L, 2) rows of the file's mean sample and length."""
    calls = []

    def extract(path, **_options):
        calls.append(path.name)
        y, _ = sf.read(path)
        return np.tile([y.mean(), len(y)], (45, 1)).astype(np.float32)

    monkeypatch.setitem(
        registry._REGISTRY,
        "counting",
        MusicFeatureType(
            name="counting",
            dim=2,
            fps=30,
            modes=("full_song", "per_slice"),
            description="test",
            song=extract,
            slices=lambda path, **o: extract(path, **o)[None],
        ),
    )
    return calls


def step(tmp_path, path, mtype: str = "counting", mode: str = "full_song", **opts) -> np.ndarray:
    options = BuildOptions(root=tmp_path, spec=dataset_spec("custom"), **opts)
    music_step(path, mtype, mode, options)
    return np.load(tmp_path / "processed" / options.music_dir(mtype, mode) / f"{path.stem}.npy")


@pytest.mark.filterwarnings("ignore:n_fft=.*too large:UserWarning")  # librosa's CQT on a 1.5 s song
def test_a_replaced_song_gets_new_baseline_features(tmp_path):
    """The review's case, with the real extractor: same name, same size, even the same modification time."""
    path = tmp_path / "song.wav"
    song(path, 440, 120)
    first = step(tmp_path, path, "baseline")
    stat = path.stat()
    song(path, 330, 90)  # another song under the same name
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert path.stat().st_size == stat.st_size and path.stat().st_mtime_ns == stat.st_mtime_ns
    second = step(tmp_path, path, "baseline")
    assert first.shape == second.shape == (46, 35) and not np.allclose(first, second)
    record = json.loads(record_path(tmp_path / "processed" / "music" / "baseline_full_song" / "song.npy").read_text())
    assert record["file"] == "song.wav" and record["size"] == stat.st_size and len(record["sha256"]) == 64


def _replace(path):
    song(path, 330, 90)


def _touch(path):
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))


def _copy_same_bytes(path):
    shutil.copyfile(path, path.with_suffix(".bak"))
    path.unlink()
    shutil.move(path.with_suffix(".bak"), path)


def _drop_record(_path, cache):
    record_path(cache).unlink()


def _corrupt_record(_path, cache):
    record_path(cache).write_text("{not json")


def _drop_features(_path, cache):
    cache.unlink()


# (what happens between two builds, is the song extracted again)
CATALOGUE_MUSIC_CACHE = [
    ("replaced by other audio", lambda p, _c: _replace(p), True),
    ("touched (new time, same bytes)", lambda p, _c: _touch(p), False),
    ("copied over with the same bytes", lambda p, _c: _copy_same_bytes(p), False),
    ("nothing", lambda _p, _c: None, False),
    ("record missing (an older build)", _drop_record, True),
    ("record unreadable", _corrupt_record, True),
    ("features missing", _drop_features, True),
]


@pytest.mark.parametrize(("what", "change", "again"), CATALOGUE_MUSIC_CACHE, ids=[c[0] for c in CATALOGUE_MUSIC_CACHE])
def test_cache_follows_the_audio_content(tmp_path, counting, what, change, again):
    path = tmp_path / "song.wav"
    song(path, 440, 120)
    first = step(tmp_path, path)
    change(path, tmp_path / "processed" / "music" / "counting_full_song" / "song.npy")
    second = step(tmp_path, path)
    assert counting == ["song.wav"] * (2 if again else 1)
    assert np.array_equal(first, second) != (what == "replaced by other audio")


def test_changed_extraction_options_are_extracted_again(tmp_path, counting):
    path = tmp_path / "song.wav"
    song(path, 440, 120)
    step(tmp_path, path, mode="per_slice", stride=0.5)
    step(tmp_path, path, mode="per_slice", stride=0.5)
    assert len(counting) == 1
    options = BuildOptions(root=tmp_path, spec=dataset_spec("custom"), stride=0.5)
    out = tmp_path / "processed" / options.music_dir("counting", "per_slice") / "song.npy"
    record = json.loads(record_path(out).read_text())
    record["options"]["stride"] = "0.25"  # as if the folder had been made with other options
    record_path(out).write_text(json.dumps(record))
    step(tmp_path, path, mode="per_slice", stride=0.5)
    assert len(counting) == 2


# Two music (or motion) files of one clip: (dataset layout, files, the two names the one-line error must show)
CATALOGUE_MUSIC_FILES = [
    ("custom", ["take.npz", "take.wav", "take.mp3"], ("take.mp3", "take.wav")),
    ("custom", ["take.npz", "take.wav", "take.flac"], ("take.flac", "take.wav")),
    (
        "souldance",
        ["motion/a_slice0.npz", "music/a_slice0.mp4", "music/a_slice0.wav"],
        ("a_slice0.mp4", "a_slice0.wav"),
    ),
    ("finedance", ["motion/001.npy", "motion/001.npz", "music_wav/001.wav"], ("001.npy", "001.npz")),
]


@pytest.mark.parametrize(("dataset", "files", "named"), CATALOGUE_MUSIC_FILES)
def test_two_files_of_one_clip_end_in_one_line(tmp_path, monkeypatch, capsys, dataset, files, named):
    root = tmp_path / "data"
    for f in files:
        (root / f).parent.mkdir(parents=True, exist_ok=True)
        (root / f).write_bytes(b"x")  # never read: the layout is refused first
    before = sorted(root.rglob("*"))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exc:
        load_script("create_dataset", folder=REPO).main(
            ["--dataset_name", dataset, "--data_root", "data", "--extract-baseline"]
        )
    err = capsys.readouterr().err
    assert exc.value.code == 2 and err.count("\n") == 1 and "Traceback" not in err, err
    assert all(name in err for name in named) and "keep one" in err, err
    assert sorted(root.rglob("*")) == before and sorted(tmp_path.iterdir()) == [root]  # nothing written
