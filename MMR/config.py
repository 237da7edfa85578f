"""MMR's configuration as dataclasses: Hydra's structured configs (`MMR/configs/*.yaml` pick and override them).

`train_mmr.py model=mmr data=souldance run_dir=outputs/mmr_res` composes `TrainMMRConfig` from `model/mmr.yaml`,
`data/souldance.yaml` and `trainer/default.yaml`; every field can be overridden on the command line
(`trainer.max_epoch=10 data.music_type=jukebox`). Defaults are the released MMR's (TMR recipe).
"""

from __future__ import annotations

import argparse
from dataclasses import asdict, dataclass, field

from hydra.core.config_store import ConfigStore

from MMR.model import MMRShape as ModelOptions

DATASETS = ("souldance", "aistpp", "finedance", "synthetic", "custom")


@dataclass
class DataOptions:
    dataset_name: str = "souldance"
    data_root: str | None = None  # default: data/<dataset_name>/
    music_type: str = "baseline"  # a registered music feature type that was extracted
    motion_part: str = "body"  # body (263-d) or all


@dataclass
class TrainerOptions:
    gpu_id: int = 0
    batch_size: int = 128
    max_epoch: int = 500
    max_steps: int = 0
    lr: float = 1e-4
    weight_decay: float = 0.0
    warm_up_iter: int = 0
    milestones: list[int] = field(default_factory=lambda: [10**9])
    gamma: float = 0.1
    grad_clip: float = 1.0
    mixed_precision: str = "auto"  # bf16 on GPU, fp32 on CPU; bf16 is honoured on CPU too
    compile: bool = False
    workers: int = 0
    log_every: int = 50
    save_latest: int = 500
    eval_every_e: int = 1
    is_continue: bool = False


@dataclass
class TrainMMRConfig:
    model: ModelOptions = field(default_factory=ModelOptions)
    data: DataOptions = field(default_factory=DataOptions)
    trainer: TrainerOptions = field(default_factory=TrainerOptions)
    run_dir: str = "outputs/mmr"
    seed: int = 1234


def register_configs() -> None:
    """Put the schemas in Hydra's config store (the yaml files extend them)."""
    cs = ConfigStore.instance()
    cs.store(name="train_mmr_schema", node=TrainMMRConfig)
    cs.store(group="model", name="mmr_schema", node=ModelOptions)
    cs.store(group="data", name="data_schema", node=DataOptions)
    cs.store(group="trainer", name="trainer_schema", node=TrainerOptions)


def as_namespace(cfg) -> argparse.Namespace:
    """The composed config as the flat options the shared training loop reads."""
    from omegaconf import OmegaConf

    c = OmegaConf.to_object(cfg)
    return argparse.Namespace(**asdict(c.model), **asdict(c.data), **asdict(c.trainer), seed=c.seed,
                              name="mmr")  # fmt: skip
