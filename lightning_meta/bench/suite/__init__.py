"""The accuracy suite: its YAML schema (``spec``), building and meta-training methods
(``methods``), running the matrix (``runner``), its outputs (``accuracy``), paired per-episode
differences (``paired``), the tiny demo suite (``demo``) and the encoder comparison
(``smlmt_compare``). Scoring, episodes and tables come from :mod:`lightning_meta.evaluation`."""
