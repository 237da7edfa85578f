"""Bad checkpoints through every command that reads one: one line naming the file, exit code 2, no traceback.

A tiny tokenizer, MMR and masked transformer are trained once; each case then replaces one checkpoint file with a
broken one (empty, cut, not a checkpoint, a pickle that would run code, another stage's, weights of the wrong shape,
a garbled configuration) and runs the command on it."""

from __future__ import annotations

import io
import pickle
import shutil

import pytest
import torch

from eval_vq import main as eval_vq
from gen_m2m import main as gen_m2m
from MMR.mmr_music_feat256 import main as mmr_music_feat256
from tests.test_train_m2m import prepared, tiny  # noqa: F401  (the module fixture)
from tests.test_train_mmr import options as mmr_options
from train_m2m import main as train_m2m
from training.mmr import MMRTrainer
from utils.checkpoint import load_checkpoint


class RunsCode:
    def __reduce__(self):
        return (print, ("a checkpoint that runs code",))


def _pickled(obj) -> bytes:
    buffer = io.BytesIO()
    pickle.dump(obj, buffer)
    return buffer.getvalue()


def _torch_bytes(obj) -> bytes:
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


def _reshaped(ckpt: dict) -> dict:
    """The first weight with one more row."""
    key = next(k for k, v in ckpt["model"].items() if v.ndim >= 1 and v.is_floating_point())
    return {**ckpt, "model": {**ckpt["model"], key: torch.cat([ckpt["model"][key], ckpt["model"][key][:1]])}}


def _garbled(ckpt: dict, key: str) -> dict:
    return {**ckpt, key: {**ckpt[key], "no_such_field": 1}}


# name -> (bytes of the bad file from the good checkpoint dict and its stage's config key, expected words)
CATALOGUE_CHECKPOINTS = {
    "empty": (lambda _c, _k: b"", "not a loadable checkpoint"),
    "cut": (lambda c, _k: _torch_bytes(c)[:300], "not a loadable checkpoint"),
    "not_a_checkpoint": (lambda _c, _k: b"plain text, not a checkpoint\n" * 20, "not a loadable checkpoint"),
    "runs_code": (lambda _c, _k: _torch_bytes({"model": RunsCode()}), "not a loadable checkpoint"),
    "plain_pickle": (lambda c, _k: _pickled({"stage": c["stage"]}), "not a loadable checkpoint"),
    "other_stage": (lambda c, _k: _torch_bytes({**c, "stage": "probe"}), "'probe'"),
    "wrong_shapes": (lambda c, _k: _torch_bytes(_reshaped(c)), "weights do not fit"),
    "garbled_config": (lambda c, k: _torch_bytes(_garbled(c, k)), "no_such_field"),
}


@pytest.fixture(scope="module")
def runs(prepared, tmp_path_factory):  # noqa: F811
    root, ckpts = prepared
    train_m2m(tiny(root, ckpts, "--name", "ck_m2m", "--vq_name", "rvq3_synthetic", "--max_steps", "1"))
    mmr = tmp_path_factory.mktemp("ck") / "mmr"
    MMRTrainer(mmr_options(root, "--max_steps", "1", "--batch_size", "8"), mmr).fit()
    return root, ckpts, mmr


def _break(path, case):
    good = load_checkpoint(path)
    key = {"vq": "tokenizer", "mmr": "mmr", "m2m": "transformer", "res": "transformer"}[good["stage"]]
    backup = path.with_name("good.bak")
    shutil.copy(path, backup)
    path.write_bytes(CATALOGUE_CHECKPOINTS[case][0](good, key))
    return backup


def _one_line(capsys, fn, argv) -> str:
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        fn(argv)
    lines = [line for line in capsys.readouterr().err.replace("\r", "\n").splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error: ")]
    assert exit_info.value.code == 2 and len(errors) == 1 and not any("Traceback" in line for line in lines), lines
    return errors[0]


@pytest.mark.parametrize("command", ["eval_vq", "train_m2m", "gen_m2m", "mmr_music_feat256", "resume"])
@pytest.mark.parametrize("case", CATALOGUE_CHECKPOINTS)
def test_bad_checkpoint_ends_in_one_line(runs, tmp_path, capsys, command, case):
    root, ckpts, mmr = runs
    data = ["--dataset_name", "synthetic", "--data_root", str(root), "--checkpoints_dir", str(ckpts)]
    vq_file = ckpts / "synthetic" / "rvq3_synthetic" / "model" / "latest.tar"
    m2m_file = ckpts / "synthetic" / "ck_m2m" / "model" / "latest.tar"
    target, fn, argv = {
        "eval_vq": (
            vq_file,
            eval_vq,
            [
                *data,
                "--name",
                "rvq3_synthetic",
                "--which_epoch",
                "latest",
                "--gpu_id",
                "-1",
                "--videos",
                "0",
                "--ext",
                f"bad_{case}",
            ],
        ),
        "train_m2m": (
            vq_file,
            train_m2m,
            tiny(root, ckpts, "--name", f"bad_{case}", "--vq_name", "rvq3_synthetic", "--max_steps", "1"),
        ),
        "gen_m2m": (
            m2m_file,
            gen_m2m,
            [
                *data,
                "--name",
                "ck_m2m",
                "--gpu_id",
                "-1",
                "--no_render",
                "--ext",
                f"bad_{case}",
                "--out_root",
                str(tmp_path),
            ],
        ),
        "mmr_music_feat256": (
            mmr / "model" / "latest.tar",
            mmr_music_feat256,
            [
                "--run_dir",
                str(mmr),
                "--which",
                "latest",
                "--gpu_id",
                "-1",
                "--audio",
                str(root / "music"),
                "--out_dir",
                str(tmp_path / "feats"),
            ],
        ),
        "resume": (
            m2m_file,
            train_m2m,
            tiny(root, ckpts, "--name", "ck_m2m", "--vq_name", "rvq3_synthetic", "--max_steps", "2", "--is_continue"),
        ),
    }[command]
    backup = _break(target, case)
    try:
        err = _one_line(capsys, fn, argv)
    finally:
        shutil.move(backup, target)
    assert str(target.parent) in err or target.parent.parent.name in err, err
    assert CATALOGUE_CHECKPOINTS[case][1] in err, err
