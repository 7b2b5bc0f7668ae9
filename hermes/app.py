"""`hermes gateway run`: the composition root that wires the gateway, the
platforms' adapters and the HTTP server together; one process per profile,
in the foreground.

Order of events: take the home's lock (a second gateway refuses, naming the
pid), make sure HERMES_API_KEY exists, open state.db, build the adapters of
the configured platforms, start the gateway (it requeues what a crash left)
and the HTTP server, write gateway.json (pid, url, platforms) for `hermes
send` and friends, then wait for SIGTERM/SIGINT: stop taking messages, give
running turns `gateway.drain_seconds`, stop.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import gc
import logging
import os
import signal
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from hermes.context import Profile
from hermes.errors import HermesError
from hermes.pidfile import (
    STATE_FILE,
    binds_everywhere,
    home_lock,
    replica_name,
    running_pid,
    runtime_dir,
    url_host,
    write_state,
)
from hermes.platforms.adapter import Adapter
from hermes.server.auth import LOOPBACK, new_api_key

if TYPE_CHECKING:
    from hermes.gateway.cluster import Replica
    from hermes.gateway.core import Gateway
    from hermes.store import Store

log = logging.getLogger("hermes.gateway")


def ensure_api_key(profile: Profile) -> tuple[Profile, bool]:
    """HERMES_API_KEY from the env or .env; generated into .env when missing,
    but only for a loopback bind (a reachable server needs a key chosen on purpose)."""
    from hermes.envfile import set_env_value

    if profile.env.get("HERMES_API_KEY"):
        return profile, False
    host = profile.settings.server.host
    if host not in LOOPBACK:
        raise HermesError(
            f"server.host is {host}, reachable from other machines, and HERMES_API_KEY is not "
            f"set: put HERMES_API_KEY=<a long random secret> in {profile.home / '.env'}"
        )
    key = new_api_key()
    set_env_value(profile.home / ".env", "HERMES_API_KEY", key)
    return dataclasses.replace(profile, env={**profile.env, "HERMES_API_KEY": key}), True


def build_adapters(profile: Profile, store: Store | None = None) -> list[Adapter]:
    """The adapter of each platform the profile configures (the web chat always), in
    the registry's order (hermes/platforms/). With `store`, adapters keep their place
    in the platform's stream in state.db, and record there the updates they skipped."""
    from hermes import platforms
    from hermes.platforms.spec import Build

    build = Build(profile)
    if store is not None:
        from hermes.gateway.cursors import kv_cursors
        from hermes.gateway.skipped import StoredDeadLetters

        build = Build(profile, cursor=kv_cursors(store), dead_letters=StoredDeadLetters(store))
    adapters: list[Adapter] = []
    for platform in platforms.configured(profile.env):
        adapter = platform.build(build)
        assert isinstance(adapter, Adapter) and adapter.name == platform.name, platform.name
        adapters.append(adapter)
    return adapters


def routed_profiles(profile: Profile, inherited: dict[str, str]) -> list[Profile]:
    """The profiles this gateway's routes name, loaded from their own homes with
    the process environment (never this profile's .env). Each must exist."""
    from hermes.gateway.routing import Routes
    from hermes.home import home_root, load_profile, profile_home

    loaded = []
    for name in Routes.from_settings(profile.settings, profile.name).profiles():
        home = profile_home(home_root(inherited), name)  # names checked by Routes
        if not (home / "config.yaml").exists():
            raise HermesError(
                f"{profile.home / 'config.yaml'} routes chats to profile {name!r}, which does "
                f"not exist: create it with `hermes profile create {name}` or remove the route"
            )
        loaded.append(load_profile(name, env=inherited))
    return loaded


@contextlib.contextmanager
def routed_locks(profiles: list[Profile]) -> Iterator[None]:
    """Hold the home lock of every routed profile: their state.db is ours now."""
    with contextlib.ExitStack() as stack:
        for routed in profiles:
            try:
                stack.enter_context(home_lock(routed.home))
            except HermesError:
                pid = running_pid(routed.home) or "?"
                raise HermesError(
                    f"profile {routed.name}, which this gateway serves for routed chats, has "
                    f"its own gateway running (pid {pid}): stop it (`hermes -p {routed.name} "
                    "gateway stop`) or remove its routes"
                ) from None
        yield


async def attach_routes(gw: Gateway, profiles: list[Profile]) -> None:
    """Give `gw` a gateway per routed profile, each on its own state.db, sharing
    gw's adapters (they send; only gw listens)."""
    from hermes.gateway.core import Gateway
    from hermes.gateway.routing import Routes
    from hermes.logs import setup_file_logging
    from hermes.store import Store

    gw.routes = Routes.from_settings(gw.profile.settings, gw.profile.name)
    replica = replica_name()
    for routed in profiles:
        setup_file_logging(
            routed.home, "gateway", profile=routed.name, routed=True, replica=replica
        )
        setup_file_logging(
            routed.home,
            "gateway.error",
            logging.WARNING,
            profile=routed.name,
            routed=True,
            replica=replica,
        )
        store = await Store.open(routed.database)
        gw.routed[routed.name] = Gateway(routed, store, list(gw.adapters.values()), listen=False)


async def run_gateway(profile: Profile, say: Callable[[str], None]) -> None:
    routed = routed_profiles(profile, dict(os.environ))  # the environment it inherited
    with routed_locks(routed):
        await _run_gateway(profile, routed, say)


async def _run_gateway(profile: Profile, routed: list[Profile], say: Callable[[str], None]) -> None:
    from hermes.gateway.core import Gateway
    from hermes.providers.http import close_shared_clients
    from hermes.providers.resolve import configured_summary
    from hermes.server.server import HttpServer, build_app
    from hermes.store import Store

    profile, generated = ensure_api_key(profile)
    store = await Store.open(profile.database)
    adapters = build_adapters(profile, store)
    gw = Gateway(profile, store, adapters, api_key=profile.env["HERMES_API_KEY"])
    await attach_routes(gw, routed)
    replica = await _join_cluster(gw, store)
    server = HttpServer(build_app(gw), profile.settings.server.host, profile.settings.server.port)
    stop, force = asyncio.Event(), asyncio.Event()
    loop = asyncio.get_running_loop()

    def on_signal() -> None:
        if stop.is_set():
            force.set()  # a second Ctrl+C: do not wait for running turns
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_signal)
    loop.add_signal_handler(signal.SIGUSR1, gw.wake_schedulers)  # see poke()
    loop.add_signal_handler(signal.SIGHUP, _reloader(gw))  # config.yaml and .env again
    state_path = runtime_dir(profile.home) / STATE_FILE
    watcher: asyncio.Task[None] | None = None
    try:
        if replica is None:
            await gw.start()
        await server.start()
        # what start-up made lives as long as the process: out of the collector's
        # way, and a young generation large enough that 1,000 turns in flight do
        # not run it every few allocations (bench/gateway_load.py: ~7 -> ~4.5 ms CPU
        # per turn)
        gc.freeze()
        gc.set_threshold(20_000, 20, 20)
        url = f"http://{url_host(profile.settings.server.host)}:{server.port}"
        if replica is not None:  # a standby serves the HTTP side until it is active
            _write_state(state_path, url, gw)
            say(f"Cluster replica {replica.id}: standby until it holds the lease")
            await _activate(gw, replica, stop, say)
            if stop.is_set():
                say("Stopped before this replica became active: finishing its turns...")
                await gw.drain(gw.profile.settings.gateway.drain_seconds)
                return
        _write_state(state_path, url, gw)
        log.info("gateway of profile %s up: %s, platforms %s", profile.name, url, list(gw.adapters))
        everywhere = binds_everywhere(profile.settings.server.host)
        where = f" (listening on all addresses, port {server.port})" if everywhere else ""
        say(f"Hermes gateway ({profile.name}) running. Web chat: {url}{where}")
        model = configured_summary(profile.settings.model, profile.env)
        log.info("model: %s", model)
        say(f"Model: {model}")
        if gw.routed:
            say(f"  routed chats are served by profiles: {', '.join(gw.routed)}")
        await _announce_key(profile, say, generated, (store, url))
        say("Stop with Ctrl+C (or SIGTERM).")
        watcher = loop.create_task(_watch_platforms(gw, state_path, url, say))
        await stop.wait()
        say("Stopping: finishing running turns (Ctrl+C again to stop now)...")
        drain = loop.create_task(gw.drain(gw.profile.settings.gateway.drain_seconds))
        forced = loop.create_task(force.wait())
        await asyncio.wait({drain, forced}, return_when=asyncio.FIRST_COMPLETED)
        forced.cancel()
        if not drain.done():
            drain.cancel()
        drained = drain.done() and not drain.cancelled() and drain.result()
        if not drained:
            say("Some turns were still running; they resume at the next start.")
    finally:
        if watcher is not None:
            watcher.cancel()
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGUSR1, signal.SIGHUP):
            loop.remove_signal_handler(sig)
        signal.signal(signal.SIGUSR1, signal.SIG_IGN)  # a late poke must not kill us
        signal.signal(signal.SIGHUP, signal.SIG_IGN)  # nor a late reload
        with contextlib.suppress(OSError):
            state_path.unlink()
        await server.stop()
        await gw.close()
        if replica is not None:
            await replica.leave()
        await store.close()
        await close_shared_clients()
        log.info("gateway stopped")


async def _join_cluster(gw: Gateway, store: Store) -> Replica | None:
    """On PostgreSQL, this gateway is a replica of the tenant's cluster
    (hermes/gateway/cluster.py): registered as a standby, running the turns of
    the chats it claims (hermes/gateway/spread.py) until it is active too."""
    from hermes.gateway.cluster import Replica

    if not store.postgres:
        return None
    replica = Replica(store, gw.profile.home, gw.profile.settings.cluster.lease_seconds)
    await replica.join()
    gw.join(replica)
    return replica


async def _activate(
    gw: Gateway, replica: Replica, stop: asyncio.Event, say: Callable[[str], None]
) -> None:
    """Wait for the lease (or a stop), then start the gateway as the active replica."""

    def lost(why: str) -> None:
        # as if it had crashed: what it had in hand is stored, its successor resumes it
        log.critical("lost the cluster lease (%s): stopping at once", why)
        logging.shutdown()
        os._exit(75)

    async def start() -> None:
        gw.activate(replica)
        await gw.start()

    serving = asyncio.create_task(replica.serve(start, gw.on_cluster_note, lost))
    stopping = asyncio.create_task(stop.wait())
    await asyncio.wait({serving, stopping}, return_when=asyncio.FIRST_COMPLETED)
    stopping.cancel()
    if not serving.done():
        serving.cancel()
        await asyncio.gather(serving, return_exceptions=True)
        return
    serving.result()
    say(f"Cluster replica {replica.id}: active (lease token {replica.token})")


async def _announce_key(
    profile: Profile, say: Callable[[str], None], generated: bool, link: tuple[Store, str]
) -> None:
    """Say where the login key of this profile lives, at every start. Show the key
    itself (and a one-time login link, for another browser or a phone) to the
    person at the terminal only, never in a service's journal or a log file: off
    a terminal, say where it is instead."""
    from hermes.server.auth import CODE_MINUTES, issue_login_code, key_location

    where = key_location(profile)
    key = profile.env["HERMES_API_KEY"]
    if sys.stdout.isatty():
        first = "Generated HERMES_API_KEY" if generated else "Web chat login key (HERMES_API_KEY)"
        say(f"{first} (log in with it): {key}")
        say(f"  (stored in {where})")
        store, url = link
        code = await issue_login_code(store, key)
        say(f"  one-time login link ({CODE_MINUTES} min, no key in it): {url}/#code={code}")
    elif generated:
        say(f"Generated HERMES_API_KEY into {where} (not shown here: read it there)")
    else:
        say(f"Log in to the web chat with HERMES_API_KEY from {where} (not shown here)")


def _reloader(gw: Gateway) -> Callable[[], None]:
    """The SIGHUP handler: reload the served profiles' config.yaml and .env
    (hermes/gateway/reload.py), one reload at a time."""
    from hermes.gateway.reload import reload_gateway

    lock = asyncio.Lock()
    running: set[asyncio.Task[bool]] = set()

    async def reload() -> bool:
        async with lock:
            try:
                return await reload_gateway(gw, dict(os.environ))  # the inherited environment
            except Exception:
                log.exception("config reload failed")
                return False

    def on_hup() -> None:
        task = asyncio.get_running_loop().create_task(reload(), name="reload")
        running.add(task)
        task.add_done_callback(running.discard)

    return on_hup


async def _watch_platforms(
    gw: Gateway, state_path: Path, url: str, say: Callable[[str], None]
) -> None:
    """Say when a platform connects, drops or fails, and keep gateway.json current
    (`hermes doctor` reads it). Platforms change state rarely: a look every second."""
    shown: dict[str, str] = {}
    written: object = None
    while True:
        states = {n: s for n, s in gw.platform_states().items() if n != "web"}
        if states != shown:
            for name, state in states.items():
                if shown.get(name) != state and state != "starting":
                    say(f"  {name}: {state}")
            shown = states
        details = gw.platform_details()  # last inbound/sent too: at most a write a second
        if details != written:
            _write_state(state_path, url, gw)
            written = details
        await asyncio.sleep(1.0)


def _write_state(path: Path, url: str, gw: Gateway) -> None:
    write_state(
        path,
        {
            "url": url,
            "profile": gw.profile.name,
            "started_at": gw.started_at,
            "platforms": gw.platform_states(),
            "platform_details": gw.platform_details(),
            # in a cluster: "standby" or "active" (hermes/gateway/cluster.py)
            "role": gw.replica.role if gw.replica is not None else None,
        },
    )
