"""A trained MMR as an embedder: its inputs (part slice and own normalisation) and embeddings of clips and segments.

`MMRInputs` turns dataset features into what the MMR encoders read: the motion part it was trained on (the 263-d
body by default, taken by name from any layout, 623-d or 723-d) normalised with MMR's own Mean/Std, and the music
features normalised with MMR's music statistics. The trainer and every later user share it, so the embedding
script, the matching score and the MMR loss of the transformers see exactly the training inputs.

`load_mmr(run)` rebuilds the model from its checkpoint alone. Embeddings are the means of the VAE distributions
(TMR's `sample_mean`), 256-d. `window_embeddings` embeds the 5 s windows of a song at a stride (row k: the window
starting at frame k * stride), `segment_embeddings` its 1 s segments (the matching score's unit).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from data.layout import layout_for_dim
from MMR.model import MMRConfig, MusicMotionRetrieval
from utils.checkpoint import load_checkpoint
from utils.cli import UserError

SEGMENT_FRAMES = 30  # 1 s at 30 fps: the unit of the MMR matching score


def motion_part_index(motion_part: str, width: int, motion_dim: int) -> np.ndarray:
    """Feature indices of an MMR's motion part ("body": by name, from any layout; "all": every feature of the
    `motion_dim`-d data it was trained on) in features of `width`."""
    if motion_part == "all":
        if width != motion_dim:
            raise UserError(f"this MMR reads every feature of {motion_dim}-d motion; got {width}-d")
        return np.arange(width)
    try:
        return layout_for_dim(width).part_index["body"]
    except ValueError as err:
        raise UserError(f"this MMR reads the body part of 623/723-d motion features; got {width}-d") from err


@dataclass
class MMRInputs:
    """What the MMR encoders read (see the module docstring).

    Args:
        motion_dim: feature width of the dataset the MMR was trained on (623 or 723).
        motion_part: "body" or "all".
        music_type: registered music feature type (recorded so other data can be checked against it).
        motion_mean, motion_std: (P,) statistics of the motion part.
        music_mean, music_std: (Dm,) statistics of the music features.
    """

    motion_dim: int
    motion_part: str
    music_type: str
    motion_mean: torch.Tensor
    motion_std: torch.Tensor
    music_mean: torch.Tensor
    music_std: torch.Tensor

    def part_index(self, width: int) -> torch.Tensor:
        """Indices of the MMR's motion part in features of `width` (any layout for the body part)."""
        return torch.as_tensor(motion_part_index(self.motion_part, width, self.motion_dim))

    def motion(self, x: torch.Tensor) -> torch.Tensor:
        """Dataset motion features (..., T, D) (not normalised) -> normalised part (..., T, P). Differentiable."""
        index = self.part_index(x.shape[-1]).to(x.device)
        return (x[..., index] - self.motion_mean.to(x)) / self.motion_std.to(x)

    def music(self, x: torch.Tensor) -> torch.Tensor:
        """Music features (..., T, Dm) -> normalised (..., T, Dm)."""
        if x.shape[-1] != len(self.music_mean):
            raise UserError(f"this MMR reads {self.music_type!r} music features ({len(self.music_mean)}-d); got "
                            f"{x.shape[-1]}-d features")  # fmt: skip
        return (x - self.music_mean.to(x)) / self.music_std.to(x)

    def tensors(self) -> dict[str, torch.Tensor]:
        return {k: getattr(self, k) for k in ("motion_mean", "motion_std", "music_mean", "music_std")}


class MMREmbedder:
    """A trained MMR (eval mode) with its inputs; every method takes dataset features and returns embeddings.

    Args:
        model: the MMR model.
        inputs: its `MMRInputs`.
        data: the checkpoint's data record (music_type, music_mode, clip_frames, motion_dim, ...).
        source: where it was loaded from (for messages).
        options: the training options (dataset_name, data_root, ...).
        step: the training step of the checkpoint.
    """

    def __init__(self, model: MusicMotionRetrieval, inputs: MMRInputs, data: dict, source: str = "",
                 options: dict | None = None, step: int = -1) -> None:  # fmt: skip
        self.model, self.inputs, self.data, self.source = model.eval(), inputs, data, source
        self.options, self.step = options or {}, step
        self.device = next(model.parameters()).device

    @property
    def music_type(self) -> str:
        return self.inputs.music_type

    @property
    def clip_frames(self) -> int:
        """Frames per training clip (148: 5 s cropped to a multiple of 4)."""
        return int(self.data.get("clip_frames", 148))

    @torch.no_grad()
    def music(self, feats: torch.Tensor | np.ndarray, batch_size: int = 256) -> torch.Tensor:
        """Music features (B, T, Dm) -> (B, latent) on the CPU."""
        x = torch.as_tensor(np.asarray(feats, dtype=np.float32) if isinstance(feats, np.ndarray) else feats)
        out = [self.model.encode_music(self.inputs.music(x[i: i + batch_size].to(self.device)))
               for i in range(0, len(x), batch_size)]  # fmt: skip
        return torch.cat(out).float().cpu() if out else torch.zeros(0, self.model.config.latent)

    @torch.no_grad()
    def motion(self, feats: torch.Tensor | np.ndarray, batch_size: int = 256) -> torch.Tensor:
        """Motion features (B, T, D) (dataset features, not normalised) -> (B, latent) on the CPU."""
        x = torch.as_tensor(np.asarray(feats, dtype=np.float32) if isinstance(feats, np.ndarray) else feats)
        out = [self.model.encode_motion(self.inputs.motion(x[i: i + batch_size].to(self.device)))
               for i in range(0, len(x), batch_size)]  # fmt: skip
        return torch.cat(out).float().cpu() if out else torch.zeros(0, self.model.config.latent)

    def window_embeddings(self, music: np.ndarray, stride: int, window: int = 150) -> np.ndarray:
        """The music embedding of every `window`-frame window of a song at `stride` frames (row k starts at frame
        k * stride; each is encoded over its first `clip_frames` frames, as in training). A song shorter than a
        window gives one row from all its frames. (L, Dm) -> (n, latent)"""
        n = max(1, (len(music) - window) // stride + 1)
        span = min(self.clip_frames, window, len(music))
        frames = np.arange(n)[:, None] * stride + np.arange(span)  # (n, span)
        return self.music(music[frames]).numpy()

    def segment_embeddings(self, feats: np.ndarray, kind: str, segment: int = SEGMENT_FRAMES) -> np.ndarray:
        """Embeddings of the consecutive `segment`-frame pieces of a sequence (a remainder shorter than a segment is
        dropped). kind: "music" or "motion". (T, D) -> (T // segment, latent)"""
        n = len(feats) // segment
        pieces = np.asarray(feats[: n * segment], dtype=np.float32).reshape(n, segment, -1)
        encode = self.music if kind == "music" else self.motion
        return encode(pieces).numpy()


def embed_clips(embedder: MMREmbedder, clips, batch_size: int = 256) -> tuple[torch.Tensor, torch.Tensor]:
    """(music, motion) embeddings (N, latent) of every item of a `MusicMotionClips` (deterministic), in batches."""
    music, motion = [], []
    for lo in range(0, len(clips), batch_size):
        batch = clips.__getitems__(list(range(lo, min(lo + batch_size, len(clips)))))
        music.append(embedder.music(batch["music"]))
        motion.append(embedder.motion(batch["motion"]))
    return torch.cat(music), torch.cat(motion)


def resolve_checkpoint(run: str | Path, which: str = "best") -> Path:
    """A checkpoint file from a run folder (`model/<which>.tar`, else `model/latest.tar`) or a file path."""
    run = Path(run)
    if run.is_file():
        return run
    for name in (which, "latest"):
        if (run / "model" / f"{name}.tar").is_file():
            return run / "model" / f"{name}.tar"
    raise UserError(f"no MMR checkpoint in {run}/model/; train one first: python MMR/train_mmr.py data=<dataset> "
                    f"run_dir={run}")  # fmt: skip


def load_mmr(run: str | Path, which: str = "best", device: str | torch.device = "cpu") -> MMREmbedder:
    """A trained MMR rebuilt from its checkpoint alone (a run folder or a .tar file)."""
    path = resolve_checkpoint(run, which)
    ckpt = load_checkpoint(path, map_location=device)
    if ckpt.get("stage") != "mmr" or "mmr" not in ckpt:
        raise UserError(f"{path}: not an MMR checkpoint (stage {ckpt.get('stage')!r})")
    model = MusicMotionRetrieval(MMRConfig(**ckpt["mmr"])).to(device)
    model.load_state_dict(ckpt["model"])
    data = ckpt["data"]
    inputs = MMRInputs(motion_dim=int(data["motion_dim"]), motion_part=data["motion_part"],
                       music_type=data["music_type"], **{k: ckpt[k].float() for k in
                       ("motion_mean", "motion_std", "music_mean", "music_std")})  # fmt: skip
    return MMREmbedder(model, inputs, data, str(path), ckpt.get("options"), int(ckpt.get("step", -1)))
