"""Values read out of a user's file as arrays: is it a real-valued number array, one number with its default.

Generic (no motion or music layout): `data.formats.fields` builds its typed motion fields on these, and the
evaluation and plot inputs use them directly.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from utils.cli import UserError


def is_numeric(a: object) -> bool:
    """A real-valued numeric array (integers or floats; not strings, objects or complex numbers)."""
    return isinstance(a, np.ndarray) and (np.issubdtype(a.dtype, np.floating) or np.issubdtype(a.dtype, np.integer))


def scalar(arrays: dict[str, np.ndarray], key: str, default: float, path: Path) -> float:
    """A scalar entry (e.g. a frame rate) or its default."""
    if key not in arrays:
        return default
    a = arrays[key]
    if not is_numeric(a) or a.size != 1:
        raise UserError(f"{path}: {key} must be one number, got {np.shape(a)} {np.asarray(a).dtype}")
    return float(a.reshape(-1)[0])
