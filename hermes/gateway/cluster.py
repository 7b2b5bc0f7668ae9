"""One replica of a cluster: gateways of one profile (tenant) on one PostgreSQL.

Every `hermes gateway run` started with the same HERMES_DATABASE_URL joins the
tenant's cluster (hermes/store/cluster_ops.py). At most ONE replica is
*active*: it holds the ``gateway`` lease, and with it the platform
connections that only one client may hold (Telegram polling, Discord and Slack
sockets, Signal events, Matrix sync, IMAP), the couriers that send replies, the
scheduler and the tasks. The others are *standbys*: they serve the HTTP side
(webhooks, the API) and run turns of the chats they claim (spread.py: any
replica runs turns), beat every third of ``cluster.lease_seconds`` (a replica's
chats are its own while it beats) and try for the lease as often.

The active replica renews the lease every third of it. One that cannot renew
it (it was taken, or the database stayed out of reach until its lease ran out)
stops at once, as if it had crashed (``on_lost``): everything it had in hand
is stored, and its successor resumes it as any gateway resumes after a crash.
Until then its courier sends only while the lease is surely still its own
(``holds``). A clean stop releases the lease and wakes the standbys, so
taking over is immediate; after a crash it takes at most ``lease_seconds``.

The profile's files (config.yaml, .env, SOUL.md, memories, skills, the
workspace) must be the same for every replica: one shared volume mounted as
the home on every replica (docs/scale-out.md). ``join`` refuses to start a
replica whose home is another volume than the one the tenant's replicas use.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from hermes.aio import wait_event
from hermes.errors import HermesError
from hermes.pidfile import REPLICA_VARIABLE
from hermes.store import Store
from hermes.store import cluster_ops as ops
from hermes.store.db import Conn

log = logging.getLogger("hermes.gateway.cluster")

LEASE = "gateway"
CHANNEL = "hermes"
VOLUME_FILE = ".volume-id"
VOLUME_KEY = "cluster.volume"
SAFETY = 0.8  # act on a lease for this share of it after the renewal was sent


def volume_id(home: Path) -> str:
    """The id of the volume the home is on: a random id kept in HOME/.volume-id,
    made by the first replica that runs on it. Replicas that share the volume
    read the same id; a home on another disk has another."""
    path = home / VOLUME_FILE
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as f:
        f.write(secrets.token_hex(8) + "\n")
    return path.read_text().strip()


def check_volume(conn: Conn, volume: str, home: Path) -> None:
    """Refuse a home that is not the tenant's volume (the first replica's is)."""
    recorded = ops.claim_volume(conn, VOLUME_KEY, volume)
    if recorded != volume:
        raise HermesError(
            f"this replica's home {home} is not the volume the profile's other replicas"
            f" use (volume {recorded}, here {volume}): memories, skills, SOUL.md and"
            " config.yaml written here would not be theirs. Mount the shared volume as"
            " the home on every replica (docs/scale-out.md), or, if this home is the one"
            " to keep from now on, run `hermes cluster adopt` here"
        )


def notify_tenant(conn: Conn, kind: str) -> bool:
    """From the command line: tell the tenant's replicas (e.g. "cron": jobs
    changed). True if one is active to hear it."""
    from hermes.store.pg import PgConnection

    if not isinstance(conn, PgConnection):
        return False
    ops.notify(conn, CHANNEL, payload(conn.target.schema, kind))
    now = ops.now(conn)
    return any(x.holder and x.expires_at > now for x in ops.leases(conn) if x.name == LEASE)


def payload(schema: str, kind: str) -> str:
    """A notification: the tenant's schema (tenants share the channel) and what."""
    return f"{schema}:{kind}"


class Replica:
    def __init__(self, store: Store, home: Path, lease_seconds: float) -> None:
        self.store = store
        self.home = home
        self.lease_seconds = lease_seconds
        self.schema = getattr(store.where, "schema", "")
        name = os.environ.get(REPLICA_VARIABLE) or socket.gethostname()
        self.id = f"{name}:{os.getpid()}:{secrets.token_hex(2)}"
        self.token: int | None = None
        self.role = "standby"
        self._valid_until = 0.0  # monotonic: act as the holder until then
        self.woken = asyncio.Event()  # the lease may be free (a release was announced)
        self.turns = 0  # chat turns this replica took on (hermes/gateway/spread.py)
        self.holding: Callable[[], bool] = lambda: False  # whether it runs chats now
        self._tasks: list[asyncio.Task[None]] = []  # the listener and the renewals

    async def join(self) -> None:
        """Register as a standby; refuse a home on another volume (see check_volume)."""
        volume = volume_id(self.home)
        await self.store.run(check_volume, volume, self.home)
        await self.store.run(ops.register, self.id, socket.gethostname(), os.getpid(), volume)
        await self.store.run(ops.forget_dead, 24 * 3600.0)

    async def acquire(self, on_lost: Callable[[str], None] | None = None) -> int:
        """Wait (as a standby, beating: its chat claims are good while it beats)
        until this replica holds the lease; its token. A standby that runs chats
        and could not beat for most of a lease stops (on_lost): its chats may be
        another replica's by now."""
        beaten = time.monotonic()
        while True:
            self.woken.clear()
            sent = time.monotonic()
            try:
                token = await self.store.run(ops.acquire, LEASE, self.id, self.lease_seconds)
                if token is not None:
                    self.token = token
                    self._valid_until = sent + self.lease_seconds * SAFETY
                    self.role = "active"
                    await self.store.run(ops.beat, self.id, self.role, self.turns)
                    log.info("replica %s is active (lease token %d)", self.id, token)
                    return token
                await self.store.run(ops.beat, self.id, self.role, self.turns)
                beaten = sent
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("could not reach the cluster's database: %s", exc)
                late = time.monotonic() - beaten >= self.lease_seconds * SAFETY
                if on_lost is not None and late and self.holding():
                    on_lost("the database was out of reach for most of a lease")
            await wait_event(self.woken, self.lease_seconds / 3)

    def holds(self) -> bool:
        """Whether this replica surely still holds the lease (fencing for sends)."""
        return self.token is not None and time.monotonic() < self._valid_until

    async def keep(self, on_lost: Callable[[str], None]) -> None:
        """Renew the lease every third of it until cancelled; on_lost(why) when it
        is gone or could not be renewed before it ran out."""
        assert self.token is not None
        while True:
            await asyncio.sleep(self.lease_seconds / 3)
            sent = time.monotonic()
            try:
                async with asyncio.timeout(self.lease_seconds / 3):
                    kept = await self.store.run(
                        ops.renew, LEASE, self.id, self.token, self.lease_seconds
                    )
                    await self.store.run(ops.beat, self.id, self.role, self.turns)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("could not renew the cluster lease: %s", str(exc) or type(exc).__name__)
                if time.monotonic() >= self._valid_until:
                    on_lost("the database was out of reach until the lease ran out")
                    return
                continue
            if not kept:
                on_lost("another replica holds the lease now")
                return
            self._valid_until = sent + self.lease_seconds * SAFETY

    async def serve(
        self,
        start: Callable[[], Awaitable[None]],
        on_note: Callable[[str], None],
        on_lost: Callable[[str], None],
    ) -> None:
        """Listen for the tenant's notifications (on_note(kind)), wait for the
        lease, then start() the gateway and keep the lease. Returns once active;
        the listener and the renewals run on until leave()."""

        def heard(text: str) -> None:
            mine, _, kind = text.partition(":")
            if mine != self.schema:
                return
            if kind == "lease":
                self.woken.set()
            on_note(kind)

        from hermes.store.pg import PgTarget, listen

        assert isinstance(self.store.where, PgTarget)
        self._tasks.append(asyncio.create_task(listen(self.store.where, CHANNEL, heard)))
        await self.acquire(on_lost)
        await start()
        self._tasks.append(asyncio.create_task(self.keep(on_lost)))

    async def announce(self, kind: str) -> None:
        """Tell the tenant's other replicas (e.g. "inbound": a message to adopt)."""
        await self.store.run(ops.notify, CHANNEL, payload(self.schema, kind))

    async def leave(self) -> None:
        """A clean stop: give the lease up and wake the standbys."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        try:
            if self.token is not None:
                await self.store.run(ops.release, LEASE, self.id, self.token)
            self.token = None
            self.role = "stopped"
            await self.store.run(ops.beat, self.id, self.role, self.turns)
            await self.store.run(ops.notify, CHANNEL, payload(self.schema, "lease"))
        except Exception as exc:  # the database is gone: the lease lapses by itself
            log.warning("could not release the cluster lease: %s", exc)
