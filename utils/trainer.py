"""The one training loop of every stage (tokenizer, MMR, masked and residual transformers).

A stage subclasses `Trainer` and fills in hooks: `build_model`, `build_data`, `training_step` (a dict of named
losses with "loss" the one optimised), `evaluate` (named metrics; `best_metric` picks `best.tar`, lower is better
unless `best_higher`)
and `checkpoint_extra` (the stage's config, normalisation statistics: what later stages need to rebuild it). The
loop does the rest:

- devices through accelerate: `--gpu_id N` (one GPU), `--gpu_id -1` (CPU), `accelerate launch` for several GPUs or
  nodes; bf16 autocast on GPU only (`--mixed_precision`); a launch whose ranks did not join stops with one line;
- AdamW, linear warm-up then MultiStep decay (`--milestones` in steps, `--gamma` the factor), gradient clipping;
- tqdm, TensorBoard scalars (`<run>/logs`), evaluation every `--eval_every_e` epochs;
- `model/latest.tar` (every `--save_latest` steps, each epoch, at the end) and `model/best.tar`, written atomically,
  loadable with `weights_only=True`: model, optimizer, scheduler, step, epoch, RNG states, options, stage extras;
- `--is_continue` resumes exactly: the data order is a pure function of (seed, epoch) and the loader skips what the
  interrupted epoch already used, datasets draw their randomness from (seed, epoch, index), the RNGs are restored;
- a NaN/Inf loss stops the run with a one-line error before anything is saved, so the last good checkpoint stays.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import random
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, Sampler
from tqdm import tqdm

from data.loaders import collate_batches
from utils.checkpoint import load_checkpoint, plain, rng_state, save_checkpoint, set_rng_state
from utils.cli import UserError

logger = logging.getLogger(__name__)


def seed_everything(seed: int) -> None:
    """Seed Python, numpy and torch (all devices)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def make_accelerator(gpu_id: int = 0, mixed_precision: str = "bf16"):
    """An `accelerate.Accelerator` for `--gpu_id` (-1: CPU); bf16 only on GPU. Checks that launched ranks joined."""
    from accelerate import Accelerator

    world = int(os.environ.get("WORLD_SIZE", "1"))
    if gpu_id >= 0 and world == 1 and "CUDA_VISIBLE_DEVICES" not in os.environ:
        os.environ["CUDA_VISIBLE_DEVICES"] = str(gpu_id)  # before CUDA starts: this process sees that GPU only
    cpu = gpu_id < 0 or not torch.cuda.is_available()
    if gpu_id >= 0 and cpu:
        logger.warning("--gpu_id %d: no CUDA device on this machine, training on the CPU", gpu_id)
    accelerator = Accelerator(cpu=cpu, mixed_precision="no" if cpu else mixed_precision)
    if world > 1 and accelerator.num_processes != world:
        raise UserError(f"launched with WORLD_SIZE={world} but the ranks did not join (each would train alone); "
                        "on CPU: accelerate launch --multi_gpu --num_processes N ... --gpu_id -1")
    return accelerator


class EpochSampler(Sampler[int]):
    """The data order of one epoch: a permutation seeded by (seed, epoch), starting at position `start`."""

    def __init__(self, n: int, seed: int, epoch: int, start: int = 0, shuffle: bool = True) -> None:
        self.n, self.seed, self.epoch, self.start, self.shuffle = n, seed, epoch, start, shuffle

    def __iter__(self) -> Iterator[int]:
        if not self.shuffle:
            return iter(range(self.start, self.n))
        g = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        return iter(torch.randperm(self.n, generator=g)[self.start :].tolist())

    def __len__(self) -> int:
        return max(0, self.n - self.start)


def lr_factor(step: int, warm_up: int, milestones: list[int], gamma: float) -> float:
    """Linear warm-up over `warm_up` steps, then x gamma at each milestone passed."""
    warm = min(1.0, (step + 1) / warm_up) if warm_up > 0 else 1.0
    return warm * gamma ** sum(step >= m for m in milestones)


class Trainer:
    """Base trainer (see the module docstring). `opt` is the run's argparse namespace; `run_dir` its folder."""

    stage = "base"
    best_metric: str | None = None
    best_higher = False  # True: a higher `best_metric` is better (recall), else lower (errors)

    def __init__(self, opt: argparse.Namespace, run_dir: Path) -> None:
        self.opt, self.run_dir = opt, Path(run_dir)
        self.accelerator = make_accelerator(getattr(opt, "gpu_id", 0), getattr(opt, "mixed_precision", "bf16"))
        self.device = self.accelerator.device

    # ------------------------------------------------------------------ hooks
    def build_model(self) -> nn.Module:
        raise NotImplementedError

    def build_data(self) -> tuple[Dataset, Dataset | None]:
        """(training set, validation set or None). A dataset with `set_epoch(epoch)` is told each epoch; its items
        must be a pure function of (index, epoch) for exact resume (no hidden RNG state)."""
        raise NotImplementedError

    def training_step(self, model: nn.Module, batch) -> dict[str, torch.Tensor]:
        """Named losses of one batch; "loss" is optimised, every entry is logged."""
        raise NotImplementedError

    def evaluate(self, model: nn.Module, dataset: Dataset) -> dict[str, float]:
        """Named validation metrics, computed on the main process only (lower `best_metric` is better)."""
        return {}

    def checkpoint_extra(self) -> dict:
        """Stage data stored in every checkpoint (config, normalisation statistics): tensors and plain data."""
        return {}

    def check_compatible(self, ckpt: dict, path: Path) -> None:
        """Refuse a checkpoint of another stage, or whose configuration (dicts of `checkpoint_extra`) differs."""
        if ckpt.get("stage") != self.stage:
            raise UserError(f"{path}: a {ckpt.get('stage')!r} checkpoint, not {self.stage!r}")
        for key, value in self.checkpoint_extra().items():
            if isinstance(value, dict) and ckpt.get(key) != plain(value):
                diff = sorted(k for k in value if (ckpt.get(key) or {}).get(k) != plain(value[k]))
                raise UserError(f"{path}: trained with a different {key} ({', '.join(diff)}); resume with the same "
                                "options or start another run")  # fmt: skip

    # ------------------------------------------------------------------ helpers
    @property
    def model_dir(self) -> Path:
        return self.run_dir / "model"

    def loader(self, dataset: Dataset, epoch: int, skip_batches: int = 0, train: bool = True) -> DataLoader:
        """The epoch's loader (prepared for the devices); `skip_batches` per-rank batches already used are left out."""
        bs, world = self.opt.batch_size, self.accelerator.num_processes
        if hasattr(dataset, "set_epoch"):
            dataset.set_epoch(epoch)
        sampler = EpochSampler(len(dataset), self.opt.seed, epoch, skip_batches * bs * world, shuffle=train)
        loader = DataLoader(dataset, batch_size=bs, sampler=sampler, drop_last=train, collate_fn=collate_batches,
                            num_workers=getattr(self.opt, "workers", 0),
                            generator=torch.Generator().manual_seed(self.opt.seed))  # fmt: skip
        return self.accelerator.prepare(loader)

    def _payload(self, model, optimizer, scheduler, state: dict, train_set) -> dict:
        payload = {"stage": self.stage, "model": self.accelerator.unwrap_model(model).state_dict(),
                   "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(), **state,
                   "rng": rng_state(), "options": plain(vars(self.opt)), **self.checkpoint_extra()}  # fmt: skip
        return payload

    def save(self, name: str, model, optimizer, scheduler, state: dict, train_set) -> None:
        """Write `model/<name>.tar` (main process only; every rank waits)."""
        self.accelerator.wait_for_everyone()
        if self.accelerator.is_main_process:
            payload = self._payload(model, optimizer, scheduler, state, train_set)
            save_checkpoint(self.model_dir / f"{name}.tar", payload)

    def write_options(self) -> None:
        """`opt.txt` (readable) and `opt.json` in the run folder."""
        if not self.accelerator.is_main_process:
            return
        self.run_dir.mkdir(parents=True, exist_ok=True)
        options = plain(vars(self.opt))
        (self.run_dir / "opt.json").write_text(json.dumps(options, indent=1) + "\n")
        (self.run_dir / "opt.txt").write_text("".join(f"{k}: {v}\n" for k, v in sorted(options.items())))

    # ------------------------------------------------------------------ the loop
    def fit(self) -> dict:
        """Train (or resume) to `--max_epoch` epochs (or `--max_steps` steps); returns the last metrics."""
        opt, acc = self.opt, self.accelerator
        seed_everything(opt.seed)
        train_set, val_set = self.build_data()  # first: the model may depend on the data (feature width)
        model = self.build_model()
        optimizer = torch.optim.AdamW(model.parameters(), lr=opt.lr, betas=(0.9, 0.99), weight_decay=opt.weight_decay)
        milestones = list(opt.milestones)
        scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda s: lr_factor(s, opt.warm_up_iter, milestones, opt.gamma))
        state = {"epoch": 0, "step": 0, "step_in_epoch": 0, "best": math.inf, "metrics": {}}
        if getattr(opt, "is_continue", False):
            ckpt = load_checkpoint(self.model_dir / "latest.tar")
            self.check_compatible(ckpt, self.model_dir / "latest.tar")
            model.load_state_dict(ckpt["model"])
            optimizer.load_state_dict(ckpt["optimizer"])
            scheduler.load_state_dict(ckpt["scheduler"])
            state = {k: ckpt[k] for k in state}
            set_rng_state(ckpt["rng"])
            logger.info("resuming %s at epoch %d, step %d", self.run_dir, state["epoch"], state["step"])
        self.write_options()
        model, optimizer = acc.prepare(model, optimizer)
        writer = self._writer()
        max_steps = getattr(opt, "max_steps", 0) or math.inf
        per_epoch = len(train_set) // (opt.batch_size * acc.num_processes)
        if per_epoch == 0:
            raise UserError(f"the training set has {len(train_set)} items, fewer than one batch of "
                            f"{opt.batch_size} x {acc.num_processes} process(es)")  # fmt: skip
        window: dict[str, list[float]] = defaultdict(list)
        while state["epoch"] < opt.max_epoch and state["step"] < max_steps:
            model.train()
            loader = self.loader(train_set, state["epoch"], state["step_in_epoch"])
            bar = tqdm(loader, desc=f"epoch {state['epoch']}", unit="step", disable=not acc.is_local_main_process,
                       leave=False)  # fmt: skip
            for batch in bar:
                with acc.autocast():
                    losses = self.training_step(model, batch)
                self._check_finite(losses["loss"], state)
                acc.backward(losses["loss"])
                if getattr(opt, "grad_clip", 0) > 0:
                    acc.clip_grad_norm_(model.parameters(), opt.grad_clip)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad(set_to_none=True)
                state["step"] += 1
                state["step_in_epoch"] += 1
                for k, v in losses.items():
                    window[k].append(float(v.detach()))
                if state["step"] % opt.log_every == 0:
                    self._log(writer, window, state["step"], scheduler.get_last_lr()[0], bar)
                if opt.save_latest and state["step"] % opt.save_latest == 0:
                    self.save("latest", model, optimizer, scheduler, state, train_set)
                if state["step"] >= max_steps:
                    break
            if state["step"] >= max_steps and state["step_in_epoch"] < per_epoch:
                break  # stopped inside the epoch: `latest` below records where
            state["epoch"] += 1
            state["step_in_epoch"] = 0
            if val_set is not None and state["epoch"] % opt.eval_every_e == 0:
                self._evaluate(model, val_set, state, writer, optimizer, scheduler, train_set)
            self.save("latest", model, optimizer, scheduler, state, train_set)
        self.save("latest", model, optimizer, scheduler, state, train_set)
        if writer is not None:
            writer.close()
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            acc.wait_for_everyone()
            torch.distributed.destroy_process_group()  # before exit: a live gloo group can abort a rank at teardown
        return state["metrics"]

    def _evaluate(self, model, val_set, state, writer, optimizer, scheduler, train_set) -> None:
        """Validation on the main process; every rank learns whether it improved, so all of them join the save."""
        from accelerate.utils import broadcast

        model.eval()
        metrics = self.evaluate(self.accelerator.unwrap_model(model), val_set) if self.accelerator.is_main_process \
            else {}  # fmt: skip
        model.train()
        sign = -1.0 if self.best_higher else 1.0
        score = sign * float(metrics[self.best_metric]) if self.best_metric in metrics else math.inf
        score = float(broadcast(torch.tensor([score], dtype=torch.float64, device=self.device))[0])
        state["metrics"] = {k: float(v) for k, v in metrics.items()}
        if writer is not None:
            for k, v in metrics.items():
                writer.add_scalar(f"val/{k}", v, state["step"])
        if metrics:
            logger.info("epoch %d, step %d: %s", state["epoch"], state["step"],
                        ", ".join(f"{k} {v:.4g}" for k, v in metrics.items()))  # fmt: skip
        if score < state["best"]:  # the stored best is sign-adjusted: always "lower is better"
            state["best"] = score
            self.save("best", model, optimizer, scheduler, state, train_set)

    def _check_finite(self, loss: torch.Tensor, state: dict) -> None:
        finite = self.accelerator.gather(torch.isfinite(loss.detach()).float()[None])
        if not bool(finite.all()):
            raise UserError(f"non-finite loss at step {state['step'] + 1} (epoch {state['epoch']}); stopped without "
                            f"saving, the last good checkpoint is {self.model_dir / 'latest.tar'}")  # fmt: skip

    def _writer(self):
        if not self.accelerator.is_main_process:
            return None
        from torch.utils.tensorboard import SummaryWriter

        return SummaryWriter(str(self.run_dir / "logs"))

    def _log(self, writer, window: dict, step: int, lr: float, bar) -> None:
        means = {k: float(np.mean(v)) for k, v in window.items()}
        window.clear()
        if writer is not None:
            for k, v in means.items():
                writer.add_scalar(f"train/{k}", v, step)
            writer.add_scalar("train/lr", lr, step)
        bar.set_postfix({k: f"{v:.4f}" for k, v in means.items()})
