"""Fréchet distance and diversity of feature sets, with the GT-only normalisation of the reference code.

`normalize_by_gt` z-scores both sets with the ground truth's mean and std (+1e-10), as Bailando's
`metrics_new.normalize` and mint's `calculate_frechet_feature_distance` do (not pooled statistics); under the
`fixed` protocol the dimensions that never vary over the ground truth are left out instead of divided by 1e-10.
`frechet_distance` follows Bailando's `calc_fid`: `scipy.linalg.sqrtm` of the covariance product, an eps=1e-5
diagonal offset when that is not finite, and the real part kept. `diversity` is the mean pairwise Euclidean distance
(`calculate_avg_distance`).
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy import linalg
from scipy.spatial.distance import pdist

SQRTM_EPS = 1e-5


CONSTANT_STD = 1e-8  # a GT feature whose std is below this never varies


def normalize_by_gt(gt: np.ndarray, pred: np.ndarray, drop_constant: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(N_gt, D), (N_pred, D) -> both z-scored with the GT statistics only. `drop_constant` (the `fixed` protocol)
    leaves out the dimensions that never vary over the GT, which the reference divides by 1e-10 instead."""
    mean, std = gt.mean(axis=0), gt.std(axis=0)
    if drop_constant:
        keep = std >= CONSTANT_STD
        gt, pred, mean, std = gt[:, keep], pred[:, keep], mean[keep], std[keep]
    return (gt - mean) / (std + 1e-10), (pred - mean) / (std + 1e-10)


def frechet_distance(gen: np.ndarray, gt: np.ndarray, eps: float = SQRTM_EPS) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets (N, D) (Bailando's `calc_fid`; mint and POPDG
    use eps = 1e-6 and raise on a large imaginary part, where this keeps the real part as Bailando does)."""
    mu1, mu2 = gen.mean(axis=0), gt.mean(axis=0)
    sigma1, sigma2 = np.cov(gen, rowvar=False), np.cov(gt, rowvar=False)
    diff = mu1 - mu2
    with warnings.catch_warnings():  # a singular product is expected with few samples; callers warn about that
        warnings.simplefilter("ignore", linalg.LinAlgWarning)
        covmean = linalg.sqrtm(sigma1.dot(sigma2))
        if not np.isfinite(covmean).all():
            offset = np.eye(sigma1.shape[0]) * eps
            covmean = linalg.sqrtm((sigma1 + offset).dot(sigma2 + offset))
    if np.iscomplexobj(covmean):
        covmean = covmean.real
    return float(diff.dot(diff) + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean))


def diversity(features: np.ndarray) -> float:
    """Mean Euclidean distance over all pairs of a feature set (N, D)."""
    return float(pdist(np.asarray(features, dtype=np.float64)).mean())
