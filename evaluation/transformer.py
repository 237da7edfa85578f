"""Metrics of generated dance windows against the ground truth: FID_k, FID_g, Div, BAS and the MMR matching score.

All under the `fixed` protocol at 30 fps (kinetic and geometric features of the recovered joints, GT-only
normalisation, BAS_bailando with the music's beat frames), plus the MMR matching score of the generated motion
with its music when a trained MMR is given. Used by the transformer stages' validation and by generation.
"""

from __future__ import annotations

import numpy as np

from evaluation.metrics.fid import diversity, frechet_distance, normalize_by_gt
from evaluation.metrics.mmr_matching import embedded_matching_scores
from evaluation.protocols import PROTOCOLS, beat_scores, feature_view, motion_beats, sequence_features
from motion.features import recover_from_ric
from motion.frame import FPS

HIGHER_IS_BETTER = {
    "acc": True,
    "BAS": True,
    "MMR_cos": True,
    "FID_k": False,
    "FID_g": False,
    "MMR_MS": False,
    "ce": False,
}


def dance_metrics(
    gt: np.ndarray, gen: np.ndarray, beats: list[np.ndarray] | None = None, mmr=None, music: np.ndarray | None = None
) -> dict[str, float]:
    """Metrics of generated feature windows `gen` (N, T, D) against `gt` (N, T, D) (dataset features, not normalised).

    Args:
        beats: music beat frames of each window (BAS of generated and GT dances).
        mmr: a trained `MMREmbedder`; with `music` (N, T, Dm), the MMR's source music features, gives MMR_MS/MMR_cos.
    """
    fixed = PROTOCOLS["fixed"]
    joints = {w: [recover_from_ric(x.astype(np.float64)) for x in arr] for w, arr in (("gt", gt), ("gen", gen))}
    out: dict[str, float] = {}
    if len(gt) >= 2:
        feats = {
            w: [sequence_features(feature_view(j, fixed, None), FPS, fixed) for j in js] for w, js in joints.items()
        }
        for i, kind in enumerate(("k", "g")):
            g, p = normalize_by_gt(
                np.stack([f[i] for f in feats["gt"]]), np.stack([f[i] for f in feats["gen"]]), fixed.drop_constant
            )
            out[f"FID_{kind}"], out[f"Div_{kind}"], out[f"Div_{kind}_gt"] = (
                frechet_distance(p, g),
                diversity(p),
                diversity(g),
            )
    if beats is not None:
        for w, name in (("gen", "BAS"), ("gt", "BAS_gt")):
            out[name] = float(
                np.mean(
                    [
                        beat_scores(motion_beats(j, FPS, fixed), b, FPS, fixed)["BAS_bailando"]
                        for j, b in zip(joints[w], beats, strict=True)
                    ]
                )
            )
    if mmr is not None and music is not None:
        scores = embedded_matching_scores(mmr, list(gen), list(music))
        out["MMR_MS"], out["MMR_cos"] = scores["MMR_MS"], scores["MMR_cos"]
    return out
