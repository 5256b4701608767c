"""Keep Lightning's start-up banner out of error output.

Lightning logs adverts ("💡 Tip: ... litlogger / litmodels") and accelerator availability
("GPU available: False, used: False", "TPU available: ...") while the Trainer is built, that is
before our checks run; a config or data error then ends in those lines plus one ``error:`` line.
:func:`install` drops the adverts for good and holds the availability lines; :func:`release`
(called once a run has passed its checks) prints what was held, so a run that starts shows which
device it uses and an error shows only the error.
"""

from __future__ import annotations

import logging

__all__ = ["BannerFilter", "install", "release"]

LOGGER = "pytorch_lightning.utilities.rank_zero"
ADVERTS = ("💡 Tip:",)
HELD = ("GPU available:", "TPU available:", "HPU available:", "IPU available:")


class BannerFilter(logging.Filter):
    """Drops adverts; holds availability lines until :meth:`release`."""

    def __init__(self) -> None:
        super().__init__()
        self.held: list[logging.LogRecord] = []
        self.released = False

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if message.startswith(ADVERTS):
            return False
        if not self.released and message.startswith(HELD):
            self.held.append(record)
            return False
        return True

    def release(self, logger: logging.Logger) -> None:
        self.released = True
        held, self.held = self.held, []
        for record in held:
            logger.handle(record)


def _find(logger: logging.Logger) -> BannerFilter | None:
    return next((f for f in logger.filters if isinstance(f, BannerFilter)), None)


def install() -> BannerFilter:
    """Attach the filter to Lightning's rank-zero logger (once) and start holding again (every
    command in the same process starts with its own banner); returns it."""
    logger = logging.getLogger(LOGGER)
    found = _find(logger)
    if found is None:
        found = BannerFilter()
        logger.addFilter(found)
    found.held, found.released = [], False
    return found


def release() -> None:
    """Print the held availability lines (no-op when nothing is installed or held)."""
    logger = logging.getLogger(LOGGER)
    found = _find(logger)
    if found is not None:
        found.release(logger)
