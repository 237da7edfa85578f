"""The seed's two data-preparation steps, one file at a time: motion file -> joints (+ face), joints -> features.

The scripts in `data/motion_representation/src/` run these over files or folders (`utils.batch.run_batch`).
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from data.formats import LoadedMotion, load_motion
from data.formats.containers import read_container
from data.formats.motion import SMPLXMotion, pad_face
from data.formats.smplx_npz import save_smplx_npz
from data.layout import FACE_DIM, MotionLayout
from utils.bvh import write_bvh
from utils.cli import UserError
from utils.kinematics import ik_axis_angle
from utils.motion_features import joints_to_features, target_offsets
from utils.skeleton import N_BODY_JOINTS, N_JOINTS

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
    """

    out_dir: Path
    face_dir: Path | None = None
    read: ReadOptions = field(default_factory=ReadOptions)
    bvh_dir: Path | None = None
    smplx_dir: Path | None = None


def output_path(src: Path, root: Path | None, out_dir: Path, suffix: str) -> Path:
    """`out_dir/<src relative to root, with suffix>` (the file's own name when it was given alone)."""
    rel = src.relative_to(root) if root is not None and root in src.parents else Path(src.name)
    return out_dir / rel.with_suffix(suffix)


def process_raw_pose(src: Path, opts: RawPoseOptions, root: Path | None = None) -> Path:
    """Motion file -> joints `.npy` (and face, BVH, SMPL-X npz as asked). Returns the joints path."""
    m = opts.read.load(src)
    out = output_path(src, root, opts.out_dir, ".npy")
    out.parent.mkdir(parents=True, exist_ok=True)
    np.save(out, m.joints)
    if m.face is not None and opts.face_dir is not None:
        face_out = output_path(src, root, opts.face_dir, ".npy")
        face_out.parent.mkdir(parents=True, exist_ok=True)
        np.save(face_out, m.face)
    body_only = m.joints.shape[1] != N_JOINTS
    if (opts.bvh_dir is not None or (opts.smplx_dir is not None and m.smplx is None)) and body_only:
        logger.warning("%s: body-only joints (%d): no BVH / SMPL-X export (they need 52 joints)", src, N_BODY_JOINTS)
        return out
    if opts.bvh_dir is not None:
        write_bvh(output_path(src, root, opts.bvh_dir, ".bvh"), m.joints)
    if opts.smplx_dir is not None:
        smplx = m.smplx if m.smplx is not None else smplx_from_joints(m.joints)
        save_smplx_npz(output_path(src, root, opts.smplx_dir, ".npz"), smplx)
    return out


def smplx_from_joints(joints: np.ndarray) -> SMPLXMotion:
    """SMPL-X parameters of 52-joint positions (T, 52, 3) by inverse kinematics on the default skeleton."""
    poses, trans = ik_axis_angle(joints)
    t = len(joints)
    return SMPLXMotion(poses=poses, trans=trans, betas=np.zeros(10, np.float32),
                       expressions=np.zeros((t, FACE_DIM), np.float32))  # fmt: skip


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
        target: the skeleton every clip is retargeted to (see `utils.motion_features.target_offsets`).
        face: a face `.npy` for a single clip, or a folder of them named like the joints files; None: no face.
        read: how the joints / motion files are read.
    """

    target: str = "default"
    face: Path | None = None
    read: ReadOptions = field(default_factory=ReadOptions)

    def face_for(self, joints_path: Path, root: Path | None) -> Path | None:
        """The face file paired with a joints file (same relative name in the face folder)."""
        if self.face is None or not self.face.is_dir():
            return self.face
        return output_path(joints_path, root, self.face, ".npy")


def process_features(src: Path, out: Path, opts: FeatureOptions, root: Path | None = None) -> Path:
    """Joints (or any motion file) -> 623/263-d features, or 723-d when a face is paired with it. Returns `out`."""
    joints = opts.read.load(src).joints  # (T, J, 3)
    feats = joints_to_features(joints, target_offsets(opts.target, joints, n_joints=joints.shape[1])).features
    face_path = opts.face_for(src, root)
    if face_path is not None:  # (T-1, 623) -> (T-1, 723)
        if joints.shape[1] != N_JOINTS:
            raise UserError(f"{src}: the 723-d layout needs 52 joints, got {joints.shape[1]}")
        face = load_face(face_path, len(joints))[:-1]  # rows follow the T-1 features
        feats = MotionLayout(N_JOINTS, FACE_DIM).from_flat(feats, face)
    out.parent.mkdir(parents=True, exist_ok=True)
    np.save(out, feats)
    return out
