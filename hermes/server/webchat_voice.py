"""The web chat's voice routes (behind the chat's login, see webchat.py):

- `POST /api/web/voice?chat=ID&client_id=ID`: a voice note recorded in the page, the
  raw recording as the body (whatever the browser records, usually WebM/Opus; at most
  25 MiB, see http_body.py). It must really be audio (audio_sniff); it is kept in the
  workspace's inbox like other platforms' downloads and becomes a voice Inbound with
  empty text, which the gateway transcribes (the transcript then reaches the page
  through WebAdapter.show_transcript). A retry with the same client id is taken once.
- `GET /api/web/audio/CHAT/ID`: a spoken reply (OGG/Opus) kept by WebAdapter.send_voice.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Route

from hermes.errors import HermesError
from hermes.gateway.events import Attachment, Inbound
from hermes.platforms.audio_sniff import EXTENSIONS, HEAD, audio_mime
from hermes.platforms.web import WebAdapter
from hermes.server.httpio import error_response

if TYPE_CHECKING:
    from hermes.gateway.core import Gateway

Handler = Callable[[Request], Awaitable[Response]]

CHAT_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
CLIENT_ID = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
NOT_AUDIO = (
    "the upload is not audio (WebM, Ogg, MP4, WAV, MP3, FLAC, AAC or AMR): "
    "record a voice note with the microphone button"
)


def voice_routes(
    gw: Gateway, guarded: Callable[[Handler], Handler], web: Callable[[], WebAdapter | None]
) -> list[BaseRoute]:
    """The upload and playback routes; `guarded` adds the chat's login check."""

    async def upload(request: Request) -> Response:
        chat = request.query_params.get("chat", "")
        client_id = request.query_params.get("client_id") or uuid.uuid4().hex
        if not CHAT_ID.match(chat):
            return error_response(400, "chat must be 1-64 letters, digits, '-' or '_'")
        if not CLIENT_ID.match(client_id):
            return error_response(400, "client_id must be 1-128 letters, digits, '-' or '_'")
        body = await request.body()
        if not body:
            return error_response(400, "the voice note is empty: record again, a little longer")
        mime = audio_mime(body[:HEAD])
        if mime is None:
            return error_response(415, NOT_AUDIO)
        name = f"web-{chat}-{client_id}-voice.{EXTENSIONS[mime]}"
        path = gw.profile.workspace / "inbox" / name
        try:
            await asyncio.to_thread(_write, path, body)
        except OSError as exc:
            return error_response(507, f"cannot keep the voice note in {path.parent}: {exc}")
        note = Attachment(
            kind="audio", path=str(path), mime=mime, name=name, size=len(body), voice=True
        )
        event = Inbound(
            platform="web",
            chat=chat,
            user="owner",
            user_name="you",
            text="",
            external_id=client_id,
            message_id=client_id,
            attachments=(note,),
        )
        try:
            await gw.accept(event)
        except HermesError as exc:
            return error_response(503, str(exc))
        adapter = web()
        if adapter is not None:
            adapter.publish_voice_note(chat, client_id)
        reply = {"accepted": True, "client_id": client_id, "mime": mime, "size": len(body)}
        return JSONResponse(reply, status_code=202)

    async def audio(request: Request) -> Response:
        adapter = web()
        folder, audio_id = request.path_params["chat"], request.path_params["id"]
        found = adapter.audio_file(folder, audio_id) if adapter is not None else None
        if found is None:
            return error_response(404, "no such spoken reply (it may have been forgotten)")
        headers = {"Cache-Control": "private, max-age=86400", "X-Content-Type-Options": "nosniff"}
        return FileResponse(found, media_type="audio/ogg", headers=headers)

    return [
        Route("/api/web/voice", guarded(upload), methods=["POST"]),
        Route("/api/web/audio/{chat}/{id}", guarded(audio), methods=["GET"]),
    ]


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(path.name + ".part")
    part.write_bytes(data)
    part.replace(path)
