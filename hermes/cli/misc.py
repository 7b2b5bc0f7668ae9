"""Small commands."""

from __future__ import annotations

import argparse

from hermes import __version__


def cmd_version(args: argparse.Namespace) -> int:
    print(f"hermes {__version__}")
    return 0
