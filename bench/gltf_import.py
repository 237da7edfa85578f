"""Benchmark: the .glb of a dance imported by Blender's glTF importer and three.js's GLTFLoader; prints JSON.

    python bench/gltf_import.py [--frames 600] [--samples 10] [--dance synthetic|random] [--keep out.glb]

Writes a 30 fps dance with `export.gltf.write_glb` (default: the project's synthetic whole-body dance, fingers
included, 600 frames = 20 s), computes its joints with our forward kinematics, lets each importer pose the file at
`--samples` keyframes spread over the dance (the first and the last included) and compares the joint world positions
the importer computes with ours (max / mean over frames and joints of the distance, in mm; the check passes below
`--tolerance_mm`, 1 mm). Each importer's warnings and errors are reported; an importer that is not installed is
reported as skipped (with how to install it), not as a failure.

What to install (nothing goes into the repository's requirements or tests/js):
  * Blender (its bundled glTF add-on io_scene_gltf2 is the importer): `apt-get install -y --no-install-recommends
    blender python3-numpy` (Debian 12: Blender 3.4.1, about 25 s; its importer needs numpy but the package does
    not depend on it), or another Blender (2.8 or later; only 3.4.1 was tried) on PATH or given with `--blender`.
    Debian's Blender 3.4 importer still uses `np.bool`, which Debian's numpy 1.24 removed: the Blender script
    restores the alias (`numpy.bool = bool`) before importing and reports that under "python_shims".
  * three.js in a scratch npm folder outside the repository:
        mkdir -p /tmp/threecheck && npm install --prefix /tmp/threecheck three@0.187.0
    (`--three_dir` names the folder; any recent 0.x release works). GLTFLoader runs in plain Node (tried: v20), no
    browser and no DOM shims: `GLTFLoader.parse` takes the file's ArrayBuffer, and the file has no textures (the
    only part of the loader that needs a DOM).

How each importer is read:
  * Blender: `blender --background --factory-startup --python <script> -- ...` on an empty scene whose frame rate
    is set to the dance's before the import (the importer keys glTF time t at frame t * scene fps, with t = 0 at
    frame 0, not 1, so keyframe k is frame k at 30 fps). It converts glTF's Y-up to Blender's Z-up,
    (x, y, z)_glTF -> (x, -z, y)_Blender, which is undone here. Every joint node becomes a bone of one armature
    named as the node, with the bone's head at the node's origin (the tail only points at a child), so a joint's
    world position is armature.matrix_world @ pose_bone.head after `scene.frame_set(k)` (read from the evaluated
    armature).
  * three.js: every joint node becomes a `THREE.Bone` named as the node; an AnimationMixer plays the clip at
    t = k / fps (LoopOnce and clampWhenFinished: the last keyframe is the clip's end, float32 k / fps, which the
    default LoopRepeat wraps to time 0 whenever k / fps in double precision is not below it), then
    `scene.updateMatrixWorld` and `bone.getWorldPosition`. Y-up like our joints: no axis change.
  * Both: the skinned body too. Each importer's rest vertices with their (only) joint must be ours (as a set:
    an importer may reorder vertices), and each deformed vertex must be where its joint carries it by our FK.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from data.synthetic_dance import synthesize_dance
from export.gltf import BodyMesh, body_mesh, write_glb
from motion.kinematics import forward_kinematics, split_smplx_poses
from motion.rotation import axis_angle_to_matrix
from motion.skeleton import JOINT_NAMES, Skeleton, default_skeleton
from utils.timing import machine_info

FPS = 30  # integer: Blender's scene frame rate (the importer ignores fps_base)
DEFAULT_THREE_DIR = Path("/tmp/threecheck")
TIMEOUT_S = 600
# Blender output that is no message of the importer's (headless start-up and exit noise)
_NOISE = re.compile(
    r"^(Blender \d|Read prefs|Warning: Unable to open .*(userpref|startup)|Color management|ALSA|"
    r"AL lib|Blender quit|found bundled python|\s*$)"
)

BLENDER_SCRIPT = r"""
import json, sys, time, warnings
import addon_utils, bpy
import numpy as np

shims = []
with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # numpy 1.24 warns on looking np.bool up
    if not hasattr(np, "bool"):  # Blender 3.4's importer uses np.bool, removed in numpy 1.24 (Debian 12 has both)
        np.bool = bool
        shims.append("numpy.bool = bool (numpy %s)" % np.__version__)

args = sys.argv[sys.argv.index("--") + 1:]
glb, fps, out, frames = args[0], int(args[1]), args[2], json.loads(args[3])
bpy.ops.wm.read_factory_settings(use_empty=True)  # no default cube, camera or light
scene = bpy.context.scene
scene.render.fps, scene.render.fps_base = fps, 1.0  # the importer keys glTF time t at frame t * render.fps
print("gltf_import: importing", flush=True)
t0 = time.perf_counter()
result = bpy.ops.import_scene.gltf(filepath=glb)
seconds = time.perf_counter() - t0
print("gltf_import: imported", flush=True)
addon = next((m.bl_info.get("version") for m in addon_utils.modules() if m.__name__ == "io_scene_gltf2"), None)
armatures = [o for o in scene.objects if o.type == "ARMATURE"]
meshes = [o for o in scene.objects if o.type == "MESH"]
report = {"blender": bpy.app.version_string, "shims": shims, "addon": list(addon) if addon else None,
          "result": sorted(result), "import_s": seconds, "armatures": [a.name for a in armatures],
          "meshes": [{"name": m.name, "vertices": len(m.data.vertices), "polygons": len(m.data.polygons),
                      "vertex_groups": len(m.vertex_groups), "parent": m.parent.name if m.parent else None,
                      "armature_modifiers": [md.object.name for md in m.modifiers
                                             if md.type == "ARMATURE" and md.object]} for m in meshes]}


def world_coords(obj):
    # (V, 3) world coordinates of the evaluated (deformed) mesh of obj
    ev = obj.evaluated_get(bpy.context.evaluated_depsgraph_get())
    me = ev.to_mesh()
    co = np.empty(len(me.vertices) * 3)
    me.vertices.foreach_get("co", co)
    ev.to_mesh_clear()
    m = np.array(ev.matrix_world)
    return (co.reshape(-1, 3) @ m[:3, :3].T + m[:3, 3]).tolist()


if armatures:
    arm = armatures[0]
    action = arm.animation_data.action if arm.animation_data else None
    report["bones"] = [b.name for b in arm.data.bones]
    report["action"] = {"name": action.name, "frame_range": list(action.frame_range),
                        "fcurves": len(action.fcurves)} if action else None
    report["rest_heads"] = {b.name: list(arm.matrix_world @ b.head_local) for b in arm.data.bones}
    body = meshes[0] if meshes else None
    if body is not None:  # each vertex's rest position and its heaviest group (our weights are one joint's 1.0)
        groups = [body.vertex_groups[max(v.groups, key=lambda g: g.weight).group].name if v.groups else None
                  for v in body.data.vertices]
        report["body"] = {"rest": [list(body.matrix_world @ v.co) for v in body.data.vertices], "joint": groups,
                          "weights": sorted({round(sum(g.weight for g in v.groups), 6)
                                             for v in body.data.vertices}), "frames": {}}
    report["frames"] = {}
    for f in frames:
        scene.frame_set(f)
        ev = arm.evaluated_get(bpy.context.evaluated_depsgraph_get())
        report["frames"][str(f)] = {p.name: list(ev.matrix_world @ p.head) for p in ev.pose.bones}
        if body is not None:
            report["body"]["frames"][str(f)] = world_coords(body)
with open(out, "w") as fh:
    json.dump(report, fh)
"""

THREE_SCRIPT = r"""
// node three_check.mjs THREE_DIR FILE.glb FPS OUT.json FRAME...
import { readFileSync, writeFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { join } from "node:path";
const [threeDir, file, fpsArg, out, ...frameArgs] = process.argv.slice(2);
const mod = (p) => import(pathToFileURL(join(threeDir, "node_modules", "three", p)).href);
const THREE = await mod("build/three.module.js");
const { GLTFLoader } = await mod("examples/jsm/loaders/GLTFLoader.js");
const messages = [];  // three.js reports problems with console.warn / console.error
for (const level of ["warn", "error"]) console[level] = (...a) => messages.push(`${level}: ${a.join(" ")}`);
const buf = readFileSync(file);
const t0 = performance.now();
const gltf = await new Promise((resolve, reject) =>
  new GLTFLoader().parse(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength), "", resolve, reject));
const loadS = (performance.now() - t0) / 1000;
const fps = Number(fpsArg);
const clip = gltf.animations[0];
const mixer = new THREE.AnimationMixer(gltf.scene);
const action = mixer.clipAction(clip);
action.setLoop(THREE.LoopOnce, 1);
action.clampWhenFinished = true;  // the last key is the clip's end: LoopRepeat may wrap it to time 0
action.play();
const bones = [], skinned = [];
gltf.scene.traverse((o) => {
  if (o.isBone) bones.push(o);
  if (o.isSkinnedMesh) skinned.push(o);
});
// the body: the primitives share one vertex array, so the first skinned mesh has every vertex
const mesh = skinned[0];
const v = new THREE.Vector3();
let body = null;
if (mesh) {
  const n = mesh.geometry.attributes.position.count, idx = mesh.geometry.attributes.skinIndex;
  const w = mesh.geometry.attributes.skinWeight;
  const rest = [], joint = [], sums = new Set();
  for (let i = 0; i < n; i++) {
    rest.push(v.fromBufferAttribute(mesh.geometry.attributes.position, i).toArray());
    let best = 0;
    for (let c = 1; c < 4; c++) if (w.getComponent(i, c) > w.getComponent(i, best)) best = c;
    joint.push(mesh.skeleton.bones[idx.getComponent(i, best)].name);
    sums.add(Math.round((w.getX(i) + w.getY(i) + w.getZ(i) + w.getW(i)) * 1e6) / 1e6);
  }
  body = { rest, joint, weights: [...sums], frames: {} };
}
const frames = {};
for (const f of frameArgs.map(Number)) {
  mixer.setTime(f / fps);
  gltf.scene.updateMatrixWorld(true);
  frames[f] = Object.fromEntries(bones.map((b) => [b.name, b.getWorldPosition(v).toArray()]));
  if (mesh) {
    mesh.skeleton.update();
    body.frames[f] = body.rest.map((_, i) => mesh.getVertexPosition(i, v).applyMatrix4(mesh.matrixWorld).toArray());
  }
}
writeFileSync(out, JSON.stringify({ three: THREE.REVISION, load_s: loadS, messages, bones: bones.map((b) => b.name),
  skinned_meshes: skinned.map((o) => ({ name: o.name, vertices: o.geometry.attributes.position.count,
    triangles: (o.geometry.index?.count ?? 0) / 3, bones: o.skeleton.bones.length })),
  animations: gltf.animations.map((a) => ({ name: a.name, duration: a.duration, tracks: a.tracks.length })),
  frames, body }));
"""


def synthetic_dance(n_frames: int, seed: int, skeleton: Skeleton) -> tuple[np.ndarray, np.ndarray]:
    """(rotations (T, J, 3, 3), root positions (T, 3)) of the project's synthetic whole-body dance."""
    motion = synthesize_dance(n_frames, seed=seed)
    rotations = axis_angle_to_matrix(split_smplx_poses(motion.poses).astype(np.float64))
    return rotations, skeleton.rest_joints[0] + motion.trans


def random_dance(n_frames: int, seed: int, skeleton: Skeleton) -> tuple[np.ndarray, np.ndarray]:
    """A harder dance: random axis-angles (about 0.6 rad per axis) at keys every 10 frames, linearly blended, and a
    root that walks a curve and bobs (as in tests/test_gltf.py)."""
    rng = np.random.default_rng(seed)
    keys = rng.normal(0, 0.6, (n_frames // 10 + 2, skeleton.n_joints, 3))
    u = np.arange(n_frames) / 10
    k, w = np.floor(u).astype(np.int64), (u % 1)[:, None, None]
    t = np.arange(n_frames) / FPS
    root = skeleton.rest_joints[0] + np.stack([np.sin(0.5 * t), 0.05 * np.sin(4 * t), 0.3 * np.cos(0.2 * t)], -1)
    return axis_angle_to_matrix((1 - w) * keys[k] + w * keys[k + 1]), root


@dataclass
class Reference:
    """Our side: joints (T, J, 3) and global rotations (T, J, 3, 3) by forward kinematics, the rest joints and the
    body mesh `export.gltf` writes; `sampled` (K,) the keyframes compared."""

    joints: np.ndarray
    rotations: np.ndarray
    rest_joints: np.ndarray
    body: BodyMesh
    sampled: np.ndarray


def identity(xyz: np.ndarray) -> np.ndarray:
    return xyz


def blender_to_gltf(xyz: np.ndarray) -> np.ndarray:
    """Blender's Z-up (x, y, z) = glTF (x, -z, y) back to glTF's Y-up: (x, z, -y)."""
    return np.stack([xyz[..., 0], xyz[..., 2], -xyz[..., 1]], -1)


def _stats(dist: np.ndarray, sampled: np.ndarray, labels) -> dict:
    """max / mean of distances (K, N) in mm and where the largest is."""
    worst = np.unravel_index(np.nanargmax(dist), dist.shape)
    return {
        "max_error_mm": round(float(np.nanmax(dist)), 6),
        "mean_error_mm": round(float(np.nanmean(dist)), 6),
        "worst": {"frame": int(sampled[worst[0]]), "at": labels(worst[1])},
    }


def compare_joints(frames: dict, ref: Reference, to_gltf) -> dict:
    """An importer's joint world positions {frame: {name: xyz}} against ours."""
    got = np.full(ref.joints[ref.sampled].shape, np.nan)
    for i, f in enumerate(ref.sampled):
        pose = frames.get(str(int(f)), {})
        for j, name in enumerate(JOINT_NAMES):
            if name in pose:
                got[i, j] = pose[name]
    dist = np.linalg.norm(to_gltf(got) - ref.joints[ref.sampled], axis=-1) * 1000  # (K, J)
    found = int(np.isfinite(dist).all(0).sum())
    if not found:
        return {"joints_found": 0}
    stats = _stats(dist, ref.sampled, lambda j: JOINT_NAMES[j])
    return {"joints_found": found, "frames_checked": [int(f) for f in ref.sampled]} | stats


def compare_body(body: dict | None, ref: Reference, to_gltf) -> dict:
    """The importer's skinned body: its rest vertices and their joints are ours (as a set: importers may reorder
    vertices), and each deformed vertex is where its joint carries it (p_j + G_j (rest - rest_j), our FK)."""
    if not body:
        return {"found": False}
    rest = to_gltf(np.asarray(body["rest"], np.float64))
    joint = np.array([JOINT_NAMES.index(n) if n in JOINT_NAMES else -1 for n in body["joint"]])

    def ordered(pos: np.ndarray, j: np.ndarray) -> np.ndarray:
        pos = pos.astype(np.float32).astype(np.float64)
        order = np.lexsort((pos[:, 2], pos[:, 1], pos[:, 0], j))
        return np.concatenate([j[order, None], pos[order]], 1)

    ours = ordered(ref.body.positions, ref.body.joints)
    theirs = ordered(rest, joint)
    same = ours.shape == theirs.shape and (ours[:, 0] == theirs[:, 0]).all()  # vertices bound to the same joints
    rest_err = float(np.linalg.norm(ours[:, 1:] - theirs[:, 1:], axis=-1).max()) * 1000 if same else np.inf
    deformed = np.stack([to_gltf(np.asarray(body["frames"][str(int(f))], np.float64)) for f in ref.sampled])
    g, p = ref.rotations[ref.sampled][:, joint], ref.joints[ref.sampled][:, joint]  # (K, V, 3, 3), (K, V, 3)
    expected = p + (g @ (rest - ref.rest_joints[joint])[None, :, :, None])[..., 0]
    dist = np.linalg.norm(deformed - expected, axis=-1) * 1000  # (K, V)
    return {
        "vertices": len(rest),
        "ours": len(ref.body.positions),
        "same_joints": bool(same),
        "rest_max_error_mm": round(rest_err, 6) if same else None,
        "weight_sums": body["weights"],
    } | _stats(dist, ref.sampled, lambda v: f"vertex {v} ({JOINT_NAMES[joint[v]]})")


def names_check(names: list[str]) -> dict:
    missing, extra = sorted(set(JOINT_NAMES) - set(names)), sorted(set(names) - set(JOINT_NAMES))
    return {"count": len(names), "names_match": not missing and not extra, "missing": missing, "extra": extra}


def run_blender(blender: str | None, glb: Path, folder: Path, ref: Reference) -> dict:
    if blender is None:
        return {
            "ok": None,
            "skipped": "no blender on PATH (apt-get install -y --no-install-recommends blender python3-numpy)",
        }
    script, out = folder / "blender_check.py", folder / "blender.json"
    script.write_text(BLENDER_SCRIPT)
    cmd = [
        blender,
        "--background",
        "--factory-startup",
        "--python-exit-code",
        "1",
        "--python",
        str(script),
        "--",
        str(glb),
        str(FPS),
        str(out),
        json.dumps([int(f) for f in ref.sampled]),
    ]
    t0 = time.perf_counter()
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT_S, check=False)
    seconds = time.perf_counter() - t0
    log = (res.stdout + res.stderr).splitlines()
    if res.returncode != 0 or not out.exists():
        return {"ok": False, "returncode": res.returncode, "log_tail": log[-30:]}
    rep = json.loads(out.read_text())
    # the importer's own output: what Blender printed between the import's start and end markers
    start = next((i for i, line in enumerate(log) if "gltf_import: importing" in line), 0)
    end = next((i for i, line in enumerate(log) if "gltf_import: imported" in line), len(log))
    importer_log = [line for line in log[start + 1 : end] if not _NOISE.match(line)]
    warnings = [
        line for line in log if re.search(r"warn|error|traceback|fail", line, re.IGNORECASE) and not _NOISE.match(line)
    ]
    rest = np.array([rep.get("rest_heads", {}).get(n, [np.nan] * 3) for n in JOINT_NAMES])
    return (
        {
            "version": rep["blender"],
            "gltf_addon": ".".join(map(str, rep["addon"] or [])),
            "python_shims": rep["shims"],
            "operator_result": rep["result"],
            "armatures": rep["armatures"],
            "meshes": rep["meshes"],
            "bones": names_check(rep.get("bones", [])),
            "action": rep.get("action"),
            "rest_heads_max_error_mm": round(
                float(np.nanmax(np.linalg.norm(blender_to_gltf(rest) - ref.rest_joints, axis=-1))) * 1000, 6
            ),
        }
        | compare_joints(rep.get("frames", {}), ref, blender_to_gltf)
        | {
            "body": compare_body(rep.get("body"), ref, blender_to_gltf),
            "importer_log": importer_log,
            "warnings": warnings,
            "import_s": round(rep["import_s"], 3),
            "total_s": round(seconds, 2),
        }
    )


def run_three(three_dir: Path, glb: Path, folder: Path, ref: Reference) -> dict:
    module = three_dir / "node_modules" / "three" / "package.json"
    if shutil.which("node") is None or not module.exists():
        return {"ok": None, "skipped": f"no node or no {module} (npm install --prefix {three_dir} three)"}
    script, out = folder / "three_check.mjs", folder / "three.json"
    script.write_text(THREE_SCRIPT)
    cmd = ["node", str(script), str(three_dir), str(glb), str(FPS), str(out), *map(str, ref.sampled)]
    t0 = time.perf_counter()
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT_S, check=False)
    seconds = time.perf_counter() - t0
    if res.returncode != 0 or not out.exists():
        return {"ok": False, "returncode": res.returncode, "log_tail": (res.stdout + res.stderr).splitlines()[-30:]}
    rep = json.loads(out.read_text())
    package = json.loads(module.read_text())["version"]
    return (
        {
            "version": package,
            "revision": rep["three"],
            "runtime": f"node {_node_version()} (no browser)",
            "bones": names_check(rep["bones"]),
            "skinned_meshes": rep["skinned_meshes"],
            "animations": rep["animations"],
        }
        | compare_joints(rep["frames"], ref, identity)
        | {
            "body": compare_body(rep.get("body"), ref, identity),
            "warnings": rep["messages"] + [line for line in res.stderr.splitlines() if line.strip()],
            "load_s": round(rep["load_s"], 3),
            "total_s": round(seconds, 2),
        }
    )


def _node_version() -> str:
    return subprocess.run(["node", "--version"], capture_output=True, text=True, check=False).stdout.strip()


def verdict(result: dict, tolerance_mm: float) -> dict:
    """`ok`: every joint found, joints and body within the tolerance at every sampled frame, the body's rest
    vertices ours (within the tolerance, bound to the same joints), no warning."""
    if "skipped" in result or result.get("ok") is False:
        return result
    body = result["body"]
    ok = (
        result.get("joints_found") == len(JOINT_NAMES)
        and result["max_error_mm"] < tolerance_mm
        and result["bones"]["names_match"]
        and not result["warnings"]
        and body.get("same_joints")
        and body["rest_max_error_mm"] < tolerance_mm
        and body["max_error_mm"] < tolerance_mm
    )
    return {"ok": bool(ok)} | result


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--frames", type=int, default=600, help="dance length in frames (30 fps)")
    p.add_argument("--samples", type=int, default=10, help="keyframes compared, spread over the dance")
    p.add_argument("--dance", choices=("synthetic", "random"), default="synthetic", help="which dance")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--tolerance_mm", type=float, default=1.0, help="largest joint or vertex error that passes")
    p.add_argument("--blender", default=shutil.which("blender"), help="the Blender binary (default: on PATH)")
    p.add_argument("--three_dir", type=Path, default=DEFAULT_THREE_DIR, help="npm folder with three installed")
    p.add_argument("--keep", type=Path, help="also keep the .glb here")
    args = p.parse_args()
    skeleton = default_skeleton()
    make = synthetic_dance if args.dance == "synthetic" else random_dance
    rotations, root = make(args.frames, args.seed, skeleton)
    joints, global_rotations = forward_kinematics(rotations, root, skeleton)  # (T, J, 3), (T, J, 3, 3)
    sampled = np.unique(np.linspace(0, args.frames - 1, args.samples).round().astype(np.int64))
    ref = Reference(joints, global_rotations, skeleton.rest_joints, body_mesh(skeleton), sampled)
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        glb = write_glb(folder / "dance.glb", rotations, root, skeleton, FPS, name="dance")
        if args.keep:
            shutil.copyfile(glb, args.keep)
        results["file"] = {
            "dance": args.dance,
            "frames": args.frames,
            "fps": FPS,
            "joints": skeleton.n_joints,
            "bytes": glb.stat().st_size,
        }
        results["blender"] = verdict(run_blender(args.blender, glb, folder, ref), args.tolerance_mm)
        results["three.js"] = verdict(run_three(args.three_dir, glb, folder, ref), args.tolerance_mm)
    print(json.dumps({"benchmark": "gltf_import", "machine": machine_info(), "results": results}, indent=1))
    sys.exit(0 if all(results[k].get("ok") is not False for k in ("blender", "three.js")) else 1)


if __name__ == "__main__":
    main()
