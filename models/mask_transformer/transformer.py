"""The masked (base layer) and residual (layers 1..Q-1) token transformers, conditioned on music.

Both share one backbone: token embeddings + learned part and time embeddings (`TokenGrid` positions), pre-LN
Transformer blocks whose attention is `F.scaled_dot_product_attention` with `dim_head` independent of
`latent_dim` (so the seed's `--latent_dim 256 --n_heads 6` runs), and music conditioning (`music_cond`):

- `clip`: the window's MMR music embedding (256-d) -> Linear -> one prefix token, as published;
- `frame`: frame-level music features (e.g. 35-d baseline, normalised) averaged over each token's `downsampling`
  frames -> MLP -> added to every part's token at that time (ours: lets the model place moves on beats);
- `both`.

Classifier-free guidance: a sample whose `drop` flag is set gets no condition (zero clip vector, no frame term);
training drops with `cond_drop_prob`, sampling mixes uncond + s (cond - uncond) (`guided_logits`).
The masked transformer predicts layer-0 codes at [MASK] positions; the residual transformer predicts layer j from
the sum of the per-layer embeddings of layers < j, with j given as a second prefix token.
Shapes: ids (B, L) or (B, L, Q) with L = parts * times; clip (B, clip_dim); music (B, times * downsampling, Dm).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from models.mask_transformer.tokens import TokenGrid, special_ids

MUSIC_CONDS = ("clip", "frame", "both")


@dataclass
class TransformerConfig:
    """Architecture of a MAGE transformer (stored in its checkpoints).

    Args:
        nb_code: codes per codebook; parts, times: the token grid of one window (e.g. 3 x 37); num_quantizers: Q.
        latent_dim, ff_size, n_layers, n_heads, dim_head (None: latent_dim // n_heads, 64 when it does not divide),
        dropout: the Transformer.
        cond_drop_prob: probability of dropping the music condition in training (classifier-free guidance).
        music_cond: clip | frame | both; clip_dim: MMR embedding width; music_dim: frame-level feature width;
        downsampling: motion frames per token.
    """

    nb_code: int = 512
    parts: int = 3
    times: int = 37
    num_quantizers: int = 6
    latent_dim: int = 384
    ff_size: int = 1024
    n_layers: int = 8
    n_heads: int = 6
    dim_head: int | None = None
    dropout: float = 0.2
    cond_drop_prob: float = 0.1
    music_cond: str = "both"
    clip_dim: int = 256
    music_dim: int = 35
    downsampling: int = 4

    def __post_init__(self) -> None:
        if self.music_cond not in MUSIC_CONDS:
            raise ValueError(f"music_cond must be one of {MUSIC_CONDS}, got {self.music_cond!r}")

    @property
    def head_dim(self) -> int:
        if self.dim_head:
            return self.dim_head
        return self.latent_dim // self.n_heads if self.latent_dim % self.n_heads == 0 else 64

    def to_dict(self) -> dict:
        return asdict(self)


class SelfAttention(nn.Module):
    """Multi-head self-attention through `scaled_dot_product_attention`; keys outside `keep` are ignored."""

    def __init__(self, dim: int, heads: int, dim_head: int, dropout: float) -> None:
        super().__init__()
        self.heads, self.dim_head, self.dropout = heads, dim_head, dropout
        self.qkv = nn.Linear(dim, 3 * heads * dim_head)
        self.out = nn.Linear(heads * dim_head, dim)

    def forward(self, x: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        b, s, _ = x.shape
        q, k, v = self.qkv(x).view(b, s, 3, self.heads, self.dim_head).permute(2, 0, 3, 1, 4)  # (B, H, S, Dh) each
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=keep[:, None, None, :],
                                           dropout_p=self.dropout if self.training else 0.0)  # fmt: skip
        return self.out(y.transpose(1, 2).reshape(b, s, -1))


class Block(nn.Module):
    """Pre-LN Transformer block."""

    def __init__(self, c: TransformerConfig) -> None:
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(c.latent_dim), nn.LayerNorm(c.latent_dim)
        self.attn = SelfAttention(c.latent_dim, c.n_heads, c.head_dim, c.dropout)
        self.ff = nn.Sequential(nn.Linear(c.latent_dim, c.ff_size), nn.GELU(), nn.Dropout(c.dropout),
                                nn.Linear(c.ff_size, c.latent_dim))  # fmt: skip
        self.drop = nn.Dropout(c.dropout)

    def forward(self, x: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        x = x + self.drop(self.attn(self.norm1(x), keep))
        return x + self.drop(self.ff(self.norm2(x)))


def pool_frames(music: torch.Tensor, times: int, downsampling: int) -> torch.Tensor:
    """Frame-level features (B, T, Dm) -> token-time averages (B, times, Dm) (T cut or zero-padded to fit)."""
    frames = times * downsampling
    music = music[:, :frames]
    if music.shape[1] < frames:
        music = F.pad(music, (0, 0, 0, frames - music.shape[1]))
    return music.reshape(music.shape[0], times, downsampling, -1).mean(2)


class MusicCondition(nn.Module):
    """The music condition as (prefix tokens (B, 0|1, D), per-time terms (B, times, D) or None)."""

    def __init__(self, c: TransformerConfig) -> None:
        super().__init__()
        self.config = c
        self.clip = nn.Linear(c.clip_dim, c.latent_dim) if c.music_cond in ("clip", "both") else None
        self.frame = nn.Sequential(nn.Linear(c.music_dim, c.latent_dim), nn.GELU(),
                                   nn.Linear(c.latent_dim, c.latent_dim)) if c.music_cond in ("frame", "both") \
            else None  # fmt: skip

    def forward(self, clip: torch.Tensor | None, music: torch.Tensor | None, drop: torch.Tensor,
                batch: int) -> tuple[torch.Tensor, torch.Tensor | None]:  # fmt: skip
        c = self.config
        keep = (~drop).float()  # (B,)
        if self.clip is None:
            prefix = keep.new_zeros(batch, 0, c.latent_dim)
        else:
            prefix = self.clip(clip * keep[:, None])[:, None]
        per_time = None
        if self.frame is not None:
            per_time = self.frame(pool_frames(music, c.times, c.downsampling)) * keep[:, None, None]
        return prefix, per_time


class TokenTransformer(nn.Module):
    """The shared backbone (see the module docstring); subclasses embed their inputs and read out their logits."""

    def __init__(self, config: TransformerConfig, extra_prefix: int = 0) -> None:
        super().__init__()
        self.config = c = config
        self.grid = TokenGrid(c.parts, c.times)
        self.mask_id, self.pad_id = special_ids(c.nb_code)
        self.part_emb = nn.Embedding(c.parts, c.latent_dim)
        self.time_emb = nn.Embedding(c.times, c.latent_dim)
        self.condition = MusicCondition(c)
        self.blocks = nn.ModuleList(Block(c) for _ in range(c.n_layers))
        self.norm = nn.LayerNorm(c.latent_dim)
        self.extra_prefix = extra_prefix
        self.register_buffer("part_ids", self.grid.part_ids(), persistent=False)
        self.register_buffer("time_ids", self.grid.time_ids(), persistent=False)

    def drop_flags(self, batch: int, device: torch.device, force: bool | None = None) -> torch.Tensor:
        """Which samples lose their condition: all / none when `force` is given, else random in training."""
        if force is not None:
            return torch.full((batch,), force, dtype=torch.bool, device=device)
        if self.training and self.config.cond_drop_prob > 0:
            return torch.rand(batch, device=device) < self.config.cond_drop_prob
        return torch.zeros(batch, dtype=torch.bool, device=device)

    def backbone(self, h: torch.Tensor, valid: torch.Tensor, clip: torch.Tensor | None, music: torch.Tensor | None,
                 drop: torch.Tensor, prefix: torch.Tensor | None = None) -> torch.Tensor:  # fmt: skip
        """Token states (B, L, D) -> contextualised (B, L, D)."""
        b = h.shape[0]
        h = h + self.part_emb(self.part_ids) + self.time_emb(self.time_ids)
        cond_prefix, per_time = self.condition(clip, music, drop, b)
        if per_time is not None:
            h = h + per_time[:, self.time_ids]
        prefixes = [cond_prefix] + ([prefix] if prefix is not None else [])
        x = torch.cat([*prefixes, h], dim=1)
        n_prefix = x.shape[1] - h.shape[1]
        keep = torch.cat([valid.new_ones(b, n_prefix), valid], dim=1)
        for block in self.blocks:
            x = block(x, keep)
        return self.norm(x[:, n_prefix:])


class MaskTransformer(TokenTransformer):
    """Base-layer codes at [MASK] positions. ids (B, L) (codes, mask id, pad id) -> logits (B, L, nb_code)."""

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__(config)
        self.token_emb = nn.Embedding(config.nb_code + 2, config.latent_dim)
        self.head = nn.Linear(config.latent_dim, config.nb_code)

    def forward(self, ids: torch.Tensor, valid: torch.Tensor, clip: torch.Tensor | None = None,
                music: torch.Tensor | None = None, drop: torch.Tensor | None = None) -> torch.Tensor:  # fmt: skip
        drop = self.drop_flags(ids.shape[0], ids.device) if drop is None else drop
        return self.head(self.backbone(self.token_emb(ids), valid, clip, music, drop))


class ResidualTransformer(TokenTransformer):
    """Layer j's codes from the sum of layers < j. ids (B, L, Q) (layers >= j ignored), j (B,) in 1..Q-1 -> logits
    (B, L, nb_code)."""

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__(config)
        c = config
        self.layer_emb = nn.Parameter(torch.randn(c.num_quantizers, c.nb_code + 1, c.latent_dim) * 0.02)
        self.layer_token = nn.Embedding(c.num_quantizers, c.latent_dim)
        self.head_weight = nn.Parameter(torch.randn(c.num_quantizers, c.nb_code, c.latent_dim) * 0.02)
        self.head_bias = nn.Parameter(torch.zeros(c.num_quantizers, c.nb_code))

    def forward(self, ids: torch.Tensor, layer: torch.Tensor, valid: torch.Tensor, clip: torch.Tensor | None = None,
                music: torch.Tensor | None = None, drop: torch.Tensor | None = None) -> torch.Tensor:  # fmt: skip
        b, _, q = ids.shape
        drop = self.drop_flags(b, ids.device) if drop is None else drop
        codes = ids.clamp(min=0).masked_fill(~valid[..., None], self.config.nb_code)  # padding -> its own row
        emb = self.layer_emb[torch.arange(q, device=ids.device), codes]  # (B, L, Q, D)
        below = (torch.arange(q, device=ids.device)[None] < layer[:, None]).to(emb.dtype)  # (B, Q)
        h = (emb * below[:, None, :, None]).sum(2)
        out = self.backbone(h, valid, clip, music, drop, prefix=self.layer_token(layer)[:, None])
        return torch.einsum("bld,bcd->blc", out, self.head_weight[layer]) + self.head_bias[layer][:, None]
