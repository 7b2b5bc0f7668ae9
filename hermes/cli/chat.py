"""`hermes` / `hermes chat` / `hermes -z PROMPT`.

Only dispatches: the one-shot path and the interactive terminal live in
their own modules, so `-z` never imports prompt_toolkit.
"""

from __future__ import annotations

import argparse


def cmd_chat(args: argparse.Namespace) -> int:
    if getattr(args, "oneshot", None) is not None:
        from hermes.cli.oneshot import run_oneshot

        return run_oneshot(args)
    from hermes.cli.repl import run_repl

    return run_repl(args)
