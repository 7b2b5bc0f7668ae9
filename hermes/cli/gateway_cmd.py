"""`hermes gateway run`: the gateway in the foreground (service management
comes with profiles; see SPEC §3)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys


def cmd_gateway(args: argparse.Namespace) -> int:
    from hermes.errors import HermesError

    if args.action != "run":
        raise HermesError(
            f"`hermes gateway {args.action}` is not available yet; use `hermes gateway run`"
        )
    from hermes.gateway.runner import home_lock, run_gateway
    from hermes.home import load_profile
    from hermes.logs import setup_file_logging

    profile = load_profile(args.profile)
    setup_file_logging(profile.home, "gateway")
    setup_file_logging(profile.home, "gateway.error", logging.WARNING)

    def say(line: str) -> None:
        print(line, flush=True)

    # `poke` (cron changes from other processes) sends SIGUSR1 once the lock is held:
    # ignored until the running gateway handles it, never the default (which kills)
    signal.signal(signal.SIGUSR1, signal.SIG_IGN)
    with home_lock(profile.home):
        try:
            asyncio.run(run_gateway(profile, say))
        except KeyboardInterrupt:  # a second Ctrl+C: stop now
            print("hermes: stopped", file=sys.stderr)
            return 130
    return 0
