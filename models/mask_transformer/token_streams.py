"""Token streams of whole sequences, encoded once per tokenizer checkpoint and cached on disk.

The transformer stages train on windows cut from these streams rather than on motion windows re-encoded every step:
a window's tokens are then the tokens of its frames *in the whole sequence* (the encoder sees the frames around the
window, as when a long generated dance is decoded at once), and the tokenizer no longer runs in the training step.
Each sequence is encoded from each of the `downsampling` frame phases (its frames from phase f0 = 0..d-1 on), so a
window starting at any frame f has exact tokens: those of phase f % d from token time f // d on.

The cache, `<processed>/tokens/<tokenizer run>-<key>.npz`, is keyed by a fingerprint of the tokenizer checkpoint's
bytes and of the encoded sequences (names and features): a retrained or continued tokenizer, or a rebuilt dataset,
never reuses stale tokens (old files stay; delete `tokens/` to reclaim the space).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import torch
from tqdm import tqdm

from data.loaders import ProcessedData
from utils.atomic import save_npz
from utils.cli import UserError

logger = logging.getLogger(__name__)
CACHE_FORMAT = 1


@dataclass
class TokenStreams:
    """Token streams of several sequences at every frame phase, stacked along time.

    Args:
        rows: (N, P, Q) codes, every (sequence, phase) stream one after the other.
        offset, length: (C, d) first row and token count of each sequence's phase stream.
        clips: (C,) the dataset's clip index of each sequence (sorted).
    """

    rows: np.ndarray
    offset: np.ndarray
    length: np.ndarray
    clips: np.ndarray

    @property
    def downsampling(self) -> int:
        return self.offset.shape[1]

    def windows(self, clips: np.ndarray | torch.Tensor, starts: np.ndarray | torch.Tensor, times: int) -> torch.Tensor:
        """Tokens (B, P*times, Q) of the windows starting at frame `starts` (B,) of clips `clips` (B,)."""
        clips, starts = np.asarray(torch.as_tensor(clips).cpu()), np.asarray(torch.as_tensor(starts).cpu())
        pos = np.searchsorted(self.clips, clips)
        if (pos >= len(self.clips)).any() or (self.clips[np.minimum(pos, len(self.clips) - 1)] != clips).any():
            raise UserError("a window of a clip whose tokens were not encoded (rebuild the token cache)")
        phase, first = starts % self.downsampling, starts // self.downsampling
        if (first + times > self.length[pos, phase]).any():
            raise UserError(f"a window of {times} token times runs past the end of its sequence")
        w = self.rows[(self.offset[pos, phase] + first)[:, None] + np.arange(times)]  # (B, times, P, Q)
        b, _, p, q = w.shape
        return torch.from_numpy(w.astype(np.int64)).permute(0, 2, 1, 3).reshape(b, p * times, q)


@torch.no_grad()
def encode_streams(
    vq: torch.nn.Module,
    sequences: Iterable[np.ndarray],
    clips: list[int],
    device: torch.device | str = "cpu",
    progress: bool = True,
) -> TokenStreams:
    """Encode normalised feature sequences [(T, D)] (one per clip; an iterator keeps one in memory) at every frame
    phase (fp32, the tokenizer's `encode`)."""
    d, parts = vq.config.downsampling, len(vq.parts)
    streams, offset, length, n = [], np.zeros((len(clips), d), np.int64), np.zeros((len(clips), d), np.int64), 0
    dtype = np.int16 if vq.config.nb_code <= np.iinfo(np.int16).max else np.int32
    bar = tqdm(sequences, desc="encoding token streams", unit="seq", total=len(clips), disable=not progress)
    for i, seq in enumerate(bar):
        for phase in range(d):
            t = (len(seq) - phase) // d
            if t <= 0:
                continue
            x = torch.from_numpy(np.ascontiguousarray(seq[phase : phase + t * d], np.float32))[None].to(device)
            tokens = vq.encode(x)[0].reshape(parts, t, -1).permute(1, 0, 2)  # (t, P, Q)
            streams.append(tokens.cpu().numpy().astype(dtype))
            offset[i, phase], length[i, phase], n = n, t, n + t
    return TokenStreams(np.concatenate(streams), offset, length, np.asarray(clips, np.int64))


def token_streams(
    vq: torch.nn.Module,
    fingerprint: str,
    run_name: str,
    data: ProcessedData,
    clips: list[int],
    mean: np.ndarray,
    std: np.ndarray,
    device: torch.device | str = "cpu",
) -> TokenStreams:
    """The cached token streams of `clips` under the tokenizer whose checkpoint has `fingerprint`
    (`file_fingerprint`; encoded and saved when the cache has none for this checkpoint and these sequences).
    `mean`/`std`: the tokenizer's normalisation."""
    clips = sorted(int(c) for c in clips)
    key = hashlib.sha256()
    names = [data.clips[c]["name"] for c in clips]
    key.update(json.dumps([CACHE_FORMAT, fingerprint, names]).encode())
    for c in clips:  # one sequence in memory at a time: datasets larger than memory
        key.update(data.motion(c).astype(np.float32).tobytes())
    path = data.root / "tokens" / f"{run_name}-{key.hexdigest()[:16]}.npz"
    if path.is_file():
        with np.load(path) as z:
            logger.info("token streams of %d sequences from %s", len(clips), path)
            return TokenStreams(z["rows"], z["offset"], z["length"], z["clips"])
    mean, std = np.asarray(mean, np.float32), np.asarray(std, np.float32)
    was = next(vq.parameters()).device
    vq.to(device)
    normalised = ((data.motion(c).astype(np.float32) - mean) / std for c in clips)
    streams = encode_streams(vq, normalised, clips, device)
    vq.to(was)
    save_npz(path, rows=streams.rows, offset=streams.offset, length=streams.length, clips=streams.clips)
    logger.info("encoded the token streams of %d sequences -> %s", len(clips), path)
    return streams
