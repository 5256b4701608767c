"""Baselines scored on the same fixed episodes as the meta-trained model.

Each baseline is one object with ``evaluate_episode(episode) -> TaskOutput`` (query logits
``(N*Q, N)``), ``eval()`` and ``device``, so :func:`~lightning_meta.evaluation.scoring.
score_episodes` / ``evaluate_episodes`` score it exactly like an ``EpisodicModule``:

- :class:`~.logreg.LogisticRegressionHead`: scikit-learn logistic regression fitted per episode
  on the support embeddings of any encoder (frozen pretrained, or the meta-trained one: a
  second test-time adaptation of the meta-trained model);
- :class:`~.setfit_baseline.SetFitBaseline`: SetFit (contrastive fine-tuning of the sentence
  encoder + logistic-regression head) per episode, with the library's documented defaults;
- :class:`~.vader.VaderZeroShot`: the VADER lexicon, zero-shot, for 2-way sentiment targets.

Episodes hold token ids only: the text baselines (SetFit, VADER) decode them with the episode's
tokenizer (:func:`~.text.decode_rows`), so they see exactly what every other row sees, with
the same truncation (and, for the uncased MiniLM tokenizer, lower-cased).

Importing this package imports neither scikit-learn, setfit nor vaderSentiment: each baseline
imports its library when it is built.
"""

from lightning_meta.evaluation.baselines.logreg import LogisticRegressionHead
from lightning_meta.evaluation.baselines.setfit_baseline import SetFitBaseline
from lightning_meta.evaluation.baselines.vader import VaderZeroShot

__all__ = ["LogisticRegressionHead", "SetFitBaseline", "VaderZeroShot"]
