"""Retrieval metrics of a similarity matrix (TMR's `all_contrastive_metrics`): R@1/2/3/5/10 and MedR, both ways.

Row i of `sims` is query i of the first modality (music), column j candidate j of the second (motion); the match of
query i is candidate i. The rank of the match counts the candidates scored strictly higher plus half of those tied
with it (ties averaged); R@k is the percentage of queries whose match ranks < k, MedR the median rank + 1.
"""

from __future__ import annotations

import numpy as np

RECALL_AT = (1, 2, 3, 5, 10)


def match_ranks(sims: np.ndarray) -> np.ndarray:
    """0-based rank of every query's match in its row (ties averaged). (N, N) -> (N,) float"""
    sims = np.asarray(sims, dtype=np.float64)
    diag = np.diag(sims)[:, None]
    higher = (sims > diag).sum(1)
    ties = (sims == diag).sum(1) - 1
    return higher + ties / 2


def recall_metrics(ranks: np.ndarray, prefix: str) -> dict[str, float]:
    """R@k (%) and MedR of 0-based ranks."""
    out = {f"{prefix}/R{k:02d}": float((ranks < k).mean() * 100) for k in RECALL_AT}
    out[f"{prefix}/MedR"] = float(np.median(ranks) + 1)
    return out


def retrieval_metrics(sims: np.ndarray) -> dict[str, float]:
    """Both directions: `m2d` (music -> dance, rows) and `d2m` (dance -> music, columns)."""
    return {**recall_metrics(match_ranks(sims), "m2d"), **recall_metrics(match_ranks(np.asarray(sims).T), "d2m")}


def batched_retrieval(sims: np.ndarray, batch: int = 32, repeats: int = 100, seed: int = 0) -> dict[str, float]:
    """Mean retrieval metrics over seeded random batches of `batch` pairs (the "guo" protocol: chance R@1 = 1/batch)."""
    rng = np.random.default_rng(seed)
    n = len(sims)
    if n < batch:
        raise ValueError(f"{n} pairs: fewer than one batch of {batch}")
    runs = []
    for _ in range(repeats):
        idx = rng.choice(n, batch, replace=False)
        runs.append(retrieval_metrics(np.asarray(sims)[np.ix_(idx, idx)]))
    return {k: float(np.mean([r[k] for r in runs])) for k in runs[0]}


def retrieval_report(sims: np.ndarray, batch: int = 32, repeats: int = 100, seed: int = 0) -> dict[str, float]:
    """Whole-set metrics, `batch/...` means over seeded random batches (when there are enough pairs) and `batch/R01`,
    the mean R@1 of both directions on those batches (what `best.tar` maximises)."""
    out = retrieval_metrics(sims)
    if len(sims) >= batch:
        batched = batched_retrieval(sims, batch, repeats, seed)
        out.update({f"batch/{k}": v for k, v in batched.items()})
        out["batch/R01"] = (batched["m2d/R01"] + batched["d2m/R01"]) / 2
    return out
