"""The unique texts of a set of fixed episodes, and which text every episode row holds.

The frozen-feature cache (:mod:`lightning_meta.evaluation.feature_cache`) encodes each entry
once; an entry is a text's real token ids (whatever padding an episode gave it), and with
``match_padding`` also the padded length of its episode.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from lightning_meta.data.episode import Episode

__all__ = ["TextIndex"]


@dataclass
class TextIndex:
    """The unique texts of a list of episodes; every row of every episode -> its entry id.

    With ``match_padding`` an entry is a text AT the padded length ``T`` of the episode that
    holds it (attention reductions depend on ``T`` in their last bits: the cached states then
    equal the per-episode bottom's exactly); without, one entry per text (``pad`` 0)."""

    tokens: list[Tensor]  # (L_u,) real token ids of entry u
    lengths: Tensor  # (U,) long, real tokens
    pad: Tensor  # (U,) long, the padded length attention sees (0: the text's own length)
    support: list[Tensor]  # per episode, (Ns,) entry ids
    query: list[Tensor]  # per episode, (Nq,)

    @classmethod
    def build(cls, episodes: Sequence[Episode], match_padding: bool = True) -> TextIndex:
        ids: dict[tuple[bytes, int], int] = {}
        tokens: list[Tensor] = []
        pads: list[int] = []
        per_split: dict[str, list[Tensor]] = {"support": [], "query": []}
        for ep in episodes:
            for split in ("support", "query"):
                batch = getattr(ep, split)
                rows = batch.input_ids.cpu()
                pad = int(rows.shape[1]) if match_padding else 0
                tids = []
                for r, n in enumerate(batch.attention_mask.sum(1).cpu().tolist()):
                    row = rows[r, :n]
                    key = (row.numpy().tobytes(), pad)
                    if key not in ids:
                        ids[key] = len(tokens)
                        tokens.append(row.clone())
                        pads.append(pad)
                    tids.append(ids[key])
                per_split[split].append(torch.tensor(tids, dtype=torch.long))
        lengths = torch.tensor([len(t) for t in tokens], dtype=torch.long)
        pad_t = torch.tensor(pads, dtype=torch.long)
        return cls(tokens, lengths, pad_t, per_split["support"], per_split["query"])

    def __len__(self) -> int:
        return len(self.tokens)

    def texts_of(self, episodes: range) -> Tensor:
        """Sorted unique text ids used by the episodes ``episodes`` (indices into the list)."""
        parts = [t for i in episodes for t in (self.support[i], self.query[i])]
        return torch.unique(torch.cat(parts))

    def chunks(self, bytes_per_token: int, max_bytes: int) -> list[range]:
        """Consecutive episode ranges whose unique texts' token states fit in ``max_bytes``."""
        out: list[range] = []
        seen: set[int] = set()
        start, tokens = 0, 0
        lengths = self.lengths.tolist()
        for i in range(len(self.support)):
            new = {int(t) for t in torch.cat([self.support[i], self.query[i]])} - seen
            extra = sum(lengths[t] for t in new)
            if i > start and (tokens + extra) * bytes_per_token > max_bytes:
                out.append(range(start, i))
                start, tokens, seen = i, 0, set()
                new = {int(t) for t in torch.cat([self.support[i], self.query[i]])}
                extra = sum(lengths[t] for t in new)
            seen |= new
            tokens += extra
        out.append(range(start, len(self.support)))
        return out
