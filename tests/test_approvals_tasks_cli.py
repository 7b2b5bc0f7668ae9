"""`hermes approvals ...` and `hermes tasks ...` as the owner sees them (a real
`python -m hermes` on a tmp home), and the /api/hermes approvals and tasks
routes against a fake gateway: with no gateway running the CLI works on
state.db; with one, it goes through the routes."""

from __future__ import annotations

import contextlib
import getpass
import json
import os
import socket
import sqlite3
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from hermes.gateway.delegation import brief
from hermes.home import load_profile
from hermes.server.api_work import routes
from hermes.server.server import HttpServer, build_app
from hermes.store import Store, approval_ops, task_ops
from hermes.store.approval_ops import ApprovalRow, NewApproval
from hermes.store.db import open_db, transaction
from tests.cli_helpers import arun_hermes, run_hermes

KEY = "test-key"
BEARER = {"Authorization": f"Bearer {KEY}"}
ME = f"cli ({getpass.getuser()}@{socket.gethostname()})"
NOT_RUNNING = "The gateway is not running: the work resumes when it starts (hermes gateway run)."


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    path.mkdir()
    (path / ".env").write_text(f"HERMES_API_KEY={KEY}\n")
    return path


def hermes(home: Path, *argv: str) -> tuple[int, str, str]:
    """Run `hermes ARGV` on `home`; (exit code, stdout, stderr)."""
    done = run_hermes(home, *argv)
    return done.returncode, done.stdout, done.stderr


async def ahermes(home: Path, *argv: str) -> tuple[int, str, str]:
    """hermes() without blocking the loop that serves the gateway's routes."""
    done = await arun_hermes(home, *argv)
    return done.returncode, done.stdout, done.stderr


@contextlib.contextmanager
def db(home: Path) -> Iterator[sqlite3.Connection]:
    conn = open_db(home / "state.db")
    try:
        yield conn
    finally:
        conn.close()


def ask(
    conn: sqlite3.Connection,
    action: str,
    *,
    risk: str = "high",
    owner: str = "inbound:1",
    origin: str | None = "telegram:555",
    ago: float = 0,
) -> ApprovalRow:
    new = NewApproval(
        risk, "force-pushes over history", "terminal", action, f"call-{action}", "s1", owner, origin
    )
    row, created = approval_ops.request(conn, new, time.time() - ago)
    assert created
    return row


# ----- approvals, no gateway ----------------------------------------------------------


def test_list_shows_pending_approvals(home: Path) -> None:
    assert hermes(home, "approvals", "list") == (0, "No pending approvals.\n", "")
    with db(home) as conn:
        old = ask(conn, "git push --force origin main", ago=300)
        new = ask(conn, "rm -r build\nrm -r dist", risk="medium", origin=None)
        done = ask(conn, "git reset --hard")
        approval_ops.decide(conn, done.id, False, "someone", time.time())

    code, out, err = hermes(home, "approvals", "list")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0] == "Pending approvals (decide with: hermes approvals approve|deny ID):"
    assert lines[1].split() == ["ID", "RISK", "AGE", "ORIGIN", "ACTION"]
    assert lines[2].split() == [new.id, "medium", "just", "now", "-", "rm", "-r", "build", "…"]
    assert " ".join(lines[3].split()) == f"{old.id} high 5 min telegram:555 {old.action}"
    assert lines[3].index("git push") == lines[2].index("rm -r")  # columns line up
    assert len(lines) == 4

    code, out, _ = hermes(home, "approvals", "list", "--all")
    assert [line.split()[:2] for line in out.splitlines()] == [
        ["ID", "STATUS"],
        [done.id, "denied"],
        [new.id, "pending"],
        [old.id, "pending"],
    ]

    code, out, _ = hermes(home, "approvals", "list", "--json")
    assert code == 0
    assert json.loads(out) == {"approvals": [new.to_json(), old.to_json()]}


def test_approve_and_deny_without_a_gateway(home: Path) -> None:
    with db(home) as conn:
        push = ask(conn, "git push --force origin main")
        drop = ask(conn, "dropdb prod")

    code, out, err = hermes(home, "approvals", "approve", push.id.upper())
    assert (code, err) == (0, "")
    assert out == f"Approved {push.id}: git push --force origin main\n{NOT_RUNNING}\n"
    code, out, err = hermes(home, "approvals", "deny", drop.id)
    assert (code, err) == (0, "")
    assert out == f"Denied {drop.id}: dropdb prod (it will not run)\n{NOT_RUNNING}\n"

    with db(home) as conn:
        assert approval_ops.count_pending(conn) == 0
        row = approval_ops.get(conn, push.id)
        assert row is not None and (row.status, row.decided_by) == ("approved", ME)
        # the gateway picks the decisions up when it starts
        assert approval_ops.decided_owners(conn) == ["inbound:1"]

    code, out, err = hermes(home, "approvals", "deny", push.id)
    assert (code, out) == (1, "")
    assert err == f"hermes: approval {push.id} was already approved by {ME}\n"


def test_unknown_ids_are_one_line_errors(home: Path) -> None:
    for argv, error in [
        (("approvals", "approve", "zz"), "no approval 'zz' (see `hermes approvals list`)"),
        (("approvals", "deny", "zz"), "no approval 'zz' (see `hermes approvals list`)"),
        (("tasks", "show", "bg_1"), "no task 'bg_1' (see `hermes tasks list --all`)"),
        (("tasks", "cancel", "bg_1"), "no task 'bg_1' (see `hermes tasks list --all`)"),
    ]:
        assert hermes(home, *argv) == (1, "", f"hermes: {error}\n")


def test_classify_prints_the_gates_verdict(home: Path) -> None:
    verdicts = {}
    for command in (["rm", "-rf", "/"], ["ls"], ["git push --force origin main"]):
        code, out, err = hermes(home, "approvals", "classify", *command, "--json")
        assert (code, err) == (0, "")
        verdict = json.loads(out)
        assert out == json.dumps(verdict) + "\n"
        assert list(verdict) == ["risk", "reason"] and verdict["reason"]
        verdicts[" ".join(command)] = verdict["risk"]
    assert verdicts["rm -rf /"] == "hard"
    assert verdicts["ls"] == "none"
    assert verdicts["git push --force origin main"] in ("none", "low", "medium", "high", "hard")

    code, out, _ = hermes(home, "approvals", "classify", "--json", "ls")
    assert json.loads(out)["risk"] == "none"
    code, out, _ = hermes(home, "approvals", "classify", "rm", "-rf", "/")
    assert code == 0 and out.startswith("hard: ") and out.count("\n") == 1
    code, out, err = hermes(home, "approvals", "classify")
    assert (code, out) == (1, "")
    assert err.startswith("hermes: give the shell command to classify")


# ----- tasks, no gateway --------------------------------------------------------------


def test_tasks_list_and_show(home: Path) -> None:
    assert hermes(home, "tasks", "list") == (
        0,
        "No open tasks (hermes tasks list --all shows all).\n",
        "",
    )
    with db(home) as conn:
        done = task_ops.insert(conn, "background", "Say hello", "telegram:555", time.time() - 7200)
        task_ops.finish(conn, done.id, "done", time.time(), result="Hello!\nBye.")
        running = task_ops.insert(
            conn, "walkaway", "Check all servers in the cluster and report", "web:abc", time.time()
        )
        for n in range(7):
            task_ops.add_event(conn, running.id, "progress", f"step {n}", time.time())

    code, out, err = hermes(home, "tasks", "list")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0].split() == ["ID", "KIND", "STATUS", "AGE", "ORIGIN", "PROMPT"]
    assert lines[1].split()[:6] == [running.id, "walkaway", "queued", "just", "now", "web:abc"]
    assert lines[1].endswith("Check all servers in the cluster and report")
    assert len(lines) == 2

    _, out, _ = hermes(home, "tasks", "list", "--all")
    assert [line.split()[:4] for line in out.splitlines()[1:]] == [
        [running.id, "walkaway", "queued", "just"],
        [done.id, "background", "done", "2"],
    ]

    _, out, _ = hermes(home, "tasks", "list", "--all", "--json")
    tasks = json.loads(out)["tasks"]
    assert [t["id"] for t in tasks] == [running.id, done.id]
    assert [e["text"] for e in tasks[0]["progress"]] == [
        "step 2",
        "step 3",
        "step 4",
        "step 5",
        "step 6",
    ]
    assert set(tasks[0]["progress"][0]) == {"at", "kind", "text"}
    assert tasks[1]["result"] == "Hello!\nBye." and tasks[1]["progress"] == []

    code, out, err = hermes(home, "tasks", "show", done.id)
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[:3] == [
        f"Task:     {done.id} (background)",
        "Status:   done",
        "Origin:   telegram:555",
    ]
    assert "Events: none" in lines
    assert lines[-3:] == ["Result:", "  Hello!", "  Bye."]

    _, out, _ = hermes(home, "tasks", "show", running.id)
    assert [line.split()[1:] for line in out.splitlines() if "progress" in line] == [
        ["progress", "step", str(n)] for n in range(7)
    ]
    _, out, _ = hermes(home, "tasks", "show", running.id, "--json")
    shown = json.loads(out)
    assert shown["id"] == running.id and len(shown["progress"]) == 7


def test_cancel_without_a_gateway(home: Path) -> None:
    with db(home) as conn:
        task = task_ops.insert(conn, "background", "Deploy it", "telegram:555", time.time())
        waiting = ask(conn, "kubectl apply -f prod.yaml", owner=f"task:{task.id}")

    code, out, err = hermes(home, "tasks", "cancel", task.id)
    assert (code, err) == (0, "")
    assert (
        out
        == f"Cancelled {task.id}.\nThe gateway is not running: the chat is told when it starts.\n"
    )
    with db(home) as conn:
        row = task_ops.get(conn, task.id)
        assert row is not None and (row.status, row.error) == ("cancelled", f"cancelled by {ME}")
        approval = approval_ops.get(conn, waiting.id)
        assert approval is not None and (approval.status, approval.decided_by) == ("cancelled", ME)
        note = conn.execute("SELECT platform, chat, text FROM deliveries").fetchall()
        assert note == [("telegram", "555", f"⏹ Background task {task.id} cancelled ({ME}).")]

    code, out, err = hermes(home, "tasks", "cancel", task.id)
    assert (code, out, err) == (1, "", f"hermes: task {task.id} already cancelled\n")
    assert hermes(home, "tasks", "list") == (
        0,
        "No open tasks (hermes tasks list --all shows all).\n",
        "",
    )


def delegated(
    conn: sqlite3.Connection,
    goal: str,
    parent: str,
    at: float,
    *,
    depth: int = 1,
    waited: bool = False,
    session: str | None = None,
) -> task_ops.TaskRow:
    """A child as the gateway's delegate call stores it (its prompt: the brief)."""
    child = task_ops.Child(
        brief(goal, "some context"), "telegram:555", None, parent, f"call-{goal}", depth,
        at + 600, waited,
    )  # fmt: skip
    (row,) = task_ops.insert_children(conn, [child], at)
    if session is not None:
        with transaction(conn):
            task_ops.start(conn, row.id, session, 1, at)
    return row


def test_delegated_tasks_read_as_children_and_a_cancel_cascades_to_them(home: Path) -> None:
    now = time.time()
    with db(home) as conn:
        parent = task_ops.insert(conn, "background", "Survey the fleet", "telegram:555", now - 60)
        with transaction(conn):
            task_ops.start(conn, parent.id, "S-parent", 1, now - 60)
        first = delegated(conn, "check web1", "S-parent", now - 40, session="S-first")
        second = delegated(conn, "check web2", "S-parent", now - 30, waited=True)
        late = delegated(conn, "check web3", "S-parent", now - 20)
        task_ops.finish(conn, late.id, "timed_out", now, error="timed out after 600 s")
        grand = delegated(conn, "ping db", "S-first", now - 10, depth=2)
        chats = delegated(conn, "summarise the logs", "20261203_101010_abcdef", now - 5)
        waiting = ask(conn, "rm -rf /srv/cache", owner=f"task:{first.id}")

    _, out, _ = hermes(home, "tasks", "list", "--all")
    rows = [line.split()[:3] for line in out.splitlines()[1:]]
    assert rows == [
        ["↳", chats.id, "delegate"],
        [parent.id, "background", "running"],
        ["↳", first.id, "delegate"],
        ["↳", grand.id, "delegate"],
        ["↳", second.id, "delegate"],
        ["↳", late.id, "delegate"],
    ]
    lines = out.splitlines()
    assert lines[1].endswith(
        "summarise the logs (delegated by the agent in session 20261203_101010_abcdef)"
    )
    assert lines[4].index("↳") > lines[3].index("↳")  # the grandchild is indented further
    assert "timed_out" in lines[6] and lines[6].endswith("check web3")

    _, out, _ = hermes(home, "tasks", "show", first.id)
    assert f"Parent:   delegated by {parent.id} (depth 1)" in out.splitlines()
    assert any(line.startswith("Deadline: ") and "(in " in line for line in out.splitlines())
    _, out, _ = hermes(home, "tasks", "show", parent.id)
    listed = out.split("Delegated tasks:\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert [line.split()[:3] for line in listed] == [
        ["↳", first.id, "running"],
        ["↳", second.id, "queued"],
        ["↳", late.id, "timed_out"],
    ]
    assert listed[0].endswith("check web1")

    code, out, err = hermes(home, "tasks", "cancel", parent.id)
    assert (code, err) == (0, "")
    assert out.splitlines()[0] == (
        f"Cancelled {parent.id} and its delegated task(s) {first.id}, {second.id}, {grand.id}."
    )
    with db(home) as conn:
        status = {r.id: (r.status, r.error) for r in task_ops.listing(conn)}
        gone = ("cancelled", f"cancelled by {ME}")
        assert status == {
            parent.id: gone,
            first.id: gone,
            second.id: gone,
            grand.id: gone,
            late.id: ("timed_out", "timed out after 600 s"),
            chats.id: ("queued", None),  # another session's child
        }
        approval = approval_ops.get(conn, waiting.id)
        assert approval is not None and approval.status == "cancelled"
        notes = [r[0] for r in conn.execute("SELECT text FROM deliveries ORDER BY id")]
        # the waited-for child gets no note: its parent's tool result says it
        assert notes == [
            f"⏹ {title} {task.id} cancelled ({ME})."
            for title, task in [
                ("Background task", parent),
                ("Delegated task", first),
                ("Delegated task", grand),
            ]
        ]


# ----- the routes, on a fake gateway ---------------------------------------------------


class FakeDesk:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.calls: list[tuple[str, bool, str]] = []
        self.listeners: list[Any] = []  # the web chat's, told of decisions made in a gateway

    async def decide(self, approval_id: str, approve: bool, by: str) -> str:
        self.calls.append((approval_id, approve, by))
        row, _ = await self.store.run(approval_ops.decide, approval_id, approve, by, time.time())
        assert row is not None
        return f"{'Approved' if approve else 'Denied'} {row.id}: {row.action}"

    def wake(self) -> None:
        raise AssertionError("the routes decide through decide()")


class FakeTasks:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.calls: list[tuple[str, str]] = []
        self.finishes_first = False  # the task ends on its own just before the cancel

    async def cancel(self, task_id: str, by: str) -> str:
        self.calls.append((task_id, by))
        if self.finishes_first:
            await self.store.run(task_ops.finish, task_id, "done", time.time(), result="ok")
            return f"Task {task_id} had just finished."
        await self.store.run(task_ops.finish, task_id, "cancelled", time.time())
        return f"Cancelled {task_id}."

    def wake(self) -> None:
        raise AssertionError("the routes cancel through cancel()")


class FakeGateway:
    def __init__(self, store: Store, home: Path) -> None:
        self.store = store
        self.profile = load_profile(env={"HERMES_HOME": str(home)})  # the login page names it
        self.desk = FakeDesk(store)
        self.tasks = FakeTasks(store)
        self.api_key = KEY
        self.adapters: dict[str, Any] = {}
        self.started_at = time.time()
        self.on_close: list[Any] = []


@pytest.fixture
async def gw(home: Path) -> AsyncIterator[FakeGateway]:
    async with await Store.open(home / "state.db") as store:
        yield FakeGateway(store, home)


@pytest.fixture
async def api(gw: FakeGateway) -> AsyncIterator[httpx.AsyncClient]:
    app = Starlette(routes=routes(gw))  # type: ignore[arg-type]
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://hermes") as client:
        yield client


async def test_approval_routes(gw: FakeGateway, api: httpx.AsyncClient) -> None:
    assert (await api.get("/api/hermes/approvals")).json() == {"approvals": []}
    push = await gw.store.run(ask, "git push --force origin main")
    drop = await gw.store.run(ask, "dropdb prod", risk="high")
    listed = (await api.get("/api/hermes/approvals")).json()["approvals"]
    assert listed == [drop.to_json(), push.to_json()]

    response = await api.post(f"/api/hermes/approvals/{push.id}", json={"decision": "approve"})
    assert response.status_code == 200
    assert response.json() == {
        "id": push.id,
        "status": "approved",
        "decided_by": "api",
        "message": f"Approved {push.id}: git push --force origin main",
    }
    response = await api.post(
        f"/api/hermes/approvals/{drop.id}", json={"decision": "reject", "by": "dashboard"}
    )
    assert response.json()["status"] == "denied" and response.json()["decided_by"] == "dashboard"
    assert gw.desk.calls == [(push.id, True, "api"), (drop.id, False, "dashboard")]

    again = await api.post(f"/api/hermes/approvals/{push.id}", json={"decision": "deny"})
    assert again.status_code == 409
    assert again.json()["error"]["message"] == f"approval {push.id} was already approved by api"
    unknown = await api.post("/api/hermes/approvals/zz", json={"decision": "approve"})
    assert (unknown.status_code, unknown.json()["error"]["message"]) == (404, "no approval 'zz'")
    assert len(gw.desk.calls) == 2

    assert (await api.get("/api/hermes/approvals")).json() == {"approvals": []}
    everything = (await api.get("/api/hermes/approvals?status=all")).json()["approvals"]
    assert [a["status"] for a in everything] == ["denied", "approved"]
    denied = (await api.get("/api/hermes/approvals?status=denied")).json()["approvals"]
    assert [a["id"] for a in denied] == [drop.id]
    bad = await api.get("/api/hermes/approvals?status=maybe")
    assert bad.status_code == 400 and "status must be one of" in bad.json()["error"]["message"]


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b'{"decision": "maybe"}',
        b'{"decision": ["approve"]}',
        b"{}",
        b'{"decision": "approve", "by": 5}',
    ],
)
async def test_a_bad_decision_is_a_400(
    gw: FakeGateway, api: httpx.AsyncClient, body: bytes
) -> None:
    row = await gw.store.run(ask, "git push --force")
    response = await api.post(f"/api/hermes/approvals/{row.id}", content=body)
    assert response.status_code == 400
    assert response.json()["error"]["message"].startswith("bad request: ")
    assert gw.desk.calls == []


async def test_task_routes(gw: FakeGateway, api: httpx.AsyncClient) -> None:
    done = await gw.store.run(task_ops.insert, "background", "Say hi", "telegram:1", time.time())
    await gw.store.run(task_ops.finish, done.id, "done", time.time(), result="hi")
    task = await gw.store.run(task_ops.insert, "walkaway", "Fix CI", "web:abc", time.time() + 1)
    for n in range(7):
        await gw.store.run(task_ops.add_event, task.id, "progress", f"step {n}", time.time())

    tasks = (await api.get("/api/hermes/tasks")).json()["tasks"]
    assert [t["id"] for t in tasks] == [task.id, done.id]
    assert tasks[0] | {"progress": []} == task.to_json() | {"progress": []}
    assert [e["text"] for e in tasks[0]["progress"]] == [f"step {n}" for n in range(2, 7)]
    assert tasks[1]["result"] == "hi"
    open_only = (await api.get("/api/hermes/tasks?status=open")).json()["tasks"]
    assert [t["id"] for t in open_only] == [task.id]
    of_chat = (await api.get("/api/hermes/tasks?origin=telegram:1")).json()["tasks"]
    assert [t["id"] for t in of_chat] == [done.id]
    assert (await api.get("/api/hermes/tasks?status=done")).status_code == 400

    one = (await api.get(f"/api/hermes/tasks/{task.id}")).json()
    assert one["id"] == task.id and len(one["progress"]) == 7
    missing = await api.get("/api/hermes/tasks/bg_nope")
    assert (missing.status_code, missing.json()["error"]["message"]) == (404, "no task 'bg_nope'")

    response = await api.post(f"/api/hermes/tasks/{task.id}/cancel")
    assert response.status_code == 200
    assert response.json() == {
        "id": task.id,
        "status": "cancelled",
        "message": f"Cancelled {task.id}.",
    }
    again = await api.post(f"/api/hermes/tasks/{task.id}/cancel", json={"by": "dashboard"})
    assert (again.status_code, again.json()["error"]["message"]) == (
        409,
        f"task {task.id} already cancelled",
    )
    assert gw.tasks.calls == [(task.id, "api")]
    assert (await api.post("/api/hermes/tasks/bg_nope/cancel")).status_code == 404
    bad = await api.post(f"/api/hermes/tasks/{done.id}/cancel", json={"by": ""})
    assert bad.status_code == 400


async def test_a_task_that_finishes_before_the_cancel_is_a_409(
    gw: FakeGateway, api: httpx.AsyncClient
) -> None:
    task = await gw.store.run(task_ops.insert, "background", "Quick", None, time.time())
    gw.tasks.finishes_first = True
    response = await api.post(f"/api/hermes/tasks/{task.id}/cancel", json={"by": "me"})
    assert response.status_code == 409
    assert response.json()["error"]["message"] == f"Task {task.id} had just finished."


# ----- the CLI through a running gateway -------------------------------------------------


def _app(gw: FakeGateway) -> Starlette:
    """The gateway's real app (auth included) on the fake gateway."""
    return build_app(gw)  # type: ignore[arg-type]


@pytest.fixture
async def served(home: Path, gw: FakeGateway) -> AsyncIterator[FakeGateway]:
    """The fake gateway serving on loopback, with gateway.json saying so."""
    server = HttpServer(_app(gw), "127.0.0.1", 0)
    port = await server.start()
    state = {"pid": os.getpid(), "url": f"http://127.0.0.1:{port}"}
    (home / "gateway.json").write_text(json.dumps(state))
    try:
        yield gw
    finally:
        await server.stop()


@pytest.mark.parametrize(
    "path", ["/api/hermes/approvals", "/api/hermes/tasks", "/api/hermes/tasks/bg_1"]
)
async def test_the_routes_need_the_key(gw: FakeGateway, path: str) -> None:
    transport = httpx.ASGITransport(app=_app(gw))
    async with httpx.AsyncClient(transport=transport, base_url="http://hermes") as client:
        assert (await client.get(path)).status_code == 401
        assert (await client.post(path + "/cancel")).status_code == 401
        assert (await client.get(path, headers=BEARER)).status_code in (200, 404)


async def test_the_cli_decides_and_cancels_through_the_gateway(
    home: Path, served: FakeGateway
) -> None:
    push = await served.store.run(ask, "git push --force origin main")
    task = await served.store.run(task_ops.insert, "background", "Deploy", None, time.time())

    assert await ahermes(home, "approvals", "approve", push.id) == (
        0,
        f"Approved {push.id}: git push --force origin main\n",
        "",
    )
    assert served.desk.calls == [(push.id, True, ME)]
    code, out, err = await ahermes(home, "approvals", "deny", push.id)
    assert (code, out, err) == (1, "", f"hermes: approval {push.id} was already approved by {ME}\n")
    code, _, err = await ahermes(home, "approvals", "deny", "zz")
    assert (code, err) == (1, "hermes: no approval 'zz' (see `hermes approvals list`)\n")

    assert await ahermes(home, "tasks", "cancel", task.id) == (0, f"Cancelled {task.id}.\n", "")
    assert served.tasks.calls == [(task.id, ME)]
    code, _, err = await ahermes(home, "tasks", "cancel", task.id)
    assert (code, err) == (1, f"hermes: task {task.id} already cancelled\n")

    (home / ".env").write_text("HERMES_API_KEY=changed\n")
    code, _, err = await ahermes(home, "approvals", "approve", push.id)
    assert (code, err) == (
        1,
        "hermes: the gateway refused HERMES_API_KEY from .env; was it changed?\n",
    )
