"""Small helpers for the benchmarks in `bench/`: best-of-N wall-clock timing and a description of the machine."""

from __future__ import annotations

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


def machine_info() -> dict:
    """CPU, core count and library versions, for the JSON a benchmark prints."""
    return {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
            "torch_threads": torch.get_num_threads(), "numpy": np.__version__, "torch": torch.__version__}  # fmt: skip
