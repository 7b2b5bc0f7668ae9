"""What every HTTP route shares: the one error shape, reading a JSON body, and
clipping what an error echoes back.

Every error of the gateway, from any route or from the server itself, is
OpenAI's shape, which OpenAI clients already know how to raise:

    {"error": {"message": "what is wrong and what to do", "type": "invalid_request_error",
               "param": null, "code": null}}

`type` follows the status (400 invalid_request_error, 401 authentication_error,
403 permission_error, 404 not_found_error, 409 conflict_error, 5xx
server_error, ...); `code` is null or a word for a case a program may want to
tell apart (`unknown_route`, `body_too_large`, `body_timeout`, ...).

`read_json` is the one place a request's JSON is parsed: invalid JSON,
absurd nesting and lone UTF-16 surrogates (`"\\ud800"`, which Python's json
accepts but no UTF-8 encoder does) are a BadRequest naming the problem, so
no route has to think about them and none answers 500 for them.
"""

from __future__ import annotations

import json
import re
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

CLIP = 100  # characters of a value an error echoes back
MAX_MESSAGE = 1000  # characters of an error message, whatever it echoes
KINDS = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    408: "invalid_request_error",
    409: "conflict_error",
    413: "invalid_request_error",
    429: "rate_limit_error",
    502: "api_error",
}
_SURROGATE = re.compile("[\ud800-\udfff]")
# a quoted value in a message (as !r shows it) of more than CLIP characters; a quote
# between letters (the home's .env) is an apostrophe, not a quote
_LONG_QUOTED = re.compile(
    r"(?<!\w)'([^'\n]{N})[^'\n]+'(?!\w)|(?<!\w)\"([^\"\n]{N})[^\"\n]+\"(?!\w)".replace(
        "N", str(CLIP)
    )
)
# A surrogate can only come from a \uD800-\uDFFF escape (raw UTF-8 cannot encode one):
# without such an escape in the bytes, the parsed value needs no walk.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


class BadRequest(ValueError):
    """The request body or headers are invalid; the message says what to fix."""


def error_kind(status: int) -> str:
    return KINDS.get(status, "server_error" if status >= 500 else "invalid_request_error")


def error_body(
    status: int, message: str, kind: str | None = None, code: str | None = None
) -> dict[str, Any]:
    """The error's JSON: {"error": {"message", "type", "param", "code"}}. The message
    is made one line, its quoted values (an id, a schedule...) clipped to CLIP
    characters and the whole to MAX_MESSAGE, and lone surrogates replaced (no UTF-8
    encoder takes one), whichever module wrote it."""
    text = _LONG_QUOTED.sub(_clip_quoted, " ".join(message.split()))
    return {
        "error": {
            "message": cut(text, MAX_MESSAGE) or "error",
            "type": kind or error_kind(status),
            "param": None,
            "code": code,
        }
    }


def error_response(
    status: int,
    message: str,
    kind: str | None = None,
    headers: dict[str, str] | None = None,
    *,
    code: str | None = None,
) -> JSONResponse:
    """An error in the one shape every route answers with."""
    return JSONResponse(
        error_body(status, message, kind, code), status_code=status, headers=headers
    )


def _clip_quoted(found: re.Match[str]) -> str:
    if found.group(1) is not None:
        return f"'{found.group(1)}…'"
    return f'"{found.group(2)}…"'


def cut(text: str, limit: int = CLIP) -> str:
    """`text` cut to `limit` characters (`…` marks a cut), without lone surrogates."""
    text = _SURROGATE.sub("\ufffd", text)
    return text[:limit] + "…" if len(text) > limit else text


def clip(value: object, limit: int = CLIP) -> str:
    """`value` quoted as an error shows it (like !r), cut to `limit` characters:
    an id or a text echoed back stays one short line."""
    return repr(cut(str(value), limit))


async def read_json(request: Request, *, optional: bool = False) -> Any:
    """The request's body as JSON (BadRequest with the reason if it is not valid
    JSON or holds a lone surrogate). `optional`: an empty body is {}."""
    raw = await request.body()
    if not raw.strip():
        if optional:
            return {}
        raise BadRequest("the request body is empty: send a JSON object")
    try:
        value = json.loads(raw)
    except UnicodeDecodeError:
        raise BadRequest("the request body is not valid UTF-8: send JSON in UTF-8") from None
    except ValueError as exc:  # JSONDecodeError, or an integer of over 4300 digits
        raise BadRequest(f"the request body is not valid JSON ({cut(str(exc), 200)})") from None
    except RecursionError:
        raise BadRequest("the request body is JSON nested too deeply") from None
    if _SURROGATE_ESCAPE.search(raw):
        where = _lone_surrogate(value)
        if where is not None:
            raise BadRequest(
                f"the request body has a lone UTF-16 surrogate (a \\ud800-\\udfff escape "
                f"without its pair) in {cut(where, 60)}: send valid Unicode text"
            )
    return value


async def read_object(
    request: Request, *, optional: bool = False, example: str = ""
) -> dict[str, Any]:
    """read_json for routes that take a JSON object (BadRequest otherwise)."""
    value = await read_json(request, optional=optional)
    if not isinstance(value, dict):
        hint = f" like {example}" if example else ""
        raise BadRequest(f"the request body must be a JSON object{hint}")
    return value


def _lone_surrogate(value: Any) -> str | None:
    """The path in `value` to a string with a lone surrogate (None if none); a
    walk without recursion, since the JSON may be nested as deep as json allows."""
    stack: list[tuple[Any, str]] = [(value, "")]
    while stack:
        item, where = stack.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                return where or "the body"
        elif isinstance(item, dict):
            for key, child in item.items():
                if _SURROGATE.search(key):
                    return f"a key of {where or 'the body'}"
                stack.append((child, f"{where}.{key}" if where else key))
        elif isinstance(item, list):
            stack.extend((child, f"{where}[{i}]") for i, child in enumerate(item))
    return None
