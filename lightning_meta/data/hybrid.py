"""Hybrid meta-training: each task comes from SMLMT or from a labelled source, mixed by rule.

Train task ``index`` first draws its family from ``np.random.default_rng([seed, salt,
index])`` with the mixing probabilities, then asks that family's provider for its own task
``index``; so the stream is still a pure function of ``(seed, index)`` and DDP / resume work
through the shared :class:`~lightning_meta.data.stream.TaskDataModule` loaders.

Mixing (``mixing``), over the families ``[smlmt, labelled[0], labelled[1], ...]``:

- ``fixed``: ``weights`` as given (normalised);
- ``proportional``: to each family's size, its train classes (SMLMT: words) or train
  examples (SMLMT: word-sentence pairs), ``size_by``;
- ``temperature``: ``size ** (1 / temperature)``, normalised (1 = proportional, larger flattens
  towards uniform).

Validation and test tasks come from one family (``eval_on``): by default the first labelled
source (the target the pretraining is for), else SMLMT's held-out words.

Counts: every train episode carries ``task_source`` (its family); :meth:`HybridDataModule.
task_counts` recomputes how many train tasks of the stream so far came from each family (exact
under workers and DDP), and ``provider.served`` counts the tasks built in this process.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np

from lightning_meta.data.config import (
    EpisodeShape,
    EpisodeStream,
    Source,
    Tokenization,
    as_group,
    grouped_errors,
    plain_hparams,
)
from lightning_meta.data.datamodule import EpisodicDataModule
from lightning_meta.data.episode import Episode
from lightning_meta.data.heldout import STANDARD_SPLITS, ClassSplit
from lightning_meta.data.in_memory import describe_tables
from lightning_meta.data.smlmt import (
    GROUPS,
    SMLMT_SHAPE,
    SMLMTText,
    build_smlmt,
    check_max_length,
    load_index,
)
from lightning_meta.data.smlmt_tasks import TASK_SOURCE
from lightning_meta.data.stream import TaskDataModule, TaskProvider
from lightning_meta.errors import ConfigError
from lightning_meta.resolve import resolve_pretrained

log = logging.getLogger(__name__)
_MIX_SALT = 0x4B1D
Mixing = Literal["fixed", "proportional", "temperature"]


@dataclass(frozen=True)
class LabelledSource:
    """One labelled task family (fields as in :class:`EpisodicDataModule`)."""

    source: Source = "wordnet"
    """Built-in corpus, ``files`` (with data_files), a file path, a hub name, or (from Python)
    a ``pandas.DataFrame`` / ``datasets.Dataset``."""
    data_files: tuple[str, ...] = ()
    """Local csv/tsv/json/jsonl/parquet files."""
    text_column: str = "text"
    """Column holding the text."""
    label_column: str = "label"
    """Column holding the class label."""
    split_fractions: tuple[float, float, float] = (0.6, 0.2, 0.2)
    """Train/val/test shares of the classes."""
    split_mode: Literal["auto", "classes", "examples"] = "auto"
    """Class-disjoint, example-disjoint, or auto."""
    split_seed: int = 0
    """Seed of the class split."""


def labelled_class_splits(labelled: list[LabelledSource]) -> dict[str, ClassSplit]:
    """The class split of each labelled built-in family (wordnet, fortunes): SMLMT text from the
    same corpus keeps only those train classes' texts, so the families' validation and test
    classes stay unseen. Only class-disjoint splits can be honoured this way."""
    out: dict[str, ClassSplit] = {}
    for i, s in enumerate(labelled):
        if not isinstance(s.source, str) or s.source not in STANDARD_SPLITS:
            continue
        if s.split_mode == "examples":
            raise ConfigError(
                f"labelled.{i}.split_mode: 'examples' splits the texts of {s.source}'s classes, "
                f"which SMLMT text from {s.source} would then contain; use split_mode: classes "
                f"(or smlmt.heldout_text: all if {s.source} is no few-shot target)"
            )
        out[s.source] = ClassSplit(tuple(s.split_fractions), s.split_seed)  # type: ignore[arg-type]
    return out


def mixing_probs(
    sizes: list[float], mixing: str, weights: list[float] | None, temperature: float
) -> np.ndarray:
    """Probability of each family, (F,)."""
    if mixing == "fixed":
        if weights is None or len(weights) != len(sizes):
            raise ConfigError(
                f"weights: mixing 'fixed' needs {len(sizes)} weights (smlmt first, then each "
                f"labelled source); got {weights}"
            )
        w = np.asarray(weights, dtype=float)
    elif mixing == "proportional":
        w = np.asarray(sizes, dtype=float)
    elif mixing == "temperature":
        if not temperature > 0:
            raise ConfigError(f"temperature: must be > 0 (got {temperature}); e.g. 2.0")
        w = np.asarray(sizes, dtype=float) ** (1.0 / temperature)
    else:
        raise ConfigError(f"mixing: '{mixing}' is not one of fixed, proportional, temperature")
    if (w < 0).any() or not w.sum() > 0:
        raise ConfigError(f"weights: need non-negative weights with a positive sum (got {list(w)})")
    return w / w.sum()


class HybridProvider:
    """Task provider that routes each train task to a family drawn from (seed, index)."""

    def __init__(
        self, families: dict[str, TaskProvider], probs: np.ndarray, seed: int, eval_on: str
    ) -> None:
        self.families, self.names = families, list(families)
        self.cum = np.cumsum(probs)
        self.cum[-1] = 1.0
        self.seed, self.eval_on = seed, eval_on
        self.served: Counter[str] = Counter()
        """Tasks built by this process per family (train, val and test)."""
        self._memo = np.zeros(0, dtype=np.int64)

    def family(self, index: int) -> int:
        u = np.random.default_rng([self.seed, _MIX_SALT, index]).random()
        return int(np.searchsorted(self.cum, u, side="right"))

    def families_of(self, n: int) -> np.ndarray:
        """Family of train tasks 0..n-1, (n,) (memoised)."""
        if n > len(self._memo):
            more = [self.family(i) for i in range(len(self._memo), n)]
            self._memo = np.concatenate([self._memo, np.asarray(more, dtype=np.int64)])
        return self._memo[:n]

    def episode(self, split: str, index: int) -> Episode:
        name = self.names[self.family(index)] if split == "train" else self.eval_on
        ep = self.families[name].episode(split, index)
        ep.task_source = name
        self.served[name] += 1
        return ep


class HybridDataModule(TaskDataModule):
    """Meta-training tasks mixed from SMLMT (unlabelled text) and labelled sources."""

    def __init__(
        self,
        use_smlmt: bool = True,
        smlmt: SMLMTText | None = None,
        labelled: list[LabelledSource] | None = None,
        mixing: Mixing = "temperature",
        weights: list[float] | None = None,
        size_by: Literal["classes", "examples"] = "classes",
        temperature: float = 2.0,
        eval_on: Literal["labelled", "smlmt"] = "labelled",
        shape: EpisodeShape = SMLMT_SHAPE,
        stream: EpisodeStream = EpisodeStream(),
        tokens: Tokenization = Tokenization(),
    ) -> None:
        """
        Args:
            use_smlmt: draw tasks from SMLMT at all (false: labelled families only).
            smlmt: SMLMT texts and word filters (null: the defaults, WordNet glosses).
            labelled: labelled task families (default: one, WordNet lexicographer classes).
            mixing: 'fixed' (weights), 'proportional' (to size) or 'temperature'.
            weights: fixed mixing weights, smlmt first then each labelled source.
            size_by: family size for proportional/temperature: train 'classes' or 'examples'.
            temperature: p ~ size ** (1/temperature); 1 = proportional, large = uniform.
            eval_on: family of val/test tasks: the first 'labelled' source or 'smlmt'.
            shape: classes per task (every family), support and query examples per class (the
                same for every split: eval_k_shot/eval_q_query must stay null).
            stream: meta-batch size, tasks per split, seed of the task stream and of the
                family draws, loader workers.
            tokens: tokenizer (must have a mask token when smlmt is used), max_length, cache.
        """
        super().__init__(stream=stream)
        self.save_hyperparameters()
        plain_hparams(self)
        describe_tables(self)  # in-memory sources are described, not stored
        shape = as_group(EpisodeShape, shape, "shape", SMLMT_SHAPE)
        tokens = as_group(Tokenization, tokens, "tokens")
        shape.validate(evaluation=False)
        check_max_length(tokens.max_length)
        resolve_pretrained(tokens.tokenizer, field="tokens.tokenizer")
        text = as_group(SMLMTText, smlmt, "smlmt").normalised()
        self.smlmt = text if use_smlmt else None
        self.labelled = [LabelledSource()] if labelled is None else [
            as_group(LabelledSource, s, f"labelled.{i}") for i, s in enumerate(labelled)
        ]  # fmt: skip
        if self.smlmt is not None:
            with grouped_errors("", {"smlmt": SMLMTText}):
                self.smlmt.filter.validate()
            self.smlmt = replace(self.smlmt, class_splits=labelled_class_splits(self.labelled))
        if eval_on == "labelled" and not self.labelled:
            raise ConfigError("eval_on: 'labelled' needs a labelled source; add one or use smlmt")
        if eval_on == "smlmt" and self.smlmt is None:
            raise ConfigError("eval_on: 'smlmt' needs smlmt texts; set smlmt or eval_on: labelled")
        if not self.labelled and self.smlmt is None:
            raise ConfigError("labelled: no task family; give smlmt texts or labelled sources")
        n_fam = len(self.labelled) + (self.smlmt is not None)
        if mixing == "fixed":
            mixing_probs([1.0] * n_fam, mixing, weights, temperature)  # shape check, early
        self.mixing, self.weights, self.size_by = mixing, weights, size_by
        self.temperature, self.eval_on = temperature, eval_on
        self.shape, self.tokens = shape, tokens
        self.n_way, self.k_shot, self.q_query = shape.n_way, shape.k_shot, shape.q_query
        self.max_length, self.tokenizer = tokens.max_length, tokens.tokenizer
        self.cache_dir = tokens.cache_dir
        self.labelled_modules = [self._labelled_module(s) for s in self.labelled]
        self.hybrid: HybridProvider | None = None

    def _labelled_module(self, s: LabelledSource) -> EpisodicDataModule:
        return EpisodicDataModule(
            source=s.source, data_files=list(s.data_files) or None, text_column=s.text_column,
            label_column=s.label_column, split_fractions=s.split_fractions,
            split_mode=s.split_mode, split_seed=s.split_seed, shape=self.shape,
            stream=self.stream, tokens=self.tokens,
        )  # fmt: skip

    def _families(self) -> tuple[dict[str, TaskProvider], list[float]]:
        families: dict[str, TaskProvider] = {}
        sizes: list[float] = []
        if self.smlmt is not None:
            b = build_smlmt(
                self.smlmt, n_way=self.n_way, k_shot=self.k_shot, q_query=self.q_query,
                max_length=self.max_length, tokenizer=self.tokenizer, seed=self.seed,
                cache_dir=self.cache_dir,
            )  # fmt: skip
            train = b.words["train"]
            by_examples = int(b.index.counts[train].sum())
            families[TASK_SOURCE] = b
            sizes.append(len(train) if self.size_by == "classes" else by_examples)
        for dm in self.labelled_modules:
            dm.setup("fit")
            assert dm.sampler is not None and dm.plan is not None and dm.corpus is not None
            keep = set(dm.sampler.classes("train"))
            names = dm.corpus.class_names
            pools = dm.plan.pools["train"]
            n_ex = sum(len(rows) for c, rows in pools.items() if names[c] in keep)
            name, k = dm.spec.name, 2
            while name in families:
                name, k = f"{dm.spec.name}#{k}", k + 1
            families[name] = dm.sampler
            sizes.append(len(keep) if self.size_by == "classes" else n_ex)
        return families, sizes

    def prepare_data(self) -> None:
        """Build (or find) every cached artefact once, on the main process."""
        for dm in self.labelled_modules:
            dm.prepare_data()
        if self.smlmt is not None:
            with grouped_errors("", GROUPS):
                load_index(self.smlmt, max_length=self.max_length, tokenizer=self.tokenizer,
                           cache_dir=self.cache_dir)  # fmt: skip

    def setup(self, stage: str | None = None) -> None:
        if self.hybrid is not None:
            return
        with grouped_errors("", GROUPS):
            families, sizes = self._families()
        probs = mixing_probs(sizes, self.mixing, self.weights, self.temperature)
        names = list(families)
        eval_name = TASK_SOURCE if self.eval_on == "smlmt" else names[int(self.smlmt is not None)]
        log.info("hybrid mixing (%s): %s", self.mixing,
                 {n: f"p={p:.3f} size={s}" for n, p, s in zip(names, probs, sizes, strict=True)})  # fmt: skip
        self.hybrid = HybridProvider(families, probs, self.seed, eval_name)
        self.provider = self.hybrid

    @property
    def probabilities(self) -> dict[str, float]:
        """Mixing probability of each family (after setup)."""
        hp = self._require()
        p = np.diff(np.concatenate([[0.0], hp.cum]))
        return {n: float(v) for n, v in zip(hp.names, p, strict=True)}

    def _require(self) -> HybridProvider:
        if self.hybrid is None:
            self.setup("fit")
        assert self.hybrid is not None
        return self.hybrid

    def task_counts(self, n_tasks: int | None = None) -> dict[str, int]:
        """Train tasks per family among the first ``n_tasks`` of the stream (default: every
        task trained so far, all ranks together: ``position * meta_batch_size``)."""
        hp = self._require()
        n = self.position * self.meta_batch_size if n_tasks is None else n_tasks
        counts = np.bincount(hp.families_of(n), minlength=len(hp.names))
        return {name: int(c) for name, c in zip(hp.names, counts, strict=True)}
