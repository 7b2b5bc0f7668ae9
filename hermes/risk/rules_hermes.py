"""Hermes' own control plane: the `hermes` CLI, its HTTP API, its state database.

The approval gate is only as good as the agent's inability to switch it off
or decide its own requests. `hermes approvals approve|deny` and setting
`approvals.*` (or the variables tools may see) are hard: only the user
decides those, from the chat, the dashboard or their own shell. Letting
someone talk to the bot (`pairing approve`), deleting or renaming a profile
are high; other config changes, stopping the gateway, deleting sessions or
jobs are medium; reading (`status`, `approvals list`, `config get`) is none.
An HTTP write to the approvals API (or the MCP tool that decides approvals)
is hard; any write to Hermes' API with `$HERMES_API_KEY` is high; SQL that
writes a Hermes home's state.db is high.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from hermes.risk.model import Assessment, Command, Where
from hermes.risk.options import scan, unwrap_runner
from hermes.risk.paths import bases, place

_DECIDES = (
    "decides a Hermes approval: only the user decides those, from the chat, the dashboard "
    "or their own shell"
)
_GATE_KEYS = re.compile(r"^(approvals(\.|$)|terminal\.env_passthrough$)")
_GLOBAL_TAKES = frozenset({"-p", "--profile", "-z"})
# (subcommand, action) -> (level, what it does); action "*" is any action
_ACTIONS: dict[tuple[str, str], tuple[str, str]] = {
    ("approvals", "approve"): ("hard", _DECIDES),
    ("approvals", "deny"): ("hard", _DECIDES),
    ("pairing", "approve"): ("high", "lets someone talk to the bot (hermes pairing approve)"),
    ("pairing", "revoke"): ("medium", "withdraws a user's access to the bot"),
    ("profile", "delete"): ("high", "deletes a Hermes profile and its data"),
    ("profile", "rename"): ("high", "renames a Hermes profile (its gateway and routes change)"),
    ("profile", "use"): ("medium", "changes the profile Hermes uses by default"),
    ("gateway", "stop"): ("medium", "stops the Hermes gateway"),
    ("gateway", "restart"): ("medium", "restarts the Hermes gateway"),
    ("gateway", "uninstall"): ("medium", "removes the Hermes gateway service"),
    ("gateway", "install"): ("medium", "installs the Hermes gateway as a service"),
    ("sessions", "delete"): ("medium", "deletes a stored conversation"),
    ("cron", "remove"): ("medium", "deletes a scheduled job"),
    ("tasks", "cancel"): ("medium", "stops a background task"),
    ("setup", "*"): ("medium", "changes Hermes' provider, model or key (a config change)"),
    ("mcp", "serve"): ("medium", "serves Hermes' control tools (they can decide approvals)"),
}
_WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_CURL_DATA = re.compile(
    r"^(-d|--data(-\w+)?|--json|-F|--form(-string)?|-T|--upload-file)(=|$)|^-[a-zA-Z]*[dFT]"
)
_HTTP_CLIENTS = frozenset({"curl", "wget", "http", "https", "xh", "xhs", "httpie", "curlie"})
_APPROVALS = re.compile(r"/api/hermes/approvals/|hermes_decide")
_KEY = re.compile(r"\$\{?HERMES_API_KEY\b|HERMES_API_KEY")
_CODE_WRITE = re.compile(
    r"\b(post|put|patch|delete)\s*\(|method\s*[:=]\s*['\"]?(POST|PUT|PATCH|DELETE)|\bdata\s*=|"
    r"\bjson\s*=|Request\([^)]*data",
    re.I,
)
_SQL_WRITE = re.compile(
    r"\b(insert|update|delete|replace|drop|alter|create|attach|vacuum\s+into)\b", re.I
)


_SUBCOMMANDS = frozenset(
    {"approvals", "config", "pairing", "profile", "gateway", "sessions", "cron", "tasks", "setup",
     "mcp", "status", "doctor", "logs", "chat", "send"}
)  # fmt: skip


def _hermes_args(cmd: Command, where: Where | None = None) -> tuple[str, ...] | None:
    """The arguments of a `hermes` invocation (`hermes`, `python -m hermes`, `uv run hermes`,
    or a profile's own command, `NAME`, which `hermes profile create` puts on the PATH)."""
    real = unwrap_runner(cmd)
    if not real.argv:
        return None
    if real.name in ("hermes", "hermes.cli", "hermes.__main__") or real.argv[0].endswith("/hermes"):
        return real.args
    probe = where.probe if where is not None else None
    if (
        probe is not None
        and real.args[:1]
        and real.args[0] in _SUBCOMMANDS
        and "/" not in real.name
    ):
        root = bases(where).root if where is not None else ""
        if real.name and probe.exists(f"{root}/profiles/{real.name}"):
            return real.args
    return None


def _subcommand(args: Sequence[str]) -> tuple[str, str, tuple[str, ...]]:
    o = scan(args, _GLOBAL_TAKES, stop=True)
    pos = o.pos
    sub = pos[0] if pos else ""
    rest = scan(pos[1:], _GLOBAL_TAKES).pos
    return sub, (rest[0] if rest else ""), tuple(rest[1:])


def hermes_cli(cmd: Command, where: Where) -> Assessment | None:
    """The `hermes` command deciding approvals, switching the gate, changing Hermes."""
    args = _hermes_args(cmd, where)
    if args is None:
        return None
    sub, action, rest = _subcommand(args)
    if sub == "config" and action == "set":
        key = rest[0] if rest else ""
        if _GATE_KEYS.match(key):
            return Assessment(
                "hard", f"changes the approval gate's settings ({key}): only the user does that"
            )
        return Assessment("medium", f"changes Hermes' configuration ({key or 'a setting'})")
    if sub == "config" and action == "edit":
        return Assessment(
            "hard", "edits Hermes' configuration, the approval gate's settings included"
        )
    found = _ACTIONS.get((sub, action)) or _ACTIONS.get((sub, "*"))
    if found is None:
        return None
    level, what = found
    return Assessment(level, what)  # type: ignore[arg-type]


def _writes_http(cmd: Command) -> bool:
    args = cmd.args
    if cmd.name == "curl":
        method = next(
            (args[i + 1] for i, a in enumerate(args[:-1]) if a in ("-X", "--request")), None
        )
        method = method or next((a[2:] for a in args if a.startswith("-X") and len(a) > 2), None)
        method = method or next(
            (a.partition("=")[2] for a in args if a.startswith("--request=")), None
        )
        return (method or "").upper() in _WRITE_METHODS or any(_CURL_DATA.match(a) for a in args)
    if cmd.name == "wget":
        writes = ("--post-data", "--post-file", "--body-data", "--body-file")
        methods = ("--METHOD=POST", "--METHOD=PUT", "--METHOD=PATCH", "--METHOD=DELETE")
        return any(a.startswith(writes) or a.upper() in methods for a in args)
    if cmd.name in _HTTP_CLIENTS:  # httpie/xh: a method word, or data items (key=value, key:=json)
        return (
            any(a.upper() in _WRITE_METHODS for a in args[:2])
            or any(re.match(r"^[\w.-]+:?=", a) for a in args if not a.startswith("-"))
            or any(a in ("-f", "--form", "--raw") for a in args)
        )
    return bool(_CODE_WRITE.search(" ".join(args)))


def hermes_api(cmd: Command, where: Where) -> Assessment | None:
    """HTTP writes to Hermes' own API: deciding approvals (hard), anything with its key (high)."""
    if not cmd.argv or (cmd.name not in _HTTP_CLIENTS and not _is_code_runner(cmd)):
        return None
    text = " ".join(cmd.args)
    if not _writes_http(cmd):
        return None
    if _APPROVALS.search(text):
        return Assessment("hard", f"{_DECIDES} (through Hermes' API)")
    if _KEY.search(text):
        return Assessment("high", "writes to Hermes' API with its key (HERMES_API_KEY)")
    return None


def hermes_code(cmd: Command, where: Where) -> Assessment | None:
    """Interpreter code that imports Hermes and calls what decides approvals or edits its
    settings (`python3 -c "from hermes... import ...; desk.decide(...)"`)."""
    if not _is_code_runner(cmd):
        return None
    code = " ".join(cmd.args)
    if not re.search(r"\b(import\s+hermes|from\s+hermes\b|import_module\(\s*['\"]hermes)", code):
        return None
    if re.search(r"approv|\bdeny\b|\bdecide|config_edit|envfile|env_passthrough", code):
        return Assessment(
            "hard", "runs Hermes' own code that decides approvals or edits its settings"
        )
    return None


def _is_code_runner(cmd: Command) -> bool:
    return bool(re.match(r"(python(\d+(\.\d+)?)?|node|nodejs|deno|bun|ruby|perl|php)$", cmd.name))


def hermes_state(cmd: Command, where: Where) -> Assessment | None:
    """SQL that writes a Hermes home's state.db (`sqlite3 ~/.hermes/state.db "UPDATE ..."`)."""
    dbs = [a for a in cmd.args if "state.db" in a]
    if not dbs:
        return None
    for arg in dbs:
        for token in re.findall(r"[^\s'\"(),;]*state\.db[-\w]*", arg):
            at = place(token, where)
            if at.kind == "hermes" and _SQL_WRITE.search(" ".join(cmd.args)):
                return Assessment(
                    "high",
                    f"writes Hermes' own state ({at.shown}): the approval gate's control plane",
                )
    return None


def hermes_input(cmd: Command, text: str, where: Where) -> Assessment | None:
    """Text fed to Hermes' own tools: `hermes mcp serve` reading a hermes_decide call,
    a database client reading SQL that writes a Hermes state.db."""
    if _hermes_args(cmd, where) is not None and "hermes_decide" in text:
        return Assessment("hard", f"{_DECIDES} (through Hermes' MCP tools)")
    if any("state.db" in a for a in cmd.args) and _SQL_WRITE.search(text):
        for token in (a for a in cmd.args if "state.db" in a):
            if place(token, where).kind == "hermes":
                return Assessment(
                    "high", "writes Hermes' own state (state.db): the approval gate's control plane"
                )
    return None


HERMES_RULES = [hermes_cli, hermes_api, hermes_state, hermes_code]
