"""The project's user-facing exceptions, importable from every layer.

- ``ConfigError``: bad configuration or data; the message is one line that names the field (or
  file) and the fix, raised before expensive work starts where possible.
- ``NumericalError``: a numerical failure during training or evaluation (NaN/inf), not a
  configuration mistake; the message names where it happened.

The CLI prints either as one ``error: ...`` line (``--debug`` shows the traceback).
"""

from __future__ import annotations

__all__ = ["ConfigError", "LightningMetaError", "NumericalError"]


class LightningMetaError(Exception):
    """Base of every error the CLI reports as one line."""


class ConfigError(LightningMetaError, ValueError):
    """A user-facing, one-line error: names the field and the fix."""


class NumericalError(LightningMetaError, ArithmeticError):
    """Training or evaluation produced NaN/inf; the message names the episode and step."""
