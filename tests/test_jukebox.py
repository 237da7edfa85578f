"""The Jukebox adapter's own logic with a stand-in model: chunking, stitching, pooling to 30 fps, caching, errors."""

import numpy as np
import pytest
import soundfile as sf

from data.audio_extraction import jukebox as J
from data.audio_extraction.registry import music_feature
from utils.cli import UserError


class LocalModel:
    """Stand-in: token k's activation depends only on its own 128 samples (energy, mean, a ramp of the index)."""

    def __init__(self, context_seconds: float = 3.0):
        self.context_seconds = context_seconds
        self.calls = []

    def activations(self, audio: np.ndarray, layer: int) -> np.ndarray:
        assert len(audio) / J.JUKEBOX_SR <= self.context_seconds + 1e-9 and layer == J.LAYER
        self.calls.append(len(audio))
        n = int(np.ceil(len(audio) / J.TOKEN_HOP))
        frames = np.pad(audio, (0, n * J.TOKEN_HOP - len(audio))).reshape(n, J.TOKEN_HOP)
        base = np.stack([(frames**2).mean(1), frames.mean(1)], 1)  # (n, 2)
        return np.tile(base, (1, J.JUKEBOX_DIM // 2)).astype(np.float32)


class ContextModel(LocalModel):
    """Stand-in whose activations also see where they sit in their chunk (like attention over a context)."""

    def activations(self, audio, layer):
        acts = super().activations(audio, layer)
        return acts + np.linspace(0, 1, len(acts), dtype=np.float32)[:, None]


def test_chunk_spans_tile_the_sequence():
    for n, chunk, overlap in [(100, 100, 10), (1000, 300, 60), (1001, 300, 61), (5000, 2048, 512)]:
        spans = J.chunk_spans(n, chunk, overlap)
        kept = np.concatenate([np.arange(a, b) for _, _, a, b in spans])
        np.testing.assert_array_equal(kept, np.arange(n))  # every token once, in order
        assert all(0 <= s <= a <= b <= e <= n and e - s <= chunk for s, e, a, b in spans)


def test_chunked_equals_whole_for_a_local_model():
    audio = np.random.default_rng(0).normal(size=int(10.3 * J.JUKEBOX_SR)).astype(np.float32)
    whole = J.JukeboxFeatures(LocalModel(context_seconds=60.0))
    model = LocalModel(context_seconds=3.0)
    chunked = J.JukeboxFeatures(model, chunk_seconds=3.0, overlap_seconds=1.0)
    np.testing.assert_allclose(chunked.from_audio(audio), whole.from_audio(audio), atol=1e-6)
    assert len(model.calls) > 3 and max(model.calls) <= 3.0 * J.JUKEBOX_SR


def test_stitching_keeps_the_middle_of_each_overlap():
    audio = np.zeros(int(8.0 * J.JUKEBOX_SR), np.float32)
    feats = J.JukeboxFeatures(ContextModel(3.0), chunk_seconds=3.0, overlap_seconds=1.0, fps=J.TOKEN_RATE)
    ramp = feats.from_audio(audio)[:, 0]  # the in-chunk position, which jumps back where a new chunk takes over
    jumps = np.flatnonzero(np.diff(ramp) < -0.05)
    spans = J.chunk_spans(int(np.ceil(len(audio) / J.TOKEN_HOP)), feats.chunk_tokens, feats.overlap_tokens)
    assert len(jumps) == len(spans) - 1
    # a 3 s chunk hands over half-way through its 1 s overlap: at 2.5 / 3 of the old chunk, not at its end
    assert all(0.78 < ramp[j] < 0.88 for j in jumps[:-1])


def test_pooling_to_30_fps():
    acts = np.repeat(np.arange(40, dtype=np.float32)[:, None], 2, 1)  # token k has value k
    pooled = J.pool_to_fps(acts, n_frames=3, rate=10.0, fps=1.0)  # 10 tokens per frame
    np.testing.assert_allclose(pooled[:, 0], [4.5, 14.5, 24.5])
    frac = J.pool_to_fps(np.arange(4, dtype=np.float32)[:, None], n_frames=2, rate=3.0, fps=2.0)  # 1.5 tokens/frame
    np.testing.assert_allclose(frac[:, 0], [(0 + 0.5) / 1.5, (0.5 * 1 + 2) / 1.5])
    audio_5s = np.zeros(5 * J.JUKEBOX_SR, np.float32)
    assert J.JukeboxFeatures(LocalModel(6.0)).from_audio(audio_5s).shape == (150, 4800)  # EDGE's 5 s slice


def test_cache_and_file_input(tmp_path):
    y = np.random.default_rng(1).normal(scale=0.1, size=3 * 22050).astype(np.float32)
    sf.write(tmp_path / "m.wav", y, 22050)
    model = LocalModel(4.0)
    feats = J.JukeboxFeatures(model, cache_dir=tmp_path / "cache")
    first = feats(tmp_path / "m.wav")
    calls = len(model.calls)
    second = feats(tmp_path / "m.wav")
    assert len(model.calls) == calls and np.array_equal(first, second) and first.shape == (90, 4800)
    assert len(list((tmp_path / "cache").glob("*.npy"))) == 1


def test_missing_package_and_weights(tmp_path, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_jukebox(name, *args, **kwargs):
        if name.startswith("jukebox_infer"):
            raise ImportError("No module named 'jukebox_infer'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_jukebox)
    with pytest.raises(UserError, match=r"pip install -e '\.\[jukebox\]'"):
        J.JukeboxInferBackend(tmp_path)
    monkeypatch.setattr(builtins, "__import__", real_import)
    try:
        import jukebox_infer  # noqa: F401
    except ImportError:
        return  # the optional package is not installed: the weights check sits behind the import
    with pytest.raises(UserError, match="Jukebox weights missing"):
        J.JukeboxInferBackend(tmp_path)


def test_registry_entry():
    spec = music_feature("jukebox")
    assert spec.dim == 4800 and spec.fps == 30 and spec.modes == ("full_song",)
    with pytest.raises(UserError, match="need the model's weights"):
        spec.extract("any.wav")
    with pytest.raises(UserError, match="no mode 'per_slice'"):
        spec.extract("any.wav", mode="per_slice")
    with pytest.raises(UserError, match="unknown music feature 'mert'; known: baseline, jukebox, mmr"):
        music_feature("mert")
    assert music_feature("baseline").dim == 35


def test_bad_overlap_is_refused_up_front():
    with pytest.raises(ValueError, match="overlap"):
        J.JukeboxFeatures(LocalModel(3.0), chunk_seconds=3.0, overlap_seconds=-0.2)
    with pytest.raises(ValueError, match="overlap"):
        J.JukeboxFeatures(LocalModel(3.0), chunk_seconds=3.0, overlap_seconds=3.0)
