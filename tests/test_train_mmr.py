"""The MMR stage on the shared training loop, on the embedded synthetic dataset (tiny model, CPU)."""

import argparse

import pytest

from create_dataset import main as create_dataset
from MMR.training import MMRTrainer, add_mmr_options
from options.train_options import add_loop_options, add_run_options
from utils.checkpoint import load_checkpoint
from utils.cli import UserError


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("synthetic_mmr")
    create_dataset(["--dataset_name", "synthetic", "--data_root", str(root), "--synthetic_songs", "4",
                    "--extract-baseline"])  # fmt: skip
    return root


def options(data_root, *extra):
    p = argparse.ArgumentParser()
    add_run_options(p)
    add_loop_options(p, batch_size=64, lr=1e-4)
    add_mmr_options(p)
    return p.parse_args(["--dataset_name", "synthetic", "--data_root", str(data_root), "--gpu_id", "-1",
                         "--batch_size", "16", "--latent", "32", "--ff", "64", "--layers", "1", "--max_epoch", "1",
                         "--warm_up_iter", "5", "--save_latest", "0", *extra])  # fmt: skip


def test_mmr_trains_validates_and_checkpoints_its_statistics(data_root, tmp_path):
    metrics = MMRTrainer(options(data_root), tmp_path / "mmr").fit()
    assert {"m2d/R01", "d2m/R01", "m2d/MedR", "d2m/MedR"} <= set(metrics)
    assert all(0 <= metrics[k] <= 100 for k in metrics if "/R" in k)
    ckpt = load_checkpoint(tmp_path / "mmr" / "model" / "latest.tar")
    assert ckpt["stage"] == "mmr" and ckpt["mmr"]["motion_dim"] == 263 and ckpt["mmr"]["music_dim"] == 35
    assert ckpt["data"] == {"music_type": "baseline", "motion_part": "body", "motion_dim": 723}
    assert ckpt["music_std"].shape == (35,) and (ckpt["music_std"] > 0).all() and ckpt["motion_mean"].shape == (263,)
    with pytest.raises(UserError, match=r"trained with a different mmr \(motion_dim\)"):
        MMRTrainer(options(data_root, "--motion_part", "all", "--is_continue"), tmp_path / "mmr").fit()


def test_missing_music_features_name_the_command(data_root, tmp_path):
    with pytest.raises(UserError, match="create_dataset.py --dataset_name synthetic .*--extract-jukebox"):
        MMRTrainer(options(data_root, "--music_type", "jukebox"), tmp_path / "mmr").fit()
