"""Helpers for gateway tests: a home pointed at a ScriptedModel, an in-memory
chat platform, and a gateway running in the test's event loop."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import yaml

from hermes.gateway.core import Gateway
from hermes.gateway.events import Inbound, Outbound, Target
from hermes.home import load_profile
from hermes.platforms.adapter import Adapter, AdapterUnavailable, SendError, Sink
from hermes.platforms.spec import Capabilities
from hermes.store import Store
from hermes.testing import ScriptedModel


def make_home(
    path: Path,
    model: ScriptedModel | None = None,
    config: dict[str, Any] | None = None,
    env: dict[str, str] | None = None,
) -> Path:
    """A Hermes home at `path` whose model is `model`, with extra config and .env."""
    path.mkdir(parents=True, exist_ok=True)
    # the skills review and the memory nudge make model calls of their own after a
    # turn: off unless a test turns them on (tests/test_skills_learning.py)
    data: dict[str, Any] = {"skills": {"review_after_tool_calls": 0}, "memory": {"nudge_turns": 0}}
    if model is not None:
        data["model"] = {**model.config(), "max_retries": 0}
    for section, values in (config or {}).items():
        data.setdefault(section, {}).update(values)
    (path / "config.yaml").write_text(yaml.safe_dump(data))
    lines = [f"{k}={v}" for k, v in (env or {}).items()]
    (path / ".env").write_text("\n".join(lines) + "\n")
    (path / ".env").chmod(0o600)
    return path


class FakeChat(Adapter):
    """An in-memory chat platform: tests say things, the gateway answers."""

    def __init__(
        self,
        name: str = "fakechat",
        *,
        trusted: bool = True,
        capabilities: Capabilities | None = None,
    ) -> None:
        self.name = name
        self.trusted = trusted
        self.capabilities = capabilities or Capabilities(
            max_length=4096, can_edit=True, edit_interval=0.01
        )
        self.sink: Sink | None = None
        self.sent: list[Outbound] = []
        self.ids: list[str] = []  # message id of each entry of `sent`
        self.edits: list[tuple[str, str]] = []
        self.texts: dict[str, str] = {}  # message id -> current text
        self.failing: SendError | None = None
        self._ids = itertools.count(1)
        self._updates = itertools.count(1)
        self.connected = asyncio.Event()

    async def run(self, sink: Sink) -> None:
        self.sink = sink
        self.state = "connected"
        self.connected.set()
        await asyncio.Event().wait()

    async def say(self, text: str, *, chat: str = "1", user: str = "42", **kw: Any) -> Inbound:
        """A user sends `text`; returns once the gateway stored it."""
        await asyncio.wait_for(self.connected.wait(), 10)
        assert self.sink is not None
        event = Inbound(
            self.name, chat, user, text, kw.pop("external_id", str(next(self._updates))), **kw
        )
        await self.sink(event)
        return event

    async def send(self, message: Outbound) -> str:
        if self.failing is not None:
            raise self.failing
        message_id = str(next(self._ids))
        self.sent.append(message)
        self.ids.append(message_id)
        self.texts[message_id] = message.text
        return message_id

    async def edit(self, target: Target, message_id: str, text: str) -> None:
        if self.failing is not None:
            raise self.failing
        self.edits.append((message_id, text))
        self.texts[message_id] = text

    def shown(self, chat: str = "1") -> list[str]:
        """What the chat shows now: each message's current text, in order."""
        return [
            self.texts[mid]
            for mid, m in zip(self.ids, self.sent, strict=True)
            if m.target.chat == chat
        ]


@asynccontextmanager
async def running_gateway(
    home: Path,
    adapters: Sequence[Adapter] = (),
    *,
    api_key: str = "test-key",
    env: dict[str, str] | None = None,
    profile_name: str | None = None,
    **kw: Any,
) -> AsyncIterator[Gateway]:
    """A started gateway on `home` (no HTTP server); drained and closed after.
    `profile_name`: serve that profile of the root `home` instead."""
    profile = load_profile(
        profile_name, env={"HERMES_HOME": str(home), "HOME": str(home), **(env or {})}
    )
    store = await Store.open(profile.db_path)
    gw = Gateway(profile, store, list(adapters), api_key=api_key, **kw)
    try:
        await gw.start()
        yield gw
    finally:
        await gw.drain(0)
        await gw.close()
        await store.close()


STARTED: list[GatewayProcess] = []  # killed after each test (tests/conftest.py)


def kill_leftover_gateways() -> None:
    """A test that failed half-way must not leave its gateway running."""
    while STARTED:
        gateway = STARTED.pop()
        if gateway.proc.poll() is None:
            gateway.proc.kill()
            gateway.proc.wait(timeout=30)
        if gateway.proc.stdout is not None:
            gateway.proc.stdout.close()


class GatewayProcess:
    """`hermes gateway run` as a real subprocess on `home`."""

    def __init__(
        self, home: Path, env: dict[str, str] | None = None, profile: str | None = None
    ) -> None:
        """PROFILE: a profile of the root home (HOME is then ROOT/profiles/PROFILE)."""
        import os
        import subprocess
        import sys

        self.home = home
        replica = (env or {}).get("HERMES_REPLICA")  # one of a cluster's replicas
        run = home / "replicas" / replica if replica else home
        self.state_file = run / "gateway.json"
        self.state_file.unlink(missing_ok=True)
        root = home.parent.parent if profile else home
        full_env = {**os.environ, "HERMES_HOME": str(root), **(env or {})}
        chosen = ["-p", profile] if profile else []
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "hermes", *chosen, "gateway", "run"],
            env=full_env,
            cwd=str(home),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        STARTED.append(self)
        self.url = ""

    async def ready(self, seconds: float = 30.0) -> GatewayProcess:
        """Wait until the gateway wrote gateway.json (it is serving)."""
        import json

        from tests.tools_helpers import wait_until

        await wait_until(lambda: self.state_file.exists() or self.proc.poll() is not None, seconds)
        if self.proc.poll() is not None:
            raise AssertionError(f"the gateway exited: {self.output()}")
        self.url = json.loads(self.state_file.read_text())["url"]
        return self

    def log(self) -> str:
        """The gateway's log file so far (for failure messages)."""
        path = self.home / "logs" / "gateway.log"
        return path.read_text(errors="replace") if path.exists() else "(no gateway.log)"

    def output(self) -> str:
        """Everything it printed (waits for the process to end)."""
        out, _ = self.proc.communicate(timeout=30)
        return out or ""

    async def stop(self, sig: int | None = None, seconds: float = 30.0) -> int:
        import signal

        from tests.tools_helpers import wait_until

        self.proc.send_signal(sig or signal.SIGTERM)
        await wait_until(lambda: self.proc.poll() is not None, seconds)
        return int(self.proc.returncode)


@asynccontextmanager
async def running_adapter(adapter: Adapter, sink: Sink) -> AsyncIterator[asyncio.Task[None]]:
    """ADAPTER running into SINK for the block; cancelled and closed after it."""
    task = asyncio.create_task(adapter.run(sink))
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, AdapterUnavailable):
            await task
        await adapter.close()


def hermes_status(gw: GatewayProcess, api_key: str = "k") -> dict[str, Any]:
    """GET /api/hermes/status of a running gateway (its platforms' states and more)."""
    import json
    import urllib.request

    request = urllib.request.Request(
        f"{gw.url}/api/hermes/status", headers={"Authorization": f"Bearer {api_key}"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        data: dict[str, Any] = json.loads(response.read())
    return data


def stored_user_messages(home: Path, text: str) -> int:
    """How many user messages in HOME's state.db end with TEXT."""
    import sqlite3

    with sqlite3.connect(home / "state.db") as conn:
        row = conn.execute(
            "SELECT COUNT(*) FROM messages WHERE role = 'user' AND content LIKE ?", (f"%{text}",)
        ).fetchone()
    return int(row[0])


def platform_home(
    path: Path,
    model: ScriptedModel,
    name: str,
    section: dict[str, Any],
    env: dict[str, str],
    **config: dict[str, Any],
) -> Path:
    """A home serving on a free port with platform NAME configured by SECTION and ENV (plus
    API key "k"), CONFIG's other sections, and the agent's ~ in it holding a user file
    (notes.txt: medium risk to touch)."""
    home = make_home(
        path,
        model,
        {"server": {"port": 0}, name: section, **config},
        {"HERMES_API_KEY": "k", "HOME": str(path), **env},
    )
    (home / "notes.txt").write_text("precious")
    return home


async def platform_connected(gw: GatewayProcess, name: str) -> GatewayProcess:
    """GW once it serves and its status API says platform NAME is connected."""
    from tests.tools_helpers import wait_until

    await gw.ready()
    await wait_until(lambda: hermes_status(gw)["platforms"].get(name) == "connected", 30, gw.log)
    return gw
