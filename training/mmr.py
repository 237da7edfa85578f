"""The MMR stage of the shared training loop: (music, motion) windows of a processed dataset, TMR loss, retrieval.

Motion is the 263-d body part by default (`motion_part="all"` keeps every feature); both modalities are normalised
with MMR's own statistics (the dataset's Mean/Std of the part, and the music features' mean/std over the training
windows), stored in the checkpoint so the embedding script and the MMR loss of later stages use the same. Validation
embeds every window of the held-out split and reports retrieval both ways on the whole split and on seeded batches
of 32 (`batch/...`); the best checkpoint has the highest mean R@1 on those batches.
"""

from __future__ import annotations

import argparse
import functools
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

import numpy as np
import torch

from data.loaders import MusicMotionClips, ProcessedData
from data.packed import row_statistics
from data.paths import dataset_dir
from MMR.embedder import MMREmbedder, MMRInputs, embed_clips, motion_part_index
from MMR.losses import similarity
from MMR.model import MMRConfig, MMRShape, MusicMotionRetrieval
from MMR.retrieval import retrieval_report
from motion.layout import layout_for_dim
from utils.stage_config import LoopConfig
from utils.trainer import Trainer


def music_statistics(clips: MusicMotionClips) -> tuple[np.ndarray, np.ndarray]:
    """Mean and std (floored at 1e-6) of the music features over a split's frames (read in chunks from the packed
    array: memory stays a chunk)."""
    mean, std = row_statistics(clips.music.rows)
    return mean.astype(np.float32), np.maximum(std, 1e-6).astype(np.float32)


@dataclass
class DataOptions:
    """The MMR stage's data: `dataset_name` (its folder `data_root`), the registered `music_type` it reads, and the
    `motion_part` it embeds (body: the 263-d body features; all: every feature)."""

    dataset_name: str = "souldance"
    data_root: str | None = None  # default: data/<dataset_name>/
    music_type: str = "baseline"  # a registered music feature type that was extracted
    motion_part: str = "body"  # body (263-d) or all


@dataclass
class TrainerOptions:
    """The MMR stage's training loop (the fields of `utils.stage_config.LoopConfig` but the seed; MMR's defaults)."""

    gpu_id: int = 0
    batch_size: int = 128
    max_epoch: int = 500
    max_steps: int = 0
    lr: float = 1e-4
    weight_decay: float = 0.0
    warm_up_iter: int = 0
    milestones: list[int] = field(default_factory=lambda: [10**9])
    gamma: float = 0.1
    grad_clip: float = 1.0
    mixed_precision: str = "auto"  # bf16 on GPU, fp32 on CPU; bf16 is honoured on CPU too
    compile: bool = False
    workers: int = 0
    log_every: int = 50
    save_latest: int = 500
    eval_every_e: int = 1
    is_continue: bool = False
    overwrite: bool = False  # replace an existing run (else it needs is_continue)


@dataclass
class TrainMMRConfig:
    """The MMR stage's config: Hydra's structured config of `train_mmr.py` (`MMR/configs/*.yaml` pick and override
    it, `options.mmr_config` checks it), read by `MMRTrainer` as it is. The argparse options of `mmr_parser` (flat:
    the field names of every group) build the same (`from_options`).

    Args:
        model: the architecture and loss weights (`MMR.model.MMRShape`).
        data: the dataset, its music feature type and the motion part.
        trainer: the training loop (`utils.stage_config.LoopConfig` without the seed).
        run_dir: the run's folder (train_mmr.py).
        seed: seeds the weights, the data order and the crops.
    """

    model: MMRShape = field(default_factory=MMRShape)
    data: DataOptions = field(default_factory=DataOptions)
    trainer: TrainerOptions = field(default_factory=TrainerOptions)
    run_dir: str = "outputs/mmr"
    seed: int = 1234

    @classmethod
    def from_options(cls, options: argparse.Namespace | TrainMMRConfig) -> TrainMMRConfig:
        """The config itself, or the one of flat options (each group's fields by name; absent ones keep the
        defaults here)."""
        if isinstance(options, cls):
            return options
        values = vars(options)

        def group(kind):
            return kind(**{f.name: values[f.name] for f in fields(kind) if f.name in values})

        extra = {k: values[k] for k in ("run_dir", "seed") if k in values}
        return cls(model=group(MMRShape), data=group(DataOptions), trainer=group(TrainerOptions), **extra)

    def flat(self) -> dict:
        """The options as one flat record (`opt.json`, the checkpoints' "options"): every group's fields, the seed."""
        return {**asdict(self.model), **asdict(self.data), **asdict(self.trainer), "seed": self.seed, "name": "mmr"}


class MMRTrainer(Trainer):
    """`train_mmr.py`'s stage (options: dataset_name, data_root, music_type, motion_part, model shape, seed, loop)."""

    stage = "mmr"
    best_metric = "batch/R01"
    best_higher = True
    config_class = TrainMMRConfig

    def __init__(self, options: argparse.Namespace | TrainMMRConfig, run_dir: Path) -> None:
        """`options`: Hydra's config (train_mmr.py) or `mmr_parser`'s namespace."""
        if isinstance(options, TrainMMRConfig):
            options = argparse.Namespace(**options.flat())
        super().__init__(options, run_dir)
        self.cfg = replace(self.cfg, run_dir=str(self.run_dir))  # the folder it really trains in

    @functools.cached_property
    def loop(self) -> LoopConfig:
        """Hydra's `trainer` group and the seed, built once."""
        return LoopConfig.from_options({**asdict(self.cfg.trainer), "seed": self.cfg.seed})

    def build_data(self):
        data = self.cfg.data
        self.data = ProcessedData(dataset_dir(data.dataset_name, data.data_root))
        self.layout = layout_for_dim(int(self.data.mean.shape[0]))
        self.part = motion_part_index(data.motion_part, self.layout.dim, self.layout.dim)
        train = MusicMotionClips(self.data, "train", data.music_type, normalize=False, seed=self.cfg.seed)
        music_mean, music_std = music_statistics(train)
        self.mmr_inputs = MMRInputs(
            self.layout.dim,
            data.motion_part,
            data.music_type,
            torch.as_tensor(self.data.mean[self.part], dtype=torch.float32),
            torch.as_tensor(self.data.std[self.part], dtype=torch.float32),
            torch.as_tensor(music_mean),
            torch.as_tensor(music_std),
        )
        self.music_mode, self.clip_frames = train.mode, train.length
        splits = self.data.summary.get("clips_per_split", {})
        val_split = next((s for s in ("val", "test") if splits.get(s)), None)
        val = (
            MusicMotionClips(self.data, val_split, data.music_type, normalize=False, deterministic=True)
            if val_split
            else None
        )
        return train, val

    def build_model(self) -> MusicMotionRetrieval:
        shape = asdict(self.cfg.model)
        self.model_config = MMRConfig(music_dim=len(self.mmr_inputs.music_mean), motion_dim=len(self.part), **shape)
        return MusicMotionRetrieval(self.model_config)

    def inputs(self, batch: dict) -> tuple[torch.Tensor, torch.Tensor]:
        """(motion part, music), both normalised with MMR's statistics. (B, n, P), (B, n, Dm)"""
        x = self.mmr_inputs
        return x.motion(batch["motion"].to(self.device)), x.music(batch["music"].to(self.device))

    def training_step(self, model, batch) -> dict[str, torch.Tensor]:
        motion, music = self.inputs(batch)
        return model(motion, music, groups=batch["sequence"].to(self.device))

    def evaluate(self, model, dataset) -> dict[str, float]:
        music, motion = embed_clips(MMREmbedder(model, self.mmr_inputs, {}), dataset)
        return retrieval_report(similarity(music, motion).numpy())

    def checkpoint_extra(self) -> dict:
        data = {
            "music_type": self.cfg.data.music_type,
            "music_mode": self.music_mode,
            "motion_part": self.cfg.data.motion_part,
            "motion_dim": int(self.layout.dim),
            "clip_frames": int(self.clip_frames),
        }
        return {"mmr": self.model_config.to_dict(), "data": data, **self.mmr_inputs.tensors()}
