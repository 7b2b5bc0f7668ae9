"""The `hermes` command: a cheap argparse tree that imports a command's module
only when that command runs (so `hermes --help` stays fast).

Each command is "module:function"; the function takes the parsed
argparse.Namespace and returns the exit code.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from hermes import __version__


def _add(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    target: str,
    help: str,
    **kw: object,
) -> argparse.ArgumentParser:
    p = sub.add_parser(
        name,
        help=help,
        description=help,
        parents=[_common()],
        **kw,  # type: ignore[arg-type]
    )
    p.set_defaults(_target=target)
    return p


def _common() -> argparse.ArgumentParser:
    """Options every command takes, before or after its name."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "-p", "--profile", metavar="NAME", default=argparse.SUPPRESS, help="use profile NAME"
    )
    common.add_argument(
        "--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks"
    )
    return common


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hermes",
        description="Hermes: a persistent personal AI agent on a machine you own.",
    )
    parser.add_argument("-p", "--profile", metavar="NAME", help="use profile NAME")
    parser.add_argument("-z", metavar="PROMPT", dest="oneshot", help="one turn; print the answer")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    parser.add_argument("--version", action="version", version=f"hermes {__version__}")
    parser.set_defaults(_target="hermes.cli.chat:cmd_chat")
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")

    chat = _add(sub, "chat", "hermes.cli.chat:cmd_chat", "interactive chat in the terminal")
    chat.add_argument("--resume", metavar="SESSION", help="continue a stored session")

    _add(sub, "version", "hermes.cli.misc:cmd_version", "print the version")
    setup = _add(sub, "setup", "hermes.cli.setup_cmd:cmd_setup", "choose provider, model and key")
    setup.add_argument(
        "--provider",
        metavar="NAME",
        help="no wizard: openrouter|openai|anthropic|nous|custom|local (key from stdin if piped)",
    )
    setup.add_argument("--model", metavar="NAME")
    setup.add_argument("--base-url", metavar="URL")
    setup.add_argument("--api-key-env", metavar="VAR")
    _add(sub, "doctor", "hermes.cli.doctor:cmd_doctor", "check this home and say how to fix it")

    config = _add(sub, "config", "hermes.cli.config_cmd:cmd_config", "read or change config.yaml")
    csub = config.add_subparsers(dest="action", metavar="ACTION", required=True)
    csub.add_parser("get", help="print one value", parents=[_common()]).add_argument("key")
    cset = csub.add_parser(
        "set", help="validate and set one value, keeping comments", parents=[_common()]
    )
    cset.add_argument("key")
    cset.add_argument("value")
    csub.add_parser("show", help="print the effective settings", parents=[_common()])
    csub.add_parser("path", help="print the path of config.yaml", parents=[_common()])

    sessions = _add(sub, "sessions", "hermes.cli.sessions_cmd:cmd_sessions", "conversations")
    ssub = sessions.add_subparsers(dest="action", metavar="ACTION", required=True)
    slist = ssub.add_parser("list", help="recent sessions", parents=[_common()])
    slist.add_argument("--limit", type=int, default=20)
    ssub.add_parser("show", help="print a session", parents=[_common()]).add_argument("id")
    ssearch = ssub.add_parser(
        "search", help="full-text search over past messages", parents=[_common()]
    )
    ssearch.add_argument("query")
    ssearch.add_argument("--limit", type=int, default=10)
    sexport = ssub.add_parser("export", help="print a session as JSON", parents=[_common()])
    sexport.add_argument("id")
    ssub.add_parser("delete", help="delete a session", parents=[_common()]).add_argument("id")
    gateway = _add(sub, "gateway", "hermes.cli.gateway_cmd:cmd_gateway", "the messaging gateway")
    gsub = gateway.add_subparsers(dest="action", metavar="ACTION", required=True)
    gsub.add_parser(
        "run",
        help="run the gateway in the foreground (web chat, API, platforms)",
        parents=[_common()],
    )
    ginstall = gsub.add_parser(
        "install", help="install it as a service that starts at login", parents=[_common()]
    )
    ginstall.add_argument("--system", action="store_true", help="a system unit (root) instead")
    ginstall.add_argument("--force", action="store_true", help="overwrite an existing unit")
    guninstall = gsub.add_parser("uninstall", help="remove the service", parents=[_common()])
    guninstall.add_argument("--system", action="store_true", help="the system unit")
    for name, what in (
        ("start", "start it in the background (the service, else a detached process)"),
        ("stop", "stop it"),
        ("restart", "stop it, then start it"),
        ("status", "is it running: pid, platforms, service"),
        ("list", "every profile's gateway: running or not, pid, platforms"),
    ):
        gsub.add_parser(name, help=what, parents=[_common()])

    profile = _add(sub, "profile", "hermes.cli.profile_cmd:cmd_profile", "isolated agents")
    prsub = profile.add_subparsers(dest="action", metavar="ACTION", required=True)
    pcreate = prsub.add_parser("create", help="a new profile", parents=[_common()])
    pcreate.add_argument("name")
    pcreate.add_argument(
        "--clone", action="store_true", help="copy config.yaml, .env and SOUL.md of this profile"
    )
    pcreate.add_argument("--no-alias", action="store_true", help="no NAME command in ~/.local/bin")
    prlist = prsub.add_parser("list", help="profiles, model, gateway state", parents=[_common()])
    prlist.add_argument("--json", action="store_true", help="print JSON")
    prsub.add_parser(
        "use", help="make NAME the profile used without -p", parents=[_common()]
    ).add_argument("name")
    prsub.add_parser("show", help="one profile in detail", parents=[_common()]).add_argument("name")
    pdelete = prsub.add_parser("delete", help="delete a profile and its data", parents=[_common()])
    pdelete.add_argument("name")
    pdelete.add_argument("--yes", action="store_true", help="do not ask")
    prename = prsub.add_parser("rename", help="rename a profile", parents=[_common()])
    prename.add_argument("old")
    prename.add_argument("new")

    logs = _add(sub, "logs", "hermes.cli.logs_cmd:cmd_logs", "read this profile's logs")
    logs.add_argument("-f", "--follow", action="store_true", help="keep printing new lines")
    logs.add_argument("--level", metavar="L", help="this level and above: debug|info|warning|error")
    logs.add_argument("--json", action="store_true", help="one JSON object per line")
    logs.add_argument("--since", metavar="T", help="e.g. 10m, 2h, 1d, or an ISO time")
    logs.add_argument(
        "--file", default="gateway", choices=("gateway", "error", "agent"), help="which log"
    )
    logs.add_argument("-n", "--lines", type=int, default=50, metavar="N", help="last N lines")

    _add(
        sub,
        "update",
        "hermes.cli.update_cmd:cmd_update",
        "sync the bundled skills into every profile (your changes are kept)",
    )

    pairing = _add(sub, "pairing", "hermes.cli.pairing_cmd:cmd_pairing", "who may talk to the bot")
    psub = pairing.add_subparsers(dest="action", metavar="ACTION", required=True)
    psub.add_parser("list", help="pending codes and approved users", parents=[_common()])
    papprove = psub.add_parser(
        "approve", help="let in the sender holding CODE", parents=[_common()]
    )
    papprove.add_argument("platform")
    papprove.add_argument("code")
    prevoke = psub.add_parser("revoke", help="withdraw a user's approval", parents=[_common()])
    prevoke.add_argument("platform")
    prevoke.add_argument("user")

    approvals = _add(
        sub, "approvals", "hermes.cli.approvals_cmd:cmd_approvals", "risky actions awaiting you"
    )
    asub = approvals.add_subparsers(dest="action", metavar="ACTION", required=True)
    alist = asub.add_parser("list", help="pending approvals", parents=[_common()])
    alist.add_argument("--all", action="store_true", help="decided ones too")
    alist.add_argument("--json", action="store_true", help="print JSON")
    for name, what in (("approve", "let the action run"), ("deny", "refuse the action")):
        asub.add_parser(name, help=what, parents=[_common()]).add_argument("id")
    aclassify = asub.add_parser(
        "classify",
        help="the risk the gate gives a shell command (quote it to keep inner quotes)",
        parents=[_common()],
    )
    aclassify.add_argument("--json", action="store_true", help='print {"risk", "reason"}')
    aclassify.add_argument("command", nargs=argparse.REMAINDER, metavar="COMMAND...")

    tasks = _add(sub, "tasks", "hermes.cli.tasks_cmd:cmd_tasks", "background and walkaway tasks")
    tsub = tasks.add_subparsers(dest="action", metavar="ACTION", required=True)
    tlist = tsub.add_parser("list", help="open tasks, newest first", parents=[_common()])
    tlist.add_argument("--all", action="store_true", help="finished ones too")
    tlist.add_argument("--json", action="store_true", help="print JSON")
    tshow = tsub.add_parser("show", help="a task with its events", parents=[_common()])
    tshow.add_argument("id")
    tshow.add_argument("--json", action="store_true", help="print JSON")
    tsub.add_parser("cancel", help="stop a task", parents=[_common()]).add_argument("id")

    cron = _add(sub, "cron", "hermes.cli.cron_cmd:cmd_cron", "scheduled jobs")
    csub = cron.add_subparsers(dest="action", metavar="ACTION", required=True)
    clist = csub.add_parser("list", help="jobs by next run", parents=[_common()])
    clist.add_argument("--all", action="store_true", help="finished one-time jobs too")
    clist.add_argument("--json", action="store_true", help="print JSON")
    cadd = csub.add_parser(
        "add",
        help='add a job: SCHEDULE is "30 7 * * 1-5", "every 2h", "in 20m", an ISO time...',
        parents=[_common()],
    )
    cadd.add_argument("schedule")
    cadd.add_argument("prompt", help="what the job does, as you would ask the agent")
    cadd.add_argument("--name", metavar="NAME")
    cadd.add_argument("--deliver", metavar="TARGET", help="home (default), none, PLATFORM:CHAT")
    cedit = csub.add_parser("edit", help="change a job", parents=[_common()])
    cedit.add_argument("id")
    cedit.add_argument("--schedule", metavar="SCHEDULE")
    cedit.add_argument("--prompt", metavar="PROMPT")
    cedit.add_argument("--name", metavar="NAME")
    cedit.add_argument("--deliver", metavar="TARGET")
    for name, what in (
        ("pause", "stop running a job until resumed"),
        ("resume", "run a paused job again on its schedule"),
        ("remove", "delete a job"),
        ("run", "run a job now (by the gateway)"),
    ):
        csub.add_parser(name, help=what, parents=[_common()]).add_argument("id")

    mcp = _add(sub, "mcp", "hermes.cli.mcp_cmd:cmd_mcp", "the MCP server for orchestrating agents")
    msub = mcp.add_subparsers(dest="action", metavar="ACTION", required=True)
    mserve = msub.add_parser("serve", help="serve MCP (see --stdio)", parents=[_common()])
    mserve.add_argument(
        "--stdio", action="store_true", help="speak MCP on stdin/stdout (for clients that spawn it)"
    )

    send = _add(sub, "send", "hermes.cli.send_cmd:cmd_send", "send a message through a platform")
    send.add_argument("target", metavar="PLATFORM:CHAT[:THREAD]")
    send.add_argument("text", help="the message ('-' reads it from stdin)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    module_name, func_name = str(args._target).split(":")
    try:
        module = importlib.import_module(module_name)
        code: int = getattr(module, func_name)(args)
        return code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `hermes ... | head` closed the pipe: not an error
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as exc:  # one line, unless --debug
        from hermes.errors import HermesError

        if args.debug:
            raise
        if isinstance(exc, HermesError):
            print(f"hermes: {exc}", file=sys.stderr)
        else:
            print(
                f"hermes: unexpected error: {type(exc).__name__}: {exc} (run with --debug)",
                file=sys.stderr,
            )
        return 1


__all__ = ["__version__", "build_parser", "main"]
