"""MMR's training losses (TMR / TEMOS recipe): symmetric InfoNCE with same-sequence negatives masked, KL terms.

`info_nce(x, y, temperature, groups)`: cosine similarities / temperature between the two modalities' embeddings of
a batch; pair i is positive for (i, i). Windows cut from one source performance are near-duplicates, so when
`groups` (the source-sequence id of each pair) is given, a pair's *other* windows of the same sequence are removed
from its negatives (in both directions) rather than pushed away. The loss is the mean of the two cross-entropies
(rows: x -> y, columns: y -> x).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

TEMPERATURE = 0.1  # TMR's and the released MMR's


def similarity(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Cosine similarity matrix of (B, D) and (B', D) embeddings. -> (B, B')"""
    return F.normalize(x, dim=-1) @ F.normalize(y, dim=-1).t()


def same_group_negatives(groups: torch.Tensor) -> torch.Tensor:
    """(B,) group ids -> (B, B) bool: True where j != i share i's group (excluded from i's negatives)."""
    same = groups[:, None] == groups[None, :]
    return same & ~torch.eye(len(groups), dtype=torch.bool, device=groups.device)


def info_nce(
    x: torch.Tensor, y: torch.Tensor, temperature: float = TEMPERATURE, groups: torch.Tensor | None = None
) -> torch.Tensor:
    """Symmetric InfoNCE of paired embeddings (B, D), (B, D) (see the module docstring). -> scalar"""
    logits = similarity(x, y) / temperature  # (B, B)
    if groups is not None:
        logits = logits.masked_fill(same_group_negatives(groups), float("-inf"))
    labels = torch.arange(len(x), device=x.device)
    return (F.cross_entropy(logits, labels) + F.cross_entropy(logits.t(), labels)) / 2


def kl_divergence(
    mu: torch.Tensor, logvar: torch.Tensor, mu_ref: torch.Tensor | None = None, logvar_ref: torch.Tensor | None = None
) -> torch.Tensor:
    """KL(N(mu, var) || N(mu_ref, var_ref)) averaged over the batch *and* the dimensions (reference N(0, I) when
    omitted), as TEMOS and TMR compute their four KL terms (`kl_divergence(q, p).mean()`): a sum over the D latent
    dimensions would make the stated weight D times larger. (B, D) -> scalar"""
    if mu_ref is None:
        mu_ref, logvar_ref = torch.zeros_like(mu), torch.zeros_like(logvar)
    var, var_ref = logvar.exp(), logvar_ref.exp()
    kl = 0.5 * (logvar_ref - logvar + (var + (mu - mu_ref) ** 2) / var_ref - 1)
    return kl.mean()
