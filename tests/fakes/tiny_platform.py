"""A made-up platform module for tests/test_platform_registry.py: everything a real
platform declares (credentials, a settings section with a flat routing form, a
length counted in UTF-8 bytes, a cursor, a webhook route), in one file that the
test adds to `hermes.platforms.MODULES` and nowhere else."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from hermes.gateway.events import Inbound, Outbound
from hermes.platforms.adapter import Adapter, Sink
from hermes.platforms.spec import Build, Capabilities, Credential, Cursor, Platform, section
from hermes.settings import profile_name

NAME = "tiny"
MAX_BYTES = 40


@dataclass
class TinySettings:
    rooms: dict[str, str] = field(default_factory=dict, metadata={"each_leaf": profile_name})
    greeting: str = "hello"
    loud: bool = False


class TinyAdapter(Adapter):
    name = NAME
    trusted = True  # no allowlist or pairing: the test is about the registry
    capabilities = Capabilities(max_length=MAX_BYTES, length_unit="bytes", can_edit=False)

    def __init__(self, settings: TinySettings, cursor: Cursor | None) -> None:
        self.settings = settings
        self.cursor = cursor
        self.sink: Sink | None = None
        self.sent: list[Outbound] = []
        self._ids = itertools.count(1)

    async def run(self, sink: Sink) -> None:
        import asyncio

        self.sink = sink
        self.state = "connected"
        await asyncio.Event().wait()

    async def send(self, message: Outbound) -> str:
        self.sent.append(message)
        return str(next(self._ids))


def build(spec: Build) -> TinyAdapter:
    cursor = spec.cursor(f"{NAME}.place.{spec.profile.env['TINY_TOKEN']}") if spec.cursor else None
    return TinyAdapter(section(spec.profile.settings, PLATFORM), cursor)


def routes(adapter: TinyAdapter) -> list[BaseRoute]:
    async def hook(request: Request) -> Response:
        body = await request.json()
        if adapter.sink is None:
            return JSONResponse({"ok": False}, status_code=503)
        event = Inbound(NAME, body["room"], body["user"], body["text"], body["id"])
        await adapter.sink(event)  # returns once stored
        if adapter.cursor is not None:
            await adapter.cursor.save(body["id"])
        return JSONResponse({"ok": True})

    return [Route("/hook", hook, methods=["POST"])]


PLATFORM = Platform(
    name=NAME,
    title="Tiny",
    required=("TINY_TOKEN",),
    how="set TINY_TOKEN (any text)",
    build=build,
    capabilities=TinyAdapter.capabilities,
    credentials=(Credential("TINY_TOKEN", "the Tiny token"),),
    settings=TinySettings,
    routes=routes,
    flat_routes="rooms",
)
