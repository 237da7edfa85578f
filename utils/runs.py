"""Run folders and run-name chaining: `<checkpoints_dir>/<dataset>/<run>/` and the aliases between names.

`train_vq.py` stores its run under `--vq_name` (else `--name`) and records `--name` as an alias of it, so later
commands find the tokenizer by either name (DESIGN.md §5). Aliases live in `<checkpoints_dir>/<dataset>/aliases.json`.
"""

from __future__ import annotations

import json
from pathlib import Path

from utils.atomic import write_text
from utils.cli import UserError

ALIASES = "aliases.json"


def dataset_runs(checkpoints_dir: str | Path, dataset: str) -> Path:
    return Path(checkpoints_dir) / dataset


def register_alias(checkpoints_dir: str | Path, dataset: str, alias: str, run: str) -> None:
    """Record that `alias` names the run folder `run`."""
    if alias == run:
        return
    path = dataset_runs(checkpoints_dir, dataset) / ALIASES
    table = json.loads(path.read_text()) if path.is_file() else {}
    table[alias] = run
    write_text(path, json.dumps(table, indent=1, sort_keys=True) + "\n")


def available_runs(checkpoints_dir: str | Path, dataset: str) -> list[str]:
    """Run folders (with a model) and aliases of a dataset."""
    root = dataset_runs(checkpoints_dir, dataset)
    runs = sorted(p.name for p in root.glob("*") if (p / "model").is_dir()) if root.is_dir() else []
    aliases = json.loads((root / ALIASES).read_text()) if (root / ALIASES).is_file() else {}
    return runs + sorted(f"{a} (-> {r})" for a, r in aliases.items())


def find_run(checkpoints_dir: str | Path, dataset: str, *names: str | None) -> Path:
    """The folder of the first of `names` that is a run or an alias of one; else a one-line error listing them."""
    root = dataset_runs(checkpoints_dir, dataset)
    aliases = json.loads((root / ALIASES).read_text()) if (root / ALIASES).is_file() else {}
    for name in filter(None, names):
        for candidate in (name, aliases.get(name)):
            if candidate and (root / candidate / "model").is_dir():
                return root / candidate
    shown = ", ".join(available_runs(checkpoints_dir, dataset)) or "none"
    wanted = "' / '".join(filter(None, names))
    raise UserError(f"run '{wanted}' not found in {root}/; available: {shown}")


def claim_run(
    run_dir: str | Path, continuing: bool, overwrite: bool, flags: tuple[str, str] = ("--is_continue", "--overwrite")
) -> list[str]:
    """The checkpoints (`model/*.tar` names) of a run folder a training run may use: refused in one line when the
    run exists and neither `continuing` (resume) nor `overwrite` (replace) is asked, or when both are, or when
    there is nothing to resume. `flags`: how the command spells the two options."""
    model_dir = Path(run_dir) / "model"
    resume, replace = flags
    if continuing and overwrite:
        raise UserError(f"{resume} resumes a run and {replace} replaces it: give one of them")
    saved = sorted(p.name for p in model_dir.glob("*.tar")) if model_dir.is_dir() else []
    if continuing and "latest.tar" not in saved:
        raise UserError(
            f"{resume}: {model_dir / 'latest.tar'} not found (nothing to resume); start the run without {resume}"
        )
    if saved and not continuing and not overwrite:
        raise UserError(
            f"run {run_dir} exists (model/{', model/'.join(saved)}): resume it with {resume} or "
            f"replace it with {replace}"
        )
    return saved


def run_status(run_dir: str | Path) -> str:
    """Where a training run stands: "new" (no `model/latest.tar`), "interrupted" (its latest checkpoint is not the
    last save of a finished run: resume it with `--is_continue`) or "finished"."""
    from utils.checkpoint import load_checkpoint

    latest = Path(run_dir) / "model" / "latest.tar"
    if not latest.is_file():
        return "new"
    return "finished" if load_checkpoint(latest, mmap=True).get("finished") else "interrupted"
