"""Any-length generation: window by window in token space, the overlap held fixed in every layer, one decode.

A song of T frames (30 fps) is padded to a multiple of the down-sampling (4) and covered by windows of the
transformers' `times` token times (37 = 148 frames) that start every `times - overlap` token times, the last one
ending at the song's end. Each window is conditioned on its own music (frame-level features and, for clip
conditioning, the MMR embedding of the window's music) and generated with `sampling.generate`, the tokens it shares
with earlier windows given (in-painting in every quantizer layer), so the dance continues across windows. The
whole token sequence is decoded at once and cut to T frames; music shorter than a window is one shorter window.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from tqdm import tqdm

from models.mask_transformer.sampling import generate
from utils.cli import UserError


def window_starts(total: int, window: int, overlap: int) -> list[int]:
    """Token-time starts of the windows covering [0, total) (stride window - overlap, the last ending at total)."""
    if not 0 <= overlap < window:
        raise UserError(f"the overlap must be in [0, {window}) token times, got {overlap}")
    if total <= window:
        return [0]
    return sorted({*range(0, total - window, window - overlap), total - window})


def song_window_starts(frames: int, width: int, overlap: int, downsampling: int) -> list[int]:
    """Token-time starts of the windows `generate_long` uses for a song of `frames` frames."""
    return window_starts(math.ceil(frames / downsampling), width, overlap)


def _window_condition(mage, padded: np.ndarray, clip_source: np.ndarray | None, a: int, n: int, frames: int) -> tuple:
    """The condition of the window of `frames` frames from frame `a`, `n` of them music (the rest zeros): (its MMR
    embedding (1, Dc) or None, its normalised frame-level music (1, frames, Dm))."""
    device = mage.music_mean.device
    window = np.zeros((frames, padded.shape[1]), np.float32)
    window[:n] = padded[a : a + n]
    clip = None
    if mage.mmr is not None:
        span = clip_source[a : min(a + n, len(clip_source))]
        clip = mage.mmr.music(span[None, : mage.mmr.clip_frames]).to(device)
    return mage.condition(torch.from_numpy(window).to(device)[None], clip)


@torch.no_grad()
def generate_long(
    mage,
    music: np.ndarray,
    clip_source: np.ndarray | None = None,
    overlap: int = 8,
    seed: int = 0,
    progress: bool = True,
    given: torch.Tensor | None = None,
    **sampling,
) -> tuple[np.ndarray, torch.Tensor]:
    """Dance features (T, D) and tokens (P, T', Q) for raw frame-level music features (T, Dm) of any length.

    Args:
        mage: `training.MAGEModels` (transformers, tokenizer, MMR, normalisations).
        music: the frame-level features the transformers read (their type and mode), 30 fps.
        clip_source: the features the MMR reads, frame-aligned (default `music`, when the MMR reads that type).
        overlap: token times shared by consecutive windows (8 = 32 frames).
        given: (P, T', Q) tokens to keep (every layer of a position, or none), -1 where free: editing
            (`editing.edit_dance`); a window with nothing free is not sampled.
        sampling: `sampling.generate` options (time_steps, cond_scale, temperature, topkr, res_cond_scale, ...).
    """
    c = mage.base.config
    down, width, parts, layers = c.downsampling, c.times, c.parts, c.num_quantizers
    frames = len(music)
    if frames < down:
        raise UserError(f"music of {frames} frames is too short to dance to (at least {down})")
    if mage.mmr is not None and clip_source is None:
        if mage.mmr.music_type != mage.music["music_type"]:
            raise UserError(f"the MMR reads {mage.mmr.music_type!r} music features, pass them as clip_source")
        clip_source = music
    total = math.ceil(frames / down)
    padded = np.concatenate([music, np.repeat(music[-1:], total * down - frames, axis=0)]).astype(np.float32)
    device = mage.music_mean.device
    tokens = torch.full((parts, total, layers), -1, dtype=torch.long, device=device)
    if given is not None:
        if tuple(given.shape) != tuple(tokens.shape):
            raise ValueError(f"given tokens must be {tuple(tokens.shape)}, got {tuple(given.shape)}")
        tokens.copy_(given)
    generator = torch.Generator(device).manual_seed(seed)
    starts = song_window_starts(frames, width, overlap, down)
    for start in tqdm(starts, desc="windows", unit="window", disable=not progress or len(starts) == 1):
        n = min(width, total - start)
        if (tokens[:, start : start + n] >= 0).all():
            continue  # every token of the window is given (a kept span)
        clip, normalised = _window_condition(mage, padded, clip_source, start * down, n * down, width * down)
        valid = torch.zeros(parts, width, dtype=torch.bool, device=device)
        valid[:, :n] = True
        given = torch.full((parts, width, layers), -1, dtype=torch.long, device=device)
        given[:, :n] = tokens[:, start : start + n]
        inputs = (valid.reshape(1, -1), clip, normalised, given.reshape(1, -1, layers))
        with mage.autocast():
            out = generate(mage.base, mage.res, *inputs, generator=generator, **sampling)
        tokens[:, start : start + n] = out.reshape(parts, width, layers)[:, :n]
    features = mage.decode(tokens.reshape(1, parts * total, layers))[0, :frames]
    return features.float().cpu().numpy(), tokens.cpu()
