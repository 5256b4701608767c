"""Frozen-feature cache: each unique text of a set of fixed episodes through the fixed bottom ONCE.

With ``adapt: top<k>`` (or ``head``) the layers below the first adapted one never change during
test-time adaptation, so their output for a text is the same in every episode that holds it.
The cache keeps, per unique text (its real token ids, whatever padding an episode gave it):

- the token states at the cut (input of the first adapted layer), packed over real tokens:
  ``states (S, H)``, ``S`` = the total real tokens of the unique texts; encoded in
  length-sorted batches (``batch_tokens`` slots each, almost no padding), without autograd;
- the pooled embedding of the whole encoder at its own (meta) parameters ``(U, H)``: the
  query embeddings before adaptation (``query_loss_before``) and, for the frozen
  nearest-centroid baseline, everything that row needs.

Entries are keyed by a fingerprint of the parameters below the cut (:func:`trunk_fingerprints`),
so rows whose bottoms hold the same numbers share them, whatever module object holds them
(``make train``'s report: the pretrained fine-tuning row and the frozen-centroid row); a
private cache (``shared=False``, what ``score_module`` builds for one call) skips the hashing.
With ``match_padding`` (default) an entry is a text at the padded length of its episode: the
cached states then equal the per-episode bottom's bit for bit (attention reductions depend on
the padded length in their last bits); without, one entry per text (more sharing when
episodes pad to many lengths, differences at float rounding level).

Storage: ``model`` keeps the encoder's own dtype (float32 for MiniLM: exact); ``bfloat16``
halves the memory (its accuracy effect: ``lightning-meta bench episodes --only storage``).
Memory is bounded by ``max_bytes``: token states for at most that many bytes are alive at once
(least recently used trunk first out), and when one trunk's states for all episodes do not fit,
the episodes are processed in consecutive chunks that do (a chunk's states are rebuilt per row).
What a report needs: ``S * H * 4`` bytes per trunk in float32. 1,000 WordNet test episodes of
``make train`` (5-way 5-shot 15-query, ``max_length: 32``): 17,276 unique texts, ~287k real tokens,
441 MB per trunk at H=384 (220 MB in bfloat16), plus 27 MB of pooled embeddings.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, cast

import torch
from torch import Tensor, nn

from lightning_meta.data.episode import Episode
from lightning_meta.evaluation.text_index import TextIndex
from lightning_meta.models.packed import Packing, attention_bias, packed_bottom, packed_layer

__all__ = [
    "DEFAULT_MAX_BYTES",
    "FeatureCache",
    "Storage",
    "TextIndex",
    "TokenStates",
    "trunk_fingerprints",
]

Storage = Literal["model", "bfloat16"]
Pooling = Literal["mean", "cls"]
DEFAULT_MAX_BYTES = 1 << 30  # 1 GiB of token states alive at once
Note = Callable[[str], None]


@dataclass
class TokenStates:
    """Token states at the cut of some texts, packed over real tokens."""

    states: Tensor  # (S, H) storage dtype
    start: Tensor  # (U_all,) long: first row of text u in ``states`` (-1: not held)

    @property
    def nbytes(self) -> int:
        return self.states.numel() * self.states.element_size()

    def gather(self, tids: Tensor, packing: Packing, dtype: torch.dtype) -> Tensor:
        """(E, R) text ids -> (E, n, H) packed token states in the compute ``dtype``."""
        start = self.start.to(tids.device)[tids]  # (E, R)
        assert bool((start >= 0).all()), "a row's text is not in this chunk"
        src = packing.source_index(start.to(self.states.device))  # (E*n,)
        x = self.states.index_select(0, src).to(dtype)
        return x.view(packing.episodes, packing.n, -1)


def _layers(encoder: nn.Module) -> list[nn.Module]:
    return list(cast(nn.ModuleList, encoder.get_submodule("encoder.layer")))


def _digest(h: Any, module: nn.Module) -> None:
    h.update(type(module).__name__.encode())
    for name, t in [*module.named_parameters(), *module.named_buffers()]:
        flat = t.detach().reshape(-1).contiguous().cpu()
        h.update(f"{name}:{tuple(t.shape)}:{t.dtype}".encode())
        h.update(flat.view(torch.uint8).numpy().tobytes())


def trunk_fingerprints(encoder: nn.Module) -> list[str]:
    """``fp[c]``: a digest of the embeddings (and tables every layer reads: MPNet's position
    bias) and layers ``0..c-1`` (their parameters' exact values), for ``c = 0..L``; equal
    digests mean equal token states at cut ``c``."""
    h = hashlib.blake2b(digest_size=16)
    h.update(type(encoder).__name__.encode())
    _digest(h, cast(nn.Module, encoder.get_submodule("embeddings")))
    inner = getattr(encoder, "encoder", None)
    for shared in (  # ELECTRA's projection, MPNet's position table
        getattr(encoder, "embeddings_project", None),
        getattr(inner, "relative_attention_bias", None),
    ):
        if isinstance(shared, nn.Module):
            _digest(h, shared)
    out = [h.hexdigest()]
    for layer in _layers(encoder):
        _digest(h, layer)
        out.append(h.hexdigest())
    return out


def _batches(texts: Tensor, index: TextIndex, batch_tokens: int) -> list[Tensor]:
    """Entries grouped by padded length and sorted by real length, cut into batches of at most
    ``batch_tokens`` real tokens (attention sees each batch's one padded length)."""
    key = index.pad[texts] * (int(index.lengths.max()) + 1) + index.lengths[texts]
    order = texts[torch.argsort(key, stable=True)].tolist()
    sizes, pads = index.lengths.tolist(), index.pad.tolist()
    out: list[Tensor] = []
    cur: list[int] = []
    tokens = 0
    for t in order:
        if cur and (tokens + sizes[t] > batch_tokens or pads[t] != pads[cur[0]]):
            out.append(torch.tensor(cur, dtype=torch.long))
            cur, tokens = [], 0
        cur.append(t)
        tokens += sizes[t]
    if cur:
        out.append(torch.tensor(cur, dtype=torch.long))
    return out


class FeatureCache:
    """Token states and pooled embeddings of the unique texts of ``episodes``; see module doc."""

    def __init__(
        self,
        episodes: Sequence[Episode],
        *,
        storage: Storage = "model",
        max_bytes: int = DEFAULT_MAX_BYTES,
        batch_tokens: int = 8192,
        match_padding: bool = True,
        shared: bool = True,
    ) -> None:
        if storage not in ("model", "bfloat16"):
            raise ValueError(f"storage: '{storage}' is not model or bfloat16")
        self.episodes = list(episodes)
        self.match_padding = match_padding
        self.shared = shared
        self.index = TextIndex.build(self.episodes, match_padding)
        self.storage: Storage = storage
        self.max_bytes = int(max_bytes)
        self.batch_tokens = int(batch_tokens)
        self._states: OrderedDict[tuple[str, int, int], TokenStates] = OrderedDict()
        self._pooled: dict[tuple[str, str, str], tuple[Tensor, Tensor]] = {}  # values, filled (U,)

    def keys(self, encoder: nn.Module) -> list[str]:
        """Entry keys per cut: :func:`trunk_fingerprints` when the cache is shared between
        models; a private cache (one model, one call: ``shared=False``) skips the hashing."""
        if self.shared:
            return trunk_fingerprints(encoder)
        return [f"private:{id(encoder)}:{c}" for c in range(len(_layers(encoder)) + 1)]

    def storage_dtype(self, encoder: nn.Module) -> torch.dtype:
        return torch.bfloat16 if self.storage == "bfloat16" else next(encoder.parameters()).dtype

    def _bottom(self, encoder: nn.Module, cut: int, batch: Tensor) -> tuple[Tensor, Packing]:
        """Packed (1, n, H) states at ``cut`` of the entries ``batch`` (one padded length)."""
        device = next(encoder.parameters()).device
        rows = [self.index.tokens[int(t)] for t in batch]
        T = max(len(r) for r in rows)
        ids = torch.zeros(len(rows), T, dtype=torch.long)
        for i, r in enumerate(rows):
            ids[i, : len(r)] = r
        mask = (torch.arange(T) < self.index.lengths[batch][:, None]).long()
        pad = int(self.index.pad[batch[0]]) or None
        return packed_bottom(encoder, cut, ids.to(device), mask.to(device), pad_to=pad)

    def states(
        self, encoder: nn.Module, fps: list[str], cut: int, chunk: range, note: Note | None = None
    ) -> TokenStates:
        """Token states at ``cut`` of the texts of episodes ``chunk`` (encoded on first use)."""
        key = (fps[cut], chunk.start, chunk.stop)
        if key in self._states:
            self._states.move_to_end(key)
            return self._states[key]
        texts = self.index.texts_of(chunk)
        device = next(encoder.parameters()).device
        dtype = self.storage_dtype(encoder)
        total = int(self.index.lengths[texts].sum())
        hidden = int(getattr(encoder.config, "hidden_size"))  # noqa: B009
        need = total * hidden * torch.empty((), dtype=dtype).element_size()
        while self._states and sum(s.nbytes for s in self._states.values()) + need > self.max_bytes:
            self._states.popitem(last=False)
        if note is not None:
            note(f"encoding {len(texts)} unique texts ({total} tokens) through layers 0..{cut - 1}")
        states = torch.empty(total, hidden, dtype=dtype, device=device)
        start = torch.full((len(self.index),), -1, dtype=torch.long)
        offset = 0
        with torch.no_grad():
            for batch in _batches(texts, self.index, self.batch_tokens):
                x, packing = self._bottom(encoder, cut, batch)  # (1, n, H), rows in order
                lengths = self.index.lengths[batch]
                start[batch] = offset + torch.cumsum(lengths, 0) - lengths
                states[offset : offset + x.shape[1]] = x[0].to(dtype)
                offset += x.shape[1]
        entry = TokenStates(states, start)
        self._states[key] = entry
        return entry

    def pooled(
        self,
        encoder: nn.Module,
        fps: list[str],
        pooling: Pooling,
        texts: Tensor,
        below: tuple[int, TokenStates] | None = None,
    ) -> Tensor:
        """(U_all, H) pooled embeddings of the whole encoder at its own parameters; rows
        ``texts`` are filled (from the states ``below = (cut, states)`` when given: with
        bfloat16 storage those are kept apart from the exact ones a full pass gives)."""
        layers = _layers(encoder)
        param = next(encoder.parameters())
        rounded = below is not None and self.storage == "bfloat16"  # from rounded states
        key = (fps[len(layers)], pooling, "bfloat16" if rounded else "exact")
        if key not in self._pooled:
            hidden = int(getattr(encoder.config, "hidden_size"))  # noqa: B009
            values = torch.zeros(len(self.index), hidden, dtype=param.dtype, device=param.device)
            self._pooled[key] = (values, torch.zeros(len(self.index), dtype=torch.bool))
        values, filled = self._pooled[key]
        todo = texts[~filled[texts]]
        with torch.no_grad():
            for batch in _batches(todo, self.index, self.batch_tokens):
                if below is None:
                    x, packing = self._bottom(encoder, len(layers), batch)
                else:
                    cut, states = below
                    pad = int(self.index.pad[batch[0]]) or None
                    packing = Packing.from_lengths(
                        self.index.lengths[batch][None].to(param.device), pad
                    )
                    x = states.gather(batch[None], packing, param.dtype)  # (1, n, H)
                    ext, position = attention_bias(encoder, packing, x.dtype)
                    for layer in layers[cut:]:
                        x = packed_layer(layer, {}, x, packing, ext, position)
                values[batch.to(param.device)] = packing.pool(x, pooling)[0]
        filled[todo] = True
        return values
