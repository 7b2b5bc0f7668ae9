"""Fuzz the gateway's HTTP API from its OpenAPI document with schemathesis,
against a real `hermes gateway run` on loopback whose model is the scripted
one (it answers every turn), and count the server errors.

    .venv/bin/python bench/api_fuzz.py [--examples 100] [--seconds 0] [--seed N]

The document is the one the gateway serves (/api/hermes/openapi.json, every
/api/hermes route) plus, here only, a sketch of the other routes a client can
reach: /v1/chat/completions and /v1/models, the web chat's /api/web routes
(login and logout without the key; not the endless event stream) and /health.
Schemathesis sends valid and invalid requests (its examples, coverage and
fuzzing phases, `--examples` per operation; `--seconds` makes fuzzing go on
until that much time is spent) with the bearer key, checks each answer with
`not_a_server_error`, and records them; this prints the requests per
operation and per status, then the 5xx answers and the tracebacks in the
gateway's log. Target: 0 of each. Exit status 1 otherwise.
"""

from __future__ import annotations

import argparse
import collections
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from gateway_process import GatewayProcess, write_home

from hermes.testing import ScriptedModel

KEY = "hk_bench-api-fuzz"
SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
METHODS = ("get", "put", "post", "delete", "patch")


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": schema}}}


def _op(
    summary: str, responses: list[int], body: dict[str, Any] | None = None, **extra: Any
) -> dict[str, Any]:
    """A sketched operation: its answers are any JSON (only 5xx is checked)."""
    op: dict[str, Any] = {
        "summary": summary,
        "responses": {
            str(code): {"description": "see the code", **_json({})} for code in responses
        },
        **extra,
    }
    if body is not None:
        op["requestBody"] = {"required": True, **_json(body)}
    return op


def _string(**kw: Any) -> dict[str, Any]:
    return {"type": "string", **kw}


MESSAGE = {
    "type": "object",
    "properties": {
        "role": {"type": "string", "enum": ["system", "developer", "user", "assistant"]},
        "content": _string(),
    },
    "required": ["role", "content"],
}
CHAT = {
    "type": "object",
    "properties": {
        "model": _string(),
        "messages": {"type": "array", "items": MESSAGE, "minItems": 1},
        "stream": {"type": "boolean"},
    },
    "required": ["messages"],
}
PUBLIC: list[dict[str, list[str]]] = []  # no security: the login routes take no key
CHAT_QUERY = [{"name": "chat", "in": "query", "required": True, "schema": _string()}]
EXTRA_PATHS: dict[str, Any] = {
    "/v1/chat/completions": {
        "post": _op("One agent turn, OpenAI style", [200, 400, 401, 413, 502], CHAT),
    },
    "/v1/models": {"get": _op("The one model", [200, 401])},
    "/api/web/login": {
        "post": _op(
            "Log the page in",
            [200, 400, 401, 403, 413],
            {"type": "object", "properties": {"key": _string()}},
            security=PUBLIC,
        ),
    },
    "/api/web/logout": {"post": _op("Log the page out", [200], security=PUBLIC)},
    "/api/web/send": {
        "post": _op(
            "Send a chat message",
            [202, 400, 401, 403, 413, 503],
            {
                "type": "object",
                "properties": {
                    "chat": _string(),
                    "text": _string(),
                    "client_id": _string(),
                    "callback_data": _string(),
                },
                "required": ["chat", "text"],
            },
        ),
    },
    "/api/web/history": {"get": _op("A chat's transcript", [200, 400, 401], parameters=CHAT_QUERY)},
    "/api/web/sessions": {
        "get": _op(
            "Sessions, or a search",
            [200, 401],
            parameters=[
                {"name": "q", "in": "query", "schema": _string()},
                {"name": "chat", "in": "query", "schema": _string()},
            ],
        ),
    },
    "/api/web/sessions/{id}": {
        "get": _op(
            "One session",
            [200, 401, 404],
            parameters=[{"name": "id", "in": "path", "required": True, "schema": _string()}],
        ),
    },
    "/health": {"get": _op("Liveness", [200], security=PUBLIC)},
}


def document(url: str) -> dict[str, Any]:
    response = httpx.get(
        f"{url}/api/hermes/openapi.json", headers={"Authorization": f"Bearer {KEY}"}
    )
    response.raise_for_status()
    doc: dict[str, Any] = response.json()
    doc["paths"].update(EXTRA_PATHS)
    return doc


def count(
    har: Path, templates: list[str]
) -> tuple[collections.Counter[str], collections.Counter[int], list[str]]:
    """Requests per operation and per status, and the 5xx ones, from the HAR report."""
    patterns = [
        (re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "[^/]*", re.escape(t)) + "$"), t)
        for t in templates
    ]
    per_op: collections.Counter[str] = collections.Counter()
    per_status: collections.Counter[int] = collections.Counter()
    errors: list[str] = []
    for entry in json.loads(har.read_text())["log"]["entries"]:
        request, status = entry["request"], int(entry["response"]["status"])
        path = httpx.URL(request["url"]).path
        template = next((t for regex, t in patterns if regex.match(path)), "(other)")
        per_op[f"{request['method']} {template}"] += 1
        per_status[status] += 1
        if status >= 500:
            body = entry["response"].get("content", {}).get("text", "")
            errors.append(f"{status} {request['method']} {request['url'][:120]}: {body[:200]}")
    return per_op, per_status, errors


def logged_errors(home: Path) -> tuple[int, int]:
    """(errors the HTTP layer logged, other errors) in the gateway's log."""
    http = other = 0
    lines = [
        line
        for log in (home / "logs").glob("gateway.log*")  # rotated files too
        for line in log.read_text(errors="replace").splitlines()
    ]
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if record.get("level") in ("ERROR", "CRITICAL"):
            if record.get("logger") == "hermes.gateway.http":
                http += 1
            else:
                other += 1
    return http, other


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=100, help="test cases per operation")
    parser.add_argument("--seconds", type=int, default=0, help="time budget (0: no budget)")
    parser.add_argument("--seed", type=int, default=None, help="a seed, to repeat a run")
    args = parser.parse_args()
    if not SCHEMATHESIS.exists():
        raise SystemExit("schemathesis is not installed: .venv/bin/pip install schemathesis")
    with tempfile.TemporaryDirectory() as tmp, ScriptedModel() as model:
        model.reply_with(lambda request: "Done.", times=None)
        home = Path(tmp) / "home"
        write_home(home, model, KEY)
        gw = GatewayProcess(home)
        try:
            doc = document(gw.url)
            doc_path = Path(tmp) / "openapi.json"
            doc_path.write_text(json.dumps(doc))
            har = Path(tmp) / "requests.har"
            command = [
                str(SCHEMATHESIS),
                "run",
                str(doc_path),
                "--url",
                gw.url,
                "--header",
                f"Authorization: Bearer {KEY}",
                "--checks",
                "not_a_server_error",
                "--max-examples",
                str(args.examples),
                "--phases",
                "examples,coverage,fuzzing",
                "--workers",
                "2",
                "--request-timeout",
                "30",
                "--generation-database",
                "none",
                "--report",
                "har",
                "--report-har-path",
                str(har),
                "--no-color",
            ]
            if args.seconds:
                command += ["--max-time", str(args.seconds)]
            if args.seed is not None:
                command += ["--seed", str(args.seed)]
            started = time.perf_counter()
            run = subprocess.run(command, capture_output=True, text=True, cwd=tmp)
            seconds = time.perf_counter() - started
            alive = gw.proc.poll() is None
        finally:
            gw.stop()
        http_errors, other_errors = logged_errors(home)
        if not har.exists():
            print(run.stdout[-3000:], run.stderr[-3000:], sep="\n")
            raise SystemExit("schemathesis wrote no report: see its output above")
        per_op, per_status, errors = count(har, list(doc["paths"]))
    total = sum(per_status.values())
    print(f"schemathesis: {total} requests in {seconds:.0f} s")
    for template, ops in doc["paths"].items():
        methods = {m.upper() for m in ops if m in METHODS}
        counts = {m: per_op[f"{m} {template}"] for m in sorted(methods)}
        others = sum(n for op, n in per_op.items() if op.endswith(f" {template}")) - sum(
            counts.values()
        )
        shown = ", ".join(f"{m} {n}" for m, n in counts.items())
        print(f"  {template}: {shown}; other methods {others}")
    print("by status: " + ", ".join(f"{s}: {n}" for s, n in sorted(per_status.items())))
    print(
        f"5xx answers: {len(errors)}; errors logged by the HTTP layer: {http_errors} "
        f"(and by the rest of the gateway, e.g. failed turns: {other_errors})"
    )
    for line in errors[:20]:
        print("  " + line)
    if not alive:
        print("the gateway died during the run")
    if run.returncode not in (0, 1):
        print(run.stdout[-3000:], run.stderr[-2000:], sep="\n")
    ok = alive and not errors and not http_errors
    print("target met: 0 server errors" if ok else "target missed")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
