"""A process's devices, precision and seeds: the accelerator of `--gpu_id` / `--mixed_precision` / `--compile`
(one GPU, the CPU, or the ranks of `accelerate launch`), and the seeds of the shared randomness and of each rank's."""

from __future__ import annotations

import logging
import os
import random

import numpy as np
import torch

from utils.cli import UserError

logger = logging.getLogger(__name__)

RANK_SEED_STRIDE = 104_729  # rank r's model randomness: seed + r * stride (rank 0: the seed itself)


def seed_everything(seed: int) -> None:
    """Seed Python, numpy and torch (all devices)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def rank_seed(seed: int, rank: int) -> int:
    """The seed of rank `rank`'s model randomness (masks, drops, dropout, Gumbel noise)."""
    return seed + RANK_SEED_STRIDE * rank


def autocast_dtype(mixed_precision: str, cpu: bool) -> str:
    """accelerate's mixed precision for `--mixed_precision` (auto: bf16 on GPU, fp32 on CPU)."""
    if mixed_precision not in ("auto", "bf16", "no"):
        raise UserError(f"--mixed_precision must be auto, bf16 or no, got {mixed_precision!r}")
    if mixed_precision == "auto":
        return "no" if cpu else "bf16"
    return mixed_precision


def make_accelerator(gpu_id: int = 0, mixed_precision: str = "auto", compile: bool = False):
    """An `accelerate.Accelerator` for `--gpu_id` (-1: CPU) and `--mixed_precision`; `compile`: torch.compile the
    prepared model (inductor). DDP keeps buffers per rank. Checks that launched ranks joined."""
    from accelerate import Accelerator
    from accelerate.state import AcceleratorState
    from accelerate.utils import DistributedDataParallelKwargs

    world = int(os.environ.get("WORLD_SIZE", "1"))
    if gpu_id >= 0 and world == 1 and "CUDA_VISIBLE_DEVICES" not in os.environ:
        os.environ["CUDA_VISIBLE_DEVICES"] = str(gpu_id)  # before CUDA starts: this process sees that GPU only
    cpu = gpu_id < 0 or not torch.cuda.is_available()
    if gpu_id >= 0 and cpu:
        logger.warning("--gpu_id %d: no CUDA device on this machine, training on the CPU", gpu_id)
    AcceleratorState._reset_state()  # one process may train several runs with different precisions (tests, notebooks)
    ddp = DistributedDataParallelKwargs(broadcast_buffers=False)  # codebooks: all-reduced by the quantizers
    accelerator = Accelerator(
        cpu=cpu,
        mixed_precision=autocast_dtype(mixed_precision, cpu),
        dynamo_backend="inductor" if compile else "no",
        kwargs_handlers=[ddp],
    )
    if world > 1 and accelerator.num_processes != world:
        raise UserError(
            f"launched with WORLD_SIZE={world} but the ranks did not join (each would train alone); "
            "on CPU: accelerate launch --multi_gpu --num_processes N ... --gpu_id -1"
        )
    return accelerator
