"""Issue 12.10: Lightning's banner lines stay out of error output."""

from __future__ import annotations

import logging

import pytest

from lightning_meta.cli import banner


def test_adverts_dropped_availability_held_until_release(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger(banner.LOGGER)
    filt = banner.install()
    assert banner.install() is filt  # installed once
    try:
        with caplog.at_level(logging.INFO, logger=banner.LOGGER):
            logger.info("💡 Tip: For seamless cloud logging, try installing [litlogger]")
            logger.info("GPU available: False, used: False")
            logger.info("TPU available: False, using: 0 TPU cores")
            logger.info("something else")
            assert [r.getMessage() for r in caplog.records] == ["something else"]
            banner.release()
            shown = [r.getMessage() for r in caplog.records]
            assert shown == [
                "something else",
                "GPU available: False, used: False",
                "TPU available: False, using: 0 TPU cores",
            ]
            logger.info("GPU available: True (cuda), used: True")  # after release: shown at once
            logger.info("💡 Tip: litmodels")  # adverts never
            assert caplog.records[-1].getMessage().startswith("GPU available: True")
    finally:
        logger.removeFilter(filt)
