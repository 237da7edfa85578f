"""The joint sets the metrics read, taken from whatever skeleton a motion file holds.

Inputs come with J = 22 (SMPL/SMPL-X body), 24 (SMPL: body + two hand joints), 52 (our body + fingers) or 55
(SMPL-X: body, jaw, two eyes, fingers) joints; all share the SMPL order for the first 22. The reference metrics read:

- `smpl24` (Bailando, EDGE/POPDG): the 24 SMPL joints. SMPL's "hand" joints 22/23 are leaves rigidly attached to
  the wrists, near the middle-finger knuckle; from 52/55 joints we take the middle-finger base joint (`middle1`),
  which is also a point fixed in the wrist's frame, so kinetic features of those two joints are close to SMPL's but
  not identical (a few cm of offset). 22-joint input has no hand points: `smpl24` is unavailable.
- `body22` (LODGE's FID, our `fixed` protocol): the 22 body joints, available from every input.
- `smplx24` (LODGE's BAS: SMPL-X joints 0-23 = body, jaw, left eye): exact from 55 joints; from other inputs the
  jaw and eye (rigid points of the head, about 8 cm from it) are taken at the head joint, an approximation.
- `fingers`: the 30 finger joints of 52/55-joint input, left hand then right, each hand as in `motion.skeleton`.
"""

from __future__ import annotations

import numpy as np

from motion.skeleton import N_BODY_JOINTS, N_JOINTS, SMPLX_JOINT_INDICES, SMPLX_N_JOINTS

SMPL_N_JOINTS = 24
SUPPORTED_JOINT_COUNTS = (N_BODY_JOINTS, SMPL_N_JOINTS, N_JOINTS, SMPLX_N_JOINTS)  # 22, 24, 52, 55
HEAD = 15
_MIDDLE1 = (N_BODY_JOINTS + 3, N_BODY_JOINTS + 15 + 3)  # left, right middle-finger base in our 52 joints
JOINT_SETS = ("smpl24", "body22", "smplx24", "fingers")


def as_52(joints: np.ndarray) -> np.ndarray:
    """(T, 55, 3) SMPL-X joints -> our (T, 52, 3) (jaw and eyes dropped); 52-joint input passes through."""
    return joints[:, SMPLX_JOINT_INDICES] if joints.shape[1] == SMPLX_N_JOINTS else joints


def available(joint_set: str, n_joints: int) -> bool:
    """Whether `joint_set` can be taken from input with `n_joints` joints."""
    if joint_set == "smpl24":
        return n_joints != N_BODY_JOINTS
    if joint_set == "fingers":
        return n_joints in (N_JOINTS, SMPLX_N_JOINTS)
    return n_joints in SUPPORTED_JOINT_COUNTS


def select(joints: np.ndarray, joint_set: str) -> np.ndarray:
    """The `joint_set` of (T, J, 3) joints, J in (22, 24, 52, 55). -> (T, 24 | 22 | 24 | 30, 3)"""
    n = joints.shape[1]
    if n not in SUPPORTED_JOINT_COUNTS:
        raise ValueError(f"joints must number one of {SUPPORTED_JOINT_COUNTS}, got {n}")
    if not available(joint_set, n):
        raise ValueError(f"the {joint_set} joints cannot be taken from {n}-joint input")
    if joint_set == "body22":
        return joints[:, :N_BODY_JOINTS]
    if joint_set == "smpl24":
        if n == SMPL_N_JOINTS:
            return joints
        return np.concatenate([joints[:, :N_BODY_JOINTS], as_52(joints)[:, list(_MIDDLE1)]], axis=1)
    if joint_set == "smplx24":
        if n == SMPLX_N_JOINTS:
            return joints[:, :SMPL_N_JOINTS]
        head = joints[:, HEAD : HEAD + 1]
        return np.concatenate([joints[:, :N_BODY_JOINTS], head, head], axis=1)
    if joint_set == "fingers":
        return as_52(joints)[:, N_BODY_JOINTS:N_JOINTS]
    raise ValueError(f"unknown joint set {joint_set!r}; expected one of {JOINT_SETS}")


def is_exact(joint_set: str, n_joints: int) -> bool:
    """Whether `select` gives the reference's joints exactly (else an approximation noted in the report)."""
    if joint_set == "smpl24":
        return n_joints == SMPL_N_JOINTS
    if joint_set == "smplx24":
        return n_joints == SMPLX_N_JOINTS
    return True
