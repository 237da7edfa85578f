"""MMR building blocks: InfoNCE (alignment, symmetry, same-sequence masking), KL, retrieval metrics, encoders."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from MMR.encoders import SequenceDecoder, SequenceEncoder
from MMR.losses import info_nce, kl_divergence, same_group_negatives, similarity
from MMR.retrieval import batched_retrieval, match_ranks, retrieval_metrics


def test_info_nce_is_minimal_for_aligned_pairs_and_symmetric():
    torch.manual_seed(0)
    x = torch.randn(16, 8)
    aligned = info_nce(x, x + 0.01 * torch.randn(16, 8))
    shuffled = info_nce(x, x[torch.randperm(16)])
    assert aligned < shuffled
    y = torch.randn(16, 8)
    assert info_nce(x, y).item() == pytest.approx(info_nce(y, x).item(), rel=1e-6)  # the two directions averaged
    logits = similarity(x, y) / 0.1
    labels = torch.arange(16)
    expected = (F.cross_entropy(logits, labels) + F.cross_entropy(logits.t(), labels)) / 2
    assert info_nce(x, y, 0.1).item() == pytest.approx(expected.item(), rel=1e-6)


def test_same_sequence_negatives_are_masked():
    torch.manual_seed(1)
    x, y = torch.randn(6, 4), torch.randn(6, 4)
    groups = torch.tensor([0, 0, 1, 2, 2, 2])
    mask = same_group_negatives(groups)
    assert mask.sum() == 2 + 6 and not mask.diagonal().any()
    logits = (similarity(x, y) / 0.1).masked_fill(mask, float("-inf"))
    labels = torch.arange(6)
    expected = (F.cross_entropy(logits, labels) + F.cross_entropy(logits.t(), labels)) / 2
    assert info_nce(x, y, groups=groups).item() == pytest.approx(expected.item(), rel=1e-6)
    # a near-duplicate window of the same sequence is no longer pushed away
    y_dup = y.clone()
    y_dup[1] = x[0]  # pair 0's motion also looks like window 1's
    assert info_nce(x, y_dup, groups=groups) < info_nce(x, y_dup)
    assert info_nce(x, y, groups=torch.arange(6)).item() == pytest.approx(info_nce(x, y).item())


def test_kl_divergence_known_values():
    mu, logvar = torch.zeros(3, 5), torch.zeros(3, 5)
    assert kl_divergence(mu, logvar).item() == 0.0
    assert kl_divergence(torch.ones(2, 4), torch.zeros(2, 4)).item() == pytest.approx(0.5)  # mean of 1/2 per dim
    a, b = torch.randn(2, 3), torch.randn(2, 3)
    assert kl_divergence(a, b, a, b).item() == pytest.approx(0.0, abs=1e-6)


def test_retrieval_metrics_on_a_constructed_matrix():
    # match ranks 0, 1, 3, 0 (row 2: three candidates score higher than its match)
    sims = np.array([[0.9, 0.1, 0.2, 0.0], [0.8, 0.7, 0.1, 0.0], [0.5, 0.6, 0.1, 0.4], [0.0, 0.0, 0.0, 1.0]])
    np.testing.assert_array_equal(match_ranks(sims), [0, 1, 3, 0])
    m = retrieval_metrics(sims)
    assert m["m2d/R01"] == 50.0 and m["m2d/R02"] == 75.0 and m["m2d/R03"] == 75.0 and m["m2d/R05"] == 100.0
    assert m["m2d/MedR"] == 1.5  # median of ranks (0, 0, 1, 3) + 1
    # columns (dance -> music): column 2's match (0.1) has one higher (0.2) and one tie (0.1): rank 1.5
    np.testing.assert_array_equal(match_ranks(sims.T), [0, 0, 1.5, 0])
    assert m["d2m/R01"] == 75.0 and m["d2m/MedR"] == 1.0
    assert match_ranks(np.ones((3, 3))).tolist() == [1.0, 1.0, 1.0]  # all tied: the average rank
    perfect = batched_retrieval(np.eye(40), batch=32, repeats=5)
    assert perfect["m2d/R01"] == 100.0 and perfect["d2m/MedR"] == 1.0
    rand = batched_retrieval(np.random.default_rng(0).normal(size=(200, 200)), batch=32, repeats=200)
    assert 1.0 < rand["m2d/R01"] < 6.0  # chance: 1/32 = 3.1 %


def test_encoders_shapes_and_padding():
    torch.manual_seed(0)
    enc = SequenceEncoder(35, latent=32, ff=64, layers=2, heads=4).eval()
    dec = SequenceDecoder(263, latent=32, ff=64, layers=2, heads=4).eval()
    x = torch.randn(2, 20, 35)
    mask = torch.ones(2, 20, dtype=torch.bool)
    mask[1, 12:] = False
    out = enc(x, mask)
    assert out.shape == (2, 2, 32)
    x2 = x.clone()
    x2[1, 12:] = 100.0  # padded frames must not matter
    torch.testing.assert_close(enc(x2, mask), out)
    rec = dec(out[:, 0], mask)
    assert rec.shape == (2, 20, 263) and (rec[1, 12:] == 0).all()
    assert SequenceEncoder(35, latent=32, ff=64, layers=1, vae=False)(x).shape == (2, 1, 32)


def test_mmr_model_losses_and_a_few_steps_of_learning():
    from MMR.model import MMRConfig, MusicMotionRetrieval

    torch.manual_seed(0)
    cfg = MMRConfig(music_dim=6, motion_dim=10, latent=16, ff=32, layers=1, heads=2, dropout=0.0, w_contrastive=1.0)
    model = MusicMotionRetrieval(cfg)
    motion = torch.randn(8, 12, 10)
    music = motion[..., :6] * 2 + 0.1 * torch.randn(8, 12, 6)  # music that says which motion it belongs to
    losses = model.losses(motion, music, groups=torch.arange(8))
    assert set(losses) == {"recons", "kl", "latent", "contrastive", "loss"} and torch.isfinite(losses["loss"])
    expected = losses["recons"] + 1e-5 * losses["kl"] + 1e-5 * losses["latent"] + losses["contrastive"]
    assert losses["loss"].item() == pytest.approx(expected.item(), rel=1e-6)
    model.eval()
    torch.testing.assert_close(model.encode_music(music), model.encode_music(music))  # eval: the mean, deterministic
    # learning, shown without the VAE's sampling noise (which slows contrastive learning at this size)
    torch.manual_seed(0)
    model = MusicMotionRetrieval(
        MMRConfig(
            music_dim=6, motion_dim=10, latent=16, ff=32, layers=1, heads=2, dropout=0.0, w_contrastive=1.0, vae=False
        )
    )
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    first = model.losses(motion, music)["contrastive"].item()
    for _ in range(60):
        loss = model.losses(motion, music)["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        sims = similarity(model.encode_music(music), model.encode_motion(motion)).numpy()
        assert model.losses(motion, music)["contrastive"].item() < first
    metrics = retrieval_metrics(sims)
    assert metrics["m2d/R01"] >= 75.0 and metrics["d2m/R01"] >= 75.0  # 8 pairs: chance is 12.5 %


def test_kl_divergence_is_the_temos_mean_over_batch_and_dimensions():
    """TEMOS / TMR: `torch.distributions.kl_divergence(q, p).mean()` over every element, not summed over D."""
    g = torch.Generator().manual_seed(0)
    mu, lv, mu_r, lv_r = (torch.randn(4, 256, generator=g) for _ in range(4))
    q = torch.distributions.Normal(mu, (lv / 2).exp())
    p = torch.distributions.Normal(mu_r, (lv_r / 2).exp())
    expected = torch.distributions.kl_divergence(q, p).mean()
    assert kl_divergence(mu, lv, mu_r, lv_r).item() == pytest.approx(expected.item(), rel=1e-5)
