"""POST /api/hermes/send {target, text}: what `hermes send` calls while the
gateway runs, so the message goes through the running gateway's ledger."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from hermes.gateway.events import Target
from hermes.gateway.sending import queued, wait_for_attempt
from hermes.store import gateway_ops as ops

if TYPE_CHECKING:
    from hermes.gateway.core import Gateway


def routes(gw: Gateway) -> list[Route]:
    async def send(request: Request) -> JSONResponse:
        try:
            body = await request.json()
            target = Target.parse(str(body["target"]))
            text = str(body["text"])
        except (ValueError, KeyError, TypeError, RecursionError) as exc:
            return JSONResponse({"error": f"bad request: {exc}"}, status_code=400)
        if not text.strip():
            return JSONResponse({"error": "the text is empty"}, status_code=400)
        if target.platform not in gw.adapters:
            known = ", ".join(sorted(gw.adapters))
            return JSONResponse(
                {"error": f"platform {target.platform!r} is not connected (connected: {known})"},
                status_code=400,
            )
        delivery_id = await gw.store.run(ops.queue_delivery, queued(target, text), time.time())
        assert delivery_id is not None
        gw.wake(target.platform)
        outcome = await wait_for_attempt(gw.store, delivery_id)
        return JSONResponse(
            {"status": outcome.status, "delivery_id": delivery_id, "error": outcome.error},
            status_code=200 if outcome.status != "failed" else 502,
        )

    async def wake(request: Request) -> JSONResponse:
        """Something outside queued deliveries (e.g. `hermes pairing approve`)."""
        for name in gw.adapters:
            gw.wake(name)
        return JSONResponse({"status": "ok"})

    return [
        Route("/api/hermes/send", send, methods=["POST"]),
        Route("/api/hermes/wake", wake, methods=["POST"]),
    ]
