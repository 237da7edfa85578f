"""Where a command may write, checked before it writes: never over one of its inputs, never two inputs onto one
output, never over an earlier run's output unless the user asks (`--overwrite`), and into a folder it can write.

Every check ends in one `UserError` line naming the paths; paths are compared resolved (`a/../b` is `b`). Temporary
files of killed writers (`utils.atomic`) are outputs that never finished: `drop_unfinished` keeps them out of inputs.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from utils.atomic import temporary_name, temporary_pid
from utils.cli import UserError

logger = logging.getLogger(__name__)
SHOWN = 8  # paths named in one line; the rest are counted


def _resolved(path: Path) -> Path:
    return Path(path).expanduser().resolve()


def _named(paths: Sequence[object]) -> str:
    more = f" and {len(paths) - SHOWN} more" if len(paths) > SHOWN else ""
    return ", ".join(str(p) for p in paths[:SHOWN]) + more


def refuse_overwriting_inputs(outputs: Mapping[str, Path | None], inputs: Mapping[str, Path | None]) -> None:
    """`UserError` when an output path is an input path, or lies inside an input folder.

    Args:
        outputs: option (as the user typed it, e.g. "--out_dir") -> output file or folder; None is ignored.
        inputs: option -> input file or folder; None is ignored.
    """
    ins = {opt: _resolved(p) for opt, p in inputs.items() if p is not None}
    for out_opt, out in outputs.items():
        if out is None:
            continue
        target = _resolved(out)
        for in_opt, src in ins.items():
            if target == src or (src.is_dir() and src in target.parents):
                where = "is" if target == src else "lies inside"
                raise UserError(
                    f"{out_opt} {out} {where} the input {in_opt} {inputs[in_opt]}: it would write over "
                    "its own input; choose another output"
                )


def refuse_duplicate_outputs(planned: Mapping[Path, Sequence[Path]]) -> None:
    """`UserError` listing every output path that two inputs (or one input twice) would write.

    Args:
        planned: input -> the outputs it writes (`a.npz` and `a.pkl` both -> `out/a.npy` is a clash).
    """
    writers: dict[Path, list[Path]] = {}
    for src, outs in planned.items():
        for out in outs:
            writers.setdefault(_resolved(out), []).append(src)
    groups: dict[tuple[Path, ...], list[Path]] = {}  # the inputs of a clash -> the outputs they share
    for out, srcs in writers.items():
        if len(srcs) > 1:
            groups.setdefault(tuple(srcs), []).append(out)
    if groups:
        listed = "; ".join(
            f"{' + '.join(s.name for s in srcs) if len(set(srcs)) > 1 else f'{srcs[0].name} (twice)'} -> {_named(outs)}"
            for srcs, outs in groups.items()
        )
        raise UserError(
            f"{len(groups)} input group(s) would write the same output (rename an input or choose "
            f"other output folders): {listed}"
        )


def split_existing(outputs: Sequence[Path], overwrite: bool) -> tuple[list[Path], list[Path]]:
    """(outputs to write, outputs kept): an output that exists is kept unless `overwrite`. The kept ones are
    listed in one log line."""
    kept = [] if overwrite else [p for p in outputs if Path(p).exists()]
    skip = set(kept)
    if kept:
        logger.warning(
            "kept %d existing output(s) of an earlier run (--overwrite replaces them): %s", len(kept), _named(kept)
        )
    return [p for p in outputs if p not in skip], kept


def refuse_existing(output: Path, overwrite: bool) -> None:
    """`UserError` when the one output of a command exists and `overwrite` is off (checked before the work)."""
    if not overwrite and Path(output).exists():
        raise UserError(f"{output} exists (an earlier run's); give --overwrite to replace it or choose another output")


def check_writable(folder: Path, option: str) -> None:
    """Create `folder` and write a probe file in it: a one-line `UserError` now rather than after the work."""
    folder = Path(folder)
    probe = temporary_name(folder / "probe")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with open(probe, "wb"):
            pass
    except OSError as err:
        raise UserError(f"{option}: cannot write in {folder} ({err.strerror or err}); choose another output") from err
    finally:
        if probe.exists():
            os.unlink(probe)


def drop_unfinished(files: Sequence[Path]) -> list[Path]:
    """`files` without the temporary files of interrupted writes (`utils.atomic`); those are logged, never read."""
    unfinished = [p for p in files if temporary_pid(Path(p)) is not None]
    if unfinished:
        logger.warning(
            "ignoring %d unfinished temporary file(s) of an interrupted write: %s", len(unfinished), _named(unfinished)
        )
    return [p for p in files if temporary_pid(Path(p)) is None]
