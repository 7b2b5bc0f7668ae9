"""`hermes send PLATFORM:CHAT[:THREAD] TEXT`: through the running gateway if
there is one (its ledger and retries), else queued and tried from here."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import TYPE_CHECKING

from hermes.errors import HermesError

if TYPE_CHECKING:
    from hermes.context import Profile
    from hermes.gateway.events import Target


def cmd_send(args: argparse.Namespace) -> int:
    from hermes.gateway.targets import check_target, configured
    from hermes.home import load_profile
    from hermes.logs import setup_file_logging
    from hermes.pidfile import read_state

    profile = load_profile(args.profile)
    # the one check every front end applies: unknown platform, or how to configure it
    target = check_target(args.target, configured(profile.env), str(profile.home / ".env"))
    text = sys.stdin.read() if args.text == "-" else args.text
    if not text.strip():
        raise HermesError("the message is empty: give the text to send")
    setup_file_logging(profile.home, "agent")  # delivery warnings go to the log, not stderr
    state = read_state(profile.home)
    if state is not None:
        status, error = _through_gateway(str(state["url"]), profile.env, target, text)
    else:
        status, error = asyncio.run(_direct(profile, target, text))
    if status == "sent":
        print(f"sent to {target}")
        return 0
    if status == "pending":
        print(f"queued for {target}: {error}; it will be retried while the gateway runs")
        return 0
    raise HermesError(f"could not send to {target}: {error}")


def _through_gateway(
    url: str, env: dict[str, str], target: Target, text: str
) -> tuple[str, str | None]:
    import httpx

    from hermes.cli.shared import api_error

    key = env.get("HERMES_API_KEY", "")
    try:
        response = httpx.post(
            f"{url}/api/hermes/send",
            json={"target": str(target), "text": text},
            headers={"Authorization": f"Bearer {key}"},
            timeout=30,
        )
        data = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise HermesError(f"the gateway at {url} did not answer ({exc}); is it running?") from exc
    if response.status_code == 401:
        raise HermesError("the gateway refused HERMES_API_KEY from .env; was it changed?")
    if response.status_code in (400, 502):  # a bad target, or refused for good: the API says
        raise HermesError(api_error(data)[1] or f"could not send to {target}")
    if not isinstance(data, dict) or "status" not in data:
        raise HermesError(f"the gateway refused: {api_error(data)[1] or response.text}")
    return str(data["status"]), data.get("last_error")


async def _direct(profile: Profile, target: Target, text: str) -> tuple[str, str | None]:
    from hermes.app import build_adapters
    from hermes.gateway.sending import send_now
    from hermes.gateway.targets import how_to_configure
    from hermes.store import Store

    if target.platform == "web":
        raise HermesError(
            "the web chat is served by the gateway, which is not running: "
            "start it (hermes gateway run), then send again"
        )
    adapters = {a.name: a for a in build_adapters(profile) if a.name != "web"}
    adapter = adapters.get(target.platform)
    if adapter is None:  # configured, yet no adapter (an incomplete setting)
        raise HermesError(how_to_configure(target.platform, str(profile.home / ".env")))
    async with await Store.open(profile.database) as store:
        try:
            outcome = await send_now(store, adapter, target, text)
        finally:
            await adapter.close()
    return outcome.status, outcome.error
