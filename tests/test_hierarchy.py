"""The body -> hands -> face hierarchy in the transformers: per-part tokens, the residual transformer's part order,
continuation training, token streams of whole sequences (cached per tokenizer checkpoint), validation that decodes
generated layers only, and old checkpoints refused in one line."""

import shutil

import numpy as np
import pytest
import torch

from data.loaders import ProcessedData
from models.mask_transformer import token_streams as streams_module
from models.mask_transformer.loading import load_m2m
from models.mask_transformer.masking import mask_tokens
from models.mask_transformer.sampling import generate_base, generate_residual
from models.mask_transformer.token_streams import token_streams
from models.mask_transformer.transformer import MaskTransformer, ResidualTransformer, TransformerConfig
from models.vq.loading import load_vq
from options.train_options import transformer_parser
from tests.test_train_m2m import prepared, tiny  # noqa: F401  (the module fixture)
from train_m2m import main as train_m2m
from train_vq import main as train_vq
from training.transformer import MaskedTrainer, ResidualTrainer
from utils.checkpoint import file_fingerprint, load_checkpoint, save_checkpoint
from utils.cli import UserError

CONFIG = TransformerConfig(
    nb_code=16,
    parts=3,
    times=5,
    num_quantizers=3,
    latent_dim=32,
    ff_size=64,
    n_layers=1,
    n_heads=2,
    dropout=0.0,
    music_cond="frame",
    music_dim=4,
    part_order=True,
)


def test_a_body_code_and_a_hand_code_with_the_same_index_are_different_tokens():
    torch.manual_seed(0)
    model = MaskTransformer(CONFIG).eval()
    per_part = model.token_emb.weight.view(3, CONFIG.nb_code + 2, -1)
    assert not torch.allclose(per_part[0, 7], per_part[1, 7]) and not torch.allclose(per_part[1, 7], per_part[2, 7])
    # the same ids at every position: the input embeddings still differ by part (beyond the part embedding)
    ids = torch.full((1, 15), 7)
    h = model.token_emb(ids + model.part_ids * (CONFIG.nb_code + 2))
    torch.testing.assert_close(h[0, 0], per_part[0, 7]) and torch.testing.assert_close(h[0, 5], per_part[1, 7])
    # each part has its own output head: identical states give different logits per part
    logits = model.head(torch.ones(1, 15, CONFIG.latent_dim))
    assert not torch.allclose(logits[0, 0], logits[0, 5]) and torch.allclose(logits[0, 0], logits[0, 4])
    res = ResidualTransformer(CONFIG)
    assert res.layer_emb.shape == (3, 3, CONFIG.nb_code + 1, CONFIG.latent_dim)
    assert res.head.weight.shape == (3, 3, CONFIG.nb_code, CONFIG.latent_dim)
    for table in (res.layer_emb, model.token_emb.weight):  # N(0, 1) alike
        assert 0.9 < float(table.detach().std()) < 1.1


def test_the_residual_transformer_predicts_a_part_from_the_coarser_parts_of_the_same_layer():
    """Part p's logits at layer j depend on the coarser parts' layer-j codes (given), never on its own or finer ones."""
    torch.manual_seed(0)
    model = ResidualTransformer(CONFIG).eval()
    ids = torch.randint(0, 16, (1, 15, 3))
    valid = torch.ones(1, 15, dtype=torch.bool)
    part_ids = model.part_ids[None]
    layer, part = torch.tensor([1]), torch.tensor([1])  # hands of layer 1
    known = part_ids < 1

    def logits(x):
        return model(x, layer, valid, music=torch.zeros(1, 20, 4), known=known, part=part)[0, 5:10]

    base = logits(ids)
    changed_body = ids.clone()
    changed_body[0, :5, 1] = (changed_body[0, :5, 1] + 1) % 16
    changed_own = ids.clone()
    changed_own[0, 5:, 1] = (changed_own[0, 5:, 1] + 1) % 16  # the hands' and face's own layer-1 codes
    assert not torch.allclose(logits(changed_body), base)  # the body's layer-1 codes are read
    torch.testing.assert_close(logits(changed_own), base)  # the target's own codes are not


def test_ordered_sampling_draws_each_part_after_the_coarser_ones(monkeypatch):
    torch.manual_seed(0)
    model = ResidualTransformer(CONFIG).eval()
    calls = []
    forward = model.forward

    def recording(ids, layer, valid, clip=None, music=None, drop=None, known=None, part=None):
        calls.append((int(layer[0]), int(part[0]), ids[0, :, int(layer[0])].clone(), known[0].clone()))
        return forward(ids, layer, valid, clip, music, drop, known, part)

    monkeypatch.setattr(model, "forward", recording)
    base = torch.randint(0, 16, (1, 15))
    out = generate_residual(
        model, base, torch.ones(1, 15, dtype=torch.bool), music=torch.zeros(1, 20, 4), cond_scale=1.0
    )
    assert [(j, p) for j, p, _, _ in calls] == [(1, 0), (1, 1), (1, 2), (2, 0), (2, 1), (2, 2)]
    for _, p, codes, known in calls:
        assert bool((codes[: 5 * p] >= 0).all()) and bool((codes[5 * p :] < 0).all())  # coarser parts drawn already
        assert torch.equal(known, torch.arange(15) < 5 * p)
    assert (out >= 0).all() and torch.equal(out[..., 0], base)


def test_given_prefix_tokens_are_never_masked_and_come_back_unchanged():
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(0, 16, (64, 15), generator=g)
    valid = torch.ones_like(ids, dtype=torch.bool)
    given = (torch.arange(15) % 5 < 2)[None].expand(64, -1)  # first 2 token times of every part
    x, chosen = mask_tokens(ids, valid, 16, 16, t=torch.zeros(64), generator=g, given=given)  # t=0: mask them all
    assert not chosen[given].any() and torch.equal(x[given], ids[given]) and chosen[~given].all()
    torch.manual_seed(0)
    base_model, res_model = MaskTransformer(CONFIG).eval(), ResidualTransformer(CONFIG).eval()
    prefix = torch.full((2, 15, 3), -1)
    prefix[given[:2]] = torch.randint(0, 16, (2 * 6, 3), generator=g)
    music = torch.zeros(2, 20, 4)
    base = generate_base(base_model, valid[:2], music=music, given=prefix[..., 0], time_steps=3)
    assert torch.equal(base[given[:2]], prefix[..., 0][given[:2]])
    out = generate_residual(res_model, base, valid[:2], music=music, given=prefix)
    assert torch.equal(out[given[:2]], prefix[given[:2]])


def test_continuation_training_gives_a_prefix_in_every_layer(prepared, tmp_path):  # noqa: F811
    root, ckpts = prepared
    for trainer_class in (MaskedTrainer, ResidualTrainer):
        opt = transformer_parser().parse_args(
            tiny(
                root,
                ckpts,
                "--name",
                "cont",
                "--vq_name",
                "hvq",
                "--music_cond",
                "frame",
                "--cont_prob",
                "1",
                "--cont_tokens",
                "3",
            )
        )
        trainer = trainer_class(opt, tmp_path / "cont")
        train, _ = trainer.build_data()
        model = trainer.build_model().train()
        batch = train.__getitems__(list(range(8)))
        torch.manual_seed(0)
        out = trainer.predict(model, batch)
        times = torch.arange(trainer.model_config.times).repeat(trainer.model_config.parts)
        assert not out["where"][:, times < 3].any() and out["where"][:, times >= 3].any()


def test_validation_never_decodes_ground_truth_residual_tokens(prepared, tmp_path):  # noqa: F811
    root, ckpts = prepared
    opt = transformer_parser().parse_args(
        tiny(root, ckpts, "--name", "val", "--vq_name", "hvq", "--music_cond", "frame")
    )
    trainer = MaskedTrainer(opt, tmp_path / "val")
    train, _ = trainer.build_data()
    model = trainer.build_model().eval()
    batch = train.__getitems__(list(range(4)))
    tokens, clip, music = trainer.inputs(batch)
    valid = torch.ones(tokens.shape[:2], dtype=torch.bool)
    scrambled = tokens.clone()
    scrambled[..., 1:] = torch.randint(0, 16, scrambled[..., 1:].shape)
    outs = [
        trainer.generate(model, t, valid, clip, music, torch.Generator().manual_seed(0)) for t in (tokens, scrambled)
    ]
    assert torch.equal(outs[0], outs[1]) and (outs[0][..., 1:] == -1).all() and (outs[0][..., 0] >= 0).all()


def test_token_streams_are_the_whole_sequence_tokens_and_rebuilt_for_a_new_tokenizer(
    prepared,  # noqa: F811
    tmp_path,
    monkeypatch,
):
    root, ckpts = prepared
    opt = transformer_parser().parse_args(
        tiny(root, ckpts, "--name", "tok", "--vq_name", "hvq", "--music_cond", "frame")
    )
    trainer = MaskedTrainer(opt, tmp_path / "tok")
    train, _ = trainer.build_data()
    trainer.build_model()
    vq, d = trainer.vq, trainer.vq.config.downsampling
    # every window of every phase: the tokens of the whole sequence at that phase, as `encode` gives them
    clip = int(train.clip[0])
    pdata = ProcessedData(root)
    seq = (pdata.motion(clip) - trainer.vq_mean.numpy()) / trainer.vq_std.numpy()
    for start in (0, 1, 2, 3, 6):
        phase = start % d
        whole = vq.encode(torch.from_numpy(seq[phase : phase + (len(seq) - phase) // d * d]).float()[None])
        whole = whole[0].reshape(3, -1, 3)[:, start // d : start // d + trainer.times].reshape(1, -1, 3)
        got = trainer.streams.windows(np.array([clip]), np.array([start]), trainer.times)
        assert torch.equal(got, whole), start
    # a batch's tokens come from the streams (the tokenizer does not run in the step)
    batch = train.__getitems__([0, 5])
    monkeypatch.setattr(type(vq), "encode", lambda *_a, **_k: pytest.fail("the tokenizer ran in the training step"))
    tokens, _, _ = trainer.inputs(batch)
    assert tokens.shape == (2, 3 * trainer.times, 3)
    monkeypatch.undo()
    # the cache is reused for the same checkpoint, rebuilt for a retrained one
    cache = sorted((root / "processed" / "tokens").glob("hrvq3_synthetic-*.npz"))
    assert len(cache) == 1
    encoded = []
    real = streams_module.encode_streams
    monkeypatch.setattr(streams_module, "encode_streams", lambda *a, **k: encoded.append(1) or real(*a, **k))
    run = ckpts / "synthetic" / "hrvq3_synthetic"
    again = token_streams(
        vq,
        file_fingerprint(run / "model" / "latest.tar"),
        run.name,
        pdata,
        trainer.streams.clips.tolist(),
        trainer.vq_mean.numpy(),
        trainer.vq_std.numpy(),
    )
    assert not encoded and np.array_equal(again.rows, trainer.streams.rows)
    ckpts2 = tmp_path / "ckpts"
    shutil.copytree(ckpts / "synthetic" / "hrvq3_synthetic", ckpts2 / "synthetic" / "hrvq3_synthetic")
    train_vq(
        [
            "--dataset_name",
            "synthetic",
            "--data_root",
            str(root),
            "--checkpoints_dir",
            str(ckpts2),
            "--gpu_id",
            "-1",
            "--name",
            "hrvq3_synthetic",
            "--vq_type",
            "hrvq",
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
            "6",
            "--is_continue",
        ]
    )
    run2 = ckpts2 / "synthetic" / "hrvq3_synthetic"
    vq2, ck2 = load_vq(ckpts2, "synthetic", "hrvq3_synthetic")
    fresh = token_streams(
        vq2,
        file_fingerprint(run2 / "model" / "latest.tar"),
        run2.name,
        pdata,
        trainer.streams.clips.tolist(),
        ck2["mean"].numpy(),
        ck2["std"].numpy(),
    )
    assert encoded == [1] and len(sorted((root / "processed" / "tokens").glob("hrvq3_synthetic-*.npz"))) == 2
    assert fresh.rows.shape == again.rows.shape


def test_old_checkpoints_are_refused_in_one_line(prepared, tmp_path, capsys):  # noqa: F811
    root, ckpts = prepared
    work = tmp_path / "ck"
    shutil.copytree(ckpts, work)
    train_m2m(tiny(root, work, "--name", "old_m2m", "--vq_name", "hvq", "--max_steps", "1", "--eval_windows", "0"))
    for run, key in (("old_m2m", "transformer_format"), ("hrvq3_synthetic", "tokenizer_format")):
        path = work / "synthetic" / run / "model" / "latest.tar"
        ckpt = load_checkpoint(path)
        ckpt.pop(key)  # as the checkpoints written before the formats were recorded
        save_checkpoint(path, ckpt)
    with pytest.raises(UserError, match="trained before per-part token embeddings and heads"):
        load_m2m(work, "synthetic", "old_m2m")
    with pytest.raises(UserError, match="an HRVQ trained before the conditioner fix"):
        load_vq(work, "synthetic", "hvq")
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        train_m2m(tiny(root, work, "--name", "new_m2m", "--vq_name", "hvq", "--max_steps", "1"))
    err = capsys.readouterr().err.strip().splitlines()
    assert exit_info.value.code == 2 and len(err) == 1 and "conditioner fix" in err[0]
