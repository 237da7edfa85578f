"""Joints -> 623-d motion features (723-d with --face), HumanML3D/HumanTOMATO convention.

    python motion_representation.py --joints X.npy --out F.npy \
        [--target_skeleton default|first_frame|PATH] [--face E.npy]

X.npy holds joints (T, 52, 3) (Y-up metres; (T, 22, 3) gives 263-d) or is an SMPL-X .npz; F.npy gets (T-1, 623),
or (T-1, 723) = [body 263 | hands 360 | face 100] when --face E.npy (T, <=100) is given.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import numpy as np

from data.formats import read_joints
from data.layout import FACE_DIM, MotionLayout
from utils.cli import UserError, setup_logging, user_errors_exit
from utils.motion_features import joints_to_features, target_offsets

logger = logging.getLogger("motion_representation")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--joints", type=Path, help="joints .npy (T, 52|22, 3) or SMPL-X .npz")
    p.add_argument("--out", type=Path, help="output features .npy (default: <joints stem>_feats.npy beside it)")
    p.add_argument("--target_skeleton", default="default",
                   help="skeleton to retarget to: 'default', 'first_frame' (the clip's own) or a joints .npy")
    p.add_argument("--face", type=Path, help="face expressions .npy (T, <=100): output the 723-d layout")
    p.add_argument("--smplx_model_path", type=Path, help="SMPL-X model file/folder for exact joints from .npz")
    return p


@user_errors_exit
def main(argv: list[str] | None = None) -> Path:
    args = build_parser().parse_args(argv)
    setup_logging()
    if args.joints is None:
        raise UserError("give --joints FILE (joints .npy or SMPL-X .npz); make joints with raw_pose_processing.py")
    joints, _ = read_joints(args.joints, args.smplx_model_path)
    tgt = target_offsets(args.target_skeleton, joints, n_joints=joints.shape[1])
    feats = joints_to_features(joints, tgt).features  # (T-1, 623 | 263)
    if args.face is not None:
        face = np.load(args.face).astype(np.float32)
        if face.ndim != 2 or len(face) != len(joints) or face.shape[1] > FACE_DIM:
            raise UserError(f"{args.face}: face must be ({len(joints)}, <={FACE_DIM}), got {face.shape}")
        face = np.pad(face, ((0, 0), (0, FACE_DIM - face.shape[1])))[:-1]  # rows follow the T-1 features
        feats = MotionLayout(joints.shape[1], FACE_DIM).from_flat(feats, face)
    out = args.out or args.joints.with_name(f"{args.joints.stem}_feats.npy")
    out.parent.mkdir(parents=True, exist_ok=True)
    np.save(out, feats)
    logger.info("wrote %s %s (from %s, %d frames)", out, feats.shape, args.joints, len(joints))
    return out


if __name__ == "__main__":
    main()
