"""`hermes gateway run`: the gateway in the foreground. The other actions
(install, start, stop, status, list...) manage it as a service: see
hermes.cli.service_cmd."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys


def cmd_gateway(args: argparse.Namespace) -> int:
    if args.action != "run":
        from hermes.cli.service_cmd import cmd_service

        return cmd_service(args)
    from hermes.gateway.runner import home_lock, run_gateway
    from hermes.gateway.tokens import claim_tokens
    from hermes.home import home_root, load_profile
    from hermes.logs import setup_file_logging

    profile = load_profile(args.profile)
    setup_file_logging(profile.home, "gateway", profile=profile.name)
    setup_file_logging(profile.home, "gateway.error", logging.WARNING, profile=profile.name)

    def say(line: str) -> None:
        print(line, flush=True)

    # `poke` (cron changes from other processes) sends SIGUSR1 once the lock is held:
    # ignored until the running gateway handles it, never the default (which kills)
    signal.signal(signal.SIGUSR1, signal.SIG_IGN)
    # one gateway per home, and one gateway per bot across all profiles
    with home_lock(profile.home), claim_tokens(home_root(os.environ), profile.name, profile.env):
        try:
            asyncio.run(run_gateway(profile, say))
        except KeyboardInterrupt:  # a second Ctrl+C: stop now
            print("hermes: stopped", file=sys.stderr)
            return 130
    return 0
