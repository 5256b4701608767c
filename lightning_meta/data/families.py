"""Task families as first-class config: meta-train on a mixture of labelled sources and SMLMT.

Each :class:`TaskFamily` is a labelled source with its own split and episode shape (``n_way``,
``k_shot``, ``q_query``) or an SMLMT stream (``source: smlmt``, or ``smlmt-lexicon``:
:mod:`~lightning_meta.data.smlmt_lexicon`). Train task ``index`` draws its
family with the hybrid mixing rules (:func:`~lightning_meta.data.hybrid.mixing_probs`: ``fixed``
by each family's ``weight``, ``proportional`` / ``temperature`` by size) from ``(seed, index)``
and asks that family for its own task ``index``, so a meta-batch may hold 5-way WordNet next to
2-way sentiment tasks (the algorithms adapt per task). Every episode carries its family in
``Episode.task_source``; :meth:`FamilyDataModule.task_counts` counts them (``TaskMixLogger``).

Validation (model selection) cycles over the ``validation`` families, episode ``i`` being
episode ``i // V`` of the ``val`` split of family ``i % V``: held-out classes or domains that
are not the test targets. The held-out rule (:mod:`~lightning_meta.data.family_rules`) is
checked in ``__init__`` against ``targets``.
"""

from __future__ import annotations

import logging
from typing import Literal

import numpy as np

from lightning_meta.data.config import (
    EpisodeStream,
    Tokenization,
    as_group,
    plain_hparams,
)
from lightning_meta.data.datamodule import EpisodicDataModule
from lightning_meta.data.episode import Episode
from lightning_meta.data.family_config import (
    BUILTIN_FAMILIES,
    BUILTIN_VALIDATION,
    TaskFamily,
)
from lightning_meta.data.family_rules import DEFAULT_TARGETS, HeldOutTarget, check_family
from lightning_meta.data.family_text import (
    TEXT_SOURCES,
    build_text_family,
    check_validation_text,
    checked_text_family,
    prepare_text_family,
)
from lightning_meta.data.hybrid import HybridProvider, Mixing, mixing_probs
from lightning_meta.data.stream import TaskDataModule, TaskProvider
from lightning_meta.errors import ConfigError
from lightning_meta.resolve import resolve_pretrained

__all__ = ["BUILTIN_FAMILIES", "BUILTIN_VALIDATION", "FamilyDataModule", "TaskFamily"]

log = logging.getLogger(__name__)


class FamilyProvider(HybridProvider):
    """Train tasks by the mixture; val/test tasks cycle over the validation families."""

    def __init__(
        self, train: dict[str, TaskProvider], probs: np.ndarray, seed: int,
        evaluation: dict[str, TaskProvider],
    ) -> None:  # fmt: skip
        super().__init__(train, probs, seed, eval_on=next(iter(evaluation)))
        self.evaluation, self.eval_names = evaluation, list(evaluation)

    def episode(self, split: str, index: int) -> Episode:
        if split == "train":
            return super().episode(split, index)
        n = len(self.eval_names)
        name = self.eval_names[index % n]
        ep = self.evaluation[name].episode(split, index // n)
        ep.task_source, ep.index = name, index
        self.served[name] += 1
        return ep


class FamilyDataModule(TaskDataModule):
    """Meta-training tasks from a mixture of task families, each with its own episode shape."""

    def __init__(
        self,
        families: list[TaskFamily] | None = None,
        validation: list[TaskFamily] | None = None,
        targets: list[HeldOutTarget] | None = None,
        mixing: Mixing = "fixed",
        size_by: Literal["classes", "examples"] = "classes",
        temperature: float = 2.0,
        stream: EpisodeStream = EpisodeStream(),
        tokens: Tokenization = Tokenization(),
    ) -> None:
        """
        Args:
            families: meta-training task families (default: the built-in six).
            validation: model-selection families, their ``val`` split (default: WordNet val
                classes, fortunes val categories, the nyt domain's val split).
            targets: held-out test targets the families must not touch (default: WordNet and
                fortunes test classes, the movie domain).
            mixing: 'fixed' (each family's weight), 'proportional' (to size) or 'temperature'.
            size_by: family size for proportional/temperature: train 'classes' or 'examples'.
            temperature: p ~ size ** (1/temperature); 1 = proportional, large = uniform.
            stream: meta-batch size, tasks per split, seed of the tasks and family draws.
            tokens: tokenizer (a mask token when SMLMT is used), max_length, cache.
        """
        super().__init__(stream=stream)
        self.save_hyperparameters()
        plain_hparams(self)
        tokens = as_group(Tokenization, tokens, "tokens")
        resolve_pretrained(tokens.tokenizer, field="tokens.tokenizer")
        self.tokens, self.max_length, self.tokenizer = tokens, tokens.max_length, tokens.tokenizer
        self.cache_dir = tokens.cache_dir
        self.targets = [as_group(HeldOutTarget, t, f"targets.{i}") for i, t in
                        enumerate(DEFAULT_TARGETS if targets is None else targets)]  # fmt: skip
        self.families = self._checked(
            "families", BUILTIN_FAMILIES if families is None else families
        )
        given = BUILTIN_VALIDATION if validation is None else validation
        self.validation = self._checked("validation", given)
        if not self.families:
            raise ConfigError("families: empty; give at least one task family")
        if not self.validation:
            raise ConfigError("validation: empty; give at least one held-out validation family")
        if any(v.source in TEXT_SOURCES for v in self.validation):
            raise ConfigError(
                "validation: smlmt is not a held-out target; validate on labelled data"
            )
        check_validation_text(self.families, self.validation)
        if mixing == "fixed":
            mixing_probs([1.0] * len(self.families), mixing, [f.weight for f in self.families], 1.0)
        elif mixing == "temperature" and not temperature > 0:
            raise ConfigError(f"temperature: must be > 0 (got {temperature}); e.g. 2.0")
        self.mixing, self.size_by, self.temperature = mixing, size_by, temperature
        self.modules = {
            f.label: self._module(f) for f in self.families if f.source not in TEXT_SOURCES
        }
        self.val_modules = {f.label: self._module(f) for f in self.validation}
        self.mixture: FamilyProvider | None = None

    def _checked(
        self, where: str, families: list[TaskFamily] | tuple[TaskFamily, ...]
    ) -> list[TaskFamily]:
        out: list[TaskFamily] = []
        for i, f in enumerate(families):
            f = as_group(TaskFamily, f, f"{where}.{i}")
            at = f"{where}.{i}"
            f.shape().validate(f"{at}", evaluation=False)
            if f.source in TEXT_SOURCES:
                f = checked_text_family(at, f, self.targets, self.max_length)
            else:
                check_family(
                    at, f.source, f.split_mode, f.split_fractions, f.split_seed, self.targets
                )
            if f.label in {g.label for g in out}:
                raise ConfigError(f"{at}.name: '{f.label}' is used twice; give each family a name")
            out.append(f)
        return out

    def _module(self, f: TaskFamily) -> EpisodicDataModule:
        return EpisodicDataModule(
            source=f.source, data_files=list(f.data_files) or None, text_column=f.text_column,
            label_column=f.label_column, split_fractions=f.split_fractions,
            split_mode=f.split_mode, split_seed=f.split_seed, shape=f.shape(),
            stream=self.stream, tokens=self.tokens,
        )  # fmt: skip

    @staticmethod
    def _labelled(dm: EpisodicDataModule, size_by: str) -> tuple[TaskProvider, float]:
        dm.setup("fit")
        assert dm.sampler is not None and dm.plan is not None and dm.corpus is not None
        keep = set(dm.sampler.classes("train"))
        names, pools = dm.corpus.class_names, dm.plan.pools["train"]
        n_ex = sum(len(rows) for c, rows in pools.items() if names[c] in keep)
        return dm.sampler, float(len(keep) if size_by == "classes" else n_ex)

    def prepare_data(self) -> None:
        """Build (or find) every cached artefact once, on the main process."""
        for dm in [*self.modules.values(), *self.val_modules.values()]:
            dm.prepare_data()
        for f in self.families:
            if f.source in TEXT_SOURCES:
                prepare_text_family(f, max_length=self.max_length, tokenizer=self.tokenizer,
                                    cache_dir=self.cache_dir)  # fmt: skip

    def setup(self, stage: str | None = None) -> None:
        if self.mixture is not None:
            return
        train: dict[str, TaskProvider] = {}
        sizes: list[float] = []
        for f in self.families:
            if f.source in TEXT_SOURCES:
                provider, size = build_text_family(
                    f, max_length=self.max_length, tokenizer=self.tokenizer, seed=self.seed,
                    cache_dir=self.cache_dir, size_by=self.size_by,
                )  # fmt: skip
            else:
                provider, size = self._labelled(self.modules[f.label], self.size_by)
            train[f.label] = provider
            sizes.append(size)
        weights = [f.weight for f in self.families]
        probs = mixing_probs(sizes, self.mixing, weights, self.temperature)
        evaluation = {n: self._labelled(dm, "classes")[0] for n, dm in self.val_modules.items()}
        log.info("family mixing (%s): %s", self.mixing,
                 {n: f"p={p:.3f} size={s:g}" for n, p, s in zip(train, probs, sizes, strict=True)})  # fmt: skip
        self.mixture = FamilyProvider(train, probs, self.seed, evaluation)
        self.provider = self.mixture

    def _require(self) -> FamilyProvider:
        if self.mixture is None:
            self.setup("fit")
        assert self.mixture is not None
        return self.mixture

    @property
    def probabilities(self) -> dict[str, float]:
        """Mixing probability of each family (after setup)."""
        hp = self._require()
        p = np.diff(np.concatenate([[0.0], hp.cum]))
        return {n: float(v) for n, v in zip(hp.names, p, strict=True)}

    def task_counts(self, n_tasks: int | None = None) -> dict[str, int]:
        """Train tasks per family among the first ``n_tasks`` of the stream (default: every
        task trained so far, all ranks together)."""
        hp = self._require()
        n = self.position * self.meta_batch_size if n_tasks is None else n_tasks
        counts = np.bincount(hp.families_of(n), minlength=len(hp.names))
        return {name: int(c) for name, c in zip(hp.names, counts, strict=True)}
