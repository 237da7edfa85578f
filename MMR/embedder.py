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

import argparse
import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from data.loaders import ProcessedData, in_batches
from data.paths import dataset_dir
from MMR.model import MMRConfig, MusicMotionRetrieval
from motion.layout import layout_for_dim
from utils.arg_types import gpu_index
from utils.checkpoint import load_checkpoint, load_weights, rebuild_config
from utils.cli import UserError, inference_device

MMR_DIR = Path(__file__).resolve().parent
SEGMENT_FRAMES = 30  # 1 s at 30 fps: the unit of the MMR matching score


@functools.lru_cache(maxsize=16)
def motion_part_index(motion_part: str, width: int, motion_dim: int) -> np.ndarray:
    """Feature indices of an MMR's motion part ("body": by name, from any layout; "all": every feature of the
    `motion_dim`-d data it was trained on) in features of `width` (cached: called on every batch; do not modify)."""
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
            raise UserError(
                f"this MMR reads {self.music_type!r} music features ({len(self.music_mean)}-d); got "
                f"{x.shape[-1]}-d features"
            )
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

    def __init__(
        self,
        model: MusicMotionRetrieval,
        inputs: MMRInputs,
        data: dict,
        source: str = "",
        options: dict | None = None,
        step: int = -1,
    ) -> None:
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
    def _encode(self, kind: str, feats: torch.Tensor | np.ndarray, batch_size: int) -> torch.Tensor:
        prepare = self.inputs.music if kind == "music" else self.inputs.motion
        encode = self.model.encode_music if kind == "music" else self.model.encode_motion
        x = torch.as_tensor(np.asarray(feats, dtype=np.float32) if isinstance(feats, np.ndarray) else feats)
        out = [encode(prepare(x[i : i + batch_size].to(self.device))) for i in range(0, len(x), batch_size)]
        return torch.cat(out).float().cpu() if out else torch.zeros(0, self.model.config.latent)

    def music(self, feats: torch.Tensor | np.ndarray, batch_size: int = 256) -> torch.Tensor:
        """Music features (B, T, Dm) -> (B, latent) on the CPU."""
        return self._encode("music", feats, batch_size)

    def motion(self, feats: torch.Tensor | np.ndarray, batch_size: int = 256) -> torch.Tensor:
        """Motion features (B, T, D) (dataset features, not normalised) -> (B, latent) on the CPU."""
        return self._encode("motion", feats, batch_size)

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
        return self._encode(kind, pieces, 256).numpy()


def embed_clips(embedder: MMREmbedder, clips, batch_size: int = 256) -> tuple[torch.Tensor, torch.Tensor]:
    """(music, motion) embeddings (N, latent) of every item of a `MusicMotionClips` (deterministic), in batches."""
    music, motion = [], []
    for batch in in_batches(clips, batch_size):
        music.append(embedder.music(batch["music"]))
        motion.append(embedder.motion(batch["motion"]))
    return torch.cat(music), torch.cat(motion)


def find_mmr_run(run_dir: str | Path) -> Path:
    """A run folder or checkpoint as given (from the current folder), else relative to MMR/ (the seed runs there)."""
    for candidate in (Path(run_dir), MMR_DIR / run_dir):
        if candidate.exists():
            return candidate
    raise UserError(
        f"MMR run {str(run_dir)!r} not found (looked in {Path.cwd()} and {MMR_DIR}); train it first: "
        f"cd MMR && python train_mmr.py model=mmr data=<dataset> run_dir={run_dir}"
    )


def add_mmr_run_options(p: argparse.ArgumentParser) -> None:
    """The options of the scripts that use a trained MMR: which run, which checkpoint, which dataset, which device."""
    p.add_argument("--run_dir", default="outputs/mmr_res", help="MMR run folder (train_mmr.py run_dir) or .tar file")
    p.add_argument("--which", default="best", choices=("best", "latest"), help="checkpoint of the run")
    p.add_argument("--dataset_name", help="processed dataset (default: the one MMR was trained on)")
    p.add_argument("--data_root", type=Path, help="its folder (default: data/<dataset_name>/)")
    p.add_argument("--gpu_id", type=gpu_index, default=0, help="GPU index; -1 for the CPU")


def mmr_and_dataset(args: argparse.Namespace, need_data: bool = True) -> tuple[Path, MMREmbedder, ProcessedData | None]:
    """(run folder or file, the loaded MMR, the processed dataset: `--dataset_name`/`--data_root`, else the one the
    MMR was trained on) from `add_mmr_run_options`' options."""
    run = find_mmr_run(args.run_dir)
    embedder = load_mmr(run, args.which, inference_device(args.gpu_id))
    if not need_data:
        return run, embedder, None
    name = args.dataset_name or embedder.options.get("dataset_name", "souldance")
    root = args.data_root or (None if args.dataset_name else embedder.options.get("data_root"))
    return run, embedder, ProcessedData(dataset_dir(name, root))


def resolve_checkpoint(run: str | Path, which: str = "best") -> Path:
    """A checkpoint file from a run folder (`model/<which>.tar`, else `model/latest.tar`) or a file path."""
    run = Path(run)
    if run.is_file():
        return run
    for name in (which, "latest"):
        if (run / "model" / f"{name}.tar").is_file():
            return run / "model" / f"{name}.tar"
    raise UserError(
        f"no MMR checkpoint in {run}/model/; train one first: python MMR/train_mmr.py data=<dataset> run_dir={run}"
    )


def load_mmr(run: str | Path, which: str = "best", device: str | torch.device = "cpu") -> MMREmbedder:
    """A trained MMR rebuilt from its checkpoint alone (a run folder or a .tar file)."""
    path = resolve_checkpoint(run, which)
    ckpt = load_checkpoint(path, map_location=device)
    if ckpt.get("stage") != "mmr" or "mmr" not in ckpt:
        raise UserError(f"{path}: not an MMR checkpoint (stage {ckpt.get('stage')!r})")
    model = MusicMotionRetrieval(rebuild_config(MMRConfig, ckpt["mmr"], path, "MMR")).to(device)
    load_weights(model, ckpt["model"], path)
    data = ckpt["data"]
    inputs = MMRInputs(
        motion_dim=int(data["motion_dim"]),
        motion_part=data["motion_part"],
        music_type=data["music_type"],
        **{k: ckpt[k].float() for k in ("motion_mean", "motion_std", "music_mean", "music_std")},
    )
    return MMREmbedder(model, inputs, data, str(path.resolve()), ckpt.get("options"), int(ckpt.get("step", -1)))
