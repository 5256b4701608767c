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

    dm = SMLMTDataModule(SMLMTText(texts=("wordnet",)), EpisodeShape(n_way=5, k_shot=5, q_query=5))
    dm.setup("fit")
    ep = dm.provider.episode("train", 0)   # Episode(task_source="smlmt", class_names=words)
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import Any, Literal

from lightning_meta.data.config import (
    EpisodeShape,
    EpisodeStream,
    Source,
    Tokenization,
    as_group,
    grouped_errors,
    plain_hparams,
)
from lightning_meta.data.heldout import STANDARD_SPLITS, ClassSplit
from lightning_meta.data.in_memory import describe_tables, is_table
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

    texts: tuple[Source, ...] = ("wordnet",)
    """Raw-text sources: ``wordnet``, ``fortunes``, text files/directories/globs, table files
    or labelled sources (their ``text_column``); from Python also a ``pandas.DataFrame`` or
    ``datasets.Dataset``."""
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
    heldout_text: Literal["train_classes", "all"] = "train_classes"
    """``wordnet``/``fortunes`` text: ``train_classes`` keeps only the texts of the classes a
    labelled experiment on the same source trains on, so its validation and test classes stay
    unseen (held out means held out); ``all`` reads every text (only when that corpus is no
    few-shot target)."""
    class_splits: dict[str, ClassSplit] | None = None
    """Per built-in corpus, the class split whose train classes' texts are read (null: the
    split every shipped config uses, ``lightning_meta.data.heldout.STANDARD_SPLITS``; the hybrid
    DataModule sets its labelled family's split here)."""

    def heldout(self) -> dict[str, ClassSplit | None]:
        """What :func:`load_raw_texts` keeps of each labelled built-in."""
        if self.heldout_text == "all":
            return {}
        return {**STANDARD_SPLITS, **(self.class_splits or {})}

    def normalised(self) -> SMLMTText:
        """Lists (from YAML or a checkpoint) as tuples; one ``texts`` string as a 1-tuple."""
        one = isinstance(self.texts, str) or is_table(self.texts)
        texts = (self.texts,) if one else tuple(self.texts)
        a, b, c = self.split_fractions
        return replace(self, texts=texts, split_fractions=(a, b, c))

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
    texts, _ = load_raw_texts(
        text.texts, text.text_unit, text.text_column, cache_dir, heldout=text.heldout()
    )
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


def check_max_length(max_length: int) -> None:
    if max_length < 16:
        raise ConfigError(
            f"tokens.max_length: must be >= 16 for masked sentences (got {max_length})"
        )


SMLMT_SHAPE = EpisodeShape(q_query=5)
"""Default task shape of the SMLMT and hybrid DataModules (5 queries per word)."""
GROUPS = {
    "smlmt": SMLMTText,
    "shape": EpisodeShape,
    "stream": EpisodeStream,
    "tokens": Tokenization,
}


class SMLMTDataModule(TaskDataModule):
    """N-way masked-word classification tasks from unlabelled text (Bansal et al., 2020)."""

    def __init__(
        self,
        smlmt: SMLMTText = SMLMTText(),
        shape: EpisodeShape = SMLMT_SHAPE,
        stream: EpisodeStream = EpisodeStream(),
        tokens: Tokenization = Tokenization(),
    ) -> None:
        """
        Args:
            smlmt: raw-text sources, the words that may be masked and the word split.
            shape: words (classes) per task, support and query sentences per word (the same
                for every split: eval_k_shot/eval_q_query must stay null).
            stream: meta-batch size, tasks per split (val/test: held-out words), task seed,
                loader workers.
            tokens: tokenizer (must have a mask token; 'minilm' default), max_length (longer
                sentences are cut at a word boundary), cache of the word index.
        """
        super().__init__(stream=stream)
        self.save_hyperparameters()
        plain_hparams(self)
        describe_tables(self)  # in-memory texts are described, not stored
        text = as_group(SMLMTText, smlmt, "smlmt")
        shape = as_group(EpisodeShape, shape, "shape", SMLMT_SHAPE)
        tokens = as_group(Tokenization, tokens, "tokens")
        shape.validate(evaluation=False)
        check_max_length(tokens.max_length)
        self.text = text.normalised()
        with grouped_errors("", GROUPS):
            self.text.filter.validate()
        resolve_pretrained(tokens.tokenizer, field="tokens.tokenizer")
        self.shape, self.tokens = shape, tokens
        self.n_way, self.k_shot, self.q_query = shape.n_way, shape.k_shot, shape.q_query
        self.max_length, self.tokenizer = tokens.max_length, tokens.tokenizer
        self.cache_dir = tokens.cache_dir
        self.builder: SMLMTTaskBuilder | None = None
        self._index: SMLMTIndex | None = None

    def build(self) -> SMLMTTaskBuilder:
        with grouped_errors("", GROUPS):
            return build_smlmt(
                self.text, n_way=self.n_way, k_shot=self.k_shot, q_query=self.q_query,
                max_length=self.max_length, tokenizer=self.tokenizer, seed=self.seed,
                cache_dir=self.cache_dir,
            )  # fmt: skip

    def prepare_data(self) -> None:
        """Build (or find) the cached word index once, on the main process."""
        with grouped_errors("", GROUPS):
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
            with grouped_errors("", GROUPS):
                _, self._index = load_index(self.text, max_length=self.max_length,
                                            tokenizer=self.tokenizer, cache_dir=self.cache_dir)  # fmt: skip
        return self._index
