"""The glTF 2.0 (.glb) export: read back with a small reader of our own (GLB chunks, accessors, TRS down the node
tree, CPU skinning) it reproduces the dance's joints and a body that moves rigidly with them; the Khronos glTF
Validator finds no error and no warning; bad input ends in one line."""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest

from data.formats import load_motion, motion_to_joints
from data.synthetic_dance import synthesize_dance
from export.dance import rigid_dance
from export.gltf import body_mesh, capsule_template, dance_glb, glb_bytes, write_glb
from motion.features import joints_to_features
from motion.kinematics import forward_kinematics, inverse_kinematics, split_smplx_poses
from motion.layout import FACE_DIM, MotionLayout
from motion.rotation import axis_angle_to_matrix
from motion.skeleton import N_BODY_JOINTS, Skeleton, default_skeleton
from tests.conftest import REPO, realdata
from utils.cli import UserError

VALIDATOR = REPO / "tests" / "js" / "validate_gltf.mjs"
VALIDATOR_PACKAGE = REPO / "tests" / "js" / "node_modules" / "gltf-validator"
FPS = 30.0
MM = 1e-3

# ------------------------------------------------------------------------------------------------ a tiny glTF reader
_DTYPES = {5126: np.float32, 5121: np.uint8, 5123: np.uint16, 5125: np.uint32}
_WIDTHS = {"SCALAR": 1, "VEC3": 3, "VEC4": 4, "MAT4": 16}


def read_glb(data: bytes) -> tuple[dict, bytes]:
    """(JSON document, BIN chunk) of a GLB file, checking the container's layout."""
    magic, version, length = struct.unpack_from("<4sII", data)
    assert (magic, version, length) == (b"glTF", 2, len(data))
    chunks, offset = [], 12
    while offset < length:
        size, kind = struct.unpack_from("<II", data, offset)
        assert size % 4 == 0
        chunks.append((kind, data[offset + 8 : offset + 8 + size]))
        offset += 8 + size
    assert offset == length and [k for k, _ in chunks] == [0x4E4F534A, 0x004E4942]
    assert chunks[0][1].decode().endswith(("}", " "))  # JSON padded with spaces
    return json.loads(chunks[0][1]), chunks[1][1]


def accessor(doc: dict, binary: bytes, index: int) -> np.ndarray:
    """An accessor's data (count, width), checking alignment and bounds against its buffer view."""
    acc = doc["accessors"][index]
    view = doc["bufferViews"][acc["bufferView"]]
    start = view.get("byteOffset", 0) + acc.get("byteOffset", 0)
    width = _WIDTHS[acc["type"]]
    assert start % 4 == 0 and "byteStride" not in view
    data = np.frombuffer(binary, _DTYPES[acc["componentType"]], acc["count"] * width, start)
    assert start + data.nbytes <= view.get("byteOffset", 0) + view["byteLength"] <= len(binary)
    return data.reshape(acc["count"], width)


def quat_xyzw_to_matrix(q: np.ndarray) -> np.ndarray:
    """(..., 4) glTF quaternions (x, y, z, w) -> (..., 3, 3)."""
    x, y, z, w = np.moveaxis(q / np.linalg.norm(q, axis=-1, keepdims=True), -1, 0)
    return np.stack(
        [
            1 - 2 * (y * y + z * z),
            2 * (x * y - z * w),
            2 * (x * z + y * w),
            2 * (x * y + z * w),
            1 - 2 * (x * x + z * z),
            2 * (y * z - x * w),
            2 * (x * z - y * w),
            2 * (y * z + x * w),
            1 - 2 * (x * x + y * y),
        ],
        -1,
    ).reshape(q.shape[:-1] + (3, 3))


def sample(times: np.ndarray, values: np.ndarray, t: np.ndarray, rotation: bool) -> np.ndarray:
    """A LINEAR glTF sampler at times t (K,): lerp, or slerp for rotations. -> (K, C)"""
    if len(times) == 1:
        return np.repeat(values.astype(np.float64), len(t), axis=0)
    k = np.clip(np.searchsorted(times, t, side="right") - 1, 0, len(times) - 2)
    u = np.clip((t - times[k]) / (times[k + 1] - times[k]), 0, 1)[:, None]
    a, b = values[k].astype(np.float64), values[k + 1].astype(np.float64)
    if not rotation:
        return (1 - u) * a + u * b
    dot = (a * b).sum(-1, keepdims=True)
    b = np.where(dot < 0, -b, b)
    angle = np.arccos(np.clip(np.abs(dot), -1, 1))
    sin = np.sin(angle)
    wa = np.where(sin > 1e-9, np.sin((1 - u) * angle) / np.where(sin > 1e-9, sin, 1), 1 - u)
    wb = np.where(sin > 1e-9, np.sin(u * angle) / np.where(sin > 1e-9, sin, 1), u)
    return wa * a + wb * b


def world_matrices(doc: dict, binary: bytes, t: np.ndarray) -> np.ndarray:
    """World matrices (K, N, 4, 4) of every node at animation times t (K,): animated TRS composed down the tree."""
    n, k = len(doc["nodes"]), len(t)
    trs = {"translation": np.zeros((k, n, 3)), "rotation": np.zeros((k, n, 4)), "scale": np.ones((k, n, 3))}
    trs["rotation"][..., 3] = 1
    for i, node in enumerate(doc["nodes"]):
        for path in trs:
            if path in node:
                trs[path][:, i] = node[path]
    for anim in doc["animations"]:
        for channel in anim["channels"]:
            sampler = anim["samplers"][channel["sampler"]]
            times = accessor(doc, binary, sampler["input"])[:, 0]
            values = accessor(doc, binary, sampler["output"])
            path = channel["target"]["path"]
            trs[path][:, channel["target"]["node"]] = sample(times, values, t, path == "rotation")
    local = np.zeros((k, n, 4, 4))
    local[..., :3, :3] = quat_xyzw_to_matrix(trs["rotation"]) * trs["scale"][..., None, :]
    local[..., :3, 3] = trs["translation"]
    local[..., 3, 3] = 1
    world = np.zeros_like(local)

    def visit(i: int, parent: np.ndarray) -> None:
        world[:, i] = parent @ local[:, i]
        for child in doc["nodes"][i].get("children", []):
            visit(child, world[:, i])

    for root in doc["scenes"][doc.get("scene", 0)]["nodes"]:
        visit(root, np.broadcast_to(np.eye(4), (k, 4, 4)))
    return world


def skinned_vertices(doc: dict, binary: bytes, world: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """glTF skinning on the CPU at one time: (rest positions (V, 3), posed positions (V, 3), JOINTS_0 (V, 4))."""
    mesh_node = next(i for i, node in enumerate(doc["nodes"]) if "mesh" in node)
    skin = doc["skins"][doc["nodes"][mesh_node]["skin"]]
    ibm = accessor(doc, binary, skin["inverseBindMatrices"]).reshape(-1, 4, 4).transpose(0, 2, 1)  # column-major
    joint_mats = world[skin["joints"]] @ ibm  # (J, 4, 4); the mesh node has no transform
    attrs = doc["meshes"][doc["nodes"][mesh_node]["mesh"]]["primitives"][0]["attributes"]
    rest = accessor(doc, binary, attrs["POSITION"]).astype(np.float64)
    joints = accessor(doc, binary, attrs["JOINTS_0"]).astype(np.int64)
    weights = accessor(doc, binary, attrs["WEIGHTS_0"]).astype(np.float64)
    homog = np.concatenate([rest, np.ones((len(rest), 1))], -1)
    skin_mats = (weights[..., None, None] * joint_mats[joints]).sum(1)  # (V, 4, 4)
    return rest, (skin_mats @ homog[..., None])[:, :3, 0], joints


# ------------------------------------------------------------------------------------------------ dances
def smooth_random_dance(n_frames: int, seed: int, skeleton: Skeleton) -> tuple[np.ndarray, np.ndarray]:
    """(rotations (T, J, 3, 3), root positions (T, 3)): random axis-angles up to about 1.5 rad, smoothed over time
    (keys every 10 frames, linearly interpolated), and a root that walks a curve and bobs."""
    rng = np.random.default_rng(seed)
    keys = rng.normal(0, 0.6, (n_frames // 10 + 2, skeleton.n_joints, 3))
    u = np.arange(n_frames) / 10
    k, w = np.floor(u).astype(int), (u % 1)[:, None, None]
    aa = (1 - w) * keys[k] + w * keys[k + 1]  # (T, J, 3)
    t = np.arange(n_frames) / FPS
    root = skeleton.rest_joints[0] + np.stack([np.sin(0.5 * t), 0.05 * np.sin(4 * t), 0.3 * t], -1)
    return axis_angle_to_matrix(aa), root


def synthetic_dance(n_frames: int, seed: int) -> tuple[np.ndarray, np.ndarray, Skeleton]:
    """The project's synthetic whole-body dance (fingers included) as rotations on the default skeleton."""
    motion = synthesize_dance(n_frames, seed=seed)
    skeleton = default_skeleton()
    rotations = axis_angle_to_matrix(split_smplx_poses(motion.poses).astype(np.float64))
    return rotations, skeleton.rest_joints[0] + motion.trans, skeleton


def joints_of(rotations: np.ndarray, root: np.ndarray, skeleton: Skeleton) -> tuple[np.ndarray, np.ndarray]:
    return forward_kinematics(np.asarray(rotations, np.float64), np.asarray(root, np.float64), skeleton)


def frames_from_glb(data: bytes, frames: np.ndarray, fps: float = FPS) -> np.ndarray:
    """World positions (K, N, 3) of every node at keyframes `frames` (K,)."""
    doc, binary = read_glb(data)
    return world_matrices(doc, binary, (frames / fps).astype(np.float32).astype(np.float64))[..., :3, 3]


def assert_rebuilds_joints(data: bytes, joints: np.ndarray, fps: float = FPS) -> None:
    """The node tree + animation of `data` give `joints` (T, J, 3) at 10 frames spread over the dance."""
    frames = np.unique(np.linspace(0, len(joints) - 1, 10).round().astype(int))
    rebuilt = frames_from_glb(data, frames, fps)[:, : joints.shape[1]]
    err = np.abs(rebuilt - joints[frames]).max()
    assert err < MM, f"joints rebuilt from the glb are off by {err * 1000:.2f} mm"


@pytest.fixture(scope="module")
def synthetic_glb() -> tuple[bytes, np.ndarray, np.ndarray, Skeleton]:
    rotations, root, skeleton = synthetic_dance(90, seed=1)
    return glb_bytes(rotations, root, skeleton, FPS, name="synthetic"), rotations, root, skeleton


# ------------------------------------------------------------------------------------------------ tests
def test_document_structure(synthetic_glb):
    data, rotations, root, skeleton = synthetic_glb
    doc, binary = read_glb(data)
    j = skeleton.n_joints
    nodes = doc["nodes"]
    assert [n["name"] for n in nodes[:j]] == list(skeleton.names) and len(nodes) == j + 1
    parents = np.full(j, -1)
    for i, node in enumerate(nodes[:j]):
        parents[node.get("children", [])] = i
        assert "rotation" not in node and "scale" not in node
    assert np.array_equal(parents, skeleton.parents)
    assert np.allclose([n["translation"] for n in nodes[1:j]], skeleton.offsets[1:], atol=1e-9)
    mesh_node = nodes[j]
    assert set(mesh_node) == {"name", "mesh", "skin"}  # no transform on the skinned mesh node
    assert doc["scenes"][doc["scene"]]["nodes"] == [0, j]
    assert doc["skins"][0]["joints"] == list(range(j)) and doc["skins"][0]["skeleton"] == 0
    assert "soulnet" in doc["asset"]["generator"] and doc["asset"]["version"] == "2.0"
    # the animation: the root's translation, every joint's rotation, LINEAR, at k / fps
    anim = doc["animations"][0]
    targets = sorted((c["target"]["node"], c["target"]["path"]) for c in anim["channels"])
    assert targets == sorted([(0, "translation")] + [(i, "rotation") for i in range(j)])
    assert {s["interpolation"] for s in anim["samplers"]} == {"LINEAR"}
    times = accessor(doc, binary, anim["samplers"][0]["input"])[:, 0]
    assert np.array_equal(times, (np.arange(len(rotations)) / FPS).astype(np.float32))
    assert doc["accessors"][anim["samplers"][0]["input"]]["max"] == [float(times[-1])]
    for channel in anim["channels"]:
        values = accessor(doc, binary, anim["samplers"][channel["sampler"]]["output"])
        if channel["target"]["path"] == "rotation":
            assert np.allclose(np.linalg.norm(values, axis=-1), 1, atol=1e-6)
            assert ((values[1:] * values[:-1]).sum(-1) >= 0).all()  # sign-continuous
        else:
            assert np.allclose(values, root, atol=1e-6)
    # buffer view targets: vertex and index data only
    anim_accessors = {s[k] for s in anim["samplers"] for k in ("input", "output")}
    anim_views = {doc["accessors"][a]["bufferView"] for a in anim_accessors}
    ibm_view = doc["accessors"][doc["skins"][0]["inverseBindMatrices"]]["bufferView"]
    for i, view in enumerate(doc["bufferViews"]):
        assert (i in anim_views or i == ibm_view) == ("target" not in view)
    assert doc["buffers"][0]["byteLength"] == len(binary)


def test_mesh_attributes_and_winding(synthetic_glb):
    data, _, _, skeleton = synthetic_glb
    doc, binary = read_glb(data)
    prims = doc["meshes"][0]["primitives"]
    attrs = prims[0]["attributes"]
    pos = accessor(doc, binary, attrs["POSITION"])
    normals = accessor(doc, binary, attrs["NORMAL"]).astype(np.float64)
    joints = accessor(doc, binary, attrs["JOINTS_0"])
    weights = accessor(doc, binary, attrs["WEIGHTS_0"])
    assert doc["accessors"][attrs["POSITION"]]["min"] == pos.min(0).tolist()
    assert doc["accessors"][attrs["POSITION"]]["max"] == pos.max(0).tolist()
    assert np.allclose(np.linalg.norm(normals, axis=-1), 1, atol=1e-5)
    assert np.allclose(weights.sum(-1), 1) and (weights[:, 0] == 1).all()
    assert set(np.unique(joints[:, 0])) == set(range(skeleton.n_joints))  # every joint moves some of the body
    faces = np.concatenate([accessor(doc, binary, p["indices"]).reshape(-1, 3) for p in prims]).astype(np.int64)
    assert len(np.unique(faces)) == len(pos)  # every vertex is used
    p = pos.astype(np.float64)[faces]  # (F, 3, 3)
    face_normal = np.cross(p[:, 1] - p[:, 0], p[:, 2] - p[:, 0])
    assert (np.linalg.norm(face_normal, axis=-1) > 0).all()  # no degenerate triangle
    assert ((face_normal * normals[faces].sum(1)).sum(-1) > 0).all()  # counter-clockwise from outside
    # fingers are thinner than legs: radius = distance of a bone's vertices from its rest bone axis
    mesh = body_mesh(skeleton)
    thigh = np.flatnonzero(mesh.joints == skeleton.names.index("left_hip"))
    finger = np.flatnonzero(mesh.joints == skeleton.names.index("left_index2"))
    spread = [np.linalg.norm(mesh.positions[v] - mesh.positions[v].mean(0), axis=-1).min() for v in (thigh, finger)]
    assert spread[0] > 4 * spread[1]


def test_capsule_template_is_closed():
    normals, end, faces = capsule_template(8, 3)
    edges = np.sort(np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]]), axis=1)
    unique, counts = np.unique(edges, axis=0, return_counts=True)
    assert (counts == 2).all()  # a closed surface: every edge shared by exactly two triangles
    assert len(normals) - len(unique) + len(faces) == 2  # Euler characteristic of a sphere
    assert np.array_equal(np.unique(faces), np.arange(len(normals))) and set(end) == {0.0, 1.0}


@pytest.mark.parametrize("source", ["synthetic", "random"])
def test_glb_rebuilds_the_joints(source, synthetic_glb):
    if source == "synthetic":
        data, rotations, root, skeleton = synthetic_glb
    else:
        skeleton = default_skeleton().with_bone_lengths(default_skeleton().bone_lengths * 1.1)
        rotations, root = smooth_random_dance(150, seed=4, skeleton=skeleton)
        data = glb_bytes(rotations, root, skeleton)
    joints = joints_of(rotations, root, skeleton)[0]
    assert_rebuilds_joints(data, joints)


def test_rotations_stay_sign_continuous_through_full_turns(synthetic_glb):
    _, rotations, root, skeleton = synthetic_glb
    spin = axis_angle_to_matrix(np.outer(np.linspace(0, 4 * np.pi, len(rotations)), [0.0, 1.0, 0.0]))  # 2 turns
    turning = rotations.copy()
    turning[:, 0] = spin @ rotations[:, 0]
    doc, binary = read_glb(glb_bytes(turning, root, skeleton))
    sampler = next(
        c["sampler"] for c in doc["animations"][0]["channels"] if c["target"] == {"node": 0, "path": "rotation"}
    )
    q = accessor(doc, binary, doc["animations"][0]["samplers"][sampler]["output"]).astype(np.float64)
    assert ((q[1:] * q[:-1]).sum(-1) > 0.9).all()  # consecutive keys on the short arc: no sign flip
    assert q[:, 3].min() < -0.9  # w went negative: the two turns were followed through, not folded to w >= 0
    assert_rebuilds_joints(glb_bytes(turning, root, skeleton), joints_of(turning, root, skeleton)[0])


def test_glb_interpolates_between_keyframes(synthetic_glb):
    data, rotations, root, skeleton = synthetic_glb
    doc, binary = read_glb(data)
    t = (np.arange(10, 20) + 0.5) / FPS
    mid = world_matrices(doc, binary, t)[:, : skeleton.n_joints, :3, 3]
    joints = joints_of(rotations, root, skeleton)[0]
    halfway = 0.5 * (joints[10:20] + joints[11:21])
    assert np.abs(mid - halfway).max() < 0.02  # smooth motion: close to the mean of the neighbouring frames


def test_dance_glb_of_a_rigid_dance(tmp_path):
    motion = synthesize_dance(61, seed=3)
    joints = motion_to_joints(motion, None)
    joints[..., 0] += np.linspace(0, 1, len(joints))[:, None]  # walk sideways
    features = MotionLayout(52, FACE_DIM).from_flat(joints_to_features(joints).features, motion.expressions[:-1])
    dance = rigid_dance(features.astype(np.float32))
    path = dance_glb(dance, tmp_path / "dance.glb")
    assert path == tmp_path / "dance.glb" and [p.name for p in tmp_path.iterdir()] == ["dance.glb"]
    doc, _ = read_glb(path.read_bytes())
    assert doc["animations"][0]["name"] == "dance" and doc["animations"][0]["extras"]["fps"] == FPS
    assert_rebuilds_joints(path.read_bytes(), dance.joints)


def test_glb_of_a_real_capture():
    joints = load_motion(realdata("beat2/2_scott_0_1_1.npz")).joints[:300].astype(np.float64)  # BEAT2, 10 s
    skeleton = default_skeleton().fitted_to(joints)
    rotations, _ = inverse_kinematics(joints, skeleton)
    data = glb_bytes(rotations, joints[:, 0], skeleton)
    assert_rebuilds_joints(data, joints_of(rotations, joints[:, 0], skeleton)[0])
    assert_rebuilds_joints(data, joints)  # the capture itself: FK(IK) is exact on its own skeleton


def test_skinned_body_follows_the_skeleton(synthetic_glb):
    data, rotations, root, skeleton = synthetic_glb
    doc, binary = read_glb(data)
    frame = 57
    world = world_matrices(doc, binary, np.array([frame / FPS], np.float32).astype(np.float64))[0]
    rest, posed, bound = skinned_vertices(doc, binary, world)
    joints, glob = joints_of(rotations[frame], root[frame], skeleton)
    k = bound[:, 0]  # the one joint each vertex is bound to
    before = np.linalg.norm(rest - skeleton.rest_joints[k], axis=-1)
    after = np.linalg.norm(posed - joints[k], axis=-1)
    assert np.abs(after - before).max() < MM  # each vertex keeps its distance from its bone's joint
    expected = joints[k] + (glob[k] @ (rest - skeleton.rest_joints[k])[..., None])[..., 0]
    assert np.abs(posed - expected).max() < MM  # and moves rigidly with that joint
    # capsules hang on the parent joint of their bone: the left forearm's vertices follow the elbow
    forearm = np.flatnonzero(body_mesh(skeleton).joints == skeleton.names.index("left_elbow"))
    assert np.abs(posed[forearm] - rest[forearm]).max() > 0.02  # it moved in this frame


def body_only_skeleton() -> Skeleton:
    full = default_skeleton()
    return Skeleton(full.rest_joints[:N_BODY_JOINTS], full.parents[:N_BODY_JOINTS], full.names[:N_BODY_JOINTS])


def test_body_only_skeleton():
    skeleton = body_only_skeleton()
    rotations, root = smooth_random_dance(40, seed=2, skeleton=skeleton)
    data = glb_bytes(rotations, root, skeleton)
    assert_rebuilds_joints(data, joints_of(rotations, root, skeleton)[0])
    doc, _ = read_glb(data)
    assert len(doc["meshes"][0]["primitives"]) == 2  # no hands: the skin part is the head alone


def test_single_frame(synthetic_glb):
    _, rotations, root, skeleton = synthetic_glb
    data = glb_bytes(rotations[7:8], root[7:8], skeleton)
    assert_rebuilds_joints(data, joints_of(rotations[7:8], root[7:8], skeleton)[0])


def validate(path: Path) -> dict:
    """The Khronos glTF Validator's report of a file (skips when node or the validator is missing)."""
    if shutil.which("node") is None or not VALIDATOR_PACKAGE.is_dir():
        pytest.skip(
            "the Khronos glTF Validator is not installed: needs node on PATH and "
            "`npm ci --prefix tests/js` (make test runs it)"
        )
    res = subprocess.run(["node", str(VALIDATOR), str(path)], capture_output=True, text=True, timeout=120)
    assert res.returncode in (0, 1), res.stderr
    return json.loads(res.stdout)


def test_khronos_validator_finds_no_error_or_warning(synthetic_glb, tmp_path):
    data, *_ = synthetic_glb
    path = tmp_path / "dance.glb"
    path.write_bytes(data)
    report = validate(path)
    issues = report["issues"]
    assert [issues[k] for k in ("numErrors", "numWarnings", "numInfos", "numHints")] == [0, 0, 0, 0], issues["messages"]
    assert report["info"]["hasSkins"] and report["info"]["animationCount"] == 1
    # the validator does check: a broken accessor count is an error
    doc, binary = read_glb(data)
    doc["accessors"][0]["count"] = 10**6
    text = json.dumps(doc).encode()
    text += b" " * (-len(text) % 4)
    broken = struct.pack("<4sII", b"glTF", 2, 28 + len(text) + len(binary))
    broken += struct.pack("<II", len(text), 0x4E4F534A) + text + struct.pack("<II", len(binary), 0x004E4942) + binary
    (tmp_path / "broken.glb").write_bytes(broken)
    assert validate(tmp_path / "broken.glb")["issues"]["numErrors"] > 0


@pytest.mark.parametrize("case", ["body only", "single frame", "real capture"])
def test_khronos_validator_on_other_dances(case, synthetic_glb, tmp_path):
    _, rotations, root, skeleton = synthetic_glb
    if case == "body only":
        skeleton = body_only_skeleton()
        rotations, root = smooth_random_dance(20, seed=5, skeleton=skeleton)
    elif case == "single frame":
        rotations, root = rotations[:1], root[:1]
    else:
        joints = load_motion(realdata("beat2/2_scott_0_1_1.npz")).joints[:120].astype(np.float64)
        skeleton = default_skeleton().fitted_to(joints)
        rotations, root = inverse_kinematics(joints, skeleton)[0], joints[:, 0]
    path = write_glb(tmp_path / "dance.glb", rotations, root, skeleton)
    issues = validate(path)["issues"]
    assert [issues[k] for k in ("numErrors", "numWarnings", "numInfos", "numHints")] == [0, 0, 0, 0], issues["messages"]


def _bad_inputs() -> dict[str, tuple]:
    rotations, root, skeleton = synthetic_dance(12, seed=0)
    nan = rotations.copy()
    nan[5, 3, 0, 0] = np.nan
    scaled = rotations * 2.0
    mirrored = rotations.copy()
    mirrored[:, 4] *= -1
    return {
        "non-finite": (nan, root, skeleton, FPS),
        "few frames of root": (rotations, root[:-1], skeleton, FPS),
        "wrong joint count": (rotations[:, :22], root, skeleton, FPS),
        "not a rotation": (scaled, root, skeleton, FPS),
        "reflection": (mirrored, root, skeleton, FPS),
        "inf root": (rotations, np.where(np.arange(12)[:, None] == 3, np.inf, root), skeleton, FPS),
        "zero fps": (rotations, root, skeleton, 0.0),
        "no frames": (rotations[:0], root[:0], skeleton, FPS),
    }


@pytest.mark.parametrize("case", list(_bad_inputs()))
def test_bad_input_is_one_line_and_writes_nothing(case, tmp_path):
    rotations, root, skeleton, fps = _bad_inputs()[case]
    path = tmp_path / "bad.glb"
    with pytest.raises(UserError) as err:
        write_glb(path, rotations, root, skeleton, fps)
    assert "\n" not in str(err.value) and str(path) in str(err.value)
    assert list(tmp_path.iterdir()) == []
