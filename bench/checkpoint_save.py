"""Benchmark: what the atomic checkpoint writer costs; prints JSON.

    python bench/checkpoint_save.py [--sizes_mb 10 200] [--repeats 3] [--dir outputs]

`utils.checkpoint.save_checkpoint` (serialised in memory, then written under a unique temporary name, fsync of the
file and the folder, rename) against the plain `torch.save` to a fixed temporary name and a rename it replaced, on
one state dict of each size, in a folder of `--dir` (the disk checkpoints go to). Best of `--repeats`.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import torch

from utils.checkpoint import save_checkpoint
from utils.timing import machine_info


def best_seconds(save, state: dict, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        save(state)
        times.append(time.perf_counter() - t0)
    return round(min(times), 4)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes_mb", type=int, nargs="+", default=[10, 200], help="checkpoint sizes")
    p.add_argument("--repeats", type=int, default=3, help="timed saves per writer and size (the best is kept)")
    p.add_argument("--dir", type=Path, default=Path("outputs"), help="a folder on the disk checkpoints go to")
    args = p.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    rows = {}
    with tempfile.TemporaryDirectory(dir=args.dir) as folder:
        plain, atomic = Path(folder) / "plain.tar", Path(folder) / "atomic.tar"

        def torch_save(state):
            torch.save(state, plain.with_suffix(".tmp"))
            os.replace(plain.with_suffix(".tmp"), plain)

        for mb in args.sizes_mb:
            state = {"weights": torch.randn(mb * 2**20 // 4)}
            rows[f"{mb} MB"] = {
                "torch.save + rename (s)": best_seconds(torch_save, state, args.repeats),
                "save_checkpoint (s)": best_seconds(lambda s: save_checkpoint(atomic, s), state, args.repeats),
            }
    print(json.dumps({"benchmark": "checkpoint_save", "machine": machine_info(), "results": rows}, indent=1))


if __name__ == "__main__":
    main()
