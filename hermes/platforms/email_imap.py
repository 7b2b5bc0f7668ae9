"""A small asyncio IMAP4rev1 client: just what the email adapter uses (LOGIN,
CAPABILITY, SELECT, UID SEARCH/FETCH/STORE, IDLE, NOOP, APPEND, CREATE, LOGOUT).

Written here rather than taken from a library: the async IMAP client with IDLE on
PyPI (aioimaplib) is GPL-3.0, and the standard library's imaplib blocks (a thread
per connection, and no IDLE before Python 3.14). Every read and write has a deadline
(`timeout`); a server that breaks the protocol raises `ImapError`, one that refuses
the login `AuthFailed`, a dead link `OSError`/`TimeoutError`. Deadlines use
`asyncio.timeout`, never `asyncio.wait_for`: on Python 3.11 that can swallow a
cancellation that comes just as a read completes, and the adapter would go on
running after the gateway cancelled it.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import ssl
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

from hermes.errors import HermesError

LINE_LIMIT = 1 << 20  # a SEARCH answer of many UIDs is one long line
LITERAL = re.compile(rb"\{(\d+)\+?\}\r\n$")


class ImapError(HermesError):
    """The server answered NO/BAD, or something IMAP does not allow."""


class AuthFailed(ImapError):
    """The server refused the address and password: retrying will not help."""


@dataclass(frozen=True)
class Endpoint:
    """imap://HOST[:143] (plain), imaps://HOST[:993] (TLS); also smtp URLs."""

    scheme: str
    host: str
    port: int
    tls: bool

    @classmethod
    def parse(cls, url: str, defaults: dict[str, tuple[int, bool]]) -> Endpoint:
        """URL with a scheme among DEFAULTS (scheme -> default port, implicit TLS)."""
        parts = urlsplit(url.strip())
        scheme = parts.scheme.lower()
        if scheme not in defaults or not parts.hostname:
            known = " or ".join(f"{s}://HOST[:PORT]" for s in defaults)
            raise HermesError(f"bad mail server URL {url!r}: expected {known}")
        port, tls = defaults[scheme]
        try:
            port = parts.port or port
        except ValueError:
            raise HermesError(f"bad port in mail server URL {url!r}") from None
        return cls(scheme, unquote(parts.hostname), port, tls)


IMAP_SCHEMES = {"imap": (143, False), "imaps": (993, True)}


@dataclass
class Response:
    """What the server said to one command: its untagged lines (text with each
    literal replaced by `{N}`) and the literals themselves, and the tagged result."""

    status: str
    text: str
    untagged: list[tuple[str, list[bytes]]] = field(default_factory=list)


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


class ImapClient:
    def __init__(self, endpoint: Endpoint, *, timeout: float = 30.0) -> None:
        self.endpoint = endpoint
        self.timeout = timeout
        self.capabilities: set[str] = set()
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._tags = 0

    # -- the link --------------------------------------------------------------------

    async def connect(self) -> None:
        context = ssl.create_default_context() if self.endpoint.tls else None
        async with asyncio.timeout(self.timeout):
            self._reader, self._writer = await asyncio.open_connection(
                self.endpoint.host, self.endpoint.port, ssl=context, limit=LINE_LIMIT
            )
        greeting, _ = await self._read()
        if not greeting.startswith(b"* OK") and not greeting.startswith(b"* PREAUTH"):
            raise ImapError(f"the IMAP server greeted with {greeting[:80]!r}")

    async def close(self) -> None:
        writer, self._writer, self._reader = self._writer, None, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(Exception):
                async with asyncio.timeout(2):
                    await writer.wait_closed()

    async def logout(self) -> None:
        with contextlib.suppress(Exception):
            await self.command("LOGOUT")
        await self.close()

    # -- reading and writing -----------------------------------------------------------

    async def _line(self, within: float | None = None) -> bytes:
        if self._reader is None:
            raise ConnectionError("the IMAP connection is closed")
        async with asyncio.timeout(within or self.timeout):
            line = await self._reader.readline()
        if not line:
            raise ConnectionError("the IMAP server closed the connection")
        return line

    async def _read(self, within: float | None = None) -> tuple[bytes, list[bytes]]:
        """One response line, its literals read in (the text keeps `{N}` markers)."""
        assert self._reader is not None
        text, literals = b"", list[bytes]()
        line = await self._line(within)
        while True:
            found = LITERAL.search(line)
            if found is None:
                return text + line.rstrip(b"\r\n"), literals
            text += line[: found.start()] + b"{%d}" % len(literals)
            size = int(found.group(1))
            async with asyncio.timeout(self.timeout + size / 1e5):
                literals.append(await self._reader.readexactly(size))
            line = await self._line()

    async def _write(self, data: bytes) -> None:
        if self._writer is None:
            raise ConnectionError("the IMAP connection is closed")
        self._writer.write(data)
        async with asyncio.timeout(self.timeout + len(data) / 1e5):
            await self._writer.drain()

    def _tag(self) -> str:
        self._tags += 1
        return f"H{self._tags:04d}"

    async def command(self, line: str, *, literal: bytes | None = None) -> Response:
        """Send LINE (and LITERAL after it, once the server says go on); collect the
        answer. Raises ImapError unless the tagged status is OK."""
        tag = self._tag()
        if literal is None:
            await self._write(f"{tag} {line}\r\n".encode())
        else:
            await self._write(f"{tag} {line} {{{len(literal)}}}\r\n".encode())
            ready, _ = await self._read()
            if not ready.startswith(b"+"):
                raise ImapError(f"{line.split()[0]} refused: {ready.decode(errors='replace')}")
            await self._write(literal + b"\r\n")
        response = Response("", "")
        while True:
            text, literals = await self._read()
            if text.startswith(b"* "):
                response.untagged.append((text[2:].decode(errors="replace"), literals))
                continue
            if text.startswith(tag.encode() + b" "):
                status, _, rest = text[len(tag) + 1 :].decode(errors="replace").partition(" ")
                response.status, response.text = status.upper(), rest
                if response.status != "OK":
                    raise ImapError(f"{line.split()[0]}: {response.status} {rest}")
                return response
            # a continuation nobody asked for: ignore it

    # -- commands ------------------------------------------------------------------------

    async def login(self, user: str, password: str) -> None:
        try:
            if user.isascii() and password.isascii() and "\n" not in password + user:
                await self.command(f"LOGIN {_quote(user)} {_quote(password)}")
            else:  # non-ASCII: a literal (the user name quoted, the password sent raw)
                await self.command(f"LOGIN {_quote(user)}", literal=password.encode())
        except ImapError as exc:
            raise AuthFailed(str(exc).split(":", 1)[-1].strip()) from None
        await self.capability()

    async def capability(self) -> set[str]:
        response = await self.command("CAPABILITY")
        for text, _ in response.untagged:
            if text.upper().startswith("CAPABILITY "):
                self.capabilities = set(text.upper().split()[1:])
        return self.capabilities

    async def select(self, folder: str) -> tuple[int, int]:
        """Open FOLDER (read-write); returns (UIDVALIDITY, UIDNEXT)."""
        response = await self.command(f"SELECT {_quote(folder)}")
        validity = following = 0
        for text, _ in [*response.untagged, (response.text, [])]:
            if found := re.search(r"UIDVALIDITY (\d+)", text, re.IGNORECASE):
                validity = int(found.group(1))
            if found := re.search(r"UIDNEXT (\d+)", text, re.IGNORECASE):
                following = int(found.group(1))
        return validity, following

    async def search(self, criteria: str) -> list[int]:
        """UID SEARCH CRITERIA -> the UIDs, ascending."""
        response = await self.command(f"UID SEARCH {criteria}")
        found: list[int] = []
        for text, _ in response.untagged:
            words = text.split()
            if words and words[0].upper() == "SEARCH":
                found.extend(int(w) for w in words[1:] if w.isdigit())
        return sorted(set(found))

    async def fetch(self, uid: int, item: str = "BODY.PEEK[]") -> bytes | None:
        """The literal ITEM of message UID (not marking it seen with BODY.PEEK),
        or None when it is gone."""
        response = await self.command(f"UID FETCH {uid} (UID {item})")
        for text, literals in response.untagged:
            if "FETCH" in text.upper() and re.search(rf"\bUID {uid}\b", text) and literals:
                return literals[0]
        return None

    async def store_seen(self, uid: int) -> None:
        await self.command(f"UID STORE {uid} +FLAGS.SILENT (\\Seen)")

    async def noop(self) -> None:
        await self.command("NOOP")

    async def append(self, folder: str, data: bytes, flags: str = "(\\Seen)") -> None:
        await self.command(f"APPEND {_quote(folder)} {flags}", literal=data)

    async def create(self, folder: str) -> None:
        """Create FOLDER; nothing when it exists."""
        try:
            await self.command(f"CREATE {_quote(folder)}")
        except ImapError as exc:
            if "ALREADYEXISTS" not in str(exc).upper() and "EXISTS" not in str(exc).upper():
                raise

    async def idle(self, seconds: float) -> bool:
        """IDLE for up to SECONDS: True as soon as the mailbox changed, False when
        nothing happened (the server's "still here" lines are not changes)."""
        tag = self._tag()
        await self._write(f"{tag} IDLE\r\n".encode())
        ready, _ = await self._read()
        if not ready.startswith(b"+"):
            raise ImapError(f"IDLE refused: {ready.decode(errors='replace')}")
        loop = asyncio.get_running_loop()
        deadline, changed = loop.time() + seconds, False
        while not changed:
            left = deadline - loop.time()
            if left <= 0:
                break
            try:
                text, _ = await self._read(left)
            except TimeoutError:
                break
            changed = bool(re.match(rb"\* \d+ (EXISTS|RECENT|EXPUNGE|FETCH)", text, re.I))
        await self._write(b"DONE\r\n")
        while True:
            text, _ = await self._read()
            if text.startswith(tag.encode() + b" "):
                if not text[len(tag) + 1 :].upper().startswith(b"OK"):
                    raise ImapError(f"IDLE ended with {text.decode(errors='replace')}")
                return changed
            if re.match(rb"\* \d+ (EXISTS|RECENT)", text, re.I):
                changed = True
