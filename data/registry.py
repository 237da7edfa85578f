"""Dataset facts in one place: where each dataset keeps its motion and music, how files pair up, how they read.

`DATASETS["aistpp"]` etc. replace per-script `if dataset_name == ...` ladders. Raw layouts (under the data root):

- souldance: `motion/*.npz` + `music/*.mp4` (any audio or video), same stem; clips `<seq>_slice<k>` group under
  `<seq>`; optional `splits/{train,val,test}.txt`.
- aistpp: `motions/*.pkl` + `wavs/*.wav`, same stem or the AIST++ music id (`mBR0.wav`); EDGE's
  `splits/crossmodal_{train,test}.txt` and `splits/ignore_list.txt` when present.
- finedance: `motion/*.npy` + `music_wav/*.wav`, same stem; optional `splits/{train,val,test}.txt`.
- synthetic: `motion/*.npz` + `music/*.wav` (written by `data.synthetic_dance` first); seeded splits.
- custom: SMPL-X `*.npz` with audio of the same stem, side by side (or in `motion/` and `music/`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from data.formats import MOTION_SUFFIXES
from data.paths import canonical_dataset
from utils.audio import MUSIC_SUFFIXES
from utils.cli import UserError

_SLICE = re.compile(r"_slice\d+$")


@dataclass(frozen=True)
class DatasetSpec:
    """One dataset's raw layout.

    Args:
        name: canonical name.
        motion_dirs: sub-folders searched for motion files, in order ("." = the data root itself).
        music_dirs: sub-folders searched for music files.
        motion_format: `data.formats` format name used to read the motion files.
        motion_suffixes: motion file suffixes.
        face: True: 723-d (every motion must carry a face); False: 623-d; None: 723-d if every motion has one.
        split_files: split name -> list file (relative to the root) when the dataset ships splits.
        ignore_file: list file of sequences to leave out (EDGE's AIST++ ignore list).
        music_id_field: the '_'-separated field of a motion name that names its music file when no music file has
            the motion's own name (AIST++: field 4, `gBR_sBM_cAll_d04_mBR0_ch02` -> `mBR0`).
    """

    name: str
    motion_dirs: tuple[str, ...]
    music_dirs: tuple[str, ...]
    motion_format: str = "auto"
    motion_suffixes: tuple[str, ...] = MOTION_SUFFIXES
    face: bool | None = None
    split_files: tuple[tuple[str, str], ...] = (
        ("train", "splits/train.txt"),
        ("val", "splits/val.txt"),
        ("test", "splits/test.txt"),
    )
    ignore_file: str | None = None
    music_id_field: int | None = None

    def sequence_of(self, stem: str) -> str:
        """The source sequence of a clip: SoulDance's `<seq>_slice<k>` clips group under `<seq>`."""
        return _SLICE.sub("", stem)

    def music_candidates(self, stem: str) -> tuple[str, ...]:
        """Music file stems that may belong to a motion stem (the same stem first)."""
        fields = stem.split("_")
        if self.music_id_field is not None and len(fields) > self.music_id_field:
            return (stem, fields[self.music_id_field])
        return (stem,)


DATASETS = {
    "souldance": DatasetSpec("souldance", ("motion",), ("music",), motion_format="souldance", face=True),
    "aistpp": DatasetSpec(
        "aistpp",
        ("motions", "motion"),
        ("wavs", "music"),
        motion_format="aistpp",
        face=False,
        split_files=(("train", "splits/crossmodal_train.txt"), ("test", "splits/crossmodal_test.txt")),
        ignore_file="splits/ignore_list.txt",
        music_id_field=4,
    ),
    "finedance": DatasetSpec("finedance", ("motion",), ("music_wav", "music"), motion_format="finedance", face=False),
    "synthetic": DatasetSpec("synthetic", ("motion",), ("music",), motion_format="smplx_npz", face=True),
    "custom": DatasetSpec(
        "custom", (".", "motion"), (".", "music"), motion_format="auto", face=None, motion_suffixes=(".npz",)
    ),
}


def dataset_spec(name: str) -> DatasetSpec:
    """The spec of a dataset name (aliases such as `findance` accepted)."""
    key = canonical_dataset(name)
    if key not in DATASETS:
        raise UserError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
    return DATASETS[key]


def find_files(root: Path, dirs: tuple[str, ...], suffixes: tuple[str, ...]) -> dict[str, Path]:
    """Files by stem in the first of `dirs` (under root) that has any. Two files of one stem (`song.mp3` beside
    `song.wav`) are a one-line error naming them: which one belongs to the clip is the user's choice."""
    for d in dirs:
        folder = root / d
        if folder.is_dir():
            found = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in suffixes)
            if found:
                by_stem: dict[str, list[Path]] = {}
                for p in found:
                    by_stem.setdefault(p.stem, []).append(p)
                check_one_file_per_stem(by_stem)
                return {stem: paths[0] for stem, paths in by_stem.items()}
    return {}


def check_one_file_per_stem(by_stem: dict[str, list[Path]]) -> None:
    """A one-line `UserError` naming every stem with more than one file (and the files)."""
    clashes = [paths for paths in by_stem.values() if len(paths) > 1]
    if clashes:
        shown = "; ".join(" and ".join(str(p) for p in paths) for paths in clashes[:3])
        more = f" (and {len(clashes) - 3} more)" if len(clashes) > 3 else ""
        raise UserError(f"{shown}{more}: two files for one clip name; keep one of each (move or rename the other)")


def music_files(dataset: str, root: str | Path) -> dict[str, Path]:
    """The raw music files of a dataset folder by stem (in the dataset layout's music folders)."""
    return find_files(Path(root), dataset_spec(dataset).music_dirs, MUSIC_SUFFIXES)


def raw_pairs(spec: DatasetSpec, root: Path) -> tuple[dict[str, tuple[Path, Path]], list[tuple[str, str]]]:
    """(stem -> (motion, music)) for every motion with its music, and (item, reason) for every unpaired file."""
    motions = find_files(root, spec.motion_dirs, spec.motion_suffixes)
    music = find_files(root, spec.music_dirs, MUSIC_SUFFIXES)
    pairs, skipped, used = {}, [], set()
    for stem, motion in motions.items():
        match = next((music[c] for c in spec.music_candidates(stem) if c in music), None)
        if match is None:
            skipped.append((stem, f"motion without music: no music file named like {motion.name}"))
            continue
        pairs[stem] = (motion, match)
        used.add(match.stem)
    skipped += [(stem, f"music without motion: {p.name}") for stem, p in music.items() if stem not in used]
    return pairs, skipped
