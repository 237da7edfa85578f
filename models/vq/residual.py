"""Residual vector quantization over one or several body parts: VQ, RVQ and HRVQ are one module.

Each part p (body, hands, face; or one part covering everything for VQ/RVQ) has Q quantizers. At layer k, parts are
quantized from coarse to fine, and a finer part is first *predicted* from the coarser part's code of the same layer
(DESIGN.md §4, a true residual):

    c = g_p(q_{p-1,k})        (0 for the first part, or with the conditioner off)
    q = VQ_{p,k}(r_p - sg(c))
    r_p <- r_p - sg(c + q)
    z_p = sum_k (c + q)

With the straight-through estimator q = x + sg(VQ(x) - x), so c + q = c + r_p - sg(c) + sg(...): d z / d c = I and
the reconstruction loss trains g (quantizing r_p - c instead would cancel c in the gradient, leaving g to the small
commitment term). g starts at zero, so an untrained conditioner is the plain per-part RVQ. Every layer of every part
quantizes what is still missing, and decoding from indices alone rebuilds z exactly. Quantizer dropout (training)
keeps the first n layers of *all* parts, n uniform in 1..Q-1, with probability `dropout_prob`. Indices are
`(B, P * T', Q)`, parts side by side along time; dropped layers are -1. The forward pass also reports how much
of each finer part the conditioner predicts: ||c|| / ||r_p|| per part and layer (`cond_ratio`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from models.vq.quantizer import EMAQuantizer, broadcast


class PartResidualVQ(nn.Module):
    """Residual quantizers for `n_parts` parts, coarse to fine.

    Args:
        n_parts: 1 (VQ / RVQ) or 2-3 (HRVQ: body, hands[, face]).
        num_quantizers: Q layers per part.
        nb_code, code_dim, mu, sample_temperature, reset_dead: see `EMAQuantizer`.
        dropout_prob: probability of quantizer dropout in training.
        conditioner: predict each finer part from the coarser part's code of the same layer (False: independent
            per-part RVQs, the ablation).
    """

    def __init__(
        self,
        n_parts: int,
        num_quantizers: int,
        nb_code: int,
        code_dim: int,
        mu: float = 0.99,
        sample_temperature: float = 0.0,
        reset_dead: bool = True,
        dropout_prob: float = 0.0,
        conditioner: bool = True,
    ) -> None:
        super().__init__()
        self.n_parts, self.num_quantizers, self.dropout_prob = n_parts, num_quantizers, dropout_prob
        self.quantizers = nn.ModuleList(
            nn.ModuleList(
                EMAQuantizer(nb_code, code_dim, mu, sample_temperature, reset_dead) for _ in range(num_quantizers)
            )
            for _ in range(n_parts)
        )
        # g_p: the prediction of part p from the coarser part's code of the same layer (one per finer part), zero at
        # first: an untrained conditioner predicts nothing
        n_cond = n_parts - 1 if conditioner else 0
        self.conditioners = nn.ModuleList(nn.Conv1d(code_dim, code_dim, 3, padding=1) for _ in range(n_cond))
        for conv in self.conditioners:
            nn.init.zeros_(conv.weight)
            nn.init.zeros_(conv.bias)

    def predict(self, p: int, coarser: torch.Tensor | None) -> torch.Tensor | float:
        """g_p of the coarser part's code (B, D, T'), or 0."""
        if p == 0 or not len(self.conditioners):
            return 0.0
        return self.conditioners[p - 1](coarser)

    def active_layers(self) -> int:
        """How many layers this forward pass uses (quantizer dropout in training; rank 0 decides under DDP, since
        every rank must call the same quantizers for their all-reduces to pair up)."""
        if not (self.training and self.num_quantizers > 1 and self.dropout_prob > 0):
            return self.num_quantizers
        n = self.num_quantizers
        if float(torch.rand(())) < self.dropout_prob:
            n = int(torch.randint(1, self.num_quantizers, ()))
        device = self.quantizers[0][0].codebook.device
        return int(broadcast(torch.tensor(n, device=device)))

    def _quantize(self, quantizer: EMAQuantizer, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        b, d, t = x.shape
        q, idx, commit, hist = quantizer(x.permute(0, 2, 1).reshape(b * t, d))
        return q.reshape(b, t, d).permute(0, 2, 1), idx.reshape(b, t), commit, hist

    def forward(self, latents: list[torch.Tensor], n_layers: int | None = None) -> dict:
        """Quantize part latents [(B, D, T')] * P.

        Returns:
            {"z": [(B, D, T')] * P quantized latents, "indices": (B, P*T', Q) (-1 for dropped layers),
             "commit": mean over the used layers of the parts' summed commitment losses,
             "histograms": [[(K,)] * used layers] * P, "n_layers": layers used,
             "cond_ratio": (P-1, used layers) ||c|| / ||r_p|| of the finer parts (detached; empty without conditioner),
             "cond_pred": mean MSE(c, sg(r_p)) of the predictions (0 without conditioner): the optional loss that
             makes g a predictor of what is missing in the finer part}
        """
        n = self.active_layers() if n_layers is None else n_layers
        b, _, t = latents[0].shape
        residuals = list(latents)
        z = [torch.zeros_like(x) for x in latents]
        device = latents[0].device
        indices = torch.full((b, self.n_parts * t, self.num_quantizers), -1, dtype=torch.long, device=device)
        histograms: list[list[torch.Tensor]] = [[] for _ in range(self.n_parts)]
        ratios = torch.zeros(len(self.conditioners), n, device=device)
        commit = latents[0].new_zeros((), dtype=torch.float32)
        pred = latents[0].new_zeros((), dtype=torch.float32)
        for k in range(n):
            coarser = None
            for p in range(self.n_parts):
                c = self.predict(p, coarser)
                if isinstance(c, torch.Tensor):
                    ratios[p - 1, k] = c.detach().norm() / residuals[p].detach().norm().clamp_min(1e-12)
                    pred = pred + F.mse_loss(c.float(), residuals[p].detach().float())
                    x = residuals[p] - c.detach()
                else:
                    x = residuals[p]
                q, idx, loss, hist = self._quantize(self.quantizers[p][k], x)
                z[p] = z[p] + c + q  # d z / d c = I: the reconstruction trains g
                residuals[p] = residuals[p] - (c + q).detach()
                indices[:, p * t : (p + 1) * t, k] = idx
                histograms[p].append(hist)
                commit = commit + loss
                coarser = q.detach()  # the code itself: g is trained through the finer part only
        return {
            "z": z,
            "indices": indices,
            "commit": commit / n,
            "histograms": histograms,
            "n_layers": n,
            "cond_ratio": ratios,
            "cond_pred": pred / n,
        }

    def decode_indices(self, indices: torch.Tensor) -> list[torch.Tensor]:
        """Part latents [(B, D, T')] * P from indices (B, P*T', Q); layers marked -1 are skipped."""
        t = indices.shape[1] // self.n_parts
        layers = [k for k in range(indices.shape[2]) if not bool((indices[..., k] < 0).all())]
        return self._decode(
            layers, lambda p, k: self.quantizers[p][k].dequantize(indices[:, p * t : (p + 1) * t, k].clamp_min(0))
        )

    def decode_weights(self, weights: torch.Tensor) -> list[torch.Tensor]:
        """Part latents from code weights (B, P*T', Q, K) (one-hot for hard codes, probabilities for soft ones):
        each layer's code is the weighted sum of its codebook, so gradients reach the weights."""
        t = weights.shape[1] // self.n_parts
        return self._decode(
            range(weights.shape[2]),
            lambda p, k: (
                weights[:, p * t : (p + 1) * t, k].to(self.quantizers[p][k].codebook.dtype)
                @ self.quantizers[p][k].codebook
            ),
        )

    def _decode(self, layers, code) -> list[torch.Tensor]:
        """Sum over `layers` of (prediction from the coarser part + code) per part; `code(p, k)` -> (B, T', D)."""
        z: list[torch.Tensor | float] = [0.0] * self.n_parts
        for k in layers:
            coarser = None
            for p in range(self.n_parts):
                q = code(p, k).permute(0, 2, 1)  # (B, D, T')
                z[p] = z[p] + self.predict(p, coarser) + q
                coarser = q
        return z  # type: ignore[return-value]
