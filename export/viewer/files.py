"""Viewer scenes from files: any motion file the readers accept, joints or feature `.npy`, a batch file's sequences,
or a folder of them (one scene, a lane each); or several folders compared (a scene per dance name, a lane per
folder: runs, checkpoints, seeds); music and beats from a file, or matched by name in a music folder."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from data.formats import MOTION_SUFFIXES
from data.motion_pipeline import input_files
from evaluation.evaluate import match_music, music_index
from evaluation.metrics.music_beats import read_beat_file
from export.plot_inputs import joint_sequences
from export.viewer.page import Lane, Scene, write_viewer
from utils.cli import UserError

VIEWER_SUFFIXES = tuple(dict.fromkeys(MOTION_SUFFIXES + (".npy",)))
PREFERRED = (".npz", ".npy", ".pkl")  # one file per dance name in a folder: our npz before its bvh, ...


def folder_files(src: Path) -> list[Path]:
    """The motion files of a file or folder argument; in a folder, one per name (a dance's npz, not also its bvh)."""
    files = input_files(Path(src), VIEWER_SUFFIXES)
    if not Path(src).is_dir():
        return files

    def rank(f: Path) -> int:
        suffix = f.suffix.lower()
        return PREFERRED.index(suffix) if suffix in PREFERRED else len(PREFERRED)

    best: dict[str, Path] = {}
    for f in sorted(files, key=rank, reverse=True):  # the preferred file of a name comes last and stays
        best[f.stem] = f
    return sorted(best.values())


def file_lanes(path: Path, name: str | None = None) -> list[Lane]:
    """The lanes of one file: one per sequence (a batch `.npy` (B, T, ...) gives B, named `<name>[b]`)."""
    seqs = joint_sequences(Path(path))  # (B, T, J, 3)
    name = name or Path(path).stem
    return [Lane(name if len(seqs) == 1 else f"{name}[{b}]", s) for b, s in enumerate(seqs)]


def folder_scenes(folders: list[Path], music: Path | None = None, names: list[str] | None = None) -> list[Scene]:
    """One scene per dance name found in any of `folders` (sorted), its lanes the folders that hold it (named by
    `names` or the folder names), its music `music` (a file) or the file of `music` (a folder) whose name matches
    (`<name>.*`, or a name field as AIST++ clips carry it)."""
    labels = names or [Path(f).name or str(f) for f in folders]
    if len(labels) != len(folders):
        raise UserError(f"--names gives {len(labels)} names for {len(folders)} folders")
    if len(set(labels)) != len(labels):
        raise UserError(f"the folders' lane names repeat ({', '.join(labels)}): give --names")
    found = [{f.stem: f for f in folder_files(d)} for d in folders]
    index = music_index(music) if music is not None and Path(music).is_dir() else {}
    scenes = []
    for stem in sorted(set().union(*found)):
        lanes = [
            lane
            for label, files in zip(labels, found, strict=True)
            if stem in files
            for lane in file_lanes(files[stem], label)
        ]
        song = match_music(stem, index) if index else music
        scenes.append(Scene(stem, lanes, song))
    if not scenes:
        raise UserError(f"no motion files in {', '.join(map(str, folders))} (expected one of {VIEWER_SUFFIXES})")
    return scenes


def inputs_scene(
    inputs: list[Path],
    music: Path | None = None,
    beats: Path | None = None,
    names: list[str] | None = None,
    title: str | None = None,
) -> Scene:
    """One scene of every sequence in `inputs` (files, or folders of motion files, in order), with `music` and the
    beat times of `beats` (a `.txt`/`.beats`/`.npy` annotation; default: tracked from the music)."""
    files = [f for src in inputs for f in folder_files(src)]
    if not files:
        raise UserError(f"no motion files in {', '.join(map(str, inputs))} (expected one of {VIEWER_SUFFIXES})")
    if names is not None and len(names) != len(files):
        raise UserError(f"--names gives {len(names)} names for {len(files)} files")
    lanes = [lane for i, f in enumerate(files) for lane in file_lanes(f, names[i] if names else None)]
    times = None if beats is None else np.asarray(read_beat_file(beats))
    source = "" if beats is None else f"annotated ({Path(beats).name})"
    return Scene(title or (files[0].stem if len(files) == 1 else "dances"), lanes, music, times, source)


def page_file(
    path: Path,
    out: Path,
    fps: float = 30.0,
    music: Path | None = None,
    max_seconds: float | None = None,
    overwrite: bool = False,
) -> list[Path]:
    """The viewer page of one file's sequences (lanes of one scene, with `music`), for `plot_3d_global.py --html`.
    Returns [out], or [] when the page exists and `overwrite` is off (it is kept)."""
    if Path(out).exists() and not overwrite:
        return []
    lanes = file_lanes(path)
    if max_seconds is not None:
        for lane in lanes:
            lane.joints = lane.joints[: max(2, round(max_seconds * fps))]
    return [write_viewer(out, [Scene(Path(path).stem, lanes, music)], Path(path).stem, fps)]
