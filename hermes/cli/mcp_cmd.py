"""`hermes mcp serve [--stdio]`: the Hermes MCP server (SPEC §8).

The gateway serves MCP itself at /mcp (streamable HTTP), so plain `hermes mcp
serve` only says where. `--stdio` is for MCP clients that spawn a command: it
speaks MCP on stdin/stdout and calls the gateway's HTTP API, at
HERMES_MCP_URL (environment or the home's .env), else the running gateway's
URL, else the configured server.host:port, with the home's HERMES_API_KEY.
stdout is the protocol, so nothing else is ever printed there: warnings go to
stderr, which such clients keep as the server's log.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from hermes.context import Profile
from hermes.errors import HermesError
from hermes.logs import FORMAT


def cmd_mcp(args: argparse.Namespace) -> int:
    from hermes.home import load_profile
    from hermes.pidfile import read_state

    profile = load_profile(args.profile)
    state = read_state(profile.home)
    if not args.stdio:
        url = str(state["url"]) if state else configured_url(profile)
        running = "running" if state else "not running; start it with `hermes gateway run`"
        print(
            f"The MCP server is served by the gateway at {url}/mcp ({running}); "
            "`hermes mcp serve --stdio` serves it over stdio for clients that spawn a command."
        )
        return 0
    key = profile.env.get("HERMES_API_KEY", "").strip()
    if not key:
        raise HermesError(
            f"HERMES_API_KEY is not set in {profile.home / '.env'}; "
            "start the gateway once (`hermes gateway run`) to generate it"
        )
    url = profile.env.get("HERMES_MCP_URL", "").strip() or (
        str(state["url"]) if state else configured_url(profile)
    )
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format=FORMAT)
    asyncio.run(serve_stdio(api_base(url), key))
    return 0


def configured_url(profile: Profile) -> str:
    """Where this profile's gateway listens, from config.yaml (server.host:port)."""
    from hermes.pidfile import url_host

    server = profile.settings.server
    return f"http://{url_host(server.host)}:{server.port}"


def api_base(url: str) -> str:
    """The gateway's base URL; HERMES_MCP_URL may name the /mcp endpoint itself."""
    return url.rstrip("/").removesuffix("/mcp")


async def serve_stdio(url: str, api_key: str) -> None:
    """MCP on stdin/stdout until the client closes stdin."""
    import httpx

    from hermes.mcp_server import build_server

    headers = {"Authorization": f"Bearer {api_key}"}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=60) as client:
        await build_server(client, where=url).run_stdio_async()
