"""Self-supervised meta-pretraining data: SMLMT tasks from unlabelled text as a DataModule.

raw text (:mod:`~lightning_meta.data.rawtext`) -> word index, built once and cached
(:mod:`~lightning_meta.data.smlmt_index`) -> masked-word tasks
(:mod:`~lightning_meta.data.smlmt_tasks`) -> the loaders of
:class:`~lightning_meta.data.stream.TaskDataModule` (the same meta-batch / DDP / resume
machinery as the labelled :class:`~lightning_meta.data.datamodule.EpisodicDataModule`), so
every algorithm trains on it unchanged: train batches are ``list[Episode]`` of
``meta_batch_size`` tasks, val/test batches are ``[Episode]`` of fixed tasks.

Validation and test tasks mask held-out words (word-disjoint splits): they measure whether the
initialisation learns to learn new words, not whether it memorised the training words.

Example::

    dm = SMLMTDataModule(texts=("wordnet",), n_way=5, k_shot=5, q_query=5)
    dm.setup("fit")
    ep = dm.provider.episode("train", 0)   # Episode(task_source="smlmt", class_names=words)
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Literal

from lightning_meta.data.rawtext import TextUnit, load_raw_texts
from lightning_meta.data.smlmt_index import (
    SMLMTIndex,
    VocabFilter,
    load_or_build_index,
    special_frame,
)
from lightning_meta.data.smlmt_tasks import SMLMTTaskBuilder, split_words, usable_words
from lightning_meta.data.stream import TaskDataModule
from lightning_meta.errors import ConfigError
from lightning_meta.resolve import resolve_pretrained

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SMLMTText:
    """Where SMLMT text comes from and which words may be masked."""

    texts: tuple[str, ...] = ("wordnet",)
    """Raw-text sources: ``wordnet``, ``fortunes``, text files/directories/globs, table files
    or labelled sources (their ``text_column``)."""
    text_unit: TextUnit = "line"
    """Text files: one example per ``line`` or per blank-line-separated ``paragraph``."""
    text_column: str = "text"
    """Column read from table files and labelled sources."""
    min_count: int = 1
    """Keep words found in at least this many sentences."""
    max_count: int | None = None
    """Drop words found in more than this many sentences (null: no limit)."""
    exclude_stopwords: bool = True
    """Never mask common English function words."""
    alpha_only: bool = True
    """Never mask punctuation, numbers or mixed tokens (alphabetic words only)."""
    min_length: int = 3
    """Minimum characters of a masked word."""
    split_fractions: tuple[float, float, float] = (0.8, 0.1, 0.1)
    """Train/val/test shares of the words (word-disjoint splits)."""
    split_seed: int = 0
    """Seed of the word split (apart from ``seed`` so runs with different seeds share it)."""

    @property
    def filter(self) -> VocabFilter:
        return VocabFilter(
            self.min_count, self.max_count, self.exclude_stopwords, self.alpha_only,
            self.min_length,
        )  # fmt: skip


def load_mask_tokenizer(name: str) -> Any:
    """A fast tokenizer with a mask token, or a one-line ConfigError saying what to use."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(resolve_pretrained(name, field="tokenizer"))
    if tok.mask_token is None or tok.mask_token_id is None:
        raise ConfigError(
            f"tokenizer: '{name}' has no mask token, which SMLMT needs to hide the word; use a "
            f"masked-LM tokenizer (e.g. 'minilm', BERT's [MASK]) or add one with "
            f"tokenizer.add_special_tokens({{'mask_token': '[MASK]'}}) and save it"
        )
    if tok.pad_token_id is None:
        raise ConfigError(f"tokenizer: '{name}' has no pad token; set tokenizer.pad_token")
    return tok


def load_index(
    text: SMLMTText, *, max_length: int, tokenizer: str, cache_dir: str | None
) -> tuple[Any, SMLMTIndex]:
    """Tokenizer check -> texts -> the cached word index (built on first use)."""
    text.filter.validate()
    tok = load_mask_tokenizer(tokenizer)
    texts, _ = load_raw_texts(text.texts, text.text_unit, text.text_column, cache_dir)
    return tok, load_or_build_index(texts, tok, text.filter, max_length, cache_dir)


def build_smlmt(
    text: SMLMTText,
    *,
    n_way: int,
    k_shot: int,
    q_query: int,
    max_length: int,
    tokenizer: str,
    seed: int,
    cache_dir: str | None,
    splits: tuple[str, ...] = ("train", "val", "test"),
) -> SMLMTTaskBuilder:
    """Cached word index -> word splits -> task builder."""
    tok, index = load_index(text, max_length=max_length, tokenizer=tokenizer, cache_dir=cache_dir)
    if len(index.words) < n_way:
        raise ConfigError(
            f"n_way: the texts have only {len(index.words)} distinct eligible words (< {n_way}); "
            f"lower n_way, relax min_count/max_count/min_length/exclude_stopwords, or add text"
        )
    by_split = split_words(index, text.split_fractions, text.split_seed)
    words = {s: usable_words(index, by_split[s], s, n_way, k_shot, q_query) for s in splits}
    return SMLMTTaskBuilder(
        index, words, n_way=n_way, k_shot=k_shot, q_query=q_query, seed=seed,
        mask_id=int(tok.mask_token_id), pad_id=int(tok.pad_token_id), frame=special_frame(tok),
    )  # fmt: skip


def check_shape(n_way: int, k_shot: int, q_query: int, max_length: int) -> None:
    for name, value in (("n_way", n_way), ("k_shot", k_shot), ("q_query", q_query)):
        if value <= 0:
            raise ConfigError(f"{name}: must be a positive integer (got {value})")
    if n_way < 2:
        raise ConfigError(f"n_way: must be >= 2 for classification (got {n_way})")
    if max_length < 16:
        raise ConfigError(f"max_length: must be >= 16 for masked sentences (got {max_length})")


class SMLMTDataModule(TaskDataModule):
    """N-way masked-word classification tasks from unlabelled text (Bansal et al., 2020)."""

    def __init__(
        self,
        texts: tuple[str, ...] = ("wordnet",),
        text_unit: Literal["line", "paragraph"] = "line",
        text_column: str = "text",
        min_count: int = 1,
        max_count: int | None = None,
        exclude_stopwords: bool = True,
        alpha_only: bool = True,
        min_length: int = 3,
        split_fractions: tuple[float, float, float] = (0.8, 0.1, 0.1),
        split_seed: int = 0,
        n_way: int = 5,
        k_shot: int = 5,
        q_query: int = 5,
        meta_batch_size: int = 4,
        train_episodes: int = 1000,
        val_episodes: int = 100,
        test_episodes: int = 200,
        max_length: int = 64,
        tokenizer: str = "minilm",
        seed: int = 0,
        cache_dir: str | None = None,
        num_workers: int = 0,
    ) -> None:
        """
        Args:
            texts: raw-text sources: ``wordnet`` (glosses and their quoted examples),
                ``fortunes``, text files / directories of *.txt / globs, table files
                (csv/tsv/json/jsonl/parquet) or labelled sources, whose ``text_column`` is used.
            text_unit: text files: one example per ``line`` or per blank-line ``paragraph``.
            text_column: column read from table files and labelled sources.
            min_count: keep words found in at least this many sentences.
            max_count: drop words found in more than this many sentences (null: no limit).
            exclude_stopwords: never mask common English function words.
            alpha_only: never mask punctuation, numbers or mixed tokens.
            min_length: minimum characters of a masked word.
            split_fractions: train/val/test shares of the words (word-disjoint splits).
            split_seed: seed of the word split.
            n_way: words (classes) per task.
            k_shot: support sentences per word.
            q_query: query sentences per word.
            meta_batch_size: tasks per optimisation step (over all DDP ranks together).
            train_episodes: train tasks per epoch.
            val_episodes: fixed validation tasks (held-out words).
            test_episodes: fixed test tasks (held-out words).
            max_length: tokens per sentence (special tokens included); longer sentences are cut
                at a word boundary.
            tokenizer: tokenizer name or directory; must have a mask token ('minilm' default).
            seed: seed of the task stream: (seed, split, index) fixes every task.
            cache_dir: cache root for the word index (default $LIGHTNING_META_CACHE or
                ~/.cache/lightning_meta).
            num_workers: DataLoader worker processes.
        """
        super().__init__(
            meta_batch_size=meta_batch_size,
            train_episodes=train_episodes,
            val_episodes=val_episodes,
            test_episodes=test_episodes,
            num_workers=num_workers,
        )
        self.save_hyperparameters()
        check_shape(n_way, k_shot, q_query, max_length)
        if isinstance(texts, str):
            texts = (texts,)
        self.text = SMLMTText(
            tuple(texts), text_unit, text_column, min_count, max_count, exclude_stopwords,
            alpha_only, min_length, tuple(split_fractions), split_seed,  # type: ignore[arg-type]
        )  # fmt: skip
        self.text.filter.validate()
        resolve_pretrained(tokenizer, field="tokenizer")
        self.n_way, self.k_shot, self.q_query = n_way, k_shot, q_query
        self.max_length, self.tokenizer, self.seed = max_length, tokenizer, seed
        self.cache_dir = cache_dir
        self.builder: SMLMTTaskBuilder | None = None
        self._index: SMLMTIndex | None = None

    def build(self) -> SMLMTTaskBuilder:
        return build_smlmt(
            self.text, n_way=self.n_way, k_shot=self.k_shot, q_query=self.q_query,
            max_length=self.max_length, tokenizer=self.tokenizer, seed=self.seed,
            cache_dir=self.cache_dir,
        )  # fmt: skip

    def prepare_data(self) -> None:
        """Build (or find) the cached word index once, on the main process."""
        load_index(self.text, max_length=self.max_length, tokenizer=self.tokenizer,
                   cache_dir=self.cache_dir)  # fmt: skip

    def setup(self, stage: str | None = None) -> None:
        if self.builder is None:
            self.builder = self.build()
        self.provider = self.builder

    @property
    def index(self) -> SMLMTIndex:
        """The word index (built or loaded on first access; no task settings needed)."""
        if self.builder is not None:
            return self.builder.index
        if self._index is None:
            _, self._index = load_index(self.text, max_length=self.max_length,
                                        tokenizer=self.tokenizer, cache_dir=self.cache_dir)  # fmt: skip
        return self._index
