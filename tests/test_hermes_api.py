"""The /api/hermes routes against their OpenAPI document: a real gateway (with a
scripted model) served on a loopback port, driven by httpx.

The document (hermes/gateway/openapi.json) is what orchestrating agents and
people read, so these tests keep it honest: it is a valid OpenAPI 3.1
document, it lists exactly the app's /api/hermes routes and methods, every
real answer (successes and refusals) has a status code the document lists
for that operation and a body its schema accepts, the bodies these tests
send are ones it accepts, and no bad request gets a 500.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate as validate_openapi
from referencing import Registry
from referencing.jsonschema import DRAFT202012
from starlette.applications import Starlette
from starlette.routing import Route

from hermes import __version__
from hermes.cron.schedule import FORMS
from hermes.gateway.core import Gateway
from hermes.server.server import HttpServer, build_app
from hermes.testing import ScriptedModel
from tests.gateway_helpers import FakeChat, make_home, running_gateway
from tests.tools_helpers import wait_until

KEY = "test-key"
DOC_URI = "urn:hermes:openapi"
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
FINISHED = ("done", "failed", "cancelled")
DELETE = "rm ~/notes.txt"  # a user file outside the workspace: medium risk


@dataclass
class Api:
    gw: Gateway
    app: Starlette
    home: Path
    chat: FakeChat
    model: ScriptedModel
    http: httpx.AsyncClient
    doc: dict[str, Any]
    registry: Registry[Any]

    async def call(
        self, method: str, template: str, body: Any = None, **params: str
    ) -> tuple[int, Any]:
        """A request the document accepts; returns (status, body) once the answer was
        checked against the document. `template`'s {id} is filled from params["id"]."""
        if body is not None:
            self.request_schema(method, template).validate(body)
        path = template.replace("{id}", params.pop("id", ""))
        response = await self.http.request(method, path, json=body, params=params or None)
        return response.status_code, self.check(method, template, response)

    def operation(self, method: str, template: str) -> dict[str, Any]:
        operation: dict[str, Any] = self.doc["paths"][template][method.lower()]
        return operation

    def check(self, method: str, template: str, response: httpx.Response) -> Any:
        """The answer's status is documented for the operation and its JSON body
        validates against that response's schema; returns the body."""
        responses = self.operation(method, template)["responses"]
        code = str(response.status_code)
        assert code in responses, f"{method} {template} answered {code}: {response.text}"
        assert response.headers["content-type"] == "application/json"
        pointer = self.pointer(method, template) + f"/responses/{code}"
        _, pointer = self.follow(responses[code], pointer)
        data = response.json()
        self.validator(pointer + "/content/application~1json/schema").validate(data)
        return data

    def request_schema(self, method: str, template: str) -> Draft202012Validator:
        pointer = self.pointer(method, template) + "/requestBody"
        return self.validator(pointer + "/content/application~1json/schema")

    def pointer(self, method: str, template: str) -> str:
        return "/paths/" + template.replace("~", "~0").replace("/", "~1") + "/" + method.lower()

    def follow(self, node: dict[str, Any], pointer: str) -> tuple[dict[str, Any], str]:
        """A response object at `pointer`, or the one its local $ref names."""
        if "$ref" not in node:
            return node, pointer
        pointer = node["$ref"].removeprefix("#")
        found: Any = self.doc
        for part in pointer.strip("/").split("/"):
            found = found[part.replace("~1", "/").replace("~0", "~")]
        return found, pointer

    def validator(self, pointer: str) -> Draft202012Validator:
        return Draft202012Validator({"$ref": f"{DOC_URI}#{pointer}"}, registry=self.registry)


@asynccontextmanager
async def serving(home: Path, model: ScriptedModel) -> AsyncIterator[Api]:
    """A gateway on `home` with a chat platform, served on a loopback port."""
    make_home(home, model)
    (home / "notes.txt").write_text("keep me")
    skill = home / "skills" / "briefing"
    skill.mkdir(parents=True)
    front = "---\nname: briefing\ndescription: a morning brief\n---\n"
    (skill / "SKILL.md").write_text(front + "Read the news.\n")
    chat = FakeChat()
    async with running_gateway(home, [chat], api_key=KEY) as gw:
        app = build_app(gw)
        server = HttpServer(app, "127.0.0.1", 0, grace=0.1)
        port = await server.start()
        headers = {"Authorization": f"Bearer {KEY}"}
        try:
            async with httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=20
            ) as http:
                response = await http.get("/api/hermes/openapi.json")
                assert response.status_code == 200, response.text
                doc = response.json()
                resource = DRAFT202012.create_resource(doc)
                registry: Registry[Any] = Registry().with_resource(DOC_URI, resource)
                yield Api(gw, app, home, chat, model, http, doc, registry)
        finally:
            await server.stop()


@pytest.fixture
async def api(tmp_path: Path, model: ScriptedModel) -> AsyncIterator[Api]:
    async with serving(tmp_path / "home", model) as served:
        yield served


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def shared_api(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Api]:
    """One gateway for the refusals (they change nothing another one could see)."""
    with ScriptedModel() as model:  # never asked: a refusal reaches no model
        async with serving(tmp_path_factory.mktemp("refusals") / "home", model) as served:
            yield served


def rows(home: Path, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    with sqlite3.connect(home / "state.db") as conn:
        return conn.execute(sql, args).fetchall()


def task_status(home: Path, task_id: str) -> str | None:
    found = rows(home, "SELECT status FROM tasks WHERE id = ?", task_id)
    return str(found[0][0]) if found else None


async def finished(api: Api, task_id: str) -> dict[str, Any]:
    """The task once it finished, as GET /api/hermes/tasks/{id} shows it."""
    await wait_until(
        lambda: task_status(api.home, task_id) in FINISHED,
        15,
        why=lambda: f"task {task_id} is {task_status(api.home, task_id)}",
    )
    status, task = await api.call("GET", "/api/hermes/tasks/{id}", id=task_id)
    assert status == 200
    assert isinstance(task, dict)
    return task


# ----- the document ------------------------------------------------------------------


async def test_the_document_is_served_with_the_key_only_and_is_valid_openapi_3_1(
    api: Api,
) -> None:
    validate_openapi(api.doc)
    assert api.doc["openapi"].startswith("3.1.")
    bearer = api.doc["components"]["securitySchemes"]["bearer"]
    assert (bearer["type"], bearer["scheme"]) == ("http", "bearer")
    assert "HERMES_API_KEY" in bearer["description"]
    assert api.doc["security"] == [{"bearer": []}]

    async with httpx.AsyncClient(base_url=str(api.http.base_url)) as anonymous:
        for headers in ({}, {"Authorization": "Bearer wrong-key"}):
            response = await anonymous.get("/api/hermes/openapi.json", headers=headers)
            assert response.status_code == 401
            assert response.headers["www-authenticate"] == "Bearer"
            body = api.check("GET", "/api/hermes/openapi.json", response)
            assert body["error"]["type"] == "authentication_error"
            assert "HERMES_API_KEY" in body["error"]["message"]


async def test_the_document_lists_exactly_the_apps_routes_and_methods(api: Api) -> None:
    in_app = set()
    for route in api.app.routes:
        if isinstance(route, Route) and route.path.startswith("/api/hermes/"):
            in_app |= {(route.path, m.lower()) for m in route.methods or () if m != "HEAD"}
    documented = {
        (path, method)
        for path, item in api.doc["paths"].items()
        for method in item
        if method in METHODS
    }
    assert documented == in_app
    assert ("/api/hermes/cron/{id}", "patch") in documented  # the walk saw the routes


async def test_every_operation_says_what_it_does_and_documents_the_401(api: Api) -> None:
    for path, item in api.doc["paths"].items():
        for method, operation in item.items():
            where = f"{method.upper()} {path}"
            assert len(operation["description"]) > 40, where
            assert operation["responses"]["401"] == {"$ref": "#/components/responses/Unauthorized"}
            for param in operation.get("parameters", []):
                assert param["description"], where
                if param["in"] == "path":
                    assert param["name"] in path, where


async def test_the_schedule_forms_are_documented_where_a_schedule_is_given(api: Api) -> None:
    schemas = api.doc["components"]["schemas"]
    for where in (
        schemas["DelegateRequest"]["properties"]["schedule"]["description"],
        schemas["JobCreate"]["properties"]["schedule"]["description"],
        schemas["JobEdit"]["properties"]["schedule"]["description"],
    ):
        for example in ('"30 7 * * 1-5"', '"every 30m"', '"in 20m"', '"every weekday at 7:30"'):
            assert example in where
            assert example in FORMS  # the parser's own list says the same


# ----- status ------------------------------------------------------------------------


async def test_status_has_the_spec_fields_and_its_counts_follow_the_jobs(api: Api) -> None:
    await wait_until(lambda: api.chat.state == "connected")
    status, before = await api.call("GET", "/api/hermes/status")
    assert status == 200
    assert before["status"] == "ok"
    assert before["version"] == __version__
    assert before["profile"] == api.gw.profile.name
    assert before["uptime_s"] >= 0
    assert before["platforms"] == {"fakechat": "connected"}
    assert before["mcp"]["path"] == "/mcp"
    assert before["skills"] == ["briefing"]
    assert before["stats"] == {
        "tasks_running": 0,
        "tasks_open": 0,
        "approvals_pending": 0,
        "cron_jobs": 0,
        "sessions": 0,
    }

    created, _ = await api.call(
        "POST", "/api/hermes/cron", {"schedule": "every 2h", "prompt": "Check the disks"}
    )
    assert created == 201
    _, after = await api.call("GET", "/api/hermes/status")
    assert after["stats"]["cron_jobs"] == 1
    assert after["uptime_s"] >= before["uptime_s"]


# ----- delegate ----------------------------------------------------------------------


async def test_a_background_delegation_runs_to_the_models_answer(api: Api) -> None:
    api.model.reply("All 3 backups are fresh.")
    status, accepted = await api.call(
        "POST", "/api/hermes/delegate", {"prompt": "Check the backups"}
    )
    assert status == 202
    assert accepted["kind"] == "delegate"
    assert accepted["deliver"] is None  # background results are polled by default

    task = await finished(api, accepted["task_id"])
    assert task["status"] == "done"
    assert task["result"] == "All 3 backups are fresh."
    assert task["prompt"] == "Check the backups"
    assert task["origin"] is None
    assert task["started_at"] is not None and task["finished_at"] >= task["started_at"]
    assert api.model.last_user_text() == "Check the backups"

    _, listing = await api.call("GET", "/api/hermes/tasks")
    assert [t["id"] for t in listing["tasks"]] == [accepted["task_id"]]
    _, still_open = await api.call("GET", "/api/hermes/tasks", status="open")
    assert still_open == {"tasks": []}


async def test_a_cron_delegation_creates_a_job(api: Api) -> None:
    before = time.time()
    status, accepted = await api.call(
        "POST",
        "/api/hermes/delegate",
        {"prompt": "Remind me to stretch", "mode": "cron", "schedule": "in 20m"},
    )
    assert status == 202
    assert set(accepted) == {"job_id", "next_run_at", "deliver", "warning"}
    assert before + 1200 <= accepted["next_run_at"] <= time.time() + 1201
    assert accepted["deliver"] == "home"
    assert "no chat is the home channel yet" in accepted["warning"]  # results are kept

    _, listing = await api.call("GET", "/api/hermes/cron")
    (job,) = listing["jobs"]
    assert (job["id"], job["created_by"], job["status"]) == (accepted["job_id"], "api", "active")
    assert job["schedule"].startswith("once ")


async def test_a_walkaway_delegation_reports_to_the_home_chat(api: Api) -> None:
    await api.chat.say("/sethome")
    await wait_until(lambda: any("home channel" in t for t in api.chat.shown()))
    api.model.reply("Migrated both databases.")

    status, accepted = await api.call(
        "POST", "/api/hermes/delegate", {"prompt": "Migrate the databases", "mode": "walkaway"}
    )
    assert status == 202
    assert (accepted["kind"], accepted["deliver"]) == ("walkaway", "fakechat:1")
    task = await finished(api, accepted["task_id"])
    assert (task["status"], task["origin"]) == ("done", "fakechat:1")
    await wait_until(
        lambda: any("Migrated both databases." in t for t in api.chat.shown()),
        why=lambda: repr(api.chat.shown()),
    )


async def test_a_walkaway_without_a_home_chat_is_refused_with_what_to_do(api: Api) -> None:
    api.model.reply_with(lambda request: "Done.", times=None)  # if it runs anyway
    status, refused = await api.call(
        "POST", "/api/hermes/delegate", {"prompt": "Migrate the databases", "mode": "walkaway"}
    )
    assert status == 400, refused
    assert "/sethome" in refused["error"]["message"]
    assert rows(api.home, "SELECT id FROM tasks") == []


# ----- approvals and tasks -----------------------------------------------------------


async def test_a_delegated_tasks_approval_is_listed_and_rejected(api: Api) -> None:
    api.model.tool_call("terminal", {"command": DELETE})
    api.model.reply("I left your notes alone.")
    _, accepted = await api.call("POST", "/api/hermes/delegate", {"prompt": "Delete my notes"})
    task_id = accepted["task_id"]
    await wait_until(lambda: task_status(api.home, task_id) == "waiting_approval")

    _, listing = await api.call("GET", "/api/hermes/approvals")
    (pending,) = listing["approvals"]
    assert (pending["status"], pending["risk"], pending["tool"]) == (
        "pending",
        "medium",
        "terminal",
    )
    assert DELETE in pending["action"]
    assert pending["owner"] == f"task:{task_id}"
    _, status = await api.call("GET", "/api/hermes/status")
    assert status["stats"]["approvals_pending"] == 1
    assert status["stats"]["tasks_running"] == 1

    code, decided = await api.call(
        "POST", "/api/hermes/approvals/{id}", {"decision": "reject"}, id=pending["id"]
    )
    assert code == 200
    assert (decided["id"], decided["status"], decided["decided_by"]) == (
        pending["id"],
        "denied",
        "api",
    )
    task = await finished(api, task_id)
    assert (task["status"], task["result"]) == ("done", "I left your notes alone.")
    assert (api.home / "notes.txt").exists()

    code, again = await api.call(
        "POST", "/api/hermes/approvals/{id}", {"decision": "approve"}, id=pending["id"]
    )
    assert code == 409
    assert "already denied" in again["error"]["message"]
    _, everything = await api.call("GET", "/api/hermes/approvals", status="all")
    assert [a["status"] for a in everything["approvals"]] == ["denied"]


async def test_a_running_task_is_cancelled_once(api: Api) -> None:
    gate = api.model.hang(partial="Working", then="too late")
    _, accepted = await api.call("POST", "/api/hermes/delegate", {"prompt": "Count the stars"})
    task_id = accepted["task_id"]
    await gate.wait_entered_async()

    code, cancelled = await api.call(
        "POST", "/api/hermes/tasks/{id}/cancel", {"by": "orchestrator"}, id=task_id
    )
    assert code == 200
    assert (cancelled["id"], cancelled["status"]) == (task_id, "cancelled")
    task = await finished(api, task_id)
    assert (task["status"], task["error"]) == ("cancelled", "cancelled by orchestrator")

    code, again = await api.call("POST", "/api/hermes/tasks/{id}/cancel", id=task_id)
    assert code == 409
    assert "already cancelled" in again["error"]["message"]


# ----- cron --------------------------------------------------------------------------


async def test_a_cron_job_is_created_edited_paused_resumed_run_and_removed(api: Api) -> None:
    start = time.time()
    code, job = await api.call(
        "POST",
        "/api/hermes/cron",
        {"schedule": "every 30m", "prompt": "Summarize the news", "name": "news"},
    )
    assert code == 201
    job_id = job["job_id"]
    assert job["id"] == job_id
    assert (job["name"], job["schedule"], job["describe"]) == (
        "news",
        "every 30m",
        "every 30 minutes",
    )
    assert (job["deliver"], job["created_by"], job["status"]) == ("home", "api", "active")
    assert start + 1800 <= job["next_run_at"] <= time.time() + 1800

    _, listing = await api.call("GET", "/api/hermes/cron")
    assert [j["id"] for j in listing["jobs"]] == [job_id]

    code, edited = await api.call(
        "PATCH", "/api/hermes/cron/{id}", {"schedule": "0 8 * * *", "deliver": "none"}, id=job_id
    )
    assert code == 200
    assert (edited["schedule"], edited["deliver"], edited["name"]) == ("0 8 * * *", "none", "news")
    assert time.time() < edited["next_run_at"] <= time.time() + 86400

    code, paused = await api.call("POST", "/api/hermes/cron/{id}/pause", id=job_id)
    assert code == 200
    assert (paused["status"], paused["next_run_at"]) == ("paused", None)
    code, resumed = await api.call("POST", "/api/hermes/cron/{id}/resume", id=job_id)
    assert code == 200
    assert resumed["status"] == "active"
    assert time.time() < resumed["next_run_at"] <= time.time() + 86400

    api.model.reply("Nothing new today.")
    code, started = await api.call("POST", "/api/hermes/cron/{id}/run", id=job_id)
    assert code == 202
    assert started["job_id"] == job_id
    run = await finished(api, started["task_id"])
    assert (run["kind"], run["job_id"], run["status"]) == ("cron", job_id, "done")
    assert run["result"] == "Nothing new today."
    _, listing = await api.call("GET", "/api/hermes/cron")
    assert (listing["jobs"][0]["runs"], listing["jobs"][0]["last_task_id"]) == (1, run["id"])

    code, removed = await api.call("DELETE", "/api/hermes/cron/{id}", id=job_id)
    assert (code, removed) == (200, {"job_id": job_id, "removed": True})
    code, gone = await api.call("GET", "/api/hermes/cron/{id}", id=job_id)
    assert code == 404
    assert job_id in gone["error"]["message"]
    assert (await api.call("GET", "/api/hermes/cron"))[1]["jobs"] == []


async def test_one_job_shows_its_count_and_its_last_runs(api: Api) -> None:
    _, job = await api.call(
        "POST", "/api/hermes/cron", {"schedule": "every 1d", "prompt": "Water the plants"}
    )
    api.model.reply("Watered.")
    _, started = await api.call("POST", "/api/hermes/cron/{id}/run", id=job["job_id"])
    await finished(api, started["task_id"])

    code, shown = await api.call("GET", "/api/hermes/cron/{id}", id=job["job_id"])
    assert code == 200
    assert shown["runs"] == 1
    (run,) = shown["history"]
    assert (run["task_id"], run["status"]) == (started["task_id"], "done")


# ----- refusals ----------------------------------------------------------------------

TOO_LONG = "x" * 20_001
DELEGATE, CRON, JOB = "/api/hermes/delegate", "/api/hermes/cron", "/api/hermes/cron/{id}"
FORM, MEANING = True, False  # is the body's JSON refused by the document's schema too?

# (method, route, body (bytes: sent raw, else as JSON), status, what the message says,
# FORM when the document's request schema refuses that JSON body as well); {id} is an
# unknown id, {job} an existing job's.
BAD_REQUESTS: list[tuple[str, str, Any, int, str, bool]] = [
    ("POST", DELEGATE, b"prompt=hi", 400, "not valid JSON", FORM),
    ("POST", DELEGATE, b"\xff\xfe", 400, "not valid JSON", FORM),
    ("POST", DELEGATE, ["Check the backups"], 400, "JSON object", FORM),
    ("POST", DELEGATE, {"prompt": 5}, 400, '"prompt" must be a string', FORM),
    ("POST", DELEGATE, {"prompt": "hi", "mode": 1}, 400, '"mode" must be a string', FORM),
    ("POST", DELEGATE, {}, 400, '"prompt" must be a non-empty string', FORM),
    ("POST", DELEGATE, {"prompt": "  "}, 400, '"prompt" must be a non-empty', MEANING),
    ("POST", DELEGATE, {"prompt": TOO_LONG}, 400, "at most 20000", FORM),
    ("POST", DELEGATE, {"prompt": "hi", "mode": "later"}, 400, "background", FORM),
    ("POST", DELEGATE, {"prompt": "hi", "colour": "red"}, 400, "'colour'", FORM),
    (
        "POST",
        DELEGATE,
        {"prompt": "hi", "mode": "cron", "schedule": "every banana"},
        400,
        FORMS,
        MEANING,
    ),
    ("POST", DELEGATE, {"prompt": "hi", "mode": "cron"}, 400, "needs a", MEANING),
    ("POST", DELEGATE, {"prompt": "hi", "schedule": "in 5m"}, 400, "is for mode", MEANING),
    ("POST", DELEGATE, {"prompt": "hi", "deliver": "telegram"}, 400, "not a target", MEANING),
    ("POST", DELEGATE, {"prompt": "hi", "deliver": "origin"}, 400, "needs a chat", MEANING),
    ("POST", DELEGATE, {"prompt": "hi", "profile": "work"}, 400, "hermes -p work", MEANING),
    ("POST", CRON, b"{", 400, "not valid JSON", FORM),
    ("POST", CRON, {"schedule": "every banana", "prompt": "hi"}, 400, FORMS, MEANING),
    ("POST", CRON, {"prompt": "hi"}, 400, "schedule", FORM),
    ("POST", CRON, {"schedule": "every 1h"}, 400, "prompt", FORM),
    ("POST", CRON, {"schedule": "every 1h", "prompt": ["hi"]}, 400, "string", FORM),
    ("POST", CRON, {"schedule": "every 5s", "prompt": "hi"}, 400, "1 minute", MEANING),
    (
        "POST",
        CRON,
        {"schedule": "@daily", "prompt": "hi", "deliver": "x"},
        400,
        "not a target",
        MEANING,
    ),
    ("POST", CRON, {"schedule": "@daily", "prompt": "hi", "profile": "work"}, 400, "work", MEANING),
    (
        "POST",
        CRON,
        {"schedule": "@daily", "prompt": "hi", "created_by": "me"},
        400,
        "created_by",
        FORM,
    ),
    ("POST", CRON, {"schedule": "@daily", "prompt": "hi", "when": "now"}, 400, "'when'", FORM),
    ("GET", JOB, None, 404, "no cron job 'nope'", FORM),
    ("PATCH", JOB, {"name": "x"}, 404, "no cron job", MEANING),
    ("DELETE", JOB, None, 404, "no cron job", FORM),
    ("POST", JOB + "/pause", None, 404, "no cron job", FORM),
    ("POST", JOB + "/resume", None, 404, "no cron job", FORM),
    ("POST", JOB + "/run", None, 404, "no cron job", FORM),
    ("PATCH", "/api/hermes/cron/{job}", {}, 400, "nothing to change", FORM),
    ("PATCH", "/api/hermes/cron/{job}", {"schedule": None}, 400, "nothing to change", MEANING),
    ("PATCH", "/api/hermes/cron/{job}", {"schedule": "every banana"}, 400, FORMS, MEANING),
    ("PATCH", "/api/hermes/cron/{job}", {"deliver": "origin"}, 400, "origin", MEANING),
    ("PATCH", "/api/hermes/cron/{job}", {"profile": "work"}, 400, "'profile'", FORM),
    ("PATCH", "/api/hermes/cron/{job}", b"[]", 400, "JSON object", FORM),
    ("GET", "/api/hermes/tasks", None, 400, "all or open", FORM),
    ("GET", "/api/hermes/tasks/{id}", None, 404, "no task 'nope'", FORM),
    ("POST", "/api/hermes/tasks/{id}/cancel", None, 404, "no task", FORM),
    ("POST", "/api/hermes/tasks/{id}/cancel", {"by": 5}, 400, '"by"', FORM),
    ("POST", "/api/hermes/tasks/{id}/cancel", b"nope", 400, "not valid JSON", FORM),
    ("GET", "/api/hermes/approvals", None, 400, "pending", FORM),
    ("POST", "/api/hermes/approvals/{id}", {"decision": "maybe"}, 400, '"approve" or', FORM),
    ("POST", "/api/hermes/approvals/{id}", {}, 400, '"decision"', FORM),
    ("POST", "/api/hermes/approvals/{id}", b"approve", 400, "not valid JSON", FORM),
    ("POST", "/api/hermes/approvals/{id}", {"decision": "approve"}, 404, "no approval", MEANING),
    ("POST", "/api/hermes/send", b"hi", 400, "bad request", FORM),
    ("POST", "/api/hermes/send", ["fakechat:1", "hi"], 400, "bad request", FORM),
    ("POST", "/api/hermes/send", {"target": "fakechat", "text": "hi"}, 400, "CHAT", MEANING),
    ("POST", "/api/hermes/send", {"target": "fakechat:1", "text": " "}, 400, "empty", MEANING),
    (
        "POST",
        "/api/hermes/send",
        {"target": "irc:1", "text": "hi"},
        400,
        "known platforms",
        MEANING,
    ),
    (
        "POST",
        "/api/hermes/send",
        {"target": "telegram:1", "text": "hi"},
        400,
        "set TELEGRAM_BOT_TOKEN",
        MEANING,
    ),
    ("POST", CRON, {"schedule": "every 1h", "prompt": "x", "deliver": "tg:1"}, 400, "tg", MEANING),
]
QUERIES = {"/api/hermes/tasks": {"status": "done"}, "/api/hermes/approvals": {"status": "maybe"}}


def case_id(method: str, template: str, body: Any, *_: Any) -> str:
    shown = repr(body) if isinstance(body, bytes) else json.dumps(body)
    return f"{method} {template.removeprefix('/api/hermes')} {shown[:40]}"


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize(
    ("method", "template", "body", "status", "says", "form"),
    BAD_REQUESTS,
    ids=[case_id(*case) for case in BAD_REQUESTS],
)
async def test_a_bad_request_is_a_documented_4xx_saying_what_is_wrong(
    shared_api: Api, method: str, template: str, body: Any, status: int, says: str, form: bool
) -> None:
    api, job_id = shared_api, "nope"
    if "{job}" in template:
        _, job = await api.call("POST", CRON, {"schedule": "every 1h", "prompt": "x"})
        job_id, template = job["job_id"], template.replace("{job}", "{id}")
    path = template.replace("{id}", job_id)
    params = QUERIES.get(template) if method == "GET" else None
    if isinstance(body, bytes):
        response = await api.http.request(method, path, content=body, params=params)
    else:
        response = await api.http.request(method, path, json=body, params=params)

    assert response.status_code == status, response.text
    data = api.check(method, template, response)
    assert says in data["error"]["message"]
    assert "\n" not in data["error"]["message"]
    if isinstance(body, dict):
        # a refusal of the body's form is one the document announces; one of its
        # meaning (a schedule, a target, a profile) comes with a body it accepts
        assert api.request_schema(method, template).is_valid(body) is not form, body


NESTED = b"[" * 100_000 + b"]" * 100_000


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize("template", [DELEGATE, CRON, "/api/hermes/send"])
async def test_a_body_nested_too_deep_is_a_400_not_a_500(shared_api: Api, template: str) -> None:
    api = shared_api
    response = await api.http.post(template, content=NESTED)
    assert response.status_code == 400, response.text
    api.check("POST", template, response)
