"""What an export directory needs to be usable by others: a model card and sentence-transformers
configuration.

- :func:`write_sentence_transformers`: ``modules.json`` (Transformer -> Pooling, no
  normalisation), ``1_Pooling/config.json`` (mean or CLS, as the model was meta-trained) and
  ``sentence_bert_config.json`` (the training ``max_length``), so that
  ``SentenceTransformer(export_dir)`` gives the same embeddings as lightning-meta. The legacy
  ``pooling_mode_*`` keys are read by every sentence-transformers version (5.x converts them).
- :func:`write_model_card`: ``README.md`` with what the model is, how it was meta-trained, its
  results table (``results.md`` of ``lightning-meta report``, with CIs, when present beside or
  above the export), intended use, and the ``predict`` / Python / sentence-transformers snippets.
  :func:`refresh_model_card` rewrites it from the directory alone (after ``report``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from lightning_meta.evaluation.export_meta import ExportMeta

__all__ = [
    "refresh_model_card", "write_export_extras", "write_model_card", "write_sentence_transformers",
]  # fmt: skip

CARD_FILE = "README.md"
RESULTS_FILE = "results.md"
DEFAULT_MAX_LENGTH = 64  # EpisodicDataModule's default


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def write_sentence_transformers(out: Path, *, pooling: str, max_length: int, hidden: int) -> None:
    """sentence-transformers files for a Transformer + ``pooling`` (mean | cls) model."""
    modules = [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
    ]  # fmt: skip
    pool = {
        "word_embedding_dimension": hidden,
        "pooling_mode_cls_token": pooling == "cls",
        "pooling_mode_mean_tokens": pooling != "cls",
        "pooling_mode_max_tokens": False,
        "pooling_mode_mean_sqrt_len_tokens": False,
    }
    _write(out / "modules.json", json.dumps(modules, indent=2) + "\n")
    _write(out / "1_Pooling" / "config.json", json.dumps(pool, indent=2) + "\n")
    sbert = {"max_seq_length": max_length, "do_lower_case": False}
    _write(out / "sentence_bert_config.json", json.dumps(sbert, indent=2) + "\n")


def _find(tree: Any, key: str) -> Any:
    """First value under ``key`` in nested dicts (configs group their fields differently)."""
    if isinstance(tree, dict):
        if tree.get(key) is not None:
            return tree[key]
        for child in tree.values():
            found = _find(child, key)
            if found is not None:
                return found
    return None


def _results(out: Path) -> str | None:
    for where in (out / RESULTS_FILE, out.parent / RESULTS_FILE):
        if where.is_file():
            return where.read_text().strip()
    return None


def _rows(rows: list[tuple[str, Any]]) -> str:
    lines = ["| | |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in rows if v not in (None, "", [])]
    return "\n".join(lines)


def _lr_summary(lrs: dict[str, float]) -> str:
    if not lrs:
        return "not learned (one fixed rate)"
    values = sorted(lrs.values())
    return f"{len(values)} tensors, {values[0]:.3g} to {values[-1]:.3g}"


def card_text(
    out: Path, meta: ExportMeta, classes: list[Any] | None = None, results: str | None = None
) -> str:
    """The model card of the export in ``out`` (see the module docstring); ``results``: the
    report table (default: ``results.md`` in ``out`` or its parent, if any)."""
    config = meta.config if isinstance(meta.config, dict) else {}
    model_cfg, data_cfg = config.get("model") or {}, config.get("data") or {}
    trainer = config.get("trainer") or {}
    inner = meta.inner_loop
    algo = meta.algorithm
    encoder = _find(model_cfg, "backbone")
    arch = _architecture(out)
    source = _find(data_cfg, "source")
    shots = [_find(data_cfg, k) for k in ("n_way", "k_shot", "q_query")]
    episodes = "{}-way {}-shot, {} queries per class".format(*shots) if None not in shots else None
    evaluation = inner.eval_inner_steps
    at_eval = (
        f" ({evaluation} at evaluation)"
        if evaluation is not None and evaluation != inner.inner_steps
        else ""
    )
    step = (
        f"{inner.inner_steps} steps{at_eval}, lr {inner.inner_lr}"
        if algo != "protonet"
        else "none (nearest class mean)"
    )
    best = (
        f"{meta.monitor or 'val'} = {meta.best_val_score:.4f} at step {meta.global_step}"
        if isinstance(meta.best_val_score, (int, float))
        else None
    )
    where = out.as_posix() if not out.is_absolute() else out.name
    length = _max_seq_length(out)
    results = results or _results(out)
    parts = [
        "---\nlibrary_name: sentence-transformers\npipeline_tag: feature-extraction\ntags:\n"
        f"- lightning-meta\n- meta-learning\n- few-shot\n- {algo}\n---",
        f"# A meta-learned few-shot text encoder ({algo}"
        + (f", from `{encoder}`)" if encoder else ")"),
        "Meta-trained with lightning-meta to adapt to a new text "
        "classification task from a handful of labelled examples per class. On its own it is an "
        "encoder (use it with sentence-transformers); with `FewShotClassifier` or "
        "`lightning-meta predict` it adapts to your labelled examples with its own meta-learned "
        "inner loop and predicts your labels.",
        "## Model\n\n"
        + _rows(
            [
                ("base encoder", f"`{encoder}`" if encoder else None),
                ("architecture", arch),
                ("pooling", meta.pooling),
                ("algorithm", algo),
                ("max tokens per text", length),
                (
                    "selected checkpoint",
                    f"`{Path(meta.best_checkpoint).name}`" if meta.best_checkpoint else None,
                ),
                ("selection", best),
            ]
        ),  # fmt: skip
        "## How it was meta-trained\n\n"
        + _rows(
            [
                ("task data", f"`{source}`" if source else None),
                ("episodes", episodes),
                ("meta-steps", _find(trainer, "max_steps")),
                ("seed", meta.seed),
                ("inner loop adapts", f"`{inner.adapt}`" if inner.adapt else None),
                ("head initialisation", inner.head_init),
                ("inner steps", step),
                ("first order", inner.first_order),
                ("learned inner learning rates", _lr_summary(inner.learned_inner_lrs)),
            ]
        ),  # fmt: skip
        "## Results\n\n"
        + (
            results
            if results
            else "No report yet: `lightning-meta report --export DIR` scores it on fixed test "
            "episodes (accuracy and macro-F1, mean ± 95% CI) and writes `results.md`; "
            "the card then shows it (`refresh_model_card`)."
        ),
    ]
    if classes:
        shown = ", ".join(f"`{c}`" for c in classes[:50])
        more = f" and {len(classes) - 50} more" if len(classes) > 50 else ""
        parts.append(
            f"## Adapted classifier\n\nThis directory also holds a classifier adapted to "
            f"{len(classes)} classes: {shown}{more}. `FewShotClassifier.from_pretrained` loads it "
            f"ready to predict; `.fit` adapts the meta-learned weights to another task."
        )
    parts += [_usage().replace("DIR", where), _intended_use()]
    return "\n\n".join(parts) + "\n"


def _max_seq_length(out: Path) -> int | None:
    path = out / "sentence_bert_config.json"
    return json.loads(path.read_text()).get("max_seq_length") if path.is_file() else None


def _architecture(out: Path) -> str | None:
    path = out / "config.json"
    if not path.is_file():
        return None
    cfg = json.loads(path.read_text())
    arch = (cfg.get("architectures") or [cfg.get("model_type", "?")])[0]
    return f"{arch}, {cfg.get('num_hidden_layers')} layers, hidden {cfg.get('hidden_size')}"


def _usage() -> str:
    return """## Use it

From the shell (labelled.csv and texts.csv have a `text` column, labelled.csv a `label` column):

```bash
lightning-meta predict --model DIR --support labelled.csv --input texts.csv --out preds.csv
```

From Python:

```python
from lightning_meta import FewShotClassifier

clf = FewShotClassifier.from_pretrained("DIR").fit(texts, labels)
clf.predict(["a new text"]), clf.predict_proba(["a new text"])  # columns: clf.classes_
```

As an encoder (the same pooling, so the same embeddings as lightning-meta):

```python
from sentence_transformers import SentenceTransformer

SentenceTransformer("DIR").encode(["a new text"])
```"""


def _intended_use() -> str:
    return """## Intended use and limitations

- Few-shot text classification after adapting on labelled examples of the target classes
  (one or more per class); the meta-training classes are not predicted by the encoder itself.
- The results above hold for their benchmark episodes only: a task far from the meta-training
  data may gain little over the pretrained encoder (compare the rows of the table). Score it
  on held-out labelled examples of your own task (`clf.score(texts, labels)`) before relying
  on it.
- Longer texts are cut to the maximum number of tokens above (as in meta-training)."""


def write_model_card(
    out: Path, meta: ExportMeta, classes: list[Any] | None = None, results: str | None = None
) -> Path:
    """Write ``README.md`` into the export directory ``out``."""
    _write(out / CARD_FILE, card_text(out, meta, classes, results))
    return out / CARD_FILE


def write_export_extras(
    out: Path, meta: ExportMeta, encoder: Any, max_length: int | None = None
) -> None:
    """The sentence-transformers files and the model card of an export directory
    (``max_length`` default: the training config's, else 64)."""
    config = meta.config if isinstance(meta.config, dict) else {}
    length = max_length or _find(config.get("data"), "max_length") or DEFAULT_MAX_LENGTH
    hidden = int(getattr(getattr(encoder, "config", None), "hidden_size", 0) or 0)
    write_sentence_transformers(out, pooling=meta.pooling, max_length=int(length), hidden=hidden)
    write_model_card(out, meta)


def refresh_model_card(out: str | Path, results: str | None = None) -> Path | None:
    """Rewrite the card of an export from its files and ``results`` (the report table; default:
    a ``results.md`` beside it); None when ``out`` has no ``meta_learning.json``."""
    directory = Path(out)
    meta = ExportMeta.read(directory)
    if meta is None:
        return None
    classes = None
    fewshot = directory / "fewshot.json"
    if fewshot.is_file():
        classes = json.loads(fewshot.read_text()).get("classes")
    return write_model_card(directory, meta, classes, results)
