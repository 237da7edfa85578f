"""The training loop through the tokenizer stage: exact resume, NaN handling, run-name chaining, a 2-process run,
bad input. Tiny models on the embedded synthetic dataset, CPU."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from data.loaders import ProcessedData, TokenizerWindows
from eval_vq import main as eval_vq
from evaluation.tokenizer import face_vertex_error, flame_expression_basis
from models.vq.loading import load_vq
from tests.conftest import REPO
from train_vq import build_parser
from train_vq import main as train_vq
from training.tokenizer import TokenizerTrainer
from utils.checkpoint import load_checkpoint
from utils.cli import UserError


def tiny(data_root, checkpoints, *extra):
    return [
        "--dataset_name",
        "synthetic",
        "--data_root",
        str(data_root),
        "--checkpoints_dir",
        str(checkpoints),
        "--gpu_id",
        "-1",
        "--batch_size",
        "8",
        "--window_size",
        "16",
        "--nb_code",
        "16",
        "--code_dim",
        "16",
        "--width",
        "16",
        "--depth",
        "1",
        "--num_quantizers",
        "3",
        "--warm_up_iter",
        "2",
        "--log_every",
        "1",
        "--save_latest",
        "0",
        *extra,
    ]


def launch_two_processes(args: list[str], cwd) -> None:
    """`train_vq.py args` as 2 DDP processes on the CPU (gloo), the way DESIGN.md §5 documents it."""
    env = {**os.environ, "ACCELERATE_USE_CPU": "1", "OMP_NUM_THREADS": "1"}
    cmd = [
        sys.executable,
        "-m",
        "accelerate.commands.launch",
        "--multi_gpu",
        "--num_processes",
        "2",
        "--num_machines",
        "1",
        "--mixed_precision",
        "no",
        "--dynamo_backend",
        "no",
        str(REPO / "train_vq.py"),
        *args,
    ]
    result = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300, cwd=cwd)
    assert result.returncode == 0, result.stderr[-3000:]


def states_equal(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_resume_is_bit_exact(data_root, tmp_path):
    """8 steps in one go == 3 steps, stop, resume to 8 (stochastic codes, quantizer dropout, dropout all on)."""
    train_vq(tiny(data_root, tmp_path, "--name", "once", "--vq_type", "hrvq", "--max_steps", "8"))
    train_vq(tiny(data_root, tmp_path, "--name", "twice", "--vq_type", "hrvq", "--max_steps", "3"))
    half = load_checkpoint(tmp_path / "synthetic" / "twice" / "model" / "latest.tar")
    assert half["step"] == 3 and half["step_in_epoch"] == 3
    train_vq(tiny(data_root, tmp_path, "--name", "twice", "--vq_type", "hrvq", "--max_steps", "8", "--is_continue"))
    a = load_checkpoint(tmp_path / "synthetic" / "once" / "model" / "latest.tar")
    b = load_checkpoint(tmp_path / "synthetic" / "twice" / "model" / "latest.tar")
    assert a["step"] == b["step"] == 8
    assert states_equal(a["model"], b["model"])
    assert not states_equal(a["model"], half["model"])


class NaNAtStep3(TokenizerTrainer):
    calls = 0

    def training_step(self, model, batch):
        losses = super().training_step(model, batch)
        type(self).calls += 1
        if type(self).calls == 3:
            losses["loss"] = losses["loss"] * float("nan")
        return losses


def test_nan_loss_stops_and_keeps_the_last_checkpoint(data_root, tmp_path):
    args = build_parser().parse_args(tiny(data_root, tmp_path, "--save_latest", "1", "--max_steps", "6"))
    run = tmp_path / "synthetic" / "nan"
    with pytest.raises(UserError, match="non-finite loss or gradients at step 3 .* last good checkpoint"):
        NaNAtStep3(args, run).fit()
    ckpt = load_checkpoint(run / "model" / "latest.tar")
    assert ckpt["step"] == 2 and torch.isfinite(torch.cat([v.flatten() for v in ckpt["model"].values()])).all()
    assert not list((run / "model").glob("*.tmp"))


def test_run_names_chain_and_load_vq(data_root, tmp_path, capsys):
    metrics = train_vq(
        tiny(
            data_root,
            tmp_path,
            "--name",
            "hvq",
            "--vq_name",
            "hrvq_syn",
            "--vq_type",
            "hrvq",
            "--batch_size",
            "64",
            "--max_epoch",
            "1",
        )
    )
    run = tmp_path / "synthetic" / "hrvq_syn"
    assert (run / "opt.txt").is_file() and (run / "model" / "best.tar").is_file()
    assert {"mpjpe_all", "mpjpe_body", "mpjpe_hands", "face_mse", "perplexity_hands_2", "dead_codes_face_0"} <= set(
        metrics
    )
    model, ckpt = load_vq(tmp_path, "synthetic", "hvq")  # by the alias
    assert model.config.vq_type == "hrvq" and model.config.dim == 723 and ckpt["options"]["name"] == "hvq"
    x = torch.zeros(2, 16, 723)
    assert model.encode(x).shape == (2, 3 * 4, 3)
    with pytest.raises(UserError, match=r"run 'nope' not found in .*synthetic/; available: hrvq_syn, hvq \(-> "):
        load_vq(tmp_path, "synthetic", "nope")
    with pytest.raises(UserError, match="reads 723-d features, the data has 623-d"):
        load_vq(tmp_path, "synthetic", "hrvq_syn", dim=623)
    with pytest.raises(SystemExit):
        train_vq(
            tiny(
                data_root,
                tmp_path,
                "--name",
                "hrvq_syn",
                "--vq_type",
                "hrvq",
                "--num_quantizers",
                "2",
                "--is_continue",
                "--max_steps",
                "1",
            )
        )
    assert "trained with a different tokenizer (num_quantizers)" in capsys.readouterr().err
    # eval_vq finds the run by --name (here the alias), writes metrics.json and a side-by-side video
    flame = tmp_path / "flame.npz"
    np.savez(flame, shapedirs=np.random.default_rng(0).normal(scale=1e-3, size=(40, 3, 400)))  # a stand-in FLAME
    report = eval_vq(
        [
            "--name",
            "hvq",
            "--ext",
            "quick",
            "--dataset_name",
            "synthetic",
            "--data_root",
            str(data_root),
            "--checkpoints_dir",
            str(tmp_path),
            "--gpu_id",
            "-1",
            "--videos",
            "1",
            "--video_seconds",
            "1",
            "--flame_model_path",
            str(flame),
        ]
    )
    out = run / "eval" / "quick"
    written = json.loads((out / "metrics.json").read_text())
    assert written["metrics"] == pytest.approx(report["metrics"]) and written["checkpoint"] == "best"
    assert {"mpjpe_hands", "face_mse", "face_vertex_mm", "BAS", "BAS_gt", "BAS_ratio", "perplexity_body_0"} <= set(
        written["metrics"]
    )
    assert written["skipped"] == {"FID_k, Div_k": "needs at least 2 sequences in the split"}  # one test song
    assert 0 < written["metrics"]["BAS_gt"] <= 1 and len(list(out.glob("*.mp4"))) == 1


def test_bad_options(data_root, tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        train_vq(tiny(data_root, tmp_path, "--vq_type", "fsq"))
    assert e.value.code == 2 and "invalid choice: 'fsq'" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        train_vq(tiny(tmp_path / "missing", tmp_path))
    assert e.value.code == 2 and "no processed dataset here" in capsys.readouterr().err


def test_two_processes_equal_one_with_the_doubled_batch(data_root, tmp_path):
    """DDP on 2 CPU processes (gloo) gives the codebooks of one process with twice the batch, and one checkpoint.

    Convolutions round differently for batches of 4 and 8 (1e-7), so a vector almost equidistant from two codes can
    pick either; with 16 codes a third residual layer of this tiny model has such near-ties, so two layers are used.
    `--feat_bias 1` keeps every input channel at unit scale, so 1e-6 is about ten float32 ulps of a code.
    """
    common = tiny(
        data_root,
        tmp_path,
        "--vq_type",
        "hrvq",
        "--max_steps",
        "4",
        "--sample_temperature",
        "0",
        "--quantize_dropout_prob",
        "0",
        "--no_code_reset",
        "--vq_dropout",
        "0",
        "--num_quantizers",
        "2",
        "--feat_bias",
        "1",
    )
    train_vq([*common, "--name", "single", "--batch_size", "8"])
    launch_two_processes([*common, "--name", "ddp", "--batch_size", "4"], tmp_path)
    a = load_checkpoint(tmp_path / "synthetic" / "single" / "model" / "latest.tar")
    b = load_checkpoint(tmp_path / "synthetic" / "ddp" / "model" / "latest.tar")
    assert a["step"] == b["step"] == 4
    books = [k for k in a["model"] if k.endswith("codebook")]
    assert len(books) == 6
    for k in books:
        torch.testing.assert_close(b["model"][k], a["model"][k], atol=1e-6, rtol=0)
    assert sorted(p.name for p in (tmp_path / "synthetic" / "ddp" / "model").iterdir()) == ["latest.tar"]


def test_two_processes_validate_and_keep_the_best(data_root, tmp_path):
    """A whole DDP epoch: validation runs on rank 0, both ranks join the best.tar save, no rank waits forever."""
    launch_two_processes(
        tiny(data_root, tmp_path, "--name", "ddp_epoch", "--batch_size", "64", "--max_epoch", "1"), tmp_path
    )
    best = load_checkpoint(tmp_path / "synthetic" / "ddp_epoch" / "model" / "best.tar")
    assert best["epoch"] == 1 and best["metrics"]["mpjpe_all"] > 0 and best["best"] == best["metrics"]["mpjpe_all"]


def test_face_vertex_error_is_linear_in_the_coefficients(tmp_path):
    rng = np.random.default_rng(1)
    dirs = rng.normal(size=(25, 3, 400))
    np.savez(tmp_path / "flame.npz", shapedirs=dirs)
    basis = flame_expression_basis(tmp_path / "flame.npz")
    gt, rec = rng.normal(size=(6, 100)), rng.normal(size=(6, 100))
    explicit = np.mean([np.linalg.norm(dirs[v, :, 300:] @ (rec[t] - gt[t])) for t in range(6) for v in range(25)])
    assert face_vertex_error(basis, gt, rec) == pytest.approx(explicit * 1000)
    assert face_vertex_error(basis, gt, gt) == 0.0
    np.savez(tmp_path / "bad.npz", shapedirs=dirs[:, :, :300])
    with pytest.raises(UserError, match="no FLAME `shapedirs`"):
        flame_expression_basis(tmp_path / "bad.npz")


def test_residual_norms_fall_layer_by_layer_in_a_trained_hrvq(data_root, tmp_path):
    """Each added layer quantizes what is left of every part: the latent error falls with the layers used."""
    train_vq(
        tiny(
            data_root,
            tmp_path,
            "--name",
            "layers",
            "--vq_type",
            "hrvq",
            "--max_steps",
            "300",
            "--quantize_dropout_prob",
            "0",
        )
    )
    model, ckpt = load_vq(tmp_path, "synthetic", "layers")
    windows = TokenizerWindows(ProcessedData(data_root), "val", 16, deterministic=True, std=ckpt["std"].numpy())
    x = windows.__getitems__(list(range(0, len(windows), 16)))
    with torch.no_grad():
        latents = model.latents(x)
        errors = [
            [(model.quantizer(latents, n_layers=n)["z"][p] - latents[p]).norm().item() for n in (1, 2, 3)]
            for p in range(3)
        ]
    for part in errors:
        assert part[0] > part[1] > part[2], errors


SEED_COMMANDS = (  # the published README's three commands, word for word
    "--vq_type rvq --name vq0 --vq_name vq0_souldance --gpu_id 0 --dataset_name souldance --batch_size 256 "
    "--num_quantizers 1 --max_epoch 30 --quantize_dropout_prob 0.2 --gamma 0.05",
    "--vq_type rvq --name vq5 --vq_name rvq5_souldance --gpu_id 0 --dataset_name souldance --batch_size 256 "
    "--num_quantizers 6 --max_epoch 30 --quantize_dropout_prob 0.2 --gamma 0.05",
    "--vq_type hrvq --name hvq5 --vq_name hrvq5_souldance --gpu_id 0 --dataset_name souldance --batch_size 256 "
    "--num_quantizers 6 --max_epoch 30 --quantize_dropout_prob 0.2 --gamma 0.05",
)


@pytest.mark.parametrize("command", SEED_COMMANDS)
def test_the_seed_commands_run_as_written(data_root, tmp_path, command, caplog):
    """As published, then pointed at the synthetic data with tiny sizes (later options win); --gpu_id 0 on a
    machine without CUDA warns and trains on the CPU."""
    args = command.split() + [
        "--dataset_name",
        "synthetic",
        "--data_root",
        str(data_root),
        "--checkpoints_dir",
        str(tmp_path),
        "--batch_size",
        "8",
        "--window_size",
        "16",
        "--width",
        "16",
        "--depth",
        "1",
        "--nb_code",
        "16",
        "--code_dim",
        "16",
        "--max_steps",
        "2",
    ]
    train_vq(args)
    run = args[args.index("--vq_name") + 1]
    ckpt = load_checkpoint(tmp_path / "synthetic" / run / "model" / "latest.tar")
    assert ckpt["step"] == 2 and ckpt["options"]["gamma"] == 0.05 and ckpt["options"]["max_epoch"] == 30
    assert ckpt["tokenizer"]["num_quantizers"] == (1 if "--num_quantizers 1" in command else 6)
    if not torch.cuda.is_available():
        assert "no CUDA device" in caplog.text
