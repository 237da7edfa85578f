"""35-d baseline music features: EDGE's recipe number for number (per_slice), beat accuracy, full-song windows."""

import os

import librosa
import numpy as np
import pytest
import soundfile as sf

from data.audio_extraction import baseline as B
from tests.conftest import realdata

SR = 22050


def synth_song(
    seconds: float, bpm: float, phase: float, sr: int = SR, drums: bool = True, pad: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Music the test makes itself: a click track, or a drum track (a kick with its beater click on every beat),
    optionally over a chord pad. Returns the samples and the beat times (s)."""
    n = int(seconds * sr)
    t = np.arange(n) / sr
    beats = np.arange(phase, seconds, 60 / bpm)
    hit = np.arange(int(0.12 * sr)) / sr
    click = np.sin(2 * np.pi * 1000 * hit) * np.exp(-hit / 0.003)
    kick = np.sin(2 * np.pi * (50 + 120 * np.exp(-hit / 0.02)) * hit) * np.exp(-hit / 0.07)
    sound = kick + 0.3 * click if drums else click
    y = (
        0.03 * (np.sin(2 * np.pi * 220 * t) + np.sin(2 * np.pi * 277.2 * t) + np.sin(2 * np.pi * 330 * t))
        if pad
        else np.zeros(n)
    )
    for b in beats:
        i = int(round(b * sr))
        seg = y[i : i + len(sound)]
        seg += sound[: len(seg)]
    return (0.5 * y).astype(np.float32), beats


def edge_reference(song: str, out_dir: str) -> np.ndarray:
    """EDGE's own steps, written out literally: slice_audio (files on disk), then extract on each slice file."""
    fps, hop = 30, 512
    sr_feat = fps * hop
    audio, sr = librosa.load(song, sr=None)
    name = os.path.splitext(os.path.basename(song))[0]
    start, idx, window, step = 0, 0, int(5.0 * sr), int(0.5 * sr)
    while start <= len(audio) - window:
        sf.write(f"{out_dir}/{name}_slice{idx}.wav", audio[start : start + window], sr)
        start += step
        idx += 1
    feats = []
    for k in range(idx):
        fpath = f"{out_dir}/{name}_slice{k}.wav"
        data, _ = librosa.load(fpath, sr=sr_feat)
        envelope = librosa.onset.onset_strength(y=data, sr=sr_feat)
        mfcc = librosa.feature.mfcc(y=data, sr=sr_feat, n_mfcc=20).T
        chroma = librosa.feature.chroma_cens(y=data, sr=sr_feat, hop_length=hop, n_chroma=12).T
        peak_idxs = librosa.onset.onset_detect(onset_envelope=envelope.flatten(), sr=sr_feat, hop_length=hop)
        peak_onehot = np.zeros_like(envelope, dtype=np.float32)
        peak_onehot[peak_idxs] = 1.0
        try:
            field = os.path.basename(fpath).split("_")[4]
            assert len(field) == 4
            if field[:3] in ("mBR", "mPO", "mLO", "mMH", "mLH", "mWA", "mKR", "mJS", "mJB"):
                start_bpm = int(field[3]) * 10 + 80
            else:
                assert field[:3] == "mHO"
                start_bpm = int(field[3]) * 5 + 110
        except (IndexError, AssertionError):
            start_bpm = librosa.feature.tempo(y=librosa.load(fpath)[0])[0]
        _, beat_idxs = librosa.beat.beat_track(
            onset_envelope=envelope, sr=sr_feat, hop_length=hop, start_bpm=start_bpm, tightness=100
        )
        beat_onehot = np.zeros_like(envelope, dtype=np.float32)
        beat_onehot[beat_idxs] = 1.0
        f = np.concatenate([envelope[:, None], mfcc, chroma, peak_onehot[:, None], beat_onehot[:, None]], axis=-1)
        feats.append(f[: 5 * fps])
    return np.stack(feats)


# tempo estimated / from the AIST++ name (two genre rules) / an AIST-like name that is not one
@pytest.mark.parametrize("name", ["song", "gBR_sBM_cAll_d04_mBR3_ch02", "gHO_sBM_cAll_d20_mHO5_ch13", "a_b_c_d_mXX1"])
def test_per_slice_equals_edge_recipe(tmp_path, name):
    y, _ = synth_song(6.2, bpm=110, phase=0.2, pad=True)
    song = tmp_path / f"{name}.wav"
    sf.write(song, y, 44100 // 2)
    ours = B.per_slice_features(song)  # (n, 150, 35)
    (tmp_path / "slices").mkdir()
    ref = edge_reference(str(song), str(tmp_path / "slices"))
    assert ours.shape == ref.shape == (3, 150, 35) and ours.dtype == np.float32
    np.testing.assert_array_equal(ours, ref)  # tolerance: none, bit for bit


def test_aist_tempo_from_names():
    assert B.aist_tempo("gBR_sBM_cAll_d04_mBR0_ch02") == 80
    assert B.aist_tempo("gLH_sBM_cAll_d18_mLH4_ch02_slice1") == 120
    assert B.aist_tempo("gHO_sBM_cAll_d20_mHO5_ch13") == 135
    assert B.aist_tempo("my_song") is None and B.aist_tempo("a_b_c_d_mXX1") is None


def test_beats_of_synthetic_tracks_within_one_frame(tmp_path):
    """Click and drum tracks at 80-140 BPM, random phase: >= 95 % of interior beats within 1 frame (recipe as is)."""
    rng = np.random.default_rng(7)
    hits = total = 0
    for k in range(24):
        bpm, phase = rng.uniform(80, 140), rng.uniform(0, 1)
        y, beats = synth_song(5.0, bpm, phase * 60 / bpm, drums=k % 2 == 0)
        sf.write(tmp_path / "t.wav", y, SR)
        found = np.flatnonzero(B.file_features(tmp_path / "t.wav")[:, -1])  # beat column, frame indices
        truth = np.round(beats[1:-1] * B.FPS).astype(int)  # interior beats
        dist = np.abs(found[None, :] - truth[:, None]).min(1) if len(found) else np.full(len(truth), 99)
        hits, total = hits + int((dist <= 1).sum()), total + len(truth)
    print(f"beats within 1 frame: {hits}/{total} = {hits / total:.3f}")
    assert hits / total >= 0.95


@pytest.mark.filterwarnings("ignore:n_fft=.*too large:UserWarning")  # librosa's CQT on a 2 s clip
def test_beats_of_real_annotated_clips():
    clips = {
        "madmom/sample.wav": [0.0913, 0.7997, 1.4806, 2.1478],
        "mirdata/guitarset_03_BN3-119-G_solo_mic.wav": [0.5042, 1.0084, 1.5126],
        "mirdata/brid_0001_M4-01-SA.wav": [0.025, 0.760, 1.490],
    }
    hits = total = 0
    for rel, beats in clips.items():
        found = np.flatnonzero(B.file_features(realdata(rel), no_chop=True)[:, -1]) / B.FPS
        close = [np.abs(found - b).min() <= 0.070 for b in beats]
        print(f"{rel}: {sum(close)}/{len(beats)} annotated beats within 70 ms")
        hits, total = hits + sum(close), total + len(beats)
    print(f"overall {hits}/{total}")
    assert hits / total >= 0.6


def test_full_song_features_and_windows(tmp_path):
    y, _ = synth_song(8.0, bpm=120, phase=0.1, pad=True)
    sf.write(tmp_path / "s.wav", y, SR)
    full = B.song_features(tmp_path / "s.wav")
    n15360 = len(librosa.resample(y, orig_sr=SR, target_sr=B.SR, res_type="soxr_hq"))
    assert full.shape == (1 + n15360 // B.HOP_LENGTH, 35) and full.dtype == np.float32
    w = B.windows(full)
    assert w.shape == ((len(full) - 150) // 15 + 1, 150, 35) and np.shares_memory(w, full)
    np.testing.assert_array_equal(w[3], full[45:195])
    beats = np.flatnonzero(full[:, -1]) / B.FPS
    assert np.allclose(np.diff(beats), 0.5, atol=2 / B.FPS)  # 120 BPM over the whole song
    assert set(np.unique(full[:, -2])) <= {0.0, 1.0} and np.isfinite(full).all()


def test_cli_modes_and_errors(tmp_path, capsys):
    y, _ = synth_song(3.0, bpm=100, phase=0.0)
    sf.write(tmp_path / "short.wav", y, SR)
    assert np.load(B.main([str(tmp_path / "short.wav"), "--out", str(tmp_path / "f.npy")])[0]).shape == (91, 35)
    out = B.main([str(tmp_path / "short.wav"), "--out", str(tmp_path / "p.npy"), "--per_slice", "--no_chop"])[0]
    assert np.load(out).shape == (91, 35)
    with pytest.raises(SystemExit) as exc:
        B.main([str(tmp_path / "short.wav"), "--no_chop"])
    assert "--no_chop goes with --per_slice" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        B.main([str(tmp_path / "short.wav"), "--per_slice"])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and err.count("\n") == 1
    assert "s of audio, a slice needs 5 s" in err and "--no_chop" in err


def test_cli_folder_with_two_files_of_one_name_is_refused(tmp_path, capsys):
    y, _ = synth_song(1.0, bpm=100, phase=0.0)
    for name in ("song.wav", "song.flac"):
        sf.write(tmp_path / name, y, SR)
    with pytest.raises(SystemExit) as exc:
        B.main([str(tmp_path), "--out", str(tmp_path / "feats")])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and err.count("\n") == 1 and "song.flac + song.wav -> " in err
    assert not (tmp_path / "feats").exists()  # refused before any extraction
