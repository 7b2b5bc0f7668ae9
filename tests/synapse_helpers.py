"""A real Matrix homeserver for the Matrix tests: Synapse on loopback, and a user.

`Synapse` writes a minimal homeserver.yaml into a temporary directory (SQLite, one
plain-HTTP client listener on 127.0.0.1, no federation, a registration shared secret,
rate limits relaxed), starts `.venv-synapse/bin/python -m synapse.app.homeserver`
(`scripts/install test` puts Synapse in that venv of its own), waits for /health and
registers users through the admin API (shared-secret HMAC). It can be stopped and
started again on the same database (a homeserver restart mid-session).

`MatrixUser` is "the user": plain HTTP calls to the client-server API, and its own
/sync to see what the bot sent (edits applied, as a client shows them).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import os
import secrets
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
PYTHON = ROOT / ".venv-synapse" / "bin" / "python"
SERVER_NAME = "hermes.test"
JSON = dict[str, Any]
_names = itertools.count(1)

LOG_CONFIG = """\
version: 1
formatters:
  plain: {format: '%(asctime)s %(name)s %(levelname)s %(message)s'}
handlers:
  file: {class: logging.FileHandler, formatter: plain, filename: LOGFILE}
root: {level: WARNING, handlers: [file]}
disable_existing_loggers: false
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _unlimited(per_second: float = 1000, burst: float = 10000) -> JSON:
    return {"per_second": per_second, "burst_count": burst}


class Synapse:
    """One Synapse homeserver process on loopback (see the module docstring)."""

    def __init__(self, directory: Path) -> None:
        if (
            not PYTHON.exists()
            or subprocess.run([str(PYTHON), "-c", "import synapse"], capture_output=True).returncode
        ):
            raise AssertionError(
                "Synapse is not installed in .venv-synapse: run scripts/install test"
            )
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.secret = secrets.token_hex(16)
        self.config = self.dir / "homeserver.yaml"
        self.log_file = self.dir / "homeserver.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self._write_config()

    def _write_config(self) -> None:
        seed = base64.b64encode(os.urandom(32)).decode().rstrip("=")
        (self.dir / "signing.key").write_text(f"ed25519 a_test {seed}\n")
        (self.dir / "log.yaml").write_text(LOG_CONFIG.replace("LOGFILE", str(self.log_file)))
        limited = _unlimited()
        config: JSON = {
            "server_name": SERVER_NAME,
            "pid_file": str(self.dir / "homeserver.pid"),
            "public_baseurl": self.url + "/",
            "listeners": [
                {
                    "port": self.port,
                    "bind_addresses": ["127.0.0.1"],
                    "type": "http",
                    "tls": False,
                    "x_forwarded": False,
                    "resources": [{"names": ["client"], "compress": False}],
                }
            ],
            "database": {"name": "sqlite3", "args": {"database": str(self.dir / "homeserver.db")}},
            "log_config": str(self.dir / "log.yaml"),
            "media_store_path": str(self.dir / "media"),
            "signing_key_path": str(self.dir / "signing.key"),
            "registration_shared_secret": self.secret,
            "macaroon_secret_key": secrets.token_hex(16),
            "form_secret": secrets.token_hex(16),
            "report_stats": False,
            "enable_metrics": False,
            "trusted_key_servers": [],
            "suppress_key_server_warning": True,
            "federation_domain_whitelist": [],
            "presence": {"enabled": False},
            "url_preview_enabled": False,
            "enable_registration": False,
            "rc_message": limited,
            "rc_registration": limited,
            "rc_login": {"address": limited, "account": limited, "failed_attempts": limited},
            "rc_joins": {"local": limited, "remote": limited},
            "rc_joins_per_room": limited,
            "rc_invites": {"per_room": limited, "per_user": limited, "per_issuer": limited},
            "rc_room_creation": limited,
            "rc_admin_redaction": limited,
            "rc_profile": limited,
        }
        self.config.write_text(json.dumps(config, indent=1))  # JSON is YAML

    # -- the process ------------------------------------------------------------------

    def start(self, seconds: float = 60.0) -> Synapse:
        """Start the homeserver and wait (with a deadline) until /health answers."""
        assert self.proc is None or self.proc.poll() is not None, "already running"
        self.proc = subprocess.Popen(
            [str(PYTHON), "-m", "synapse.app.homeserver", "-c", str(self.config)],
            cwd=str(self.dir),
            stdout=subprocess.DEVNULL,
            stderr=open(self.dir / "stderr.log", "ab"),  # noqa: SIM115 - the child keeps it
        )
        deadline = time.monotonic() + seconds
        while not self.healthy():
            if self.proc.poll() is not None:
                raise AssertionError(f"Synapse exited ({self.proc.returncode}):\n{self.logs()}")
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"Synapse did not answer /health in {seconds} s\n{self.logs()}"
                )
            time.sleep(0.05)
        return self

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/health", timeout=2) as response:
                return bool(response.status == 200)
        except (OSError, urllib.error.URLError):
            return False

    def stop(self, seconds: float = 30.0) -> None:
        """Stop the homeserver (SIGTERM, then SIGKILL after SECONDS)."""
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=seconds)

    def restart(self) -> None:
        self.stop()
        self.start()

    def logs(self) -> str:
        parts = []
        for name in ("stderr.log", "homeserver.log"):
            path = self.dir / name
            if path.exists():
                parts.append(path.read_text(errors="replace")[-4000:])
        return "\n".join(parts)

    def __enter__(self) -> Synapse:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- users ------------------------------------------------------------------------

    def register(self, name: str | None = None, *, admin: bool = False) -> MatrixUser:
        """A new user (a unique name unless NAME is given) via the shared-secret admin API."""
        username = name or f"user{next(_names)}x{secrets.token_hex(3)}"
        password = secrets.token_hex(12)
        with httpx.Client(base_url=self.url, timeout=30) as client:
            nonce = client.get("/_synapse/admin/v1/register").json()["nonce"]
            mac = hmac.new(self.secret.encode(), digestmod=hashlib.sha1)
            for part in (nonce, username, password):
                mac.update(part.encode() + b"\x00")
            mac.update(b"admin" if admin else b"notadmin")
            body = {
                "nonce": nonce,
                "username": username,
                "password": password,
                "admin": admin,
                "mac": mac.hexdigest(),
            }
            answer = client.post("/_synapse/admin/v1/register", json=body)
        answer.raise_for_status()
        data = answer.json()
        return MatrixUser(self, data["user_id"], data["access_token"], password)


@dataclass
class Seen:
    """One message as the user's client shows it: the latest edit applied."""

    event_id: str
    sender: str
    content: JSON  # as sent, or its latest m.new_content
    original: JSON  # the event's content as first sent
    edits: int = 0

    @property
    def body(self) -> str:
        return str(self.content.get("body", ""))

    @property
    def thread(self) -> str | None:
        rel = self.original.get("m.relates_to") or {}
        return rel.get("event_id") if rel.get("rel_type") == "m.thread" else None


@dataclass
class MatrixUser:
    """A Matrix user driven by the test over the client-server API."""

    server: Synapse
    user_id: str
    token: str
    password: str
    since: str | None = None
    rooms: dict[str, list[Seen]] = field(default_factory=dict)  # room -> messages in order
    events: dict[str, JSON] = field(default_factory=dict)  # every event seen, by id
    invites: set[str] = field(default_factory=set)
    _txn: itertools.count[int] = field(default_factory=itertools.count)

    def _client(self) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {self.token}"}
        return httpx.AsyncClient(base_url=self.server.url, headers=headers, timeout=30)

    async def call(self, method: str, path: str, body: JSON | None = None, **params: Any) -> JSON:
        async with self._client() as client:
            answer = await client.request(
                method, f"/_matrix/client/v3{path}", json=body, params=params
            )
        if answer.status_code >= 400:
            raise AssertionError(f"{method} {path}: {answer.status_code} {answer.text}")
        data: JSON = answer.json()
        return data

    async def create_room(
        self,
        *,
        invite: list[str] = (),
        direct: bool = False,
        encrypted: bool = False,  # type: ignore[assignment]
    ) -> str:
        body: JSON = {"invite": list(invite), "is_direct": direct, "preset": "private_chat"}
        if encrypted:
            body["initial_state"] = [
                {
                    "type": "m.room.encryption",
                    "state_key": "",
                    "content": {"algorithm": "m.megolm.v1.aes-sha2"},
                }
            ]
        return str((await self.call("POST", "/createRoom", body))["room_id"])

    async def invite(self, room: str, user: str) -> None:
        await self.call("POST", f"/rooms/{room}/invite", {"user_id": user})

    async def join(self, room: str) -> None:
        await self.call("POST", f"/join/{room}", {})

    async def send(self, room: str, content: JSON, kind: str = "m.room.message") -> str:
        txn = f"t{time.time_ns()}{next(self._txn)}"
        sent = await self.call("PUT", f"/rooms/{room}/send/{kind}/{txn}", content)
        return str(sent["event_id"])

    async def say(
        self,
        room: str,
        text: str,
        *,
        thread: str | None = None,
        reply_to: str | None = None,
        mentions: list[str] | None = None,
    ) -> str:
        content: JSON = {"msgtype": "m.text", "body": text}
        if thread is not None:
            content["m.relates_to"] = {
                "rel_type": "m.thread",
                "event_id": thread,
                "is_falling_back": True,
                "m.in_reply_to": {"event_id": reply_to or thread},
            }
        elif reply_to is not None:
            content["m.relates_to"] = {"m.in_reply_to": {"event_id": reply_to}}
        if mentions is not None:
            content["m.mentions"] = {"user_ids": mentions}
        return await self.send(room, content)

    async def react(self, room: str, event_id: str, key: str) -> str:
        relation = {"rel_type": "m.annotation", "event_id": event_id, "key": key}
        return await self.send(room, {"m.relates_to": relation}, "m.reaction")

    async def logout(self) -> None:
        await self.call("POST", "/logout", {})

    async def members(self, room: str) -> dict[str, str]:
        """user id -> membership, from the room's state."""
        state = await self.call("GET", f"/rooms/{room}/members")
        return {e["state_key"]: e["content"]["membership"] for e in state["chunk"]}

    # -- what the user's client shows -------------------------------------------------

    async def sync(self, timeout_ms: int = 500) -> None:
        """One /sync: new messages and edits into `rooms`, new invites into `invites`."""
        params: dict[str, Any] = {
            "timeout": timeout_ms if self.since else 0,
            "filter": json.dumps({"room": {"timeline": {"limit": 1000}}}),
        }
        if self.since:
            params["since"] = self.since
        async with self._client() as client:
            answer = await client.get(
                "/_matrix/client/v3/sync", params=params, timeout=timeout_ms / 1000 + 30
            )
        answer.raise_for_status()
        data = answer.json()
        self.since = data["next_batch"]
        rooms = data.get("rooms", {})
        self.invites |= set(rooms.get("invite", {}))
        for room_id, room in rooms.get("join", {}).items():
            for event in room.get("timeline", {}).get("events", []):
                self._take(room_id, event)

    def _take(self, room_id: str, event: JSON) -> None:
        self.events[event["event_id"]] = event
        if event.get("type") != "m.room.message":
            return
        content = event.get("content") or {}
        rel = content.get("m.relates_to") or {}
        seen = self.rooms.setdefault(room_id, [])
        if rel.get("rel_type") == "m.replace":
            for message in seen:
                if message.event_id == rel.get("event_id"):
                    message.content = content.get("m.new_content") or content
                    message.edits += 1
            return
        seen.append(Seen(event["event_id"], event["sender"], content, content))

    def bot_messages(self, room: str, bot: str, thread: str | None = None) -> list[Seen]:
        return [m for m in self.rooms.get(room, []) if m.sender == bot and m.thread == thread]

    async def sees(
        self, room: str, bot: str, expected: list[str], thread: str | None = None
    ) -> bool:
        """Whether the bot's messages in ROOM (THREAD) read EXPECTED now (for wait_until)."""
        return await self.shown(room, bot, thread) == expected

    async def shown(self, room: str, bot: str, thread: str | None = None) -> list[str]:
        """The bodies of the bot's messages in ROOM (in THREAD, or outside threads) now."""
        await self.sync()
        return [m.body for m in self.bot_messages(room, bot, thread)]


async def joined(user: MatrixUser, room: str, who: str, membership: str = "join") -> bool:
    """Whether WHO's membership in ROOM is MEMBERSHIP (for wait_until)."""
    return (await user.members(room)).get(who) == membership


async def dm(user: MatrixUser, bot: str) -> str:
    """A direct chat USER opens with the bot (the bot still has to accept the invite)."""
    return await user.create_room(invite=[bot], direct=True)
