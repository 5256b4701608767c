"""Hyper-parameter search on validation episodes with Optuna (``lightning-meta tune``).

- :mod:`~lightning_meta.tuning.paths`: dotted paths over the experiment's parsed config;
- :mod:`~lightning_meta.tuning.space`: the search-space YAML, its checks, sampling;
- :mod:`~lightning_meta.tuning.study`: storage (SQLite default, any RDB URL), seeded sampler,
  pruners, resume, killed trials marked FAIL;
- :mod:`~lightning_meta.tuning.pruning`: :class:`OptunaPruning`, the Lightning pruning callback;
- :mod:`~lightning_meta.tuning.trial_fit` / :mod:`~lightning_meta.tuning.trial_eval`: one
  trial (a LightningCLI ``fit``, or ``--eval-only`` scoring of a fixed model);
- :mod:`~lightning_meta.tuning.final`: the best and default configurations on validation and
  test episodes after the search (paired);
- :mod:`~lightning_meta.tuning.outputs`: trials.csv, best.yaml, plots, summary.md;
- :mod:`~lightning_meta.tuning.tuner`: :func:`run_tuning`, the whole command.

Import the submodules directly; this package module imports nothing.
"""
