"""Torch datasets over a processed dataset (see `data.dataset_build`): tokenizer windows and music-motion clips.

Both read their split's sequences from the packed, memory-mapped arrays of `data.packed` and gather whole batches
with one fancy index (`__getitems__`, which `torch.utils.data.DataLoader` calls with a batch's indices), so batches
arrive as tensors without per-item Python work and a process holds a batch, not the split. Normalisation
((x - Mean) / Std) runs on each batch, or on the device with `normalize=False` and `ProcessedData.normalizer()`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from data.audio_extraction.registry import music_feature
from data.packed import packed_motion, packed_music
from utils.batch import collate_batches
from utils.cli import UserError

_U64 = np.uint64


def splitmix64(x: np.ndarray) -> np.ndarray:
    """A well-mixed 64-bit hash of every integer of x (uint64 arithmetic, wrapping)."""
    with np.errstate(over="ignore"):
        z = np.asarray(x).astype(_U64) + _U64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> _U64(30))) * _U64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> _U64(27))) * _U64(0x94D049BB133111EB)
        return z ^ (z >> _U64(31))


def hashed_offsets(seed: int, epoch: int, indices: np.ndarray, n: int) -> np.ndarray:
    """Random-looking offsets in [0, n) that are a pure function of (seed, epoch, index): the crops of a resumed run
    or of a DDP rank are exactly those one uninterrupted process draws. (B,) -> (B,) int64"""
    key = splitmix64(np.array([seed * 1_000_003 + epoch]))[0]
    return (splitmix64(np.asarray(indices).astype(_U64) ^ key) % _U64(n)).astype(np.int64)


def _normalizer(mean: np.ndarray, std: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """(mean, std) as float32 tensors, applied in place to each gathered batch."""
    return torch.as_tensor(mean, dtype=torch.float32), torch.as_tensor(std, dtype=torch.float32)


@dataclass
class ProcessedData:
    """A processed dataset's index, statistics and files.

    Args:
        root: the `processed/` folder (or the dataset folder holding it).
    """

    root: Path

    def __post_init__(self) -> None:
        self.root = Path(self.root)
        if (self.root / "processed" / "summary.json").is_file():
            self.root = self.root / "processed"
        if not (self.root / "summary.json").is_file():
            raise UserError(f"{self.root}: no processed dataset here; run python create_dataset.py --dataset_name ...")

    @cached_property
    def summary(self) -> dict:
        return json.loads((self.root / "summary.json").read_text())

    @cached_property
    def clips(self) -> list[dict]:
        return json.loads((self.root / "clips.json").read_text())

    @cached_property
    def windows(self) -> np.ndarray:
        """(N, 3) int64 [clip index, start frame, frames]."""
        return np.load(self.root / "windows.npy")

    @cached_property
    def mean(self) -> np.ndarray:
        return np.load(self.root / "Mean.npy")

    @cached_property
    def std(self) -> np.ndarray:
        return np.load(self.root / "Std.npy")

    def normalizer(self, device: torch.device | str = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
        """(mean, std) tensors for normalising on the device: `(x - mean) / std`."""
        return torch.as_tensor(self.mean, device=device), torch.as_tensor(self.std, device=device)

    def clip_ids(self, split: str) -> list[int]:
        ids = [i for i, c in enumerate(self.clips) if c["split"] == split]
        if not ids:
            raise UserError(f"{self.root}: split {split!r} has no clips (splits: {self.summary['clips_per_split']})")
        return ids

    def motion(self, clip: int) -> np.ndarray:
        return np.load(self.root / "motion" / f"{self.clips[clip]['name']}.npy")

    def music_dir(self, music_type: str) -> tuple[Path, str]:
        """The folder of a music feature type and its mode, or a one-line error naming the command to run."""
        info = self.summary["music"].get(music_type)
        if info is None:
            feature = music_feature(music_type)  # an unknown type: one line listing the known ones
            if feature.made_by:
                how = feature.made_by.replace("<dataset>", f"{self.summary['dataset']} --data_root {self.root.parent}")
            else:
                how = (
                    f"python create_dataset.py --dataset_name {self.summary['dataset']} --data_root "
                    f"{self.root.parent} --extract-{music_type} [--feature_mode full_song|per_slice]"
                )
            raise UserError(f"{self.root}: music features {music_type!r} were not extracted; run {how}")
        return self.root / info["dir"], info["mode"]


class TokenizerWindows(Dataset):
    """Random crops of `window_size` frames from the split's full sequences, for the tokenizer.

    Args:
        data: the processed dataset.
        split: "train", "val" or "test".
        window_size: frames per crop.
        normalize: apply (x - Mean) / Std here (False: do it on the device).
        deterministic: crop i always starts at the i-th valid start (evaluation); else a random start each time.
        seed: seeds the random crops.
        std: the Std to normalise with (default the dataset's; the tokenizer's `feat_bias` variant, say).
    Items: (window_size, D) float32 tensors; a batch is (B, window_size, D). A random crop starts at the sampled
    index's valid start shifted by a hash of (seed, epoch, index): random-looking, different for every index and
    epoch (`set_epoch`), yet a pure function of them, so resumed runs and DDP ranks see exactly the crops one
    uninterrupted process would.
    """

    def __init__(
        self,
        data: ProcessedData,
        split: str = "train",
        window_size: int = 64,
        normalize: bool = True,
        deterministic: bool = False,
        seed: int = 0,
        std: np.ndarray | None = None,
    ) -> None:
        ids = data.clip_ids(split)
        self.frames = packed_motion(data.root, split, [data.clips[i]["name"] for i in ids])  # (sum T, D) mapped
        lengths, offsets = self.frames.lengths, self.frames.offsets
        if not (lengths >= window_size).any():
            raise UserError(f"{data.root}: no {split} sequence has {window_size} frames")
        self.norm = _normalizer(data.mean, data.std if std is None else std) if normalize else None
        # every start whose window stays inside one sequence
        self.starts = np.concatenate(
            [o + np.arange(n - window_size + 1) for o, n in zip(offsets, lengths, strict=True) if n >= window_size]
        )
        self.window_size, self.deterministic, self.seed, self.epoch = window_size, deterministic, seed, 0
        self._steps = np.arange(window_size)

    def set_epoch(self, epoch: int) -> None:
        """Use the crops of `epoch`."""
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.starts)

    def __getitems__(self, indices: list[int]) -> torch.Tensor:
        idx = np.asarray(indices)
        if not self.deterministic:
            idx = (idx + hashed_offsets(self.seed, self.epoch, idx, len(self.starts))) % len(self.starts)
        x = torch.from_numpy(self.frames.gather(self.starts[idx][:, None] + self._steps))  # (B, window, D) float32
        return x if self.norm is None else x.sub_(self.norm[0]).div_(self.norm[1])

    def __getitem__(self, index: int) -> torch.Tensor:
        return self.__getitems__([index])[0]


class MusicMotionClips(Dataset):
    """The split's windows as (motion, music) clips for the token transformers and MMR.

    Args:
        data: the processed dataset.
        split: "train", "val" or "test".
        music_type: a music feature type that was extracted (`baseline`, `jukebox`, ...).
        unit_length: the motion is cropped to a multiple of this (the tokenizer's down-sampling, 4: 150 -> 148).
        normalize: normalise the motion with the dataset's Mean / Std.
        deterministic: crops start at the window start (evaluation); else at a random offset inside the window.
        seed: seeds the random crops, a pure function of (seed, epoch, index) like `TokenizerWindows`'.
        clip_type: a per-window music feature type (`mmr`) whose row for each window becomes `music_clip`.
        clip_dir: a folder of the `clip_type` tables (`<song>.npy`) other than the dataset's.
    Items: dict with motion (n, D), music (n, Dm) frame-aligned, music_clip (Dc,) the window's `clip_type` row (else
    the mean of its music features), length (n), sequence (int id of the source sequence: windows of one performance
    share it), clip (int clip index), window (int, within the clip), start (int, the crop's first frame within its
    clip), name (str).
    """

    def __init__(
        self,
        data: ProcessedData,
        split: str = "train",
        music_type: str = "baseline",
        unit_length: int = 4,
        normalize: bool = True,
        deterministic: bool = False,
        seed: int = 0,
        clip_type: str | None = None,
        clip_dir: Path | None = None,
    ) -> None:
        music_dir, self.mode = data.music_dir(music_type)
        if music_feature(music_type).fps != data.summary.get("fps", 30):
            raise UserError(
                f"{music_type!r} music features are one row per window, not per frame: use them as a "
                "clip condition, with a frame-level type (baseline, jukebox) for the clips"
            )
        ids = data.clip_ids(split)
        windows = data.windows[np.isin(data.windows[:, 0], ids)]
        if not len(windows):
            raise UserError(f"{data.root}: split {split!r} has no windows")
        self.motion = packed_motion(data.root, split, [data.clips[i]["name"] for i in ids])  # (sum T, D) mapped
        self.norm = _normalizer(data.mean, data.std) if normalize else None
        clip_songs = [data.clips[i].get("music", data.clips[i]["name"]) for i in ids]
        songs, song_of_clip = np.unique(clip_songs, return_inverse=True)  # a song shared by clips is packed once
        self.music = packed_music(data.root, split, music_dir, songs.tolist())  # (sum L, Dm) or (sum n, 150, Dm)
        self.window_frames = int(windows[0, 2])
        self.length = self.window_frames // unit_length * unit_length
        self.clip = windows[:, 0]
        row = np.searchsorted(ids, self.clip)  # position of each window's clip among the split's clips
        motion_offsets = self.motion.offsets
        song_offsets = self.music.offsets[song_of_clip]  # per clip
        self.window_start = windows[:, 1]  # frame within the clip
        self.motion_start = motion_offsets[row] + self.window_start
        _, first, inverse = np.unique(self.clip, return_index=True, return_inverse=True)  # windows are clip-ordered
        self.window_in_clip = np.arange(len(windows)) - first[inverse]
        # per_slice: window k of a clip is its song's slice k; full_song: music frames align with motion frames
        self.music_start = song_offsets[row] + (self.window_in_clip if self.mode == "per_slice" else windows[:, 1])
        self.names = [data.clips[c]["name"] for c in self.clip]
        seq_ids = {name: k for k, name in enumerate(sorted({c["sequence"] for c in data.clips}))}
        self.sequence = np.array([seq_ids[data.clips[c]["sequence"]] for c in self.clip])
        self.deterministic, self.seed, self.epoch = deterministic, seed, 0
        self._steps = np.arange(self.length)
        self.clip_rows = (
            self._clip_rows(data, clip_type, clip_dir, songs, song_of_clip[row], windows) if clip_type else None
        )

    @staticmethod
    def _clip_rows(
        data: ProcessedData,
        clip_type: str,
        clip_dir: Path | None,
        songs: np.ndarray,
        song_of_window: np.ndarray,
        windows: np.ndarray,
    ) -> np.ndarray:
        """The `clip_type` row of every window (row k of a song: the window starting at frame k * stride)."""
        clip_dir = Path(clip_dir) if clip_dir is not None else data.music_dir(clip_type)[0]
        info = data.summary["music"].get(clip_type, {})
        stride = int(info.get("stride_frames", data.summary["window"]["stride_frames"]))
        missing = [n for n in songs if not (clip_dir / f"{n}.npy").is_file()]
        if missing:
            raise UserError(
                f"{clip_dir}: no {clip_type} features for {len(missing)} songs (e.g. {missing[0]}.npy); "
                f"run {music_feature(clip_type).made_by or 'their extraction'}"
            )
        tables = [np.load(clip_dir / f"{n}.npy").astype(np.float32) for n in songs]
        lengths = np.array([len(t) for t in tables])
        row = np.minimum(windows[:, 1] // stride, lengths[song_of_window] - 1)
        offsets = np.cumsum(lengths) - lengths  # first row of each song in the stacked tables
        return np.concatenate(tables)[offsets[song_of_window] + row]  # (N, Dc)

    def set_epoch(self, epoch: int) -> None:
        """Use the crops of `epoch`."""
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.clip)

    def __getitems__(self, indices: list[int]) -> dict:
        idx = np.asarray(indices)
        slack = self.window_frames - self.length
        shift = (
            np.zeros(len(idx), np.int64)
            if self.deterministic or slack == 0
            else hashed_offsets(self.seed, self.epoch, idx, slack + 1)
        )
        frames = (self.motion_start[idx] + shift)[:, None] + self._steps  # (B, n)
        motion = torch.from_numpy(self.motion.gather(frames))  # (B, n, D)
        if self.norm is not None:
            motion.sub_(self.norm[0]).div_(self.norm[1])
        if self.mode == "per_slice":
            music = self.music.gather(self.music_start[idx])[np.arange(len(idx))[:, None], shift[:, None] + self._steps]
        else:
            music = self.music.gather((self.music_start[idx] + shift)[:, None] + self._steps)  # (B, n, Dm)
        return {
            "motion": motion,
            "music": torch.from_numpy(music),
            "music_clip": torch.from_numpy(music.mean(1) if self.clip_rows is None else self.clip_rows[idx]),
            "length": torch.full((len(idx),), self.length),
            "sequence": torch.from_numpy(self.sequence[idx]),
            "clip": torch.from_numpy(self.clip[idx]),
            "window": torch.from_numpy(self.window_in_clip[idx]),
            "start": torch.from_numpy(self.window_start[idx] + shift),
            "name": [self.names[i] for i in idx],
        }

    def __getitem__(self, index: int) -> dict:
        batch = self.__getitems__([index])
        return {k: v[0] for k, v in batch.items()}


def pack_splits(data: ProcessedData) -> None:
    """Pack every split's motion and frame-level music features for memory-mapped training (`data.packed`); what is
    packed already and unchanged is kept."""
    fps = data.summary.get("fps", 30)
    for split, count in data.summary["clips_per_split"].items():
        if not count:
            continue
        ids = data.clip_ids(split)
        packed_motion(data.root, split, [data.clips[i]["name"] for i in ids])
        songs = sorted({data.clips[i].get("music", data.clips[i]["name"]) for i in ids})
        for music_type in data.summary["music"]:
            if music_feature(music_type).fps == fps:
                packed_music(data.root, split, data.music_dir(music_type)[0], songs)


def make_loader(
    dataset: Dataset, batch_size: int, shuffle: bool = True, workers: int = 0, drop_last: bool = False, seed: int = 0
) -> DataLoader:
    """A DataLoader that fetches whole batches through the dataset's `__getitems__`."""
    generator = torch.Generator().manual_seed(seed)
    return DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=shuffle,
        num_workers=workers,
        drop_last=drop_last,
        collate_fn=collate_batches,
        generator=generator,
        persistent_workers=workers > 0,
    )


def in_batches(dataset: Dataset, batch_size: int) -> Iterator:
    """Every item of a dataset in order, `batch_size` at a time, each batch read by one vectorised `__getitems__`
    call (validation and embedding: deterministic, no loader workers)."""
    for lo in range(0, len(dataset), batch_size):
        yield dataset.__getitems__(list(range(lo, min(lo + batch_size, len(dataset)))))
