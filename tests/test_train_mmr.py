"""The MMR stage on the shared training loop, on the embedded synthetic dataset (tiny model, CPU)."""

import argparse
import subprocess
import sys

import pytest

from options.mmr_options import add_mmr_options
from options.train_options import add_loop_options, add_run_options
from tests.conftest import REPO
from training.mmr import MMRTrainer
from utils.checkpoint import load_checkpoint
from utils.cli import UserError


def options(data_root, *extra):
    p = argparse.ArgumentParser()
    add_run_options(p)
    add_loop_options(p, batch_size=64, lr=1e-4)
    add_mmr_options(p)
    return p.parse_args(
        [
            "--dataset_name",
            "synthetic",
            "--data_root",
            str(data_root),
            "--gpu_id",
            "-1",
            "--batch_size",
            "16",
            "--latent",
            "32",
            "--ff",
            "64",
            "--layers",
            "1",
            "--max_epoch",
            "1",
            "--warm_up_iter",
            "5",
            "--save_latest",
            "0",
            *extra,
        ]
    )


def test_mmr_trains_validates_and_checkpoints_its_statistics(data_root, tmp_path):
    metrics = MMRTrainer(options(data_root), tmp_path / "mmr").fit()
    assert {"m2d/R01", "d2m/R01", "m2d/MedR", "d2m/MedR"} <= set(metrics)
    assert all(0 <= metrics[k] <= 100 for k in metrics if "/R" in k)
    ckpt = load_checkpoint(tmp_path / "mmr" / "model" / "latest.tar")
    assert ckpt["stage"] == "mmr" and ckpt["mmr"]["motion_dim"] == 263 and ckpt["mmr"]["music_dim"] == 35
    assert ckpt["data"] == {
        "music_type": "baseline",
        "music_mode": "full_song",
        "motion_part": "body",
        "motion_dim": 723,
        "clip_frames": 148,
    }
    assert ckpt["music_std"].shape == (35,) and (ckpt["music_std"] > 0).all() and ckpt["motion_mean"].shape == (263,)
    config = ckpt["config"]  # the stage's typed config, recorded beside the options as given
    assert config["data"]["music_type"] == "baseline" and config["trainer"]["save_latest"] == 0
    assert config["model"]["latent"] == ckpt["mmr"]["latent"] == ckpt["options"]["latent"]
    assert config["run_dir"] == str(tmp_path / "mmr")
    with pytest.raises(UserError, match=r"trained with a different mmr \(motion_dim\)"):
        MMRTrainer(options(data_root, "--motion_part", "all", "--is_continue"), tmp_path / "mmr").fit()


def test_missing_music_features_name_the_command(data_root, tmp_path):
    with pytest.raises(UserError, match="create_dataset.py --dataset_name synthetic .*--extract-jukebox"):
        MMRTrainer(options(data_root, "--music_type", "jukebox"), tmp_path / "mmr").fit()


def test_hydra_config_composes_for_every_dataset():
    from hydra import compose, initialize_config_dir

    from options.mmr_config import DATASETS, checked_config, register_configs

    register_configs()
    with initialize_config_dir(config_dir=str(REPO / "MMR" / "configs"), version_base=None):
        for name in DATASETS:
            cfg = compose("train_mmr", overrides=["model=mmr", f"data={name}", "run_dir=outputs/mmr_res"])
            c = checked_config(cfg)
            assert c.data.dataset_name == name and c.model.latent == 256 and c.model.temperature == 0.1
            assert c.trainer.lr == 1e-4 and c.run_dir == "outputs/mmr_res" and c.trainer.batch_size == 128


def test_train_mmr_runs_as_the_seed_writes_it(data_root, tmp_path):
    """`python train_mmr.py model=mmr data=... run_dir=...` from MMR/ (--cfg job) and a tiny run from the root."""
    job = subprocess.run(
        [sys.executable, "train_mmr.py", "model=mmr", "data=souldance", "run_dir=outputs/mmr_res", "--cfg", "job"],
        cwd=REPO / "MMR",
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert job.returncode == 0 and "dataset_name: souldance" in job.stdout, job.stderr[-2000:]
    for group, known in (("data", "aistpp, custom, finedance, souldance, synthetic"), ("model", "mmr")):
        bad = subprocess.run(
            [sys.executable, "MMR/train_mmr.py", f"{group}=nosuch", "--cfg", "job"],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert (
            bad.returncode == 2
            and bad.stderr == f"error: unknown {group}=nosuch; choose one of: {known} (MMR/configs/{group}/)\n"
        )
    run = tmp_path / "mmr_run"
    train = subprocess.run(
        [
            sys.executable,
            "MMR/train_mmr.py",
            "model=mmr",
            "data=synthetic",
            f"data.data_root={data_root}",
            "trainer.gpu_id=-1",
            "trainer.max_steps=3",
            "trainer.batch_size=8",
            "model.layers=1",
            "model.latent=32",
            "model.ff=64",
            f"run_dir={run}",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert train.returncode == 0, train.stderr[-2000:]
    assert (run / "model" / "latest.tar").is_file() and (run / "hydra" / "config.yaml").is_file()
    assert load_checkpoint(run / "model" / "latest.tar")["step"] == 3
    hydra_config = (run / "hydra" / "config.yaml").stat().st_mtime_ns
    again = subprocess.run(train.args, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert (
        again.returncode == 2
        and again.stderr
        == f"error: run {run} exists (model/latest.tar): resume it with "
        "trainer.is_continue=true or replace it with trainer.overwrite=true\n"
    )
    assert (run / "hydra" / "config.yaml").stat().st_mtime_ns == hydra_config  # refused before Hydra wrote anything
