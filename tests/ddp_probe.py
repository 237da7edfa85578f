"""A tiny stage of the shared training loop for the multi-process tests: every rank records, per step, the sample
indices of its batch and its model's random draws (dropout masks, a torch.rand "mask"), then writes them with its
final weights' checksum to `<run>/probe-rank<r>.json`. Run as a script under `accelerate launch`, or in-process.

    python tests/ddp_probe.py RUN_DIR [--max_steps N] [--batch_size B] [--is_continue] ...
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import Dataset

from utils.cli import setup_logging, user_errors_exit
from utils.trainer import Trainer


class Indices(Dataset):
    """Item i: (i, features of i), a pure function of i."""

    def __init__(self, n: int = 64) -> None:
        self.x = torch.linspace(-1, 1, n * 4).reshape(n, 4)

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> dict:
        return {"index": torch.tensor(i), "x": self.x[i]}


class ProbeTrainer(Trainer):
    stage = "probe"

    def __init__(self, opt, run_dir) -> None:
        super().__init__(opt, run_dir)
        self.records: list[dict] = []

    def build_data(self):
        return Indices(), None

    def build_model(self) -> nn.Module:
        width = getattr(self.opt, "width", 16)
        return nn.Sequential(nn.Linear(4, width), nn.Dropout(0.5), nn.Linear(width, 1))

    def training_step(self, model, batch) -> dict[str, torch.Tensor]:
        draw = torch.rand(3, device=self.device)  # stands for a mask or a condition drop
        out = model(batch["x"].to(self.device))[:, 0]
        loss = ((out - batch["x"][:, 0].to(self.device)) ** 2).mean() + draw.sum() * 0.0
        self.records.append(
            {
                "index": batch["index"].tolist(),
                "draw": draw.tolist(),
                "out": out.tolist(),
                "broadcast_buffers": getattr(model, "broadcast_buffers", None),
            }
        )
        return {"loss": loss + out.abs().mean() * draw[0] * 1e-2}

    def fit(self) -> dict:
        metrics = super().fit()
        total = float(sum(p.detach().double().sum() for p in self.trained.parameters()))
        out = {
            "rank": self.accelerator.process_index,
            "world": self.accelerator.num_processes,
            "records": self.records,
            "checksum": total,
        }
        (self.run_dir / f"probe-rank{out['rank']}.json").write_text(json.dumps(out))
        return metrics

    def checkpoint_extra(self) -> dict:
        return {}


def options(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    p.add_argument("run_dir", type=Path)
    p.add_argument("--seed", type=int, default=5)
    p.add_argument("--batch_size", type=int, default=4)
    p.add_argument("--max_steps", type=int, default=6)
    p.add_argument("--max_epoch", type=int, default=100)
    p.add_argument("--save_latest", type=int, default=0)
    p.add_argument("--log_every", type=int, default=2)
    p.add_argument("--mixed_precision", default="no")
    p.add_argument("--is_continue", action="store_true")
    p.add_argument("--overwrite", action="store_true")
    p.add_argument("--width", type=int, default=16, help="hidden width (a wider model makes slower saves)")
    args = p.parse_args(argv)
    fixed = {
        "lr": 1e-2,
        "weight_decay": 0.0,
        "warm_up_iter": 0,
        "milestones": [10**9],
        "gamma": 0.1,
        "grad_clip": 1.0,
        "eval_every_e": 1,
        "gpu_id": -1,
        "workers": 0,
        "compile": False,
    }
    return argparse.Namespace(**vars(args), **fixed)


@user_errors_exit
def main(argv: list[str] | None = None) -> dict:
    setup_logging()
    opt = options(argv)
    return ProbeTrainer(opt, opt.run_dir).fit()


if __name__ == "__main__":
    main(sys.argv[1:])
