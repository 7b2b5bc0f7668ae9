"""The web chat's HTTP routes: the page, login, sending, live events, history.

The page and its static files need no login (they hold nothing private);
every /api/web route but login needs the API key as a bearer header or the
login cookie. Each login gets a new random session token (auth.WebSessions),
in a cookie named after the gateway's port, that logout revokes. The cookie
is HttpOnly and SameSite=Strict, and POSTs with an Origin header from another
site (another port on this machine counts) are refused, so no other page the
browser opens can act as the owner. Replies reach the page as Server-Sent
Events from the WebAdapter; EventSource sends the cookie by itself, so the
key never travels in a URL.
"""

from __future__ import annotations

import html
import json
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import (
    HTMLResponse,
    JSONResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from hermes.agent.loop import tool_call_summary
from hermes.aio import within
from hermes.errors import HermesError
from hermes.gateway.events import Inbound, Target, session_key
from hermes.platforms.web import WebAdapter
from hermes.platforms.web_audio import SpokenReply
from hermes.providers.describe import offline_notice
from hermes.server import auth
from hermes.server.httpio import BadRequest, clip, error_response, read_object
from hermes.server.webchat_voice import voice_routes
from hermes.store import SessionInfo, StoredMessage, web_ops
from hermes.store.approval_ops import ApprovalRow
from hermes.voice.base import as_heard

if TYPE_CHECKING:
    from hermes.gateway.core import Gateway

STATIC = Path(__file__).parent / "static"
HEARTBEAT = 15.0  # seconds between keep-alive comments on an idle event stream
COOKIE_MAX_AGE = 30 * 24 * 3600
MAX_TEXT = 100_000
MAX_CALLBACK = 256  # a button's data (Telegram allows 64 bytes)
SEND_EXAMPLE = '{"chat": ID, "text": TEXT, "client_id": ID}'
CHAT_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
PAGE_HEADERS = {
    "Cache-Control": "no-cache",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; object-src 'none'; "
        "base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
    ),
}


Handler = Callable[[Request], Awaitable[Response]]


def _error(status: int, message: str) -> JSONResponse:
    """Errors in the same shape as the rest of the server: {"error": {"message", "type"}}."""
    return error_response(status, message)


def web_routes(gw: Gateway, web_sessions: auth.WebSessions | None = None) -> list[BaseRoute]:
    """The routes of the web chat, to include in the gateway's HTTP app. `web_sessions`:
    the logins, shared with the server's Guard (a fresh set when not given)."""
    logins = web_sessions or auth.WebSessions(gw.api_key, gw.store)

    def guarded(handler: Handler) -> Handler:
        """Require the key (bearer or cookie); refuse cross-site POSTs."""

        async def run(request: Request) -> Response:
            if request.method == "POST" and not _same_origin(request):
                return _error(403, "cross-site request refused: use the page at this address")
            if not auth.bearer_ok(
                gw.api_key, request.headers.get("authorization")
            ) and not await logins.valid(request.cookies.get(auth.cookie_name(request.scope))):
                return _error(401, "log in with HERMES_API_KEY (POST /api/web/login or Bearer)")
            return await handler(request)

        return run

    def web() -> WebAdapter | None:
        adapter = gw.adapters.get("web")
        return adapter if isinstance(adapter, WebAdapter) else None

    def decided(row: ApprovalRow) -> None:  # a decision made anywhere: the buttons show it
        adapter = web()
        if adapter is not None:
            adapter.approval_decided(row.id, row.status, row.decided_by or "", row.origin)

    gw.desk.listeners.append(decided)  # one web app per gateway
    where = html.escape(auth.key_location(gw.profile))
    page_html = (STATIC / "index.html").read_text(encoding="utf-8")
    page_html = page_html.replace("{{KEY_LOCATION}}", where)
    page_html = page_html.replace("{{PROFILE}}", html.escape(gw.profile.name))

    async def page(request: Request) -> Response:
        # the login hint names this profile's .env: the one file served with a value in it
        return HTMLResponse(page_html, headers=PAGE_HEADERS)

    async def login(request: Request) -> Response:
        if not _same_origin(request):
            return _error(403, "cross-site request refused: use the page at this address")
        try:
            body = await read_object(request, example='{"key": "hk_..."}')
        except BadRequest as exc:
            return _error(400, str(exc))
        if not gw.api_key:
            return _error(401, "this gateway has no HERMES_API_KEY: restart it to generate one")
        if "code" in body:  # a one-time login link
            if not await auth.redeem_login_code(gw.store, gw.api_key, body["code"]):
                return _error(
                    401,
                    "this login link was used or has expired: log in with HERMES_API_KEY from "
                    f"{auth.key_location(gw.profile)}",
                )
        elif not auth.key_ok(gw.api_key, body.get("key")):
            where = auth.key_location(gw.profile)
            return _error(401, f"wrong key: use HERMES_API_KEY from {where}")
        response = JSONResponse({"ok": True, "profile": gw.profile.name})
        response.set_cookie(
            auth.cookie_name(request.scope),
            await logins.login(),
            max_age=COOKIE_MAX_AGE,
            path="/",
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )
        return response

    async def logout(request: Request) -> Response:
        name = auth.cookie_name(request.scope)
        await logins.logout(request.cookies.get(name))  # that cookie no longer opens anything
        response = JSONResponse({"ok": True})
        response.delete_cookie(name, path="/", httponly=True, samesite="strict")
        return response

    async def send(request: Request) -> Response:
        try:
            body = await read_object(request, example=SEND_EXAMPLE)
        except BadRequest as exc:
            return _error(400, str(exc))
        chat, text = body.get("chat"), body.get("text")
        client_id = body.get("client_id") or uuid.uuid4().hex
        data = body.get("callback_data")
        if not isinstance(chat, str) or not CHAT_ID.match(chat):
            return _error(400, "chat must be 1-64 letters, digits, '-' or '_'")
        if not isinstance(text, str) or not text.strip() or len(text) > MAX_TEXT:
            return _error(400, f"text must be a non-empty string of at most {MAX_TEXT} characters")
        if not isinstance(client_id, str) or len(client_id) > 128:
            return _error(400, "client_id must be a string of at most 128 characters")
        if data is not None and (not isinstance(data, str) or len(data) > MAX_CALLBACK):
            return _error(
                400, f"callback_data must be a string of at most {MAX_CALLBACK} characters"
            )
        event = Inbound(
            platform="web",
            chat=chat,
            user="owner",
            user_name="you",
            text=text,
            external_id=client_id,
            callback_data=data,
        )
        try:
            await gw.accept(event)
        except HermesError as exc:
            return _error(503, str(exc))
        adapter = web()
        if adapter is not None and data is None:
            adapter.publish_user_message(chat, text, client_id)
        return JSONResponse({"accepted": True, "client_id": client_id}, status_code=202)

    async def events(request: Request) -> Response:
        chat = request.query_params.get("chat", "")
        if not CHAT_ID.match(chat):
            return _error(400, "chat must be 1-64 letters, digits, '-' or '_'")
        adapter = web()
        if adapter is None:
            return _error(503, "the web chat is not running in this gateway")
        # EventSource reconnects by itself with Last-Event-ID: newer than the URL's `after`
        raw = request.headers.get("last-event-id") or request.query_params.get("after")
        after = int(raw) if raw and re.fullmatch(r"[0-9]{1,18}", raw) else None
        return StreamingResponse(
            _stream(adapter, chat, after),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    async def history(request: Request) -> Response:
        chat = request.query_params.get("chat", "")
        if not CHAT_ID.match(chat):
            return _error(400, "chat must be 1-64 letters, digits, '-' or '_'")
        adapter = web()
        seq = adapter.last_seq(chat) if adapter else 0  # before reading: events after it replay
        sid = await gw.current_session(Target("web", chat))
        rows = await gw.store.all_messages(sid) if sid else []
        ids = await gw.store.run(web_ops.client_ids, sid) if sid else {}
        key = session_key(gw.profile.name, "web", chat)
        queued = [
            {"role": "user", "text": text, "client_id": client_id, "queued": True}
            for client_id, text in await gw.store.run(web_ops.queued, key)
        ]
        spoken = await adapter.spoken(chat) if adapter and rows else []
        spoken = [s for s in spoken if s.at >= rows[0].created_at]  # this session's only
        turn = adapter.running_turn(chat) if adapter else None
        model = turn or (adapter.last_model(chat) if adapter else None) or _profile_model(gw)
        return JSONResponse(
            {
                "profile": gw.profile.name,
                "session": sid,
                "seq": seq,
                "messages": _with_audio(_transcript(rows, ids), spoken) + queued,
                "model": model["model"],
                "notice": model["notice"],  # the offline model's "chat only, no tools"
                "running": turn["turn"] if turn else None,  # a turn runs: the Stop button
            }
        )

    async def sessions(request: Request) -> Response:
        query = request.query_params.get("q", "").strip()
        excerpts: dict[str, str] = {}
        more = False  # there are older sessions than those sent
        if query:
            infos: list[SessionInfo] = []
            for hit in await gw.store.search(query, max_results=30):
                if hit.session_id in excerpts:
                    continue
                excerpts[hit.session_id] = hit.excerpt
                info = await gw.store.get_session(hit.session_id)
                if info is not None:
                    infos.append(info)
        else:  # newest first; the dashboard asks for more with a larger limit
            asked = request.query_params.get("limit", "50")
            limit = min(int(asked), 1000) if asked.isdigit() and int(asked) > 0 else 50
            infos = await gw.store.list_sessions(limit=limit + 1)
            more = len(infos) > limit
            infos = infos[:limit]
        chat = request.query_params.get("chat", "")
        current = await gw.current_session(Target("web", chat)) if CHAT_ID.match(chat) else None
        return JSONResponse(
            {
                "sessions": [{**_info(i), "excerpt": excerpts.get(i.id)} for i in infos],
                "current": current,  # the live session of `chat`, if given
                "more": more,
            }
        )

    async def session(request: Request) -> Response:
        sid = request.path_params["id"]
        info = await gw.store.get_session(sid)
        if info is None:
            return _error(404, f"no session {clip(sid)}")
        rows = await gw.store.all_messages(sid)
        return JSONResponse({"session": _info(info), "messages": _transcript(rows)})

    return [
        Route("/", page, methods=["GET"]),
        Mount("/static", app=_Static(directory=STATIC), name="web-static"),
        Route("/api/web/login", login, methods=["POST"]),
        Route("/api/web/logout", logout, methods=["POST"]),
        Route("/api/web/send", guarded(send), methods=["POST"]),
        Route("/api/web/events", guarded(events), methods=["GET"]),
        Route("/api/web/history", guarded(history), methods=["GET"]),
        Route("/api/web/sessions", guarded(sessions), methods=["GET"]),
        Route("/api/web/sessions/{id}", guarded(session), methods=["GET"]),
        *voice_routes(gw, guarded, web),
    ]


async def _stream(adapter: WebAdapter, chat: str, after: int | None) -> AsyncIterator[str]:
    """SSE lines: one `data:` JSON per event (its seq as the id), a comment as heartbeat.
    Ends when the subscriber was dropped for falling behind: the page reconnects."""
    async with adapter.subscribe(chat, after) as sub:
        yield "retry: 2000\n: connected\n\n"
        events = aiter(sub)
        while True:
            try:
                event = await within(anext(events), HEARTBEAT)
            except TimeoutError:
                yield ": ping\n\n"
                continue
            except StopAsyncIteration:
                return
            yield f"id: {event['seq']}\ndata: {json.dumps(event)}\n\n"


class _Static(StaticFiles):
    """The page's files, revalidated on every load so an upgraded gateway never
    runs with an old app.js from the browser's cache."""

    def file_response(self, *args: Any, **kwargs: Any) -> Response:
        response = super().file_response(*args, **kwargs)
        response.headers["Cache-Control"] = "no-cache"
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response


def _same_origin(request: Request) -> bool:
    return auth.same_origin(request.headers.get("origin"), request.headers.get("host"))


def _profile_model(gw: Gateway) -> dict[str, Any]:
    """The model the profile's settings select, before any turn ran on it."""
    from hermes.providers.resolve import DEFAULTS, pick_provider

    settings = gw.profile.settings.model
    provider = pick_provider(settings, gw.profile.env)
    name = settings.model or DEFAULTS[provider].model
    return {"model": f"{provider} · {name}", "notice": offline_notice(provider)}


def _transcript(
    rows: list[StoredMessage], client_ids: dict[int, str] | None = None
) -> list[dict[str, Any]]:
    """What a person reads, in order: user and assistant messages with text (a user
    message sent from a page with its client id), and a line per tool call with
    how it ended (tool results and compaction summaries left out)."""
    ids = client_ids or {}
    ended = {
        r.message.tool_call_id: r.message.content
        for r in rows
        if r.message.role == "tool" and r.message.tool_call_id
    }
    out: list[dict[str, Any]] = []
    for r in rows:
        if r.kind != "message" or r.message.role not in ("user", "assistant"):
            continue
        if r.message.content.strip():
            text = as_heard(r.message.content) if r.message.role == "user" else r.message.content
            item = {"role": r.message.role, "text": text, "at": r.created_at}
            if r.id in ids:
                item["client_id"] = ids[r.id]
            out.append(item)
        for call in r.message.tool_calls:
            line = {"role": "tool", "call": call.id, "summary": tool_call_summary(call, 80)}
            out.append({**line, "state": _tool_state(ended.get(call.id)), "at": r.created_at})
    return out


def _with_audio(items: list[dict[str, Any]], spoken: list[SpokenReply]) -> list[dict[str, Any]]:
    """The transcript with the spoken replies in their places (by time)."""
    audio = [{"role": "assistant", **s.item()} for s in spoken]
    return sorted(items + audio, key=lambda item: float(item.get("at", 0)))


def _tool_state(result: str | None) -> str:
    """How a stored tool call ended, as far as its result says (no result yet: waiting)."""
    if result is None:
        return "waiting"
    return "error" if result.startswith(("Error", "Not run")) else "done"


def _info(info: SessionInfo) -> dict[str, Any]:
    return {
        "id": info.id,
        "title": info.title,
        "source": info.source,
        "updated_at": info.updated_at,
        "message_count": info.message_count,
    }
