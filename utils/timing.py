"""Small helpers for the benchmarks in `bench/`: best-of-N wall-clock timing and a description of the machine."""

from __future__ import annotations

import argparse
import os
import platform
import time
from collections.abc import Callable

import numpy as np
import torch


def best_of(fn: Callable[[], object], repeats: int) -> float:
    """The fastest of `repeats` wall-clock runs of `fn`, seconds."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def items_per_second(fn: Callable[[], object], items: int, calls: int, device: str = "cpu") -> float:
    """`items` x `calls` / wall-clock seconds of `calls` calls of `fn` after one warm-up call (CUDA synchronised)."""
    fn()
    if device == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(calls):
        fn()
    if device == "cuda":
        torch.cuda.synchronize()
    return items * calls / (time.perf_counter() - t0)


def training_rate(
    loss_fn: Callable[[], torch.Tensor],
    optimizer: torch.optim.Optimizer,
    batch: int,
    steps: int,
    device: str = "cpu",
    bf16: bool = False,
) -> float:
    """Samples per second of training steps (loss under optional bf16 autocast, backward, optimizer step)."""

    def step():
        with torch.autocast(device_type=device, dtype=torch.bfloat16, enabled=bf16):
            loss = loss_fn()
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    return items_per_second(step, batch, steps, device)


def machine_info(device: str = "cpu") -> dict:
    """CPU, core count and library versions (and the GPU's name when `device` is cuda), for a benchmark's JSON."""
    info = {
        "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "numpy": np.__version__,
        "torch": torch.__version__,
    }
    if device == "cuda":
        info["gpu"] = torch.cuda.get_device_name()
    return info


def speed_parser(description: str, configs: dict) -> argparse.ArgumentParser:
    """The options of a training-speed benchmark: timed steps, device, which of `configs`."""
    p = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=2, help="timed steps per configuration")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu", help="cpu or cuda")
    p.add_argument("--configs", nargs="+", default=list(configs), choices=list(configs), help="which sizes")
    return p


def precision_variants(device: str) -> list[tuple[bool, bool]]:
    """(bf16, torch.compile) settings to time: fp32 everywhere, plus bf16 and bf16 + compile on CUDA (never bf16 on
    the CPU, where it is about 100x slower)."""
    return [(False, False)] + ([(True, False), (True, True)] if device == "cuda" else [])


def maybe_compile(fn, backend: bool | str):
    """`fn` compiled by `torch.compile` with `backend` (True: inductor; a name: that backend), or `fn` (False)."""
    if not backend:
        return fn
    return torch.compile(fn, backend="inductor" if backend is True else backend)


def reset_peak_memory(device: str) -> None:
    """Start a new count of the peak GPU memory (nothing on the CPU)."""
    if torch.device(device).type == "cuda":
        torch.cuda.reset_peak_memory_stats()


def peak_memory_gib(device: str) -> float | None:
    """The most GPU memory held by tensors since the last `reset_peak_memory`, GiB (None on the CPU)."""
    if torch.device(device).type != "cuda":
        return None
    return round(torch.cuda.max_memory_allocated() / 2**30, 2)
