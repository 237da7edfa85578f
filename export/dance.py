"""A generated dance as the files people use: npz (joints, features, SMPL-X parameters), BVH, glTF (.glb) and an mp4
with its music; the web viewer page of a folder of them is `export.viewer`.

`dance_from_features` turns 623/723-d features into joints `(T, 52, 3)` (`recover_from_ric`) and the face
expressions `(T, 100)` (zeros without a face block). Joints predicted position by position need not keep their
bone lengths, so `export_dance` first fits them to one rigid skeleton (the default one with the dance's median bone
lengths: inverse kinematics, then forward kinematics), and every output describes that same motion: `<name>.npz`
with joints, features (as generated), `poses (T, 165)` and `trans (T, 3)` (SMPL-X semantics), `expressions`,
`mocap_frame_rate` (the BEAT2/EMAGE keys, so SMPL-X tools read it), `<name>.bvh` (re-imports to the same joints),
`<name>.glb` (a glTF 2.0 skin with a capsule body mesh, animated at 30 fps: Blender, three.js, game engines) and
`<name>.mp4`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from data.formats.motion import SMPLXMotion
from data.formats.smplx_npz import save_smplx_npz
from export.gltf import write_glb
from export.render import render_skeleton_video
from motion.bvh import write_bvh
from motion.features import recover_from_ric
from motion.frame import FPS
from motion.kinematics import forward_kinematics, inverse_kinematics, smplx_poses
from motion.layout import FACE_DIM, layout_for_dim
from motion.skeleton import Skeleton, default_skeleton
from utils.output_formats import DANCE_FORMATS


def dance_from_features(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(joints (T, J, 3) float32 Y-up metres, expressions (T, 100) float32) of features (T, 263|623|723)."""
    layout = layout_for_dim(features.shape[-1])
    joints = recover_from_ric(features.astype(np.float64)).astype(np.float32)
    face = layout.split(features)["face"] if layout.face_dim else np.zeros((len(features), FACE_DIM))
    return joints, np.asarray(face, dtype=np.float32)


@dataclass
class Dance:
    """A generated dance on one rigid skeleton.

    Args:
        features: (T, D) as generated; joints: (T, 52, 3) float32 Y-up metres; rotations: (T, 52, 3, 3) local
        rotations of `skeleton` that give the joints; trans: (T, 3); expressions: (T, 100) (zeros without a face);
        skeleton: the rest skeleton of them all.
    """

    features: np.ndarray
    joints: np.ndarray
    rotations: np.ndarray
    trans: np.ndarray
    expressions: np.ndarray
    skeleton: Skeleton

    @property
    def poses(self) -> np.ndarray:
        """SMPL-X `poses (T, 165)` axis-angle."""
        return smplx_poses(self.rotations)

    @property
    def has_face(self) -> bool:
        return layout_for_dim(self.features.shape[-1]).face_dim > 0


def rigid_dance(features: np.ndarray) -> Dance:
    """The dance of features (T, 623|723) on the default skeleton with its median bone lengths."""
    raw, expressions = dance_from_features(features)
    skeleton = default_skeleton().fitted_to(raw)
    local, trans = inverse_kinematics(raw, skeleton)  # (T, 52, 3, 3), (T, 3)
    joints = forward_kinematics(local, raw[:, 0].astype(np.float64), skeleton)[0].astype(np.float32)
    return Dance(features.astype(np.float32), joints, local, trans.astype(np.float32), expressions, skeleton)


def export_dance(
    dance: Dance,
    out_dir: str | Path,
    name: str,
    audio: str | Path | None = None,
    formats: tuple[str, ...] = DANCE_FORMATS,
    extra: dict[str, np.ndarray] | None = None,
) -> dict[str, Path]:
    """Write the dance at 30 fps as `<name>.<format>` for each of `formats` (`DANCE_FORMATS`; the mp4 has the music
    `audio` muxed in), the npz always and last: an npz marks a dance whose files were all written; `extra` arrays
    go into the npz too (an edit's record). Returns {format: path}."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {f: out_dir / f"{name}.{f}" for f in DANCE_FORMATS if f in formats or f == "npz"}
    if "bvh" in paths:
        write_bvh(paths["bvh"], dance.joints, FPS, dance.skeleton, dance.rotations)
    if "glb" in paths:
        write_glb(paths["glb"], dance.rotations, dance.joints[:, 0], dance.skeleton, FPS, name)
    if "mp4" in paths:
        render_skeleton_video(dance.joints, paths["mp4"], FPS, audio=audio, titles=[name])
    smplx = SMPLXMotion(dance.poses, dance.trans, np.zeros(0, np.float32), dance.expressions, FPS, dance.has_face)
    save_smplx_npz(paths["npz"], smplx, joints=dance.joints, features=dance.features, **(extra or {}))
    return paths
