"""``python -m lightning_meta.cli ...``: the same as the ``lightning-meta`` console script."""

import sys

from lightning_meta.cli.main import main

sys.exit(main())
