"""1-D convolutional encoder and decoder of the motion tokenizers (MoMask / T2M-GPT design).

Encoder: conv -> `down_t` x [strided conv (x1/stride_t in time) -> dilated residual stack] -> conv to `code_dim`.
Decoder: the mirror, with nearest up-sampling. With the defaults (down_t 2, stride_t 2) a window of T frames gives
T/4 latent vectors; T must be a multiple of stride_t ** down_t.
"""

from __future__ import annotations

from torch import nn

ACTIVATIONS = {"relu": nn.ReLU, "silu": nn.SiLU, "gelu": nn.GELU}


class ResBlock(nn.Module):
    """activation -> dilated conv (k3) -> activation -> conv (k1), added to the input."""

    def __init__(self, width: int, dilation: int, activation: str, dropout: float) -> None:
        super().__init__()
        act = ACTIVATIONS[activation]
        self.body = nn.Sequential(
            act(),
            nn.Conv1d(width, width, 3, padding=dilation, dilation=dilation),
            act(),
            nn.Conv1d(width, width, 1),
            nn.Dropout(dropout),
        )

    def forward(self, x):  # (B, C, T) -> (B, C, T)
        return x + self.body(x)


def res_stack(width: int, depth: int, growth: int, activation: str, dropout: float, reverse: bool) -> nn.Sequential:
    """`depth` residual blocks with dilations growth**0 .. growth**(depth-1) (reversed in the decoder)."""
    dilations = [growth**d for d in range(depth)]
    order = dilations[::-1] if reverse else dilations
    return nn.Sequential(*(ResBlock(width, d, activation, dropout) for d in order))


class Encoder(nn.Module):
    """(B, in_dim, T) -> (B, code_dim, T / stride_t**down_t)."""

    def __init__(
        self,
        in_dim: int,
        code_dim: int,
        width: int = 512,
        depth: int = 3,
        down_t: int = 2,
        stride_t: int = 2,
        growth: int = 3,
        activation: str = "relu",
        dropout: float = 0.2,
    ) -> None:
        super().__init__()
        layers = [nn.Conv1d(in_dim, width, 3, padding=1), ACTIVATIONS[activation]()]
        for _ in range(down_t):
            layers += [
                nn.Conv1d(width, width, 2 * stride_t, stride_t, stride_t // 2),
                res_stack(width, depth, growth, activation, dropout, reverse=False),
            ]
        layers.append(nn.Conv1d(width, code_dim, 3, padding=1))
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x)


class Decoder(nn.Module):
    """(B, in_dim, T') -> (B, out_dim, T' * stride_t**down_t)."""

    def __init__(
        self,
        in_dim: int,
        out_dim: int,
        width: int = 512,
        depth: int = 3,
        down_t: int = 2,
        stride_t: int = 2,
        growth: int = 3,
        activation: str = "relu",
        dropout: float = 0.2,
    ) -> None:
        super().__init__()
        layers = [nn.Conv1d(in_dim, width, 3, padding=1), ACTIVATIONS[activation]()]
        for _ in range(down_t):
            layers += [
                res_stack(width, depth, growth, activation, dropout, reverse=True),
                nn.Upsample(scale_factor=stride_t, mode="nearest"),
                nn.Conv1d(width, width, 3, padding=1),
            ]
        layers += [
            nn.Conv1d(width, width, 3, padding=1),
            ACTIVATIONS[activation](),
            nn.Conv1d(width, out_dim, 3, padding=1),
        ]
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x)
