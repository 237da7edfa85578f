"""The one training loop of every stage (tokenizer, MMR, masked and residual transformers).

A stage subclasses `Trainer` and fills in hooks: `build_model`, `build_data`, `training_step` (a dict of named
losses with "loss" the one optimised), `evaluate` (named metrics; `best_metric` picks `best.tar`, lower is better
unless `best_higher`)
and `checkpoint_extra` (the stage's config, normalisation statistics: what later stages need to rebuild it). The
loop does the rest:

- devices through accelerate: `--gpu_id N` (one GPU), `--gpu_id -1` (CPU), `accelerate launch` for several GPUs or
  nodes; `--mixed_precision auto` is bf16 autocast on GPU and fp32 on CPU, `bf16` is honoured on CPU too (slow: for
  tests of the GPU path); `--compile` compiles the model (`torch.compile`, inductor); DDP does not re-broadcast
  buffers (the quantizers all-reduce their codebook statistics themselves); a launch whose ranks did not join stops
  with one line;
- randomness: the weights, the data order and the crops come from `--seed` (the same on every rank, so N processes
  see the data one process would); the model's draws in training (masks, condition drops, dropout, Gumbel noise,
  the residual layer) from seed + rank, so N processes draw N times as many;
- fused AdamW, linear warm-up then MultiStep decay (`--milestones` in steps, `--gamma` the factor), gradient
  clipping; no host sync per step: losses are summed on the device and read on logging steps only;
- tqdm, TensorBoard scalars (`<run>/logs`), evaluation every `--eval_every_e` epochs;
- an existing run is never replaced: a run folder with a checkpoint needs `--is_continue` or `--overwrite`;
- `model/latest.tar` (every `--save_latest` steps, each epoch, at the end: `finished` True) and `model/best.tar`,
  written atomically (`utils.atomic`: unique temporary, fsync, rename) and never with non-finite weights,
  loadable with `weights_only=True`: model, optimizer, scheduler, step, epoch, every rank's RNG states, the world
  (processes, batch size, seed), options, stage extras;
- `--is_continue` resumes exactly: the data order is a pure function of (seed, epoch) and the loader skips the
  samples the interrupted epoch already used, datasets draw their randomness from (seed, epoch, index), each rank
  restores its own RNG states; a resume with another number of processes, batch size or seed says in one line
  what will differ;
- a non-finite loss or gradient norm is never applied (the fused optimizer skips that step on the device) and stops
  the run with a one-line error at the next logging step or save, before anything is saved, so the last good
  checkpoint stays.
"""

from __future__ import annotations

import argparse
import logging
import math
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from utils.atomic import remove_stale_temporaries, write_json, write_text
from utils.batch import EpochSampler, collate_batches
from utils.checkpoint import (
    config_differences,
    load_checkpoint,
    load_weights,
    nonfinite_tensors,
    plain,
    rng_state,
    save_checkpoint,
    set_rng_state,
)
from utils.cli import UserError
from utils.devices import make_accelerator, rank_seed, seed_everything
from utils.runs import claim_run
from utils.stage_config import LoopConfig, StageConfig

logger = logging.getLogger(__name__)


def lr_factor(step: int, warm_up: int, milestones: list[int], gamma: float) -> float:
    """Linear warm-up over `warm_up` steps, then x gamma at each milestone passed."""
    warm = min(1.0, (step + 1) / warm_up) if warm_up > 0 else 1.0
    return warm * gamma ** sum(step >= m for m in milestones)


@dataclass
class _Fitting:
    """The moving parts of one `Trainer.fit` call: the prepared model and optimizer (and the optimizer under
    accelerate's wrapper, whose `found_inf` skips a step), the scheduler, the TensorBoard writer (main process) and
    the losses summed on the device since the last logging step."""

    model: nn.Module
    optimizer: torch.optim.Optimizer
    raw_optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    writer: object | None
    sums: dict[str, torch.Tensor] = field(default_factory=dict)


class Trainer:
    """Base trainer (see the module docstring). `opt`: the run's parsed options, from which the stage's typed config
    (`config_class`) is built once (`self.cfg`; the loop reads `self.loop`); the options as given are recorded in
    `opt.json` and every checkpoint. `run_dir`: the run's folder."""

    stage = "base"
    config_class: type[StageConfig] = LoopConfig
    best_metric: str | None = None
    best_higher = False  # True: a higher `best_metric` is better (recall), else lower (errors)

    def __init__(self, opt: argparse.Namespace, run_dir: Path) -> None:
        self.opt, self.run_dir = opt, Path(run_dir)
        self.cfg = self.config_class.from_options(opt)
        loop = self.loop
        self.accelerator = make_accelerator(loop.gpu_id, loop.mixed_precision, loop.compile)
        self._first_bad = None  # (1,) int64 on the device: the first step whose loss or gradients were not finite
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

    def evaluate(self, model: nn.Module, dataset: Dataset) -> dict[str, float]:  # noqa: ARG002 (a hook)
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
            if not isinstance(value, dict):
                continue
            saved, value = ckpt.get(key), plain(value)
            diff = config_differences(saved, value) if isinstance(saved, dict) else ["recorded as absent"]
            if diff:
                if "fingerprint" in diff:  # an upstream checkpoint (tokenizer, MMR) changed since
                    raise UserError(
                        f"{path}: trained with a different {key} (fingerprint: {value.get('file', key)} "
                        "was retrained or continued since); resume with the checkpoint it was trained "
                        "on or start the run again (--overwrite)"
                    )
                raise UserError(
                    f"{path}: trained with a different {key} ({', '.join(diff)}); resume with the same "
                    "options or start another run"
                )

    # ------------------------------------------------------------------ helpers
    @property
    def loop(self) -> LoopConfig:
        """The loop's part of the stage config (the stage config itself, unless the stage nests it)."""
        return self.cfg

    @property
    def model_dir(self) -> Path:
        return self.run_dir / "model"

    def loader(self, dataset: Dataset, epoch: int, skip_samples: int = 0, train: bool = True) -> DataLoader:
        """The epoch's loader (prepared for the devices); the first `skip_samples` of the epoch's order are left out
        (what an interrupted epoch already used, whatever its number of processes and batch size)."""
        if hasattr(dataset, "set_epoch"):
            dataset.set_epoch(epoch)
        sampler = EpochSampler(len(dataset), self.loop.seed, epoch, skip_samples, shuffle=train)
        loader = DataLoader(
            dataset,
            batch_size=self.loop.batch_size,
            sampler=sampler,
            drop_last=train,
            collate_fn=collate_batches,
            num_workers=self.loop.workers,
            generator=torch.Generator().manual_seed(self.loop.seed),
        )
        return self.accelerator.prepare(loader)

    def world(self) -> dict:
        """What an exact resume needs unchanged: processes, batch per process, seed."""
        return {"processes": self.accelerator.num_processes, "batch_size": self.loop.batch_size, "seed": self.loop.seed}

    def _payload(self, model, optimizer, scheduler, state: dict, rng: list[dict]) -> dict:
        payload = {
            "stage": self.stage,
            "model": self.unwrap(model).state_dict(),
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            **state,
            "rng": rng,
            "world": self.world(),
            "options": plain(vars(self.opt)),
            "config": plain(asdict(self.cfg)),
            **self.checkpoint_extra(),
        }
        return payload

    def unwrap(self, model: nn.Module) -> nn.Module:
        """The plain module under DDP and torch.compile wrappers."""
        return self.accelerator.unwrap_model(model, keep_torch_compile=False)

    def save(self, name: str, model, optimizer, scheduler, state: dict) -> None:
        """Write `model/<name>.tar` (main process only; every rank sends its RNG states and waits). Never a
        checkpoint with non-finite weights: the run stops in one line instead."""
        from accelerate.utils import gather_object

        self._stop_if_nonfinite(state)
        bad = nonfinite_tensors(self.unwrap(model).state_dict())
        if self.accelerator.num_processes > 1:  # buffers may differ per rank: every rank stops if one would
            flag = self.accelerator.reduce(torch.tensor([float(bool(bad))], device=self.device), "sum")
            bad = bad or (["another rank's weights"] if float(flag[0]) > 0 else [])
        if bad:
            raise UserError(
                f"non-finite weights at step {state['step']} ({', '.join(bad[:3])}"
                f"{', ...' if len(bad) > 3 else ''}); nothing was saved: the last good checkpoint is "
                f"{self.model_dir / 'latest.tar'}"
            )
        rng = gather_object([rng_state()]) if self.accelerator.num_processes > 1 else [rng_state()]
        self.accelerator.wait_for_everyone()
        if self.accelerator.is_main_process:
            save_checkpoint(self.model_dir / f"{name}.tar", self._payload(model, optimizer, scheduler, state, rng))

    def claim_run_dir(self) -> list[str]:
        """Refuse to replace an existing run: a run folder with a checkpoint needs `--is_continue` (resume) or
        `--overwrite`. Returns the checkpoints `--overwrite` replaces (`replace_old_run` deletes them once the new
        run has been built, so a run that fails to start loses nothing)."""
        overwrite = self.loop.overwrite
        saved = claim_run(self.run_dir, self.loop.is_continue, overwrite)
        return saved if overwrite else []

    def replace_old_run(self, replaced: list[str]) -> None:
        """Delete the checkpoints and logs `--overwrite` replaces, and the temporary files of killed saves."""
        if not self.accelerator.is_main_process:
            return
        if replaced:
            logger.warning(
                "--overwrite: deleting the checkpoints (%s) and logs of %s", ", ".join(replaced), self.run_dir
            )
            for name in replaced:
                (self.model_dir / name).unlink(missing_ok=True)
            shutil.rmtree(self.run_dir / "logs", ignore_errors=True)
        for path in remove_stale_temporaries(self.model_dir):
            logger.info("removed %s (left by a save that was interrupted)", path)

    def write_options(self) -> None:
        """`opt.txt` (readable) and `opt.json` in the run folder."""
        if not self.accelerator.is_main_process:
            return
        self.run_dir.mkdir(parents=True, exist_ok=True)
        options = plain(vars(self.opt))
        write_json(self.run_dir / "opt.json", options)
        write_text(self.run_dir / "opt.txt", "".join(f"{k}: {v}\n" for k, v in sorted(options.items())))

    # ------------------------------------------------------------------ the loop
    def fit(self) -> dict:
        """Train (or resume) to `--max_epoch` epochs (or `--max_steps` steps); returns the last metrics."""
        loop, acc = self.loop, self.accelerator
        train_set, val_set, model, optimizer, scheduler, state = self._start()
        raw_optimizer = optimizer
        model, optimizer = acc.prepare(model, optimizer)
        run = _Fitting(model, optimizer, raw_optimizer, scheduler, self._writer())
        max_steps = loop.max_steps or math.inf
        per_step = loop.batch_size * acc.num_processes  # samples of the epoch's order one step uses
        if len(train_set) < per_step:
            raise UserError(
                f"the training set has {len(train_set)} items, fewer than one batch of "
                f"{loop.batch_size} x {acc.num_processes} process(es)"
            )
        self._first_bad = torch.zeros((), dtype=torch.int64, device=self.device)
        start_step, started = state["step"], time.perf_counter()
        while state["epoch"] < loop.max_epoch and state["step"] < max_steps:
            self._train_epoch(run, state, train_set, max_steps, per_step)
            if state["step"] >= max_steps and state["sample_in_epoch"] + per_step <= len(train_set):
                break  # stopped inside the epoch: `latest` below records where
            state["epoch"] += 1
            state["step_in_epoch"] = state["sample_in_epoch"] = 0
            if val_set is not None and state["epoch"] % loop.eval_every_e == 0:
                self._evaluate(run.model, val_set, state, run.writer, run.optimizer, run.scheduler)
            self.save("latest", run.model, run.optimizer, run.scheduler, state)
        state["finished"] = True  # what `utils.runs.run_status` reads: the run reached its end
        self.save("latest", run.model, run.optimizer, run.scheduler, state)
        steps, seconds = state["step"] - start_step, time.perf_counter() - started
        logger.info(
            "%d steps in %.1f s: %.2f samples/s (%d process(es), validation and saves included)",
            steps,
            seconds,
            steps * per_step / max(seconds, 1e-9),
            acc.num_processes,
        )
        self._finish(run)
        return state["metrics"]

    def _start(self) -> tuple:
        """Claim the run folder, build the data, model, optimizer and scheduler (resumed with `--is_continue`), then
        replace an `--overwrite`n run and write the options: (train set, val set, model, optimizer, scheduler,
        state)."""
        loop, acc = self.loop, self.accelerator
        replaced = self.claim_run_dir()
        seed_everything(loop.seed)  # the same weights and data on every rank
        train_set, val_set = self.build_data()  # first: the model may depend on the data (feature width)
        model = self.build_model()
        optimizer = torch.optim.AdamW(
            model.parameters(), lr=loop.lr, betas=(0.9, 0.99), weight_decay=loop.weight_decay, fused=True
        )  # fused: skips a non-finite step on the device
        milestones = list(loop.milestones)
        scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda s: lr_factor(s, loop.warm_up_iter, milestones, loop.gamma)
        )
        state = {
            "epoch": 0,
            "step": 0,
            "step_in_epoch": 0,
            "sample_in_epoch": 0,
            "best": math.inf,
            "metrics": {},
            "finished": False,
        }
        seed_everything(rank_seed(loop.seed, acc.process_index))  # the model's draws differ per rank
        if loop.is_continue:
            state = self._resume(model, optimizer, scheduler, state)
        state["finished"] = False  # until the last save of this call
        self.replace_old_run(replaced)  # the new run is built: the old one can go
        self.write_options()
        return train_set, val_set, model, optimizer, scheduler, state

    def _train_epoch(self, run: _Fitting, state: dict, train_set: Dataset, max_steps: float, per_step: int) -> None:
        """The steps of one epoch (from where an interrupted one stopped), logging and saving as asked."""
        loop, acc = self.loop, self.accelerator
        run.model.train()
        params = [p for p in run.model.parameters() if p.requires_grad]
        loader = self.loader(train_set, state["epoch"], state["sample_in_epoch"])
        bar = tqdm(
            loader, desc=f"epoch {state['epoch']}", unit="step", disable=not acc.is_local_main_process, leave=False
        )
        for batch in bar:
            with acc.autocast():
                losses = self.training_step(run.model, batch)
            acc.backward(losses["loss"])
            run.raw_optimizer.found_inf = self._nonfinite(losses["loss"], params, state["step"] + 1)
            run.optimizer.step()  # not applied where found_inf is set
            run.scheduler.step()
            run.optimizer.zero_grad(set_to_none=True)
            state["step"] += 1
            state["step_in_epoch"] += 1
            state["sample_in_epoch"] += per_step
            for k, v in losses.items():
                v = v.detach().float()
                run.sums[k] = run.sums[k] + v if k in run.sums else v
            if state["step"] % loop.log_every == 0:
                self._stop_if_nonfinite(state)
                self._log(run.writer, run.sums, loop.log_every, state["step"], run.scheduler.get_last_lr()[0], bar)
            if loop.save_latest and state["step"] % loop.save_latest == 0:
                self.save("latest", run.model, run.optimizer, run.scheduler, state)
            if state["step"] >= max_steps:
                break

    def _finish(self, run: _Fitting) -> None:
        """Check the ranks ended in sync, keep the trained module (`self.trained`), close the logs and the group."""
        self._check_in_sync(run.model)
        self.trained = self.unwrap(run.model)  # the trained module (no DDP or compile wrapper)
        if run.writer is not None:
            run.writer.close()
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            self.accelerator.wait_for_everyone()
            torch.distributed.destroy_process_group()  # before exit: a live gloo group can abort a rank at teardown

    def _resume(self, model, optimizer, scheduler, state: dict) -> dict:
        """Load `latest.tar` into the model, optimizer and scheduler; restore this rank's RNG states. A resume with
        another world (processes, batch size, seed) continues and says in one line what differs."""
        path = self.model_dir / "latest.tar"
        ckpt = load_checkpoint(path)
        self.check_compatible(ckpt, path)
        load_weights(model, ckpt["model"], path)
        load_weights(optimizer, ckpt["optimizer"], path)
        for group in optimizer.param_groups:  # checkpoints of the unfused optimizer load into the fused one
            group.update(fused=True, foreach=None)
        scheduler.load_state_dict(ckpt["scheduler"])
        saved_states = ckpt["rng"] if isinstance(ckpt["rng"], list) else [ckpt["rng"]]
        options = ckpt.get("options", {})
        saved = ckpt.get("world") or {
            "processes": len(saved_states),
            "batch_size": options.get("batch_size"),
            "seed": options.get("seed"),
        }
        now = self.world()
        state = {k: ckpt.get(k, v) for k, v in state.items()}
        if "sample_in_epoch" not in ckpt:  # checkpoints before per-sample resume
            state["sample_in_epoch"] = ckpt["step_in_epoch"] * saved["batch_size"] * saved["processes"]
        diff = [f"{k.replace('_', ' ')} {saved.get(k)} -> {now[k]}" for k in now if saved.get(k) != now[k]]
        rank = self.accelerator.process_index
        if rank < len(saved_states):
            set_rng_state(saved_states[rank])
        if diff and self.accelerator.is_main_process:
            logger.warning(
                "resuming %s with %s: not bit-exact (the data order from sample %d of epoch %d on%s and the "
                "model's random draws differ from the uninterrupted run)",
                self.run_dir,
                ", ".join(diff),
                state["sample_in_epoch"],
                state["epoch"],
                ", the crops" if saved.get("seed") != now["seed"] else "",
            )
        logger.info("resuming %s at epoch %d, step %d", self.run_dir, state["epoch"], state["step"])
        return state

    def _evaluate(self, model, val_set, state, writer, optimizer, scheduler) -> None:
        """Validation on the main process; every rank learns whether it improved, so all of them join the save."""
        from accelerate.utils import broadcast

        model.eval()
        metrics = self.evaluate(self.unwrap(model), val_set) if self.accelerator.is_main_process else {}
        model.train()
        sign = -1.0 if self.best_higher else 1.0
        score = sign * float(metrics[self.best_metric]) if self.best_metric in metrics else math.inf
        score = float(broadcast(torch.tensor([score], dtype=torch.float64, device=self.device))[0])
        state["metrics"] = {k: float(v) for k, v in metrics.items()}
        if writer is not None:
            for k, v in metrics.items():
                writer.add_scalar(f"val/{k}", v, state["step"])
        if metrics:
            logger.info(
                "epoch %d, step %d: %s",
                state["epoch"],
                state["step"],
                ", ".join(f"{k} {v:.4g}" for k, v in metrics.items()),
            )
        if score < state["best"]:  # the stored best is sign-adjusted: always "lower is better"
            state["best"] = score
            self.save("best", model, optimizer, scheduler, state)

    def _nonfinite(self, loss: torch.Tensor, params: list[torch.Tensor], step: int) -> torch.Tensor:
        """Clip the gradients (`--grad_clip`) and return 1.0 (0-d, on the device, equal on every rank) when the loss
        or the gradient norm is not finite, recording the first such step; no host sync."""
        clip = self.loop.grad_clip
        if clip > 0:
            norm = self.accelerator.clip_grad_norm_(params, clip)
        else:
            grads = [p.grad for p in params if p.grad is not None]
            norm = torch.nn.utils.get_total_norm(grads) if grads else torch.zeros((), device=self.device)
        bad = (~(torch.isfinite(loss.detach().float()) & torch.isfinite(norm))).float()
        if self.accelerator.num_processes > 1:  # a rank-local non-finite loss stops every rank's step
            bad = self.accelerator.reduce(bad, "sum").clamp_max(1.0)
        self._first_bad = torch.where((self._first_bad == 0) & (bad > 0), step, self._first_bad)
        return bad

    def _stop_if_nonfinite(self, state: dict) -> None:
        """One host sync: stop with a one-line error if a step since the start had a non-finite loss or gradient
        (that step was not applied, nothing has been saved since)."""
        if self._first_bad is None:
            return
        first = int(self._first_bad)
        if first:
            raise UserError(
                f"non-finite loss or gradients at step {first} (epoch {state['epoch']}); that step was not "
                f"applied and the run stopped without saving: the last good checkpoint is "
                f"{self.model_dir / 'latest.tar'}"
            )

    def _check_in_sync(self, model: nn.Module) -> None:
        """Every rank must hold the same weights at the end (a cheap checksum per rank); stop with one line if not."""
        if self.accelerator.num_processes == 1:
            return
        with torch.no_grad():
            total = torch.stack([p.detach().double().sum() for p in self.unwrap(model).parameters()]).sum()[None]
        sums = self.accelerator.gather(total)
        if not bool(torch.all(sums == sums[0])):
            raise UserError(
                f"the {len(sums)} processes ended with different weights (checksums "
                f"{sums.tolist()}): the ranks did not train in sync"
            )
        logger.info("%d processes in sync (weight checksum %.10g)", len(sums), float(sums[0]))

    def _writer(self):
        if not self.accelerator.is_main_process:
            return None
        from torch.utils.tensorboard import SummaryWriter

        return SummaryWriter(str(self.run_dir / "logs"))

    def _log(self, writer, sums: dict[str, torch.Tensor], steps: int, step: int, lr: float, bar) -> None:
        """Mean of each loss over the last `steps` steps (one host sync for all of them)."""
        if not sums:
            return
        values = torch.stack(list(sums.values())).div(steps).tolist()
        means = dict(zip(sums, values, strict=True))
        sums.clear()
        if writer is not None:
            for k, v in means.items():
                writer.add_scalar(f"train/{k}", v, step)
            writer.add_scalar("train/lr", lr, step)
        bar.set_postfix({k: f"{v:.4f}" for k, v in means.items()})
