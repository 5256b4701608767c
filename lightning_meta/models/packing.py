"""Where the real tokens of a stack of right-padded rows sit once packed: :class:`Packing`.

The rows of ``E`` episodes are packed token by token into ``(E, n, C)`` (``n``: the most real
tokens of any episode); :class:`Packing` maps between that layout and the per-row
``(E, R, T, C)`` one, and pools rows. The packed transformer blocks: :mod:`.packed`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor

__all__ = ["Packing", "Pooling"]

Pooling = Literal["mean", "cls"]


@dataclass(frozen=True)
class Packing:
    """Where the tokens of ``R`` rows of each of ``E`` episodes sit in a packed ``(E, n, C)``.

    Row ``r`` of episode ``e`` holds packed slots ``starts[e, r] .. starts[e, r] + len - 1``;
    slots past an episode's token count are padding (finite values nobody reads).
    """

    lengths: Tensor  # (E, R) long, real tokens per row (>= 1)
    starts: Tensor  # (E, R) long, first packed slot of each row
    mask: Tensor  # (E, R, T) bool, real token
    rows_index: Tensor  # (E*R*T,) flat packed position of row token (e, r, t); padding -> e*n
    packed_index: Tensor  # (E*n,) flat row position of packed slot (e, p); padding -> e*R*T
    n: int  # packed slots per episode
    T: int  # longest row

    @classmethod
    def from_lengths(cls, lengths: Tensor, pad_to: int | None = None) -> Packing:
        """``lengths`` (E, R): real tokens of every row (right-padded rows). ``pad_to``: the
        row length attention sees (default the longest row): a padded batch's own ``T``
        reproduces that batch's attention reductions exactly."""
        lengths = lengths.long()
        E, R = lengths.shape
        T, n = max(int(lengths.max()), pad_to or 0), int(lengths.sum(1).max())
        starts = lengths.cumsum(1) - lengths  # (E, R)
        t = torch.arange(T, device=lengths.device)
        mask = t < lengths[..., None]  # (E, R, T)
        base = torch.arange(E, device=lengths.device)[:, None, None]  # (E, 1, 1)
        pos = torch.where(mask, starts[..., None] + t, 0) + base * n  # (E, R, T)
        packed_index = (base * (R * T)).expand(E, n, 1).reshape(-1).clone()  # (E*n,)
        flat_rows = torch.arange(E * R * T, device=lengths.device).view(E, R, T)
        packed_index[pos[mask]] = flat_rows[mask]
        return cls(lengths, starts, mask, pos.reshape(-1), packed_index, n, T)

    @property
    def episodes(self) -> int:
        return int(self.lengths.shape[0])

    @property
    def rows(self) -> int:
        return int(self.lengths.shape[1])

    def to_rows(self, x: Tensor) -> Tensor:
        """(E, n, C) packed -> (E, R, T, C) per row (padding positions hold some real token)."""
        E, _, C = x.shape
        return x.reshape(-1, C).index_select(0, self.rows_index).view(E, self.rows, self.T, C)

    def to_packed(self, y: Tensor) -> Tensor:
        """(E, R, T, C) per row -> (E, n, C) packed."""
        C = y.shape[-1]
        out = y.reshape(-1, C).index_select(0, self.packed_index)
        return out.view(self.episodes, self.n, C)

    def source_index(self, row_start: Tensor) -> Tensor:
        """(E*n,) source positions of every packed slot when row (e, r) is stored contiguously
        from ``row_start[e, r]`` in some flat token table (padding slots -> a real token)."""
        E, R = self.lengths.shape
        t = torch.arange(self.T, device=row_start.device)
        src = (row_start[..., None] + t)[self.mask]  # (tokens,)
        out = row_start[:, :1].expand(E, self.n).reshape(-1).clone()  # (E*n,)
        out[self.rows_index.view(E, R, self.T)[self.mask]] = src
        return out

    def pool(self, x: Tensor, pooling: Pooling) -> Tensor:
        """(E, n, H) packed token states -> (E, R, H): masked mean per row, or its first token."""
        if pooling == "cls":
            base = torch.arange(self.episodes, device=x.device)[:, None] * self.n
            first = (self.starts + base).reshape(-1)  # (E*R,)
            return (
                x.reshape(-1, x.shape[-1])
                .index_select(0, first)
                .view(self.episodes, -1, x.shape[-1])
            )
        rows = self.to_rows(x)  # (E, R, T, H)
        m = self.mask.to(x.dtype).unsqueeze(-1)  # (E, R, T, 1)
        return (rows * m).sum(2) / m.sum(2).clamp(min=1.0)  # (E, R, H)
