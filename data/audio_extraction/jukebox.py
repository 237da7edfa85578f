"""Jukebox music features: layer-66 activations of OpenAI Jukebox's top prior (4800-d) at 30 fps, as EDGE uses them.

The adapter owns everything around the model: reading the music at 44.1 kHz, cutting it into chunks that fit the
prior's context (8,192 top-level tokens, 23.8 s) with an overlap, stitching the chunks' activations at the middle of
each overlap, pooling the token rate (44,100 / 128 = 344.5 Hz) down to 30 fps (frame f averages the tokens that fall
in [f / 30, (f + 1) / 30)), and caching results on disk. The model sits behind a small `JukeboxBackend` interface;
`JukeboxInferBackend` implements it with the optional `jukebox-infer` package (`pip install -e .[jukebox]`) and
local weights (`vqvae.pth.tar`, `prior_level_2.pth.tar`). That real-model path cannot run on the project's machines
(no download of the weights, and the 5B prior does not fit): it is untested here, as the README says.
"""

from __future__ import annotations

import functools
import hashlib
import logging
from pathlib import Path
from typing import Protocol

import numpy as np

from motion.frame import FPS
from utils.atomic import save_npy
from utils.audio import load_audio
from utils.cli import UserError

logger = logging.getLogger(__name__)

JUKEBOX_SR = 44100
TOKEN_HOP = 128  # audio samples per top-level token
TOKEN_RATE = JUKEBOX_SR / TOKEN_HOP  # 344.53 tokens per second
CONTEXT_TOKENS = 8192
LAYER = 66  # EDGE's choice (jukemirlib.extract(layers=[66]))
JUKEBOX_DIM = 4800
WEIGHT_FILES = ("vqvae.pth.tar", "prior_level_2.pth.tar")


class JukeboxBackend(Protocol):
    """What the adapter needs from a model: activations of one layer for audio that fits the context."""

    context_seconds: float

    def activations(self, audio: np.ndarray, layer: int) -> np.ndarray:
        """(N,) float32 mono audio at 44.1 kHz, N / 44100 <= context_seconds -> (ceil(N / 128), 4800) activations."""
        ...


def chunk_spans(n_tokens: int, chunk_tokens: int, overlap_tokens: int) -> list[tuple[int, int, int, int]]:
    """How a token sequence is cut and stitched: per chunk (start, end, keep_from, keep_to), all in tokens.

    Chunks of `chunk_tokens` overlap by `overlap_tokens`; each keeps its tokens from the middle of its overlap with
    the previous chunk to the middle of its overlap with the next, so every token comes from the chunk that sees the
    most context around it, and the kept ranges tile [0, n_tokens) exactly.
    """
    if overlap_tokens >= chunk_tokens:
        raise ValueError(f"overlap ({overlap_tokens}) must be shorter than a chunk ({chunk_tokens})")
    if n_tokens <= chunk_tokens:
        return [(0, n_tokens, 0, n_tokens)]
    step = chunk_tokens - overlap_tokens
    starts = list(range(0, n_tokens - chunk_tokens, step)) + [n_tokens - chunk_tokens]
    spans = []
    for i, s in enumerate(starts):
        e = s + chunk_tokens
        keep_from = 0 if i == 0 else (s + spans[-1][1]) // 2  # middle of the overlap with the previous chunk
        keep_to = n_tokens if i == len(starts) - 1 else (starts[i + 1] + e) // 2
        spans.append((s, e, keep_from, keep_to))
    return spans


def pool_to_fps(acts: np.ndarray, n_frames: int, rate: float = TOKEN_RATE, fps: float = FPS) -> np.ndarray:
    """Average token activations over each frame's time span [f / fps, (f + 1) / fps). (N, D) -> (n_frames, D)

    Token k covers [k / rate, (k + 1) / rate); partial overlaps are weighted by their length (area resampling).
    """
    n, d = acts.shape
    edges = np.arange(n_frames + 1) * (rate / fps)  # frame boundaries in token units
    edges = np.clip(edges, 0, n)
    csum = np.concatenate([np.zeros((1, d)), np.cumsum(acts, axis=0, dtype=np.float64)])  # (N + 1, D)

    def integral(x: np.ndarray) -> np.ndarray:  # integral of the piecewise-constant activations up to x tokens
        k = np.minimum(np.floor(x).astype(np.int64), n - 1)
        return csum[k] + (x - k)[:, None] * acts[k]

    widths = np.maximum(edges[1:] - edges[:-1], 1e-12)[:, None]
    return ((integral(edges[1:]) - integral(edges[:-1])) / widths).astype(np.float32)


class JukeboxFeatures:
    """Layer activations of whole songs at 30 fps through a backend, chunked, stitched, pooled and cached.

    Args:
        backend: the model (`JukeboxInferBackend`, or a stand-in with the same method).
        layer: transformer layer whose output is taken (66).
        fps: output frame rate.
        chunk_seconds: chunk length (default: the backend's context).
        overlap_seconds: overlap between chunks (default: a quarter of a chunk).
        cache_dir: where results are kept, keyed by the audio content and these settings (None: no cache).
    """

    def __init__(
        self,
        backend: JukeboxBackend,
        layer: int = LAYER,
        fps: float = FPS,
        chunk_seconds: float | None = None,
        overlap_seconds: float | None = None,
        cache_dir: str | Path | None = None,
    ) -> None:
        chunk_seconds = chunk_seconds or backend.context_seconds
        if chunk_seconds > backend.context_seconds + 1e-9:
            raise ValueError(f"chunks of {chunk_seconds} s exceed the model's context of {backend.context_seconds} s")
        self.backend, self.layer, self.fps = backend, layer, fps
        self.chunk_tokens = int(chunk_seconds * TOKEN_RATE)
        self.overlap_tokens = int((chunk_seconds / 4 if overlap_seconds is None else overlap_seconds) * TOKEN_RATE)
        if not 0 <= self.overlap_tokens < self.chunk_tokens:
            raise ValueError(f"overlap must be >= 0 and under a chunk ({chunk_seconds} s), got {overlap_seconds}")
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None

    def _cache_path(self, audio: np.ndarray) -> Path | None:
        if self.cache_dir is None:
            return None
        key = hashlib.sha1(audio.tobytes())
        model = getattr(self.backend, "cache_key", type(self.backend).__name__)  # which weights made them
        key.update(f"{model}|{self.layer}|{self.fps}|{self.chunk_tokens}|{self.overlap_tokens}".encode())
        return self.cache_dir / f"jukebox_{key.hexdigest()[:20]}.npy"

    def from_audio(self, audio: np.ndarray) -> np.ndarray:
        """Features of mono 44.1 kHz audio. (N,) -> (floor(N / 44100 * fps), 4800) float32"""
        cached = self._cache_path(audio)
        if cached is not None and cached.is_file():
            return np.load(cached)
        n_tokens = int(np.ceil(len(audio) / TOKEN_HOP))
        pieces = []
        for start, end, keep_from, keep_to in chunk_spans(n_tokens, self.chunk_tokens, self.overlap_tokens):
            acts = self.backend.activations(audio[start * TOKEN_HOP : end * TOKEN_HOP], self.layer)  # (end-start, D)
            if len(acts) != end - start:
                raise ValueError(f"backend returned {len(acts)} tokens for a chunk of {end - start}")
            pieces.append(acts[keep_from - start : keep_to - start])
        feats = pool_to_fps(np.concatenate(pieces), int(len(audio) / JUKEBOX_SR * self.fps), fps=self.fps)
        if cached is not None:  # written atomically: a crash never leaves a truncated cache entry
            save_npy(cached, feats)
        return feats

    def __call__(self, path: str | Path) -> np.ndarray:
        """Features of a music file. -> (L, 4800) at `fps`"""
        audio, _ = load_audio(path, sr=JUKEBOX_SR)
        return self.from_audio(audio)


class JukeboxInferBackend:
    """OpenAI Jukebox's VQ-VAE and top prior through `jukebox-infer`, from local weights. UNTESTED on our machines.

    Args:
        weights_dir: folder with `vqvae.pth.tar` and `prior_level_2.pth.tar` (the 5B model's files).
        device: torch device ("cuda": the prior needs a large GPU).
    """

    context_seconds = CONTEXT_TOKENS / TOKEN_RATE

    def __init__(self, weights_dir: str | Path, device: str = "cuda") -> None:
        try:
            from jukebox_infer.hparams import setup_hparams
            from jukebox_infer.make_models import make_prior, make_vqvae
        except ImportError as err:
            raise UserError(
                "Jukebox features need the optional package jukebox-infer: pip install -e '.[jukebox]'"
            ) from err
        weights_dir = Path(weights_dir)
        missing = [f for f in WEIGHT_FILES if not (weights_dir / f).is_file()]
        if missing:
            raise UserError(
                f"{weights_dir}: Jukebox weights missing ({', '.join(missing)}); download OpenAI's 5B "
                "model files there (they cannot be fetched automatically)"
            )
        import torch

        self.torch, self.device = torch, device
        self.cache_key = "|".join(
            f"{(weights_dir / f).resolve()}:{(weights_dir / f).stat().st_size}:{(weights_dir / f).stat().st_mtime_ns}"
            for f in WEIGHT_FILES
        )
        sample_length = CONTEXT_TOKENS * TOKEN_HOP
        vqvae_file, prior_file = (str(weights_dir / f) for f in WEIGHT_FILES)
        hps = setup_hparams("vqvae", {"sample_length": sample_length, "restore_vqvae": vqvae_file})
        self.vqvae = make_vqvae(hps, device, auto_download=False)
        hps = setup_hparams("prior_5b", {"restore_prior": prior_file})
        self.prior = make_prior(hps, self.vqvae, device, auto_download=False)

    def activations(self, audio: np.ndarray, layer: int) -> np.ndarray:
        """The prior sees exactly its context (8,192 tokens, as its position embedding requires): the chunk is
        zero-padded to it and the output cut back to the chunk's own tokens."""
        torch = self.torch
        n_tokens = int(np.ceil(len(audio) / TOKEN_HOP))
        audio = np.pad(audio, (0, CONTEXT_TOKENS * TOKEN_HOP - len(audio)))
        captured = {}
        block = self.prior.prior.transformer._attn_mods[layer - 1]
        hook = block.register_forward_hook(lambda _m, _i, out: captured.setdefault("x", out))
        try:
            with torch.no_grad():
                x = torch.as_tensor(audio, device=self.device)[None, :, None]  # (1, N, 1)
                z = self.vqvae.encode(x, start_level=self.vqvae.levels - 1, end_level=self.vqvae.levels)[0]
                meta = {"artist": "unknown", "genre": "unknown", "total_length": len(audio), "offset": 0, "lyrics": ""}
                # (total_length: the padded chunk, so the time conditioning spans the whole context)
                labels = self.prior.labeller.get_batch_labels([meta], self.device)
                self.prior.z_forward(z, z_conds=[], y=self.prior.get_y(labels, 0))
        finally:
            hook.remove()
        return captured["x"][0, :n_tokens].float().cpu().numpy()


@functools.lru_cache(maxsize=2)
def _extractor(weights_dir: str, device: str, cache_dir: str | None) -> JukeboxFeatures:
    """One loaded model per (weights, device): the 5B prior takes minutes to load."""
    return JukeboxFeatures(JukeboxInferBackend(weights_dir, device), cache_dir=cache_dir)


def song_features(
    path: str | Path, weights_dir: str | Path | None = None, device: str = "cuda", cache_dir: str | Path | None = None
) -> np.ndarray:
    """`full_song` Jukebox features of a music file (the registry's extractor). -> (L, 4800) at 30 fps"""
    if weights_dir is None:
        raise UserError(
            "Jukebox features need the model's weights: give weights_dir, the folder holding "
            f"{' and '.join(WEIGHT_FILES)}"
        )
    return _extractor(str(weights_dir), device, None if cache_dir is None else str(cache_dir))(path)
