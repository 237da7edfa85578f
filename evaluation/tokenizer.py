"""Evaluating a tokenizer on whole sequences of a split: what `eval_vq.py` reports.

Every sequence of the split is cropped to a multiple of the down-sampling, reconstructed (all quantizer layers) and
compared with the ground truth:
- MPJPE (mm; all, body, hands) of the joints relative to the root in the body's facing frame (the pose of each
  frame, `local_joint_errors`), and `mpjpe_global` of the joints recovered with the root trajectory integrated over
  the whole sequence (its drift grows with the length);
- face: mean squared error of the 100 expression coefficients (723-d data), and with a FLAME model the mean vertex
  error (mm) of the expression blendshapes (neutral shape, zero jaw and neck pose: the part the coefficients move);
- codebook usage per part and layer (perplexity, codes never used);
- kinetic FID/Div of the reconstructions against the ground-truth sequences (`fixed` protocol features);
- BAS (`fixed` protocol's BAS_bailando) of reconstructions and of the ground truth with the sequence's music beats
  (the beat column of the dataset's baseline music features), and their ratio.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from data.formats.containers import read_container
from data.loaders import ProcessedData
from evaluation.metrics.fid import diversity, frechet_distance, normalize_by_gt
from evaluation.protocols import PROTOCOLS, beat_scores, feature_view, motion_beats, sequence_features
from models.vq.model import MotionTokenizer, local_joint_errors
from models.vq.quantizer import perplexity
from motion.features import recover_from_ric
from motion.frame import FPS
from motion.layout import layout_for_dim
from motion.skeleton import N_BODY_JOINTS, N_JOINTS
from utils.cli import UserError


@dataclass
class Reconstruction:
    """One sequence: name, GT and reconstructed joints (T, J, 3), features (T, D) de-normalised."""

    name: str
    gt_joints: np.ndarray
    rec_joints: np.ndarray
    gt: np.ndarray
    rec: np.ndarray


FLAME_SHAPE_COEFFS, FLAME_EXPRESSION_COEFFS = 300, 100


def flame_expression_basis(path: str | Path) -> np.ndarray:
    """FLAME 2020's expression blendshapes (V, 3, 100) from its model file's `shapedirs` (shape 300 then expression
    coefficients); read with the safe loader, so a pickle holding chumpy objects must first be saved as npz."""
    arrays = read_container(path)
    dirs = arrays.get("shapedirs")
    need = FLAME_SHAPE_COEFFS + FLAME_EXPRESSION_COEFFS
    if dirs is None or dirs.ndim != 3 or dirs.shape[1] != 3 or dirs.shape[2] < need:
        raise UserError(
            f"{path}: no FLAME `shapedirs` (V, 3, >= {need}) array; give FLAME 2020's model "
            "(as npz if its pickle holds chumpy objects)"
        )
    return np.asarray(dirs[:, :, FLAME_SHAPE_COEFFS:need], dtype=np.float64)


def face_vertex_error(basis: np.ndarray, gt: np.ndarray, rec: np.ndarray) -> float:
    """Mean vertex distance (mm) between the faces of two expression sequences (T, 100); blendshapes are linear,
    so it is the norm of the basis applied to the coefficient difference."""
    offsets = np.einsum("vck,tk->tvc", basis, np.asarray(rec, np.float64) - gt)  # (T, V, 3) metres
    return float(np.linalg.norm(offsets, axis=-1).mean() * 1000)


def pose_error_metrics(err_m: np.ndarray | torch.Tensor) -> dict[str, float]:
    """MPJPE (mm) of all, body and (with fingers) hand joints from `local_joint_errors` (..., J - 1) in metres."""
    err = torch.as_tensor(err_m).reshape(-1, err_m.shape[-1]) * 1000
    out = {"mpjpe_all": err.mean().item(), "mpjpe_body": err[:, : N_BODY_JOINTS - 1].mean().item()}
    if err.shape[1] == N_JOINTS - 1:
        out["mpjpe_hands"] = err[:, N_BODY_JOINTS - 1 :].mean().item()
    return out


def code_histograms(out: dict) -> torch.Tensor:
    """The tokenizer output's code histograms as one (P, Q, K) tensor on the CPU."""
    return torch.stack([torch.stack(h) for h in out["histograms"]]).cpu()


def codebook_usage(counts: torch.Tensor, parts: tuple[str, ...]) -> dict[str, float]:
    """Perplexity and never-used codes of every part and layer from code counts (P, Q, K)."""
    out = {}
    for p, part in enumerate(parts):
        for k in range(counts.shape[1]):
            out[f"perplexity_{part}_{k}"] = perplexity(counts[p, k]).item()
            out[f"dead_codes_{part}_{k}"] = int((counts[p, k] == 0).sum())
    return out


def music_beat_frames(data: ProcessedData, clip: int) -> np.ndarray | None:
    """Beat frames (30 fps) of a clip's music from the baseline features' beat column, or None without them."""
    info = data.summary.get("music", {}).get("baseline")
    if not info or info.get("mode") != "full_song":
        return None
    song = data.clips[clip].get("music", data.clips[clip]["name"])
    path = data.root / info["dir"] / f"{song}.npy"
    return np.flatnonzero(np.load(path)[:, -1]) if path.is_file() else None


@torch.no_grad()
def reconstruct(
    model: MotionTokenizer, data: ProcessedData, clips: list[int], mean: np.ndarray, std: np.ndarray, device="cpu"
):
    """Reconstructions of whole clips and the code histograms (P, Q, K) over them (`mean`/`std`: the statistics
    the tokenizer was trained with, from its checkpoint)."""
    model.eval()
    mean, std = np.asarray(mean, np.float32), np.asarray(std, np.float32)
    ds = model.config.downsampling
    out, counts = [], None
    for c in clips:
        gt = data.motion(c).astype(np.float32)
        gt = gt[: len(gt) // ds * ds]
        x = torch.from_numpy((gt - mean) / std)[None].to(device)
        res = model(x)
        rec = res["recon"][0].float().cpu().numpy() * std + mean
        hist = code_histograms(res)
        counts = hist if counts is None else counts + hist
        out.append(Reconstruction(data.clips[c]["name"], recover_from_ric(gt), recover_from_ric(rec), gt, rec))
    return out, counts


def evaluate_reconstructions(
    recs: list[Reconstruction],
    data: ProcessedData,
    clips: list[int],
    counts: torch.Tensor | None = None,
    parts: tuple[str, ...] = (),
    flame_basis: np.ndarray | None = None,
) -> dict:
    """The metrics of the module docstring from reconstructions (and code histograms)."""
    layout = layout_for_dim(recs[0].gt.shape[1])
    m = pose_error_metrics(np.concatenate([local_joint_errors(r.gt, r.rec, layout) for r in recs]))
    m["mpjpe_global"] = (
        float(np.mean([np.linalg.norm(r.rec_joints - r.gt_joints, axis=-1).mean() for r in recs])) * 1000
    )
    if layout.grouped:
        face = layout.part_index["face"]
        m["face_mse"] = float(np.mean([((r.rec[:, face] - r.gt[:, face]) ** 2).mean() for r in recs]))
        if flame_basis is not None:
            m["face_vertex_mm"] = float(
                np.mean([face_vertex_error(flame_basis, r.gt[:, face], r.rec[:, face]) for r in recs])
            )
    if counts is not None:
        m.update(codebook_usage(counts, parts))
    fixed = PROTOCOLS["fixed"]
    if len(recs) >= 2:
        kin = {
            w: np.stack(
                [
                    sequence_features(
                        feature_view(getattr(r, f"{w}_joints").astype(np.float64), fixed, None), FPS, fixed
                    )[0]
                    for r in recs
                ]
            )
            for w in ("gt", "rec")
        }
        g, p = normalize_by_gt(kin["gt"], kin["rec"], fixed.drop_constant)
        m["FID_k"], m["Div_k"], m["Div_k_gt"] = frechet_distance(p, g), diversity(p), diversity(g)
    bas = {"gt": [], "rec": []}
    for r, c in zip(recs, clips, strict=True):
        beats = music_beat_frames(data, c)
        if beats is None or not len(beats):
            continue
        for w in bas:
            joints = getattr(r, f"{w}_joints").astype(np.float64)
            bas[w].append(beat_scores(motion_beats(joints, FPS, fixed), beats, FPS, fixed)["BAS_bailando"])
    if bas["gt"]:
        m["BAS"], m["BAS_gt"] = float(np.mean(bas["rec"])), float(np.mean(bas["gt"]))
        m["BAS_ratio"] = m["BAS"] / m["BAS_gt"] if m["BAS_gt"] > 0 else float("nan")
    return m


def evaluate_tokenizer(
    model: MotionTokenizer,
    data: ProcessedData,
    mean: np.ndarray,
    std: np.ndarray,
    split: str = "test",
    device="cpu",
    flame_basis: np.ndarray | None = None,
) -> tuple[dict, list[Reconstruction]]:
    """`evaluate_reconstructions` of a tokenizer on a split's whole sequences."""
    clips = data.clip_ids(split)
    recs, counts = reconstruct(model, data, clips, mean, std, device)
    metrics = evaluate_reconstructions(recs, data, clips, counts, model.parts, flame_basis)
    metrics["sequences"] = len(recs)
    return metrics, recs


def skipped_metrics(metrics: dict) -> dict[str, str]:
    """Why a metric of the module docstring is missing from `metrics`."""
    skipped = {}
    if "FID_k" not in metrics:
        skipped["FID_k, Div_k"] = "needs at least 2 sequences in the split"
    if "face_mse" in metrics and "face_vertex_mm" not in metrics:
        skipped["face_vertex_mm"] = "needs --flame_model_path (FLAME 2020, licensed: https://flame.is.tue.mpg.de)"
    if "BAS" not in metrics:
        skipped["BAS"] = (
            "needs the dataset's baseline music features in full_song mode (create_dataset.py --extract-baseline)"
        )
    return skipped
