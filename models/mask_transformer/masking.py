"""Training-time masking of the base-layer tokens (MoMask / the release): cosine schedule, BERT-style replacement.

Per sample: t ~ U(0, 1), gamma(t) = cos(pi t / 2), n_mask = round(n * gamma(t)) clamped to >= 1 of its n real
tokens, chosen uniformly (lowest ranks of a random permutation). Of the chosen positions, each is replaced by a
random code with probability `random_prob` (0.1); each of the others becomes [MASK] with probability `mask_prob`
(0.7 in the release, 0.88 in MoMask) and keeps its true code otherwise. The loss is cross-entropy on the chosen
positions only. Positions `given` (a continued window's prefix) are never chosen: they keep their true codes.
Sampling uses the same schedule to decide how many tokens stay masked at each step.
"""

from __future__ import annotations

import math

import torch

RANDOM_PROB, MASK_PROB = 0.1, 0.7  # the release's replacement rates


def cosine_schedule(t: torch.Tensor) -> torch.Tensor:
    """Fraction of tokens masked at time t in [0, 1]: cos(pi t / 2) (1 at t = 0, 0 at t = 1)."""
    return torch.cos(t * math.pi / 2)


def mask_count(t: torch.Tensor, n: torch.Tensor) -> torch.Tensor:
    """round(n * gamma(t)) clamped to >= 1. (B,), (B,) -> (B,) long"""
    return (n * cosine_schedule(t)).round().clamp(min=1).long()


def choose_masked(valid: torch.Tensor, counts: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Bool (B, L): `counts` positions per row chosen uniformly among the `valid` ones."""
    scores = torch.rand(valid.shape, generator=generator, device=valid.device).masked_fill(~valid, 2.0)
    ranks = scores.argsort(dim=-1).argsort(dim=-1)
    return ranks < counts[:, None]


def mask_tokens(
    ids: torch.Tensor,
    valid: torch.Tensor,
    nb_code: int,
    mask_id: int,
    random_prob: float = RANDOM_PROB,
    mask_prob: float = MASK_PROB,
    t: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
    given: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(input ids, chosen) for a batch of token ids (B, L) with real positions `valid` (B, L) (see the module
    docstring); `t` (B,) the schedule times (default U(0, 1)); `given` (B, L) positions never masked. Chosen
    positions are where the loss applies."""
    b = ids.shape[0]
    t = torch.rand(b, generator=generator, device=ids.device) if t is None else t
    free = valid if given is None else valid & ~given
    chosen = choose_masked(free, mask_count(t, free.sum(-1)), generator) & free
    draw = torch.rand(ids.shape, generator=generator, device=ids.device)
    to_random = chosen & (draw < random_prob)
    to_mask = chosen & ~to_random & (torch.rand(ids.shape, generator=generator, device=ids.device) < mask_prob)
    random_ids = torch.randint(0, nb_code, ids.shape, generator=generator, device=ids.device)
    x = torch.where(to_random, random_ids, ids)
    return torch.where(to_mask, torch.full_like(ids, mask_id), x), chosen
