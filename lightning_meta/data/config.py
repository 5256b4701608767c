"""Argument groups: small frozen dataclasses that constructors take instead of long flat lists.

The DataModules share three groups (:class:`EpisodeShape`, :class:`EpisodeStream`,
:class:`Tokenization`); the LightningModules theirs (``lightning_meta.lightning.config``).
LightningCLI renders each group as a nested YAML block whose ``--help`` shows the attribute
docstrings::

    data:
      class_path: lightning_meta.data.EpisodicDataModule
      init_args:
        source: wordnet
        shape: {n_way: 5, k_shot: 5, q_query: 15}
        stream: {meta_batch_size: 4, train_episodes: 400, seed: 0}
        tokens: {tokenizer: minilm, max_length: 48}

Helpers for code that builds modules outside LightningCLI:

- :func:`as_group`: a group from itself or a plain mapping (a checkpoint's hyper-parameters, a
  YAML block); constructors call it, so ``cls(**hparams)`` rebuilds a module.
- :func:`group_kwargs` / :func:`build`: constructor kwargs from a mapping that may also use the
  flat names of the groups' fields (``n_way``, ``inner_lr``: old checkpoints, exports, overrides).
- :func:`flatten`: the reverse, group blocks spread into flat names (reading a recorded config).
- :func:`plain`: dataclasses to plain dicts (hyper-parameters stay loadable with
  ``weights_only=True`` and dump to YAML); :func:`plain_hparams` applies it to a module.
- :func:`grouped_errors`: re-raise a lower layer's ``n_way: ...`` as ``shape.n_way: ...``.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeAlias, TypeVar

from lightning_meta.errors import ConfigError
from lightning_meta.resolve import DEFAULT_BACKBONE, backbone_tokenizer

if TYPE_CHECKING:
    from lightning_meta.data.in_memory import Table

    Source: TypeAlias = "str | Table"
else:
    # the name of a labelled or raw-text source; from Python also a DataFrame / datasets.Dataset
    # (in_memory.Table). The CLI schema is ``str``: jsonargparse, seeing the table classes in a
    # union, would read a str path as a config file of them and pass the file's text as source.
    Source = str

__all__ = [
    "AUTO_TOKENIZER", "DATA_GROUPS", "EpisodeShape", "EpisodeStream", "Source", "Tokenization", "as_group", "build",
    "flat_names", "flatten", "group_kwargs", "grouped_errors", "plain", "plain_hparams",
]  # fmt: skip

T = TypeVar("T")


@dataclass(frozen=True)
class EpisodeShape:
    """Episode shape: classes per episode and examples per class."""

    n_way: int = 5
    """Classes per episode (>= 2)."""
    k_shot: int = 5
    """Support examples per class."""
    q_query: int = 15
    """Query examples per class."""
    eval_k_shot: int | None = None
    """k_shot of validation/test episodes (null: k_shot)."""
    eval_q_query: int | None = None
    """q_query of validation/test episodes (null: q_query)."""

    def validate(self, where: str = "shape", evaluation: bool = True) -> None:
        """One-line ConfigError for a bad field; ``evaluation=False``: eval_* must be null."""
        for name in ("n_way", "k_shot", "q_query"):
            value = getattr(self, name)
            if value <= 0:
                raise ConfigError(f"{where}.{name}: must be a positive integer (got {value})")
        for name in ("eval_k_shot", "eval_q_query"):
            value = getattr(self, name)
            if value is not None and not evaluation:
                raise ConfigError(
                    f"{where}.{name}: this DataModule uses k_shot/q_query for every split; "
                    f"remove {name} (or set it to null)"
                )
            if value is not None and value <= 0:
                raise ConfigError(
                    f"{where}.{name}: must be a positive integer or null (got {value})"
                )
        if self.n_way < 2:
            raise ConfigError(f"{where}.n_way: must be >= 2 for classification (got {self.n_way})")

    def shots(self, split: str) -> tuple[int, int]:
        """(k_shot, q_query) of the episodes of ``split``."""
        if split == "train":
            return self.k_shot, self.q_query
        return self.eval_k_shot or self.k_shot, self.eval_q_query or self.q_query


@dataclass(frozen=True)
class EpisodeStream:
    """Episode stream: how many episodes, in meta-batches of what size, from which seed."""

    meta_batch_size: int = 4
    """Episodes per optimisation step (over all DDP ranks together)."""
    train_episodes: int = 1000
    """Train episodes per epoch."""
    val_episodes: int = 100
    """Fixed validation episodes."""
    test_episodes: int = 200
    """Fixed test episodes."""
    seed: int = 0
    """Seed of the episode stream: (seed, split, index) fixes every episode."""
    num_workers: int = 0
    """DataLoader worker processes."""

    def validate(self, where: str = "stream") -> None:
        for name in ("meta_batch_size", "train_episodes", "val_episodes", "test_episodes"):
            value = getattr(self, name)
            if value <= 0:
                raise ConfigError(f"{where}.{name}: must be a positive integer (got {value})")
        if self.num_workers < 0:
            raise ConfigError(f"{where}.num_workers: must be >= 0 (got {self.num_workers})")
        if self.train_episodes < self.meta_batch_size:
            raise ConfigError(
                f"{where}.train_episodes: {self.train_episodes} is less than one meta-batch "
                f"(meta_batch_size={self.meta_batch_size}); raise train_episodes"
            )


AUTO_TOKENIZER = "auto"
"""``tokens.tokenizer`` default: the model backbone's own tokenizer."""


@dataclass(frozen=True)
class Tokenization:
    """Tokenization: tokenizer, truncation length and the cache of tokenised corpora."""

    tokenizer: str = AUTO_TOKENIZER
    """Tokenizer name or directory. 'auto': the model backbone's own (`lightning-meta
    fit/validate/test` link it from model.encoder.backbone; 'minilm' for a DataModule built
    without a model). An explicit tokenizer must match the backbone's vocabulary."""
    max_length: int = 64
    """Tokens per text after truncation (special tokens included)."""
    cache_dir: str | None = None
    """Cache root (default $LIGHTNING_META_CACHE or ~/.cache/lightning_meta)."""

    def resolved(self) -> Tokenization:
        """This group with 'auto' as the offline default 'minilm' (no model to link it to:
        the CLI has already replaced 'auto' by the backbone's tokenizer)."""
        if self.tokenizer != AUTO_TOKENIZER:
            return self
        return dataclasses.replace(self, tokenizer=backbone_tokenizer(DEFAULT_BACKBONE))


DATA_GROUPS: dict[str, type] = {
    "shape": EpisodeShape,
    "stream": EpisodeStream,
    "tokens": Tokenization,
}
"""Argument name -> group class, shared by every episodic DataModule."""


# ---- helpers -------------------------------------------------------------------------------
def flat_names(group: type) -> dict[str, str]:
    """Flat (pre-group) key -> field name: a group's ``FLAT_NAMES`` or its own field names."""
    names = getattr(group, "FLAT_NAMES", None)
    if names is not None:
        return dict(names)
    return {f.name: f.name for f in dataclasses.fields(group)}


def as_group(
    group: type[T], value: T | Mapping[str, Any] | None, where: str, default: T | None = None
) -> T:
    """``value`` as a ``group`` instance: itself, or a mapping of some of its fields over
    ``default`` (the constructor's default; ``group()`` when not given); None: the default."""
    base = default if default is not None else group()
    if value is None:
        return _resolved(base)
    if isinstance(value, group):
        return _resolved(value)
    if isinstance(value, Mapping):
        known = [f.name for f in dataclasses.fields(group)]  # type: ignore[arg-type]
        unknown = sorted(set(value) - set(known))
        if unknown:
            raise ConfigError(
                f"{where}.{unknown[0]}: unknown option; use one of {', '.join(known)}"
            )
        return _resolved(dataclasses.replace(base, **value))  # type: ignore[type-var]
    raise ConfigError(
        f"{where}: expected a {group.__name__} or a mapping of its fields, got "
        f"{type(value).__name__}; write it as a YAML block ({where}: {{...}})"
    )


def _resolved(value: T) -> T:
    """A group with its ``resolved()`` defaults filled in (``Tokenization``: 'auto')."""
    resolve = getattr(value, "resolved", None)
    return resolve() if callable(resolve) else value


def _init_params(cls: type) -> dict[str, inspect.Parameter]:
    params = inspect.signature(cls.__init__).parameters  # type: ignore[misc]
    return {
        n: p
        for n, p in params.items()
        if n != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    }


def group_kwargs(
    cls: type, args: Mapping[str, Any], where: str = "", strict: bool = False
) -> dict[str, Any]:
    """Constructor kwargs of ``cls`` from ``args``, groups built as dataclasses.

    A group (a parameter whose default is a dataclass) is given as a nested mapping or instance
    (``shape: {n_way: 3}``) or by the flat names of its fields (``n_way: 3``, old layouts);
    both merge, later keys win. Other keys are ``cls``'s own arguments. Unknown keys are
    dropped, or with ``strict`` raise a ConfigError naming ``where<key>``.
    """
    params = _init_params(cls)
    groups = {n: type(p.default) for n, p in params.items() if dataclasses.is_dataclass(p.default)}
    flat: dict[str, tuple[str, str]] = {}
    for name, group in groups.items():
        for key, field in flat_names(group).items():
            flat.setdefault(key, (name, field))
    parts: dict[str, dict[str, Any]] = {}
    out: dict[str, Any] = {}
    for key, value in args.items():
        if key in groups:
            if value is not None:
                given = plain(value) if dataclasses.is_dataclass(value) else dict(value)
                parts.setdefault(key, {}).update(given)
        elif key in params:
            out[key] = value
        elif key in flat:
            name, field = flat[key]
            parts.setdefault(name, {})[field] = value
        elif strict:
            raise ConfigError(
                f"{where}{key}: not an argument of {cls.__name__} (known: {', '.join(params)})"
            )
    for name, given in parts.items():
        out[name] = as_group(groups[name], given, f"{where}{name}", params[name].default)
    return out


def flatten(args: Mapping[str, Any], groups: Mapping[str, type] | None = None) -> dict[str, Any]:
    """The inverse of :func:`group_kwargs`: group blocks spread into flat names
    (``{"shape": {"n_way": 3}}`` -> ``{"n_way": 3}``), for code that reads single settings of
    a recorded config. ``groups``: argument name -> group class (default: the DataModules')."""
    groups = DATA_GROUPS if groups is None else groups
    out: dict[str, Any] = {}
    for key, value in args.items():
        group = groups.get(key)
        if group is None or value is None:
            out.setdefault(key, value)
            continue
        back = {field: flat for flat, field in flat_names(group).items()}
        for field, v in plain(value).items():
            out[back.get(field, field)] = v
    return out


def build(cls: type[T], args: Mapping[str, Any], where: str = "") -> T:
    """``cls(**group_kwargs(cls, args))``: build a module from flat or grouped arguments."""
    return cls(**group_kwargs(cls, args, where))


def plain(value: Any) -> Any:
    """Dataclasses (also inside lists, tuples and dicts) as plain dicts."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(plain(v) for v in value)
    return value


def plain_hparams(module: Any) -> None:
    """Replace dataclass hyper-parameters by plain dicts (call after ``save_hyperparameters``):
    checkpoints then hold plain data only (``weights_only=True`` loads them, and
    ``hparams.yaml`` is plain YAML); constructors turn the dicts back into groups."""
    for attr in ("_hparams", "_hparams_initial"):
        hp = getattr(module, attr, None)
        if hp is not None:
            for key in list(hp):
                hp[key] = plain(hp[key])


@contextmanager
def grouped_errors(prefix: str, groups: Mapping[str, type]) -> Iterator[None]:
    """Re-raise a ConfigError whose field is a group's field under its group's name:
    ``n_way: ...`` -> ``<prefix>shape.n_way: ...`` (lower layers name bare fields)."""
    try:
        yield
    except ConfigError as err:
        field, sep, rest = str(err).partition(":")
        for name, group in groups.items():
            if sep and field in {f.name for f in dataclasses.fields(group)}:
                raise type(err)(f"{prefix}{name}.{field}{sep}{rest}") from err
        raise
