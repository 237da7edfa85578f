"""The masked and residual transformer stages on the embedded synthetic dataset (tiny models, CPU): the seed's
commands, checkpoints that rebuild everything, exact resume, conditioning sources and one-line errors."""

import json
import shutil

import numpy as np
import pytest
import torch

from data.loaders import MusicMotionClips, ProcessedData, TokenizerWindows
from MMR.mmr_music_feat256 import main as mmr_music_feat256
from models.mask_transformer import longform
from models.mask_transformer.loading import load_m2m, load_mage, load_res
from models.mask_transformer.longform import window_starts
from models.mask_transformer.sampling import generate
from options.train_options import transformer_parser
from tests.test_train_mmr import options as mmr_options
from train_m2m import main as train_m2m
from train_res import main as train_res
from train_vq import build_parser as build_vq_parser
from train_vq import main as train_vq
from training.mmr import MMRTrainer
from training.tokenizer import TokenizerTrainer
from training.transformer import MaskedTrainer, ResidualTrainer
from utils.checkpoint import file_fingerprint, load_checkpoint
from utils.cli import UserError


@pytest.fixture(scope="module")
def prepared(data_root, tmp_path_factory):
    """A copy of the synthetic dataset with a tiny HRVQ and RVQ, a tiny MMR and its window features."""
    base = tmp_path_factory.mktemp("m2m")
    root, ckpts = base / "synthetic", base / "checkpoints"
    shutil.copytree(data_root, root)
    common = [
        "--dataset_name",
        "synthetic",
        "--data_root",
        str(root),
        "--checkpoints_dir",
        str(ckpts),
        "--gpu_id",
        "-1",
        "--batch_size",
        "8",
        "--window_size",
        "16",
        "--nb_code",
        "16",
        "--code_dim",
        "16",
        "--width",
        "16",
        "--depth",
        "1",
        "--num_quantizers",
        "3",
        "--warm_up_iter",
        "2",
        "--save_latest",
        "0",
        "--max_steps",
        "4",
    ]
    train_vq([*common, "--vq_type", "hrvq", "--name", "hvq", "--vq_name", "hrvq3_synthetic"])
    train_vq([*common, "--vq_type", "rvq", "--name", "rvq3_synthetic"])
    MMRTrainer(mmr_options(root, "--max_steps", "2", "--batch_size", "8"), base / "mmr").fit()
    mmr_music_feat256(["--run_dir", str(base / "mmr"), "--gpu_id", "-1", "--which", "latest"])
    return root, ckpts


def tiny(root, ckpts, *extra):
    return [
        "--dataset_name",
        "synthetic",
        "--data_root",
        str(root),
        "--checkpoints_dir",
        str(ckpts),
        "--gpu_id",
        "-1",
        "--batch_size",
        "8",
        "--latent_dim",
        "32",
        "--ff_size",
        "64",
        "--n_layers",
        "1",
        "--warm_up_iter",
        "2",
        "--save_latest",
        "0",
        "--log_every",
        "1",
        *extra,
    ]


def test_seed_commands_train_and_checkpoints_rebuild_everything(prepared):
    root, ckpts = prepared
    # the seed's flags (--latent_dim 256 --n_heads 6 in the paper: 6 heads that do not divide the width), tiny
    m = train_m2m(
        tiny(
            root,
            ckpts,
            "--name",
            "mtrans_hrvq3",
            "--vq_name",
            "hvq",
            "--n_heads",
            "6",
            "--max_epoch",
            "1",
            "--music_dir",
            "/MMR/datasets/mmr_music_feats",
        )
    )
    assert 0 <= m["acc"] <= 1 and m["ce"] > 0
    assert {"FID_k", "FID_g", "Div_k", "BAS", "BAS_gt", "MMR_MS", "MMR_cos"} <= set(m)  # decoded generated windows
    assert all(np.isfinite(m[k]) for k in ("FID_k", "BAS", "MMR_MS")) and 0 <= m["BAS"] <= 1
    r = train_res(
        tiny(
            root,
            ckpts,
            "--name",
            "res_hrvq3",
            "--vq_name",
            "hvq",
            "--cond_drop_prob",
            "0.1",
            "--lr",
            "2e-4",
            "--gamma",
            "0.1",
            "--n_heads",
            "6",
            "--mmr_loss",
            "--hrvq",
            "--max_epoch",
            "1",
        )
    )
    assert 0 <= r["acc"] <= 1 and "FID_k" in r
    assert (ckpts / "synthetic" / "res_hrvq3" / "model" / "best.tar").is_file()
    base_model, ckpt = load_m2m(ckpts, "synthetic", "mtrans_hrvq3")
    res_model, res_ckpt = load_res(ckpts, "synthetic", "res_hrvq3")
    assert ckpt["tokenizer"]["run"] == "hrvq3_synthetic" and ckpt["tokenizer"]["vq_type"] == "hrvq"
    assert len(ckpt["tokenizer"]["fingerprint"]) == 64 and res_ckpt["stage"] == "res"
    assert ckpt["music"]["music_cond"] == "both" and ckpt["music"]["clip_dir"].endswith("music/mmr")
    assert ckpt["music"]["clip_mmr"].endswith("mmr/model/latest.tar")
    assert ckpt["mmr_loss"] is None and res_ckpt["mmr_loss"]["weight"] == 0.5 and res_ckpt["mmr_loss"]["mmr"]
    c = base_model.config
    assert (c.parts, c.times, c.num_quantizers, c.nb_code, c.clip_dim, c.music_dim) == (3, 37, 3, 16, 32, 35)
    data = ProcessedData(root)
    clips = MusicMotionClips(data, "test", "baseline", normalize=False, deterministic=True, clip_type="mmr")
    batch = clips.__getitems__([0, 1])
    mage = load_mage(ckpts, "synthetic", "mtrans_hrvq3", "res_hrvq3", vq_name="hrvq3_synthetic")  # all from ckpts
    assert mage.vq.config.vq_type == "hrvq" and mage.mmr is not None and mage.mmr.music_type == "baseline"
    valid = torch.ones(2, 3 * 37, dtype=torch.bool)
    clip, music = mage.condition(batch["music"], batch["music_clip"])
    tokens = generate(mage.base, mage.res, valid, clip, music, time_steps=4)
    assert tokens.shape == (2, 111, 3) and (tokens >= 0).all() and mage.decode(tokens).shape == (2, 148, 723)
    base_only = generate(mage.base, None, valid, clip, music, time_steps=4)
    assert (base_only[..., 1:] == -1).all() and mage.decode(base_only).shape == (2, 148, 723)
    with pytest.raises(UserError, match="trained on tokenizer 'hrvq3_synthetic', not 'rvq3_synthetic'"):
        load_mage(ckpts, "synthetic", "mtrans_hrvq3", vq_name="rvq3_synthetic")
    with pytest.raises(UserError, match="no MMR checkpoint in .*no_such_mmr/model/"):
        load_mage(ckpts, "synthetic", "mtrans_hrvq3", mmr_run=str(ckpts / "no_such_mmr"))


def test_resume_is_exact(prepared):
    root, ckpts = prepared
    for name, extra in (
        ("once", ["--max_steps", "6"]),
        ("twice", ["--max_steps", "2"]),
        ("twice", ["--max_steps", "6", "--is_continue"]),
    ):
        train_m2m(tiny(root, ckpts, "--name", name, "--vq_name", "rvq3_synthetic", "--dropout", "0.1", *extra))
    a = load_checkpoint(ckpts / "synthetic" / "once" / "model" / "latest.tar")
    b = load_checkpoint(ckpts / "synthetic" / "twice" / "model" / "latest.tar")
    assert a["step"] == b["step"] == 6 and all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])


def test_frame_conditioning_needs_no_mmr_and_errors_are_one_line(prepared, tmp_path, capsys):
    root, ckpts = prepared
    train_res(
        tiny(
            root,
            ckpts,
            "--name",
            "res_frame",
            "--vq_name",
            "rvq3_synthetic",
            "--music_cond",
            "frame",
            "--max_steps",
            "1",
            "--max_epoch",
            "1",
        )
    )
    capsys.readouterr()
    assert load_checkpoint(ckpts / "synthetic" / "res_frame" / "model" / "latest.tar")["music"]["clip_type"] is None
    bare = tmp_path / "bare"  # the dataset without MMR features
    shutil.copytree(root / "processed", bare / "processed")
    summary = (bare / "processed" / "summary.json").read_text().replace('"mmr":', '"removed":')
    (bare / "processed" / "summary.json").write_text(summary)
    cases = [
        (["--vq_name", "hvq", "--data_root", str(bare)], "'mmr' were not extracted; run python MMR/mmr_music"),
        (["--vq_name", "rvq3_synthetic", "--hrvq"], "--hrvq given but tokenizer 'rvq3_synthetic' is a rvq"),
        (["--vq_name", "nope"], "run 'nope' not found in"),
    ]
    for extra, message in cases:
        with pytest.raises(SystemExit) as exit_info:
            train_m2m([*tiny(root, ckpts, "--name", "bad"), *extra])
        err = capsys.readouterr().err.strip().splitlines()
        assert exit_info.value.code == 2 and len(err) == 1 and message in err[0], err


@pytest.mark.parametrize(
    ("trainer_class", "vq_name"), [(MaskedTrainer, "hvq"), (ResidualTrainer, "hvq"), (MaskedTrainer, "rvq3_synthetic")]
)
def test_mmr_loss_gradients_reach_the_transformer_and_not_the_frozen_models(prepared, tmp_path, trainer_class, vq_name):
    root, ckpts = prepared
    opt = transformer_parser().parse_args(
        tiny(root, ckpts, "--name", "grad", "--vq_name", vq_name, "--mmr_loss", "--music_cond", "frame")
    )
    trainer = trainer_class(opt, tmp_path / "grad")
    train, _ = trainer.build_data()
    model = trainer.build_model().train()
    batch = train.__getitems__(list(range(0, len(train), len(train) // 8))[:8])  # windows of several sequences
    assert len(set(batch["sequence"].tolist())) > 1
    losses = trainer.training_step(model, batch)
    assert torch.isfinite(losses["mmr"]) and losses["mmr"] > 0
    assert torch.allclose(losses["loss"], losses["ce"] + 0.5 * losses["mmr"])
    model.zero_grad()
    losses["mmr"].backward()  # the MMR term alone reaches the transformer through the Gumbel-softmax weights
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert sum(float(g.abs().sum()) for g in grads if g is not None) > 0
    frozen = [*trainer.vq.parameters(), *trainer.mmr.model.parameters()]
    assert all(not p.requires_grad and p.grad is None for p in frozen)


@pytest.fixture(scope="module")
def mage_stack(prepared):
    """A tiny masked + residual pair on the HRVQ, loaded back as a whole stack."""
    root, ckpts = prepared
    train_m2m(tiny(root, ckpts, "--name", "long_m2m", "--vq_name", "hvq", "--max_steps", "2", "--eval_windows", "0"))
    train_res(tiny(root, ckpts, "--name", "long_res", "--vq_name", "hvq", "--max_steps", "2", "--eval_windows", "0"))
    return root, load_mage(ckpts, "synthetic", "long_m2m", "long_res")


def test_window_starts_cover_the_song_with_the_overlap():
    assert window_starts(100, 37, 8) == [0, 29, 58, 63] and window_starts(37, 37, 8) == [0]
    assert window_starts(20, 37, 8) == [0] and window_starts(74, 37, 0) == [0, 37]
    with pytest.raises(UserError, match="overlap must be in"):
        window_starts(100, 37, 37)


@pytest.mark.parametrize("frames", [45, 148, 301])
def test_long_generation_has_the_music_length_and_keeps_the_overlap(mage_stack, frames, monkeypatch):
    root, mage = mage_stack
    data = ProcessedData(root)
    song = data.clips[0].get("music", data.clips[0]["name"])
    music = np.load(root / "processed" / "music" / "baseline_full_song" / f"{song}.npy")
    music = np.concatenate([music, music])[:frames]
    calls = []  # (given tokens kept in every layer, how many were given) per window

    def recording(*args, **kwargs):
        out = generate(*args, **kwargs)
        given = args[5]
        calls.append((bool((out[given >= 0] == given[given >= 0]).all()), int((given >= 0).sum())))
        return out

    monkeypatch.setattr(longform, "generate", recording)
    features, tokens = longform.generate_long(mage, music, overlap=8, time_steps=3, progress=False)
    assert features.shape == (frames, 723) and np.isfinite(features).all()
    assert tokens.shape == (3, -(-frames // 4), 3) and (tokens >= 0).all()
    assert all(kept for kept, _ in calls) and len(calls) == len(window_starts(-(-frames // 4), 37, 8))
    assert all(n > 0 for _, n in calls[1:])  # every later window was given its overlap
    again, _ = longform.generate_long(mage, music, overlap=8, time_steps=3, progress=False)
    np.testing.assert_array_equal(features, again)  # seeded


def floats_are_fp32(state: dict) -> bool:
    return all(v.dtype == torch.float32 for v in state.values() if v.is_floating_point())


def test_every_stage_trains_and_generates_under_cpu_bf16(prepared, tmp_path):
    """The GPU default, honoured on the CPU: tokenizer, MMR, masked and residual transformers with the MMR loss, and
    generation under bf16 autocast; finite losses (a non-finite one stops the run), fp32 weights, checkpoints and
    codebook statistics, tokens equal to fp32 tokens."""
    root, ckpts = prepared
    vq_args = [
        "--dataset_name",
        "synthetic",
        "--data_root",
        str(root),
        "--checkpoints_dir",
        str(ckpts),
        "--gpu_id",
        "-1",
        "--batch_size",
        "8",
        "--window_size",
        "16",
        "--nb_code",
        "16",
        "--code_dim",
        "16",
        "--width",
        "16",
        "--depth",
        "1",
        "--num_quantizers",
        "2",
        "--warm_up_iter",
        "2",
        "--save_latest",
        "0",
        "--max_steps",
        "3",
        "--vq_type",
        "hrvq",
        "--mixed_precision",
        "bf16",
        "--name",
        "vq_bf16",
    ]
    vq_trainer = TokenizerTrainer(build_vq_parser().parse_args(vq_args), ckpts / "synthetic" / "vq_bf16")
    vq_trainer.fit()
    assert vq_trainer.accelerator.mixed_precision == "bf16"
    vq = vq_trainer.trained.eval()
    x = TokenizerWindows(ProcessedData(root), "val", 16).__getitems__([0, 5, 9])  # (3, 16, 723)
    dtypes = []
    vq.decoder.register_forward_hook(lambda _module, _args, out: dtypes.append(out.dtype))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        vq(x)
        bf16_tokens = vq.encode(x)
    assert dtypes == [torch.bfloat16]  # autocast really runs the decoder in bf16
    assert torch.equal(bf16_tokens, vq.encode(x))
    ckpt = load_checkpoint(ckpts / "synthetic" / "vq_bf16" / "model" / "latest.tar")
    assert floats_are_fp32(ckpt["model"]) and any(k.endswith("code_sum") for k in ckpt["model"])
    assert all(torch.isfinite(v).all() for v in ckpt["model"].values() if v.is_floating_point())

    mmr = MMRTrainer(
        mmr_options(root, "--max_steps", "3", "--batch_size", "8", "--mixed_precision", "bf16"), tmp_path / "mmr_bf16"
    )
    mmr.fit()
    assert mmr.accelerator.mixed_precision == "bf16"
    assert floats_are_fp32(load_checkpoint(tmp_path / "mmr_bf16" / "model" / "latest.tar")["model"])

    for train, name in ((train_m2m, "m2m_bf16"), (train_res, "res_bf16")):
        train(
            tiny(
                root,
                ckpts,
                "--name",
                name,
                "--vq_name",
                "hvq",
                "--mmr_loss",
                "--music_cond",
                "frame",
                "--max_steps",
                "3",
                "--mixed_precision",
                "bf16",
                "--eval_windows",
                "0",
            )
        )
        ckpt = load_checkpoint(ckpts / "synthetic" / name / "model" / "latest.tar")
        assert ckpt["step"] == 3 and ckpt["options"]["mixed_precision"] == "bf16" and floats_are_fp32(ckpt["model"])

    mage = load_mage(ckpts, "synthetic", "m2m_bf16", "res_bf16").speed_up("bf16")
    assert mage.bf16
    music = np.random.default_rng(0).normal(size=(160, len(mage.music_mean))).astype(np.float32)
    features, tokens = longform.generate_long(mage, music, time_steps=2, progress=False)
    assert features.shape == (160, 723) and features.dtype == np.float32 and np.isfinite(features).all()
    assert (tokens >= 0).all() and (tokens < 16).all()


def test_compiled_generation_gives_the_eager_dance(mage_stack, prepared):
    """`gen_m2m.py --compile`: the transformers and the decoder compiled in place (aot_eager here: graph capture and
    AOTAutograd; inductor is exercised by the training test below); seeded sampling gives the eager dance."""
    root, eager = mage_stack
    compiled = load_mage(prepared[1], "synthetic", "long_m2m", "long_res").speed_up("no", True, "aot_eager")
    music = np.random.default_rng(1).normal(size=(200, len(eager.music_mean))).astype(np.float32)
    a, tokens_a = longform.generate_long(eager, music, time_steps=3, progress=False)
    b, tokens_b = longform.generate_long(compiled, music, time_steps=3, progress=False)
    assert torch.equal(tokens_a, tokens_b)
    np.testing.assert_allclose(b, a, atol=1e-4)


class RecordingMasked(MaskedTrainer):
    """Records each step's loss (eager and compiled runs compared)."""

    def training_step(self, model, batch):
        losses = super().training_step(model, batch)
        self.seen = [*getattr(self, "seen", []), float(losses["loss"].detach())]
        return losses


def test_compiled_training_gives_the_eager_loss(prepared, tmp_path):
    root, ckpts = prepared
    losses = []
    for flag in ([], ["--compile"]):
        args = tiny(
            root,
            ckpts,
            "--name",
            "compiled" if flag else "eager",
            "--vq_name",
            "hvq",
            "--max_steps",
            "2",
            "--music_cond",
            "frame",
            "--dropout",
            "0",
            "--cond_drop_prob",
            "0",
            "--eval_windows",
            "0",
            *flag,
        )
        trainer = RecordingMasked(transformer_parser().parse_args(args), tmp_path / ("c" if flag else "e"))
        trainer.fit()
        losses.append(trainer.seen)
    assert len(losses[0]) == 2
    np.testing.assert_allclose(losses[1], losses[0], atol=1e-4, rtol=0)
    eager, compiled = (load_checkpoint(tmp_path / r / "model" / "latest.tar")["model"] for r in ("e", "c"))
    assert eager.keys() == compiled.keys()  # the plain module is saved, not the compile wrapper


def test_upstream_checkpoints_are_fingerprinted_and_a_changed_one_is_refused(prepared, tmp_path, capsys):
    """A transformer records the file and content of its tokenizer and MMR checkpoints; a tokenizer continued or an
    MMR retrained since is refused by generation and by resume, in one line; a moved MMR with the same content is
    accepted."""
    root, ckpts = prepared
    vq_common = [
        "--dataset_name",
        "synthetic",
        "--data_root",
        str(root),
        "--checkpoints_dir",
        str(ckpts),
        "--gpu_id",
        "-1",
        "--batch_size",
        "8",
        "--window_size",
        "16",
        "--nb_code",
        "16",
        "--code_dim",
        "16",
        "--width",
        "16",
        "--depth",
        "1",
        "--num_quantizers",
        "2",
        "--warm_up_iter",
        "2",
        "--save_latest",
        "0",
        "--name",
        "fp_vq",
    ]
    train_vq([*vq_common, "--max_steps", "2"])
    train_m2m(tiny(root, ckpts, "--name", "fp_m2m", "--vq_name", "fp_vq", "--vq_which", "latest", "--max_steps", "1"))
    ckpt = load_checkpoint(ckpts / "synthetic" / "fp_m2m" / "model" / "latest.tar")
    vq_file = ckpts / "synthetic" / "fp_vq" / "model" / "latest.tar"
    assert ckpt["tokenizer"]["file"] == str(vq_file.resolve()) and ckpt["tokenizer"]["which"] == "latest"
    assert ckpt["tokenizer"]["fingerprint"] == file_fingerprint(vq_file)
    mmr_file = ckpt["music"]["clip_mmr"]
    assert ckpt["music"]["clip_mmr_fingerprint"] == file_fingerprint(mmr_file)
    # the MMR, moved: accepted by content; another MMR: refused
    moved = tmp_path / "moved" / "mmr.tar"
    moved.parent.mkdir()
    shutil.copy(mmr_file, moved)
    assert load_mage(ckpts, "synthetic", "fp_m2m", mmr_run=moved).mmr is not None
    other = tmp_path / "other_mmr"
    MMRTrainer(mmr_options(root, "--max_steps", "1", "--batch_size", "8", "--seed", "99"), other).fit()
    with pytest.raises(
        UserError,
        match=r"the MMR \(.*other_mmr/model/.*\) is not the checkpoint transformer 'fp_m2m' "
        r"was trained on .* pass the MMR run that embedded",
    ):
        load_mage(ckpts, "synthetic", "fp_m2m", mmr_run=other)
    # the tokenizer, continued: generation and resume refuse it
    train_vq([*vq_common, "--max_steps", "3", "--is_continue"])
    with pytest.raises(
        UserError,
        match=r"tokenizer 'fp_vq' \(.*fp_vq/model/latest.tar\) is not the checkpoint "
        r"transformer 'fp_m2m' was trained on .* retrain 'fp_m2m'",
    ):
        load_mage(ckpts, "synthetic", "fp_m2m")
    capsys.readouterr()
    with pytest.raises(SystemExit):
        train_m2m(tiny(root, ckpts, "--name", "fp_m2m", "--vq_name", "fp_vq", "--max_steps", "2", "--is_continue"))
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "tokenizer 'fp_vq' (" in err[0] and "is not the checkpoint run 'fp_m2m' was" in err[0]


def test_music_features_of_a_changed_mmr_are_refused(prepared, tmp_path, capsys):
    root, ckpts = prepared
    stale = tmp_path / "stale"
    shutil.copytree(root / "processed", stale / "processed")
    summary = json.loads((stale / "processed" / "summary.json").read_text())
    summary["music"]["mmr"]["fingerprint"] = "0" * 64  # made by an MMR whose file has changed since
    (stale / "processed" / "summary.json").write_text(json.dumps(summary))
    with pytest.raises(SystemExit):
        train_m2m(tiny(stale, ckpts, "--name", "stale_m2m", "--vq_name", "rvq3_synthetic", "--max_steps", "1"))
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "is not the checkpoint the mmr music features of" in err[0]
    assert "embed the music again with MMR/mmr_music_feat256.py" in err[0]


def test_same_upstream_compares_content_then_run_names():
    from models.mask_transformer.loading import same_upstream

    assert same_upstream({"run": "a", "fingerprint": "x"}, {"run": "b", "fingerprint": "x"}, "run")  # renamed
    assert not same_upstream({"run": "a", "fingerprint": "x"}, {"run": "a", "fingerprint": "y"}, "run")  # retrained
    assert same_upstream({"run": "a"}, {"run": "a", "fingerprint": "y"}, "run")  # an older record: by name
    assert not same_upstream({"run": "a"}, {"run": "b"}, "run")
