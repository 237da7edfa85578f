"""ACTOR/TEMOS-style sequence encoder and decoder (the architecture TMR and the released MMR use).

Encoder: Linear(nfeats -> latent), learnable distribution tokens (mu, logvar for the VAE; one token otherwise)
prepended, sinusoidal positions, a Transformer encoder with a padding mask; the outputs at the token positions are
the embedding. Decoder: time queries (sinusoidal positions) attend to the latent vector through a Transformer
decoder, then Linear(latent -> nfeats). Padded frames never influence real ones.
"""

from __future__ import annotations

import math

import torch
from torch import nn


class PositionalEncoding(nn.Module):
    """Sinusoidal positions added to (B, T, D)."""

    def __init__(self, dim: int, max_len: int = 5000) -> None:
        super().__init__()
        pos = torch.arange(max_len)[:, None]
        div = torch.exp(torch.arange(0, dim, 2) * (-math.log(10000.0) / dim))
        pe = torch.zeros(max_len, dim)
        pe[:, 0::2], pe[:, 1::2] = torch.sin(pos * div), torch.cos(pos * div)
        self.register_buffer("pe", pe, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.pe[: x.shape[1]]


def _layer(latent: int, heads: int, ff: int, dropout: float, decoder: bool = False):
    cls = nn.TransformerDecoderLayer if decoder else nn.TransformerEncoderLayer
    return cls(latent, heads, ff, dropout, activation="gelu", batch_first=True)


class SequenceEncoder(nn.Module):
    """(B, T, nfeats) + mask (B, T) -> (B, tokens, latent): (mu, logvar) with `vae`, else one embedding token."""

    def __init__(
        self,
        nfeats: int,
        latent: int = 256,
        ff: int = 1024,
        layers: int = 6,
        heads: int = 4,
        dropout: float = 0.1,
        vae: bool = True,
    ) -> None:
        super().__init__()
        self.project = nn.Linear(nfeats, latent)
        self.tokens = nn.Parameter(torch.randn(2 if vae else 1, latent))
        self.position = PositionalEncoding(latent)
        self.encoder = nn.TransformerEncoder(_layer(latent, heads, ff, dropout), layers, enable_nested_tensor=False)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        b, t, _ = x.shape
        mask = torch.ones(b, t, dtype=torch.bool, device=x.device) if mask is None else mask
        tokens = self.tokens[None].expand(b, -1, -1)
        h = self.position(torch.cat([tokens, self.project(x)], dim=1))
        keep = torch.cat([torch.ones(b, len(self.tokens), dtype=torch.bool, device=x.device), mask], dim=1)
        return self.encoder(h, src_key_padding_mask=~keep)[:, : len(self.tokens)]


class SequenceDecoder(nn.Module):
    """Latent (B, latent) + mask (B, T) -> (B, T, nfeats); padded frames are zero."""

    def __init__(
        self, nfeats: int, latent: int = 256, ff: int = 1024, layers: int = 6, heads: int = 4, dropout: float = 0.1
    ) -> None:
        super().__init__()
        self.position = PositionalEncoding(latent)
        self.decoder = nn.TransformerDecoder(_layer(latent, heads, ff, dropout, decoder=True), layers)
        self.output = nn.Linear(latent, nfeats)

    def forward(self, z: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        b, t = mask.shape
        queries = self.position(torch.zeros(b, t, z.shape[-1], device=z.device, dtype=z.dtype))
        h = self.decoder(queries, z[:, None], tgt_key_padding_mask=~mask)
        return self.output(h) * mask[..., None]
