"""The seed's two data-preparation steps, one file at a time: motion file -> joints (+ face), joints -> features.

The scripts in `data/motion_representation/src/` run these over files or folders (`utils.batch.run_batch`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from data.formats import load_motion
from data.formats.containers import read_container
from data.formats.motion import SMPLXMotion, check_frames, pad_face
from data.formats.smplx_npz import save_smplx_npz
from data.layout import FACE_DIM, MotionLayout
from utils.bvh import write_bvh
from utils.cli import UserError
from utils.kinematics import ik_axis_angle
from utils.motion_features import joints_to_features, recover_from_ric, target_offsets
from utils.skeleton import N_BODY_JOINTS, N_JOINTS

FEATURE_DIMS = (263, 623, 723)  # body-only, body + hands, grouped with face


@dataclass
class RawPoseOptions:
    """How `process_raw_pose` reads a motion file and what it writes.

    Args:
        out_dir: joints (T, J, 3) `.npy` go here.
        face_dir: face expressions (T, 100) `.npy` go here when the source has a face.
        fmt: motion format name (see `data.formats.format_names()`).
        fps: source frame rate override.
        up_axis: source up axis override ("y" or "z").
        smplx_model_path: SMPL-X model for exact joints.
        bvh_dir: also write a 52-joint BVH here.
        smplx_dir: also write SMPL-X parameters (BEAT2/EMAGE npz) here.
    """

    out_dir: Path
    face_dir: Path | None = None
    fmt: str = "auto"
    fps: float | None = None
    up_axis: str | None = None
    smplx_model_path: Path | None = None
    bvh_dir: Path | None = None
    smplx_dir: Path | None = None


def output_path(src: Path, root: Path | None, out_dir: Path, suffix: str) -> Path:
    """`out_dir/<src relative to root, with suffix>` (the file's own name when it was given alone)."""
    rel = src.relative_to(root) if root is not None and root in src.parents else Path(src.name)
    return out_dir / rel.with_suffix(suffix)


def process_raw_pose(src: Path, opts: RawPoseOptions, root: Path | None = None) -> Path:
    """Motion file -> joints `.npy` (and face, BVH, SMPL-X npz as asked). Returns the joints path."""
    m = load_motion(src, fmt=opts.fmt, fps=opts.fps, up_axis=opts.up_axis, smplx_model_path=opts.smplx_model_path)
    out = output_path(src, root, opts.out_dir, ".npy")
    out.parent.mkdir(parents=True, exist_ok=True)
    np.save(out, m.joints)
    if m.face is not None and opts.face_dir is not None:
        face_out = output_path(src, root, opts.face_dir, ".npy")
        face_out.parent.mkdir(parents=True, exist_ok=True)
        np.save(face_out, m.face)
    if opts.bvh_dir is not None and m.joints.shape[1] == N_JOINTS:
        write_bvh(output_path(src, root, opts.bvh_dir, ".bvh"), m.joints)
    if opts.smplx_dir is not None:
        smplx = m.smplx or _smplx_from_joints(m.joints)
        if smplx is not None:
            save_smplx_npz(output_path(src, root, opts.smplx_dir, ".npz"), smplx)
    return out


def _smplx_from_joints(joints: np.ndarray) -> SMPLXMotion | None:
    """SMPL-X parameters of 52-joint positions by inverse kinematics (None for body-only joints)."""
    if joints.shape[1] != N_JOINTS:
        return None
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
        return pad_face(face, n_frames)
    except (ValueError, TypeError) as err:
        raise UserError(f"{path}: {err}") from err


def process_features(joints_path: Path, out: Path, target: str = "default", face_path: Path | None = None,
                     smplx_model_path: Path | None = None) -> Path:  # fmt: skip
    """Joints (or any motion file) -> 623/263-d features, or 723-d when a face file is given. Returns `out`.

    `target` is the skeleton every clip is retargeted to (see `utils.motion_features.target_offsets`).
    """
    joints = load_motion(joints_path, smplx_model_path=smplx_model_path).joints  # (T, J, 3)
    tgt = target_offsets(target, joints, n_joints=joints.shape[1])
    feats = joints_to_features(joints, tgt).features  # (T-1, 623 | 263)
    if face_path is not None:
        if joints.shape[1] != N_JOINTS:
            raise UserError(f"{joints_path}: the 723-d layout needs 52 joints, got {joints.shape[1]}")
        face = load_face(face_path, len(joints))[:-1]  # rows follow the T-1 features
        feats = MotionLayout(N_JOINTS, FACE_DIM).from_flat(feats, face)
    out.parent.mkdir(parents=True, exist_ok=True)
    np.save(out, feats)
    return out


def joint_sequences(path: Path) -> np.ndarray:
    """Joint sequences to plot from a file. -> (B, T, J, 3)

    Takes joints `.npy` (T, J, 3) or (B, T, J, 3), motion features `.npy` (T, D) or (B, T, D) with D in
    263/623/723 (joints recovered from the ric block), or any motion file `load_motion` reads.
    """
    if path.suffix.lower() == ".npy":
        a = read_container(path).get("array")
        if a is not None and a.ndim in (3, 4) and a.shape[-1] == 3 and a.shape[-2] in (N_BODY_JOINTS, N_JOINTS):
            joints = a.reshape((-1,) + a.shape[-3:])
            check_frames(joints.shape[1], path)
            if not np.isfinite(joints).all():
                raise UserError(f"{path}: joints contain NaN or Inf")
            return joints.astype(np.float32)
        if a is not None and a.ndim in (2, 3) and a.shape[-1] in FEATURE_DIMS:
            return recover_from_ric(feature_sequences(path))
    return load_motion(path).joints[None]


def feature_sequences(path: Path) -> np.ndarray:
    """Motion features from a `.npy` (T, D) or (B, T, D), D in 263/623/723. -> (B, T, D)"""
    a = read_container(path).get("array")
    if a is None or a.ndim not in (2, 3) or a.shape[-1] not in FEATURE_DIMS:
        shape = None if a is None else a.shape
        raise UserError(f"{path}: expected motion features (T, D) or (B, T, D) with D in {FEATURE_DIMS}, got {shape}")
    feats = a.reshape((-1,) + a.shape[-2:]).astype(np.float32)
    check_frames(feats.shape[1], path)
    if not np.isfinite(feats).all():
        raise UserError(f"{path}: features contain NaN or Inf")
    return feats
