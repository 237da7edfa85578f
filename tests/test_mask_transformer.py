"""MAGE transformers: masking schedule and replacement statistics, token grid, guidance, padding, in-painting, and
shapes with real tokenizers (RVQ and HRVQ on 623- and 723-d features)."""

import math

import pytest
import torch

from models.mask_transformer.masking import choose_masked, cosine_schedule, mask_count, mask_tokens
from models.mask_transformer.sampling import generate_base, generate_residual, guided_logits, top_k_filter
from models.mask_transformer.tokens import TokenGrid, special_ids
from models.mask_transformer.transformer import (
    MaskTransformer,
    ResidualTransformer,
    TransformerConfig,
    pool_frames,
)
from models.vq.model import MotionTokenizer, TokenizerConfig

TINY = {
    "nb_code": 16,
    "parts": 3,
    "times": 8,
    "num_quantizers": 3,
    "latent_dim": 32,
    "ff_size": 64,
    "n_layers": 2,
    "n_heads": 4,
    "dropout": 0.0,
    "clip_dim": 12,
    "music_dim": 5,
    "downsampling": 4,
}


def inputs(c: TransformerConfig, batch: int = 2, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, c.nb_code, (batch, c.parts * c.times), generator=g)
    return (
        ids,
        torch.randn(batch, c.clip_dim, generator=g),
        torch.randn(batch, c.times * c.downsampling, c.music_dim, generator=g),
    )


def test_cosine_schedule_and_mask_counts_exact():
    assert cosine_schedule(torch.tensor(0.0)) == 1 and cosine_schedule(torch.tensor(1.0)) < 1e-7
    t = torch.tensor([0.0, 0.5, 1.0, 0.25, 0.9])
    n = torch.tensor([111, 111, 111, 37, 10])
    # round(111 cos(pi/4)) = round(78.49) = 78; t=1 -> 0 -> clamped to 1; round(37 cos(pi/8)) = round(34.18) = 34
    assert mask_count(t, n).tolist() == [111, 78, 1, 34, round(10 * math.cos(0.45 * math.pi))]
    valid = torch.ones(5, 111, dtype=torch.bool)
    valid[3, 37:] = valid[4, 10:] = False
    ids = torch.randint(0, 16, (5, 111))
    x, chosen = mask_tokens(ids, valid, nb_code=16, mask_id=16, t=t, generator=torch.Generator().manual_seed(0))
    assert chosen.sum(-1).tolist() == mask_count(t, valid.sum(-1)).tolist()  # exactly, per sample
    assert not (chosen & ~valid).any() and torch.equal(x[~chosen], ids[~chosen])  # only chosen tokens change


def test_replacement_statistics():
    """All tokens chosen (t = 0): 10 % random codes, 0.9 x 0.7 = 63 % [MASK], 27 % unchanged (+-0.5 %, n = 256k)."""
    b, n, nb_code, mask_id = 256, 1000, 4096, 4096
    ids = torch.zeros(b, n, dtype=torch.long)  # code 0 everywhere; a random code is another with p 4095/4096
    x, chosen = mask_tokens(
        ids,
        torch.ones(b, n, dtype=torch.bool),
        nb_code,
        mask_id,
        t=torch.zeros(b),
        generator=torch.Generator().manual_seed(1),
    )
    assert chosen.all()
    masked, kept = (x == mask_id).float().mean(), (x == 0).float().mean()
    random = ((x != mask_id) & (x != 0)).float().mean()
    assert abs(random - 0.1 * 4095 / 4096) < 0.005 and abs(masked - 0.63) < 0.005 and abs(kept - 0.27) < 0.005
    x, _ = mask_tokens(
        ids, torch.ones(b, n, dtype=torch.bool), nb_code, mask_id, random_prob=0.0, mask_prob=1.0, t=torch.zeros(b)
    )
    assert (x == mask_id).all()  # MoMask-style settings are options


def test_choose_masked_is_uniform_over_valid_positions():
    valid = torch.ones(4000, 10, dtype=torch.bool)
    valid[:, 7:] = False
    chosen = choose_masked(valid, torch.full((4000,), 3), torch.Generator().manual_seed(2))
    freq = chosen.float().mean(0)
    assert (freq[7:] == 0).all() and torch.allclose(freq[:7], torch.full((7,), 3 / 7), atol=0.03)


def test_token_grid_positions():
    grid = TokenGrid(parts=3, times=5)
    assert grid.position(2, 4).item() == 14 and grid.part_ids().tolist()[4:6] == [0, 1]
    assert grid.time_ids().tolist()[:7] == [0, 1, 2, 3, 4, 0, 1]
    at = grid.positions_at(range(1, 3))
    assert at.nonzero().flatten().tolist() == [1, 2, 6, 7, 11, 12]
    assert grid.positions_at([0], parts=[2]).nonzero().flatten().tolist() == [10]
    x = torch.arange(2 * 15).reshape(2, 15)
    assert torch.equal(grid.flat(grid.per_part(x)), x) and grid.per_part(x)[1, 2, 0] == 15 + 10
    assert special_ids(512) == (512, 513)


def test_pool_frames_averages_each_token_span():
    music = torch.arange(2 * 10 * 1, dtype=torch.float).reshape(2, 10, 1)
    pooled = pool_frames(music, times=3, downsampling=4)  # 12 frames wanted: the last 2 are zero padding
    assert pooled[0, :, 0].tolist() == [1.5, 5.5, (8 + 9) / 4] and pooled.shape == (2, 3, 1)


@pytest.mark.parametrize("music_cond", ["clip", "frame", "both"])
def test_guidance_scale_one_is_conditional_and_dropped_condition_is_ignored(music_cond):
    c = TransformerConfig(**TINY, music_cond=music_cond)
    torch.manual_seed(0)
    model = MaskTransformer(c).eval()
    ids, clip, music = inputs(c)
    valid = torch.ones_like(ids, dtype=torch.bool)
    no = torch.zeros(2, dtype=torch.bool)
    cond = model(ids, valid, clip, music, drop=no)
    assert torch.equal(guided_logits(model, 1.0, ids, valid, clip=clip, music=music), cond)
    uncond = model(ids, valid, clip, music, drop=~no)
    assert torch.allclose(
        guided_logits(model, 3.0, ids, valid, clip=clip, music=music), uncond + 3 * (cond - uncond), atol=1e-5
    )  # one doubled batch: float summation order differs
    assert torch.equal(model(ids, valid, clip * 5, music * 5, drop=~no), uncond)  # dropped: the music is unseen
    assert not torch.allclose(model(ids, valid, clip * 5, music * 5, drop=no), cond)  # kept: it is seen


def test_the_seed_width_and_head_count_run():
    """`--latent_dim 256 --n_heads 6`: 256 / 6 does not divide, heads are 64-d (the release fails here)."""
    c = TransformerConfig(**{**TINY, "latent_dim": 256, "n_heads": 6, "n_layers": 1})
    assert c.head_dim == 64
    model = MaskTransformer(c).eval()
    ids, clip, music = inputs(c)
    assert model(ids, torch.ones_like(ids, dtype=torch.bool), clip, music).shape == (2, 24, 16)
    assert TransformerConfig(latent_dim=384, n_heads=6).head_dim == 64 and TransformerConfig(dim_head=32).head_dim == 32


def test_padded_positions_do_not_influence_real_ones_and_dim_head_is_free():
    c = TransformerConfig(**{**TINY, "latent_dim": 32, "n_heads": 6})  # 32 / 6 does not divide: 64-d heads
    assert c.head_dim == 64
    torch.manual_seed(0)
    for model in (MaskTransformer(c).eval(), ResidualTransformer(c).eval()):
        ids, clip, music = inputs(c)
        valid = torch.ones_like(ids, dtype=torch.bool)
        valid[:, c.times - 3 : c.times] = False  # the last 3 body times are padding
        other = ids.clone()
        other[~valid] = 5
        if isinstance(model, MaskTransformer):
            a, b = model(ids, valid, clip, music), model(other, valid, clip, music)
        else:
            layer = torch.tensor([1, 2])
            a = model(ids[..., None].repeat(1, 1, 3), layer, valid, clip, music)
            b = model(other[..., None].repeat(1, 1, 3), layer, valid, clip, music)
        assert torch.allclose(a[valid], b[valid], atol=1e-6)


def test_residual_transformer_reads_only_the_layers_below():
    c = TransformerConfig(**TINY)
    torch.manual_seed(0)
    model = ResidualTransformer(c).eval()
    ids, clip, music = inputs(c)
    layers = torch.stack([ids, (ids + 1) % 16, (ids + 2) % 16], -1)
    valid = torch.ones_like(ids, dtype=torch.bool)
    changed = layers.clone()
    changed[..., 2] = 0  # layer 2 is what layer 2's prediction may not see
    j = torch.tensor([2, 2])
    assert torch.equal(model(layers, j, valid, clip, music), model(changed, j, valid, clip, music))
    changed[..., 1] = 0
    assert not torch.allclose(model(layers, j, valid, clip, music), model(changed, j, valid, clip, music))


def test_top_k_filter_keeps_ten_percent():
    logits = torch.randn(3, 512)
    kept = torch.isfinite(top_k_filter(logits, 0.9)).sum(-1)
    assert kept.tolist() == [52, 52, 52]  # ceil(0.1 x 512), the release's k


def test_inpainting_never_changes_given_tokens_in_any_layer():
    c = TransformerConfig(**TINY)
    torch.manual_seed(0)
    base_model, res_model = MaskTransformer(c).eval(), ResidualTransformer(c).eval()
    grid = TokenGrid(c.parts, c.times)
    ids, clip, music = inputs(c)
    valid = torch.ones_like(ids, dtype=torch.bool)
    valid[1, grid.positions_at([7])] = False  # a shorter second sample
    known = grid.positions_at(range(3))  # the overlap with a previous window: the first 3 token times, every part
    given = torch.full((2, grid.length, c.num_quantizers), -1)
    given[:, known] = torch.randint(0, c.nb_code, (2, int(known.sum()), c.num_quantizers))
    g = torch.Generator().manual_seed(0)
    base = generate_base(base_model, valid, clip, music, given[..., 0], time_steps=5, generator=g)
    full = generate_residual(res_model, base, valid, clip, music, given, generator=g)
    assert torch.equal(full[:, known], given[:, known])
    assert (full[valid] >= 0).all() and (full[~valid] == -1).all() and (full < c.nb_code).all()


@pytest.mark.parametrize(
    ("vq_type", "dim", "parts"), [("rvq", 623, 1), ("hrvq", 623, 2), ("rvq", 723, 1), ("hrvq", 723, 3)]
)
def test_shapes_with_real_tokenizers(vq_type, dim, parts):
    torch.manual_seed(0)
    vq = MotionTokenizer(
        TokenizerConfig(vq_type=vq_type, dim=dim, nb_code=16, code_dim=8, width=8, depth=1, num_quantizers=3)
    ).eval()
    tokens = vq.encode(torch.randn(2, 48, dim))  # 48 frames -> 12 token times per part
    assert tokens.shape == (2, parts * 12, 3)
    c = TransformerConfig(**{**TINY, "parts": parts, "times": 12})
    base_model, res_model = MaskTransformer(c).eval(), ResidualTransformer(c).eval()
    valid = torch.ones(2, parts * 12, dtype=torch.bool)
    clip, music = torch.randn(2, c.clip_dim), torch.randn(2, 48, c.music_dim)
    assert base_model(tokens[..., 0], valid, clip, music).shape == (2, parts * 12, 16)
    assert res_model(tokens, torch.tensor([1, 2]), valid, clip, music).shape == (2, parts * 12, 16)
    out = generate_residual(res_model, generate_base(base_model, valid, clip, music, time_steps=3), valid, clip, music)
    assert out.shape == tokens.shape and vq.decode(out).shape == (2, 48, dim)
