"""The word -> sentences index behind SMLMT tasks, built once per (texts, filters, tokenizer).

Every text is tokenised once (no special tokens) and cut to ``max_length`` minus the special
tokens *at a word boundary*, so a word is never half kept. A "word" is one pre-tokenizer word
(whitespace/punctuation delimited, ``word_ids`` of a fast tokenizer) and is identified by its
sub-token id sequence: for an uncased WordPiece tokenizer (MiniLM, BERT) that is exactly the
lower-cased, accent-stripped surface form, so masking a word removes every sub-token sequence
the model could read it from. (Cased/BPE tokenizers see ``Dog`` and ``dog`` as two words.)

Stored as flat numpy arrays in CSR layout (``*_ptr`` arrays hold segment starts):

- ``tokens[sent_ptr[s]:sent_ptr[s+1]]``: sub-token ids of sentence ``s``;
- ``pair_sent[word_ptr[w]:word_ptr[w+1]]``: sentences containing word ``w`` (sorted);
- ``occ_start/occ_end[pair_ptr[p]:pair_ptr[p+1]]``: token spans of every occurrence of
  word ``w`` in sentence ``pair_sent[p]``;
- ``sent_words[sent_word_ptr[s]:sent_word_ptr[s+1]]``: eligible words in sentence ``s``.

So masking is index arithmetic, never a re-tokenisation. The arrays are saved as one ``.npz``
under ``<cache root>/smlmt/`` named by a fingerprint of the texts' content, the filters, the
tokenizer's vocabulary and ``max_length``; a second build with the same inputs loads it.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from lightning_meta.data.rawtext import texts_fingerprint
from lightning_meta.errors import ConfigError

log = logging.getLogger(__name__)
INDEX_VERSION = 1
CHUNK = 4096
ARRAYS = ("tokens", "sent_ptr", "word_tok", "word_tok_ptr", "word_ptr", "pair_sent", "pair_ptr",
          "occ_start", "occ_end", "sent_words", "sent_word_ptr")  # fmt: skip
# A common English stop-word list (NLTK's, lower case).
STOPWORDS = frozenset([
    "a", "about", "above", "after", "again", "against", "ain", "all", "am", "an", "and", "any",
    "are", "aren", "as", "at", "be", "because", "been", "before", "being", "below", "between",
    "both", "but", "by", "can", "couldn", "could", "d", "did", "didn", "do", "does", "doesn",
    "doing", "don", "down", "during", "each", "few", "for", "from", "further", "had", "hadn",
    "has", "hasn", "have", "haven", "having", "he", "her", "here", "hers", "herself", "him",
    "himself", "his", "how", "i", "if", "in", "into", "is", "isn", "it", "its", "itself",
    "just", "ll", "m", "ma", "me", "mightn", "more", "most", "mustn", "my", "myself", "needn",
    "no", "nor", "not", "now", "o", "of", "off", "on", "once", "only", "or", "other", "our",
    "ours", "ourselves", "out", "over", "own", "re", "s", "same", "shan", "she", "should",
    "shouldn", "so", "some", "such", "t", "than", "that", "the", "their", "theirs", "them",
    "themselves", "then", "there", "these", "they", "this", "those", "through", "to", "too",
    "under", "until", "up", "ve", "very", "was", "wasn", "we", "were", "weren", "what", "when",
    "where", "which", "while", "who", "whom", "why", "will", "with", "won", "wouldn", "y",
    "you", "your", "yours", "yourself", "yourselves"
])  # fmt: skip


@dataclass(frozen=True)
class VocabFilter:
    """Which words may be masked (all counts are numbers of distinct sentences)."""

    min_count: int = 1
    """Keep words found in at least this many sentences (words with fewer than
    k_shot + q_query sentences are left out of tasks anyway, and counted in the log)."""
    max_count: int | None = None
    """Drop words found in more than this many sentences (None: no upper limit)."""
    exclude_stopwords: bool = True
    """Drop common English function words (:data:`STOPWORDS`)."""
    alpha_only: bool = True
    """Punctuation exclusion: keep only purely alphabetic words (no digits, no symbols)."""
    min_length: int = 3
    """Minimum characters of a word (its decoded surface form)."""

    def validate(self) -> None:
        if self.min_count < 1:
            raise ConfigError(f"min_count: must be >= 1, got {self.min_count}")
        if self.max_count is not None and self.max_count < self.min_count:
            raise ConfigError(
                f"max_count: {self.max_count} is below min_count={self.min_count}; raise max_count "
                f"or set it to null"
            )
        if self.min_length < 1:
            raise ConfigError(f"min_length: must be >= 1, got {self.min_length}")

    def keeps(self, word: str) -> bool:
        if len(word) < self.min_length:
            return False
        if self.alpha_only and not word.isalpha():
            return False
        return not (self.exclude_stopwords and word.lower() in STOPWORDS)


def tokenizer_fingerprint(tokenizer: Any) -> list[Any]:
    """What determines the token ids: class, vocabulary, specials."""
    from lightning_meta.data.cache import fingerprint

    vocab = sorted(tokenizer.get_vocab().items())
    return [type(tokenizer).__name__, fingerprint(vocab), tokenizer.all_special_ids,
            getattr(tokenizer, "do_lower_case", None)]  # fmt: skip


def special_frame(tokenizer: Any) -> tuple[list[int], list[int]]:
    """Special ids the tokenizer puts before and after one sequence ([CLS], [SEP] for BERT)."""
    sentinel = -7
    ids = list(tokenizer.build_inputs_with_special_tokens([sentinel]))
    at = ids.index(sentinel)
    return ids[:at], ids[at + 1 :]


@dataclass
class SMLMTIndex:
    """Word occurrence index over pre-tokenised sentences (see the module docstring).

    Each CSR array is also an attribute: ``index.pair_sent is index.arrays["pair_sent"]``.
    """

    words: list[str]
    """Surface form of each eligible word (decoded sub-tokens), sorted."""
    arrays: dict[str, np.ndarray]
    """The CSR arrays named in :data:`ARRAYS`."""
    stats: dict[str, Any] = field(default_factory=dict)
    """Build statistics: sentences, truncated sentences, distinct words, words per filter."""
    from_cache: bool = False
    """True when this index was loaded from the on-disk cache instead of being built."""

    def __getattr__(self, name: str) -> np.ndarray:
        arrays = self.__dict__.get("arrays", {})
        if name in arrays:
            return arrays[name]
        raise AttributeError(name)

    @property
    def counts(self) -> np.ndarray:
        """Number of sentences containing each word, (W,)."""
        return np.diff(self.arrays["word_ptr"])

    @property
    def n_sentences(self) -> int:
        return len(self.arrays["sent_ptr"]) - 1

    def word_token_ids(self, w: int) -> list[int]:
        ptr = self.arrays["word_tok_ptr"]
        return self.arrays["word_tok"][ptr[w] : ptr[w + 1]].tolist()

    def sentence_tokens(self, s: int) -> np.ndarray:
        ptr = self.arrays["sent_ptr"]
        return self.arrays["tokens"][ptr[s] : ptr[s + 1]]

    # ---- persistence -------------------------------------------------------------------
    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.stem}.{os.getpid()}.tmp.npz")
        meta = json.dumps({"words": self.words, "stats": self.stats})
        payload: dict[str, Any] = {"meta": np.array(meta), **self.arrays}
        np.savez(tmp, **payload)
        os.replace(tmp, path)  # atomic: concurrent ranks never read a half-written file

    @classmethod
    def load(cls, path: Path) -> SMLMTIndex:
        with np.load(path) as data:
            meta = json.loads(str(data["meta"]))
            arrays = {name: data[name] for name in ARRAYS}
        return cls(meta["words"], arrays, meta["stats"], from_cache=True)


def index_key(texts_fp: str, filt: VocabFilter, tokenizer: Any, max_length: int) -> str:
    from lightning_meta.data.cache import fingerprint

    return fingerprint([INDEX_VERSION, texts_fp, asdict(filt), tokenizer_fingerprint(tokenizer),
                        max_length])  # fmt: skip


def load_or_build_index(
    texts: list[str],
    tokenizer: Any,
    filt: VocabFilter,
    max_length: int,
    cache_dir: str | None = None,
) -> SMLMTIndex:
    """The cached index for these inputs, building and saving it on the first call."""
    from lightning_meta.data.cache import cache_root

    filt.validate()
    key = index_key(texts_fingerprint(texts), filt, tokenizer, max_length)
    path = cache_root(cache_dir) / "smlmt" / f"index-{key}.npz"
    if path.exists():
        log.info("smlmt: reusing cached word index %s", path)
        return SMLMTIndex.load(path)
    index = build_index(texts, tokenizer, filt, max_length)
    index.save(path)
    log.info("smlmt: built word index in %.1fs: %s -> %s", index.stats["build_s"],
             index.stats, path)  # fmt: skip
    return index


def tokenize_words(
    texts: list[str], tokenizer: Any, limit: int
) -> tuple[np.ndarray, np.ndarray, list[tuple[int, ...]], np.ndarray, int]:
    """Tokens of every text cut at a word boundary, plus every word occurrence.

    Returns (flat tokens (N,), sentence lengths (S,), distinct word token tuples, occurrences
    (M, 4) as (word, sentence, start, end), number of truncated sentences).
    """
    from tokenizers import Tokenizer

    backend = Tokenizer.from_str(tokenizer.backend_tokenizer.to_str())
    backend.no_truncation()
    backend.no_padding()
    ids_flat: list[int] = []
    wids_flat: list[int | None] = []
    lengths: list[int] = []
    truncated = 0
    for lo in range(0, len(texts), CHUNK):
        for enc in backend.encode_batch(texts[lo : lo + CHUNK], add_special_tokens=False):
            ids, wids = enc.ids, enc.word_ids
            if len(ids) > limit:
                truncated += 1
                cut = limit
                while cut > 0 and wids[cut] is not None and wids[cut] == wids[cut - 1]:
                    cut -= 1  # back up to the first sub-token of the word that crosses the limit
                ids, wids = ids[:cut], wids[:cut]
            ids_flat.extend(ids)
            wids_flat.extend(wids)
            lengths.append(len(ids))
    tokens = np.asarray(ids_flat, dtype=np.int64)  # (N,)
    wid = np.asarray([-1 if w is None else w for w in wids_flat], dtype=np.int64)
    lens = np.asarray(lengths, dtype=np.int64)  # (S,)
    sent_start = np.concatenate([[0], np.cumsum(lens)])[:-1]
    sent = np.repeat(np.arange(len(lens)), lens)  # sentence of every token
    new_word = np.ones(len(tokens), dtype=bool)
    new_word[1:] = (wid[1:] != wid[:-1]) | (sent[1:] != sent[:-1]) | (wid[1:] < 0)
    starts = np.flatnonzero(new_word)
    ends = np.concatenate([starts[1:], [len(tokens)]])
    # word key: its token id when it is one sub-token, else vocab + index of its tuple
    key = tokens[starts].copy()
    multi = np.flatnonzero(ends - starts > 1)
    tuples: dict[tuple[int, ...], int] = {}
    base = int(tokens.max(initial=0)) + 1
    for k, (a, b) in zip(
        multi.tolist(), zip(starts[multi].tolist(), ends[multi].tolist(), strict=True), strict=True
    ):
        key[k] = base + tuples.setdefault(tuple(ids_flat[a:b]), len(tuples))
    uniq, word = np.unique(key, return_inverse=True)
    multi_keys = list(tuples)
    word_keys = [(int(u),) if u < base else multi_keys[int(u) - base] for u in uniq]
    occ_sent = sent[starts]
    occ = np.stack([word, occ_sent, starts - sent_start[occ_sent], ends - sent_start[occ_sent]], 1)
    return tokens, lens, word_keys, occ, truncated


def _csr_ptr(keys: np.ndarray, n: int) -> np.ndarray:
    """Segment starts for sorted ``keys`` in 0..n-1, (n+1,)."""
    return np.concatenate([[0], np.cumsum(np.bincount(keys, minlength=n))]).astype(np.int64)


def build_index(texts: list[str], tokenizer: Any, filt: VocabFilter, max_length: int) -> SMLMTIndex:
    """Tokenise every text once and index the occurrences of every eligible word."""
    if not getattr(tokenizer, "is_fast", False):
        raise ConfigError(
            "tokenizer: SMLMT needs a fast (Rust) tokenizer for word boundaries; "
            "use a tokenizer directory with tokenizer.json, e.g. 'minilm'"
        )
    pre, post = special_frame(tokenizer)
    limit = max_length - len(pre) - len(post)
    if limit < 4:
        raise ConfigError(f"max_length: {max_length} leaves {limit} tokens per text; use >= 16")
    t0 = time.perf_counter()
    tokens, lengths, word_keys, occ, truncated = tokenize_words(texts, tokenizer, limit)
    # sentence frequency of every distinct word: count unique (word, sentence) pairs
    pairs0 = occ[np.lexsort((occ[:, 1], occ[:, 0]))]
    first = np.ones(len(pairs0), dtype=bool)
    first[1:] = (pairs0[1:, 0] != pairs0[:-1, 0]) | (pairs0[1:, 1] != pairs0[:-1, 1])
    df = np.bincount(pairs0[first, 0], minlength=len(word_keys))
    bad_ids = set(tokenizer.all_special_ids)
    in_range = (df >= filt.min_count) & (df <= (filt.max_count or np.iinfo(np.int64).max))
    kept: list[tuple[str, int]] = []
    for w in np.flatnonzero(in_range).tolist():
        key = word_keys[w]
        if bad_ids.intersection(key):
            continue
        surface = tokenizer.decode(list(key)).strip()
        if filt.keeps(surface):
            kept.append((surface, w))
    kept.sort()
    remap = np.full(len(word_keys), -1, dtype=np.int64)
    remap[[w for _, w in kept]] = np.arange(len(kept))
    # occurrences of eligible words, sorted by (word, sentence, start)
    occ = occ[remap[occ[:, 0]] >= 0]
    occ[:, 0] = remap[occ[:, 0]]
    occ = occ[np.lexsort((occ[:, 2], occ[:, 1], occ[:, 0]))]
    new_pair = np.ones(len(occ), dtype=bool)
    new_pair[1:] = (occ[1:, 0] != occ[:-1, 0]) | (occ[1:, 1] != occ[:-1, 1])
    pair_word, pair_sent = occ[new_pair, 0], occ[new_pair, 1]
    n_words, n_sent = len(kept), len(lengths)
    by_sent = np.lexsort((pair_word, pair_sent))
    word_tok = [t for _, w in kept for t in word_keys[w]]
    arrays = {
        "tokens": np.asarray(tokens, dtype=np.int32),
        "sent_ptr": np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
        "word_tok": np.asarray(word_tok, dtype=np.int32),
        "word_tok_ptr": np.concatenate(
            [[0], np.cumsum([len(word_keys[w]) for _, w in kept])]
        ).astype(np.int64),
        "word_ptr": _csr_ptr(pair_word, n_words),
        "pair_sent": pair_sent.astype(np.int32),
        "pair_ptr": np.concatenate([np.flatnonzero(new_pair), [len(occ)]]).astype(np.int64),
        "occ_start": occ[:, 2].astype(np.int32),
        "occ_end": occ[:, 3].astype(np.int32),
        "sent_words": pair_word[by_sent].astype(np.int32),
        "sent_word_ptr": _csr_ptr(pair_sent, n_sent),
    }
    stats = {
        "sentences": n_sent, "truncated": truncated, "tokens": len(tokens),
        "distinct_words": len(word_keys), "in_count_range": int(in_range.sum()),
        "eligible_words": n_words, "max_length": max_length,
        "build_s": round(time.perf_counter() - t0, 3),
    }  # fmt: skip
    return SMLMTIndex([s for s, _ in kept], arrays, stats)
