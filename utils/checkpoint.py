"""Checkpoints that load with `torch.load(weights_only=True)`: tensors and plain data only, written atomically.

A checkpoint is a dict of state dicts (tensors), options and configs as plain data (str, int, float, bool, None,
lists, dicts) and RNG states as tensors, so a downloaded checkpoint cannot run code. `save_checkpoint` writes through
`utils.atomic`, so an interrupted save never leaves a half-written `latest.tar`.
"""

from __future__ import annotations

import hashlib
import io
import random
from pathlib import Path

import numpy as np
import torch

from utils.atomic import write_bytes
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
    state = {
        "torch": torch.get_rng_state(),
        "numpy": {
            "keys": torch.from_numpy(np_state[1].astype(np.int64)),
            "pos": int(np_state[2]),
            "has_gauss": int(np_state[3]),
            "cached_gaussian": float(np_state[4]),
        },
        "python": plain(random.getstate()),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state()
    return state


def set_rng_state(state: dict) -> None:
    """Restore `rng_state()`."""
    torch.set_rng_state(state["torch"])
    n = state["numpy"]
    np.random.set_state(
        ("MT19937", n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached_gaussian"])
    )
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    cuda = state.get("cuda")
    if isinstance(cuda, list):  # older checkpoints: every device's state; this process uses its current device
        cuda = (
            cuda[torch.cuda.current_device()]
            if torch.cuda.is_available() and torch.cuda.current_device() < len(cuda)
            else None
        )
    if cuda is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state(cuda)


def save_checkpoint(path: str | Path, payload: dict) -> Path:
    """Write `payload` atomically (`utils.atomic`: a unique temporary file, fsync, rename, fsync of the folder; a full
    disk is one line and leaves the previous file). Serialised in memory first: torch's own file writer reports a
    full disk as an untyped RuntimeError."""
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    return write_bytes(path, buffer.getbuffer())


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu", mmap: bool = False) -> dict:
    """Load a checkpoint safely (`weights_only=True`); a missing or unreadable file is a one-line error. `mmap`:
    tensors are mapped, not read (to look at a record of a large checkpoint)."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"checkpoint {path} not found")
    try:
        return torch.load(path, map_location=map_location, weights_only=True, mmap=mmap)
    except Exception as err:  # pickle errors of many kinds: report them in one line
        raise UserError(f"{path}: not a loadable checkpoint ({type(err).__name__}: {err})") from err


def file_fingerprint(path: str | Path, chunk: int = 1 << 22) -> str:
    """sha256 of a file's bytes (hex): the content fingerprint of a checkpoint (or of a music file)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def upstream_record(path: str | Path, **about) -> dict:
    """What a checkpoint records of an upstream checkpoint it was trained on or reads: the file (absolute), its
    content fingerprint, and `about` (run name, which checkpoint, ...)."""
    path = Path(path).resolve()
    return {**about, "file": str(path), "fingerprint": file_fingerprint(path)}


def check_upstream(path: str | Path, fingerprint: str | None, what: str, user: str, fix: str) -> None:
    """Refuse (one line) an upstream checkpoint `path` whose content is not the one `user` recorded (`fingerprint`;
    None: recorded before fingerprints, accepted). `what` names the upstream, `fix` says what to do."""
    if fingerprint is None:
        return
    now = file_fingerprint(path)
    if now != fingerprint:
        raise UserError(
            f"{what} ({path}) is not the checkpoint {user} was trained on (content {now[:12]}, recorded "
            f"{fingerprint[:12]}): it was retrained or continued since; {fix}"
        )


def nonfinite_tensors(state_dict: dict) -> list[str]:
    """Names of the floating-point tensors of a state dict that hold NaN or Inf."""
    names = [k for k, v in state_dict.items() if torch.is_tensor(v) and v.is_floating_point()]
    if not names:
        return []
    finite = torch.stack([torch.isfinite(state_dict[k]).all() for k in names]).cpu()  # one host sync
    return [k for k, ok in zip(names, finite.tolist(), strict=True) if not ok]


def rebuild_config(cls, fields, path: str | Path, what: str):
    """`cls(**fields)`, the configuration a checkpoint records; one line when it does not describe a `what`."""
    try:
        return cls(**fields)
    except (TypeError, ValueError) as err:
        raise UserError(f"{path}: its {what} configuration is not one this version can build ({err})") from err


def load_weights(module: torch.nn.Module, state: dict, path: str | Path) -> None:
    """`module.load_state_dict(state)`; one line naming the first mismatch when the weights do not fit."""
    try:
        module.load_state_dict(state)
    except (RuntimeError, KeyError, TypeError, ValueError) as err:
        lines = [line.strip() for line in str(err).splitlines() if line.strip()]
        raise UserError(
            f"{path}: its weights do not fit the model it describes ({lines[-1] if lines else err})"
        ) from err


LOCATION_KEYS = ("file", "clip_mmr", "clip_dir", "mmr")  # where an upstream file was: a moved folder is no change


def config_differences(saved: dict, now: dict) -> list[str]:
    """The keys of a recorded configuration that differ from the current one, or that this version does not know.
    Keys the record lacks (an older version wrote it), file locations (`LOCATION_KEYS`) and fingerprints one side
    lacks are not differences."""

    def differs(k: str) -> bool:
        if k in LOCATION_KEYS or (k.endswith("fingerprint") and None in (saved[k], now[k])):
            return False
        return saved[k] != now[k]

    return sorted({k for k in saved.keys() & now.keys() if differs(k)} | (saved.keys() - now.keys()))
