"""`lightning-meta predict`: label your own texts with a meta-learned model.

    lightning-meta predict --model runs/default/export --support labelled.csv \\
        --input texts.csv --out preds.csv
    lightning-meta predict --model runs/default/checkpoints/last.ckpt --support train.jsonl \\
        --text-column sentence --label-column y --input big.parquet --out preds.jsonl
    lightning-meta predict --model my-classifier --input texts.csv --out preds.csv  # saved fit
    lightning-meta predict --model runs/families/export --adaptation setfit \\
        --support labelled.csv --input texts.csv --out preds.csv

The model adapts on the labelled ``--support`` rows with its own meta-learned inner loop
(``FewShotClassifier``; or, with ``--adaptation setfit``, SetFit's contrastive fine-tuning from
its weights: ``SetFitClassifier``, slower, better on long topical texts), then labels every row
of ``--input``, read and written in chunks (any size). ``--out`` gets the input rows unchanged
plus ``prediction`` and one ``prob_<class>`` column per class. Formats by extension: support
csv/tsv/json/jsonl/parquet, input csv/tsv/jsonl/parquet, output csv/tsv/jsonl. An existing
``--out`` is kept unless ``--force``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from jsonargparse import ArgumentParser, Namespace

from lightning_meta.cli.parser import tool_parser
from lightning_meta.errors import ConfigError

INPUT_FORMATS = (".csv", ".tsv", ".jsonl", ".parquet")
OUTPUT_FORMATS = (".csv", ".tsv", ".jsonl")


def build_parser() -> ArgumentParser:
    p = tool_parser("predict", __doc__, config=True)
    p.add_argument(
        "--model", type=str, required=True,
        help="exported directory, .ckpt file, saved classifier, or encoder name ('minilm')",
    )  # fmt: skip
    p.add_argument(
        "--support", type=str, default=None,
        help="labelled examples to adapt on (not needed with a saved, fitted classifier)",
    )  # fmt: skip
    p.add_argument("--input", type=str, required=True, help="texts to label")
    p.add_argument("--out", type=str, required=True, help="predictions file (csv, tsv, jsonl)")
    p.add_argument("--text-column", type=str, default="text", help="text column of --support")
    p.add_argument("--label-column", type=str, default="label", help="label column of --support")
    p.add_argument(
        "--input-text-column", type=str, default=None, help="text column of --input (default: --text-column)"
    )  # fmt: skip
    p.add_argument("--force", action="store_true", help="overwrite an existing --out")
    p.add_argument("--chunk-size", type=int, default=2048, help="input rows read per chunk")
    p.add_argument("--batch-size", type=int, default=64, help="texts per forward pass")
    p.add_argument("--max-length", type=int, default=None, help="default: the model's training max_length")  # fmt: skip
    p.add_argument("--tokenizer", type=str, default=None, help="default: the model's own, else 'minilm'")  # fmt: skip
    p.add_argument("--inner-steps", type=int, default=None, help="override the model's inner steps")  # fmt: skip
    p.add_argument("--inner-lr", type=float, default=None, help="override the model's inner lr")
    p.add_argument("--pair-weight", type=float, default=None, help="override the weight of SetFit's pair loss in the inner loop")  # fmt: skip
    p.add_argument("--device", type=str, default=None, help="cpu, cuda, ... (default: cuda if available)")  # fmt: skip
    p.add_argument("--save", type=str, default=None, help="also save the adapted classifier here")
    p.add_argument(
        "--adaptation", type=Literal["finetune", "setfit"] | None, default=None,
        help="finetune: the model's meta-learned inner loop (default); setfit: SetFit from its "
        "weights (default for a saved SetFit classifier)",
    )  # fmt: skip
    return p


FINETUNE_ONLY = (
    "inner_steps",
    "inner_lr",
    "pair_weight",
    "tokenizer",
)  # settings SetFit does not take


def build_classifier(a: Namespace) -> Any:
    """The classifier ``--adaptation`` names (checked before anything loads)."""
    from lightning_meta.evaluation.setfit_classifier import SetFitClassifier, is_saved_setfit

    saved = is_saved_setfit(a.model)
    adaptation = a.adaptation or ("setfit" if saved else "finetune")
    if adaptation == "finetune" and saved:
        raise ConfigError(
            f"adaptation: {a.model} is a saved SetFit classifier; drop --adaptation finetune "
            f"(or give the export it came from)"
        )
    if adaptation == "setfit":
        given = [k for k in FINETUNE_ONLY if getattr(a, k) is not None]
        if given:
            flag = given[0].replace("_", "-")
            raise ConfigError(
                f"{flag}: a fine-tuning setting; --adaptation setfit trains with SetFit's "
                f"defaults and the body's own tokenizer, drop --{flag}"
            )
        return SetFitClassifier.from_pretrained(
            a.model, device=a.device, batch_size=a.batch_size, max_length=a.max_length
        )
    from lightning_meta.evaluation.fewshot import FewShotClassifier

    return FewShotClassifier.from_pretrained(
        a.model, tokenizer=a.tokenizer, max_length=a.max_length, batch_size=a.batch_size,
        device=a.device, progress=False, inner_steps=a.inner_steps, inner_lr=a.inner_lr,
        pair_weight=a.pair_weight,
    )  # fmt: skip


def _check_paths(a: Namespace) -> tuple[Path, Path]:
    src, out = Path(a.input).expanduser(), Path(a.out).expanduser()
    if src.suffix.lower() not in INPUT_FORMATS:
        raise ConfigError(f"input: unsupported extension '{src.suffix}'; use one of {', '.join(INPUT_FORMATS)}")  # fmt: skip
    if not src.is_file():
        raise ConfigError(f"input: file not found: {src}; check the path")
    if out.suffix.lower() not in OUTPUT_FORMATS:
        raise ConfigError(f"out: unsupported extension '{out.suffix}'; use one of {', '.join(OUTPUT_FORMATS)}")  # fmt: skip
    if out.exists() and out.resolve() == src.resolve():
        raise ConfigError(f"out: {out} is the input file; write the predictions elsewhere")
    if out.exists() and not a.force:
        raise ConfigError(f"out: {out} already exists; pass --force to overwrite it")
    if a.chunk_size < 1:
        raise ConfigError(f"chunk-size: must be >= 1 (got {a.chunk_size})")
    return src, out


def read_support(path: str, text_column: str, label_column: str) -> tuple[list[str], list[str]]:
    """Cleaned labelled rows of any file the data layer reads (labels as their names)."""
    from lightning_meta.data.clean import column_values
    from lightning_meta.data.sources import SourceSpec
    from lightning_meta.data.tokens import load_clean

    spec = SourceSpec(source=path, text_column=text_column, label_column=label_column)
    try:
        ds, report = load_clean(spec)
    except ConfigError as err:
        raise ConfigError(f"support: {err}") from None
    if report.empty or report.duplicates:
        print(f"support: {report.summary()}")
    names = list(ds.features["label"].names)
    return column_values(ds, "text"), [names[i] for i in column_values(ds, "label")]


def read_chunks(path: Path, chunk_size: int) -> Iterator[Any]:
    """The input file as pandas DataFrames of up to ``chunk_size`` rows, cells as read."""
    import pandas as pd

    suffix = path.suffix.lower()
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        for batch in pq.ParquetFile(path).iter_batches(batch_size=chunk_size):
            yield batch.to_pandas()
        return
    if suffix == ".jsonl":
        yield from pd.read_json(path, lines=True, chunksize=chunk_size, dtype=False)
        return
    sep = "\t" if suffix == ".tsv" else ","
    yield from pd.read_csv(path, sep=sep, chunksize=chunk_size, dtype=str, keep_default_na=False)


def _texts(chunk: Any, column: str, path: Path) -> list[str]:
    if column not in chunk.columns:
        raise ConfigError(
            f"input-text-column: column '{column}' not found in {path}; columns present: "
            f"{', '.join(map(str, chunk.columns))}"
        )
    return ["" if v is None or v != v else str(v) for v in chunk[column].tolist()]  # NaN -> ""


def _write(chunk: Any, handle: Any, suffix: str, first: bool) -> None:
    if suffix == ".jsonl":
        chunk.to_json(handle, orient="records", lines=True, force_ascii=False)
        return
    chunk.to_csv(handle, sep="\t" if suffix == ".tsv" else ",", index=False, header=first)


def main(argv: list[str]) -> int:
    a = build_parser().parse_args(argv)
    src, out = _check_paths(a)
    from lightning_meta.evaluation.fewshot_batches import Progress

    clf = build_classifier(a)
    if a.support is not None:
        texts, labels = read_support(a.support, a.text_column, a.label_column)
        clf.fit(texts, labels)
        print(f"adapted {clf!r} on {len(texts)} labelled rows of {a.support}")
    elif not clf.is_fitted:
        raise ConfigError(
            "support: required (labelled examples to adapt on) unless --model is a classifier "
            "saved after fit; pass --support labelled.csv"
        )
    if a.save:
        clf.save_pretrained(a.save)
    column = a.input_text_column or a.text_column
    prob_columns = [f"prob_{c}" for c in clf.classes_]
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    out.parent.mkdir(parents=True, exist_ok=True)
    rows = 0
    try:
        with (
            tmp.open("w", newline="", encoding="utf-8") as handle,
            Progress(None, "predict", True) as bar,
        ):
            for chunk in read_chunks(src, a.chunk_size):
                if len(chunk) == 0:
                    continue
                taken = [c for c in ("prediction", *prob_columns) if c in chunk.columns]
                if taken:
                    raise ConfigError(f"input: already has a column '{taken[0]}'; rename it")
                proba = clf.predict_proba(_texts(chunk, column, src))  # (n, C)
                chunk = chunk.copy()
                chunk["prediction"] = [clf.classes_[i] for i in proba.argmax(axis=1)]
                for j, name in enumerate(prob_columns):
                    chunk[name] = proba[:, j]
                _write(chunk, handle, out.suffix.lower(), first=rows == 0)
                rows += len(chunk)
                bar.advance(len(chunk))
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    print(f"wrote {rows} predictions ({len(clf.classes_)} classes) to {out}")
    return 0
