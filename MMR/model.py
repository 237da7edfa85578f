"""The MMR model: music and motion encoders into one 256-d space, a motion decoder, and the TMR loss.

Both encoders are VAE sequence encoders (`SequenceEncoder`); a latent is mu + fact * eps * sigma in training and mu
with `sample_mean`. The decoder rebuilds the motion from either latent. Loss (TMR / TEMOS, published weights):
recons 1.0 x [SmoothL1(dec(z_music), m) + SmoothL1(dec(z_motion), m)] + kl 1e-5 x [KL(music||motion) +
KL(motion||music) + KL(music||N(0,I)) + KL(motion||N(0,I))] + latent 1e-5 x SmoothL1(z_music, z_motion) +
contrastive 0.1 x symmetric InfoNCE (temperature 0.1, same-sequence negatives masked).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from MMR.encoders import SequenceDecoder, SequenceEncoder
from MMR.losses import TEMPERATURE, info_nce, kl_divergence


@dataclass
class MMRShape:
    """Architecture and loss weights (the model options of `train_mmr.py`; defaults: the released MMR's).

    Args:
        latent, ff, layers, heads, dropout: the Transformer encoders' and decoder's shape.
        vae: distribution tokens (mu, logvar) instead of one embedding token.
        temperature: InfoNCE temperature.
        w_recons, w_kl, w_latent, w_contrastive: loss weights.
    """

    latent: int = 256
    ff: int = 1024
    layers: int = 6
    heads: int = 4
    dropout: float = 0.1
    vae: bool = True
    temperature: float = TEMPERATURE
    w_recons: float = 1.0
    w_kl: float = 1e-5
    w_latent: float = 1e-5
    w_contrastive: float = 0.1


@dataclass
class MMRConfig(MMRShape):
    """An MMR model: its shape plus the input widths (e.g. 35 baseline / 4800 Jukebox music; 263 body motion)."""

    music_dim: int = 35
    motion_dim: int = 263

    def to_dict(self) -> dict:
        return asdict(self)


class MusicMotionRetrieval(nn.Module):
    """Encoders of both modalities, the motion decoder and the TMR loss (see the module docstring)."""

    def __init__(self, config: MMRConfig) -> None:
        super().__init__()
        self.config = c = config
        shape = {"latent": c.latent, "ff": c.ff, "layers": c.layers, "heads": c.heads, "dropout": c.dropout}
        self.music_encoder = SequenceEncoder(c.music_dim, vae=c.vae, **shape)
        self.motion_encoder = SequenceEncoder(c.motion_dim, vae=c.vae, **shape)
        self.motion_decoder = SequenceDecoder(c.motion_dim, **shape)

    def _encode(
        self, encoder: SequenceEncoder, x: torch.Tensor, mask: torch.Tensor | None, sample_mean: bool, fact: float = 1.0
    ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        tokens = encoder(x, mask)  # (B, 2 | 1, latent)
        if not self.config.vae:
            return tokens[:, 0], None, None
        mu, logvar = tokens[:, 0], tokens[:, 1]
        if sample_mean:
            return mu, mu, logvar
        return mu + fact * torch.randn_like(mu) * torch.exp(0.5 * logvar), mu, logvar

    def encode_music(
        self, music: torch.Tensor, mask: torch.Tensor | None = None, sample_mean: bool = True
    ) -> torch.Tensor:
        """Music (B, T, music_dim) -> (B, latent) (the mean of the distribution by default)."""
        return self._encode(self.music_encoder, music, mask, sample_mean)[0]

    def encode_motion(
        self, motion: torch.Tensor, mask: torch.Tensor | None = None, sample_mean: bool = True
    ) -> torch.Tensor:
        """Motion (B, T, motion_dim) -> (B, latent)."""
        return self._encode(self.motion_encoder, motion, mask, sample_mean)[0]

    def forward(
        self,
        motion: torch.Tensor,
        music: torch.Tensor,
        mask: torch.Tensor | None = None,
        groups: torch.Tensor | None = None,
    ) -> dict[str, torch.Tensor]:
        """`losses` (what the training step calls: DDP and torch.compile wrap `forward`)."""
        return self.losses(motion, music, mask, groups)

    def losses(
        self,
        motion: torch.Tensor,
        music: torch.Tensor,
        mask: torch.Tensor | None = None,
        groups: torch.Tensor | None = None,
    ) -> dict[str, torch.Tensor]:
        """Named losses of a batch of pairs; "loss" is the weighted sum. `groups`: source-sequence ids."""
        c = self.config
        mask = torch.ones(motion.shape[:2], dtype=torch.bool, device=motion.device) if mask is None else mask
        z_music, mu_music, lv_music = self._encode(self.music_encoder, music, mask, not self.training)
        z_motion, mu_motion, lv_motion = self._encode(self.motion_encoder, motion, mask, not self.training)
        target = motion * mask[..., None]
        out = {
            "recons": F.smooth_l1_loss(self.motion_decoder(z_music, mask), target)
            + F.smooth_l1_loss(self.motion_decoder(z_motion, mask), target)
        }
        if c.vae:
            out["kl"] = (
                kl_divergence(mu_music, lv_music, mu_motion, lv_motion)
                + kl_divergence(mu_motion, lv_motion, mu_music, lv_music)
                + kl_divergence(mu_music, lv_music)
                + kl_divergence(mu_motion, lv_motion)
            )
        else:
            out["kl"] = torch.zeros((), device=motion.device)
        out["latent"] = F.smooth_l1_loss(z_music, z_motion)
        out["contrastive"] = info_nce(z_music, z_motion, c.temperature, groups)
        out["loss"] = (
            c.w_recons * out["recons"]
            + c.w_kl * out["kl"]
            + c.w_latent * out["latent"]
            + c.w_contrastive * out["contrastive"]
        )
        return out
