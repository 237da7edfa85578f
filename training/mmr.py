"""The MMR stage of the shared training loop: (music, motion) windows of a processed dataset, TMR loss, retrieval.

Motion is the 263-d body part by default (`motion_part="all"` keeps every feature); both modalities are normalised
with MMR's own statistics (the dataset's Mean/Std of the part, and the music features' mean/std over the training
windows), stored in the checkpoint so the embedding script and the MMR loss of later stages use the same. Validation
embeds every window of the held-out split and reports retrieval both ways on the whole split and on seeded batches
of 32 (`batch/...`); the best checkpoint has the highest mean R@1 on those batches.
"""

from __future__ import annotations

from dataclasses import fields

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
from utils.trainer import Trainer


def music_statistics(clips: MusicMotionClips) -> tuple[np.ndarray, np.ndarray]:
    """Mean and std (floored at 1e-6) of the music features over a split's frames (read in chunks from the packed
    array: memory stays a chunk)."""
    mean, std = row_statistics(clips.music.rows)
    return mean.astype(np.float32), np.maximum(std, 1e-6).astype(np.float32)


class MMRTrainer(Trainer):
    """`train_mmr.py`'s stage (options: dataset_name, data_root, music_type, motion_part, model shape, seed, loop)."""

    stage = "mmr"
    best_metric = "batch/R01"
    best_higher = True

    def build_data(self):
        opt = self.opt
        self.data = ProcessedData(dataset_dir(opt.dataset_name, opt.data_root))
        self.layout = layout_for_dim(int(self.data.mean.shape[0]))
        self.part = motion_part_index(opt.motion_part, self.layout.dim, self.layout.dim)
        train = MusicMotionClips(self.data, "train", opt.music_type, normalize=False, seed=opt.seed)
        music_mean, music_std = music_statistics(train)
        self.mmr_inputs = MMRInputs(
            self.layout.dim,
            opt.motion_part,
            opt.music_type,
            torch.as_tensor(self.data.mean[self.part], dtype=torch.float32),
            torch.as_tensor(self.data.std[self.part], dtype=torch.float32),
            torch.as_tensor(music_mean),
            torch.as_tensor(music_std),
        )
        self.music_mode, self.clip_frames = train.mode, train.length
        splits = self.data.summary.get("clips_per_split", {})
        val_split = next((s for s in ("val", "test") if splits.get(s)), None)
        val = (
            MusicMotionClips(self.data, val_split, opt.music_type, normalize=False, deterministic=True)
            if val_split
            else None
        )
        return train, val

    def build_model(self) -> MusicMotionRetrieval:
        opt = self.opt
        shape = {f.name: getattr(opt, f.name) for f in fields(MMRShape) if hasattr(opt, f.name)}
        self.config = MMRConfig(music_dim=len(self.mmr_inputs.music_mean), motion_dim=len(self.part), **shape)
        return MusicMotionRetrieval(self.config)

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
            "music_type": self.opt.music_type,
            "music_mode": self.music_mode,
            "motion_part": self.opt.motion_part,
            "motion_dim": int(self.layout.dim),
            "clip_frames": int(self.clip_frames),
        }
        return {"mmr": self.config.to_dict(), "data": data, **self.mmr_inputs.tensors()}
