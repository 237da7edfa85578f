"""The seed's two data-preparation steps, one file at a time: motion file -> joints (+ face), joints -> features.

The scripts in `data/motion_representation/src/` run these over files or folders (`utils.batch.run_batch`), after
`plan_outputs` has checked what they will write (`utils.outputs`): an existing output is kept unless `overwrite`.
Every file is written atomically (`utils.atomic`).
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from data.formats import LoadedMotion, load_motion
from data.formats.containers import read_container
from data.formats.motion import SMPLXMotion, pad_face
from data.formats.smplx_npz import save_smplx_npz
from motion.bvh import write_bvh
from motion.features import joints_to_features, target_offsets
from motion.kinematics import ik_axis_angle
from motion.layout import FACE_DIM, MotionLayout
from motion.skeleton import N_BODY_JOINTS, N_JOINTS
from utils.atomic import save_npy
from utils.batch import list_files, run_batch
from utils.cli import UserError
from utils.outputs import drop_unfinished, refuse_duplicate_outputs, split_existing

logger = logging.getLogger(__name__)


@dataclass
class ReadOptions:
    """How motion files are read (see `data.formats.load_motion`).

    Args:
        fmt: format name, "auto" or "souldance".
        fps: source frame rate override.
        up_axis: source up axis override ("y" or "z").
        smplx_model_path: SMPL-X model for exact, shaped joints.
    """

    fmt: str = "auto"
    fps: float | None = None
    up_axis: str | None = None
    smplx_model_path: Path | None = None

    def load(self, path: Path) -> LoadedMotion:
        return load_motion(path, **asdict(self))


@dataclass
class RawPoseOptions:
    """What `process_raw_pose` writes.

    Args:
        out_dir: joints (T, J, 3) `.npy` go here.
        face_dir: face expressions (T, 100) `.npy` go here when the source has a face.
        read: how files are read.
        bvh_dir: also write a 52-joint BVH here.
        smplx_dir: also write SMPL-X parameters (BEAT2/EMAGE npz) here.
        overwrite: replace outputs that exist (else they are kept).
    """

    out_dir: Path
    face_dir: Path | None = None
    read: ReadOptions = field(default_factory=ReadOptions)
    bvh_dir: Path | None = None
    smplx_dir: Path | None = None
    overwrite: bool = False


def output_path(src: Path, root: Path | None, out_dir: Path, suffix: str) -> Path:
    """`out_dir/<src relative to root, with suffix>` (the file's own name when it was given alone)."""
    rel = src.relative_to(root) if root is not None and root in src.parents else Path(src.name)
    return out_dir / rel.with_suffix(suffix)


def input_files(src: Path, suffixes: Iterable[str], recursive: bool = False, limit: int = 0) -> list[Path]:
    """`[src]` for a file; for a folder its files with one of `suffixes` (sorted, the first `limit` when > 0),
    without the temporary files of interrupted writes."""
    if not src.is_dir():
        return [src]
    files = drop_unfinished(list_files(src, suffixes, recursive))
    return files[:limit] if limit > 0 else files


def plan_outputs(planned: Mapping[Path, Sequence[Path]], overwrite: bool, single: bool) -> list[Path]:
    """The inputs to process: two inputs writing one output refuse the run; an input whose outputs all exist is
    kept (listed in the log) unless `overwrite`, and a `single` input run ends in one line then.

    Args:
        planned: input -> the outputs it would write.
    """
    refuse_duplicate_outputs(planned)
    _, kept = split_existing([out for outs in planned.values() for out in outs], overwrite)
    kept_set = set(kept)
    todo = [src for src, outs in planned.items() if not all(out in kept_set for out in outs)]
    if single and not todo:
        src = next(iter(planned))
        raise UserError(
            f"{src}: its output(s) exist already ({', '.join(map(str, kept))}); give --overwrite to "
            "replace them or choose another output"
        )
    return todo


def run_planned(
    planned: Mapping[Path, Sequence[Path]],
    step: Callable[[Path], Any],
    overwrite: bool,
    desc: str,
    dest: Path | None = None,
    single: bool = False,
) -> list[Any]:
    """`step` on every input of `plan_outputs`: a `single` input directly (its error ends the run), a folder's
    through `run_batch` (errors skip a file and are listed). Returns the steps' results."""
    todo = plan_outputs(planned, overwrite, single)
    if single:
        result = step(todo[0])
        logger.info("%s -> %s", todo[0], result)
        return [result]
    return run_batch(todo, step, desc=desc, dest=dest).results if todo else []


def _write(path: Path, overwrite: bool, save: Callable[[Path], object]) -> None:
    """`save(path)` unless `path` exists and `overwrite` is off (then it is kept and logged)."""
    if split_existing([path], overwrite)[0]:
        save(path)


def raw_pose_outputs(src: Path, opts: RawPoseOptions, root: Path | None = None) -> dict[str, Path]:
    """What `process_raw_pose` may write for `src`: joints, and face / bvh / smplx where asked."""
    dirs = {
        "joints": (opts.out_dir, ".npy"),
        "face": (opts.face_dir, ".npy"),
        "bvh": (opts.bvh_dir, ".bvh"),
        "smplx": (opts.smplx_dir, ".npz"),
    }
    return {kind: output_path(src, root, folder, suffix) for kind, (folder, suffix) in dirs.items() if folder}


def process_raw_pose(src: Path, opts: RawPoseOptions, root: Path | None = None) -> Path:
    """Motion file -> joints `.npy` (and face, BVH, SMPL-X npz as asked); outputs that exist are kept unless
    `opts.overwrite`. Returns the joints path."""
    m = opts.read.load(src)
    outs = raw_pose_outputs(src, opts, root)
    _write(outs["joints"], opts.overwrite, lambda p: save_npy(p, m.joints))
    if m.face is not None and "face" in outs:
        _write(outs["face"], opts.overwrite, lambda p: save_npy(p, m.face))
    body_only = m.joints.shape[1] != N_JOINTS
    if ("bvh" in outs or ("smplx" in outs and m.smplx is None)) and body_only:
        logger.warning("%s: body-only joints (%d): no BVH / SMPL-X export (they need 52 joints)", src, N_BODY_JOINTS)
        return outs["joints"]
    if "bvh" in outs:
        _write(outs["bvh"], opts.overwrite, lambda p: write_bvh(p, m.joints))
    if "smplx" in outs:
        smplx = m.smplx if m.smplx is not None else smplx_from_joints(m.joints)
        _write(outs["smplx"], opts.overwrite, lambda p: save_smplx_npz(p, smplx))
    return outs["joints"]


def smplx_from_joints(joints: np.ndarray) -> SMPLXMotion:
    """SMPL-X parameters of 52-joint positions (T, 52, 3) by inverse kinematics on the default skeleton."""
    poses, trans = ik_axis_angle(joints)
    t = len(joints)
    return SMPLXMotion(
        poses=poses, trans=trans, betas=np.zeros(10, np.float32), expressions=np.zeros((t, FACE_DIM), np.float32)
    )


def load_face(path: Path, n_frames: int) -> np.ndarray:
    """Face expressions (T, <=100) from a `.npy` -> (T, 100), with one-line errors."""
    if not path.is_file():
        raise UserError(f"{path}: face file not found (the 723-d layout needs one per motion)")
    face = read_container(path).get("array")
    try:
        face = pad_face(face, n_frames)
    except (ValueError, TypeError) as err:
        raise UserError(f"{path}: {err}") from err
    if not np.isfinite(face).all():
        raise UserError(f"{path}: face contains NaN or Inf")
    return face


def check_target_skeleton(target: str) -> None:
    """Fail early, in one line, on a `--target_skeleton` file that cannot be used."""
    if target in ("default", "first_frame"):
        return
    try:
        target_offsets(target, n_joints=N_BODY_JOINTS)
    except (ValueError, OSError) as err:
        raise UserError(f"{target}: not a usable target skeleton ({err})") from err


@dataclass
class FeatureOptions:
    """How `process_features` makes features.

    Args:
        target: the skeleton every clip is retargeted to (see `motion.features.target_offsets`).
        face: a face `.npy` for a single clip, or a folder of them named like the joints files; None: no face.
        read: how the joints / motion files are read.
        overwrite: replace a features file that exists (else it is kept).
    """

    target: str = "default"
    face: Path | None = None
    read: ReadOptions = field(default_factory=ReadOptions)
    overwrite: bool = False

    def face_for(self, joints_path: Path, root: Path | None) -> Path | None:
        """The face file paired with a joints file (same relative name in the face folder)."""
        if self.face is None or not self.face.is_dir():
            return self.face
        return output_path(joints_path, root, self.face, ".npy")


def features_of(joints: np.ndarray, target: str, src: Path) -> np.ndarray:
    """623/263-d features of joints (T, J, 3) -> (T-1, D); non-finite features (degenerate joints: every joint at
    one point, zero-length bones, values beyond float32) end in one line."""
    with np.errstate(all="ignore"), warnings.catch_warnings():  # the check below reports them, once
        warnings.simplefilter("ignore", RuntimeWarning)
        feats = joints_to_features(joints, target_offsets(target, joints, n_joints=joints.shape[1])).features
    if not np.isfinite(feats).all():
        raise UserError(
            f"{src}: its features come out NaN or Inf (degenerate joints: all at one point, zero-length "
            "bones or huge values); nothing written"
        )
    return feats


def process_features(src: Path, out: Path, opts: FeatureOptions, root: Path | None = None) -> Path:
    """Joints (or any motion file) -> 623/263-d features, or 723-d when a face is paired with it. Returns `out`."""
    joints = opts.read.load(src).joints  # (T, J, 3)
    feats = features_of(joints, opts.target, src)
    face_path = opts.face_for(src, root)
    if face_path is not None:  # (T-1, 623) -> (T-1, 723)
        if joints.shape[1] != N_JOINTS:
            raise UserError(f"{src}: the 723-d layout needs 52 joints, got {joints.shape[1]}")
        face = load_face(face_path, len(joints))[:-1]  # rows follow the T-1 features
        feats = MotionLayout(N_JOINTS, FACE_DIM).from_flat(feats, face)
    _write(out, opts.overwrite, lambda p: save_npy(p, feats))
    return out
