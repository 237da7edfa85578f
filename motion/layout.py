"""`MotionLayout`: the one place that names every block of the motion feature vectors.

Two orders exist:
- **flat** (HumanML3D order), 263-d for 22 joints and 623-d for 52 joints:
  `[root_rot_vel 1 | root_lin_vel 2 | root_y 1 | ric 3(J-1) | rot6d 6(J-1) | vel 3J | contacts 4]`;
- **grouped** (SoulDance's 723-d), parts side by side: `[body 263 | hands 360 | face F]`, where body is the 263-d
  flat layout of the 22 body joints and hands = `[hand ric 90 | hand rot6d 180 | hand vel 90]`.
A layout with `face_dim > 0` is grouped; one without is flat. Conversions between them are index permutations,
so `(623, face) -> 723 -> (623, face)` is exact. Works on numpy arrays and torch tensors (last axis = features).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TypeVar

import numpy as np
import torch

from motion.skeleton import N_BODY_JOINTS, N_JOINTS

Array = TypeVar("Array", np.ndarray, torch.Tensor)

FACE_DIM = 100  # FLAME-2020 expression coefficients (EMAGE / BEAT2 convention)
ROOT_DIM = 4  # the root block: [rotation velocity about Y | XZ velocity (heading frame) | height]
ROOT_ROT_VEL, ROOT_LIN_VEL, ROOT_HEIGHT = 0, slice(1, 3), 3  # inside the root block
CONTACT_DIM = 4
FLAT_BLOCKS = ("root", "ric", "rot6d", "vel", "contacts")


def _take(x: Array, idx: np.ndarray) -> Array:
    if isinstance(x, torch.Tensor):
        return x[..., torch.as_tensor(idx, device=x.device)]
    return x[..., idx]


def _concat(parts: list[Array]) -> Array:
    return torch.cat(parts, dim=-1) if isinstance(parts[0], torch.Tensor) else np.concatenate(parts, axis=-1)


@dataclass(frozen=True)
class MotionLayout:
    """Named slices of a motion feature vector.

    Args:
        n_joints: 22 (body only) or 52 (body + fingers).
        face_dim: 0 for the flat 263/623 layouts, >0 (normally 100) for the grouped 723 layout.
    """

    n_joints: int = N_JOINTS
    face_dim: int = 0

    def __post_init__(self) -> None:
        if self.n_joints not in (N_BODY_JOINTS, N_JOINTS):
            raise ValueError(f"n_joints must be {N_BODY_JOINTS} or {N_JOINTS}, got {self.n_joints}")
        if self.face_dim and self.n_joints != N_JOINTS:
            raise ValueError("the grouped (face) layout needs 52 joints")

    # -------------------------------------------------------------- sizes
    @property
    def joint_dim(self) -> int:
        """Width of the joint part (flat: 12 J - 1; 263 or 623)."""
        return 12 * self.n_joints - 1

    @property
    def dim(self) -> int:
        return self.joint_dim + self.face_dim

    @property
    def grouped(self) -> bool:
        return self.face_dim > 0

    @property
    def flat(self) -> MotionLayout:
        """The flat layout of the same joints (no face)."""
        return MotionLayout(self.n_joints)

    # -------------------------------------------------------------- flat-order slices
    @cached_property
    def flat_slices(self) -> dict[str, slice]:
        """Blocks and sub-blocks of the flat (HumanML3D) order for these joints."""
        j = self.n_joints
        edges = np.cumsum([0, ROOT_DIM, 3 * (j - 1), 6 * (j - 1), 3 * j, CONTACT_DIM])
        s = {name: slice(int(a), int(b)) for name, a, b in zip(FLAT_BLOCKS, edges[:-1], edges[1:], strict=True)}
        s.update(root_rot_vel=slice(0, 1), root_lin_vel=slice(1, 3), root_y=slice(3, 4))
        return s

    @cached_property
    def _flat_part_index(self) -> dict[str, np.ndarray]:
        """Flat-order indices of the body and hands parts (body = the 263-d body-only vector)."""
        s, nb = self.flat_slices, N_BODY_JOINTS
        ar = np.arange
        body = [
            ar(ROOT_DIM),
            s["ric"].start + ar(3 * (nb - 1)),
            s["rot6d"].start + ar(6 * (nb - 1)),
            s["vel"].start + ar(3 * nb),
            ar(s["contacts"].start, s["contacts"].stop),
        ]
        hands = [
            ar(s["ric"].start + 3 * (nb - 1), s["ric"].stop),
            ar(s["rot6d"].start + 6 * (nb - 1), s["rot6d"].stop),
            ar(s["vel"].start + 3 * nb, s["vel"].stop),
        ]
        return {"body": np.concatenate(body), "hands": np.concatenate(hands)}

    @cached_property
    def flat_to_grouped(self) -> np.ndarray:
        """Permutation p with grouped[..., :joint_dim] = flat[..., p]."""
        return np.concatenate([self._flat_part_index["body"], self._flat_part_index["hands"]])

    @cached_property
    def grouped_to_flat(self) -> np.ndarray:
        """Inverse permutation of `flat_to_grouped`."""
        return np.argsort(self.flat_to_grouped)

    # -------------------------------------------------------------- parts (slices in *this* layout)
    @cached_property
    def part_index(self) -> dict[str, np.ndarray]:
        """Indices of the parts (body, hands if 52 joints, face if grouped) in this layout's order."""
        if not self.grouped:
            parts = {"body": self._flat_part_index["body"]}
            if self.n_joints == N_JOINTS:
                parts["hands"] = self._flat_part_index["hands"]
            return parts
        nb, nh = len(self._flat_part_index["body"]), len(self._flat_part_index["hands"])
        return {"body": np.arange(nb), "hands": np.arange(nb, nb + nh), "face": np.arange(nb + nh, self.dim)}

    @property
    def part_names(self) -> tuple[str, ...]:
        return tuple(self.part_index)

    @property
    def part_dims(self) -> tuple[int, ...]:
        return tuple(len(v) for v in self.part_index.values())

    # -------------------------------------------------------------- conversions
    def to_flat(self, x: Array) -> tuple[Array, Array | None]:
        """This layout -> (flat joint features (..., 12J-1), face (..., F) or None)."""
        self._check(x)
        if not self.grouped:
            return x, None
        return _take(x[..., : self.joint_dim], self.grouped_to_flat), x[..., self.joint_dim :]

    def from_flat(self, flat: Array, face: Array | None = None) -> Array:
        """(flat joint features, face) -> this layout. Face defaults to zeros when the layout has one."""
        self.flat._check(flat)
        if not self.grouped:
            return flat
        if face is None:
            shape = flat.shape[:-1] + (self.face_dim,)
            face = flat.new_zeros(shape) if isinstance(flat, torch.Tensor) else np.zeros(shape, flat.dtype)
        if face.shape[-1] != self.face_dim:
            raise ValueError(f"face must have {self.face_dim} coefficients, got {face.shape[-1]}")
        return _concat([_take(flat, self.flat_to_grouped), face])

    def body_only(self, x: Array) -> Array:
        """The 263-d body-only vector (HumanML3D 22-joint layout) of features in this layout."""
        self._check(x)
        return _take(x, self.part_index["body"])

    def split(self, x: Array) -> dict[str, Array]:
        """Flat blocks by name (root, ric, rot6d, vel, contacts, plus face when grouped)."""
        flat, face = self.to_flat(x)
        out = {name: flat[..., self.flat_slices[name]] for name in FLAT_BLOCKS}
        if face is not None:
            out["face"] = face
        return out

    def merge(self, parts: dict[str, Array]) -> Array:
        """Inverse of `split`."""
        return self.from_flat(_concat([parts[name] for name in FLAT_BLOCKS]), parts.get("face"))

    def _check(self, x: Array) -> None:
        if x.shape[-1] != self.dim:
            raise ValueError(f"expected {self.dim}-d motion features for {self}, got {x.shape[-1]}")


def layout_for_dim(dim: int) -> MotionLayout:
    """The layout of a known feature width: 263 (body), 623 (body + hands), 723 (grouped with face)."""
    known = {
        MotionLayout(N_BODY_JOINTS).dim: MotionLayout(N_BODY_JOINTS),
        MotionLayout().dim: MotionLayout(),
        MotionLayout(face_dim=FACE_DIM).dim: MotionLayout(face_dim=FACE_DIM),
    }
    if dim not in known:
        raise ValueError(f"unknown motion feature width {dim}; expected one of {sorted(known)}")
    return known[dim]
