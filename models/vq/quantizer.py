"""One vector quantizer: a codebook learned by exponential moving averages, with dead-code reset.

Each input vector takes the nearest code (squared Euclidean distance); in training the choice can be stochastic
(Gumbel-perturbed, temperature `sample_temperature`, as MoMask does) to spread usage early on. Gradients pass
straight through. The codebook is not trained by gradients: after every training step each code moves toward the
mean of the vectors assigned to it, `sum <- mu sum + (1 - mu) batch_sum`, `count <- mu count + (1 - mu) batch_count`,
`code = sum / count`; a code whose count falls below `dead_threshold` is replaced by a random vector of the batch.

The codebook maths runs in fp32 whatever the autocast state. Under torch.distributed the batch sums and counts are
all-reduced, and the initialisation and reset vectors are drawn on rank 0 and broadcast, so every rank keeps the
same codebook (equal to a single process seeing the whole batch).
"""

from __future__ import annotations

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn


def _distributed() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def _all_reduce(t: torch.Tensor) -> torch.Tensor:
    if _distributed():
        dist.all_reduce(t)
    return t


def gather_rows(t: torch.Tensor) -> torch.Tensor:
    """Every rank's rows (N, D), concatenated in rank order (equal N on every rank, as with drop_last batches)."""
    if not _distributed():
        return t
    parts = [torch.empty_like(t) for _ in range(dist.get_world_size())]
    dist.all_gather(parts, t.contiguous())
    return torch.cat(parts)


def broadcast(t: torch.Tensor) -> torch.Tensor:
    if _distributed():
        dist.broadcast(t, src=0)
    return t


class EMAQuantizer(nn.Module):
    """EMA vector quantizer with dead-code reset.

    Args:
        nb_code: codebook size K.
        code_dim: vector width D.
        mu: EMA decay of the code sums and counts.
        sample_temperature: Gumbel temperature of the stochastic assignment in training (0: nearest code always).
        reset_dead: replace codes whose EMA count falls below `dead_threshold` by batch vectors.
        dead_threshold: the EMA count under which a code is dead.
    """

    def __init__(
        self,
        nb_code: int,
        code_dim: int,
        mu: float = 0.99,
        sample_temperature: float = 0.0,
        reset_dead: bool = True,
        dead_threshold: float = 1.0,
    ) -> None:
        super().__init__()
        self.nb_code, self.code_dim, self.mu = nb_code, code_dim, mu
        self.sample_temperature, self.reset_dead, self.dead_threshold = sample_temperature, reset_dead, dead_threshold
        self.register_buffer("codebook", torch.zeros(nb_code, code_dim))
        self.register_buffer("code_sum", torch.zeros(nb_code, code_dim))
        self.register_buffer("code_count", torch.zeros(nb_code))
        self.register_buffer("initialised", torch.tensor(False))

    # ------------------------------------------------------------------ assignment
    def distances(self, x: torch.Tensor) -> torch.Tensor:
        """Squared distances of vectors (N, D) to every code. -> (N, K) fp32"""
        c = self.codebook
        return (x * x).sum(-1, keepdim=True) - 2 * x @ c.t() + (c * c).sum(-1)[None]

    def assign(self, x: torch.Tensor) -> torch.Tensor:
        """Code index of every vector (N, D): nearest, or Gumbel-sampled in training. -> (N,) int64"""
        d = self.distances(x)
        if self.training and self.sample_temperature > 0:
            u = torch.rand_like(d).clamp_(1e-20, 1.0)
            return (-d / self.sample_temperature - torch.log(-torch.log(u))).argmax(-1)
        return d.argmin(-1)

    def dequantize(self, indices: torch.Tensor) -> torch.Tensor:
        """Codes of indices (...,) -> (..., D)."""
        return F.embedding(indices, self.codebook)

    # ------------------------------------------------------------------ codebook updates
    @torch.compiler.disable  # rare (initialisation, resets), collectives; inductor (torch 2.13) fails on x[randperm]
    def _random_vectors(self, x: torch.Tensor, n: int) -> torch.Tensor:
        """n vectors drawn from the whole (all ranks') batch (repeated with small noise when it is smaller), drawn on
        rank 0 and broadcast, so DDP picks what one process with the whole batch would."""
        x = gather_rows(x)
        if len(x) < n:
            reps = (n + len(x) - 1) // len(x)
            std = 0.01 / self.code_dim**0.5
            x = x.repeat(reps, 1) + torch.randn(reps * len(x), x.shape[1], device=x.device) * std
        out = x[torch.randperm(len(x), device=x.device)[:n]].contiguous()
        return broadcast(out)

    @torch.no_grad()
    def init_codebook(self, x: torch.Tensor) -> None:
        """Codebook from batch vectors (the first training batch)."""
        codes = self._random_vectors(x, self.nb_code)
        self.codebook.copy_(codes)
        self.code_sum.copy_(codes)
        self.code_count.fill_(1.0)
        self.initialised.fill_(True)

    @torch.no_grad()
    def update(self, x: torch.Tensor, indices: torch.Tensor) -> torch.Tensor:
        """One EMA step toward the vectors (N, D) assigned to each code, then dead-code reset. Returns the batch's code
        counts (K,) summed over ranks (sums and counts travel in one all-reduce)."""
        onehot = F.one_hot(indices, self.nb_code).to(x.dtype)  # (N, K)
        stats = _all_reduce(torch.cat([onehot.t() @ x, onehot.sum(0)[:, None]], 1))  # (K, D + 1)
        batch_sum, batch_count = stats[:, :-1], stats[:, -1]
        self.code_sum.mul_(self.mu).add_(batch_sum, alpha=1 - self.mu)
        self.code_count.mul_(self.mu).add_(batch_count, alpha=1 - self.mu)
        live = self.code_count >= self.dead_threshold
        if self.reset_dead and not bool(live.all()):
            fresh = self._random_vectors(x, self.nb_code)
            self.code_sum.copy_(torch.where(live[:, None], self.code_sum, fresh))
            self.code_count.copy_(torch.where(live, self.code_count, torch.ones_like(self.code_count)))
        self.codebook.copy_(self.code_sum / self.code_count.clamp_min(1e-12)[:, None])
        return batch_count

    # ------------------------------------------------------------------ forward
    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Quantize vectors (N, D).

        Returns:
            quantized (N, D) with straight-through gradients (input dtype), indices (N,), commitment loss
            MSE(x, sg(q)) (fp32 scalar), and the batch's code histogram (K,) (summed over ranks in training).
        """
        dtype = x.dtype
        with torch.autocast(device_type=x.device.type, enabled=False):
            xf = x.float()
            if self.training and not bool(self.initialised):
                self.init_codebook(xf.detach())
            indices = self.assign(xf.detach())
            q = self.dequantize(indices)
            commit = F.mse_loss(xf, q.detach())
            if self.training:  # collectives in training only: evaluation may run on one rank
                histogram = self.update(xf.detach(), indices)
            else:
                histogram = torch.bincount(indices, minlength=self.nb_code).float()
            q = xf + (q - xf).detach()  # straight-through
        return q.to(dtype), indices, commit, histogram


def perplexity(histogram: torch.Tensor) -> torch.Tensor:
    """exp(entropy) of a code histogram (K,): K when every code is used equally, 1 when one code takes all."""
    p = histogram / histogram.sum().clamp_min(1)
    return torch.exp(-(p * torch.log(p + 1e-10)).sum())
