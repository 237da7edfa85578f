"""Scripts through their real parsers and from the folders the seed README runs them in; the demo end to end."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from data.synthetic_dance import synthesize_dance
from tests.conftest import REPO, realdata, streams

# Every script, with the folder the seed README (or our README) runs it from.
SCRIPT_DIRS = [REPO, REPO / "data" / "motion_representation" / "src", REPO / "MMR", REPO / "bench"]


def all_scripts() -> list[Path]:
    found = []
    for folder in SCRIPT_DIRS:
        found += [p for p in sorted(folder.glob("*.py")) if '__name__ == "__main__"' in p.read_text()]
    return found


def run(script: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(script), *args], cwd=cwd or script.parent, capture_output=True, text=True, timeout=300
    )


def test_every_script_is_found():
    names = {p.name for p in all_scripts()}
    assert {"demo.py", "motion_representation.py"} <= names


# Runs every script's `--help` as `python <script>` would (its folder as the working directory and first on
# sys.path, __main__), one after the other in one fresh interpreter (one start-up instead of one per script);
# prints a JSON line {script: error or ""}.
HELP_ALL = """
import contextlib, io, json, os, runpy, sys
results = {}
for script in sys.argv[1:]:
    folder, out = os.path.dirname(script), io.StringIO()
    os.chdir(folder)
    sys.path[0], sys.argv = folder, [script, "--help"]
    try:
        with contextlib.redirect_stdout(out):
            runpy.run_path(script, run_name="__main__")
        results[script] = "returned without printing help"
    except SystemExit as exc:
        results[script] = "" if exc.code in (0, None) and "usage" in out.getvalue().lower() else \
            f"exit {exc.code}: {out.getvalue()[-300:]}"
    except Exception as exc:
        results[script] = f"{type(exc).__name__}: {exc}"
print(json.dumps(results))
"""


def test_help_from_the_scripts_folders():
    scripts = [str(p) for p in all_scripts()]
    res = subprocess.run(
        [sys.executable, "-c", HELP_ALL, *scripts], cwd=REPO, capture_output=True, text=True, timeout=300
    )
    assert res.returncode == 0, res.stderr[-3000:]
    results = json.loads(res.stdout.strip().splitlines()[-1])
    assert sorted(results) == sorted(scripts)
    failed = {Path(k).relative_to(REPO).as_posix(): v for k, v in results.items() if v}
    assert not failed, failed


MOTION_REPR = REPO / "data" / "motion_representation" / "src" / "motion_representation.py"


def test_motion_representation_cli_writes_623_and_723(tmp_path):
    motion = synthesize_dance(45, seed=1)
    npz = tmp_path / "dance.npz"
    np.savez(
        npz,
        poses=motion.poses,
        trans=motion.trans,
        betas=motion.betas,
        expressions=motion.expressions,
        mocap_frame_rate=30,
    )
    res = run(MOTION_REPR, "--joints", str(npz), "--out", str(tmp_path / "f623.npy"))
    assert res.returncode == 0, res.stderr
    assert np.load(tmp_path / "f623.npy").shape == (44, 623)
    np.save(tmp_path / "face.npy", motion.expressions[:, :50])
    res = run(
        MOTION_REPR,
        "--joints",
        str(npz),
        "--out",
        str(tmp_path / "f723.npy"),
        "--face",
        str(tmp_path / "face.npy"),
        "--target_skeleton",
        "first_frame",
    )
    assert res.returncode == 0, res.stderr
    f723 = np.load(tmp_path / "f723.npy")
    assert f723.shape == (44, 723)
    np.testing.assert_array_equal(f723[:, 623:673], motion.expressions[:-1, :50])
    assert (f723[:, 673:] == 0).all()


def test_motion_representation_cli_on_real_beat2(tmp_path):
    npz = realdata("beat2/2_scott_0_1_1.npz")
    res = run(MOTION_REPR, "--joints", str(npz), "--out", str(tmp_path / "beat2.npy"))
    assert res.returncode == 0, res.stderr
    assert np.load(tmp_path / "beat2.npy").shape == (1905, 623)


@pytest.mark.parametrize(
    "content, message",
    [
        ({"trans": np.zeros((5, 3))}, "missing key 'poses'"),
        ({"poses": np.full((5, 165), np.nan), "trans": np.zeros((5, 3))}, "NaN"),
        ({"poses": np.zeros((1, 165)), "trans": np.zeros((1, 3))}, "at least 2 frames"),
        ({"poses": np.zeros((5, 100)), "trans": np.zeros((5, 3))}, "poses must be"),
    ],
)
def test_bad_motion_files_end_in_one_line(tmp_path, content, message):
    bad = tmp_path / "bad.npz"
    np.savez(bad, **content)
    res = run(MOTION_REPR, "--joints", str(bad))
    assert res.returncode == 2
    assert res.stderr.count("\n") == 1 and message in res.stderr and "bad.npz" in res.stderr


def test_truncated_and_missing_files(tmp_path):
    bad = tmp_path / "cut.npz"
    bad.write_bytes(b"PK\x03\x04 truncated")
    for path in (bad, tmp_path / "nope.npy"):
        res = run(MOTION_REPR, "--joints", str(path))
        assert res.returncode == 2 and res.stderr.count("\n") == 1 and path.name in res.stderr
    res = run(MOTION_REPR)
    assert res.returncode == 2 and "--joints" in res.stderr


def test_demo_end_to_end(tmp_path):
    """`make demo` (its --quick sizes): every stage trained, a dance for a new song with video, the split's metrics;
    a second run reuses every stage."""
    from demo import main

    summary = main(["--quick", "--seconds", "6", "--out_dir", str(tmp_path)])
    assert set(summary["seconds"]) >= {"dataset", "tokenizer (HRVQ)", "MMR", "masked transformer", "dance"}
    with np.load(summary["dance"]["npz"]) as f:
        assert f["joints"].shape == (180, 52, 3) and f["poses"].shape == (180, 165)
    assert Path(summary["dance"]["bvh"]).is_file() and "Audio: aac" in streams(summary["dance"]["mp4"])
    assert np.isfinite(summary["test_metrics"]["BAS"]) and Path(summary["metrics"]).is_file()
    again = main(["--quick", "--seconds", "3", "--out_dir", str(tmp_path)])
    assert set(again["seconds"]) == {"dance", "test split + metrics"}
