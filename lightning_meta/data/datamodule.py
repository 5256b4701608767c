"""``EpisodicDataModule``: few-shot episodes from any labelled text source.

source -> clean -> tokenise once (cached) -> meta-splits -> :class:`EpisodeSampler`, served by
the loaders of :class:`~lightning_meta.data.stream.TaskDataModule` (meta-batches, DDP ranks,
resume; see that module for the stream semantics and the extension point for other task
providers). Every field is checked in ``__init__``; errors that need the data (too few classes
or examples per split, empty after cleaning, missing columns) come from ``prepare_data`` /
``setup`` before any tokenisation.
"""

from __future__ import annotations

import math
import warnings
from typing import Literal

import numpy as np

from lightning_meta.data.config import (
    DATA_GROUPS,
    EpisodeShape,
    EpisodeStream,
    Source,
    Tokenization,
    as_group,
    grouped_errors,
    plain_hparams,
)
from lightning_meta.data.in_memory import describe_tables
from lightning_meta.data.sampler import EpisodeSampler, eligible_classes
from lightning_meta.data.sources import SourceSpec
from lightning_meta.data.splits import SPLITS, SplitPlan, make_splits
from lightning_meta.data.stream import TaskDataModule
from lightning_meta.data.tokens import TokenizedCorpus, load_tokenized
from lightning_meta.errors import ConfigError
from lightning_meta.resolve import resolve_pretrained

SplitMode = Literal["auto", "classes", "examples"]
GROUPS = DATA_GROUPS


class EpisodicDataModule(TaskDataModule):
    """N-way K-shot text classification episodes with class-disjoint (or example-disjoint)
    train/val/test splits."""

    def __init__(
        self,
        source: Source = "wordnet",
        data_files: list[str] | None = None,
        text_column: str = "text",
        label_column: str = "label",
        config_name: str | None = None,
        hub_split: str = "train",
        split_fractions: tuple[float, float, float] = (0.6, 0.2, 0.2),
        train_classes: list[str] | None = None,
        val_classes: list[str] | None = None,
        test_classes: list[str] | None = None,
        split_mode: SplitMode = "auto",
        split_seed: int = 0,
        shape: EpisodeShape = EpisodeShape(),
        stream: EpisodeStream = EpisodeStream(),
        tokens: Tokenization = Tokenization(),
    ) -> None:
        """
        Args:
            source: built-in corpus (wordnet, fortunes, sentiment:movie|amazon|tweets|nyt),
                ``files`` (with data_files) or a path to one file, a Hugging Face hub name, or
                (from Python) a ``pandas.DataFrame`` / ``datasets.Dataset``.
            data_files: local csv/tsv/json/jsonl/parquet files (one format).
            text_column: column holding the text (files and hub sources).
            label_column: column holding the class label (files and hub sources).
            config_name: hub dataset config (e.g. ``sst2`` of ``glue``).
            hub_split: hub split to load (e.g. ``train``).
            split_fractions: train/val/test shares of the classes (or of each class's examples
                in ``examples`` mode); positive, summing to 1.
            train_classes: explicit train class names (forces class-disjoint splits).
            val_classes: explicit validation class names.
            test_classes: explicit test class names.
            split_mode: ``classes`` (class-disjoint), ``examples`` (example-disjoint pools over
                the same classes) or ``auto``: classes when every split gets >= n_way classes.
            split_seed: seed of the class/example split (kept apart from ``stream.seed`` so
                runs with different seeds share one split).
            shape: classes per episode and support/query examples per class.
            stream: meta-batch size, episodes per split, episode seed, loader workers.
            tokens: tokenizer, max_length and cache directory.
        """
        super().__init__(stream=stream)
        self.save_hyperparameters()
        plain_hparams(self)
        describe_tables(self)  # an in-memory source is described, not stored
        shape = as_group(EpisodeShape, shape, "shape")
        tokens = as_group(Tokenization, tokens, "tokens")
        shape.validate()
        if tokens.max_length < 2:
            raise ConfigError(f"tokens.max_length: must be >= 2 (got {tokens.max_length})")
        fr = tuple(float(f) for f in split_fractions)
        if len(fr) != 3 or min(fr) <= 0 or not math.isclose(sum(fr), 1.0, abs_tol=1e-6):
            raise ConfigError(
                f"split_fractions: need three positive train/val/test fractions summing to 1 (got {list(fr)})"
            )
        if split_mode not in ("auto", "classes", "examples"):
            raise ConfigError(f"split_mode: '{split_mode}' is not one of auto, classes, examples")
        self.spec = SourceSpec(
            source=source,
            data_files=tuple(data_files or ()),
            text_column=text_column,
            label_column=label_column,
            config_name=config_name,
            hub_split=hub_split,
        )
        self.spec.validate()
        resolve_pretrained(tokens.tokenizer, field="tokens.tokenizer")
        self.split_fractions = fr
        self.class_lists = (train_classes, val_classes, test_classes)
        self.split_mode: str = split_mode
        self.split_seed = split_seed
        self.shape, self.tokens = shape, tokens
        self.n_way, self.k_shot, self.q_query = shape.n_way, shape.k_shot, shape.q_query
        self.eval_k_shot, self.eval_q_query = shape.eval_k_shot, shape.eval_q_query
        self.max_length, self.tokenizer = tokens.max_length, tokens.tokenizer
        self.cache_dir = tokens.cache_dir
        self.corpus: TokenizedCorpus | None = None
        self.plan: SplitPlan | None = None
        self.sampler: EpisodeSampler | None = None

    def make_plan(self, labels: np.ndarray, class_names: list[str]) -> SplitPlan:
        with grouped_errors("", GROUPS):
            return make_splits(
                labels,
                class_names,
                fractions=self.split_fractions,
                class_lists=self.class_lists,
                mode=self.split_mode,
                n_way=self.n_way,
                seed=self.split_seed,
            )

    def _precheck(self, labels: np.ndarray, class_names: list[str]) -> None:
        """Split/shape errors from labels alone, before tokenising (warnings come in setup)."""
        plan = self.make_plan(labels, class_names)
        with warnings.catch_warnings(), grouped_errors("", GROUPS):
            warnings.simplefilter("ignore")
            for split in SPLITS:
                k, q = self.shape.shots(split)
                fields = (
                    ("eval_k_shot", "eval_q_query")
                    if split != "train" and self.eval_k_shot
                    else ("k_shot", "q_query")
                )
                eligible_classes(plan, class_names, split, self.n_way, k, q, fields)

    def load_corpus(self) -> TokenizedCorpus:
        """The tokenised corpus (built and cached on first use)."""
        with grouped_errors("", GROUPS):
            return load_tokenized(
                self.spec,
                tokenizer=self.tokenizer,
                max_length=self.max_length,
                cache_dir=self.cache_dir,
                precheck=self._precheck,
            )

    def prepare_data(self) -> None:
        self.load_corpus()

    def setup(self, stage: str | None = None) -> None:
        if self.sampler is not None:
            return
        corpus = self.load_corpus()
        plan = self.make_plan(corpus.labels, corpus.class_names)
        self.corpus, self.plan = corpus, plan
        with grouped_errors("", GROUPS):
            self.sampler = EpisodeSampler(
                corpus,
                plan,
                n_way=self.n_way,
                k_shot=self.k_shot,
                q_query=self.q_query,
                eval_k_shot=self.eval_k_shot,
                eval_q_query=self.eval_q_query,
                seed=self.seed,
                source=self.spec.name,
            )
        self.provider = self.sampler
