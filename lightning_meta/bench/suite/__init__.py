"""The accuracy suite: its YAML schema (``spec``, a method's ``baseline:`` block in
``baseline_spec``), building and meta-training methods (``methods``), the baseline rows
(``baselines``: logistic regression, SetFit, VADER), running the matrix (``runner``), its
outputs (``accuracy``), paired per-episode differences (``paired``), the tiny demo suite
(``demo``) and the encoder comparison (``smlmt_compare``). Scoring, episodes and tables come
from :mod:`lightning_meta.evaluation`."""
