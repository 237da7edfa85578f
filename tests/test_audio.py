"""Audio I/O: every container the project reads, resampling as librosa does it, one-line errors."""

import subprocess

import imageio_ffmpeg
import librosa
import numpy as np
import pytest
import soundfile as sf

from tests.conftest import realdata
from utils.audio import load_audio
from utils.cli import UserError

SR = 22050


@pytest.fixture(scope="module")
def tone_files(tmp_path_factory):
    """A 2 s stereo chord in every audio container, and an mp4 with it as its audio track."""
    d = tmp_path_factory.mktemp("audio")
    t = np.arange(2 * SR) / SR
    y = np.stack([0.3 * np.sin(2 * np.pi * 220 * t), 0.2 * np.sin(2 * np.pi * 330 * t)], 1).astype(np.float32)
    for ext in ("wav", "flac", "ogg", "mp3"):
        sf.write(d / f"chord.{ext}", y, SR)
    ff = imageio_ffmpeg.get_ffmpeg_exe()
    subprocess.run(
        [
            ff,
            "-y",
            "-loglevel",
            "error",
            "-f",
            "lavfi",
            "-i",
            "color=c=black:s=64x64:d=2",
            "-i",
            str(d / "chord.wav"),
            "-shortest",
            "-c:v",
            "libx264",
            "-c:a",
            "aac",
            str(d / "chord.mp4"),
        ],
        check=True,
    )
    subprocess.run(
        [
            ff,
            "-y",
            "-loglevel",
            "error",
            "-f",
            "lavfi",
            "-i",
            "color=c=black:s=64x64:d=1",
            "-c:v",
            "libx264",
            str(d / "silent.mp4"),
        ],
        check=True,
    )
    return d, y.mean(1)


@pytest.mark.parametrize("ext", ["wav", "flac", "ogg", "mp3"])
def test_audio_files_read_like_librosa(tone_files, ext):
    d, _ = tone_files
    for sr in (None, 15360):
        y, out_sr = load_audio(d / f"chord.{ext}", sr=sr)
        ref, ref_sr = librosa.load(d / f"chord.{ext}", sr=sr)
        assert out_sr == ref_sr and y.dtype == np.float32 and y.ndim == 1
        np.testing.assert_allclose(y, ref, atol=1e-6)


def test_video_audio_track_through_bundled_ffmpeg(tone_files):
    d, mono = tone_files
    y, sr = load_audio(d / "chord.mp4", sr=SR)
    assert sr == SR and abs(len(y) - len(mono)) < 0.05 * SR  # AAC pads a few ms
    spectrum = np.abs(np.fft.rfft(y[: 2 * SR - 2048]))
    freqs = np.fft.rfftfreq(2 * SR - 2048, 1 / SR)
    peak = lambda f: spectrum[np.abs(freqs - f) < 3].max()  # noqa: E731
    assert min(peak(220), peak(330)) > 100 * np.median(spectrum)  # the two tones survive the AAC round trip
    y15, sr15 = load_audio(d / "chord.mp4", sr=15360)
    assert sr15 == 15360 and abs(len(y15) - 2 * 15360) < 0.05 * 15360


def test_audio_errors_are_one_line(tone_files, tmp_path):
    d, _ = tone_files
    (tmp_path / "bad.wav").write_bytes(b"RIFF....not audio at all")
    sf.write(tmp_path / "empty.wav", np.zeros(0, np.float32), SR)
    cases = {
        d / "silent.mp4": "has no audio track",
        tmp_path / "bad.wav": "not a readable audio or video file",
        tmp_path / "empty.wav": "has no audio samples",
        tmp_path / "none.mp3": "music file not found",
    }
    for path, message in cases.items():
        with pytest.raises(UserError, match=message) as err:
            load_audio(path)
        assert str(path) in str(err.value) and "\n" not in str(err.value)


def test_real_ogg_music():
    y, sr = load_audio(realdata("librosa_data/sorohanro_solo_trumpet_06.ogg"), sr=15360)
    assert sr == 15360 and 5.0 < len(y) / sr < 5.6 and np.abs(y).max() > 0.05


def test_video_channels_are_averaged_like_audio_files(tmp_path):
    t = np.arange(SR) / SR
    left_only = np.stack([0.5 * np.sin(2 * np.pi * 440 * t), np.zeros_like(t)], 1).astype(np.float32)
    sf.write(tmp_path / "st.wav", left_only, SR)
    subprocess.run(
        [
            imageio_ffmpeg.get_ffmpeg_exe(),
            "-y",
            "-loglevel",
            "error",
            "-i",
            str(tmp_path / "st.wav"),
            "-c:a",
            "pcm_s16le",
            str(tmp_path / "st.mkv"),
        ],
        check=True,
    )
    wav, _ = load_audio(tmp_path / "st.wav")
    mkv, _ = load_audio(tmp_path / "st.mkv")
    np.testing.assert_allclose(mkv, wav, atol=1e-4)  # the mean of the channels, not ffmpeg's own down-mix
    assert load_audio(tmp_path / "st.mkv", mono=False)[0].shape == (2, SR)


# name -> sample rate in the header of 100 samples: 1 Hz would make them 100 s of music
CATALOGUE_AUDIO = {"rate_1_hz": 1, "rate_999_hz": 999, "rate_2_mhz": 2_000_000}


@pytest.mark.parametrize("case", CATALOGUE_AUDIO)
def test_absurd_sample_rates_are_refused(tmp_path, case):
    sf.write(tmp_path / f"{case}.wav", np.zeros(100, np.float32), CATALOGUE_AUDIO[case])
    with pytest.raises(UserError) as err:
        load_audio(tmp_path / f"{case}.wav", sr=15360)
    line = str(err.value)
    assert line.startswith(f"{tmp_path / case}.wav: sample rate {CATALOGUE_AUDIO[case]} Hz is outside")
    assert "\n" not in line
    sf.write(tmp_path / "ok.wav", np.zeros(100, np.float32), 1000)  # the lowest rate read
    assert load_audio(tmp_path / "ok.wav")[1] == 1000
