"""The tokenizer stage of the training loop (`train_vq.py`).

Loss: Smooth-L1 reconstruction + `--loss_vel` x Smooth-L1 on the joint positions (ric) of body and hands +
`--commit` x commitment. Validation: MPJPE (mm; all, body, hands) of the root-relative joint positions in the body's
frame (`local_joint_errors`), the face-coefficient error (723-d data), and codebook usage per part and layer
(perplexity, dead codes).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from data.loaders import ProcessedData, TokenizerWindows, in_batches
from data.paths import dataset_dir
from evaluation.tokenizer import code_histograms, codebook_usage, pose_error_metrics
from models.vq.model import (
    TOKENIZER_FORMAT,
    MotionTokenizer,
    TokenizerConfig,
    local_joint_errors,
    reconstruction_loss,
    tokenizer_std,
)
from motion.layout import layout_for_dim
from utils.cli import UserError
from utils.stage_config import LoopConfig
from utils.trainer import Trainer


@dataclass(frozen=True, kw_only=True)
class TokenizerStageConfig(LoopConfig):
    """What `train_vq.py`'s stage reads (`options.train_options.tokenizer_parser`; defaults there).

    Args:
        dataset_name: the processed dataset (`data/<dataset_name>/` unless `data_root`).
        data_root: the processed dataset's folder, when not the default.
        window_size: training crop, frames.
        feat_bias: the weight of the root and velocity blocks in the normalisation (`tokenizer_std`).
        loss_vel: weight of the joint-position (ric) reconstruction loss.
        commit: weight of the commitment loss.
        vq_type: "vq" (one layer), "rvq" or "hrvq" (body / hands / face).
        nb_code: codes per codebook.
        code_dim: code width.
        num_quantizers: quantizer layers (per part for hrvq).
        quantize_dropout_prob: probability of keeping only the first n layers in a training step.
        mu: EMA decay of the codebooks.
        sample_temperature: stochastic code assignment (0: off).
        no_code_reset: keep dead codes (no reset).
        width: encoder/decoder channels.
        depth: residual blocks per resolution.
        down_t: temporal down-sampling stages.
        stride_t: stride of each stage.
        dilation_growth_rate: dilation growth of the residual blocks.
        vq_act: activation ("relu", "silu", "gelu").
        vq_dropout: dropout in the residual blocks.
        conditioner: hrvq: predict each finer part from the coarser part's quantized latent.
        cond_loss: with `conditioner`: weight of the prediction's MSE.
        shared_codebook: the seed's flag; refused (every layer and part has its own codebook).
    """

    dataset_name: str
    data_root: Path | None
    window_size: int
    feat_bias: float
    loss_vel: float
    commit: float
    vq_type: str
    nb_code: int
    code_dim: int
    num_quantizers: int
    quantize_dropout_prob: float
    mu: float
    sample_temperature: float
    no_code_reset: bool
    width: int
    depth: int
    down_t: int
    stride_t: int
    dilation_growth_rate: int
    vq_act: str
    vq_dropout: float
    conditioner: bool = False
    cond_loss: float = 0.0
    shared_codebook: bool = False

    def tokenizer(self, dim: int) -> TokenizerConfig:
        """The tokenizer architecture these options name, for `dim`-wide features."""
        return TokenizerConfig(
            vq_type=self.vq_type,
            dim=dim,
            nb_code=self.nb_code,
            code_dim=self.code_dim,
            num_quantizers=self.num_quantizers,
            width=self.width,
            depth=self.depth,
            down_t=self.down_t,
            stride_t=self.stride_t,
            dilation_growth_rate=self.dilation_growth_rate,
            activation=self.vq_act,
            dropout=self.vq_dropout,
            mu=self.mu,
            sample_temperature=self.sample_temperature,
            reset_dead=not self.no_code_reset,
            quantize_dropout_prob=self.quantize_dropout_prob,
            conditioner=self.conditioner,
        )


def evaluation_windows(data: ProcessedData, split: str, window: int, std: np.ndarray | None = None) -> TokenizerWindows:
    """Non-overlapping windows of a split (deterministic), for validation and evaluation."""
    ds = TokenizerWindows(data, split, window_size=window, deterministic=True, std=std)
    ds.starts = ds.starts[::window]
    return ds


@torch.no_grad()
def reconstruction_metrics(
    model: MotionTokenizer,
    windows: TokenizerWindows,
    mean: np.ndarray,
    std: np.ndarray,
    batch_size: int = 64,
    device: torch.device | str = "cpu",
) -> dict[str, float]:
    """MPJPE (mm), face error and codebook usage of a tokenizer on normalised windows."""
    model.eval()
    layout = model.config.layout
    mean_t, std_t = torch.as_tensor(mean, device=device), torch.as_tensor(std, device=device)
    errors, face_err, counts, ratios = [], [], None, []
    for x in in_batches(windows, batch_size):
        x = x.to(device)
        out = model(x)
        gt, rec = x * std_t + mean_t, out["recon"].float() * std_t + mean_t
        errors.append(local_joint_errors(gt, rec, layout).flatten(0, 1).cpu())
        if layout.grouped:
            face_err.append(((rec - gt)[..., layout.part_index["face"]] ** 2).mean().item())
        ratios.append(out["cond_ratio"].cpu())  # (P-1, Q)
        hist = code_histograms(out)  # (P, Q, K)
        counts = hist if counts is None else counts + hist
    metrics = pose_error_metrics(torch.cat(errors))  # root-relative in the facing frame
    if face_err:
        metrics["face_mse"] = float(np.mean(face_err))
    return {
        **metrics,
        **conditioner_ratios(torch.stack(ratios).mean(0), model.parts),
        **codebook_usage(counts, model.parts),
    }


def conditioner_ratios(ratios: torch.Tensor, parts: tuple[str, ...]) -> dict[str, float]:
    """`cond_ratio_<part>_L<k>`: ||c|| / ||r|| of each finer part at each layer (P-1, Q) (how much of the part the
    HRVQ conditioner predicts from the coarser part's code; none without conditioner)."""
    return {
        f"cond_ratio_{parts[p + 1]}_L{k}": float(ratios[p, k])
        for p in range(ratios.shape[0])
        for k in range(ratios.shape[1])
    }


class TokenizerTrainer(Trainer):
    """`train_vq.py`'s stage: VQ / RVQ / HRVQ on the processed dataset's windows."""

    stage = "vq"
    best_metric = "mpjpe_all"
    config_class = TokenizerStageConfig

    def build_data(self):
        cfg = self.cfg
        self.data = ProcessedData(dataset_dir(cfg.dataset_name, cfg.data_root))
        layout = layout_for_dim(int(self.data.mean.shape[0]))
        self.mean, self.std = self.data.mean.astype(np.float32), tokenizer_std(self.data.std, layout, cfg.feat_bias)
        train = TokenizerWindows(self.data, "train", cfg.window_size, seed=cfg.seed, normalize=False)  # on the device
        splits = self.data.summary.get("clips_per_split", {})
        val_split = next((s for s in ("val", "test") if splits.get(s)), None)
        val = evaluation_windows(self.data, val_split, cfg.window_size, self.std) if val_split else None
        return train, val

    def build_model(self) -> MotionTokenizer:
        if self.cfg.shared_codebook:
            raise UserError("--shared_codebook is not supported: every layer and part has its own codebook")
        self.model_config = self.cfg.tokenizer(int(self.data.mean.shape[0]))
        self.norm = (torch.as_tensor(self.mean, device=self.device), torch.as_tensor(self.std, device=self.device))
        return MotionTokenizer(self.model_config)

    def training_step(self, model, batch) -> dict[str, torch.Tensor]:
        batch = (batch.to(self.device) - self.norm[0]) / self.norm[1]  # (B, window, D), normalised on the device
        out = model(batch)
        losses = reconstruction_loss(batch, out["recon"].float(), self.model_config.layout)
        losses["commit"] = out["commit"]
        losses["loss"] = losses["recon"] + self.cfg.loss_vel * losses["joints"] + self.cfg.commit * out["commit"]
        if self.model_config.conditioned:
            losses["cond_pred"] = out["cond_pred"]
            losses["loss"] = losses["loss"] + self.cfg.cond_loss * out["cond_pred"]
        return losses

    def evaluate(self, model, dataset) -> dict[str, float]:
        return reconstruction_metrics(model, dataset, self.mean, self.std, self.cfg.batch_size, self.device)

    def checkpoint_extra(self) -> dict:
        return {
            "tokenizer": self.model_config.to_dict(),
            "tokenizer_format": TOKENIZER_FORMAT,
            "mean": torch.as_tensor(self.mean),
            "std": torch.as_tensor(self.std),
            "dataset": self.cfg.dataset_name,
            "fps": int(self.data.summary.get("fps", 30)),
        }
