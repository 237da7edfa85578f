"""Reading motion files into plain dictionaries of numpy arrays: npz, npy, pickle and CSV.

Pickles are read with an allow-list unpickler that rebuilds numpy arrays and builtin containers only, so a motion
file cannot run code, and nothing a file describes may need more memory than the file's size (pickled sizes, `.npy`
headers). Unreadable or truncated files end in a `UserError` naming the file.
"""

from __future__ import annotations

import functools
import io
import math
import pickle
import struct
import tokenize
import warnings
import zipfile
from pathlib import Path

import numpy as np

from utils.cli import UserError

ARRAY_KEY = "array"  # the key under which a file holding one bare array is returned
CONTAINER_SUFFIXES = (".npz", ".npy", ".pkl", ".pickle", ".csv")
MIN_BUDGET = 1 << 20  # bytes a small file may still ask for (a pickle builds nothing larger than itself)

_NUMPY_CORE = ("numpy.core.multiarray", "numpy._core.multiarray", "numpy.core.numeric", "numpy._core.numeric")
_PLAIN = (
    {
        ("builtins", n)
        for n in ("dict", "list", "tuple", "set", "frozenset", "int", "float", "complex", "str", "bool", "slice")
    }
    | {("collections", "OrderedDict"), ("numpy", "dtype")}
    | {(mod, "_frombuffer") for mod in _NUMPY_CORE}
)
_DTYPE_MODULE = "numpy.dtypes"  # numpy >= 1.25 pickles dtypes as numpy.dtypes.<Kind>DType classes


def _n_items(shape: object) -> int:
    """Items of an array of `shape` (Python integers: no overflow)."""
    dims = (shape,) if isinstance(shape, int) else tuple(shape)
    if not all(isinstance(d, int) and d >= 0 for d in dims):
        raise pickle.UnpicklingError(f"bad array shape {shape!r}")
    return math.prod(dims)


def _n_bytes(shape: object, dtype: object) -> int:
    """Bytes an array of `shape` and `dtype` needs."""
    return _n_items(shape) * np.dtype(dtype).itemsize


def _plain_dtype_state(dtype: np.dtype, state: object) -> bool:
    """Whether a pickled dtype state only sets the byte order of a plain dtype (no fields, sub-arrays, metadata)."""
    if not isinstance(state, tuple) or len(state) not in (8, 9) or (len(state) == 9 and state[8] is not None):
        return False
    _, order, subarray, names, fields, size, align, flags = state[:8]
    return (
        order in ("<", ">", "|", "=")
        and subarray is None
        and names is None
        and fields is None
        and size in (-1, dtype.itemsize)
        and align in (-1, dtype.alignment)
        and flags == dtype.flags
        and dtype.fields is None
    )


class _ArrayUnpickler(pickle._Unpickler):
    """Unpickles numpy arrays, numpy scalars and builtin containers; refuses every other global.

    The check runs before any import, on exact (module, name) pairs, so no other module is ever imported. Nothing
    the pickle builds may need more than `budget` bytes (`bytes(2**60)`, an array of a huge shape): a pickle of N
    bytes holds at most about N bytes of data. The pure-Python unpickler (`pickle._Unpickler`) is used so that array
    states (BUILD) are checked too; protocol-2 pickles spell bytes as `_codecs.encode(text, "latin1")`, the one
    codec call allowed.
    """

    dispatch = dict(pickle._Unpickler.dispatch)

    def __init__(self, data: bytes, budget: int) -> None:
        super().__init__(io.BytesIO(data), encoding="latin1")  # reads past the end fail instead of allocating
        self.budget = max(budget, MIN_BUDGET)

    def _bound(self, n_bytes: int, what: str) -> None:
        if n_bytes > self.budget:
            raise pickle.UnpicklingError(f"{what} asks for {n_bytes} bytes, more than the file can hold")

    def _bytes(self, kind: type, *args):
        if args and isinstance(args[0], int):
            self._bound(args[0], kind.__name__)
        return kind(*args)

    def _array(self, shape=(), dtype=float, buffer=None, *args, **kwargs):  # numpy.ndarray's signature
        if buffer is None:
            self._bound(_n_bytes(shape, dtype), "an array")
        return np.ndarray(shape, dtype, buffer, *args, **kwargs)

    def _reconstruct(self, reconstruct, subtype, shape, dtype):
        if subtype != self._array:  # the pickle's numpy.ndarray is this bounded stand-in
            raise pickle.UnpicklingError("only plain numpy arrays are rebuilt")
        self._bound(_n_bytes(shape, dtype), "an array")
        return reconstruct(np.ndarray, shape, dtype)

    def _scalar(self, scalar, dtype, *args):
        self._bound(np.dtype(dtype).itemsize, "a numpy scalar")
        return scalar(dtype, *args)

    @staticmethod
    def _latin1(text, encoding="latin1", errors="strict"):
        if not isinstance(text, str) or encoding.lower() not in ("latin1", "latin-1"):
            raise pickle.UnpicklingError("refusing _codecs.encode other than latin1 text")
        return text.encode("latin1", errors)

    def find_class(self, module: str, name: str):
        if (module, name) in _PLAIN or (module == _DTYPE_MODULE and name.endswith("DType")):
            return super().find_class(module, name)
        if (module, name) in (("builtins", "bytes"), ("builtins", "bytearray")):
            return functools.partial(self._bytes, bytes if name == "bytes" else bytearray)
        if (module, name) == ("_codecs", "encode"):
            return self._latin1
        if (module, name) == ("numpy", "ndarray"):
            return self._array
        if module in _NUMPY_CORE and name in ("_reconstruct", "scalar"):
            bounded = self._reconstruct if name == "_reconstruct" else self._scalar
            return functools.partial(bounded, super().find_class(module, name))
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} (only numpy arrays and plain containers)")

    def load_build(self) -> None:
        """BUILD, with an array's state `(version, shape, dtype, fortran, data)` bounded before numpy allocates and
        a dtype's state limited to its byte order (a garbled dtype state corrupts numpy's internals)."""
        state, inst = self.stack[-1], self.stack[-2]
        if isinstance(inst, np.ndarray):
            if not isinstance(state, tuple) or len(state) not in (4, 5) or not isinstance(state[-3], np.dtype):
                raise pickle.UnpicklingError("bad array state")
            shape, dtype, data = state[-4], state[-3], state[-1]
            self._bound(_n_bytes(shape, dtype), "an array")
            if dtype.hasobject and not (isinstance(data, list) and len(data) == _n_items(shape)):
                raise pickle.UnpicklingError("an object array's items do not match its shape")  # numpy would crash
        elif isinstance(inst, np.dtype) and not _plain_dtype_state(inst, state):
            raise pickle.UnpicklingError(f"refusing the dtype state {state!r} (plain numeric or text dtypes only)")
        pickle._Unpickler.load_build(self)

    dispatch[pickle.BUILD[0]] = load_build


def _unpickle(data: bytes, budget: int) -> object:
    with warnings.catch_warnings():  # numpy's deprecation notes on old or odd pickles: the result is checked anyway
        warnings.simplefilter("ignore")
        return _ArrayUnpickler(data, budget).load()


def load_pickle(path: Path) -> object:
    """Unpickle a motion file safely (arrays and containers only). Python-2 pickles are read as latin1."""
    data = Path(path).read_bytes()
    return _unpickle(data, len(data))


def _checked_npy_dtype(f: io.BufferedIOBase, size: int) -> np.dtype:
    """Read a .npy header; refuse one whose array needs more bytes than the `size` bytes of the file."""
    version = np.lib.format.read_magic(f)
    read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    shape, _, dtype = read_header(f)
    if not dtype.hasobject and _n_bytes(shape, dtype) > size:
        raise ValueError(f"the header's array {shape} {dtype} needs more bytes than the file has ({size})")
    return dtype


def _load_npy_stream(f: io.BufferedIOBase, size: int) -> object:
    """An array from an open .npy stream of `size` bytes; an object array goes through the safe unpickler (0-d
    arrays give their item)."""
    start = f.tell()
    if not _checked_npy_dtype(f, size).hasobject:
        f.seek(start)
        return np.lib.format.read_array(f, allow_pickle=False)
    obj = _unpickle(f.read(), size)
    return obj.item() if isinstance(obj, np.ndarray) and obj.shape == () else obj


def _load_npy(path: Path) -> object:
    """A .npy array; an object array (a pickled dict saved with np.save) goes through the safe unpickler."""
    with open(path, "rb") as f:
        return _load_npy_stream(f, path.stat().st_size)


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
    """The `.npy` members of an npz, each header checked against the member's size; object members (pickled
    metadata) are read through the safe unpickler."""
    data = {}
    with zipfile.ZipFile(path) as z:
        for info in z.infolist():
            if info.filename.endswith(".npy"):
                with z.open(info) as member:
                    data[info.filename[:-4]] = _as_array(_load_npy_stream(member, info.file_size))
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
    except (
        OSError,
        ValueError,
        EOFError,
        zipfile.BadZipFile,
        pickle.UnpicklingError,
        IndexError,
        TypeError,
        AttributeError,
        KeyError,
        struct.error,
        OverflowError,
        RecursionError,
        SyntaxError,
        tokenize.TokenError,
        NotImplementedError,
        RuntimeError,
    ) as err:  # corrupt headers, zip features, encrypted members
        raise UserError(f"{path}: not a readable {suffix[1:]} file, truncated or corrupt ({err})") from err
    except MemoryError as err:  # a last resort: the checks above bound what a file may ask for
        raise UserError(f"{path}: asks for more memory than this machine has; truncated or corrupt") from err
    if len(data) == 1 and ARRAY_KEY not in data:  # an npz or dict with a single array: also visible as "array"
        data[ARRAY_KEY] = next(iter(data.values()))
    return data
