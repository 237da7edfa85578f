"""Several processes (gloo on the CPU) through the shared training loop, with the probe stage of `tests/ddp_probe.py`:
per-rank model randomness on the data order of one process, every rank's RNG states in the checkpoint, bit-exact
resume of a 2-process run, a resume with another world size that says so in one line, and 2 "machines" over the
loopback that train in sync."""

from __future__ import annotations

import json
import logging
import os
import shutil
import socket
import subprocess
import sys

import pytest
import torch

from tests.conftest import REPO
from tests.ddp_probe import main as probe
from utils.checkpoint import load_checkpoint

PROBE = str(REPO / "tests" / "ddp_probe.py")
ENV = {**os.environ, "ACCELERATE_USE_CPU": "1", "OMP_NUM_THREADS": "1"}


def launch_args(processes: int = 2, machines: int = 1, machine_rank: int = 0, port: int | None = None) -> list[str]:
    cmd = [
        sys.executable,
        "-m",
        "accelerate.commands.launch",
        "--multi_gpu",
        "--num_processes",
        str(processes),
        "--num_machines",
        str(machines),
        "--mixed_precision",
        "no",
        "--dynamo_backend",
        "no",
    ]
    if machines > 1:
        cmd += ["--machine_rank", str(machine_rank), "--main_process_ip", "127.0.0.1", "--main_process_port", str(port)]
    return cmd


def run_two(run_dir, *args: str) -> None:
    result = subprocess.run(
        [*launch_args(), PROBE, str(run_dir), *args], env=ENV, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]


def records(run_dir) -> list[dict]:
    return [json.loads((run_dir / f"probe-rank{r}.json").read_text()) for r in range(2)]


@pytest.fixture(scope="module")
def two_process_run(tmp_path_factory):
    """6 steps of 2 processes x batch 4, and the same 6 steps in one process with batch 8."""
    root = tmp_path_factory.mktemp("ddp")
    run_two(root / "two")
    probe([str(root / "one"), "--batch_size", "8"])
    return root


def test_ranks_draw_their_own_randomness_on_the_data_of_one_process(two_process_run):
    ranks = records(two_process_run / "two")
    one = json.loads((two_process_run / "one" / "probe-rank0.json").read_text())
    assert [r["world"] for r in ranks] == [2, 2] and len(one["records"]) == len(ranks[0]["records"]) == 6
    for step, single in enumerate(one["records"]):  # a step's 8 samples are those of one process, split 4 + 4
        assert ranks[0]["records"][step]["index"] + ranks[1]["records"][step]["index"] == single["index"]
        assert ranks[0]["records"][step]["draw"] != ranks[1]["records"][step]["draw"]
    assert ranks[0]["checksum"] == ranks[1]["checksum"]  # and the weights stay in sync
    assert ranks[0]["records"][0]["broadcast_buffers"] is False  # DDP leaves buffers (codebooks) to the model
    ckpt = load_checkpoint(two_process_run / "two" / "model" / "latest.tar")
    assert len(ckpt["rng"]) == 2 and ckpt["world"] == {"processes": 2, "batch_size": 4, "seed": 5}
    assert not torch.equal(ckpt["rng"][0]["torch"], ckpt["rng"][1]["torch"])


def test_two_process_resume_is_bit_exact(two_process_run):
    half = two_process_run / "half"
    run_two(half, "--max_steps", "3")
    run_two(half, "--max_steps", "6", "--is_continue")
    once, twice = records(two_process_run / "two"), records(half)
    for rank in range(2):  # the resumed steps draw and see exactly what the uninterrupted run did
        assert twice[rank]["records"] == once[rank]["records"][3:]
    a = load_checkpoint(two_process_run / "two" / "model" / "latest.tar")
    b = load_checkpoint(half / "model" / "latest.tar")
    assert a["step"] == b["step"] == 6
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])
    assert all(torch.equal(a["rng"][r]["torch"], b["rng"][r]["torch"]) for r in range(2))


def test_resume_with_one_process_says_what_differs(two_process_run, tmp_path, caplog):
    run = tmp_path / "run"
    shutil.copytree(two_process_run / "two", run)
    with caplog.at_level(logging.WARNING):
        probe([str(run), "--max_steps", "8", "--is_continue"])
    lines = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and "resuming" in r.getMessage()]
    assert len(lines) == 1 and "\n" not in lines[0]
    assert "processes 2 -> 1" in lines[0] and "not bit-exact" in lines[0] and "batch size" not in lines[0]
    assert load_checkpoint(run / "model" / "latest.tar")["step"] == 8


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_machines_over_the_loopback_train_in_sync(tmp_path):
    """The README's multi-node recipe with 2 "machines" of one process each on this host."""
    port = free_port()
    commands = [[*launch_args(2, 2, rank, port), PROBE, str(tmp_path / "nodes")] for rank in range(2)]
    jobs = [subprocess.Popen(c, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for c in commands]
    outs = [job.communicate(timeout=300) for job in jobs]
    for job, (_, err) in zip(jobs, outs, strict=True):
        assert job.returncode == 0, err[-3000:]
    ranks = records(tmp_path / "nodes")
    assert [r["world"] for r in ranks] == [2, 2] and ranks[0]["checksum"] == ranks[1]["checksum"]
    assert ranks[0]["records"][0]["draw"] != ranks[1]["records"][0]["draw"]
    assert "2 processes in sync" in outs[0][1]
