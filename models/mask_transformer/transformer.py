"""The masked (base layer) and residual (layers 1..Q-1) token transformers, conditioned on music.

Both share one backbone: per-part token embeddings (a body code and a hand code with the same index are different
tokens: each part has its own codebooks) + learned part and time embeddings (`TokenGrid` positions), pre-LN
Transformer blocks whose attention is `F.scaled_dot_product_attention` with `dim_head` independent of
`latent_dim` (so the seed's `--latent_dim 256 --n_heads 6` runs), and music conditioning (`music_cond`):

- `clip`: the window's MMR music embedding (256-d) -> Linear -> one prefix token, as published;
- `frame`: frame-level music features (e.g. 35-d baseline, normalised) averaged over each token's `downsampling`
  frames -> MLP -> added to every part's token at that time (ours: lets the model place moves on beats);
- `both`.

Classifier-free guidance: a sample whose `drop` flag is set gets no condition (zero clip vector, no frame term);
training drops with `cond_drop_prob`, sampling mixes uncond + s (cond - uncond) (`guided_logits`).
The masked transformer predicts layer-0 codes at [MASK] positions with one output head per part; the residual
transformer predicts layer j from the sum of the per-part, per-layer embeddings of layers < j, with one head per part
and layer. With `part_order` it follows the order body -> hands -> face within a layer: part p is predicted with
layer j of the coarser parts given (their embeddings added to their positions), as an HRVQ `--conditioner` quantized
part p's layer j given the coarser part's; (j, p) is a second prefix token. `known` positions (a continued dance's given
prefix, the coarser parts) carry their layer-j code in the input. Embeddings start at N(0, 1) (`nn.Embedding`'s
default, every table alike), heads as `nn.Linear`.
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
        part_order: residual transformer: the parts of a layer in turn, body -> hands -> face, each given the coarser
            parts' codes (the dependency an HRVQ `--conditioner` creates); False (default): all parts of a layer in one
            pass (as good on per-part RVQ tokens, and faster: docs/benchmarks.md "The hierarchy").
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
    part_order: bool = False

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
        y = F.scaled_dot_product_attention(
            q, k, v, attn_mask=keep[:, None, None, :], dropout_p=self.dropout if self.training else 0.0
        )
        return self.out(y.transpose(1, 2).reshape(b, s, -1))


class Block(nn.Module):
    """Pre-LN Transformer block."""

    def __init__(self, c: TransformerConfig) -> None:
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(c.latent_dim), nn.LayerNorm(c.latent_dim)
        self.attn = SelfAttention(c.latent_dim, c.n_heads, c.head_dim, c.dropout)
        self.ff = nn.Sequential(
            nn.Linear(c.latent_dim, c.ff_size), nn.GELU(), nn.Dropout(c.dropout), nn.Linear(c.ff_size, c.latent_dim)
        )
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
        self.frame = (
            nn.Sequential(nn.Linear(c.music_dim, c.latent_dim), nn.GELU(), nn.Linear(c.latent_dim, c.latent_dim))
            if c.music_cond in ("frame", "both")
            else None
        )

    def forward(
        self, clip: torch.Tensor | None, music: torch.Tensor | None, drop: torch.Tensor, batch: int
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
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


class PartHeads(nn.Module):
    """Output heads per part (and per layer): logits of part p's positions from its own weights.

    Args:
        grid: the token grid; layers: heads per part (1 for the masked transformer, Q for the residual one);
        nb_code: classes; dim: input width. Initialised as `nn.Linear` (uniform +-1/sqrt(dim)), biases 0.
    """

    def __init__(self, grid: TokenGrid, layers: int, nb_code: int, dim: int) -> None:
        super().__init__()
        self.grid = grid
        bound = dim**-0.5
        self.weight = nn.Parameter(torch.empty(grid.parts, layers, nb_code, dim).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.zeros(grid.parts, layers, nb_code))

    def forward(self, h: torch.Tensor, layer: torch.Tensor | None = None) -> torch.Tensor:
        """States (B, L, D) -> logits (B, L, nb_code) with the heads of `layer` (B,) (default 0)."""
        hp = self.grid.per_part(h)  # (B, P, T', D)
        if layer is None:
            return self.grid.flat(torch.einsum("bptd,pkd->bptk", hp, self.weight[:, 0]) + self.bias[:, 0, None])
        out = None
        for j in layer.unique().tolist():  # one einsum per layer present (at most Q): no per-sample weight copies
            sel = layer == j
            lj = torch.einsum("nptd,pkd->nptk", hp[sel], self.weight[:, j]) + self.bias[:, j, None]
            out = lj.new_empty(*hp.shape[:3], lj.shape[-1]) if out is None else out
            out[sel] = lj
        return self.grid.flat(out)


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

    def backbone(
        self,
        h: torch.Tensor,
        valid: torch.Tensor,
        clip: torch.Tensor | None,
        music: torch.Tensor | None,
        drop: torch.Tensor,
        prefix: torch.Tensor | None = None,
    ) -> torch.Tensor:
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
        c = config
        self.token_emb = nn.Embedding(c.parts * (c.nb_code + 2), c.latent_dim)  # per part: codes, mask, pad
        self.head = PartHeads(self.grid, 1, c.nb_code, c.latent_dim)

    def forward(
        self,
        ids: torch.Tensor,
        valid: torch.Tensor,
        clip: torch.Tensor | None = None,
        music: torch.Tensor | None = None,
        drop: torch.Tensor | None = None,
    ) -> torch.Tensor:
        drop = self.drop_flags(ids.shape[0], ids.device) if drop is None else drop
        h = self.token_emb(ids + self.part_ids * (self.config.nb_code + 2))  # (B, L, D)
        return self.head(self.backbone(h, valid, clip, music, drop))


class ResidualTransformer(TokenTransformer):
    """Layer j's codes from layers < j (and layer j where `known`). ids (B, L, Q) (layers > j ignored, layer j read
    only where `known` (B, L)), layer (B,) j in 1..Q-1, part (B,) the part predicted (-1: all parts at once) ->
    logits (B, L, nb_code)."""

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__(config)
        c = config
        self.layer_emb = nn.Parameter(torch.randn(c.parts, c.num_quantizers, c.nb_code + 1, c.latent_dim))
        self.step_token = nn.Embedding(c.num_quantizers * (c.parts + 1), c.latent_dim)  # (layer, part or all)
        self.head = PartHeads(self.grid, c.num_quantizers, c.nb_code, c.latent_dim)

    def forward(
        self,
        ids: torch.Tensor,
        layer: torch.Tensor,
        valid: torch.Tensor,
        clip: torch.Tensor | None = None,
        music: torch.Tensor | None = None,
        drop: torch.Tensor | None = None,
        known: torch.Tensor | None = None,
        part: torch.Tensor | None = None,
    ) -> torch.Tensor:
        b, _, q = ids.shape
        drop = self.drop_flags(b, ids.device) if drop is None else drop
        part = torch.full_like(layer, -1) if part is None else part
        codes = ids.clamp(min=0).masked_fill(~valid[..., None], self.config.nb_code)  # padding -> its own row
        layers = torch.arange(q, device=ids.device)
        emb = self.layer_emb[self.part_ids[None, :, None], layers[None, None], codes]  # (B, L, Q, D)
        use = (layers[None] < layer[:, None])[:, None].expand(-1, ids.shape[1], -1)  # (B, L, Q): layers < j
        if known is not None:
            use = use | (known[..., None] & (layers[None, None] == layer[:, None, None]))
        h = (emb * use[..., None].to(emb.dtype)).sum(2)
        step = self.step_token(layer * (self.config.parts + 1) + part + 1)[:, None]
        return self.head(self.backbone(h, valid, clip, music, drop, prefix=step), layer)
