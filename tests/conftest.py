"""Shared fixtures: real third-party samples from ../shared/realdata (skipped when absent) and a fake SMPL-X model."""

from __future__ import annotations

import importlib.util
import subprocess
from pathlib import Path
from types import ModuleType

import imageio_ffmpeg
import numpy as np
import pytest

from motion.skeleton import SMPLX_JOINT_INDICES, SMPLX_N_JOINTS, default_skeleton

REPO = Path(__file__).resolve().parents[1]
REALDATA = REPO.parent / "shared" / "realdata"
MOTION_SCRIPTS = REPO / "data" / "motion_representation" / "src"


def load_script(name: str, folder: Path = MOTION_SCRIPTS) -> ModuleType:
    """A command-line script as a module (its `main(argv)` callable in-process), without touching sys.path."""
    spec = importlib.util.spec_from_file_location(f"script_{name}", folder / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def streams(path) -> str:
    """ffmpeg's description of a media file's streams."""
    res = subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-i", str(path)], capture_output=True, text=True
    )
    return res.stderr


def realdata(rel: str) -> Path:
    """Path of a real sample file; skips the test when ../shared is absent (as on a user's clone)."""
    path = REALDATA / rel
    if not path.exists():
        pytest.skip(f"real sample {rel} not available (needs ../shared/realdata)")
    return path


@pytest.fixture(scope="session")
def data_root(tmp_path_factory) -> Path:
    """A processed synthetic dataset (4 songs of 20 s, 723-d motion, baseline music) shared by the training tests,
    which only read it."""
    from create_dataset import main as create_dataset

    root = tmp_path_factory.mktemp("synthetic_training")
    create_dataset(
        ["--dataset_name", "synthetic", "--data_root", str(root), "--synthetic_songs", "4", "--extract-baseline"]
    )
    return root


@pytest.fixture(scope="session")
def beat2() -> dict[str, np.ndarray]:
    """The BEAT2 SMPL-X capture with fingers and face (real, 30 fps, 1906 frames)."""
    with np.load(realdata("beat2/2_scott_0_1_1.npz"), allow_pickle=True) as f:
        return {k: f[k] for k in f.files}


@pytest.fixture(scope="session")
def fake_smplx_dir(tmp_path_factory) -> Path:
    """A structurally valid SMPL-X model (zeros, savez_compressed) whose rest joints are our default skeleton's.

    The joint regressor picks 55 'joint vertices' placed at the rest joints (jaw and eyes at the head), so the
    official `smplx` forward pass must reproduce our own forward kinematics.
    """
    n_verts, n_faces = 10475, 20908
    rest55 = np.zeros((SMPLX_N_JOINTS, 3))
    rest55[SMPLX_JOINT_INDICES] = default_skeleton().rest_joints
    rest55[22:25] = rest55[15]  # jaw and eyes at the head
    v_template = np.zeros((n_verts, 3))
    v_template[:SMPLX_N_JOINTS] = rest55
    j_regressor = np.zeros((SMPLX_N_JOINTS, n_verts))
    j_regressor[np.arange(SMPLX_N_JOINTS), np.arange(SMPLX_N_JOINTS)] = 1.0
    parents = np.array(
        [-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 15, 15, 15]
        + [20, 25, 26, 20, 28, 29, 20, 31, 32, 20, 34, 35, 20, 37, 38]
        + [21, 40, 41, 21, 43, 44, 21, 46, 47, 21, 49, 50, 21, 52, 53]
    )
    kintree = np.stack([np.where(parents < 0, 2**32 - 1, parents), np.arange(SMPLX_N_JOINTS)]).astype(np.int64)
    weights = np.zeros((n_verts, SMPLX_N_JOINTS))
    weights[:, 0] = 1.0
    folder = tmp_path_factory.mktemp("smplx_models") / "smplx"
    folder.mkdir()
    np.savez_compressed(
        folder / "SMPLX_NEUTRAL.npz",
        v_template=v_template,
        f=np.zeros((n_faces, 3), np.int64),
        shapedirs=np.zeros((n_verts, 3, 20)),
        posedirs=np.zeros((n_verts, 3, 486)),
        J_regressor=j_regressor,
        kintree_table=kintree,
        weights=weights,
        hands_componentsl=np.eye(45),
        hands_componentsr=np.eye(45),
        hands_meanl=np.zeros(45),
        hands_meanr=np.zeros(45),
        lmk_faces_idx=np.zeros(51, np.int64),
        lmk_bary_coords=np.full((51, 3), 1 / 3),
    )
    return folder.parent
