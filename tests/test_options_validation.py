"""Options are checked when parsed: a bad value ends in one line naming the option and the value, exit code 2, no
traceback, before any work (nothing is written). Values whose 0 means something (`--max_steps 0`: no limit) stay."""

from __future__ import annotations

import argparse
import math
import subprocess
import sys

import pytest

from generator.dances import GenerationOptions
from tests.conftest import REPO, load_script
from utils.arg_types import Number, in_range, positive_int, probability
from utils.cli import UserError, user_errors_exit

# Each script's required options; every path is relative to the (empty) working folder of the test.
BASE = {
    "create_dataset": ["--dataset_name", "synthetic", "--data_root", "data", "--extract-baseline"],
    "train_vq": ["--dataset_name", "synthetic", "--data_root", "data", "--checkpoints_dir", "ck", "--gpu_id", "-1"],
    "train_m2m": [
        "--dataset_name",
        "synthetic",
        "--data_root",
        "data",
        "--checkpoints_dir",
        "ck",
        "--gpu_id",
        "-1",
        "--vq_name",
        "vq",
    ],
    "train_res": [
        "--dataset_name",
        "synthetic",
        "--data_root",
        "data",
        "--checkpoints_dir",
        "ck",
        "--gpu_id",
        "-1",
        "--vq_name",
        "vq",
        "--hrvq",
    ],
    "gen_m2m": ["--name", "m", "--res_name", "r", "--checkpoints_dir", "ck", "--out_root", "gen", "--gpu_id", "-1"],
    "eval_vq": ["--name", "vq", "--checkpoints_dir", "ck", "--gpu_id", "-1"],
    "eval_dance": ["--pred_dir", "pred"],
    "demo": ["--out_dir", "demo", "--quick"],
    "mmr_music_feat256": ["--run_dir", "mmr", "--audio", "song.wav", "--out_dir", "feats"],
}
FOLDER = {"mmr_music_feat256": REPO / "MMR"}

# (script, bad option and value, the option the one-line error must name)
CATALOGUE_OPTIONS = [
    # create_dataset.py: --stride 0.01 used to fail with a ZeroDivisionError after every feature was extracted
    ("create_dataset", ["--stride", "0.01"], "--stride"),
    ("create_dataset", ["--stride", "0"], "--stride"),
    ("create_dataset", ["--stride", "nan"], "--stride"),
    ("create_dataset", ["--stride", "0.51"], "--stride"),  # 15.3 frames: windows and per-slice music would disagree
    ("create_dataset", ["--length", "-5"], "--length"),
    ("create_dataset", ["--length", "inf"], "--length"),
    ("create_dataset", ["--workers", "0"], "--workers"),
    ("create_dataset", ["--fps", "0"], "--fps"),
    ("create_dataset", ["--seed", "-1"], "--seed"),
    ("create_dataset", ["--synthetic_songs", "0"], "--synthetic_songs"),
    # the training loop (train_vq.py, train_m2m.py, train_res.py share options/train_options.py)
    ("train_vq", ["--batch_size", "0"], "--batch_size"),
    ("train_vq", ["--batch_size", "2.5"], "--batch_size"),
    ("train_vq", ["--log_every", "0"], "--log_every"),
    ("train_vq", ["--eval_every_e", "0"], "--eval_every_e"),
    ("train_vq", ["--workers", "-1"], "--workers"),
    ("train_vq", ["--lr", "0"], "--lr"),
    ("train_vq", ["--lr", "nan"], "--lr"),
    ("train_vq", ["--max_epoch", "-1"], "--max_epoch"),
    ("train_vq", ["--max_steps", "-5"], "--max_steps"),
    ("train_vq", ["--gamma", "0"], "--gamma"),
    ("train_vq", ["--gamma", "1.5"], "--gamma"),
    ("train_vq", ["--grad_clip", "-1"], "--grad_clip"),
    ("train_vq", ["--weight_decay", "inf"], "--weight_decay"),
    ("train_vq", ["--warm_up_iter", "-1"], "--warm_up_iter"),
    ("train_vq", ["--milestones", "1000", "0"], "--milestones"),
    ("train_vq", ["--save_latest", "-1"], "--save_latest"),
    ("train_vq", ["--gpu_id", "-2"], "--gpu_id"),
    ("train_vq", ["--seed", "-1"], "--seed"),
    # the tokenizer
    ("train_vq", ["--window_size", "0"], "--window_size"),
    ("train_vq", ["--nb_code", "0"], "--nb_code"),
    ("train_vq", ["--code_dim", "-8"], "--code_dim"),
    ("train_vq", ["--num_quantizers", "0"], "--num_quantizers"),
    ("train_vq", ["--quantize_drop_prob", "1.5"], "--quantize_drop_prob"),  # the seed's spelling
    ("train_vq", ["--quantize_dropout_prob", "nan"], "--quantize_dropout_prob"),
    ("train_vq", ["--mu", "1.01"], "--mu"),
    ("train_vq", ["--sample_temperature", "-0.5"], "--sample_temperature"),
    ("train_vq", ["--cond_loss", "nan"], "--cond_loss"),
    ("train_vq", ["--width", "0"], "--width"),
    ("train_vq", ["--depth", "0"], "--depth"),
    ("train_vq", ["--down_t", "-1"], "--down_t"),
    ("train_vq", ["--stride_t", "0"], "--stride_t"),
    ("train_vq", ["--dilation_growth_rate", "0"], "--dilation_growth_rate"),
    ("train_vq", ["--vq_dropout", "1"], "--vq_dropout"),
    ("train_vq", ["--commit", "-1"], "--commit"),
    ("train_vq", ["--loss_vel", "inf"], "--loss_vel"),
    ("train_vq", ["--feat_bias", "0"], "--feat_bias"),
    # the transformers
    ("train_m2m", ["--batch_size", "0"], "--batch_size"),
    ("train_m2m", ["--latent_dim", "0"], "--latent_dim"),
    ("train_m2m", ["--ff_size", "0"], "--ff_size"),
    ("train_m2m", ["--n_layers", "0"], "--n_layers"),
    ("train_m2m", ["--n_heads", "0"], "--n_heads"),
    ("train_m2m", ["--dim_head", "0"], "--dim_head"),
    ("train_m2m", ["--dropout", "1"], "--dropout"),
    ("train_m2m", ["--cond_drop_prob", "1.1"], "--cond_drop_prob"),
    ("train_m2m", ["--random_prob", "-0.1"], "--random_prob"),
    ("train_m2m", ["--mask_prob", "nan"], "--mask_prob"),
    ("train_m2m", ["--cont_prob", "2"], "--cont_prob"),
    ("train_m2m", ["--cont_tokens", "-1"], "--cont_tokens"),
    ("train_m2m", ["--eval_windows", "-1"], "--eval_windows"),
    ("train_m2m", ["--eval_time_steps", "0"], "--eval_time_steps"),
    ("train_res", ["--eval_every_e", "0"], "--eval_every_e"),
    ("train_res", ["--mmr_loss_weight", "-1"], "--mmr_loss_weight"),
    ("train_res", ["--mmr_temperature", "0"], "--mmr_temperature"),
    ("train_res", ["--gumbel_tau", "nan"], "--gumbel_tau"),
    # generation (options/generation_options.py)
    ("gen_m2m", ["--temperature", "nan"], "--temperature"),
    ("gen_m2m", ["--cond_scale", "inf"], "--cond_scale"),
    ("gen_m2m", ["--topkr", "nan"], "--topkr"),
    ("gen_m2m", ["--topkr", "1"], "--topkr"),
    ("gen_m2m", ["--time_steps", "0"], "--time_steps"),
    ("gen_m2m", ["--res_cond_scale", "-1"], "--res_cond_scale"),
    ("gen_m2m", ["--res_temperature=-inf"], "--res_temperature"),  # (argparse reads a bare -inf as an option)
    ("gen_m2m", ["--overlap", "-1"], "--overlap"),
    ("gen_m2m", ["--recentre", "nan"], "--recentre"),
    ("gen_m2m", ["--repeat_times", "0"], "--repeat_times"),
    ("gen_m2m", ["--videos", "-1"], "--videos"),
    ("gen_m2m", ["--seed", "-1"], "--seed"),
    ("gen_m2m", ["--gpu_id", "-3"], "--gpu_id"),
    # eval_dance.py (its parser only)
    ("eval_dance", ["--workers", "0"], "--workers"),
    ("eval_dance", ["--fps", "0"], "--fps"),
    ("eval_dance", ["--fps", "nan"], "--fps"),
]

# parsers defined beside their scripts (eval_vq.py, demo.py, MMR/embedder.py): checked by parsing alone
CATALOGUE_OPTIONS_OTHER_PARSERS = [
    ("eval_vq", ["--videos", "-1"], "--videos"),
    ("eval_vq", ["--video_seconds", "nan"], "--video_seconds"),
    ("eval_vq", ["--gpu_id", "-2"], "--gpu_id"),
    ("demo", ["--seconds", "nan"], "--seconds"),
    ("mmr_music_feat256", ["--gpu_id", "-2"], "--gpu_id"),
]

# train_mmr.py (Hydra): (overrides, the field the one-line error must name)
CATALOGUE_MMR_OVERRIDES = [
    (["trainer.batch_size=0"], "trainer.batch_size"),
    (["trainer.batch_size=abc"], "trainer.batch_size"),
    (["trainer.lr=nan"], "trainer.lr"),
    (["trainer.log_every=0"], "trainer.log_every"),
    (["trainer.eval_every_e=0"], "trainer.eval_every_e"),
    (["trainer.workers=-1"], "trainer.workers"),
    (["trainer.milestones=[100,0]"], "trainer.milestones"),
    (["trainer.gamma=0"], "trainer.gamma"),
    (["trainer.mixed_precision=fp8"], "trainer.mixed_precision"),
    (["trainer.gpu_id=-2"], "trainer.gpu_id"),
    (["model.dropout=1"], "model.dropout"),
    (["model.temperature=0"], "model.temperature"),
    (["model.latent=0"], "model.latent"),
    (["model.w_kl=-1"], "model.w_kl"),
    (["data.motion_part=legs"], "data.motion_part"),
    (["seed=-1"], "seed"),
]

# Values at the edge of a range that mean something, accepted: (parser, argv, option dest, parsed value)
CATALOGUE_ACCEPTED = [
    ("train_vq", ["--max_epoch", "0"], "max_epoch", 0),
    ("train_vq", ["--max_steps", "0"], "max_steps", 0),  # no limit
    ("train_vq", ["--save_latest", "0"], "save_latest", 0),  # per epoch
    ("train_vq", ["--grad_clip", "0"], "grad_clip", 0.0),  # off
    ("train_vq", ["--gpu_id", "-1"], "gpu_id", -1),  # the CPU
    ("train_vq", ["--gamma", "1"], "gamma", 1.0),
    ("train_vq", ["--quantize_drop_prob", "0.2"], "quantize_dropout_prob", 0.2),
    ("train_vq", ["--sample_temperature", "0"], "sample_temperature", 0.0),
    ("train_m2m", ["--eval_windows", "0"], "eval_windows", 0),  # token accuracy only
    ("train_m2m", ["--cond_drop_prob", "0"], "cond_drop_prob", 0.0),
    ("gen_m2m", ["--topkr", "0"], "topkr", 0.0),
    ("gen_m2m", ["--temperature", "0"], "temperature", 0.0),  # argmax
    ("gen_m2m", ["--videos", "0"], "videos", 0),
    ("gen_m2m", ["--recentre", "0"], "recentre", 0.0),
    ("create_dataset", ["--stride", "0.1"], "stride", 0.1),  # 3 frames
]

_loaded: dict = {}


def script(name: str):
    """A CLI script as a module (loaded once)."""
    if name not in _loaded:
        _loaded[name] = load_script(name, folder=FOLDER.get(name, REPO))
    return _loaded[name]


def parser_of(name: str) -> argparse.ArgumentParser:
    if name in ("train_m2m", "train_res"):
        from options.train_options import transformer_parser

        return transformer_parser()
    return script(name).build_parser()


def assert_one_line_exit(run, option: str, value: str | None, capsys) -> str:
    """`run()` ends with exit code 2 and one error line naming `option` (and `value`), no traceback."""
    with pytest.raises(SystemExit) as exc:
        run()
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if "error:" in line]
    assert exc.value.code == 2, err
    assert len(errors) == 1 and "Traceback" not in err, err
    assert option in errors[0] and (value is None or value in errors[0]), err
    return errors[0]


def _bad_option(tmp_path, monkeypatch, capsys, name, argv, option) -> None:
    monkeypatch.chdir(tmp_path)
    main = script(name).main
    assert_one_line_exit(lambda: main([*BASE[name], *argv]), option, argv[-1].split("=")[-1], capsys)
    assert sorted(tmp_path.rglob("*")) == [], "nothing may be written before the options are checked"


@pytest.mark.parametrize(
    ("name", "argv", "option"), CATALOGUE_OPTIONS, ids=lambda v: " ".join(v) if isinstance(v, list) else v
)
def test_bad_option_ends_in_one_line_before_any_work(tmp_path, monkeypatch, capsys, name, argv, option):
    _bad_option(tmp_path, monkeypatch, capsys, name, argv, option)


@pytest.mark.parametrize(("name", "argv", "option"), CATALOGUE_OPTIONS_OTHER_PARSERS)
def test_bad_option_of_other_parsers(capsys, name, argv, option):
    """The parser alone (these scripts' `main` would run while their flags accept anything: demo.py trains)."""
    assert_one_line_exit(lambda: parser_of(name).parse_args([*BASE[name], *argv]), option, argv[-1], capsys)


@pytest.mark.parametrize(
    ("overrides", "field"), CATALOGUE_MMR_OVERRIDES, ids=lambda v: " ".join(v) if isinstance(v, list) else v
)
def test_bad_mmr_override_ends_in_one_line(tmp_path, monkeypatch, capsys, overrides, field):
    """What train_mmr.py checks (`checked_config`, and `check_overrides` before Hydra makes the run folder)."""
    from options.mmr_config import check_overrides

    monkeypatch.chdir(tmp_path)
    assert_one_line_exit(
        lambda: user_errors_exit(check_overrides)([*overrides, f"run_dir={tmp_path / 'run'}"]), field, None, capsys
    )
    assert sorted(tmp_path.rglob("*")) == []


@pytest.mark.parametrize(("name", "argv", "dest", "value"), CATALOGUE_ACCEPTED)
def test_meaningful_edge_values_are_accepted(name, argv, dest, value):
    parsed = parser_of(name).parse_args([*BASE[name], *argv])
    assert getattr(parsed, dest) == value


def test_the_seed_readme_commands_still_parse():
    """The published commands (options and defaults) parse as written."""
    vq = parser_of("train_vq").parse_args(
        "--vq_type hrvq --name hvq5 --vq_name hrvq5_souldance --gpu_id 0 "
        "--dataset_name souldance --batch_size 256 --num_quantizers 6 --max_epoch 30 "
        "--quantize_dropout_prob 0.2 --gamma 0.05".split()
    )
    assert (vq.batch_size, vq.num_quantizers, vq.max_epoch, vq.quantize_dropout_prob, vq.gamma) == (
        256,
        6,
        30,
        0.2,
        0.05,
    )
    res = parser_of("train_res").parse_args(
        "--name res_hrvq5 --gpu_id 0 --dataset_name souldance --vq_name "
        "hrvq5_souldance --cond_drop_prob 0.1 --lr 2e-4 --gamma 0.1 --latent_dim "
        "256 --n_heads 6 --mmr_loss --hrvq".split()
    )
    assert (res.cond_drop_prob, res.lr, res.latent_dim, res.n_heads) == (0.1, 2e-4, 256, 6)
    gen = parser_of("gen_m2m").parse_args(["--name", "m"])
    assert vars(GenerationOptions()) == {
        "time_steps": gen.time_steps,
        "cond_scale": gen.cond_scale,
        "temperature": gen.temperature,
        "topkr": gen.topkr,
        "res_cond_scale": gen.res_cond_scale,
        "res_temperature": gen.res_temperature,
        "overlap": gen.overlap,
        "recentre_s": gen.recentre,
    }
    data = parser_of("create_dataset").parse_args([])
    assert (data.stride, data.length, data.fps, data.workers) == (0.5, 5.0, 30, 1)


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
@pytest.mark.parametrize(
    "field", ["cond_scale", "temperature", "topkr", "res_cond_scale", "res_temperature", "recentre_s"]
)
def test_generation_options_refuse_non_finite_values(field, value):
    with pytest.raises(UserError, match="out of range"):
        GenerationOptions(**{field: value})


def test_number_types():
    assert positive_int("3") == 3 and probability("1") == 1.0 and in_range(0, 1, high_open=True)("0") == 0.0
    for rule, text in (
        (positive_int, "0"),
        (positive_int, "1.5"),
        (positive_int, "x"),
        (probability, "nan"),
        (probability, "1.01"),
        (in_range(0, 1, low_open=True), "0"),
    ):
        with pytest.raises(argparse.ArgumentTypeError, match=text if text != "x" else "'x'"):
            rule(text)
    assert Number(int, 1).describe() == "an integer >= 1"
    assert in_range(0, 1, low_open=True).describe() == "a finite number in (0, 1]"
    with pytest.raises(UserError, match=r"^trainer\.lr: nan is not a finite number > 0$"):
        Number(float, 0, low_open=True).check("trainer.lr", math.nan)
    assert Number(int, 0).check("x", 0) == 0
    for value in (math.inf, math.nan, 1.5, True, "3"):
        with pytest.raises(UserError, match="is not an integer >= 0"):
            Number(int, 0).check("x", value)


def test_train_mmr_cli_refuses_a_bad_override_in_one_line(tmp_path):
    """The real Hydra CLI: one line, exit code 2, no traceback, no training files."""
    run = tmp_path / "run"
    res = subprocess.run(
        [
            sys.executable,
            "MMR/train_mmr.py",
            "data=synthetic",
            "trainer.batch_size=0",
            f"run_dir={run}",
            "trainer.gpu_id=-1",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 2 and "Traceback" not in res.stderr, res.stderr
    assert [line for line in res.stderr.splitlines() if line.strip()] == [
        "error: trainer.batch_size: 0 is not an integer >= 1"
    ]
    assert not (run / "opt.json").exists() and not (run / "model").exists()


def test_an_output_folder_under_a_file_or_a_read_only_one_is_one_line(tmp_path, capsys):
    blocker = tmp_path / "outputs"
    blocker.write_text("a file where a folder should be")  # e.g. --out_root naming a file
    line = assert_one_line_exit(
        user_errors_exit(lambda: (blocker / "default").mkdir(parents=True)),
        str(blocker / "default"),
        "Not a directory",
        capsys,
    )
    assert line.startswith("error: cannot use ")

    def denied():
        raise PermissionError(13, "Permission denied", "/read-only/x.npz")

    assert_one_line_exit(user_errors_exit(denied), "/read-only/x.npz", "Permission denied", capsys)
