"""The Matrix adapter's transport: one matrix-nio AsyncClient (one aiohttp session) and
the client-server API calls Hermes makes, each answer either data or a `MatrixError`.

nio's own retry loops are off (max_limit_exceeded=0, max_timeouts=0): the adapter
decides, from the error's kind, what happens next:

- `token_rejected` (401, M_UNKNOWN_TOKEN / M_MISSING_TOKEN): terminal, unless a
  password can log in again;
- `limited` (429, M_LIMIT_EXCEEDED): wait `retry_after` (retry_after_ms), then again;
- `retryable` (the above, 5xx, the network): back off and try again;
- anything else (a 4xx: not in the room, bad request): that call cannot work.

Logging in with a password happens once: the access token and device id are kept
in state.db (a Cursor under `matrix.login.USER_ID`), so restarts reuse the device.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, quote, urlencode, urlparse, urlunparse

from hermes.aio import within
from hermes.platforms.adapter import require

if TYPE_CHECKING:
    from nio import AsyncClient

log = logging.getLogger("hermes.gateway.matrix")
JSON = dict[str, Any]
TOKEN_ERRORS = ("M_UNKNOWN_TOKEN", "M_MISSING_TOKEN")
DEVICE_NAME = "Hermes"


@dataclass(frozen=True)
class Login:
    """How the bot account logs in (from the environment)."""

    homeserver: str
    user_id: str
    access_token: str = ""
    password: str = ""
    request_timeout: float = 30.0

    def problem(self) -> str | None:
        """What is wrong with these settings before any request, or None."""
        if not self.homeserver.startswith(("http://", "https://")):
            return (
                f"MATRIX_HOMESERVER must be the homeserver's URL, "
                f"e.g. https://matrix.example.org (got {self.homeserver!r})"
            )
        if not (self.user_id.startswith("@") and ":" in self.user_id):
            return f"MATRIX_USER_ID must look like @bot:example.org (got {self.user_id!r})"
        if not (self.access_token or self.password):
            return "set MATRIX_ACCESS_TOKEN or MATRIX_PASSWORD (the bot account's)"
        return None


class MatrixError(Exception):
    """A call failed: an error answer (`status`, `errcode`) or the network (status None)."""

    def __init__(
        self,
        what: str,
        *,
        status: int | None = None,
        errcode: str | None = None,
        message: str = "",
        retry_after: float | None = None,
    ) -> None:
        detail = " ".join(p for p in (str(status or ""), errcode or "", message) if p)
        super().__init__(f"{what}: {detail or 'no answer'}")
        self.status, self.errcode, self.retry_after = status, errcode, retry_after

    @property
    def token_rejected(self) -> bool:
        return self.status == 401 or self.errcode in TOKEN_ERRORS

    @property
    def limited(self) -> bool:
        return self.status == 429 or self.errcode == "M_LIMIT_EXCEEDED"

    @property
    def retryable(self) -> bool:
        return self.limited or self.status is None or self.status >= 500


def _failed(what: str, response: Any) -> MatrixError:
    transport = getattr(response, "transport_response", None)
    status = getattr(transport, "status", None)
    retry_ms = getattr(response, "retry_after_ms", None)
    errcode = getattr(response, "status_code", None)
    return MatrixError(
        what,
        status=status if isinstance(status, int) else None,
        errcode=errcode if isinstance(errcode, str) else None,
        message=str(getattr(response, "message", "") or ""),
        retry_after=retry_ms / 1000 if isinstance(retry_ms, int | float) else None,
    )


class Link:
    """One logged-in client. `close()` ends its aiohttp session."""

    def __init__(self, login: Login, token: str, device_id: str | None = None) -> None:
        require("nio", "matrix")
        from nio import AsyncClient, AsyncClientConfig

        config = AsyncClientConfig(
            max_limit_exceeded=0,
            max_timeouts=0,
            request_timeout=login.request_timeout,
            store_sync_tokens=False,
            encryption_enabled=False,
        )
        self.login = login
        self.client: AsyncClient = AsyncClient(
            login.homeserver, login.user_id, device_id=device_id or "", config=config
        )
        self.client.access_token = token
        self.timeout = login.request_timeout

    async def _call(self, what: str, call: Any, seconds: float | None = None) -> Any:
        """Await a nio call; its error answer, a timeout or the network -> MatrixError."""
        import aiohttp
        from nio import ErrorResponse

        try:
            response = await within(call, seconds or self.timeout)
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise MatrixError(what, message=f"{type(exc).__name__}: {exc}".strip()) from exc
        if isinstance(response, ErrorResponse):
            raise _failed(what, response)
        return response

    async def whoami(self) -> tuple[str, str | None]:
        """(user id, device id) of the access token."""
        answer = await self._call("whoami", self.client.whoami())
        return str(answer.user_id), getattr(answer, "device_id", None)

    async def password_login(self) -> tuple[str, str]:
        """Log in with the password: (access token, device id)."""
        answer = await self._call(
            "login", self.client.login(self.login.password, device_name=DEVICE_NAME)
        )
        return str(answer.access_token), str(answer.device_id)

    async def sync(
        self, since: str | None, wait: float, grace: float, limit: int, full_state: bool
    ) -> JSON:
        """One /sync as raw JSON (a long-poll of WAIT seconds; silent GRACE seconds
        longer: an error). Raw, not nio's parsed events: those drop parts of the JSON,
        and one odd event must not make a whole sync unreadable."""
        from nio import Api

        sync_filter = {
            "room": {"timeline": {"limit": limit}},
            "presence": {"not_types": ["*"]},
            "account_data": {"not_types": ["*"]},
        }
        _, path = Api.sync(
            "",
            since=since,
            timeout=int(wait * 1000) if since else None,
            filter=sync_filter,
            full_state=full_state or None,
        )
        return await self.raw("sync", "GET", path, seconds=wait + grace)

    async def raw(
        self, what: str, method: str, path: str, body: JSON | None = None, seconds: float = 0
    ) -> JSON:
        """One request whose JSON answer is used as it is; an error answer -> MatrixError."""
        import aiohttp

        url = list(urlparse(path))
        query = parse_qs(url[4])
        query.pop("access_token", None)  # the token goes in the header, never in a URL
        url[4] = urlencode(query, doseq=True)
        headers = {
            "Authorization": f"Bearer {self.client.access_token}",
            "Content-Type": "application/json",
        }
        data = json.dumps(body) if body is not None else None
        limit = seconds or self.timeout

        async def request() -> tuple[int, Any]:
            session = self.client.client_session
            if session is None:
                session = self.client.client_session = aiohttp.ClientSession()
            async with session.request(
                method,
                self.client.homeserver + urlunparse(url),
                data=data,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=limit),
            ) as response:
                try:
                    answer = await response.json(content_type=None)
                except ValueError:
                    answer = None
                return response.status, answer

        try:
            status, answer = await within(request(), limit)
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise MatrixError(what, message=f"{type(exc).__name__}: {exc}".strip()) from exc
        if status >= 400 or not isinstance(answer, dict):
            found = answer if isinstance(answer, dict) else {}
            retry_ms = found.get("retry_after_ms")
            raise MatrixError(
                what,
                status=status,
                errcode=found.get("errcode") if isinstance(found.get("errcode"), str) else None,
                message=str(found.get("error") or ""),
                retry_after=retry_ms / 1000 if isinstance(retry_ms, int | float) else None,
            )
        return answer

    async def send(self, room: str, kind: str, content: JSON, txn: str) -> str:
        sent = await self._call("send", self.client.room_send(room, kind, content, tx_id=txn))
        return str(sent.event_id)

    async def join(self, room: str) -> None:
        await self._call("join", self.client.join(room))

    async def leave(self, room: str) -> None:
        await self._call("leave", self.client.room_leave(room))

    async def event(self, room: str, event_id: str) -> JSON:
        """One event of ROOM as raw JSON."""
        path = f"/_matrix/client/v3/rooms/{quote(room, safe='')}/event/{quote(event_id, safe='')}"
        return await self.raw("get event", "GET", path)

    async def encrypted(self, room: str) -> bool:
        """Whether ROOM has m.room.encryption state (asked of the homeserver)."""
        path = f"/_matrix/client/v3/rooms/{quote(room, safe='')}/state/m.room.encryption/"
        try:
            return bool(await self.raw("room state", "GET", path))
        except MatrixError as exc:
            if exc.errcode == "M_NOT_FOUND":
                return False
            raise

    async def members(self, room: str) -> int:
        answer = await self._call("members", self.client.joined_members(room))
        return len(answer.members)

    async def display_name(self) -> str | None:
        try:
            answer = await self._call("profile", self.client.get_displayname(self.login.user_id))
        except MatrixError:
            return None
        name = getattr(answer, "displayname", None)
        return name if isinstance(name, str) and name.strip() else None

    async def upload(self, data: bytes, mime: str, filename: str) -> str:
        """DATA into the media repository; its mxc:// URL."""
        import io

        from nio import UploadResponse

        call = self.client.upload(io.BytesIO(data), mime, filename, filesize=len(data))
        answer, _keys = await self._call("upload", call, 120)  # nio answers a pair
        if not isinstance(answer, UploadResponse):
            raise _failed("upload", answer)
        return str(answer.content_uri)

    async def download(self, url: str) -> bytes:
        answer = await self._call("download", self.client.download(mxc=url), 120)
        body = getattr(answer, "body", b"")
        return body if isinstance(body, bytes) else b""

    async def logout(self) -> None:
        await self._call("logout", self.client.logout())

    async def close(self) -> None:
        try:
            await self.client.close()
        except Exception as exc:  # a half-dead session: nothing left to release
            log.debug("matrix: closing the client: %s", exc)


def stored_login(raw: str | None, homeserver: str) -> tuple[str, str] | None:
    """(token, device) kept in state.db for this homeserver, if any."""
    try:
        value = json.loads(raw) if raw else None
    except ValueError:
        return None
    if not isinstance(value, dict) or value.get("homeserver") != homeserver:
        return None
    token, device = value.get("access_token"), value.get("device_id")
    return (token, device) if isinstance(token, str) and isinstance(device, str) else None


def login_record(homeserver: str, token: str, device: str) -> str:
    return json.dumps({"homeserver": homeserver, "access_token": token, "device_id": device})


async def check_login(env: Mapping[str, str]) -> str | None:
    """For `hermes gateway setup`: do these credentials work? None, or what is wrong.
    A password is tried by logging in and out again (no device is left behind)."""
    login = Login(
        homeserver=env.get("MATRIX_HOMESERVER", "").strip().rstrip("/"),
        user_id=env.get("MATRIX_USER_ID", "").strip(),
        access_token=env.get("MATRIX_ACCESS_TOKEN", "").strip(),
        password=env.get("MATRIX_PASSWORD", ""),
        request_timeout=20.0,
    )
    problem = login.problem()
    if problem is not None:
        return problem
    link = Link(login, login.access_token)
    try:
        if not login.access_token:
            link.client.access_token = (await link.password_login())[0]
        user, _ = await link.whoami()
        if not login.access_token:
            await link.logout()
    except MatrixError as exc:
        if exc.token_rejected or exc.errcode == "M_FORBIDDEN":
            return f"the homeserver refused the bot's credentials ({exc}): {TOKEN_FIX}"
        if exc.status is None:
            return f"could not reach {login.homeserver} ({exc}): check MATRIX_HOMESERVER"
        return f"the homeserver answered {exc}"
    finally:
        await link.close()
    if user != login.user_id:
        return f"the access token belongs to {user}, not MATRIX_USER_ID {login.user_id}"
    return None


TOKEN_FIX = (
    "set MATRIX_ACCESS_TOKEN to a valid token of the bot account (Element: Settings -> "
    "Help & About -> Access Token) or MATRIX_PASSWORD"
)
