"""gcloud and az: `TOOL GROUP [SUBGROUP ...] VERB [NAME] [--flags]`.

The command path is the words before the verb (`compute instances delete` →
path `compute instances`, verb `delete`). Deleting is high; identity, IAM
policy, key and secret changes are credential changes (high); deploying an
app or function goes live, so it is a production deploy (high) unless it
targets a non-production slot; other changes are medium, high when the
project, subscription, group or name says production.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from hermes.risk.model import Assessment, Command, Where
from hermes.risk.options import first_prod, scan

_GCLOUD_TAKES = frozenset(
    {"--project", "--account", "--configuration", "--format", "--verbosity",
     "--impersonate-service-account", "--billing-project", "--flags-file", "--trace-token",
     "--region", "--zone", "--filter", "--limit", "--sort-by", "--page-size", "--service",
     "--iam-account", "--member", "--role", "--source", "--image"}
)  # fmt: skip
_AZ_TAKES = frozenset(
    {"--subscription", "-o", "--output", "--query", "-n", "--name", "-g", "--resource-group",
     "-l", "--location", "-s", "--slot", "--vault-name", "--ids", "--id", "--account-name",
     "--assignee", "--role", "--scope", "--value", "--file", "--src", "--src-path", "--type",
     "--plan", "--runtime", "--image", "--sku"}
)  # fmt: skip
_DELETES = frozenset({"delete", "destroy", "purge", "rm", "remove-all"})
_DEPLOYS = frozenset({"deploy", "up", "config-zip", "redeploy"})
_CHANGES = frozenset(
    {"create", "update", "patch", "set", "add", "remove", "stop", "restart", "reset", "resize",
     "scale", "import", "restore", "rollback", "move", "disable", "attach", "detach", "migrate",
     "promote", "swap", "assign", "revoke", "rotate", "renew", "regenerate", "reimage",
     "failover", "upgrade", "deallocate", "enable", "replace", "abandon", "recreate"}
)  # fmt: skip
_READS = frozenset(
    {"list", "describe", "show", "get", "print", "read", "tail", "wait", "browse", "ssh", "scp",
     "exists", "version", "logs", "log", "query", "search", "check", "info", "help", "login",
     "start", "test", "export", "download", "access", "submit", "open", "view"}
)  # fmt: skip
_LOCAL_GROUPS = frozenset({"config", "account", "auth", "components", "extension", "login"})
_CREDENTIAL_WORDS = frozenset(
    {"iam", "ad", "role", "keys", "credential", "credentials", "secret", "secrets", "key",
     "service-accounts", "users"}
)  # fmt: skip


@dataclass(frozen=True)
class _Parsed:
    path: tuple[str, ...]
    verb: str
    names: tuple[str, ...]


def _kind(word: str) -> str | None:
    """What a verb does: delete, deploy, change or read; None when the word is not a verb."""
    head = word.partition("-")[0]
    if word in _DELETES or head == "delete":
        return "delete"
    if word in _DEPLOYS:
        return "deploy"
    if head in _CHANGES:
        return "change"
    if head in _READS:
        return "read"
    return None


def _split(pos: Sequence[str]) -> _Parsed | None:
    """The group path, the first verb after it, and the words after the verb."""
    for i, word in enumerate(pos[1:], start=1):
        if _kind(word):
            return _Parsed(tuple(pos[:i]), word, tuple(pos[i + 1 :]))
    return None


def _judge(tool: str, cmd: _Parsed, prod: str | None, slot: str | None) -> Assessment | None:
    path, verb = " ".join(cmd.path), cmd.verb
    target = f"{path} {' '.join(cmd.names[:2])}".strip()
    if not cmd.path or cmd.path[0] in _LOCAL_GROUPS:
        return None
    kind = _kind(verb)
    if kind == "delete":
        return Assessment("high", f"deletes {target} through {tool}")
    changes = kind in ("change", "deploy")
    if changes and ("iam-policy" in verb or _CREDENTIAL_WORDS & set(cmd.path)):
        return Assessment("high", f"runs {tool} {path} {verb} (a credential or permission change)")
    if kind == "deploy":
        if slot and not prod:
            return Assessment("medium", f"deploys {target} to slot {slot} through {tool}")
        return Assessment("high", f"deploys {target} through {tool} (a production deploy)")
    if not changes:
        return None
    if prod:
        return Assessment("high", f"runs {tool} {path} {verb} against production ({prod})")
    return Assessment("medium", f"runs {tool} {path} {verb} (changes cloud resources)")


def gcloud_rule(cmd: Command, where: Where) -> Assessment | None:
    """gcloud deletions, IAM/key changes, deploys and other changes."""
    if cmd.name != "gcloud":
        return None
    o = scan(cmd.args, _GCLOUD_TAKES)
    parsed = _split(o.pos)
    if parsed is None:
        return None
    prod = first_prod(o.get("--project"), o.get("--configuration"), *parsed.names[:1])
    return _judge("gcloud", parsed, prod, None)


def az_rule(cmd: Command, where: Where) -> Assessment | None:
    """az deletions, identity/role/secret changes, web app deploys and other changes."""
    if cmd.name != "az":
        return None
    o = scan(cmd.args, _AZ_TAKES)
    parsed = _split(o.pos)
    if parsed is None:
        return None
    named = o.get("-n", "--name")
    if named:
        parsed = _Parsed(parsed.path, parsed.verb, (named, *parsed.names))
    group = o.get("-g", "--resource-group")
    prod = first_prod(o.get("--subscription"), group, named, o.get("-s", "--slot"))
    if parsed.path == ("group",) and parsed.verb == "delete":
        name = named or group or "?"
        return Assessment("high", f"deletes resource group {name} and everything in it through az")
    return _judge("az", parsed, prod, o.get("-s", "--slot"))


_GSUTIL_TAKES = frozenset({"-o", "-h", "-u", "-i"})


def gsutil_rule(cmd: Command, where: Where) -> Assessment | None:
    """gsutil rm (medium, high when recursive), rb (high), rsync -d (medium)."""
    if cmd.name != "gsutil":
        return None
    top = scan(cmd.args, _GSUTIL_TAKES, stop=True)
    if not top.pos:
        return None
    verb = top.pos[0]
    o = scan(top.pos[1:], {"-I", "-x", "--exclude"})
    urls = ", ".join(o.pos) or "?"
    if verb == "rm":
        if o.has("-r", "-R", "--recursive") or any("**" in url for url in o.pos):
            return Assessment("high", f"deletes every object under {urls}")
        return Assessment("medium", f"deletes {urls}")
    if verb == "rb":
        return Assessment("high", f"deletes bucket {urls}")
    if verb == "rsync" and o.has("-d"):
        src, dst = (*o.pos, "?", "?")[:2]
        return Assessment("medium", f"syncs {src} to {dst}, deleting files there that {src} lacks")
    return None
