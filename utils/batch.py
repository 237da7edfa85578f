"""Batches and folder runs: `collate_batches` (whole batches from `__getitems__`), `EpochSampler` (an epoch's data
order, a pure function of seed and epoch), and folder runs: apply one step to many files, skip the bad ones with
their reason, and report every skip at the end.

A problem with one item skips it (expected ones, `UserError`: unreadable file, wrong layout, NaN, ...; anything else
with its exception type, the traceback at debug level) and the run goes on. Nothing is lost silently: every skipped
item is logged with its reason and returned; the run fails only when no item worked.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import Sampler
from tqdm import tqdm

from utils.cli import UserError

logger = logging.getLogger(__name__)


@dataclass
class BatchReport:
    """What a folder run did.

    Args:
        done: (item, result) for every item that worked.
        skipped: (item, reason) for every item that was skipped.
    """

    done: list[tuple[Path, Any]] = field(default_factory=list)
    skipped: list[tuple[Path, str]] = field(default_factory=list)

    @property
    def results(self) -> list[Any]:
        """The step's result for every item that worked, in order."""
        return [result for _, result in self.done]

    def log_summary(self, what: str, dest: Path | None = None) -> None:
        """One info line with the counts (and where the outputs went), then one warning line per skipped item."""
        where = f" -> {dest}" if dest is not None else ""
        logger.info("%s: %d done%s, %d skipped", what, len(self.done), where, len(self.skipped))
        if self.skipped:
            logger.warning("skipped %d file(s):", len(self.skipped))
            for item, reason in self.skipped:
                logger.warning("  %s: %s", item, reason)


def run_batch(items: Sequence[Path], step: Callable[[Path], Any], desc: str, dest: Path | None = None) -> BatchReport:
    """Run `step` on every item with a progress bar; an item whose step raises is skipped and reported at the end.

    `dest` (where the outputs go) is named in the summary. Raises `UserError` when every item failed.
    """
    report = BatchReport()
    for item in tqdm(items, desc=desc, unit="file", disable=len(items) < 2):
        try:
            report.done.append((item, step(item)))
        except Exception as err:  # noqa: BLE001  (one bad file never stops the others; each reason is listed)
            reason = str(err).removeprefix(f"{item}: ")
            if not isinstance(err, UserError):
                reason = f"{type(err).__name__}: {reason}"
                logger.debug("%s failed", item, exc_info=True)
            logger.warning("skipping %s: %s", item, reason)
            report.skipped.append((item, reason))
    report.log_summary(desc, dest)
    if items and not report.done:
        raise UserError(f"{desc}: none of the {len(items)} file(s) could be processed (see the list above)")
    return report


def list_files(folder: Path, suffixes: Iterable[str], recursive: bool = False, limit: int = 0) -> list[Path]:
    """Files under `folder` with one of the suffixes, sorted (the first `limit` when > 0); an error when none."""
    suffixes = tuple(s.lower() for s in suffixes)
    pattern = "**/*" if recursive else "*"
    files = sorted(p for p in folder.glob(pattern) if p.is_file() and p.suffix.lower() in suffixes)
    if not files:
        raise UserError(f"{folder}: no {'/'.join(suffixes)} files found")
    return files[:limit] if limit > 0 else files


def collate_batches(batch: dict | list) -> dict | list:
    """A DataLoader's `collate_fn`: batches from a dataset's `__getitems__` are already stacked; a list of single
    items is stacked here."""
    import torch  # here: the folder-run helpers above are used by scripts that never load torch

    if isinstance(batch, dict | torch.Tensor):
        return batch
    return torch.utils.data.default_collate(batch)


class EpochSampler(Sampler[int]):
    """The data order of one epoch: a permutation seeded by (seed, epoch), starting at position `start`."""

    def __init__(self, n: int, seed: int, epoch: int, start: int = 0, shuffle: bool = True) -> None:
        self.n, self.seed, self.epoch, self.start, self.shuffle = n, seed, epoch, start, shuffle

    def __iter__(self) -> Iterator[int]:
        if not self.shuffle:
            return iter(range(self.start, self.n))
        g = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        return iter(torch.randperm(self.n, generator=g)[self.start :].tolist())

    def __len__(self) -> int:
        return max(0, self.n - self.start)
