"""glTF 2.0 binary (.glb) of a dance: the skeleton as a node hierarchy with its animation, a glTF skin and a
low-poly skinned body (a capsule around every bone, fingers included), for Blender, three.js and game engines.

One node per joint (named and parented as the `Skeleton`): child nodes carry their rest offsets as constant
translations, the root's translation follows the root positions, and every joint's local rotation is animated
(LINEAR quaternions, sign-continuous, keyframe k at k / fps). The skin binds the joints with inverse bind matrices of
the rest pose (rest rotations are the identity, so each is a translation). Every capsule is rigidly bound (weight 1)
to the joint whose rotation moves its bone (the bone's parent joint); leaves get a short end piece (toes, fingertips)
and the head a wider one, both bound to the leaf itself. glTF is Y-up, right-handed, in metres, like our joints: no
axis change. The file is checked with the Khronos glTF Validator in tests (0 errors, 0 warnings).
"""

from __future__ import annotations

import json
import logging
import re
import struct
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from motion.frame import FPS
from motion.rotation import matrix_to_quat, qfix
from motion.skeleton import Skeleton
from utils.atomic import write_bytes
from utils.cli import UserError

if TYPE_CHECKING:
    from export.dance import Dance

logger = logging.getLogger(__name__)

GENERATOR = "soulnet (export/gltf.py)"
ROTATION_TOLERANCE = 1e-3  # largest |R R^T - I| entry accepted as a rotation matrix

# glTF enums
_FLOAT, _UBYTE, _USHORT, _UINT = 5126, 5121, 5123, 5125
_COMPONENT_TYPES = {
    np.dtype(np.float32): _FLOAT,
    np.dtype(np.uint8): _UBYTE,
    np.dtype(np.uint16): _USHORT,
    np.dtype(np.uint32): _UINT,
}
_TYPES = {1: "SCALAR", 3: "VEC3", 4: "VEC4", 16: "MAT4"}
_ARRAY_BUFFER, _ELEMENT_ARRAY_BUFFER = 34962, 34963
_GLB_MAGIC, _GLB_VERSION = b"glTF", 2
_CHUNK_JSON, _CHUNK_BIN = 0x4E4F534A, 0x004E4942

# ------------------------------------------------------------------------------------------------ the body mesh
# Capsule radius of each bone (named by its end joint, side prefix dropped) as a fraction of the rest skeleton's
# height (lowest to highest joint, 1.56 m on the default skeleton).
_BODY_RADIUS = {
    "hip": 0.048,
    "spine1": 0.064,
    "spine2": 0.07,
    "spine3": 0.07,
    "neck": 0.032,
    "head": 0.029,
    "collar": 0.035,
    "shoulder": 0.032,
    "elbow": 0.029,
    "wrist": 0.022,
    "knee": 0.045,
    "ankle": 0.032,
    "foot": 0.022,
}
_DEFAULT_RADIUS = 0.025  # a body bone of another skeleton
_PALM_RADIUS, _PHALANX_RADIUS, _THUMB_SCALE = 0.007, 0.005, 1.15  # finger bones: wrist -> knuckle, then phalanges
_HEAD_RADIUS = 0.064  # the head: a capsule this wide (and 1.25 times as tall) around the head joint
_MIN_LENGTH = 0.05  # shortest capsule axis, in radii
_LEAF_LENGTH = 0.6  # a leaf's end piece (toes, fingertip), as a fraction of the bone that ends at the leaf
_FINGER = re.compile(r"(thumb|index|middle|ring|pinky)(\d+)$")
_SEGMENTS = {"body": (10, 3), "hand": (6, 2), "head": (10, 3)}  # (segments around, rings per end cap) by kind
COLOURS = {"body": (0.26, 0.45, 0.78, 1.0), "skin": (0.93, 0.68, 0.55, 1.0)}  # linear RGBA; skin: hands and head


@dataclass
class BodyMesh:
    """A skinned mesh in rest-pose world coordinates, every vertex bound to one joint.

    Args:
        positions: (V, 3) float32 metres; normals: (V, 3) float32 unit; joints: (V,) joint of each vertex;
        parts: "body" | "skin" -> (F, 3) triangle vertex indices, counter-clockwise seen from outside (parts with
            no triangle are left out).
    """

    positions: np.ndarray
    normals: np.ndarray
    joints: np.ndarray
    parts: dict[str, np.ndarray]


@lru_cache(maxsize=4)
def capsule_template(segments: int, cap_rings: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A capsule along +Z of radius 1 whose axis runs from z=0 to z=length.

    Returns (unit normals (N, 3), end (N,) 0 for the lower half, 1 for the upper, faces (F, 3)); a vertex lies at
    radius * normal + length * end * ez. Poles are single vertices, so no triangle is degenerate.
    """
    step = 0.5 * np.pi / cap_rings
    phi = np.concatenate([-0.5 * np.pi + step * np.arange(1, cap_rings + 1), step * np.arange(cap_rings)])  # (R,)
    theta = 2 * np.pi * np.arange(segments) / segments
    ring = np.stack(
        np.broadcast_arrays(
            np.cos(phi)[:, None] * np.cos(theta), np.cos(phi)[:, None] * np.sin(theta), np.sin(phi)[:, None]
        ),
        -1,
    ).reshape(-1, 3)
    normals = np.concatenate([[(0.0, 0.0, -1.0)], ring, [(0.0, 0.0, 1.0)]])
    end = np.concatenate([[0.0], np.repeat((np.arange(len(phi)) >= cap_rings).astype(np.float64), segments), [1.0]])
    i, i1 = np.arange(segments), (np.arange(segments) + 1) % segments
    rows = 1 + segments * np.arange(len(phi))  # first vertex of each ring
    a, b = rows[:-1, None], rows[1:, None]  # consecutive rings, (R-1, 1)
    sides = np.stack([np.stack([a + i, a + i1, b + i], -1), np.stack([a + i1, b + i1, b + i], -1)], 1)
    top = len(normals) - 1
    faces = np.concatenate(
        [
            np.stack([np.zeros(segments, np.int64), 1 + i1, 1 + i], -1),
            sides.reshape(-1, 3),
            np.stack([rows[-1] + i, rows[-1] + i1, np.full(segments, top)], -1),
        ]
    )
    return normals, end, faces


def _frame(direction: np.ndarray) -> np.ndarray:
    """A rotation (3, 3) whose third column is the unit `direction` (any unit vector when it is zero)."""
    d = direction / n if (n := np.linalg.norm(direction)) > 1e-9 else np.array([0.0, 1.0, 0.0])
    helper = np.array([1.0, 0.0, 0.0]) if abs(d[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
    u = np.cross(helper, d)
    u /= np.linalg.norm(u)
    return np.stack([u, np.cross(d, u), d], axis=1)


def _capsule(start: np.ndarray, axis: np.ndarray, radius: float, kind: str) -> tuple[np.ndarray, ...]:
    """(positions (N, 3), normals (N, 3), faces (F, 3)) of a capsule of `radius` around start -> start + axis
    (at least `_MIN_LENGTH` radii long, so that its two equators never coincide)."""
    normals, end, faces = capsule_template(*_SEGMENTS[kind])
    frame = _frame(axis)
    length = max(float(np.linalg.norm(axis)), _MIN_LENGTH * radius)
    local = radius * normals + length * end[:, None] * np.array([0.0, 0.0, 1.0])
    return start + local @ frame.T, normals @ frame.T, faces


def _bone_radius(name: str, height: float) -> tuple[float, str]:
    """(capsule radius in metres, "body" | "hand") of the bone that ends at joint `name`."""
    finger = _FINGER.search(name)
    if finger:
        fraction = _PALM_RADIUS if finger[2] == "1" else _PHALANX_RADIUS
        return height * fraction * (_THUMB_SCALE if finger[1] == "thumb" else 1.0), "hand"
    base = re.sub(r"^(left|right)_", "", name)
    return height * _BODY_RADIUS.get(base, _DEFAULT_RADIUS), "body"


def _pieces(skeleton: Skeleton) -> list[tuple[np.ndarray, np.ndarray, float, str, int]]:
    """Every capsule of the body: (start, axis, radius, "body" | "hand" | "head", bound joint)."""
    rest, parents = skeleton.rest_joints, skeleton.parents
    height = float(np.ptp(rest[:, 1])) or 1.0
    pieces = []
    for j in range(1, skeleton.n_joints):
        radius, kind = _bone_radius(skeleton.names[j], height)
        pieces.append((rest[parents[j]], skeleton.offsets[j], radius, kind, int(parents[j])))
        if skeleton.children[j]:
            continue
        if re.sub(r"^(left|right)_", "", skeleton.names[j]) == "head":
            up = _frame(skeleton.offsets[j])[:, 2] * height * _HEAD_RADIUS  # along the neck, one radius long
            pieces.append((rest[j] + 0.5 * up, 0.5 * up, height * _HEAD_RADIUS, "head", j))
        else:
            pieces.append((rest[j], _LEAF_LENGTH * skeleton.offsets[j], radius, kind, j))
    return pieces


def body_mesh(skeleton: Skeleton) -> BodyMesh:
    """The low-poly body of a skeleton in its rest pose: a capsule per bone, bound to the bone's parent joint.
    Parts: "body" (limbs and torso) and "skin" (hands and head)."""
    positions, normals, joints, faces, part = [], [], [], [], []
    count = 0
    for start, axis, radius, kind, joint in _pieces(skeleton):
        p, n, f = _capsule(np.asarray(start, np.float64), np.asarray(axis, np.float64), radius, kind)
        positions.append(p)
        normals.append(n)
        joints.append(np.full(len(p), joint))
        faces.append(f + count)
        part.append(np.full(len(f), kind != "body"))
        count += len(p)
    faces_all, skin = np.concatenate(faces), np.concatenate(part)
    parts = {name: f for name, f in (("body", faces_all[~skin]), ("skin", faces_all[skin])) if len(f)}
    return BodyMesh(
        positions=np.concatenate(positions).astype(np.float32),
        normals=np.concatenate(normals).astype(np.float32),
        joints=np.concatenate(joints),
        parts=parts,
    )


# ------------------------------------------------------------------------------------------------ the binary chunk
class _BinaryChunk:
    """The BIN chunk under construction: buffer views and accessors, every view starting 4-byte aligned."""

    def __init__(self) -> None:
        self.parts: list[memoryview | bytes] = []
        self.size = 0
        self.views: list[dict] = []
        self.accessors: list[dict] = []

    def view(self, data: np.ndarray, target: int | None = None) -> int:
        """Append an array as one buffer view (`target`: vertex or index data); returns its index."""
        raw = memoryview(np.ascontiguousarray(data).reshape(-1).view(np.uint8))
        self.views.append(
            {"buffer": 0, "byteOffset": self.size, "byteLength": len(raw)} | ({"target": target} if target else {})
        )
        pad = -len(raw) % 4
        self.parts += [raw, b"\0" * pad]
        self.size += len(raw) + pad
        return len(self.views) - 1

    def accessor(self, view: int, sample: np.ndarray, byte_offset: int = 0, bounds: bool = False) -> int:
        """An accessor of `view` read like `sample` (N, C) or (N,) (its dtype and width); `bounds` adds min/max."""
        flat = sample.reshape(len(sample), -1)
        acc = {
            "bufferView": view,
            "componentType": _COMPONENT_TYPES[sample.dtype],
            "count": len(sample),
            "type": _TYPES[flat.shape[1]],
        } | ({"byteOffset": byte_offset} if byte_offset else {})
        if bounds:
            acc |= {"min": flat.min(0).tolist(), "max": flat.max(0).tolist()}
        self.accessors.append(acc)
        return len(self.accessors) - 1

    def add(self, data: np.ndarray, target: int | None = None, bounds: bool = False) -> int:
        """Append an array as its own view and accessor; returns the accessor index."""
        return self.accessor(self.view(data, target), data, bounds=bounds)

    def tobytes(self) -> bytes:
        return b"".join(self.parts)


# ------------------------------------------------------------------------------------------------ the document
def _check_inputs(
    path: Path, rotations: np.ndarray, root_positions: np.ndarray, skeleton: Skeleton, fps: float
) -> tuple[np.ndarray, np.ndarray]:
    """The inputs as float64 (T, J, 3, 3) and (T, 3); a one-line `UserError` naming `path` for anything invalid."""
    rot, pos = np.asarray(rotations, dtype=np.float64), np.asarray(root_positions, dtype=np.float64)
    j = skeleton.n_joints
    if rot.ndim != 4 or rot.shape[1:] != (j, 3, 3) or len(rot) < 1:
        raise UserError(
            f"cannot write {path}: rotations must be (T, {j}, 3, 3) for a {j}-joint skeleton, got {rot.shape}"
        )
    if pos.shape != (len(rot), 3):
        raise UserError(f"cannot write {path}: root positions must be ({len(rot)}, 3), got {pos.shape}")
    if not (np.isfinite(rot).all() and np.isfinite(pos).all()):
        raise UserError(f"cannot write {path}: the dance has non-finite (NaN or infinite) rotations or positions")
    if not (np.isfinite(fps) and fps > 0):
        raise UserError(f"cannot write {path}: fps must be a positive number, got {fps}")
    if (skeleton.parents[1:] < 0).any():
        raise UserError(f"cannot write {path}: the skeleton must have a single root joint")
    off = np.abs(rot @ rot.swapaxes(-1, -2) - np.eye(3)).max()
    det = (rot[..., 0, :] * np.cross(rot[..., 1, :], rot[..., 2, :])).sum(-1)  # (T, J): about +-1 when orthonormal
    if off > ROTATION_TOLERANCE or (det <= 0).any():
        raise UserError(
            f"cannot write {path}: rotations must be rotation matrices (orthonormal, det +1); "
            f"R R^T is off the identity by {off:.3g}"
        )
    return rot, pos


def _nodes(skeleton: Skeleton, mesh: int, skin: int) -> list[dict]:
    """One node per joint (rest offsets as translations), then the mesh node (no transform)."""
    nodes = []
    for j in range(skeleton.n_joints):
        node = {"name": skeleton.names[j], "translation": skeleton.offsets[j].tolist()}
        if skeleton.children[j]:
            node["children"] = list(skeleton.children[j])
        nodes.append(node)
    nodes.append({"name": "body", "mesh": mesh, "skin": skin})
    return nodes


def _animation(chunk: _BinaryChunk, rot: np.ndarray, pos: np.ndarray, fps: float, name: str) -> dict:
    """The animation: root translation and every joint's rotation, LINEAR keys at k / fps (no loop over frames)."""
    t, j = rot.shape[:2]
    times = (np.arange(t) / fps).astype(np.float32)  # (T,)
    time_acc = chunk.add(times, bounds=True)
    quat = matrix_to_quat(rot)  # (T, J, 4) wxyz, unit
    quat = qfix(quat)  # sign-continuous
    quat = quat[..., [1, 2, 3, 0]] / np.linalg.norm(quat, axis=-1, keepdims=True)  # glTF order xyzw
    quat = np.ascontiguousarray(quat.transpose(1, 0, 2), dtype=np.float32)  # (J, T, 4): one block per joint
    view = chunk.view(quat)
    samplers = [{"input": time_acc, "output": chunk.add(pos.astype(np.float32)), "interpolation": "LINEAR"}]
    samplers += [
        {
            "input": time_acc,
            "output": chunk.accessor(view, quat[k], byte_offset=quat[k].nbytes * k),
            "interpolation": "LINEAR",
        }
        for k in range(j)
    ]
    channels = [{"sampler": 0, "target": {"node": 0, "path": "translation"}}]
    channels += [{"sampler": 1 + k, "target": {"node": k, "path": "rotation"}} for k in range(j)]
    return {"name": name, "samplers": samplers, "channels": channels, "extras": {"fps": float(fps), "frames": t}}


def _skinned_mesh(chunk: _BinaryChunk, skeleton: Skeleton) -> tuple[dict, dict, list[dict]]:
    """(mesh, skin, materials) of the body, their data appended to `chunk`."""
    body = body_mesh(skeleton)
    n = len(body.positions)
    joints = np.zeros((n, 4), np.uint8 if skeleton.n_joints <= 256 else np.uint16)
    joints[:, 0] = body.joints
    weights = np.zeros((n, 4), np.float32)
    weights[:, 0] = 1.0
    attributes = {
        "POSITION": chunk.add(body.positions, _ARRAY_BUFFER, bounds=True),
        "NORMAL": chunk.add(body.normals, _ARRAY_BUFFER),
        "JOINTS_0": chunk.add(joints, _ARRAY_BUFFER),
        "WEIGHTS_0": chunk.add(weights, _ARRAY_BUFFER),
    }
    index_type = np.uint16 if n < 0xFFFF else np.uint32  # 0xFFFF is the primitive-restart value
    primitives = [
        {
            "attributes": attributes,
            "indices": chunk.add(faces.reshape(-1).astype(index_type), _ELEMENT_ARRAY_BUFFER),
            "material": k,
            "mode": 4,
        }
        for k, faces in enumerate(body.parts.values())
    ]
    materials = [
        {
            "name": part,
            "pbrMetallicRoughness": {"baseColorFactor": list(colour), "metallicFactor": 0.0, "roughnessFactor": 0.8},
        }
        for part, colour in ((p, COLOURS[p]) for p in body.parts)
    ]
    ibm = np.tile(np.eye(4, dtype=np.float32), (skeleton.n_joints, 1, 1))  # (J, 4, 4) row-major
    ibm[:, :3, 3] = -skeleton.rest_joints  # inverse of the rest world matrix: a translation
    inverse_bind = chunk.add(np.ascontiguousarray(ibm.transpose(0, 2, 1)).reshape(-1, 16))  # glTF: column-major
    skin = {
        "name": "skeleton",
        "joints": list(range(skeleton.n_joints)),
        "skeleton": 0,
        "inverseBindMatrices": inverse_bind,
    }
    return {"name": "body", "primitives": primitives}, skin, materials


def _glb(document: dict, binary: bytes) -> bytes:
    """The GLB container: 12-byte header, JSON chunk (space padded), BIN chunk (zero padded)."""
    text = json.dumps(document, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 4)
    binary += b"\0" * (-len(binary) % 4)
    total = 12 + 8 + len(text) + 8 + len(binary)
    return b"".join(
        [
            struct.pack("<4sII", _GLB_MAGIC, _GLB_VERSION, total),
            struct.pack("<II", len(text), _CHUNK_JSON),
            text,
            struct.pack("<II", len(binary), _CHUNK_BIN),
            binary,
        ]
    )


def glb_bytes(
    rotations: np.ndarray,
    root_positions: np.ndarray,
    skeleton: Skeleton,
    fps: float = FPS,
    name: str = "dance",
    path: str | Path = "<glb>",
) -> bytes:
    """The .glb file of a dance (see the module docstring); `path` only names the file in error messages.

    Args:
        rotations: (T, J, 3, 3) local joint rotations of `skeleton` (root: global), SMPL-X semantics.
        root_positions: (T, 3) world position of the root joint, Y-up metres.
        skeleton: the J-joint rest skeleton (rest rotations are the identity).
        fps: frame rate; keyframe k is at k / fps seconds.
        name: the animation's and scene's name.
    """
    rot, pos = _check_inputs(Path(path), rotations, root_positions, skeleton, fps)
    chunk = _BinaryChunk()
    mesh, skin, materials = _skinned_mesh(chunk, skeleton)
    animation = _animation(chunk, rot, pos, fps, name)
    document = {
        "asset": {"version": "2.0", "generator": GENERATOR},
        "scene": 0,
        "scenes": [{"name": name, "nodes": [0, skeleton.n_joints]}],
        "nodes": _nodes(skeleton, mesh=0, skin=0),
        "meshes": [mesh],
        "materials": materials,
        "skins": [skin],
        "animations": [animation],
        "accessors": chunk.accessors,
        "bufferViews": chunk.views,
        "buffers": [{"byteLength": chunk.size}],
    }
    return _glb(document, chunk.tobytes())


def write_glb(
    path: str | Path,
    rotations: np.ndarray,
    root_positions: np.ndarray,
    skeleton: Skeleton,
    fps: float = FPS,
    name: str = "dance",
) -> Path:
    """Write a dance as a glTF 2.0 binary file (atomically); arguments as in `glb_bytes`. Returns the path.

    Raises `UserError` (one line naming the file) for mismatched shapes, non-finite values or non-rotations.
    """
    path = Path(path)
    data = glb_bytes(rotations, root_positions, skeleton, fps, name, path)
    write_bytes(path, data)
    logger.info("wrote %s (%d frames, %.1f MB)", path, len(rotations), len(data) / 2**20)
    return path


def dance_glb(dance: Dance, path: str | Path, fps: float = FPS, name: str | None = None) -> Path:
    """Write a `Dance` (its rotations, root joint track and skeleton) as `path` (.glb); the name defaults to the
    file's stem."""
    path = Path(path)
    return write_glb(path, dance.rotations, dance.joints[:, 0], dance.skeleton, fps, name or path.stem)
