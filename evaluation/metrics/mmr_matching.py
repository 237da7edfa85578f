"""MMR matching score: how well a dance's 1 s segment embeddings follow its music's, in the MMR space.

The released `utils/mmr_mertric.py::calculate_mmr_matching_score` (fps 30, mu_weight 0.7, lambda_weight 0.3), per
sequence of S >= 2 one-second segments, with z_t the MMR motion embedding of segment t and m_t the music's:

    MMR-MS = sqrt(mu * mean_t ||z_t - m_t||^2 + lambda * sum_t ||(z_{t+1} - z_t) - (m_{t+1} - m_t)||)

(lower is better; the dynamics term is a sum over segments, not a mean, as released: longer sequences score
higher). The release passes one clip-level music vector for every segment (then m_{t+1} - m_t = 0); we pass the
music's own segment embeddings when they exist. Sequences with fewer than 2 segments are left out; with none left
the score is NaN (the release returns 0). `segment_cosine` adds a scale-free companion: the mean cosine similarity
of paired segment embeddings (higher is better).
"""

from __future__ import annotations

import numpy as np

MU_WEIGHT, LAMBDA_WEIGHT = 0.7, 0.3  # the release's defaults


def _paired(motion: np.ndarray, music: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(S, D) motion segments and music segments (S' >= S rows, or one (D,) clip vector) -> both (S, D)."""
    motion = np.asarray(motion, dtype=np.float64)
    music = np.asarray(music, dtype=np.float64)
    if music.ndim == 1 or len(music) == 1:
        return motion, np.broadcast_to(music.reshape(1, -1), motion.shape)
    if len(music) < len(motion):
        raise ValueError(f"{len(music)} music segments for {len(motion)} motion segments")
    return motion, music[: len(motion)]


def matching_score(
    motion: np.ndarray, music: np.ndarray, mu_weight: float = MU_WEIGHT, lambda_weight: float = LAMBDA_WEIGHT
) -> float:
    """MMR-MS of one sequence (see the module docstring). (S, D) and (S, D) | (D,) -> float (NaN when S < 2)."""
    z, m = _paired(motion, music)
    if len(z) < 2:
        return float("nan")
    feature = ((z - m) ** 2).sum(-1).mean()
    dynamics = np.linalg.norm(np.diff(z, axis=0) - np.diff(m, axis=0), axis=-1).sum()
    return float(np.sqrt(mu_weight * feature + lambda_weight * dynamics))


def segment_cosine(motion: np.ndarray, music: np.ndarray) -> float:
    """Mean cosine similarity of paired segment embeddings. (S, D) and (S, D) | (D,) -> float (NaN when S == 0)."""
    z, m = _paired(motion, music)
    if not len(z):
        return float("nan")
    cos = (z * m).sum(-1) / np.maximum(np.linalg.norm(z, axis=-1) * np.linalg.norm(m, axis=-1), 1e-12)
    return float(cos.mean())


def matching_scores(
    motion_segments: list[np.ndarray],
    music_segments: list[np.ndarray],
    mu_weight: float = MU_WEIGHT,
    lambda_weight: float = LAMBDA_WEIGHT,
) -> dict[str, float]:
    """Mean MMR-MS and segment cosine over sequences (those with < 2 segments left out of MMR-MS)."""
    scores = [
        matching_score(z, m, mu_weight, lambda_weight) for z, m in zip(motion_segments, music_segments, strict=True)
    ]
    cosines = [segment_cosine(z, m) for z, m in zip(motion_segments, music_segments, strict=True)]
    kept = [s for s in scores if np.isfinite(s)]
    return {
        "MMR_MS": float(np.mean(kept)) if kept else float("nan"),
        "MMR_cos": float(np.nanmean(cosines)) if np.isfinite(cosines).any() else float("nan"),
        "MMR_sequences": len(kept),
    }


def embedded_matching_scores(
    embedder, motions: list[np.ndarray], musics: list[np.ndarray], **weights: float
) -> dict[str, float]:
    """Matching scores of dances (T, D) motion features and their music (L, Dm) source features (the MMR's type),
    embedded segment by segment with a trained MMR (`MMR.embedder.MMREmbedder`)."""
    z = [embedder.segment_embeddings(x, "motion") for x in motions]
    m = [embedder.segment_embeddings(y, "music") for y in musics]
    return matching_scores(z, m, **weights)
