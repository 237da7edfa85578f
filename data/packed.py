"""A processed dataset's arrays packed per split and per feature type, read through memory maps.

The build keeps one file per clip (`motion/<clip>.npy`) and per song (`music/<type>_<mode>/<song>.npy`); training
reads windows of a whole split, so each split's motion and each music type of it are concatenated once into
`packed/<split>/motion.npy` and `packed/<split>/<type>_<mode>.npy` (rows of the split's clips, or songs, in order)
with an index of offsets. Loaders open them with `np.load(mmap_mode="r")` and gather a batch's windows with one
fancy index, so a training process holds a batch, not the split: a dataset larger than the machine's memory
trains (SoulDance / FineDance with 4,800-d Jukebox features are about 30 GB).

A packed file records a key of its sources (names, sizes, modification times): a rebuilt dataset or replaced
features are packed again. `create_dataset.py` packs at the end of a build; a loader packs what is missing (features
added later). Files are written atomically (`utils.atomic`: a temporary name, fsync, rename).
"""

from __future__ import annotations

import hashlib
import json
import logging
import mmap
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from utils.atomic import atomic_path, write_json

logger = logging.getLogger(__name__)
PACK_FORMAT = 1
RELEASE_BYTES = 256 << 20  # a loader gives its mapped pages back after gathering this much (about 5 batches)


@dataclass
class PackedArray:
    """Rows of several sources concatenated along axis 0, memory-mapped.

    Args:
        rows: (N, ...) float32 memory map of `path`.
        names: the sources (clip or song names) in order.
        offsets, lengths: (S,) first row and row count of each source.
        path: the packed `.npy` file.
    Pickles as its path (data-loader workers started by spawn map the file again instead of copying it).
    """

    rows: np.ndarray
    names: list[str]
    offsets: np.ndarray
    lengths: np.ndarray
    path: Path
    unreleased: int = 0  # bytes gathered since the map's pages were last given back

    def __getstate__(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k != "rows"}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state, rows=np.load(state["path"], mmap_mode="r"))

    def gather(self, rows: np.ndarray) -> np.ndarray:
        """rows[index] as an in-memory array; every `RELEASE_BYTES` gathered, the map's pages are given back (the
        process keeps at most that much of the file mapped: its private memory does not grow with the dataset)."""
        out = np.asarray(self.rows[rows])
        self.unreleased += out.nbytes
        if self.unreleased >= RELEASE_BYTES:
            release(self.rows)
            self.unreleased = 0
        return out


def release(array: np.ndarray) -> None:
    """Drop a memory map's resident pages from this process (they stay in the page cache): without it, every page a
    process has read counts in its private memory until the kernel needs the space."""
    mapped = getattr(array, "_mmap", None)
    if mapped is not None and hasattr(mapped, "madvise"):
        mapped.madvise(mmap.MADV_DONTNEED)


def _key(files: list[Path]) -> str:
    """Key of the sources: format, names, sizes, modification times."""
    h = hashlib.sha256(str(PACK_FORMAT).encode())
    for f in files:
        st = f.stat()
        h.update(f"{f.name}|{st.st_size}|{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:24]


def pack_arrays(files: list[Path], out: Path, desc: str = "packing") -> list[int]:
    """Concatenate `.npy` files (same trailing shape) into one float32 `.npy` along axis 0, one source at a time (a
    process holds one source, never the whole), written under a temporary name then renamed. Returns the files'
    row counts."""
    heads = [np.load(f, mmap_mode="r") for f in files]
    shape = (sum(len(h) for h in heads), *heads[0].shape[1:])
    with atomic_path(out) as tmp, open(tmp, "wb") as f:  # fsync, rename, and removal on failure: utils.atomic
        np.lib.format.write_array_header_2_0(
            f, {"descr": np.dtype(np.float32).str, "fortran_order": False, "shape": shape}
        )
        for h in tqdm(heads, desc=desc, unit="file", disable=len(heads) < 50):
            f.write(np.ascontiguousarray(h, dtype=np.float32).tobytes())
            release(h)
    return [len(h) for h in heads]


def packed(folder: Path, name: str, files: list[Path], names: list[str]) -> PackedArray:
    """`folder/<name>.npy` packing `files` (one per source in `names`), made or remade when its sources changed."""
    path, index = folder / f"{name}.npy", folder / f"{name}.json"
    key = _key(files)
    info = json.loads(index.read_text()) if index.is_file() else {}
    if info.get("key") != key or not path.is_file():
        logger.info("packing %d files into %s (read through a memory map in training)", len(files), path)
        info = {"key": key, "names": names, "lengths": pack_arrays(files, path, desc=f"packing {name}")}
        write_json(index, info, indent=None)
    lengths = np.asarray(info["lengths"], np.int64)
    offsets = np.cumsum(lengths) - lengths
    return PackedArray(np.load(path, mmap_mode="r"), list(info["names"]), offsets, lengths, path)


def packed_motion(root: Path, split: str, clip_names: list[str]) -> PackedArray:
    """The split's motion features, clips in the given order. (sum T, D)"""
    return packed(root / "packed" / split, "motion", [root / "motion" / f"{c}.npy" for c in clip_names], clip_names)


def packed_music(root: Path, split: str, music_dir: Path, songs: list[str]) -> PackedArray:
    """The split's songs of one music feature folder (`<type>_<mode>`). (sum L, Dm) or (sum n, 150, Dm)"""
    return packed(root / "packed" / split, music_dir.name, [music_dir / f"{s}.npy" for s in songs], songs)


def row_statistics(rows: np.ndarray, chunk: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Mean and std over the rows (N, ..., D) -> (D,), (D,) float64, read `chunk` rows at a time (default: 64 MB of
    float64)."""
    flat = rows.reshape(-1, rows.shape[-1])
    chunk = chunk or max(1, (64 << 20) // (8 * flat.shape[1]))
    n, total, squares = 0, 0.0, 0.0
    for lo in range(0, len(flat), chunk):
        x = np.asarray(flat[lo : lo + chunk], np.float64)
        n, total, squares = n + len(x), total + x.sum(0), squares + (x * x).sum(0)
        release(rows)
    mean = total / max(n, 1)
    return mean, np.sqrt(np.maximum(squares / max(n, 1) - mean * mean, 0.0))
