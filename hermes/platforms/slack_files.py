"""Files on Slack: spoken replies uploaded into the conversation, and the files people
share (audio clips recorded in Slack are voice notes) downloaded for the agent.

Uploading is slack_sdk's `files_upload_v2` (files.getUploadURLExternal, the upload
itself, files.completeUploadExternal into the channel or thread). Slack has no voice
note for bots: the reply is an OGG/Opus audio file, which Slack plays inline.
Downloading: files.info names the file's private URL, fetched with the bot token
(the app needs the files:read scope; files:write to upload).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hermes.gateway.events import Attachment, Inbound, VoiceOut
from hermes.platforms import slack_wire as wire
from hermes.platforms.adapter import SendError, describe

if TYPE_CHECKING:
    from slack_sdk.web.async_client import AsyncWebClient

log = logging.getLogger("hermes.gateway.slack")
MAX_DOWNLOAD = 20 * 1024 * 1024  # bytes of one shared file the agent gets, at most
FILENAME = "spoken-reply.ogg"


async def upload_voice(client: AsyncWebClient, voice: VoiceOut) -> str:
    """Upload VOICE as an audio file into its channel (thread); the file's id."""
    try:
        data = await asyncio.to_thread(Path(voice.path).read_bytes)
    except OSError as exc:
        reason = f"slack: cannot read the voice note to send: {exc}"
        raise SendError(reason, retryable=False) from exc
    target = voice.target
    try:
        done = await client.files_upload_v2(
            channel=target.chat,
            thread_ts=target.thread,
            content=data,
            filename=FILENAME,
            title="Spoken reply",
        )
    except Exception as exc:
        raise wire.send_error(exc, "uploading the voice note") from exc
    file = done.get("file") or {}
    return str(file.get("id") or "")


async def download(client: AsyncWebClient, downloads: Path, event: Inbound) -> Inbound:
    """EVENT with its shared files downloaded into DOWNLOADS (too big, refused or
    unreachable: left undownloaded, logged). Never raises."""
    files: list[Attachment] = []
    for a in event.attachments:
        if a.path is not None or a.platform_file_id is None:
            files.append(a)
            continue
        path, size = None, a.size
        if size is None or size <= MAX_DOWNLOAD:
            try:
                data = await _fetch(client, a.platform_file_id)
                if data is not None:
                    base = _safe(a.name or ("voice-note" if a.voice else a.kind))
                    target = downloads / f"slack-{event.chat}-{event.message_id}-{base}"
                    await asyncio.to_thread(_save, target, data)
                    path, size = str(target), len(data)
            except Exception as exc:
                log.warning("slack: could not download a %s: %s", a.kind, describe(exc))
        files.append(dataclasses.replace(a, path=path, size=size))
    return dataclasses.replace(event, attachments=tuple(files))


async def _fetch(client: AsyncWebClient, file_id: str) -> bytes | None:
    import aiohttp

    info: Any = (await client.files_info(file=file_id)).get("file") or {}
    url = info.get("url_private_download") or info.get("url_private")
    if not isinstance(url, str) or int(info.get("size") or 0) > MAX_DOWNLOAD:
        return None
    headers = {"Authorization": f"Bearer {client.token}"}
    timeout = aiohttp.ClientTimeout(total=60)
    async with (
        aiohttp.ClientSession(timeout=timeout) as session,
        session.get(url, headers=headers) as response,
    ):
        response.raise_for_status()
        if "text/html" in response.headers.get("Content-Type", ""):
            return None  # Slack's sign-in page: the token lacks files:read
        data = await response.content.read(MAX_DOWNLOAD + 1)
    return data if len(data) <= MAX_DOWNLOAD else None


def _save(target: Path, data: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)


def _safe(name: str) -> str:
    return re.sub(r"[^\w.\-]+", "_", name).strip("._")[:80] or "file"
