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


def _action(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], name: str, help: str
) -> argparse.ArgumentParser:
    """An action of a command (`hermes profile delete`): its help shows in the list
    of actions and atop its own --help."""
    return sub.add_parser(name, help=help, description=help, parents=[_common()])


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


KEY_HELP = "a dotted key such as model.model"
SESSION_HELP = "a session id (see `hermes sessions list`)"
TASK_HELP = "a task id (see `hermes tasks list`)"
JOB_HELP = "a job id (see `hermes cron list`)"


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
    chat.add_argument(
        "--voice", action="store_true", help="push-to-talk: Enter on an empty line records"
    )

    _add(sub, "version", "hermes.cli.misc:cmd_version", "print the version")
    setup = _add(sub, "setup", "hermes.cli.setup_cmd:cmd_setup", "choose provider, model and key")
    setup.add_argument(
        "--provider",
        metavar="NAME",
        help="no wizard: openrouter|openai|anthropic|nous|custom|local (key from stdin if piped)",
    )
    setup.add_argument("--model", metavar="NAME", help="the model (default: the provider's own)")
    setup.add_argument("--base-url", metavar="URL", help="the server of a custom provider")
    setup.add_argument("--api-key-env", metavar="VAR", help="the variable that holds the key")
    setup.add_argument(
        "--test",
        action="store_true",
        help="ask the server once (key, URL, model) before saving; save nothing if it fails",
    )
    doctor = _add(
        sub, "doctor", "hermes.cli.doctor:cmd_doctor", "check this home and say how to fix it"
    )
    doctor.add_argument(
        "--offline", action="store_true", help="skip the one live request to the model server"
    )

    config = _add(sub, "config", "hermes.cli.config_cmd:cmd_config", "read or change config.yaml")
    csub = config.add_subparsers(dest="action", metavar="ACTION", required=True)
    _action(csub, "get", "print one value").add_argument("key", help=KEY_HELP)
    cset = _action(csub, "set", "validate and set one value, keeping comments")
    cset.add_argument("key", help=KEY_HELP)
    cset.add_argument("value", help="e.g. 8421, true, null, [origin], or text")
    _action(csub, "show", "print the effective settings")
    _action(csub, "path", "print the path of config.yaml")

    sessions = _add(sub, "sessions", "hermes.cli.sessions_cmd:cmd_sessions", "conversations")
    ssub = sessions.add_subparsers(dest="action", metavar="ACTION", required=True)
    slist = _action(ssub, "list", "recent sessions")
    slist.add_argument("--limit", type=int, default=20, help="at most this many (20)")
    _action(ssub, "show", "print a session").add_argument("id", help=SESSION_HELP)
    ssearch = _action(ssub, "search", "full-text search over past messages")
    ssearch.add_argument("query", nargs="+", help="words to find (no quotes needed)")
    ssearch.add_argument("--limit", type=int, default=10, help="at most this many hits (10)")
    sexport = _action(ssub, "export", "print a session as JSON")
    sexport.add_argument("id", help=SESSION_HELP)
    _action(ssub, "delete", "delete a session").add_argument("id", help=SESSION_HELP)
    gateway = _add(sub, "gateway", "hermes.cli.gateway_cmd:cmd_gateway", "the messaging gateway")
    gsub = gateway.add_subparsers(dest="action", metavar="ACTION", required=True)
    _action(gsub, "run", "run the gateway in the foreground (web chat, API, platforms)")
    ginstall = _action(gsub, "install", "install it as a service that starts at login")
    ginstall.add_argument("--system", action="store_true", help="a system unit (root) instead")
    ginstall.add_argument("--force", action="store_true", help="overwrite an existing unit")
    guninstall = _action(gsub, "uninstall", "remove the service")
    guninstall.add_argument("--system", action="store_true", help="the system unit")
    for name, what in (
        ("start", "start it in the background (the service, else a detached process)"),
        ("stop", "stop it"),
        ("restart", "stop it, then start it"),
        ("reload", "the running gateway reads config.yaml and .env again (SIGHUP)"),
        ("status", "is it running: pid, platforms, service"),
        ("list", "every profile's gateway: running or not, pid, platforms"),
    ):
        _action(gsub, name, what)
    gsetup = _action(gsub, "setup", "connect a messaging platform: wizard, or flags for scripts")
    gsetup.add_argument("--platform", metavar="NAME", help="the platform (see --list)")
    gsetup.add_argument(
        "--set", action="append", metavar="VAR=VALUE", help="a variable to save (repeatable)"
    )
    gsetup.add_argument("--list", action="store_true", help="every platform and its state")
    gsetup.add_argument("--no-check", action="store_true", help="save without asking the platform")
    gsetup.add_argument("--no-start", action="store_true", help="neither start nor restart it")

    profile = _add(sub, "profile", "hermes.cli.profile_cmd:cmd_profile", "isolated agents")
    prsub = profile.add_subparsers(dest="action", metavar="ACTION", required=True)
    pcreate = _action(prsub, "create", "a new profile")
    pcreate.add_argument("name", help="1-64 lowercase letters, digits, - or _")
    pcreate.add_argument(
        "--clone", action="store_true", help="copy config.yaml, .env and SOUL.md of this profile"
    )
    pcreate.add_argument("--no-alias", action="store_true", help="no NAME command in ~/.local/bin")
    prlist = _action(prsub, "list", "profiles, model, gateway state")
    prlist.add_argument("--json", action="store_true", help="print JSON")
    _action(prsub, "use", "make NAME the profile used without -p").add_argument(
        "name", help="a profile, or default"
    )
    _action(prsub, "show", "one profile in detail").add_argument("name", help="a profile")
    pdelete = _action(
        prsub,
        "delete",
        "delete a profile and all its data (sessions, memory, skills, keys); asks first",
    )
    pdelete.add_argument("name", help="the profile to delete (not 'default', the root home)")
    pdelete.add_argument(
        "--yes", action="store_true", help="do not ask (needed without a terminal)"
    )
    prename = _action(prsub, "rename", "rename a profile")
    prename.add_argument("old", help="its name now")
    prename.add_argument("new", help="its new name")

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

    cluster = _add(
        sub,
        "cluster",
        "hermes.cli.cluster_cmd:cmd_cluster",
        "replicas on PostgreSQL and their lease",
    )
    csub = cluster.add_subparsers(dest="action", metavar="ACTION", required=True)
    cstatus = _action(csub, "status", "the replicas, the lease and the work in hand")
    cstatus.add_argument("--json", action="store_true", help="print JSON")
    _action(csub, "adopt", "make this replica's home the volume of the profile's cluster")

    pairing = _add(sub, "pairing", "hermes.cli.pairing_cmd:cmd_pairing", "who may talk to the bot")
    psub = pairing.add_subparsers(dest="action", metavar="ACTION", required=True)
    _action(psub, "list", "pending codes and approved users")
    papprove = _action(psub, "approve", "let in the sender holding CODE")
    papprove.add_argument("platform", help="e.g. telegram")
    papprove.add_argument("code", help="the code the bot gave the sender")
    prevoke = _action(psub, "revoke", "withdraw a user's approval")
    prevoke.add_argument("platform", help="e.g. telegram")
    prevoke.add_argument("user", help="their user id (see `hermes pairing list`)")

    approvals = _add(
        sub, "approvals", "hermes.cli.approvals_cmd:cmd_approvals", "risky actions awaiting you"
    )
    asub = approvals.add_subparsers(dest="action", metavar="ACTION", required=True)
    alist = _action(asub, "list", "pending approvals")
    alist.add_argument("--all", action="store_true", help="decided ones too")
    alist.add_argument("--json", action="store_true", help="print JSON")
    for name, what in (("approve", "let the action run"), ("deny", "refuse the action")):
        _action(asub, name, what).add_argument("id", help="see `hermes approvals list`")
    aclassify = _action(
        asub, "classify", "the risk the gate gives a shell command (quote it to keep inner quotes)"
    )
    aclassify.add_argument("--json", action="store_true", help='print {"risk", "reason"}')
    aclassify.add_argument(
        "command", nargs=argparse.REMAINDER, metavar="COMMAND...", help="the shell command"
    )

    tasks = _add(sub, "tasks", "hermes.cli.tasks_cmd:cmd_tasks", "background and walkaway tasks")
    tsub = tasks.add_subparsers(dest="action", metavar="ACTION", required=True)
    tlist = _action(tsub, "list", "open tasks, newest first")
    tlist.add_argument("--all", action="store_true", help="finished ones too")
    tlist.add_argument("--json", action="store_true", help="print JSON")
    tshow = _action(tsub, "show", "a task with its events")
    tshow.add_argument("id", help=TASK_HELP)
    tshow.add_argument("--json", action="store_true", help="print JSON")
    _action(tsub, "cancel", "stop a task").add_argument("id", help=TASK_HELP)

    skills = _add(sub, "skills", "hermes.cli.skills_cmd:cmd_skills", "skills and proposals")
    ssub = skills.add_subparsers(dest="action", metavar="ACTION", required=True)
    _action(ssub, "list", "valid skills with their usage")
    _action(ssub, "check", "report every invalid skill (exit 1 if any)")
    _action(ssub, "pending", "proposals waiting for your decision")
    for verb, what in (
        ("show", "a proposal with its text"),
        ("apply", "apply a proposal (not when its target changed since)"),
        ("reject", "reject a proposal"),
        ("rollback", "undo an applied proposal"),
    ):
        _action(ssub, verb, what).add_argument("id", help="a proposal id (sp_...)")

    cron = _add(sub, "cron", "hermes.cli.cron_cmd:cmd_cron", "scheduled jobs")
    csub = cron.add_subparsers(dest="action", metavar="ACTION", required=True)
    clist = _action(csub, "list", "jobs by next run")
    clist.add_argument("--all", action="store_true", help="finished one-time jobs too")
    clist.add_argument("--json", action="store_true", help="print JSON")
    cadd = _action(
        csub, "add", 'add a job: SCHEDULE is "30 7 * * 1-5", "every 2h", "in 20m", an ISO time...'
    )
    cadd.add_argument("schedule", help="when it runs (see above)")
    cadd.add_argument("prompt", help="what the job does, as you would ask the agent")
    cadd.add_argument("--name", metavar="NAME", help="a short name for the job")
    cadd.add_argument("--deliver", metavar="TARGET", help="home (default), none, PLATFORM:CHAT")
    cedit = _action(csub, "edit", "change a job: only the options given change")
    cedit.add_argument("id", help=JOB_HELP)
    cedit.add_argument(
        "--schedule", metavar="SCHEDULE", help='a new schedule, e.g. "0 9 * * *" or "every 2h"'
    )
    cedit.add_argument("--prompt", metavar="PROMPT", help="what the job does from now on")
    cedit.add_argument("--name", metavar="NAME", help="a new name for the job")
    cedit.add_argument(
        "--deliver", metavar="TARGET", help="where results go: home, none, PLATFORM:CHAT[:THREAD]"
    )
    for name, what in (
        ("pause", "stop running a job until resumed"),
        ("resume", "run a paused job again on its schedule"),
        ("remove", "delete a job"),
        ("run", "run a job now (by the gateway)"),
    ):
        _action(csub, name, what).add_argument("id", help=JOB_HELP)

    mcp = _add(sub, "mcp", "hermes.cli.mcp_cmd:cmd_mcp", "the MCP server for orchestrating agents")
    msub = mcp.add_subparsers(dest="action", metavar="ACTION", required=True)
    mserve = _action(msub, "serve", "serve MCP (see --stdio)")
    mserve.add_argument(
        "--stdio", action="store_true", help="speak MCP on stdin/stdout (for clients that spawn it)"
    )

    send = _add(sub, "send", "hermes.cli.send_cmd:cmd_send", "send a message through a platform")
    send.add_argument("target", metavar="PLATFORM:CHAT[:THREAD]", help="e.g. telegram:123456789")
    send.add_argument("text", help="the message ('-' reads it from stdin)")

    usage = _add(sub, "usage", "hermes.cli.usage_cmd:cmd_usage", "tokens, and cost where known")
    usage.add_argument(
        "--since", metavar="T", help="only since T: 10m, 2h, 7d, 1w or an ISO date/time"
    )
    usage.add_argument(
        "--by",
        choices=("day", "model", "session"),
        default="day",
        help="one line per day (default), model or session",
    )
    usage.add_argument("--json", action="store_true", help="print JSON")

    voice = _add(
        sub, "voice", "hermes.cli.voice_cmd:cmd_voice", "speech to text and text to speech"
    )
    vsub = voice.add_subparsers(dest="action", metavar="ACTION", required=True)
    vtrans = _action(vsub, "transcribe", "print the words spoken in an audio file")
    vtrans.add_argument("file", metavar="FILE", help="any audio ffmpeg reads (OGG, WAV, MP3...)")
    vsay = _action(vsub, "say", "speak TEXT into an audio file")
    vsay.add_argument("text", metavar="TEXT", help="the text (Markdown is made speakable)")
    vsay.add_argument(
        "-o", "--output", metavar="FILE", required=True, help="OGG/Opus, or .wav/.mp3 by suffix"
    )
    _action(vsub, "status", "the voice providers, whether they work offline and are ready")
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
