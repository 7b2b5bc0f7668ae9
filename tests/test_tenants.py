"""Two tenants (profiles) in one PostgreSQL database: each `hermes gateway run`
keeps its profile in a schema of its own, and nothing of one is visible to the
other through the API, the agent's tools, search or the command line."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import psycopg
from openai import AsyncOpenAI

from hermes.testing import ScriptedModel
from tests.cli_helpers import run_hermes
from tests.gateway_helpers import GatewayProcess, make_home

SECRET = "aardvark"


def get(gw: GatewayProcess, path: str, key: str) -> Any:
    request = urllib.request.Request(f"{gw.url}{path}", headers={"Authorization": f"Bearer {key}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def status(gw: GatewayProcess, path: str, key: str) -> int:
    try:
        get(gw, path, key)
    except urllib.error.HTTPError as exc:
        return exc.code
    return 200


async def test_two_profiles_in_one_database_never_see_each_other(
    tmp_path: Path, model: ScriptedModel, pg_url: str
) -> None:
    root = tmp_path / "root"
    env = {"HERMES_DATABASE_URL": pg_url}
    make_home(root, model, {"server": {"port": 0}}, {**env, "HERMES_API_KEY": "ka"})
    work = make_home(
        root / "profiles" / "work", model, {"server": {"port": 0}}, {**env, "HERMES_API_KEY": "kb"}
    )
    a = await GatewayProcess(root).ready()
    b = await GatewayProcess(work, profile="work").ready()

    # tenant A is told a secret, in a session of its own
    model.reply("Noted.")
    client_a = AsyncOpenAI(base_url=f"{a.url}/v1", api_key="ka")
    await client_a.chat.completions.create(
        model="hermes",
        messages=[{"role": "user", "content": f"the password is {SECRET}"}],
        extra_headers={"X-Hermes-Session-Id": "notes"},
    )

    # tenant B's agent searches its past sessions for it: nothing
    model.tool_call("session_search", {"query": SECRET})
    model.reply("I found nothing.")
    client_b = AsyncOpenAI(base_url=f"{b.url}/v1", api_key="kb")
    await client_b.chat.completions.create(
        model="hermes",
        messages=[{"role": "user", "content": "what is the password?"}],
        extra_headers={"X-Hermes-Session-Id": "notes"},  # the same name: its own session
    )
    tool_result = model.last_messages()[-1]
    assert tool_result["role"] == "tool"
    assert str(tool_result["content"]).startswith("No past messages match"), tool_result
    assert "the password is" not in json.dumps(model.last_messages())  # not its context

    # the web API: B lists and finds only its own; A finds the secret
    assert SECRET not in json.dumps(get(b, f"/api/web/sessions?q={SECRET}", "kb"))
    b_sessions = get(b, "/api/web/sessions", "kb")["sessions"]
    a_sessions = get(a, "/api/web/sessions", "ka")["sessions"]
    assert {s["id"] for s in b_sessions}.isdisjoint({s["id"] for s in a_sessions})
    assert SECRET in json.dumps(get(a, f"/api/web/sessions?q={SECRET}", "ka"))
    # each key opens its own tenant only
    assert status(a, "/api/web/sessions", "kb") == 401
    assert status(b, "/api/web/sessions", "ka") == 401

    # the command line, per profile
    found_b = run_hermes(root, "-p", "work", "sessions", "search", SECRET)
    found_a = run_hermes(root, "sessions", "search", SECRET)
    assert found_b.returncode == 0 and "No past messages match" in found_b.stdout, found_b.stderr
    assert found_a.returncode == 0 and f"the password is {SECRET}" in found_a.stdout

    # in the database: two schemas, the secret in A's only
    with psycopg.connect(pg_url, autocommit=True) as conn:
        schemas = {
            r[0]
            for r in conn.execute(
                "SELECT schema_name FROM information_schema.schemata"
                " WHERE schema_name LIKE 'hermes_%'"
            )
        }
        assert schemas == {"hermes_default", "hermes_work"}
        for schema, expected in (("hermes_default", 1), ("hermes_work", 0)):
            count = conn.execute(
                f'SELECT COUNT(*) FROM "{schema}".messages WHERE content LIKE %s',
                (f"%the password is {SECRET}%",),
            ).fetchone()
            assert count is not None and count[0] == expected, schema
    assert await a.stop() == 0 and await b.stop() == 0
