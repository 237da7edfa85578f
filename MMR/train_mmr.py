"""Train MMR (music-motion retrieval) with Hydra, on the shared training loop.

    cd MMR && python train_mmr.py model=mmr data=souldance run_dir=outputs/mmr_res
    python MMR/train_mmr.py data=synthetic trainer.max_epoch=20 trainer.gpu_id=-1 run_dir=outputs/mmr_synthetic

The run folder `run_dir` holds Hydra's composed config (`hydra/config.yaml`), `opt.txt`/`opt.json`,
`model/latest.tar`, `model/best.tar` (highest R@1 on held-out batches of 32) and TensorBoard logs. Configs:
`MMR/configs/` (model/, data/ for souldance, aistpp, finedance, synthetic, custom; trainer/).
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import hydra

from options.mmr_config import check_overrides, checked_config, register_configs
from training.mmr import MMRTrainer
from utils.cli import UserError
from utils.runs import claim_run

logger = logging.getLogger("train_mmr")
CONFIG_DIR = Path(__file__).resolve().parent / "configs"
register_configs()


def check_group_choices(argv: list[str]) -> None:
    """Refuse an unknown `model=`, `data=` or `trainer=` choice in one line (Hydra's own message spans a screen)."""
    for arg in argv:
        group, sep, choice = arg.partition("=")
        if sep and (CONFIG_DIR / group).is_dir() and not (CONFIG_DIR / group / f"{choice}.yaml").is_file():
            known = ", ".join(sorted(f.stem for f in (CONFIG_DIR / group).glob("*.yaml")))
            raise UserError(f"unknown {group}={choice}; choose one of: {known} (MMR/configs/{group}/)")


@hydra.main(version_base=None, config_path="configs", config_name="train_mmr")
def main(cfg) -> None:
    try:
        metrics = MMRTrainer(checked_config(cfg), Path(cfg.run_dir)).fit()
    except (UserError, FileNotFoundError) as err:
        sys.stderr.write(f"error: {err}\n")
        sys.exit(2)
    logger.info(
        "MMR run -> %s (%s)",
        cfg.run_dir,
        ", ".join(f"{k} {v:.3g}" for k, v in metrics.items() if k.startswith("batch/")) or "no validation",
    )


if __name__ == "__main__":
    try:
        check_group_choices(sys.argv[1:])
        config = check_overrides(sys.argv[1:])  # before Hydra creates the run folder (or writes into an existing one)
        if not any(arg.startswith("-") for arg in sys.argv[1:]):  # Hydra's --cfg, --help, ... train nothing
            claim_run(
                config.run_dir,
                config.trainer.is_continue,
                config.trainer.overwrite,
                ("trainer.is_continue=true", "trainer.overwrite=true"),
            )
    except UserError as error:
        sys.stderr.write(f"error: {error}\n")
        sys.exit(2)
    main()
