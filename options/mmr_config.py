"""MMR's Hydra configuration: the structured configs (the stage's dataclasses, `training.mmr.TrainMMRConfig`;
`MMR/configs/*.yaml` pick and override them), their registration, and the checks of a command line.

`train_mmr.py model=mmr data=souldance run_dir=outputs/mmr_res` composes `TrainMMRConfig` from `model/mmr.yaml`,
`data/souldance.yaml` and `trainer/default.yaml`; every field can be overridden on the command line
(`trainer.max_epoch=10 data.music_type=jukebox`). Defaults are the released MMR's (TMR recipe).
"""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

from hydra.core.config_store import ConfigStore

from MMR.model import MMRShape as ModelOptions
from training.mmr import DataOptions, TrainerOptions, TrainMMRConfig
from utils.arg_types import Number, non_negative_float
from utils.cli import UserError

CONFIG_DIR = Path(__file__).resolve().parents[1] / "MMR" / "configs"  # the Hydra yaml files beside train_mmr.py
DATASETS = ("souldance", "aistpp", "finedance", "synthetic", "custom")


def register_configs() -> None:
    """Put the schemas in Hydra's config store (the yaml files extend them)."""
    cs = ConfigStore.instance()
    cs.store(name="train_mmr_schema", node=TrainMMRConfig)
    cs.store(group="model", name="mmr_schema", node=ModelOptions)
    cs.store(group="data", name="data_schema", node=DataOptions)
    cs.store(group="trainer", name="trainer_schema", node=TrainerOptions)


def option_rules() -> dict[str, Number | tuple]:
    """Field name -> its rule: the range type or the choices of the flag of the same name in `mmr_parser` (the loop,
    run and model flags the argparse scripts share), plus the loss weights, which have no flag."""
    from options.mmr_options import mmr_parser

    rules: dict[str, Number | tuple] = {f"w_{w}": non_negative_float for w in ("recons", "kl", "latent", "contrastive")}
    for action in mmr_parser()._actions:
        if isinstance(action.type, Number) or action.choices:
            rules[action.dest] = action.type if isinstance(action.type, Number) else tuple(action.choices)
    return rules


def check_config(c: TrainMMRConfig) -> None:
    """Every numeric field in its range and every choice known, else a one-line `UserError` naming the field
    (`trainer.batch_size: 0 is not an integer >= 1`)."""
    rules = option_rules()
    for section, obj in (("model", c.model), ("data", c.data), ("trainer", c.trainer), ("", c)):
        for f in fields(obj):
            rule, value, name = rules.get(f.name), getattr(obj, f.name), f"{section}.{f.name}".lstrip(".")
            if isinstance(rule, Number):
                for v in value if isinstance(value, list) else [value]:
                    rule.check(name, v)
            elif rule is not None and value not in rule:
                raise UserError(f"{name}={value}: choose one of {', '.join(map(str, rule))}")


def check_overrides(overrides: list[str]) -> TrainMMRConfig:
    """Compose `train_mmr.py`'s command line (`group=choice`, `key=value`) and check it, in one line on failure,
    before Hydra creates the run folder (returns the composed config). Hydra's own flags and `hydra.*` overrides are
    left to Hydra."""
    from hydra import compose, initialize_config_dir
    from hydra.errors import HydraException
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    register_configs()
    mine = [o for o in overrides if "=" in o and not o.lstrip("+~").startswith(("-", "hydra"))]
    try:
        with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base=None, job_name="train_mmr"):
            cfg = compose("train_mmr", overrides=mine)
        config = OmegaConf.to_object(cfg)
    except (HydraException, OmegaConfBaseException) as err:
        cause = err
        while cause.__cause__ is not None:  # Hydra wraps OmegaConf's error, which says what is wrong
            cause = cause.__cause__
        where = getattr(cause, "full_key", None) or " ".join(mine)
        raise UserError(f"{where}: {str(cause).splitlines()[0]}") from err
    check_config(config)
    return config


def checked_config(cfg) -> TrainMMRConfig:
    """The composed Hydra config as its dataclasses, checked (`check_config`): what the MMR stage reads."""
    from omegaconf import OmegaConf

    config = OmegaConf.to_object(cfg)
    check_config(config)
    return config
