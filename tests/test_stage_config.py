"""The typed stage configs: built once from the parsed options, one default per option, read instead of the
namespace, recorded in checkpoints; and the `mmr` music feature type whose extractor the MMR layer supplies."""

import argparse
import ast
import dataclasses
import subprocess
import sys

import pytest

from options.mmr_options import mmr_parser
from options.train_options import tokenizer_parser, transformer_parser
from tests.conftest import REPO
from training.mmr import DataOptions, TrainerOptions, TrainMMRConfig
from training.tokenizer import TokenizerStageConfig
from training.transformer import TransformerStageConfig
from utils.stage_config import LoopConfig

PARSERS = {
    TokenizerStageConfig: (tokenizer_parser, []),
    TransformerStageConfig: (transformer_parser, ["--vq_name", "hvq"]),
}


def dests(parser: argparse.ArgumentParser) -> set[str]:
    return {a.dest for a in parser._actions}


@pytest.mark.parametrize("cls", list(PARSERS), ids=lambda c: c.__name__)
def test_every_field_is_an_option_of_its_stage_and_builds_from_the_defaults(cls):
    make, argv = PARSERS[cls]
    parser = make()
    fields = {f.name for f in dataclasses.fields(cls)}
    assert fields <= dests(parser), f"fields no option feeds: {sorted(fields - dests(parser))}"
    parsed = parser.parse_args(argv)
    config = cls.from_options(parsed)
    for name in fields:  # the option's value, never a second default (lists become tuples)
        value = getattr(parsed, name)
        assert getattr(config, name) == (tuple(value) if isinstance(value, list) else value), name
    assert isinstance(config, LoopConfig) and isinstance(config.milestones, tuple)
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.lr = 1.0


def test_a_missing_option_is_named_and_unknown_ones_are_ignored():
    loop = {f.name: 1 for f in dataclasses.fields(LoopConfig) if f.default is dataclasses.MISSING}
    loop["milestones"] = [5, 7]
    config = LoopConfig.from_options({**loop, "width": 16})
    assert config.milestones == (5, 7) and config.grad_clip == 0 and config.to_dict()["milestones"] == [5, 7]
    del loop["lr"]
    with pytest.raises(TypeError, match="LoopConfig needs the option.s. lr"):
        LoopConfig.from_options(loop)


def test_mmr_reads_its_hydra_dataclasses_and_the_argparse_options_build_the_same():
    parsed = mmr_parser().parse_args(["--dataset_name", "synthetic", "--latent", "64", "--batch_size", "8"])
    config = TrainMMRConfig.from_options(parsed)
    assert (config.data.dataset_name, config.model.latent, config.trainer.batch_size) == ("synthetic", 64, 8)
    assert TrainMMRConfig.from_options(config) is config
    flat = config.flat()  # the record: every group's fields, the seed
    assert TrainMMRConfig.from_options(argparse.Namespace(**flat)) == config
    loop_fields = {f.name for f in dataclasses.fields(LoopConfig)}
    assert {f.name for f in dataclasses.fields(TrainerOptions)} | {"seed"} == loop_fields
    options = dests(mmr_parser())  # every group's field is an mmr_parser flag (the loss weights have none)
    groups = [DataOptions, TrainerOptions, type(config.model)]
    names = {f.name for g in groups for f in dataclasses.fields(g)} - {
        f"w_{w}" for w in ("recons", "kl", "latent", "contrastive")
    }
    assert names <= options, sorted(names - options)


def test_the_stages_read_their_config_not_the_namespace():
    """No `self.opt.x` or `getattr(opt, ...)` in the loop or the stages: what they read is typed (the options as
    given are only recorded)."""
    for path in [REPO / "utils" / "trainer.py", *sorted((REPO / "training").glob("*.py"))]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Attribute):
                assert not (node.value.attr == "opt" and node.attr != "__dict__"), f"{path.name}:{node.lineno}"
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "getattr" and node.args:
                target = node.args[0]
                name = getattr(target, "id", None) or getattr(target, "attr", None)
                assert name not in ("opt", "cfg"), f"{path.name}:{node.lineno}: getattr on the options"


def test_the_mmr_feature_type_gets_its_extractor_from_the_mmr_layer():
    """data/ defines the `mmr` type (rate, the command that makes it); MMR.music_features supplies the extractor."""
    code = (
        "from data.audio_extraction.registry import music_feature\n"
        "from utils.cli import UserError\n"
        "t = music_feature('mmr')\n"
        "try:\n    t.extract('song.wav')\nexcept UserError as e:\n    print('refused:', e)\n"
        "import MMR.music_features as m\n"
        "print(music_feature('mmr').song is m.song_features, t.fps == m.FPS == 2)\n"
        "try:\n    t.extract('song.wav')\nexcept TypeError as e:\n    print('forwarded:', e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    refused, supplied, forwarded = out.stdout.strip().splitlines()
    assert "computed by a trained model" in refused and "mmr_music_feat256.py" in refused
    assert supplied == "True True"
    assert "run" in forwarded  # the type looked up before the import reaches the provided extractor (it needs run=)
