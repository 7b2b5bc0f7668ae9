"""`hermes gateway run`: the gateway in the foreground. The other actions
(install, start, stop, status, list...) manage it as a service: see
hermes.cli.service_cmd."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys


def cmd_gateway(args: argparse.Namespace) -> int:
    if args.action == "setup":
        from hermes.cli.gateway_setup import cmd_gateway_setup

        return cmd_gateway_setup(args)
    if args.action != "run":
        from hermes.cli.service_cmd import cmd_service

        return cmd_service(args)
    from hermes.app import run_gateway
    from hermes.errors import HermesError
    from hermes.gateway.tokens import TokenConflict, claim_tokens
    from hermes.home import ensure_home, home_root, load_profile, resolve_home
    from hermes.logs import setup_file_logging
    from hermes.pidfile import home_lock, replica_name
    from hermes.store.where import is_cluster

    name, home = resolve_home(args.profile, dict(os.environ))
    ensure_home(home)
    replica = replica_name()  # replicas share one home's logs: each line names its writer
    setup_file_logging(home, "gateway", profile=name, replica=replica)
    setup_file_logging(home, "gateway.error", logging.WARNING, profile=name, replica=replica)

    def say(line: str) -> None:
        print(line, flush=True)

    # `poke` (cron changes from other processes) sends SIGUSR1 and `config set` SIGHUP
    # once the lock is held: ignored until the running gateway handles them, never
    # the default (which kills)
    signal.signal(signal.SIGUSR1, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        profile = load_profile(args.profile)
        # one gateway per home, and one gateway per bot across all profiles (the
        # replicas of a cluster share the profile's bots: its lease decides who
        # connects, hermes/gateway/cluster.py)
        clustered = is_cluster(profile.database)
        with (
            home_lock(profile.home),
            contextlib.nullcontext()
            if clustered
            else claim_tokens(home_root(os.environ), profile.name, profile.env),
        ):
            asyncio.run(run_gateway(profile, say))
    except KeyboardInterrupt:  # a second Ctrl+C: stop now
        print("hermes: stopped", file=sys.stderr)
        return 130
    except TokenConflict:  # already logged where it was found
        raise
    except HermesError as exc:  # printed as one line by hermes.cli; logged for a service
        logging.getLogger("hermes.gateway").error("not starting: %s", exc)
        raise
    except Exception:
        logging.getLogger("hermes.gateway").exception("the gateway failed")
        raise
    return 0
