"""Shared CLI plumbing: logging set-up and the one-line exit for expected user errors."""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import Callable

logger = logging.getLogger(__name__)


class UserError(ValueError):
    """An expected problem with the user's input (bad file, wrong option): reported in one line, exit code 2."""


def setup_logging(level: int = logging.INFO) -> None:
    """Configure the root logger once for a command-line run."""
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S")


def inference_device(gpu_id: int):
    """`--gpu_id` as a torch device for inference: that GPU, or the CPU (with a warning when CUDA is missing)."""
    import torch

    if gpu_id >= 0 and torch.cuda.is_available():
        if gpu_id >= torch.cuda.device_count():
            raise UserError(f"--gpu_id {gpu_id}: this machine has {torch.cuda.device_count()} GPU(s)")
        return torch.device("cuda", gpu_id)
    if gpu_id >= 0:
        logger.warning("--gpu_id %d: no CUDA device on this machine, running on the CPU", gpu_id)
    return torch.device("cpu")


def user_errors_exit(fn: Callable) -> Callable:
    """Wrap a CLI `main`: expected user errors end with one line on stderr and exit code 2, no traceback."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except (UserError, FileNotFoundError) as err:
            msg = str(err) if isinstance(err, UserError) or not err.filename else f"file not found: {err.filename}"
            sys.stderr.write(f"error: {msg}\n")
            sys.exit(2)
        except (NotADirectoryError, PermissionError) as err:  # an output folder under a file, a read-only place
            if not err.filename:
                raise
            sys.stderr.write(f"error: cannot use {err.filename}: {err.strerror}\n")
            sys.exit(2)

    return wrapper
