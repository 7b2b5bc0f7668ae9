"""POST /api/hermes/send {target, text}: what `hermes send` calls while the
gateway runs, so the message goes through the running gateway's ledger; and
GET /api/hermes/chats, the chats messages came from with their names.

It answers once the first attempt is made: 200 `{"status": "sent"|"pending",
"delivery_id", "last_error"}` (pending: it is retried while the gateway runs),
or a 502 error when the platform refused it for good. A target on a platform
that is unknown or not connected is a 400 saying how to configure it; a web
chat that does not exist a 404."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from hermes.gateway.sending import queued, wait_for_attempt
from hermes.gateway.targets import TargetError, check_target
from hermes.server.httpio import BadRequest, clip, cut, error_response, read_object
from hermes.store import chat_ops
from hermes.store import gateway_ops as ops

if TYPE_CHECKING:
    from hermes.gateway.core import Gateway


def routes(gw: Gateway) -> list[Route]:
    async def send(request: Request) -> JSONResponse:
        try:
            body = await read_object(request, example='{"target": "telegram:123", "text": "hi"}')
            target_text, text = body.get("target"), body.get("text")
            if not isinstance(target_text, str) or not isinstance(text, str):
                raise BadRequest('"target" and "text" must be strings')
        except ValueError as exc:  # BadRequest
            return error_response(400, f"bad request: {exc}")
        try:
            target = check_target(target_text, set(gw.adapters), str(gw.profile.home / ".env"))
        except TargetError as exc:
            return error_response(400, cut(str(exc), 300))
        if not text.strip():
            return error_response(400, "the text is empty")
        missing = await gw.store.run(chat_ops.missing_web_chat, target)
        if missing:
            return error_response(400, missing)
        delivery_id = await gw.store.run(ops.queue_delivery, queued(target, text), time.time())
        assert delivery_id is not None
        gw.wake(target.platform)
        outcome = await wait_for_attempt(gw.store, delivery_id)
        if outcome.status == "failed":
            return error_response(
                502,
                f"delivery {delivery_id} to {clip(str(target))} failed: {outcome.error}",
                code="send_failed",
            )
        return JSONResponse(
            {"status": outcome.status, "delivery_id": delivery_id, "last_error": outcome.error}
        )

    async def chats(request: Request) -> JSONResponse:
        """The chats messages came from, with their names (the dashboard shows them)."""
        return JSONResponse({"chats": await gw.store.run(chat_ops.listing)})

    async def wake(request: Request) -> JSONResponse:
        """Something outside queued deliveries (e.g. `hermes pairing approve`)."""
        for name in gw.adapters:
            gw.wake(name)
        return JSONResponse({"status": "ok"})

    return [
        Route("/api/hermes/send", send, methods=["POST"]),
        Route("/api/hermes/wake", wake, methods=["POST"]),
        Route("/api/hermes/chats", chats, methods=["GET"]),
    ]
