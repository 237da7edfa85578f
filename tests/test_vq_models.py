"""Motion tokenizer modules: the EMA quantizer, part residual quantization (VQ / RVQ / HRVQ) and the tokenizer."""

import numpy as np
import pytest
import torch

from models.vq.model import MotionTokenizer, TokenizerConfig, reconstruction_loss, ric_index
from models.vq.quantizer import EMAQuantizer, perplexity
from models.vq.residual import PartResidualVQ
from motion.layout import MotionLayout


def quantizer_with(codes: torch.Tensor, **kwargs) -> EMAQuantizer:
    q = EMAQuantizer(len(codes), codes.shape[1], **kwargs)
    q.codebook.copy_(codes)
    q.code_sum.copy_(codes)
    q.code_count.fill_(1.0)
    q.initialised.fill_(True)
    return q


def test_nearest_code_assignment():
    codes = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [5.0, 5.0]])
    q = quantizer_with(codes).eval()
    x = torch.tensor([[0.1, -0.1], [0.9, 0.2], [0.2, 0.7], [4.0, 6.0], [0.6, 0.0]])
    out, idx, commit, hist = q(x)
    assert idx.tolist() == [0, 1, 2, 3, 1]
    torch.testing.assert_close(out, codes[idx])
    assert commit.item() == pytest.approx(((x - codes[idx]) ** 2).mean().item())
    assert hist.tolist() == [1, 2, 1, 1]
    brute = torch.cdist(x, codes).argmin(-1)
    assert torch.equal(idx, brute)


def test_straight_through_gradient_and_fp32_under_autocast():
    q = quantizer_with(torch.randn(8, 4)).eval()
    x = torch.randn(10, 4, requires_grad=True)
    out, *_ = q(x)
    out.sum().backward()
    torch.testing.assert_close(x.grad, torch.ones_like(x))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out, idx, commit, _ = q(x.detach().bfloat16())
    assert out.dtype == torch.bfloat16 and commit.dtype == torch.float32
    assert torch.equal(idx, torch.cdist(x.detach().bfloat16().float(), q.codebook).argmin(-1))


def test_ema_moves_codes_toward_their_vectors():
    codes = torch.tensor([[0.0, 0.0], [10.0, 10.0]])
    q = quantizer_with(codes, mu=0.9, reset_dead=False).train()
    x = torch.tensor([[1.0, 1.0], [1.0, 1.0], [9.0, 9.0]])
    q(x)
    # sum = 0.9 * code + 0.1 * batch_sum, count = 0.9 + 0.1 * n
    torch.testing.assert_close(q.codebook[0], (0.9 * codes[0] + 0.1 * 2 * x[0]) / (0.9 + 0.2))
    torch.testing.assert_close(q.codebook[1], (0.9 * codes[1] + 0.1 * x[2]) / (0.9 + 0.1))
    for _ in range(200):
        q(x)
    torch.testing.assert_close(q.codebook, torch.tensor([[1.0, 1.0], [9.0, 9.0]]), atol=1e-4, rtol=0)


def test_dead_codes_are_reset_to_batch_vectors():
    torch.manual_seed(0)
    codes = torch.tensor([[0.0, 0.0], [100.0, 100.0], [-100.0, 50.0]])
    q = quantizer_with(codes, mu=0.5).train()
    x = torch.randn(64, 2) * 0.1
    q(x)  # codes 1 and 2 get nothing: their counts fall to 0.5 < 1, they are dead
    for k in (1, 2):
        assert torch.cdist(q.codebook[k : k + 1], x).min() < 0.05  # now a (jittered) batch vector
    assert (q.code_count >= 1).all()
    live = quantizer_with(codes, mu=0.5, reset_dead=False).train()
    live(x)
    torch.testing.assert_close(live.codebook[1:], codes[1:])  # without reset they stay where they were


def test_first_training_batch_initialises_the_codebook():
    torch.manual_seed(0)
    q = EMAQuantizer(16, 3).train()
    x = torch.randn(40, 3)
    q(x)
    assert bool(q.initialised)
    assert torch.cdist(q.codebook, x).min(dim=1).values.max() < 0.2  # every code sits near a batch vector
    assert perplexity(torch.ones(16)).item() == pytest.approx(16)
    assert perplexity(torch.tensor([5.0, 0, 0])).item() == pytest.approx(1.0)


def test_hierarchical_decode_from_indices_equals_the_forward_pass():
    torch.manual_seed(0)
    rvq = PartResidualVQ(n_parts=3, num_quantizers=4, nb_code=32, code_dim=8).train()
    latents = [torch.randn(2, 8, 6) * (p + 1) for p in range(3)]
    for _ in range(3):  # EMA updates and resets on the way
        rvq(latents)
    rvq.eval()
    out = rvq(latents)
    assert out["indices"].shape == (2, 18, 4) and (out["indices"] >= 0).all()
    decoded = rvq.decode_indices(out["indices"])
    for a, b in zip(out["z"], decoded, strict=True):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


def test_quantizer_dropout_keeps_a_prefix_of_layers():
    torch.manual_seed(0)
    rvq = PartResidualVQ(n_parts=2, num_quantizers=5, nb_code=16, code_dim=4, dropout_prob=1.0).train()
    latents = [torch.randn(1, 4, 8) for _ in range(2)]
    seen = set()
    for _ in range(30):
        out = rvq(latents)
        n = out["n_layers"]
        seen.add(n)
        assert 1 <= n <= 4 and (out["indices"][..., :n] >= 0).all() and (out["indices"][..., n:] == -1).all()
    assert len(seen) > 2
    rvq.eval()
    assert rvq(latents)["n_layers"] == 5


def test_residual_norms_fall_layer_by_layer():
    """More layers quantize what is left: the reconstruction error of the latent falls with each layer."""
    torch.manual_seed(0)
    rvq = PartResidualVQ(n_parts=2, num_quantizers=4, nb_code=64, code_dim=6, mu=0.8).train()
    data = [torch.randn(64, 6, 4), torch.randn(64, 6, 4)]
    for _ in range(40):
        rvq(data)
    rvq.eval()
    errors = [[(rvq(data, n_layers=n)["z"][p] - data[p]).norm().item() for n in range(1, 5)] for p in range(2)]
    for part in errors:
        assert all(b < a for a, b in zip(part, part[1:], strict=False)), errors


@pytest.mark.parametrize(
    ("vq_type", "dim", "parts"), [("vq", 623, 1), ("rvq", 263, 1), ("hrvq", 623, 2), ("hrvq", 723, 3)]
)
def test_tokenizer_shapes_and_eval_forward_equals_decode_encode(vq_type, dim, parts):
    torch.manual_seed(0)
    cfg = TokenizerConfig(vq_type=vq_type, dim=dim, nb_code=16, code_dim=8, num_quantizers=3, width=16, depth=1)
    model = MotionTokenizer(cfg)
    x = torch.randn(2, 16, dim)
    model.train()(x)  # initialises the codebooks
    model.eval()
    q = 1 if vq_type == "vq" else 3
    tokens = model.encode(x)
    assert tokens.shape == (2, parts * 4, q)
    out = model(x)
    assert out["recon"].shape == x.shape
    torch.testing.assert_close(model.decode(tokens), out["recon"], atol=1e-5, rtol=1e-5)
    assert model.codebooks().shape == (parts, q, 16, 8)
    one_hot = torch.nn.functional.one_hot(tokens, 16).float().requires_grad_()  # hard codes as weights: same decode
    decoded = model.decode_weights(one_hot)
    torch.testing.assert_close(decoded, out["recon"], atol=1e-5, rtol=1e-5)
    decoded.sum().backward()  # and the weights get gradients (the MMR loss path)
    assert one_hot.grad is not None and one_hot.grad.abs().sum() > 0


def test_tokenizer_rejects_bad_input():
    with pytest.raises(ValueError, match="unknown vq_type"):
        TokenizerConfig(vq_type="fsq")
    with pytest.raises(ValueError, match="unknown motion feature width"):
        TokenizerConfig(dim=500)
    model = MotionTokenizer(TokenizerConfig(dim=263, nb_code=8, code_dim=4, num_quantizers=2, width=8, depth=1))
    with pytest.raises(ValueError, match="multiple of 4"):
        model(torch.zeros(1, 10, 263))
    with pytest.raises(ValueError, match="expected motion features"):
        model(torch.zeros(1, 16, 623))


def test_joint_loss_reads_the_ric_block_of_body_and_hands():
    for layout in (MotionLayout(), MotionLayout(face_dim=100), MotionLayout(22)):
        idx = ric_index(layout)
        assert len(idx) == 3 * (layout.n_joints - 1) and len(set(idx.tolist())) == len(idx)
        x = np.zeros(layout.dim)
        x[idx] = 1.0
        assert (layout.split(x)["ric"] == 1).all() and layout.split(x)["rot6d"].sum() == 0
    layout = MotionLayout(face_dim=100)
    x = torch.zeros(1, 4, layout.dim)
    recon = x.clone()
    recon[..., 700] = 1.0  # a face error: not a joint position
    losses = reconstruction_loss(x, recon, layout)
    assert losses["joints"] == 0 and losses["recon"] > 0


def test_the_conditioner_is_trained_by_the_reconstruction():
    """d z / d c != 0: the finer part quantizes r - sg(c) and adds c + q, so the reconstruction's gradient reaches g
    (quantizing r - c would make c + q_st = r + sg(...) and cancel it)."""
    torch.manual_seed(0)
    rvq = PartResidualVQ(n_parts=3, num_quantizers=2, nb_code=16, code_dim=4, sample_temperature=0.0).train()
    latents = [torch.randn(2, 4, 6) for _ in range(3)]
    rvq(latents)  # initialises the codebooks from data
    for conv in rvq.conditioners:
        torch.nn.init.normal_(conv.weight, std=0.3)  # a conditioner that predicts something
    out = rvq(latents)
    (out["z"][1].sum() + out["z"][2].sum()).backward()
    for conv in rvq.conditioners:
        assert conv.weight.grad is not None and conv.weight.grad.abs().sum() > 0
    assert (out["cond_ratio"] > 0).all() and out["cond_ratio"].shape == (2, 2)
    rvq.zero_grad()
    out = rvq(latents)
    out["cond_pred"].backward()  # the optional prediction loss (--cond_loss) trains g alone toward sg(r)
    assert out["cond_pred"] > 0 and all(conv.weight.grad.abs().sum() > 0 for conv in rvq.conditioners)


def test_an_untrained_conditioner_is_the_plain_per_part_rvq():
    torch.manual_seed(0)
    with_cond = PartResidualVQ(n_parts=3, num_quantizers=3, nb_code=16, code_dim=4)
    torch.manual_seed(0)
    without = PartResidualVQ(n_parts=3, num_quantizers=3, nb_code=16, code_dim=4, conditioner=False)
    assert len(without.conditioners) == 0
    assert all(bool((c.weight == 0).all() and (c.bias == 0).all()) for c in with_cond.conditioners)
    latents = [torch.randn(2, 4, 6) for _ in range(3)]
    torch.manual_seed(1)  # the same codebook initialisation draws
    a = with_cond.train()(latents)
    torch.manual_seed(1)
    b = without.train()(latents)
    assert torch.equal(a["indices"], b["indices"])
    assert (a["cond_ratio"] == 0).all() and b["cond_ratio"].numel() == 0


def test_tokens_are_fp32_under_bf16_autocast():
    """The encoder and the residual chain run outside autocast: tokens under bf16 autocast equal fp32 tokens, with
    codebooks initialised from data (random codebooks would make every token the same either way)."""
    torch.manual_seed(0)
    model = MotionTokenizer(
        TokenizerConfig(
            vq_type="hrvq",
            dim=723,
            nb_code=64,
            code_dim=16,
            num_quantizers=3,
            width=32,
            depth=1,
            sample_temperature=0.0,
            conditioner=True,
        )
    )
    for conv in model.quantizer.conditioners:  # a conditioner that predicts something: the whole chain in fp32
        torch.nn.init.normal_(conv.weight, std=0.1)
    x = torch.randn(4, 32, 723)
    model.train()(x)  # codebooks from the data's latents
    fp32 = model.encode(x)
    assert len(fp32.unique()) > 8  # data-initialised codebooks: many distinct tokens
    with torch.autocast("cpu", dtype=torch.bfloat16):
        bf16 = model.encode(x)
        rec = model.eval()(x)
    assert torch.equal(bf16, fp32) and torch.equal(rec["indices"], fp32)
    with torch.autocast("cpu", dtype=torch.bfloat16):  # what the old code did: the encoder under autocast
        latents = model.latents(x)
    assert latents[0].dtype == torch.bfloat16  # (so the test above does exercise autocast)


def test_codebook_init_compiles_when_the_batch_has_as_many_vectors_as_codes():
    """Inductor (torch 2.13) failed on `x[randperm(n)[:n]]`: the codebook initialisation and the dead-code reset
    draw every row of a batch of exactly K vectors (`train_vq.py --compile --batch_size 32` with the defaults)."""
    torch.manual_seed(0)
    quantizer = EMAQuantizer(8, 4).train()
    q, indices, commit, _ = torch.compile(quantizer)(torch.randn(8, 4))
    assert bool(quantizer.initialised) and indices.shape == (8,) and torch.isfinite(q).all() and commit >= 0
