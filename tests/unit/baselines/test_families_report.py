"""The families table's paired difference to the best baseline, checked by hand."""

from __future__ import annotations

import pytest

from lightning_meta.data.family_rules import DEFAULT_TARGETS
from lightning_meta.evaluation.baselines.families_report import paired_to_best, target_args
from lightning_meta.evaluation.scoring import EpisodeScore


def s(i: int, acc: float) -> EpisodeScore:
    return EpisodeScore(i, acc, acc, float("nan"), 0.0)


def test_paired_to_best_by_hand() -> None:
    scores = {
        "meta-trained init + fine-tuning": [s(0, 0.9), s(1, 0.7), s(2, 0.8)],
        "centroid": [s(0, 0.5), s(1, 0.5), s(2, 0.5)],
        "logreg": [s(0, 0.8), s(1, 0.6), s(2, 0.6)],  # best baseline: mean 0.667
        "SetFit": [s(0, 0.9)],  # fewer episodes, mean 0.9: the best
    }
    best, diffs = paired_to_best(scores)
    assert best == "SetFit"
    d = diffs["meta-trained init + fine-tuning"]
    assert (d.mean, d.n) == (pytest.approx(0.0), 1)  # paired on SetFit's one episode
    del scores["SetFit"]
    best, diffs = paired_to_best(scores)
    d = diffs["meta-trained init + fine-tuning"]
    # differences 0.1, 0.1, 0.2: mean 0.1333, std 0.0577, CI 1.96 * 0.0577 / sqrt(3) = 0.0653
    assert best == "logreg" and d.n == 3
    assert d.mean == pytest.approx(0.13333, abs=1e-4) and d.ci == pytest.approx(0.06533, abs=1e-4)


def test_target_args() -> None:
    wordnet, _, movie = DEFAULT_TARGETS
    assert target_args(wordnet, 48)["split_mode"] == "classes"
    assert target_args(movie, 48) | {} == {
        "source": "sentiment:movie", "n_way": 2, "k_shot": 8, "q_query": 15, "max_length": 48,
        "tokenizer": "minilm", "seed": 0, "split_mode": "examples",
    }  # fmt: skip
    assert movie.name == "sentiment:movie 2-way 8-shot"
    assert wordnet.name == "wordnet test classes 5-way 5-shot"
