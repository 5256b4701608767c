"""The ``baseline:`` block of a suite method: a row that is not meta-trained and has its own
test-time learner, scored on the same fixed episodes as every other row.

Kinds (:data:`BASELINE_KINDS`):

- ``logreg``: scikit-learn logistic regression fitted per episode on the support embeddings,
  either of the method's own ``model`` (built as the suite builds every method, never trained:
  the frozen-encoder linear probe) or of an earlier method named by ``embeddings_of`` after the
  suite meta-trained it (a second test-time adaptation of that method);
- ``setfit``: SetFit per episode with the library's defaults on the ``body`` encoder, or,
  with ``embeddings_of``, started from that earlier method's encoder after the suite
  meta-trained it (SetFit as a test-time adaptation of the meta-trained model; the encoder is
  saved as ``report`` exports it and gets MiniLM's unit-length ``Normalize``);
- ``vader``: the VADER lexicon, zero-shot, on sentiment targets only (2-way
  negative/positive episodes); its cell on any other target is ``-``.

``episodes`` caps the fixed episodes a row is scored on (the first ``episodes`` of each target);
the row's label then states the count, e.g. ``SetFit [10 episodes]``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lightning_meta.errors import ConfigError

if TYPE_CHECKING:
    from lightning_meta.bench.suite.spec import MethodSpec

__all__ = ["BASELINE_KINDS", "BaselineSpec", "cap_episodes", "check_baselines", "select_methods"]

BASELINE_KINDS = ("logreg", "setfit", "vader")
_ONLY_FOR = {"C": ("logreg",), "embeddings_of": ("logreg", "setfit"), "body": ("setfit",)}
DEFAULT_C = 1.0  # scikit-learn's LogisticRegression default
DEFAULT_BODY = "minilm"


@dataclass
class BaselineSpec:
    """A baseline row's learner."""

    kind: str
    """'logreg', 'setfit' or 'vader'."""
    C: float | None = None
    """logreg: inverse L2 strength of scikit-learn's LogisticRegression (> 0; null: 1.0)."""
    embeddings_of: str | None = None
    """logreg: an earlier method whose embeddings (after its meta-training) the head uses;
    setfit: the earlier method whose meta-trained encoder SetFit starts from (not with body)."""
    body: str | None = None
    """setfit: sentence-transformers body, 'minilm' or a local directory (null: 'minilm')."""
    episodes: int | None = None
    """Score only the first this many fixed episodes of each target (null: all of them)."""

    @property
    def c(self) -> float:
        return DEFAULT_C if self.C is None else float(self.C)

    @property
    def body_name(self) -> str:
        return DEFAULT_BODY if self.body is None else self.body

    def resolved(self) -> dict[str, Any]:
        """The fields of its kind with the defaults filled in (for the resolved config.yaml)."""
        own: dict[str, dict[str, Any]] = {
            "logreg": {"C": self.c, "embeddings_of": self.embeddings_of},
            "setfit": {
                "body": None if self.embeddings_of else self.body_name,
                "embeddings_of": self.embeddings_of,
            },  # fmt: skip
        }
        return {"kind": self.kind, **own.get(self.kind, {}), "episodes": self.episodes}


def _check_one(methods: Sequence[MethodSpec], i: int) -> None:
    m, where = methods[i], f"suite.methods[{i}]"
    b = m.baseline
    if b is None:
        if m.model is None:
            raise ConfigError(f"{where}.model: missing (required unless the method is a baseline)")
        return
    bw = f"{where}.baseline"
    if b.kind not in BASELINE_KINDS:
        raise ConfigError(
            f"{bw}.kind: unknown baseline kind '{b.kind}' (known: {', '.join(BASELINE_KINDS)})"
        )
    for name, kinds in _ONLY_FOR.items():
        if getattr(b, name) is not None and b.kind not in kinds:
            raise ConfigError(
                f"{bw}.{name}: only for kind {' or '.join(kinds)} (this baseline is {b.kind})"
            )
    if b.body is not None and b.embeddings_of is not None:
        raise ConfigError(
            f"{bw}.body: a setfit baseline on embeddings_of starts from that method's encoder; "
            "remove body"
        )
    if b.C is not None and not b.C > 0:
        raise ConfigError(f"{bw}.C: must be > 0 (got {b.C})")
    if b.episodes is not None and b.episodes <= 0:
        raise ConfigError(f"{bw}.episodes: must be positive or null (got {b.episodes})")
    if m.train_steps != 0:
        on = b.kind in _ONLY_FOR["embeddings_of"]
        hint = " (baseline.embeddings_of puts it on a meta-trained method)" * on
        raise ConfigError(
            f"{where}.train_steps: a {b.kind} baseline is not meta-trained; set 0{hint}"
        )
    for name in ("train_data", "optimizer", "gradient_clip_val"):
        if getattr(m, name) is not None:
            raise ConfigError(f"{where}.{name}: a {b.kind} baseline is not meta-trained; remove it")
    if b.kind != "logreg" and m.model is not None:
        raise ConfigError(f"{where}.model: a {b.kind} baseline has no model; remove it")
    if b.kind != "logreg" and b.embeddings_of is None:
        return
    if b.embeddings_of is None:
        if m.model is None:
            raise ConfigError(
                f"{where}.model: missing (a logreg baseline needs the encoder to embed with, "
                "or baseline.embeddings_of)"
            )
        return
    if m.model is not None:
        raise ConfigError(
            f"{where}.model: a {b.kind} baseline on embeddings_of uses that method's encoder; "
            "remove model"
        )
    earlier = {e.name: e for e in methods[:i]}
    source = earlier.get(b.embeddings_of)
    if source is None:
        known = ", ".join(n for n, e in earlier.items() if e.baseline is None) or "none"
        raise ConfigError(
            f"{bw}.embeddings_of: '{b.embeddings_of}' is not an earlier method (earlier: {known})"
        )
    if source.baseline is not None:
        raise ConfigError(
            f"{bw}.embeddings_of: '{b.embeddings_of}' is a baseline, not a lightning-meta module"
        )


def check_baselines(methods: Sequence[MethodSpec]) -> None:
    """Every method's ``model``/``baseline`` fields, one-line errors naming the field."""
    for i in range(len(methods)):
        _check_one(methods, i)


def select_methods(methods: Sequence[MethodSpec], names: Sequence[str]) -> list[MethodSpec]:
    """The methods named, in suite order, plus every method whose embeddings one of them uses
    (``baseline.embeddings_of``: it is meta-trained and scored too)."""
    by_name = {m.name: m for m in methods}
    keep = set(names)
    todo = list(names)
    while todo:
        m = by_name[todo.pop()]
        source = m.baseline.embeddings_of if m.baseline is not None else None
        if source is not None and source not in keep:
            keep.add(source)
            todo.append(source)
    return [m for m in methods if m.name in keep]


def cap_episodes(methods: Sequence[MethodSpec], cap: int | None) -> list[MethodSpec]:
    """``methods`` with every baseline's own ``episodes`` cap lowered to ``cap`` (None: as is)."""
    out = []
    for m in methods:
        b = m.baseline
        if cap is not None and b is not None and b.episodes is not None and b.episodes > cap:
            m = dataclasses.replace(m, baseline=dataclasses.replace(b, episodes=cap))
        out.append(m)
    return out
