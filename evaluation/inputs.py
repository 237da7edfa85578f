"""Reading the motion files an evaluation compares, as they come from the common dance-generation codebases.

| file | holds | frame rate, up axis (defaults) |
|---|---|---|
| `.npy` | joints (T, J, 3) or (T, J*3), J in 22, 24, 52, 55 | 30 fps, Y-up (`--fps`, `--up_axis`) |
| `.csv` | EDGE joint CSV (T, 72) = 24 SMPL joints | 30 fps, Z-up |
| `.pkl` / `.npy` dict | EDGE `full_pose` (T, 24, 3) | 30 fps, Z-up |
| `.pkl` / `.npy` dict | Bailando `pred_position` (T, 72) | 60 fps, Y-up |
| `.npz` | our generation output: `joints` (T, 52, 3), `expressions`, `mocap_frame_rate` | its rate, Y-up |
| other `data.formats` files | SMPL-X / AIST++ / FineDance parameters, BVH: joints by FK | the format's, Y-up |

Joints come back Y-up at the file's own frame rate with the file's own joint count, so every protocol converts them
from the same starting point. `fps`/`up_axis` given by the user override the defaults for every file.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np

from data.formats import load_motion
from data.formats.bvh_joints import BVH_KEY
from data.formats.containers import ARRAY_KEY, read_container
from data.formats.motion import FPS_RANGE, pad_face
from evaluation.metrics.joint_sets import SUPPORTED_JOINT_COUNTS
from motion.frame import Z_TO_Y_UP
from utils.arrays import is_numeric, scalar
from utils.atomic import temporary_pid
from utils.batch import list_files
from utils.cli import UserError
from utils.outputs import check_writable, drop_unfinished, refuse_existing

EVAL_SUFFIXES = (".npy", ".npz", ".pkl", ".pickle", ".csv", ".bvh")
PROJECT_FPS = 30.0
EDGE_FPS, BAILANDO_FPS = 30.0, 60.0


@dataclass
class EvalMotion:
    """One evaluated sequence.

    Args:
        name: the file stem.
        joints: (T, J, 3) float64, Y-up metres, J in (22, 24, 52, 55).
        fps: its frame rate.
        expressions: (T, 100) face coefficients, or None when the file has no face.
        layout: what the file was read as (for the report).
        source_up_axis: the up axis the file stored its joints in.
    """

    name: str
    joints: np.ndarray
    fps: float
    expressions: np.ndarray | None
    layout: str
    source_up_axis: str = "y"


def _joint_array(a: np.ndarray) -> np.ndarray | None:
    """A (T, J, 3) view of a numeric array in a joints layout, else None."""
    if not isinstance(a, np.ndarray) or a.dtype.kind not in "fiu" or a.ndim not in (2, 3):
        return None
    if a.ndim == 2 and a.shape[1] % 3 == 0 and a.shape[1] // 3 in SUPPORTED_JOINT_COUNTS:
        a = a.reshape(len(a), -1, 3)
    return a if a.ndim == 3 and a.shape[2] == 3 and a.shape[1] in SUPPORTED_JOINT_COUNTS else None


def _expressions(arrays: dict[str, np.ndarray], n_frames: int, path: Path) -> np.ndarray | None:
    """The file's face (T, <=100) -> (T, 100), None without one (absent or all zeros: no face was generated)."""
    face = arrays.get("expressions")
    if face is None:
        return None
    if not is_numeric(face):
        raise UserError(f"{path}: expressions must be a real-valued numeric array, got {np.asarray(face).dtype}")
    try:
        face = pad_face(face, n_frames)
    except ValueError as err:
        raise UserError(f"{path}: {err}") from err
    return face if np.abs(face).sum() > 0 else None


def _layout(arrays: dict[str, np.ndarray], path: Path) -> tuple[np.ndarray, float, str, str, np.ndarray | None] | None:
    """(joints, default fps, default up axis, layout name, expressions) of a joints file, or None."""
    suffix = path.suffix.lower()
    if "full_pose" in arrays and _joint_array(arrays["full_pose"]) is not None:
        return _joint_array(arrays["full_pose"]), EDGE_FPS, "z", "EDGE full_pose", None
    if "pred_position" in arrays and _joint_array(arrays["pred_position"]) is not None:
        return _joint_array(arrays["pred_position"]), BAILANDO_FPS, "y", "Bailando pred_position", None
    if "joints" in arrays and _joint_array(arrays["joints"]) is not None:
        joints = _joint_array(arrays["joints"])
        rate_key = next((k for k in ("mocap_frame_rate", "fps") if k in arrays), None)
        fps = PROJECT_FPS if rate_key is None else scalar(arrays, rate_key, PROJECT_FPS, path)
        return joints, fps, "y", "joints npz", _expressions(arrays, len(joints), path)
    a = arrays.get(ARRAY_KEY)
    if suffix == ".csv" and a is not None and a.ndim == 2 and a.shape[1] == 72:
        return a.reshape(len(a), 24, 3), EDGE_FPS, "z", "EDGE csv", None
    if suffix in (".npy", ".csv") and a is not None and _joint_array(a) is not None:
        return _joint_array(a), PROJECT_FPS, "y", "joints array", None
    return None


def read_eval_motion(
    path: str | Path, fps: float | None = None, up_axis: str | None = None, smplx_model_path: str | Path | None = None
) -> EvalMotion:
    """Read one file for evaluation (see the module table) at its own frame rate. Parameter files get joints by
    forward kinematics: through `smplx` with `smplx_model_path`, else on the project's default skeleton. Raises
    `UserError` naming the file for bad input."""
    path = Path(path)
    arrays = {BVH_KEY: np.array(str(path))} if path.suffix.lower() == ".bvh" else read_container(path)
    found = _layout(arrays, path)
    bare = arrays.get(ARRAY_KEY)
    if found is None and path.suffix.lower() == ".npy" and bare is not None and bare.ndim == 3 and bare.shape[2] == 3:
        raise UserError(
            f"{path}: joints array {bare.shape}: the joint count must be one of "
            f"{', '.join(map(str, SUPPORTED_JOINT_COUNTS))}"
        )
    if found is None:  # a parameter file: forward kinematics through the motion readers, at the file's rate
        m = load_motion(path, fps=fps, up_axis=up_axis, smplx_model_path=smplx_model_path, out_fps=None)
        joints, rate, face, layout = m.joints.astype(np.float64), m.source_fps, m.face, f"{m.fmt} (FK)"
        up = up_axis or "y"  # the parameter layouts store Y-up unless told otherwise
    else:
        joints, rate, up, layout, face = found
        rate = float(fps) if fps is not None else rate
        up = up_axis or up
        joints = np.asarray(joints, dtype=np.float64)
        if up not in ("y", "z"):
            raise UserError(f"{path}: up axis must be y or z, got {up!r}")
        if up == "z":
            joints = joints @ Z_TO_Y_UP.T
    if not FPS_RANGE[0] <= rate <= FPS_RANGE[1]:
        raise UserError(f"{path}: frame rate {rate:g} is outside {FPS_RANGE[0]:g}-{FPS_RANGE[1]:g} fps")
    if len(joints) < 3:
        raise UserError(f"{path}: {len(joints)} frames; the metrics need at least 3")
    if not np.isfinite(joints).all():
        raise UserError(f"{path}: joints contain NaN or Inf")
    if face is not None:
        face = np.asarray(face, dtype=np.float64)
        if len(face) != len(joints) or not np.isfinite(face).all():
            raise UserError(f"{path}: expressions must be finite and have one row per frame ({len(joints)})")
    return EvalMotion(path.stem, joints, rate, face, layout, up)


def list_motion_files(folder: str | Path, what: str) -> list[Path]:
    """The evaluable files of a folder, sorted; a missing or empty folder, or two files of one name, is an error
    (except `<name>.npz` + `<name>.bvh`, as gen_m2m.py writes them: the npz is read). Temporary files of an
    interrupted write (`utils.atomic`) are never read (they are logged)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise UserError(f"{what} folder {folder} not found")
    files = drop_unfinished(list_files(folder, EVAL_SUFFIXES))
    if not files:
        raise UserError(f"{what} folder {folder}: only unfinished temporary files")
    npz = {p.stem for p in files if p.suffix.lower() == ".npz"}
    files = [p for p in files if not (p.suffix.lower() == ".bvh" and p.stem in npz)]
    stems = [p.stem for p in files]
    clashes = sorted({s for s in stems if stems.count(s) > 1})
    if clashes:
        raise UserError(
            f"{what} folder {folder}: several files are named {clashes[0]!r} "
            "(samples are matched by file name; keep one)"
        )
    return files


def check_eval_paths(pred_dir: Path, gt_dir: Path | None, beats_dir: Path | None, out: Path, overwrite: bool) -> None:
    """Before any evaluation work, one line when: the prediction folder is missing or is the ground-truth or beat
    folder, the report is not a `.json`, it exists (without `overwrite`), or its folder cannot be written (it is
    created)."""
    if not Path(pred_dir).is_dir():
        raise UserError(f"prediction folder {pred_dir} not found")
    same = {"--gt_dir": gt_dir, "--beats_dir": beats_dir}
    for option, folder in same.items():
        if folder is not None and Path(folder).resolve() == Path(pred_dir).resolve():
            raise UserError(
                f"--pred_dir and {option} are the same folder {pred_dir}: every file there would be read "
                f"as a prediction and as {option[2:-4]}; give each its own folder"
            )
    if Path(out).suffix.lower() != ".json":
        raise UserError(f"--out {out}: the report is JSON; give a name ending in .json")
    refuse_existing(out, overwrite)
    check_writable(Path(out).parent, "--out")


def folder_summary(folder: Path) -> dict:
    """The evaluable files of a folder: count and modification-time span (leftovers of an earlier run show as an
    old `oldest`). -> {"folder", "files", "oldest", "newest"}"""
    files = [
        p
        for p in Path(folder).iterdir()
        if p.is_file() and p.suffix.lower() in EVAL_SUFFIXES and temporary_pid(p) is None
    ]
    times = [datetime.fromtimestamp(t).isoformat(timespec="seconds") for t in sorted(p.stat().st_mtime for p in files)]
    return {
        "folder": str(folder),
        "files": len(files),
        "oldest": times[0] if times else None,
        "newest": times[-1] if times else None,
    }
