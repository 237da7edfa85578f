"""Reading motion files into plain dictionaries of numpy arrays: npz, npy, pickle and CSV.

Pickles are read with an allow-list unpickler that rebuilds numpy arrays and builtin containers only, so a motion
file cannot run code. Unreadable or truncated files end in a `UserError` naming the file.
"""

from __future__ import annotations

import io
import pickle
import zipfile
from pathlib import Path

import numpy as np

from utils.cli import UserError

ARRAY_KEY = "array"  # the key under which a file holding one bare array is returned
CONTAINER_SUFFIXES = (".npz", ".npy", ".pkl", ".pickle", ".csv")

_NUMPY_CORE = ("numpy.core.multiarray", "numpy._core.multiarray", "numpy.core.numeric", "numpy._core.numeric")
_SAFE_GLOBALS = {
    ("builtins", n) for n in ("dict", "list", "tuple", "set", "frozenset", "int", "float", "complex", "str", "bytes",
                              "bytearray", "bool", "slice")  # fmt: skip
} | {(mod, n) for mod in _NUMPY_CORE for n in ("_reconstruct", "scalar", "_frombuffer")} | {
    ("numpy", "ndarray"), ("numpy", "dtype"), ("collections", "OrderedDict"),
}  # fmt: skip
_DTYPE_MODULE = "numpy.dtypes"  # numpy >= 1.25 pickles dtypes as numpy.dtypes.<Kind>DType classes


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickles numpy arrays, numpy scalars and builtin containers; refuses every other global.

    The check runs before any import, on exact (module, name) pairs, so no other module is ever imported.
    """

    def find_class(self, module: str, name: str):
        if (module, name) in _SAFE_GLOBALS or (module == _DTYPE_MODULE and name.endswith("DType")):
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} (only numpy arrays and plain containers)")


def load_pickle(path: Path) -> object:
    """Unpickle a motion file safely (arrays and containers only). Python-2 pickles are read as latin1."""
    with open(path, "rb") as f:
        return _ArrayUnpickler(f, encoding="latin1").load()


def _load_npy_stream(f: io.BufferedIOBase) -> object:
    """An object array from an open .npy stream, through the safe unpickler; 0-d arrays give their item."""
    version = np.lib.format.read_magic(f)
    read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    _, _, dtype = read_header(f)
    if not dtype.hasobject:
        raise ValueError("unexpected object header")
    obj = _ArrayUnpickler(f, encoding="latin1").load()
    return obj.item() if isinstance(obj, np.ndarray) and obj.shape == () else obj


def _load_npy(path: Path) -> object:
    """A .npy array; an object array (a pickled dict saved with np.save) goes through the safe unpickler."""
    try:
        return np.load(path, allow_pickle=False)
    except ValueError as err:
        if "allow_pickle" not in str(err):
            raise
    with open(path, "rb") as f:
        return _load_npy_stream(f)


def _is_npy(path: Path) -> bool:
    """Whether a file starts with the .npy magic string, whatever its suffix."""
    with open(path, "rb") as f:
        return f.read(6) == b"\x93NUMPY"


def _as_array(value: object) -> np.ndarray:
    """Any unpickled value as an array (a ragged list becomes an object array, which no layout accepts)."""
    try:
        return np.asarray(value)
    except ValueError:
        return np.array(None, dtype=object)


def _as_dict(obj: object, path: Path) -> dict[str, np.ndarray]:
    if isinstance(obj, dict):
        return {str(k): _as_array(v) for k, v in obj.items()}
    if isinstance(obj, np.ndarray | list | tuple):
        return {ARRAY_KEY: _as_array(obj)}
    raise UserError(f"{path}: holds a {type(obj).__name__}, expected arrays or a dict of arrays")


def _load_npz(path: Path) -> dict[str, np.ndarray]:
    """The members of an npz; object members (pickled metadata) are read through the safe unpickler."""
    data = {}
    with np.load(path, allow_pickle=False) as f:
        for k in f.files:
            try:
                data[k] = f[k]
            except ValueError as err:
                if "allow_pickle" not in str(err):
                    raise
                with f.zip.open(f"{k}.npy") as member:
                    data[k] = _as_array(_load_npy_stream(io.BytesIO(member.read())))
    return data


def read_container(path: str | Path) -> dict[str, np.ndarray]:
    """The arrays in a motion file, by key; a file with one bare array gives `{"array": a}`.

    Raises `UserError` for a missing, unreadable, truncated or unknown-suffix file.
    """
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: motion file not found")
    suffix = path.suffix.lower()
    if suffix not in CONTAINER_SUFFIXES:
        raise UserError(f"{path}: unknown file type {suffix!r}; expected one of {', '.join(CONTAINER_SUFFIXES)}")
    try:
        if suffix == ".npz":
            data = _load_npz(path)
        elif suffix == ".npy" or _is_npy(path):  # Bailando saves its ".pkl" results with np.save
            data = _as_dict(_load_npy(path), path)
        elif suffix == ".csv":
            data = {ARRAY_KEY: np.loadtxt(path, delimiter=",", dtype=np.float64, ndmin=2)}
        else:
            data = _as_dict(load_pickle(path), path)
    except UserError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, pickle.UnpicklingError, IndexError, TypeError,
            AttributeError) as err:  # fmt: skip
        raise UserError(f"{path}: not a readable {suffix[1:]} file, truncated or corrupt ({err})") from err
    if len(data) == 1 and ARRAY_KEY not in data:  # an npz or dict with a single array: also visible as "array"
        data[ARRAY_KEY] = next(iter(data.values()))
    return data
