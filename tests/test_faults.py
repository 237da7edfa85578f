"""Faults and mistakes around training runs: a run is never replaced unasked, a process killed with SIGKILL at random
moments (several inside a save) always leaves a loadable `latest.tar` and resumes to the uninterrupted run's weights,
a full disk during a save is one line with the previous checkpoint intact, and no checkpoint with non-finite weights
is ever written. The training processes are forked from a server that imported torch once (fast, fork-safe)."""

from __future__ import annotations

import json
import multiprocessing
import os
import random
import resource
import signal
import sys
import time
from pathlib import Path

import pytest
import torch

from tests.ddp_probe import ProbeTrainer, options
from utils import atomic
from utils.atomic import temporary_pid
from utils.checkpoint import load_checkpoint, nonfinite_tensors, save_checkpoint
from utils.cli import UserError
from utils.runs import run_status

CTX = multiprocessing.get_context("forkserver")
CTX.set_forkserver_preload(  # what the first step imports
    [
        "tests.ddp_probe",
        "utils.trainer",
        "utils.atomic",
        "accelerate",
        "accelerate.utils",
        "torch.utils.tensorboard",
        "torch._dynamo",
    ]
)
# a wide probe (about 0.3 MB a checkpoint, saved every 2 steps) so that saves take a real share of the time
PROBE = ["--width", "16384", "--save_latest", "2", "--log_every", "5", "--batch_size", "4", "--max_epoch", "1000"]


def probe_args(run: Path, *extra: str):
    return options([str(run), *PROBE, *extra])


def _child(run: str, extra: list[str], kill_in_save: tuple[int, str] | None, fsize: int | None, err: str) -> None:
    """A training process (forked): stderr to `err`; `kill_in_save` (n, phase): SIGKILL itself inside its n-th
    checkpoint write ("partial": the temporary half written, "written": before the rename, "renamed": before the
    folder's fsync); `fsize`: a file-size limit (a full disk)."""
    fd = os.open(err, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    os.dup2(fd, 2)
    sys.stderr = open(2, "w", closefd=False)  # noqa: SIM115
    torch.set_num_threads(1)
    if fsize is not None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
    if kill_in_save is not None:
        target, phase = kill_in_save
        fsync, seen = atomic._fsync_path, {"n": 0}

        def dying_fsync(path: Path, directory: bool = False) -> None:
            if not directory and Path(path).name.startswith(".latest."):
                seen["n"] += 1
            if seen["n"] == target and (phase == "renamed") == directory:
                if phase == "partial":
                    os.truncate(path, os.path.getsize(path) // 2)
                os.kill(os.getpid(), signal.SIGKILL)
            fsync(path, directory)

        atomic._fsync_path = dying_fsync
    from tests.ddp_probe import main

    main([run, *PROBE, *extra])


def start(run: Path, extra=(), kill_in_save=None, fsize=None) -> multiprocessing.Process:
    process = CTX.Process(target=_child, args=(str(run), list(extra), kill_in_save, fsize, str(run) + ".err"))
    process.start()
    return process


def resume_flags(run: Path) -> list[str]:
    return ["--is_continue"] if (run / "model" / "latest.tar").is_file() else ["--overwrite"]


def temporaries(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.glob(".*") if temporary_pid(p) is not None) if folder.is_dir() else []


def test_sigkill_at_20_moments_always_leaves_a_loadable_checkpoint_and_resumes_exactly(tmp_path):
    warm = CTX.Process(target=time.sleep, args=(0,))  # starts the fork server
    warm.start()
    warm.join()
    run, rng, kinds = tmp_path / "killed", random.Random(7), []
    # 20 kills: 12 at random moments of the first 0.6 s (start-up, about 0.2 s, then training and saves), 8 inside a
    # checkpoint write at a chosen point; the interrupted runs aim at no end (--max_steps 10**6)
    plan = [("random", None)] * 12 + [
        ("save", (n, phase))
        for n, phase in [
            (1, "partial"),
            (2, "written"),
            (1, "renamed"),
            (3, "partial"),
            (2, "renamed"),
            (1, "written"),
            (4, "partial"),
            (3, "written"),
        ]
    ]
    rng.shuffle(plan)
    for kind, where in plan:
        process = start(run, ["--max_steps", str(10**6), *resume_flags(run)], kill_in_save=where)
        if kind == "random":
            time.sleep(rng.uniform(0.05, 0.6))
            process.kill()
        process.join(120)
        kinds.append((kind, process.exitcode, bool(temporaries(run / "model"))))  # killed inside a save?
        latest = run / "model" / "latest.tar"
        if latest.is_file():  # whatever the moment: the latest checkpoint loads and is finite
            assert not nonfinite_tensors(load_checkpoint(latest)["model"])
    assert all(code == -signal.SIGKILL for _, code, _ in kinds), kinds
    assert sum(in_save for *_, in_save in kinds) >= 6, kinds  # left a temporary file: killed inside a save
    steps = load_checkpoint(run / "model" / "latest.tar")["step"] + 10
    final = start(run, ["--max_steps", str(steps), "--is_continue"])
    final.join(120)
    assert final.exitcode == 0, (tmp_path / "killed.err").read_text()
    assert temporaries(run / "model") == []  # every run removed those of the killed saves
    reference = start(tmp_path / "reference", ["--max_steps", str(steps)])
    reference.join(120)
    assert reference.exitcode == 0, (tmp_path / "reference.err").read_text()
    a = load_checkpoint(tmp_path / "reference" / "model" / "latest.tar")
    b = load_checkpoint(run / "model" / "latest.tar")
    assert a["step"] == b["step"] == steps > 50 and b["finished"]
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])


def test_disk_full_during_a_save_is_one_line_and_keeps_the_previous_checkpoint(tmp_path):
    run = tmp_path / "full"
    first = start(run, ["--max_steps", "4"])
    first.join(120)
    latest = run / "model" / "latest.tar"
    before = latest.read_bytes()
    process = start(run, ["--max_steps", "8", "--is_continue"], fsize=len(before) // 2)
    process.join(120)
    err = (tmp_path / "full.err").read_text()
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert process.exitcode == 2 and len(errors) == 1 and "Traceback" not in err, err
    assert errors[0].startswith(f"error: cannot write {latest}: File too large") and "latest.tar is unchanged" in err
    assert latest.read_bytes() == before and load_checkpoint(latest)["step"] == 4
    assert temporaries(run / "model") == []


def test_an_existing_run_is_never_replaced_unasked(tmp_path):
    run = tmp_path / "run"
    ProbeTrainer(probe_args(run, "--max_steps", "4", "--width", "8"), run).fit()
    saved = {p: p.read_bytes() for p in [run / "opt.json", run / "model" / "latest.tar"]}
    for extra in (["--max_steps", "2"], ["--max_epoch", "0"]):
        with pytest.raises(
            UserError,
            match=r"run .*run exists \(model/latest.tar\): resume it with --is_continue or "
            "replace it with --overwrite",
        ):
            ProbeTrainer(probe_args(run, "--width", "8", *extra), run).fit()
    assert all(p.read_bytes() == data for p, data in saved.items())  # not even opt.json was touched
    with pytest.raises(UserError, match="give one of them"):
        ProbeTrainer(probe_args(run, "--width", "8", "--is_continue", "--overwrite"), run).fit()
    with pytest.raises(UserError, match="--is_continue: .*latest.tar not found"):
        ProbeTrainer(probe_args(tmp_path / "new", "--width", "8", "--is_continue"), tmp_path / "new").fit()
    ProbeTrainer(probe_args(run, "--width", "8", "--max_steps", "2", "--overwrite"), run).fit()
    assert load_checkpoint(run / "model" / "latest.tar")["step"] == 2
    assert json.loads((run / "opt.json").read_text())["max_steps"] == 2


class InfiniteGradient(ProbeTrainer):
    """A finite loss whose gradients are infinite at step 3."""

    def training_step(self, model, batch):
        losses = super().training_step(model, batch)
        if len(self.records) == 3:
            losses["loss"].register_hook(lambda g: g * float("inf"))
        return losses


class NonFiniteWeights(ProbeTrainer):
    """A buffer the loss does not read (an EMA statistic, say) that a buggy stage turns NaN at step 3: the loss and
    the gradients stay finite, the weights do not."""

    def build_model(self):
        model = super().build_model()
        model.register_buffer("ema", torch.zeros(3))
        return model

    def training_step(self, model, batch):
        if len(self.records) == 2:
            self.unwrap(model).ema[0] = float("nan")
        return super().training_step(model, batch)


@pytest.mark.parametrize(
    ("stage", "message"),
    [
        (InfiniteGradient, "non-finite loss or gradients at step 3"),
        (NonFiniteWeights, r"non-finite weights at step 3 \(ema\); nothing was saved"),
    ],
)
def test_non_finite_steps_stop_the_run_and_every_checkpoint_stays_finite(tmp_path, stage, message):
    run = tmp_path / "run"
    with pytest.raises(UserError, match=message):
        stage(
            probe_args(run, "--width", "8", "--max_steps", "8", "--save_latest", "1", "--log_every", "100"), run
        ).fit()
    saved = sorted((run / "model").glob("*.tar"))
    assert saved and all(not nonfinite_tensors(load_checkpoint(p)["model"]) for p in saved)
    assert load_checkpoint(run / "model" / "latest.tar")["step"] <= 3


def test_atomic_writer_unique_names_cleanup_and_stale_temporaries(tmp_path):
    target = tmp_path / "a.b.npz"
    assert atomic.temporary_name(target) != atomic.temporary_name(target)
    tmp = atomic.temporary_name(target)
    assert tmp.suffix == ".npz" and temporary_pid(tmp) == os.getpid()
    atomic.save_npz(target, x=torch.arange(3).numpy())
    with pytest.raises(RuntimeError, match="boom"), atomic.atomic_path(target) as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("boom")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.b.npz"]  # the failed write left nothing
    dead = CTX.Process(target=time.sleep, args=(0,))
    dead.start()
    dead.join()
    stale = tmp_path / f".latest.{dead.pid}-0123abcd.tmp.tar"
    mine = atomic.temporary_name(tmp_path / "latest.tar")
    stale.write_bytes(b"x")
    mine.write_bytes(b"x")
    assert atomic.remove_stale_temporaries(tmp_path) == [stale] and mine.exists()
    with pytest.raises(UserError, match="is a folder"), atomic.atomic_path(tmp_path):
        pass


def test_the_demo_skips_finished_stages_and_resumes_interrupted_ones(tmp_path):
    import demo

    run = tmp_path / "run"
    calls = []
    assert run_status(run) == "new"
    demo._training_stage("stage", run, {}, calls.append, ["--name", "x"])
    ProbeTrainer(probe_args(run, "--width", "8", "--max_steps", "2", "--save_latest", "1"), run).fit()
    assert run_status(run) == "finished"
    demo._training_stage("stage", run, {}, calls.append, ["--name", "x"])  # finished: not run again
    ckpt = load_checkpoint(run / "model" / "latest.tar")
    save_checkpoint(run / "model" / "latest.tar", {**ckpt, "finished": False})  # as a killed run leaves it
    assert run_status(run) == "interrupted"
    demo._training_stage("stage", run, {}, calls.append, ["--name", "x"])
    assert calls == [["--name", "x"], ["--name", "x", "--is_continue"]]


class FailsToStart(ProbeTrainer):
    def build_data(self):
        raise UserError("the data is not there")


def test_overwrite_deletes_the_old_run_only_once_the_new_one_starts(tmp_path):
    run = tmp_path / "run"
    ProbeTrainer(probe_args(run, "--width", "8", "--max_steps", "2"), run).fit()
    before = (run / "model" / "latest.tar").read_bytes()
    with pytest.raises(UserError, match="the data is not there"):
        FailsToStart(probe_args(run, "--width", "8", "--max_steps", "2", "--overwrite"), run).fit()
    assert (run / "model" / "latest.tar").read_bytes() == before  # a run that could not start replaced nothing


def test_recorded_configurations_compare_by_content_not_by_location_or_age():
    from utils.checkpoint import config_differences

    saved = {"run": "vq", "file": "/old/place/latest.tar", "fingerprint": "ab", "width": 8}
    assert config_differences(saved, {**saved, "file": "/new/place/latest.tar"}) == []  # moved: the same
    assert config_differences({"run": "vq", "width": 8}, {**saved, "which": "latest"}) == []  # an older record
    assert config_differences(saved, {**saved, "fingerprint": None}) == []  # recorded before fingerprints
    assert config_differences(saved, {**saved, "fingerprint": "cd", "width": 16}) == ["fingerprint", "width"]
    assert config_differences({**saved, "newer": 1}, saved) == ["newer"]  # unknown to this version
