"""The motion tokenizer: encoders -> part residual quantizers -> one decoder; `vq_type` vq | rvq | hrvq.

- `vq` / `rvq`: one encoder over the whole feature vector, 1 / Q quantizer layers.
- `hrvq`: one encoder per part of the layout (body | hands for 623-d, body | hands | face for 723-d), per-part
  quantizer stacks where each finer part is predicted from the coarser part's code (`PartResidualVQ`), and one
  decoder over the parts' latents side by side.

Tokenization (the encoders and the whole residual chain) always runs in fp32 outside autocast, in training as in
`encode`, so the tokens a bf16 training step sees are the tokens evaluation and generation use; only the decoder
follows the caller's autocast.
Shapes: features (B, T, dim) with T a multiple of the down-sampling (4); tokens (B, P*T/4, Q).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from models.vq.encdec import Decoder, Encoder
from models.vq.residual import PartResidualVQ
from motion.layout import MotionLayout, layout_for_dim

VQ_TYPES = ("vq", "rvq", "hrvq")
# 2: the HRVQ conditioner quantizes r - sg(c) and starts at zero (format 1 quantized r - c: its tokens and weights
# mean something else, so a format-1 HRVQ is refused)
TOKENIZER_FORMAT = 2


@dataclass
class TokenizerConfig:
    """Everything that defines a tokenizer's architecture (stored in its checkpoints).

    Args:
        vq_type: "vq" (one layer), "rvq" or "hrvq".
        dim: motion feature width (263, 623 or 723).
        nb_code, code_dim: codebook size and code width.
        num_quantizers: Q layers (forced to 1 for "vq").
        width, depth, down_t, stride_t, dilation_growth_rate, activation, dropout: encoder/decoder shape.
        mu: EMA decay; sample_temperature: stochastic assignment in training (0: off); reset_dead: dead-code reset.
        quantize_dropout_prob: quantizer dropout.
        conditioner: hrvq only: predict each finer part from the coarser part's code (`--conditioner`; off by
            default: per-part RVQs generate better dances here, docs/benchmarks.md "The hierarchy").
    """

    vq_type: str = "rvq"
    dim: int = 623
    nb_code: int = 512
    code_dim: int = 512
    num_quantizers: int = 6
    width: int = 512
    depth: int = 3
    down_t: int = 2
    stride_t: int = 2
    dilation_growth_rate: int = 3
    activation: str = "relu"
    dropout: float = 0.2
    mu: float = 0.99
    sample_temperature: float = 0.5
    reset_dead: bool = True
    quantize_dropout_prob: float = 0.2
    conditioner: bool = False

    def __post_init__(self) -> None:
        if self.vq_type not in VQ_TYPES:
            raise ValueError(f"unknown vq_type {self.vq_type!r}; expected one of {', '.join(VQ_TYPES)}")
        if self.vq_type == "vq":
            self.num_quantizers = 1
        layout_for_dim(self.dim)  # raises for an unknown width

    @property
    def layout(self) -> MotionLayout:
        return layout_for_dim(self.dim)

    @property
    def conditioned(self) -> bool:
        """Whether finer parts are predicted from coarser ones (an hrvq with `conditioner`)."""
        return self.conditioner and self.vq_type == "hrvq"

    @property
    def downsampling(self) -> int:
        return self.stride_t**self.down_t

    @property
    def part_index(self) -> dict[str, np.ndarray]:
        """Feature indices of each tokenized part (one part "all" unless hrvq)."""
        if self.vq_type == "hrvq":
            return self.layout.part_index
        return {"all": np.arange(self.dim)}

    def to_dict(self) -> dict:
        return asdict(self)


class MotionTokenizer(nn.Module):
    """Encode motion features into discrete tokens and decode them back (see the module docstring)."""

    def __init__(self, config: TokenizerConfig) -> None:
        super().__init__()
        self.config = c = config
        self.parts = tuple(c.part_index)
        for name, idx in c.part_index.items():
            self.register_buffer(f"index_{name}", torch.as_tensor(idx, dtype=torch.long), persistent=False)
        shape = {
            "width": c.width,
            "depth": c.depth,
            "down_t": c.down_t,
            "stride_t": c.stride_t,
            "growth": c.dilation_growth_rate,
            "activation": c.activation,
            "dropout": c.dropout,
        }
        self.encoders = nn.ModuleList(Encoder(len(idx), c.code_dim, **shape) for idx in c.part_index.values())
        self.quantizer = PartResidualVQ(
            len(self.parts),
            c.num_quantizers,
            c.nb_code,
            c.code_dim,
            c.mu,
            c.sample_temperature,
            c.reset_dead,
            c.quantize_dropout_prob,
            c.conditioned,
        )
        self.decoder = Decoder(len(self.parts) * c.code_dim, c.dim, **shape)  # all parts' latents -> every feature

    def _check(self, x: torch.Tensor) -> None:
        if x.ndim != 3 or x.shape[-1] != self.config.dim:
            raise ValueError(f"expected motion features (B, T, {self.config.dim}), got {tuple(x.shape)}")
        if x.shape[1] % self.config.downsampling:
            raise ValueError(f"the frame count must be a multiple of {self.config.downsampling}, got {x.shape[1]}")

    def latents(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Per-part encoder outputs [(B, code_dim, T')] of features (B, T, dim)."""
        self._check(x)
        return [
            enc(x[..., getattr(self, f"index_{n}")].transpose(1, 2))
            for n, enc in zip(self.parts, self.encoders, strict=True)
        ]

    def decode_latents(self, z: list[torch.Tensor]) -> torch.Tensor:
        """Part latents -> features (B, T, dim)."""
        return self.decoder(torch.cat(z, dim=1)).transpose(1, 2)

    def tokenize(self, x: torch.Tensor, n_layers: int | None = None) -> dict:
        """Encoders and residual chain in fp32, whatever the autocast state. -> `PartResidualVQ.forward`'s dict"""
        with torch.autocast(device_type=x.device.type, enabled=False):
            return self.quantizer(self.latents(x.float()), n_layers)

    def forward(self, x: torch.Tensor, n_layers: int | None = None) -> dict:
        """Reconstruct features (B, T, dim). -> {"recon", "commit", "indices", "histograms", "n_layers",
        "cond_ratio"}"""
        out = self.tokenize(x, n_layers)
        out["recon"] = self.decode_latents(out.pop("z"))
        return out

    @torch.no_grad()
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Tokens of features (B, T, dim): (B, P*T', Q) (nearest codes, all layers, fp32 under any autocast)."""
        was_training = self.training
        self.eval()
        try:
            return self.tokenize(x, self.config.num_quantizers)["indices"]
        finally:
            self.train(was_training)

    def decode(self, indices: torch.Tensor) -> torch.Tensor:
        """Features (B, T, dim) from tokens (B, P*T', Q) (layers marked -1 are left out)."""
        return self.decode_latents(self.quantizer.decode_indices(indices))

    def decode_weights(self, weights: torch.Tensor) -> torch.Tensor:
        """Features (B, T, dim) from code weights (B, P*T', Q, K) (differentiable in the weights)."""
        return self.decode_latents(self.quantizer.decode_weights(weights))

    def codebooks(self) -> torch.Tensor:
        """All codebooks: (P, Q, nb_code, code_dim)."""
        return torch.stack([torch.stack([q.codebook for q in part]) for part in self.quantizer.quantizers])


def ric_index(layout: MotionLayout) -> np.ndarray:
    """Positions of the joint-position (ric) features of every joint (body and hands) in `layout`'s order."""
    flat = np.arange(layout.flat_slices["ric"].start, layout.flat_slices["ric"].stop)
    return layout.grouped_to_flat[flat] if layout.grouped else flat


def root_and_contact_index(layout: MotionLayout) -> np.ndarray:
    """Positions of the root channels (rotation velocity, linear velocity, height) and the foot contacts."""
    flat = np.r_[layout.flat_slices["root"], layout.flat_slices["contacts"]]
    return layout.grouped_to_flat[flat] if layout.grouped else flat


def tokenizer_std(std: np.ndarray, layout: MotionLayout, feat_bias: float) -> np.ndarray:
    """The dataset's Std with the root and foot-contact channels divided by `feat_bias` (MoMask's `--feat_bias`): those
    8 channels then weigh `feat_bias` times more in the tokenizer's input and loss, which keeps the root trajectory,
    integrated over whole sequences, from drifting."""
    out = np.array(std, dtype=np.float32, copy=True)
    out[root_and_contact_index(layout)] /= feat_bias
    return out


def reconstruction_loss(x: torch.Tensor, recon: torch.Tensor, layout: MotionLayout) -> dict[str, torch.Tensor]:
    """Smooth-L1 on every feature and on the joint positions of body and hands (the ric block). -> named losses"""
    idx = torch.as_tensor(ric_index(layout), device=x.device)
    return {"recon": F.smooth_l1_loss(recon, x), "joints": F.smooth_l1_loss(recon[..., idx], x[..., idx])}


def local_joint_errors(
    gt: torch.Tensor | np.ndarray, rec: torch.Tensor | np.ndarray, layout: MotionLayout
) -> torch.Tensor | np.ndarray:
    """Per-frame position errors (m) of joints 1..J-1 relative to the root in the body's facing frame (the ric block).

    This is the pose a tokenizer reconstructs at each frame, without the root trajectory integrated over time (whose
    drift would otherwise dominate long sequences). (..., T, D) features -> (..., T, J-1); body joints first
    (21), then the 30 finger joints.
    """
    idx = ric_index(layout)
    diff = rec[..., idx] - gt[..., idx]
    diff = diff.reshape(diff.shape[:-1] + (-1, 3))
    if isinstance(diff, torch.Tensor):
        return torch.linalg.norm(diff, dim=-1)
    return np.linalg.norm(diff, axis=-1)
