"""Every command's entry point, and nothing else: no module outside ``lightning_meta.cli``
imports this package.

- :mod:`~lightning_meta.cli.main`: the ``lightning-meta`` dispatcher (console script), ``--debug``
  and the one-line ``error: ...`` output;
- :mod:`~lightning_meta.cli.lightning`: ``fit``/``validate``/``test`` (LightningCLI wiring);
- :mod:`~lightning_meta.cli.evaluate`, :mod:`~lightning_meta.cli.report`,
  :mod:`~lightning_meta.cli.export`, :mod:`~lightning_meta.cli.describe` (``data describe``) and
  :mod:`~lightning_meta.cli.bench` (``bench ...``): the tool commands, each a typed jsonargparse
  parser (:mod:`~lightning_meta.cli.parser`) over library code in the packages below.

``from lightning_meta.cli import main`` is the dispatcher function.
"""

from lightning_meta.cli.main import main

__all__ = ["main"]
