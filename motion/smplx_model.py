"""The exact joint path through the `smplx` package, used when the user gives `--smplx_model_path`.

The SMPL-X model file is licensed and never shipped: the user downloads it. `smplx` is imported only here and
only when a model path is given. Poses keep SMPL-X semantics (absolute axis-angles, flat hand mean), so this path
and the licence-free `motion.kinematics.fk_axis_angle` agree up to the body shape.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch

from motion.skeleton import SMPLX_JOINT_INDICES, SMPLX_N_JOINTS

logger = logging.getLogger(__name__)


def resolve_smplx_file(model_path: str | Path, gender: str = "neutral") -> Path:
    """Find `SMPLX_<GENDER>.npz|pkl` from a file, a folder holding it, or a folder holding `smplx/`."""
    path = Path(model_path)
    if path.is_file():
        return path
    name = f"SMPLX_{gender.upper()}"
    for folder in (path, path / "smplx"):
        for ext in ("npz", "pkl"):
            if (folder / f"{name}.{ext}").is_file():
                return folder / f"{name}.{ext}"
    raise FileNotFoundError(
        f"no {name}.npz or .pkl under '{path}' (looked in it and in its smplx/ folder); "
        "download SMPL-X from https://smpl-x.is.tue.mpg.de and pass --smplx_model_path to the file or its folder"
    )


def _body_model(smplx, model_file: Path, gender: str) -> torch.nn.Module:
    """The official SMPL-X body model (the `smplx` package's) of a model file (full hand poses, 300 betas, 100
    expressions)."""
    return smplx.create(
        str(model_file),
        model_type="smplx",
        gender=gender,
        use_pca=False,
        flat_hand_mean=True,
        use_face_contour=False,
        num_betas=300,
        num_expression_coeffs=100,
    )


def smplx_joints(
    poses: np.ndarray,
    trans: np.ndarray,
    model_path: str | Path,
    betas: np.ndarray | None = None,
    expressions: np.ndarray | None = None,
    gender: str = "neutral",
    batch_frames: int = 512,
) -> np.ndarray:
    """Our 52 joints from SMPL-X parameters through the official body model.

    Args:
        poses: (T, 165) axis-angle (55 joints: body, jaw, eyes, hands).
        trans: (T, 3).
        model_path: the SMPL-X model file or a folder holding it (see `resolve_smplx_file`).
        betas: (B,) or (T, B) shape coefficients; truncated or zero-padded to the model's count.
        expressions: (T, E) expression coefficients (change face vertices, not these joints).
        gender: neutral | male | female.
        batch_frames: frames per forward pass.
    Returns:
        (T, 52, 3) float32 joints.
    """
    import smplx  # licensed-model path only (a missing package is the first thing said)

    full = np.asarray(poses).reshape(len(poses), -1, 3)
    if full.shape[1] != SMPLX_N_JOINTS:
        raise ValueError(f"the SMPL-X path needs the full 55-joint poses (T, 165), got {np.shape(poses)}")
    model_file = resolve_smplx_file(model_path, gender)
    model = _body_model(smplx, model_file, gender)
    n_frames = len(full)
    shape = _fit(betas, model.num_betas, n_frames)
    expr = _fit(expressions, model.num_expression_coeffs, n_frames)
    p = torch.as_tensor(full, dtype=torch.float32)
    tr = torch.as_tensor(np.asarray(trans), dtype=torch.float32)
    out = []
    with torch.no_grad():
        for s in range(0, n_frames, batch_frames):
            e = slice(s, s + batch_frames)
            res = model(
                global_orient=p[e, 0],
                body_pose=p[e, 1:22].flatten(1),
                jaw_pose=p[e, 22],
                leye_pose=p[e, 23],
                reye_pose=p[e, 24],
                left_hand_pose=p[e, 25:40].flatten(1),
                right_hand_pose=p[e, 40:55].flatten(1),
                transl=tr[e],
                betas=shape[e],
                expression=expr[e],
                return_verts=False,
            )
            out.append(res.joints[:, SMPLX_JOINT_INDICES].numpy())
    logger.info("SMPL-X joints from %s (%d frames)", model_file, n_frames)
    return np.concatenate(out).astype(np.float32)


def _fit(x: np.ndarray | None, width: int, n_frames: int) -> torch.Tensor:
    """Coefficients (W,) or (T, W) -> (T, width): truncated or zero-padded, broadcast over frames."""
    out = torch.zeros(n_frames, width)
    if x is None:
        return out
    a = torch.as_tensor(np.asarray(x, dtype=np.float32))
    a = a.expand(n_frames, -1) if a.ndim == 1 else a
    k = min(width, a.shape[-1])
    out[:, :k] = a[:, :k]
    return out
