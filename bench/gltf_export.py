"""Benchmark: the glTF 2.0 (.glb) export of a dance, its file size and time; prints JSON.

    python bench/gltf_export.py [--minutes 1 10] [--repeats 3] [--dir outputs]

Synthetic 30 fps dances on the default 52-joint skeleton (random rotations up to about 1.5 rad smoothed over
time, a root walking a curve) are written with `export.gltf.write_glb` (quaternion conversion, body mesh, GLB
container, atomic write) in a folder of `--dir`; best of `--repeats`. When node and the Khronos glTF Validator
(`npm ci --prefix tests/js`) are installed, each file's validation report is summarised too.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import tempfile
import time
from functools import partial
from pathlib import Path

import numpy as np

from export.gltf import write_glb
from motion.frame import FPS
from motion.rotation import axis_angle_to_matrix
from motion.skeleton import Skeleton, default_skeleton
from utils.timing import best_of, machine_info

REPO = Path(__file__).resolve().parents[1]
VALIDATOR = REPO / "tests" / "js" / "validate_gltf.mjs"
KEY_EVERY = 10  # frames between random key poses


def smooth_dance(n_frames: int, skeleton: Skeleton, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(rotations (T, J, 3, 3), root positions (T, 3)) of a random smooth dance: key axis-angles every
    `KEY_EVERY` frames, linearly blended, and a root that walks a curve and bobs."""
    rng = np.random.default_rng(seed)
    keys = rng.normal(0, 0.6, (n_frames // KEY_EVERY + 2, skeleton.n_joints, 3))
    u = np.arange(n_frames) / KEY_EVERY
    k, w = np.floor(u).astype(np.int64), (u % 1)[:, None, None]
    t = np.arange(n_frames) / FPS
    root = skeleton.rest_joints[0] + np.stack([np.sin(0.5 * t), 0.05 * np.sin(4 * t), 0.3 * np.cos(0.2 * t)], -1)
    return axis_angle_to_matrix((1 - w) * keys[k] + w * keys[k + 1]), root


def validator_summary(path: Path) -> dict | None:
    """numErrors/numWarnings/numInfos/numHints of the Khronos validator and its time; None when not installed."""
    if shutil.which("node") is None or not (REPO / "tests" / "js" / "node_modules" / "gltf-validator").is_dir():
        return None
    t0 = time.perf_counter()
    res = subprocess.run(["node", str(VALIDATOR), str(path)], capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - t0
    issues = json.loads(res.stdout)["issues"]
    summary = {k: issues[k] for k in ("numErrors", "numWarnings", "numInfos", "numHints")}
    return summary | {"codes": sorted({m["code"] for m in issues["messages"]}), "validate (s)": round(seconds, 2)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--minutes", type=float, nargs="+", default=[1, 10], help="dance lengths")
    p.add_argument("--repeats", type=int, default=3, help="timed exports per length (the best is kept)")
    p.add_argument("--dir", type=Path, default=Path("outputs"), help="a folder on the disk the dances go to")
    args = p.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    skeleton = default_skeleton()
    rows = {}
    with tempfile.TemporaryDirectory(dir=args.dir) as folder:
        for minutes in args.minutes:
            n = round(minutes * 60 * FPS)
            rotations, root = smooth_dance(n, skeleton)
            path = Path(folder) / f"dance_{minutes:g}min.glb"
            seconds = best_of(partial(write_glb, path, rotations, root, skeleton, FPS), args.repeats)
            size = path.stat().st_size
            rows[f"{minutes:g} min"] = {
                "frames": n,
                "glb (MB)": round(size / 2**20, 2),
                "bytes per frame": round(size / n),
                "export (s)": round(seconds, 3),
                "validator": validator_summary(path),
            }
    print(json.dumps({"benchmark": "gltf_export", "machine": machine_info(), "fps": FPS, "results": rows}, indent=1))


if __name__ == "__main__":
    main()
