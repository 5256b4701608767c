"""Tiny unlabelled corpora for SMLMT tests: seconds, offline, MiniLM's tokenizer."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

# Several split into many WordPiece sub-tokens (photosynthesis -> photos ##yn ##thesis).
TARGETS = [
    "photosynthesis", "xylophone", "kaleidoscope", "marmalade", "walrus", "chrysanthemum",
    "pangolin", "aardvark", "lantern", "meadow", "zeppelin", "cafe",
]  # fmt: skip
MULTI = ["photosynthesis", "xylophone", "kaleidoscope", "chrysanthemum", "aardvark"]
FILLER = ["the", "a", "of", "and", "quiet", "river", "morning", "bright", "stone", "garden"]
RARE = "quasar"  # in 3 sentences only: left out of tasks needing more


def make_sentences(per_word: int = 14, seed: int = 0) -> list[str]:
    """Sentences with 1-2 occurrences of a target word (capitalised, with punctuation),
    sometimes a second target word, sometimes 'photos' (a sub-token of photosynthesis)."""
    rng = random.Random(seed)
    out: list[str] = []
    for t in TARGETS:
        for i in range(per_word):
            words = [rng.choice(FILLER) for _ in range(rng.randint(4, 9))]
            forms = [t, t.capitalize(), t + ",", t.upper() + "."]
            for _ in range(1 + (i % 3 == 0)):
                words.insert(rng.randrange(len(words) + 1), rng.choice(forms))
            if i % 4 == 1:
                words.insert(rng.randrange(len(words) + 1), rng.choice(TARGETS))
            if t == "photosynthesis" and i % 2:
                words.append("photos")
            if t == "cafe" and i % 2:
                words = [w.replace("cafe", "café") for w in words]
            out.append(" ".join(words) + f" {i}")
    out += [f"a {RARE} shines {i}" for i in range(3)]
    return out


@pytest.fixture(autouse=True)
def isolated_cache(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    cache = tmp_path_factory.getbasetemp() / "smlmt_cache"
    monkeypatch.setenv("LIGHTNING_META_CACHE", str(cache))
    return cache


@pytest.fixture(scope="session")
def corpus_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("smlmt_text") / "corpus.txt"
    lines = make_sentences()
    lines.insert(5, "")  # empty lines are dropped, and counted
    lines.insert(9, "   ")
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="session")
def tokenizer():  # type: ignore[no-untyped-def]
    from transformers import AutoTokenizer

    from lightning_meta.resolve import resolve_pretrained

    return AutoTokenizer.from_pretrained(resolve_pretrained("minilm"))


@pytest.fixture(scope="session")
def labelled_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """9 classes x 12 rows of text,label (a tiny labelled task family)."""
    path = tmp_path_factory.mktemp("labelled") / "tiny.csv"
    rows = ["text,label"]
    for c in range(9):
        rows += [f"topic {c} sentence number {i} about thing{c}x{i},cls{c}" for i in range(12)]
    path.write_text("\n".join(rows) + "\n")
    return path
