"""Hosting and platform CLIs: DigitalOcean, Linode, Hetzner, Fly, Heroku,
Vercel, Netlify, Firebase, Cloudflare Wrangler.

What matters on these is deleting (apps, servers, volumes, databases) and
deploying to production; both are high. Preview deploys stay none. Heroku
and Netlify spell commands `topic:verb`; Vercel deploys when given no
subcommand at all (`vercel --prod`).
"""

from __future__ import annotations

from hermes.risk.model import Assessment, Command, Where
from hermes.risk.options import Opts, scan
from hermes.risk.sql_text import sql_risk

_DESTROYS = frozenset({"delete", "del", "rm", "remove", "destroy", "rebuild", "rb"})
_DOCTL_TAKES = frozenset(
    {"-t", "--access-token", "-c", "--config", "--context", "-o", "--output", "--api-url",
     "--format", "--region", "--size", "--image", "--spec", "--app"}
)  # fmt: skip
_HCLOUD_TAKES = frozenset({"--config", "--context", "-o", "--output", "--poll-interval"})
_LINODE_TAKES = frozenset({"--as-user", "--format", "--config", "--page", "--page-size"})
_FLY_TAKES = frozenset({"-a", "--app", "-c", "--config", "-t", "--access-token", "-r", "--region"})
_HEROKU_TAKES = frozenset({"-a", "--app", "-r", "--remote", "-c", "--command", "--confirm"})
_VERCEL_TAKES = frozenset(
    {"--token", "-t", "--scope", "-S", "--team", "-T", "--cwd", "--local-config", "-A",
     "--global-config", "-Q", "--target", "-e", "--env", "-b", "--build-env", "-m", "--meta",
     "--regions", "--archive"}
)  # fmt: skip
_NETLIFY_TAKES = frozenset(
    {"--auth", "-a", "--site", "-s", "--dir", "-d", "--functions", "-f", "--message", "-m",
     "--alias", "--filter", "--context", "--scope"}
)  # fmt: skip


def _topic(o: Opts) -> tuple[str, str, tuple[str, ...]]:
    """`apps:destroy x` and `apps destroy x` both as ("apps", "destroy", ("x",))."""
    if not o.pos:
        return "", "", ()
    topic, colon, verb = o.pos[0].partition(":")
    if colon:
        return topic, verb, o.pos[1:]
    return topic, (o.pos[1] if len(o.pos) > 1 else ""), o.pos[2:]


def _deletion(tool: str, o: Opts) -> Assessment | None:
    """The generic `TOOL GROUP ... delete NAME` form of doctl, hcloud and linode-cli."""
    for i, word in enumerate(o.pos[:4]):
        if word in _DESTROYS and i > 0:
            target = " ".join([*o.pos[:i], *o.pos[i + 1 : i + 2]])
            verb = "rebuilds (wipes)" if word == "rebuild" else "deletes"
            return Assessment("high", f"{verb} {target} through {tool}")
    return None


def _fly(o: Opts) -> Assessment | None:
    app = o.get("-a", "--app")
    of = f" {app}" if app else ""
    words = o.pos[:2]
    if any(w in _DESTROYS for w in words):
        return Assessment("high", f"destroys fly {' '.join(o.pos[:3])}{of}")
    if words[:1] == ("deploy",):
        return Assessment("high", f"deploys fly app{of} (a production deploy)")
    if words[:1] == ("secrets",) and words[1:] in (("set",), ("unset",), ("import",)):
        return Assessment("medium", f"changes the secrets of fly app{of} (restarts it)")
    return None


def _heroku(o: Opts) -> Assessment | None:
    topic, verb, rest = _topic(o)
    app = o.get("-a", "--app", "--confirm") or o.get("-r", "--remote") or "the app"
    if (topic, verb) == ("apps", "destroy") or topic == "destroy":
        return Assessment("high", f"destroys heroku app {rest[0] if rest else app}")
    if topic == "addons" and verb in ("destroy", "remove"):
        addon = rest[0] if rest else "?"
        return Assessment("high", f"destroys add-on {addon} of {app} (its data is lost)")
    if (topic, verb) == ("pg", "reset"):
        return Assessment("high", f"resets the database of {app} (all its data is lost)")
    if topic == "rollback" or (topic, verb) == ("releases", "rollback"):
        return Assessment("high", f"rolls back {app} (a production deploy)")
    if (topic, verb) == ("pg", "psql") and o.get("-c", "--command"):
        found = sql_risk(o.get("-c", "--command") or "")
        return Assessment(found[0], f"{found[1]} through heroku pg:psql") if found else None
    if topic == "config" and verb in ("set", "unset", "add", "remove"):
        return Assessment("medium", f"changes the config vars of {app} (restarts it)")
    if (topic, verb) in (("ps", "restart"), ("ps", "stop"), ("ps", "kill"), ("restart", "")):
        return Assessment("medium", f"restarts or stops the dynos of {app}")
    return None


def _vercel(o: Opts) -> Assessment | None:
    verb = o.pos[0] if o.pos else "deploy"
    if verb in ("rm", "remove") or (len(o.pos) > 1 and o.pos[1] in ("rm", "remove")):
        return Assessment("high", f"deletes vercel {' '.join(o.pos[:3])}")
    if verb in ("promote", "rollback"):
        return Assessment("high", f"vercel {verb} changes what production serves")
    prod = o.has("--prod") or o.get("--target", "--environment") == "production"
    if verb in ("deploy", "redeploy") or verb.startswith((".", "/")):
        if prod:
            return Assessment("high", "deploys to production through vercel")
        return None
    if verb == "env" and o.pos[1:2] in (("add",), ("rm",), ("remove",), ("update",)):
        return Assessment("medium", "changes vercel environment variables")
    return None


def _netlify(o: Opts) -> Assessment | None:
    topic, verb, rest = _topic(o)
    if topic == "deploy" and o.has("--prod", "--prod-if-unlocked"):
        return Assessment("high", "deploys the site to production through netlify")
    if verb == "delete":
        return Assessment("high", f"deletes netlify {topic} {' '.join(rest[:1])}".rstrip())
    if topic == "env" and verb in ("set", "unset", "import", "clone"):
        return Assessment("medium", "changes netlify environment variables")
    return None


def _firebase(o: Opts) -> Assessment | None:
    topic, verb, rest = _topic(o)
    if topic == "deploy":
        return Assessment("high", "deploys the Firebase project (a production deploy)")
    if (topic, verb) == ("firestore", "delete"):
        if o.has("--all-collections", "-r", "--recursive"):
            return Assessment("high", f"deletes Firestore data {' '.join(rest) or 'everywhere'}")
        return Assessment("medium", f"deletes Firestore document {' '.join(rest) or '?'}")
    if (topic, verb) in (("database", "remove"), ("hosting", "disable")):
        return Assessment("high", f"firebase {topic}:{verb} removes live data or hosting")
    return None


def _wrangler(o: Opts) -> Assessment | None:
    words = o.pos[:4]
    if any(w in _DESTROYS for w in words):
        return Assessment("high", f"deletes wrangler {' '.join(words)}")
    if words[:1] in (("deploy",), ("publish",)) or words[:2] == ("versions", "deploy"):
        return Assessment("high", "deploys the Worker (a production deploy)")
    if words[:1] == ("secret",) and words[1:2] in (("put",), ("bulk",)):
        return Assessment("medium", "changes the Worker's secrets")
    return None


def paas_rule(cmd: Command, where: Where) -> Assessment | None:
    """Deletions and production deploys on hosting platforms."""
    name = cmd.name
    if name == "doctl":
        return _deletion("doctl", scan(cmd.args, _DOCTL_TAKES))
    if name == "hcloud":
        return _deletion("hcloud", scan(cmd.args, _HCLOUD_TAKES))
    if name in ("linode-cli", "linode"):
        return _deletion("linode-cli", scan(cmd.args, _LINODE_TAKES))
    if name in ("fly", "flyctl"):
        return _fly(scan(cmd.args, _FLY_TAKES))
    if name == "heroku":
        return _heroku(scan(cmd.args, _HEROKU_TAKES))
    if name == "vercel":
        return _vercel(scan(cmd.args, _VERCEL_TAKES))
    if name in ("netlify", "ntl"):
        return _netlify(scan(cmd.args, _NETLIFY_TAKES))
    if name == "firebase":
        return _firebase(scan(cmd.args, {"--project", "-P", "--only", "--token", "-m"}))
    if name == "wrangler":
        return _wrangler(scan(cmd.args, {"-c", "--config", "-e", "--env", "--name"}))
    return None
