"""Baselines on tiny episodes: logistic regression vs a hand-solved case, VADER vs its lexicon,
a SetFit smoke test on a tiny body."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from lightning_meta.data.episode import Episode, TextBatch
from lightning_meta.errors import ConfigError
from lightning_meta.evaluation.baselines import LogisticRegressionHead, VaderZeroShot
from lightning_meta.evaluation.baselines.text import decode_rows, load_tokenizer
from lightning_meta.evaluation.scoring import score_episodes


def batch_of(ids: list[list[int]], labels: list[int]) -> TextBatch:
    t = torch.tensor(ids)
    return TextBatch(t, torch.ones_like(t), torch.tensor(labels))


def test_logreg_matches_the_hand_solved_optimum() -> None:
    # 1-D embeddings: support x = -1 (class 0), +1 (class 1). By symmetry the intercept is 0
    # and 0.5 w^2 + C * 2 * log(1 + exp(-w)) has its minimum where w = 2 C sigmoid(-w).
    def embed(b: TextBatch) -> torch.Tensor:
        return b.input_ids[:, :1].float() - 1.0  # ids 0 -> -1, 1 -> 0, 2 -> +1

    ep = Episode(batch_of([[0], [2]], [0, 1]), batch_of([[2], [0], [1]], [1, 0, 0]), 2, 0)
    head = LogisticRegressionHead(embed, C=1.0, normalize=False)
    out = head.evaluate_episode(ep)
    assert head.last_coef is not None
    w = float(head.last_coef.ravel()[0])
    assert w == pytest.approx(2.0 / (1.0 + math.exp(w)), abs=1e-4)  # the fixed point
    assert w == pytest.approx(0.6750, abs=1e-3)  # solved by hand (bisection)
    p1 = 1.0 / (1.0 + math.exp(-w))  # query x = +1
    assert out.logits[0].exp().tolist() == pytest.approx([1 - p1, p1], abs=1e-4)
    assert out.logits[2].exp().tolist() == pytest.approx([0.5, 0.5], abs=1e-4)  # x = 0
    scores = score_episodes(head.evaluate_episode, [ep])
    assert scores[0].acc == pytest.approx(1.0)  # the tie at x = 0 goes to label 0


def test_logreg_separates_three_classes_and_checks_c() -> None:
    rng = np.random.default_rng(0)
    centres = np.eye(3) * 4.0

    def rows(k: int) -> tuple[list[list[int]], list[int]]:
        return [[c] * 3 for c in range(3) for _ in range(k)], [
            c for c in range(3) for _ in range(k)
        ]

    noise = torch.tensor(rng.normal(0, 0.1, (100, 3)), dtype=torch.float32)

    def embed(b: TextBatch) -> torch.Tensor:
        return torch.tensor(centres, dtype=torch.float32)[b.input_ids[:, 0]] + noise[: len(b)]

    (si, sl), (qi, ql) = rows(2), rows(4)
    ep = Episode(batch_of(si, sl), batch_of(qi, ql), 3, 0)
    out = LogisticRegressionHead(embed).evaluate_episode(ep)
    assert out.logits.shape == (12, 3)
    assert (out.logits.argmax(-1) == torch.tensor(ql)).all()
    with pytest.raises(ConfigError, match="C: must be > 0"):
        LogisticRegressionHead(embed, C=0.0)


def read_lexicon() -> dict[str, float]:
    import vaderSentiment

    path = Path(vaderSentiment.__file__).parent / "vader_lexicon.txt"
    out = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        token, valence, *_ = line.split("\t")
        out[token] = float(valence)
    return out


def test_vader_scores_match_the_lexicon() -> None:
    tok = load_tokenizer("minilm")
    texts = ["the film is good", "the film is horrible", "the film is long"]
    enc = tok(texts, padding=True, return_tensors="pt")
    query = TextBatch(enc["input_ids"], enc["attention_mask"], torch.tensor([1, 0, 0]))
    assert decode_rows(query, tok) == texts
    ep = Episode(query, query, 2, 0, class_names=["negative", "positive"])
    vader = VaderZeroShot()
    out = vader.evaluate_episode(ep)
    lex = read_lexicon()
    # one sentiment word: compound = v / sqrt(v^2 + 15) (VADER's normalisation, alpha = 15)
    for row, word in [(0, "good"), (1, "horrible")]:
        v = lex[word]
        assert float(out.logits[row, 1]) == pytest.approx(v / math.sqrt(v * v + 15), abs=1e-4)
        assert float(out.logits[row, 0]) == pytest.approx(-v / math.sqrt(v * v + 15), abs=1e-4)
    assert "long" not in lex and out.logits[2].tolist() == [0.0, 0.0]
    swapped = Episode(query, query, 2, 0, class_names=["positive", "negative"])
    assert torch.equal(vader.evaluate_episode(swapped).logits, out.logits.flip(-1))
    with pytest.raises(ConfigError, match="vader: needs 2-way"):
        vader.evaluate_episode(Episode(query, query, 2, 0, class_names=["animals", "food"]))


def test_setfit_smoke_on_a_tiny_body(tmp_path: Path) -> None:
    from lightning_meta.evaluation.baselines import SetFitBaseline
    from lightning_meta.models import tiny_encoder

    tok = load_tokenizer("minilm")
    tiny_encoder(seed=0).save_pretrained(tmp_path)
    tok.save_pretrained(tmp_path)
    texts = ["a good film", "a great film", "a bad film", "an awful film"] * 2
    labels = [1, 1, 0, 0] * 2
    enc = tok(texts, padding=True, return_tensors="pt")
    rows = TextBatch(enc["input_ids"], enc["attention_mask"], torch.tensor(labels))
    ep = Episode(rows, rows, 2, 0, class_names=["negative", "positive"])
    out = SetFitBaseline(body=str(tmp_path), num_iterations=1, device="cpu").evaluate_episode(ep)
    assert out.logits.shape == (8, 2)
    assert torch.allclose(out.logits.exp().sum(-1), torch.ones(8), atol=1e-5)


def test_setfit_normalize_gives_an_export_minilms_unit_length_stack(tmp_path: Path) -> None:
    from sentence_transformers.models import Normalize

    from lightning_meta.evaluation.baselines import SetFitBaseline
    from lightning_meta.models import tiny_encoder

    tiny_encoder(seed=0).save_pretrained(tmp_path)
    load_tokenizer("minilm").save_pretrained(tmp_path)
    plain = SetFitBaseline(body=str(tmp_path), device="cpu").base.model_body
    unit = SetFitBaseline(body=str(tmp_path), device="cpu", normalize=True).base.model_body
    assert not any(isinstance(m, Normalize) for m in plain)
    assert isinstance(unit[-1], Normalize) and len(unit) == len(plain) + 1
    texts = ["a good film", "an awful and rather long film"]
    norms = torch.as_tensor(unit.encode(texts)).norm(dim=-1)
    assert torch.allclose(norms, torch.ones(2), atol=1e-5)
    assert not torch.allclose(torch.as_tensor(plain.encode(texts)).norm(dim=-1), norms)
    minilm = SetFitBaseline(body="minilm", device="cpu", normalize=True).base.model_body
    assert sum(isinstance(m, Normalize) for m in minilm) == 1  # has one already: not doubled
