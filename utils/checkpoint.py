"""Checkpoints that load with `torch.load(weights_only=True)`: tensors and plain data only, written atomically.

A checkpoint is a dict of state dicts (tensors), options and configs as plain data (str, int, float, bool, None,
lists, dicts) and RNG states as tensors, so a downloaded checkpoint cannot run code. `save_checkpoint` writes to a
temporary file beside the target and renames it, so an interrupted save never leaves a half-written `latest.tar`.
"""

from __future__ import annotations

import os
import random
from pathlib import Path

import numpy as np
import torch

from utils.cli import UserError


def plain(value):
    """Options and configs as plain data: Paths and tuples become str and lists, recursively."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, np.generic):
        return value.item()
    return value


def rng_state() -> dict:
    """Every RNG this process touches: torch (CPU and its CUDA device), numpy's global, Python's. Tensors and plain
    data. Each rank saves its own (one GPU per process)."""
    np_state = np.random.get_state()
    state = {"torch": torch.get_rng_state(),
             "numpy": {"keys": torch.from_numpy(np_state[1].astype(np.int64)), "pos": int(np_state[2]),
                       "has_gauss": int(np_state[3]), "cached_gaussian": float(np_state[4])},
             "python": plain(random.getstate())}  # fmt: skip
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state()
    return state


def set_rng_state(state: dict) -> None:
    """Restore `rng_state()`."""
    torch.set_rng_state(state["torch"])
    n = state["numpy"]
    np.random.set_state(("MT19937", n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"],
                         n["cached_gaussian"]))  # fmt: skip
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    cuda = state.get("cuda")
    if isinstance(cuda, list):  # older checkpoints: every device's state; this process uses its current device
        cuda = cuda[torch.cuda.current_device()] if torch.cuda.is_available() and \
            torch.cuda.current_device() < len(cuda) else None  # fmt: skip
    if cuda is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state(cuda)


def save_checkpoint(path: str | Path, payload: dict) -> Path:
    """Write `payload` atomically (temporary file, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(payload, tmp)
    os.replace(tmp, path)
    return path


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict:
    """Load a checkpoint safely (`weights_only=True`); a missing or unreadable file is a one-line error."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"checkpoint {path} not found")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # pickle errors of many kinds: report them in one line
        raise UserError(f"{path}: not a loadable checkpoint ({type(err).__name__}: {err})") from err
