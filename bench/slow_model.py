"""A model that answers every chat completion after a fixed delay, for
benchmarks with a thousand requests in flight: one asyncio process of its own.

The scripted model (hermes.testing) serves each request on a thread of the
bench's own process; with a thousand sleeping at once, their wake-ups fight
over one GIL with the load generator, and the bench measures itself. This one
holds a thousand requests at almost no cost, on another process.

It speaks what the gateway's OpenAI-compatible provider asks for: POST
/v1/chat/completions, a JSON reply, or SSE chunks when `"stream": true`.
`arrivals()` returns when each request came in (time.monotonic, which every
process on the machine shares).
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

MODEL = "slow-model"


def _chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    choice = {"index": 0, "delta": delta, "finish_reason": finish}
    return {"id": "chatcmpl-slow", "object": "chat.completion.chunk", "model": MODEL,
            "choices": [choice]}  # fmt: skip


def _reply(text: str, stream: bool) -> bytes:
    usage = {"prompt_tokens": 10, "completion_tokens": 1, "total_tokens": 11}
    if stream:
        chunks = [
            _chunk({"role": "assistant", "content": ""}),
            _chunk({"content": text}),
            _chunk({}, "stop"),
            {**_chunk({}), "choices": [], "usage": usage},
        ]
        body = b"".join(b"data: " + json.dumps(c).encode() + b"\n\n" for c in chunks)
        body += b"data: [DONE]\n\n"
        kind = b"text/event-stream"
    else:
        message = {"role": "assistant", "content": text}
        choice = {"index": 0, "message": message, "finish_reason": "stop"}
        data = {"id": "chatcmpl-slow", "object": "chat.completion", "model": MODEL,
                "choices": [choice], "usage": usage}  # fmt: skip
        body, kind = json.dumps(data).encode(), b"application/json"
    head = b"HTTP/1.1 200 OK\r\ncontent-type: %s\r\ncontent-length: %d\r\n\r\n" % (kind, len(body))
    return head + body


def _serve(delay: float, text: str, pipe: Connection) -> None:
    arrived: list[float] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                body = await reader.readexactly(length)
                arrived.append(time.monotonic())
                if b"/chat/completions" not in head.split(b"\r\n", 1)[0]:
                    writer.write(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n")
                    continue
                stream = json.loads(body).get("stream") is True
                await asyncio.sleep(delay)
                writer.write(_reply(text, stream))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def main() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=4096)
        pipe.send(server.sockets[0].getsockname()[1])
        loop = asyncio.get_running_loop()
        while True:
            if await loop.run_in_executor(None, pipe.recv) == "arrivals":
                pipe.send(arrived[:])
                arrived.clear()

    asyncio.run(main())


class SlowModel:
    """The server on its own process: `base_url`, `config()`, `arrivals()`, `stop()`."""

    def __init__(self, delay: float = 1.0, text: str = "done") -> None:
        self._pipe, theirs = multiprocessing.Pipe()
        self._process = multiprocessing.Process(
            target=_serve, args=(delay, text, theirs), daemon=True
        )
        self._process.start()
        self.base_url = f"http://127.0.0.1:{self._pipe.recv()}/v1"

    def config(self) -> dict[str, str]:
        """The `model:` section of a config.yaml that points at this server."""
        return {"provider": "custom", "base_url": self.base_url, "model": MODEL}

    def arrivals(self) -> list[float]:
        """When the requests since the last call came in (time.monotonic)."""
        self._pipe.send("arrivals")
        return list(self._pipe.recv())

    def cpu_ms(self) -> float:
        """CPU time its process has used (utime + stime)."""
        stat = Path(f"/proc/{self._process.pid}/stat").read_text()
        fields = stat.rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        self._process.kill()
        self._process.join()
