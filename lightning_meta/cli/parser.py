"""The one flag style of the tool commands: a jsonargparse parser with typed ``--help``.

Flags keep their dashed names (``--n-way``); ``--config FILE`` (where a command offers it) reads
the same options from YAML under their underscore names (``n_way: 2``), command-line flags
after it override the file.
"""

from __future__ import annotations

import argparse

from jsonargparse import ActionConfigFile, ArgumentParser, DefaultHelpFormatter

__all__ = ["tool_parser"]


class _HelpFormatter(DefaultHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Types and defaults in ``--help``; the description (usage examples) printed as written."""


def tool_parser(prog: str, description: str | None, config: bool = False) -> ArgumentParser:
    """A parser for ``lightning-meta <prog>``; ``config``: add ``--config FILE``."""
    parser = ArgumentParser(
        prog=f"lightning-meta {prog}", description=description, formatter_class=_HelpFormatter
    )
    if config:
        parser.add_argument(
            "--config", action=ActionConfigFile, help="YAML file with any of these options"
        )
    return parser
