"""Where each (part, time) token sits in a sequence, and the special token ids.

The tokenizer's tokens are (B, P*T', Q), part-major: body times 0..T'-1, then hands, then face (`PartResidualVQ`).
`TokenGrid` is the one place that maps (part, time) to a position, so the transformers' part and time embeddings,
the frame-level music conditioning and in-painting (tokens given at some times stay fixed) agree on it.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


def special_ids(nb_code: int) -> tuple[int, int]:
    """(mask id, pad id) after the `nb_code` code ids."""
    return nb_code, nb_code + 1


@dataclass(frozen=True)
class TokenGrid:
    """P parts x T' token times, laid out part-major (position = part * T' + time)."""

    parts: int
    times: int

    @property
    def length(self) -> int:
        return self.parts * self.times

    def position(self, part: torch.Tensor | int, time: torch.Tensor | int) -> torch.Tensor:
        """Sequence position of (part, time) (broadcast)."""
        return torch.as_tensor(part) * self.times + torch.as_tensor(time)

    def part_ids(self, device: torch.device | str = "cpu") -> torch.Tensor:
        """Part of every position. (L,)"""
        return torch.arange(self.parts, device=device).repeat_interleave(self.times)

    def time_ids(self, device: torch.device | str = "cpu") -> torch.Tensor:
        """Token time of every position. (L,)"""
        return torch.arange(self.times, device=device).repeat(self.parts)

    def positions_at(
        self,
        times: torch.Tensor | range | list[int],
        parts: list[int] | None = None,
        device: torch.device | str = "cpu",
    ) -> torch.Tensor:
        """Bool mask (L,) of every position at the given token times (of the given parts, default all)."""
        t = torch.as_tensor(list(times), dtype=torch.long, device=device)
        p = torch.as_tensor(list(range(self.parts)) if parts is None else parts, dtype=torch.long, device=device)
        out = torch.zeros(self.length, dtype=torch.bool, device=device)
        out[self.position(p[:, None], t[None]).reshape(-1)] = True
        return out

    def per_part(self, x: torch.Tensor) -> torch.Tensor:
        """(B, P*T', ...) -> (B, P, T', ...)."""
        return x.reshape(x.shape[0], self.parts, self.times, *x.shape[2:])

    def flat(self, x: torch.Tensor) -> torch.Tensor:
        """(B, P, T', ...) -> (B, P*T', ...)."""
        return x.reshape(x.shape[0], self.length, *x.shape[3:])
