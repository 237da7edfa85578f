"""Atomic file writes: the one way the project writes a file a user keeps (checkpoints, dataset files, dances, videos,
reports).

`atomic_path(target)` yields a temporary path beside the target, unique to this process and call
(`.<stem>.<pid>-<random>.tmp<suffix>`, so two processes writing one target never share it and writers that infer
the format from the suffix still do); when the body returns, the file is flushed to the disk (fsync), renamed over
the target and the folder's entry is flushed too, so after a power loss the target is either the old file or the new
one, whole. On any failure the temporary file is removed and the target is untouched; a full disk (or a file-size
limit) ends in one line (`UserError`). A process killed mid-write leaves its temporary file behind:
`remove_stale_temporaries` deletes those of processes that no longer run (the trainer calls it on its model folder).
"""

from __future__ import annotations

import errno
import io
import json
import os
import re
import resource
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from utils.cli import UserError

DISK_FULL = {errno.ENOSPC, errno.EFBIG, errno.EDQUOT}
_CHUNK = 1 << 24  # bytes written per call


def temporary_name(target: Path) -> Path:
    """A fresh temporary path beside `target`, with its suffix."""
    return target.with_name(f".{target.stem}.{os.getpid()}-{secrets.token_hex(4)}.tmp{target.suffix}")


def _fsync_path(path: Path, directory: bool = False) -> None:
    fd = os.open(path, os.O_RDONLY | (os.O_DIRECTORY if directory else 0))
    try:
        os.fsync(fd)
    except OSError as err:  # some file systems (FUSE, network mounts) cannot flush a folder: the file is written
        if not directory or err.errno not in (errno.EINVAL, errno.ENOTSUP, errno.ENOSYS):
            raise
    finally:
        os.close(fd)


def disk_full_error(target: Path, err: OSError) -> UserError:
    """The one-line error of a write that ran out of space (or into the file-size limit)."""
    kept = f"; the previous {target.name} is unchanged" if target.exists() else ""
    return UserError(f"cannot write {target}: {os.strerror(err.errno)} (free some space or write elsewhere){kept}")


def out_of_space(*paths: Path) -> int | None:
    """ENOSPC when the disk of `paths` is (nearly) full, EFBIG when one of them reached the file-size limit, else
    None: for writers whose errors carry no errno (ffmpeg, torch's zip writer)."""
    soft = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
    for path in paths:
        if soft != resource.RLIM_INFINITY and path.is_file() and path.stat().st_size >= soft:
            return errno.EFBIG
    folder = paths[0].parent if paths else Path(".")
    return errno.ENOSPC if shutil.disk_usage(folder).free < (1 << 20) else None


@contextmanager
def atomic_path(target: str | Path) -> Iterator[Path]:
    """Yield a temporary path to write `target` to; on success it replaces `target` durably, on failure it is
    removed and `target` is untouched (a full disk: `UserError`)."""
    target = Path(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise UserError(f"cannot create the folder {target.parent}: {err.strerror}") from err
    if target.is_dir():
        raise UserError(f"cannot write {target}: it is a folder")
    tmp = temporary_name(target)
    try:
        yield tmp
        _fsync_path(tmp)
        os.replace(tmp, target)
        _fsync_path(target.parent, directory=True)
    except BaseException as err:
        tmp.unlink(missing_ok=True)
        if isinstance(err, OSError) and err.errno in DISK_FULL:
            raise disk_full_error(target, err) from err
        if isinstance(err, PermissionError):
            raise UserError(f"cannot write {target}: permission denied") from err
        raise


def write_bytes(target: str | Path, data: bytes | memoryview) -> Path:
    """Write `data` to `target` atomically."""
    target = Path(target)
    view = memoryview(data).cast("B")
    with atomic_path(target) as tmp, open(tmp, "wb") as f:
        for start in range(0, len(view), _CHUNK):
            f.write(view[start : start + _CHUNK])
    return target


def write_text(target: str | Path, text: str) -> Path:
    return write_bytes(target, text.encode())


def write_json(target: str | Path, value, indent: int | None = 1) -> Path:
    return write_text(target, json.dumps(value, indent=indent) + "\n")


def save_npy(target: str | Path, array: np.ndarray) -> Path:
    """`np.save` atomically (the name is kept as given: no `.npy` appended)."""
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(array))
    return write_bytes(target, buffer.getbuffer())


def save_npz(target: str | Path, **arrays) -> Path:
    """`np.savez` atomically."""
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return write_bytes(target, buffer.getbuffer())


_TEMPORARY = re.compile(r"^\..*\.(?P<pid>\d+)-[0-9a-f]{8}\.tmp")


def temporary_pid(path: Path) -> int | None:
    """The process id in a name `temporary_name` made (None: not such a name)."""
    match = _TEMPORARY.match(path.name)
    return int(match["pid"]) if match else None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_temporaries(folder: str | Path) -> list[Path]:
    """Delete the temporary files in `folder` left by processes that no longer run (killed mid-write)."""
    removed = []
    for path in Path(folder).glob(".*.tmp*") if Path(folder).is_dir() else []:
        pid = temporary_pid(path)
        if pid is not None and pid != os.getpid() and not _pid_alive(pid):
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed
