"""`make demo`: a motion (MOTION=path, or one the project makes) -> joints -> 623/723-d features -> joints -> video.

    python demo.py [--motion FILE] [--out_dir outputs/demo] [--seconds 10] [--smplx_model_path P]
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import numpy as np

from data.formats import motion_to_joints, read_joints
from data.layout import FACE_DIM, MotionLayout
from data.synthetic_dance import synthesize_dance
from utils.cli import setup_logging, user_errors_exit
from utils.motion_features import joints_to_features, recover_from_ric
from utils.render import render_skeleton_video

logger = logging.getLogger("demo")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--motion", type=Path, help="SMPL-X .npz or joints .npy; default: a generated 120 bpm dance")
    p.add_argument("--out_dir", type=Path, default=Path("outputs/demo"), help="where the outputs go")
    p.add_argument("--seconds", type=float, default=10.0, help="length rendered (and generated), seconds")
    p.add_argument("--smplx_model_path", type=Path, help="SMPL-X model for exact joints from an .npz")
    return p


@user_errors_exit
def main(argv: list[str] | None = None) -> dict:
    args = build_parser().parse_args(argv)
    setup_logging()
    n = max(2, round(30 * args.seconds))
    if args.motion is None:
        motion = synthesize_dance(n)
        joints, face = motion_to_joints(motion, args.smplx_model_path), motion.expressions
    else:
        joints, face = read_joints(args.motion, args.smplx_model_path)
        joints, face = joints[:n], None if face is None else face[:n]
    mf = joints_to_features(joints)  # (T-1, 623)
    layout = MotionLayout(joints.shape[1], FACE_DIM if face is not None else 0)
    feats = layout.from_flat(mf.features, None if face is None else face[:-1])  # (T-1, 723) with a face
    recovered = recover_from_ric(feats)  # (T-1, J, 3)
    err = np.linalg.norm(recovered - mf.positions[:-1], axis=-1)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    np.save(args.out_dir / "joints.npy", joints)
    np.save(args.out_dir / f"features_{feats.shape[-1]}.npy", feats)
    np.save(args.out_dir / "recovered_joints.npy", recovered)
    video = render_skeleton_video([mf.positions[:-1], recovered], args.out_dir / "demo.mp4",
                                  titles=["input (canonical)", f"from {feats.shape[-1]}-d features"])  # fmt: skip
    summary = {"frames": len(joints), "feature_dim": feats.shape[-1], "mean_error_m": float(err.mean()),
               "max_error_m": float(err.max()), "video": str(video)}  # fmt: skip
    (args.out_dir / "summary.json").write_text(json.dumps(summary, indent=2))
    logger.info("round trip error mean %.2e m, max %.2e m", err.mean(), err.max())
    logger.info("outputs in %s: demo.mp4, joints.npy, features_%d.npy, recovered_joints.npy, summary.json",
                args.out_dir, feats.shape[-1])  # fmt: skip
    return summary


if __name__ == "__main__":
    main()
