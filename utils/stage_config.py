"""Typed stage configs: frozen dataclasses built once from the parsed options, read by the stage code.

The CLIs keep the seed's flags (argparse, one definition of each option and its default in `options/`); a stage
builds its config from the parsed namespace with `from_options`, which takes each field from the option of the
same name, so the dataclass adds types and a description per field, never a second default. A field with a default
here is one that callers building options by hand may leave out. Every checkpoint records the config
(`Trainer.checkpoint`: "config"), beside the options as given ("options", also in `opt.json`).
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from dataclasses import MISSING, asdict, dataclass, fields
from typing import Any, TypeVar

from utils.checkpoint import plain

C = TypeVar("C", bound="StageConfig")


def _frozen(value: Any) -> Any:
    """Lists (argparse's nargs) as tuples: a config never changes after it is built."""
    return tuple(value) if isinstance(value, list) else value


@dataclass(frozen=True, kw_only=True)
class StageConfig:
    """Base of the typed configs: built from parsed options, written to checkpoints as plain data."""

    @classmethod
    def from_options(cls: type[C], options: argparse.Namespace | Mapping[str, Any]) -> C:
        """The config of parsed options (a namespace or a dict): each field from the option of its name. Options the
        config does not read are ignored; a field without a default must be there."""
        values = vars(options) if isinstance(options, argparse.Namespace) else dict(options)
        required = [f.name for f in fields(cls) if f.default is MISSING and f.default_factory is MISSING]
        missing = [name for name in required if name not in values]
        if missing:
            raise TypeError(f"{cls.__name__} needs the option(s) {', '.join(missing)}")
        return cls(**{f.name: _frozen(values[f.name]) for f in fields(cls) if f.name in values})

    def to_dict(self) -> dict[str, Any]:
        """Plain data (tuples as lists, paths as strings), as checkpoints and JSON store it."""
        return plain(asdict(self))


@dataclass(frozen=True, kw_only=True)
class LoopConfig(StageConfig):
    """What the training loop (`utils.trainer.Trainer`) reads: `options.train_options.add_loop_options` and the run
    options of the argparse stages; MMR's Hydra `trainer` group and `seed`.

    Args:
        seed: seeds the weights, the data order and the crops (the model's draws: seed + rank).
        batch_size: samples per step on each process.
        max_epoch: epochs to train to.
        lr: AdamW learning rate after the warm-up.
        milestones: steps where the learning rate is multiplied by `gamma`.
        gamma: the learning-rate decay factor at each milestone.
        warm_up_iter: steps of linear learning-rate warm-up.
        log_every: steps between logged (mean) losses.
        save_latest: steps between `latest.tar` saves (0: at the end of each epoch only).
        eval_every_e: epochs between validations.
        max_steps: stop after this many steps (0: no limit).
        weight_decay: AdamW weight decay.
        grad_clip: the gradient-norm clip (0: off).
        gpu_id: the GPU of a single-process run; -1 the CPU (a missing GPU falls back to it).
        mixed_precision: autocast: "auto" (bf16 on GPU, fp32 on CPU), "bf16" or "no".
        compile: compile the model with torch.compile (inductor).
        workers: data-loader worker processes.
        is_continue: resume the run from its `latest.tar`.
        overwrite: replace an existing run (its checkpoints and logs are deleted first).
    """

    seed: int
    batch_size: int
    max_epoch: int
    lr: float
    milestones: tuple[int, ...]
    gamma: float
    warm_up_iter: int
    log_every: int
    save_latest: int
    eval_every_e: int
    max_steps: int = 0
    weight_decay: float = 0.0
    grad_clip: float = 0.0
    gpu_id: int = 0
    mixed_precision: str = "auto"
    compile: bool = False
    workers: int = 0
    is_continue: bool = False
    overwrite: bool = False
