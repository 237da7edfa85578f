"""Sampling tokens from the MAGE transformers: guidance, top-k filtering, confidence-based unmasking, in-painting.

`generate_base`: every free position starts as [MASK]; at step s of `time_steps` (t = s / (steps - 1)), the
round(n_free * cos(pi t / 2)) (>= 1) least confident free tokens are masked again and resampled from the guided,
top-k filtered logits at `temperature`; a token's confidence is its probability under the guided logits (no
filter, no temperature), and tokens kept at a step are never masked again (MoMask). `generate_residual`: layers
1..Q-1 in turn, each drawn once from its guided, filtered logits, part by part (body -> hands -> face, each given the
coarser parts' codes of the layer) when the model was trained so (`part_order`), else all parts at once.
Given tokens (`given` >= 0) stay fixed in every layer and are in the model's input: that is how a dance continues
across windows (the overlap with the previous window is given).
"""

from __future__ import annotations

import math

import torch

from models.mask_transformer.masking import cosine_schedule
from models.mask_transformer.transformer import MaskTransformer, ResidualTransformer

# Sampling defaults (the release's gen_m2m settings; `generator.dances.GenerationOptions` takes 28 unmasking steps)
TIME_STEPS = 18  # unmasking steps of the base layer
COND_SCALE, TEMPERATURE = 4.0, 1.0  # the masked transformer's classifier-free guidance and temperature
TOP_K_DROP = 0.9  # `topkr`: the fraction of the least likely codes dropped before drawing (keeps the top 10 %)
RES_COND_SCALE, RES_TEMPERATURE = 5.0, 0.8  # the residual transformer's


def guided_logits(model: torch.nn.Module, scale: float, *inputs: torch.Tensor, **condition) -> torch.Tensor:
    """Classifier-free guidance: uncond + scale * (cond - uncond) of `model(*inputs, **condition, drop=...)` with
    the condition kept / dropped, both in one forward pass of a doubled batch. scale 1: the conditional logits.
    fp32 whatever the autocast state (the model may run in bf16; guidance and sampling do not)."""
    b, device = inputs[0].shape[0], inputs[0].device
    if scale == 1:
        return model(*inputs, **condition, drop=torch.zeros(b, dtype=torch.bool, device=device)).float()

    def twice(x: torch.Tensor | None) -> torch.Tensor | None:
        return None if x is None else torch.cat([x, x])

    drop = torch.arange(2 * b, device=device) >= b
    logits = model(*map(twice, inputs), **{k: twice(v) for k, v in condition.items()}, drop=drop).float()
    cond, uncond = logits.split(b)
    return uncond + scale * (cond - uncond)


def top_k_filter(logits: torch.Tensor, ratio: float) -> torch.Tensor:
    """Keep the top ceil((1 - ratio) * n) logits of the last axis (ratio 0.9: 10 %), the rest -inf."""
    k = max(1, math.ceil((1 - ratio) * logits.shape[-1]))
    kth = logits.topk(k, dim=-1).values[..., -1:]
    return logits.masked_fill(logits < kth, float("-inf"))


def draw(logits: torch.Tensor, temperature: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """A categorical draw per position at `temperature` (0: argmax). (..., n) -> (...)"""
    if temperature <= 0:
        return logits.argmax(-1)
    probs = torch.softmax(logits / temperature, dim=-1)
    flat = probs.reshape(-1, probs.shape[-1])
    return torch.multinomial(flat, 1, generator=generator).reshape(probs.shape[:-1])


@torch.no_grad()
def generate_base(
    model: MaskTransformer,
    valid: torch.Tensor,
    clip: torch.Tensor | None = None,
    music: torch.Tensor | None = None,
    given: torch.Tensor | None = None,
    time_steps: int = TIME_STEPS,
    cond_scale: float = COND_SCALE,
    temperature: float = TEMPERATURE,
    topkr: float = TOP_K_DROP,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Base-layer codes (B, L) for real positions `valid` (B, L); `given` (B, L): codes to keep, -1 where free."""
    b, n = valid.shape
    given = torch.full_like(valid, -1, dtype=torch.long) if given is None else given
    free = valid & (given < 0)
    ids = torch.where(free, model.mask_id, torch.where(valid, given, model.pad_id))
    scores = torch.where(free, 0.0, math.inf)  # confidence; fixed tokens are never masked
    n_free = free.sum(-1)
    for step in range(time_steps):
        t = torch.tensor(step / max(time_steps - 1, 1), device=valid.device)
        count = (n_free * cosine_schedule(t)).round().clamp(min=1).long()
        ranks = scores.argsort(dim=-1).argsort(dim=-1)
        masked = (ranks < count[:, None]) & free
        ids = torch.where(masked, model.mask_id, ids)
        logits = guided_logits(model, cond_scale, ids, valid, clip=clip, music=music)
        filtered = top_k_filter(logits, topkr)
        pred = draw(filtered, temperature, generator)
        ids = torch.where(masked, pred, ids)
        confidence = torch.softmax(logits, dim=-1).gather(-1, pred[..., None])[..., 0]
        scores = torch.where(masked, confidence, torch.where(free, 1e5, math.inf))
    return torch.where(valid, ids, -1)


@torch.no_grad()
def generate_residual(
    model: ResidualTransformer,
    base: torch.Tensor,
    valid: torch.Tensor,
    clip: torch.Tensor | None = None,
    music: torch.Tensor | None = None,
    given: torch.Tensor | None = None,
    cond_scale: float = RES_COND_SCALE,
    temperature: float = RES_TEMPERATURE,
    topkr: float = TOP_K_DROP,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """All layers (B, L, Q) from the base layer (B, L); `given` (B, L, Q): codes to keep in any layer, -1 free.
    Given codes are in the model's input (`known`), so a continued dance conditions on them."""
    b, n = base.shape
    c = model.config
    ids = torch.full((b, n, c.num_quantizers), -1, dtype=torch.long, device=base.device)
    ids[..., 0] = base
    given = torch.full_like(ids, -1) if given is None else given
    part_ids = model.part_ids[None]  # (1, L)
    steps = range(c.parts) if c.part_order and c.parts > 1 else [-1]
    for j in range(1, c.num_quantizers):
        fixed = given[..., j] >= 0
        ids[..., j] = torch.where(fixed, given[..., j], -1)
        layer = torch.full((b,), j, dtype=torch.long, device=base.device)
        for p in steps:
            target = (part_ids == p) if p >= 0 else torch.ones_like(fixed)
            known = fixed | (part_ids < p)
            part = torch.full_like(layer, p)
            logits = guided_logits(model, cond_scale, ids, layer, valid, clip=clip, music=music, known=known, part=part)
            pred = draw(top_k_filter(logits, topkr), temperature, generator)
            ids[..., j] = torch.where(target & ~fixed, pred, ids[..., j])
    return ids.masked_fill(~valid[..., None], -1)


def generate(
    base_model: MaskTransformer,
    res_model: ResidualTransformer | None,
    valid: torch.Tensor,
    clip: torch.Tensor | None = None,
    music: torch.Tensor | None = None,
    given: torch.Tensor | None = None,
    time_steps: int = TIME_STEPS,
    cond_scale: float = COND_SCALE,
    temperature: float = TEMPERATURE,
    topkr: float = TOP_K_DROP,
    res_cond_scale: float = RES_COND_SCALE,
    res_temperature: float = RES_TEMPERATURE,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Tokens (B, L, Q) of every layer: the base layer by `generate_base`, the others by `generate_residual` (without
    a residual model, layers >= 1 are -1 and the tokenizer decodes the base layer alone). `given` (B, L, Q): codes to
    keep (in-painting), -1 where free."""
    base = generate_base(
        base_model,
        valid,
        clip,
        music,
        None if given is None else given[..., 0],
        time_steps,
        cond_scale,
        temperature,
        topkr,
        generator,
    )
    if res_model is None:
        q = base_model.config.num_quantizers
        return torch.cat([base[..., None], base.new_full((*base.shape, q - 1), -1)], dim=-1)
    return generate_residual(
        res_model, base, valid, clip, music, given, res_cond_scale, res_temperature, topkr, generator
    )
