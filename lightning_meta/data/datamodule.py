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

from lightning_meta.data.sampler import EpisodeSampler, eligible_classes
from lightning_meta.data.sources import SourceSpec
from lightning_meta.data.splits import SPLITS, SplitPlan, make_splits
from lightning_meta.data.stream import TaskDataModule
from lightning_meta.data.tokens import TokenizedCorpus, load_tokenized
from lightning_meta.errors import ConfigError
from lightning_meta.resolve import resolve_pretrained

SplitMode = Literal["auto", "classes", "examples"]


class EpisodicDataModule(TaskDataModule):
    """N-way K-shot text classification episodes with class-disjoint (or example-disjoint)
    train/val/test splits."""

    def __init__(
        self,
        source: str = "wordnet",
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
        n_way: int = 5,
        k_shot: int = 5,
        q_query: int = 15,
        eval_k_shot: int | None = None,
        eval_q_query: int | None = None,
        meta_batch_size: int = 4,
        train_episodes: int = 1000,
        val_episodes: int = 100,
        test_episodes: int = 200,
        max_length: int = 64,
        tokenizer: str = "minilm",
        seed: int = 0,
        num_workers: int = 0,
        cache_dir: str | None = None,
    ) -> None:
        """
        Args:
            source: built-in corpus (wordnet, fortunes, sentiment:movie|amazon|tweets|nyt),
                ``files`` (with data_files) or a path to one file, or a Hugging Face hub name.
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
            split_seed: seed of the class/example split (kept apart from ``seed`` so runs with
                different seeds share one split).
            n_way: classes per episode.
            k_shot: support examples per class.
            q_query: query examples per class.
            eval_k_shot: k_shot for val/test episodes (default: k_shot).
            eval_q_query: q_query for val/test episodes (default: q_query).
            meta_batch_size: episodes per optimisation step (over all DDP ranks together).
            train_episodes: train episodes per epoch.
            val_episodes: fixed validation episodes.
            test_episodes: fixed test episodes.
            max_length: tokens per text after truncation (special tokens included).
            tokenizer: tokenizer name or directory (``minilm`` = offline default).
            seed: seed of the episode stream: (seed, split, index) fixes every episode.
            num_workers: DataLoader worker processes.
            cache_dir: cache root (default ``$LIGHTNING_META_CACHE`` or ~/.cache/lightning_meta).
        """
        super().__init__(
            meta_batch_size=meta_batch_size,
            train_episodes=train_episodes,
            val_episodes=val_episodes,
            test_episodes=test_episodes,
            num_workers=num_workers,
        )
        self.save_hyperparameters()
        for name, value in (("n_way", n_way), ("k_shot", k_shot), ("q_query", q_query)):
            if value <= 0:
                raise ConfigError(f"{name}: must be a positive integer (got {value})")
        for name, opt in (("eval_k_shot", eval_k_shot), ("eval_q_query", eval_q_query)):
            if opt is not None and opt <= 0:
                raise ConfigError(f"{name}: must be a positive integer or null (got {opt})")
        if n_way < 2:
            raise ConfigError(f"n_way: must be >= 2 for classification (got {n_way})")
        if max_length < 2:
            raise ConfigError(f"max_length: must be >= 2 (got {max_length})")
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
        resolve_pretrained(tokenizer, field="tokenizer")
        self.split_fractions = fr
        self.class_lists = (train_classes, val_classes, test_classes)
        self.split_mode: str = split_mode
        self.split_seed, self.seed = split_seed, seed
        self.n_way, self.k_shot, self.q_query = n_way, k_shot, q_query
        self.eval_k_shot, self.eval_q_query = eval_k_shot, eval_q_query
        self.max_length, self.tokenizer, self.cache_dir = max_length, tokenizer, cache_dir
        self.corpus: TokenizedCorpus | None = None
        self.plan: SplitPlan | None = None
        self.sampler: EpisodeSampler | None = None

    def make_plan(self, labels: np.ndarray, class_names: list[str]) -> SplitPlan:
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
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for split in SPLITS:
                is_eval = split != "train"
                k = self.eval_k_shot if is_eval and self.eval_k_shot else self.k_shot
                q = self.eval_q_query if is_eval and self.eval_q_query else self.q_query
                fields = (
                    ("eval_k_shot", "eval_q_query")
                    if is_eval and self.eval_k_shot
                    else ("k_shot", "q_query")
                )
                eligible_classes(plan, class_names, split, self.n_way, k, q, fields)

    def load_corpus(self) -> TokenizedCorpus:
        """The tokenised corpus (built and cached on first use)."""
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
