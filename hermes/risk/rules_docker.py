"""Containers: docker, podman, nerdctl and their compose front ends.

Global options come before the subcommand (`docker --context prod rm x`),
management commands are read like their short forms (`docker container rm`
is `docker rm`, `docker image rm` is `docker rmi`). Removing volumes loses
data (high); pruning images and build cache is a cache purge (low). Against
a context or host named production, every change is high. `run` and `create`
that give a container the host's `/`, a system directory or the home, or
`--privileged`, are judged by hermes/risk/containers.py, which also has the
command the container runs judged inside it.
"""

from __future__ import annotations

from hermes.risk.containers import COMPOSE, COMPOSE_TAKES, ENGINES, GLOBAL_TAKES, reach
from hermes.risk.model import Assessment, Command, Level, Where, riskiest
from hermes.risk.options import Opts, first_prod, scan

_VERB_TAKES = frozenset(
    {"-s", "--signal", "-t", "--time", "--timeout", "--filter", "--rmi", "--format", "-c",
     "--compose-file"}
)  # fmt: skip
_BUILD_TAKES = frozenset(
    {"-t", "--tag", "-f", "--file", "--platform", "--build-arg", "--target", "--cache-from",
     "--cache-to", "-o", "--output", "--secret", "--ssh", "--label", "--progress", "--builder",
     "--network", "--iidfile", "--metadata-file", "--annotation", "--attest", "--add-host"}
)  # fmt: skip
# Management commands and the short verb each action is read as.
_GROUPS = {
    "container": {"rm": "rm", "remove": "rm", "kill": "kill", "stop": "stop",
                  "restart": "restart", "prune": "container prune"},
    "image": {"rm": "rmi", "remove": "rmi", "prune": "image prune", "push": "push",
              "build": "build"},
    "volume": {"rm": "volume rm", "remove": "volume rm", "prune": "volume prune"},
    "network": {"rm": "network rm", "remove": "network rm", "prune": "network prune"},
    "system": {"prune": "system prune"},
    "builder": {"prune": "builder prune", "build": "build"},
    "buildx": {"prune": "builder prune", "build": "build", "b": "build"},
    "stack": {"rm": "stack rm", "remove": "stack rm", "down": "stack rm", "deploy": "deploy",
              "up": "deploy"},
    "service": {"rm": "service rm", "remove": "service rm", "create": "deploy",
                "update": "deploy", "scale": "deploy", "rollback": "deploy"},
    "secret": {"rm": "secret rm", "remove": "secret rm"},
    "config": {"rm": "config rm", "remove": "config rm"},
    "manifest": {"push": "push"},
}  # fmt: skip
_PURGES = {
    "container prune": "removes stopped containers",
    "image prune": "purges unused images",
    "builder prune": "purges the build cache",
    "network prune": "removes unused networks",
}
_STOPS = {"kill": "kills", "stop": "stops", "restart": "restarts"}


def _verb_opts(verb: str, args: tuple[str, ...]) -> Opts:
    return scan(args, _BUILD_TAKES if verb == "build" else _VERB_TAKES)


def _names(o: Opts, empty: str = "named at run time") -> str:
    return ", ".join(o.pos) or empty


def _verb(verb: str, o: Opts) -> tuple[Level, str] | None:
    """What one engine verb does, before production is considered."""
    if verb in _PURGES:
        return "low", f"{_PURGES[verb]} (a cache purge)"
    if verb == "rm":
        forced = " (forced, even if running)" if o.has("-f", "--force") else ""
        volumes = " and their anonymous volumes" if o.has("-v", "--volumes") else ""
        return "medium", f"removes containers {_names(o)}{volumes}{forced}"
    if verb == "rmi":
        return "medium", f"removes images {_names(o)}"
    if verb in _STOPS:
        return "medium", f"{_STOPS[verb]} containers {_names(o)}"
    if verb == "system prune":
        what = "all unused images" if o.has("-a", "--all") else "dangling images"
        if o.has("--volumes"):
            return "high", f"removes stopped containers, {what} and unused volumes (data loss)"
        return "medium", f"removes stopped containers, unused networks and {what}"
    if verb == "volume rm":
        return "high", f"deletes volumes {_names(o)} (their data is lost)"
    if verb == "volume prune":
        return "high", "deletes unused volumes (their data is lost)"
    if verb in ("network rm", "stack rm", "service rm", "secret rm", "config rm"):
        return "medium", f"removes {verb.split()[0]}s {_names(o)}"
    if verb == "push":
        return "medium", f"publishes image {_names(o)} to its registry"
    if verb == "build" and (o.has("--push") or "type=registry" in (o.get("-o", "--output") or "")):
        return "medium", f"builds and publishes image {o.get('-t', '--tag') or '?'}"
    if verb == "deploy":
        return "medium", f"deploys {_names(o, 'a service')} to the swarm"
    return None


def _compose(args: tuple[str, ...], target: str | None) -> tuple[Level, str] | None:
    top = scan(args, COMPOSE_TAKES, stop=True)
    if not top.pos:
        return None
    verb = top.pos[0]
    o = scan(top.pos[1:], _VERB_TAKES)
    project = top.get("-p", "--project-name")
    of = f" of project {project}" if project else ""
    if verb == "down":
        if o.has("-v", "--volumes"):
            return "high", f"stops the containers{of} and deletes their volumes (data loss)"
        # Taking a local project down is routine; taking production down is not.
        return ("medium" if target else "low"), f"stops and removes the containers{of}"
    if verb == "rm":
        return "medium", f"removes stopped service containers{of}"
    if verb in _STOPS:
        return "medium", f"{_STOPS[verb]} the service containers{of}"
    if verb == "push":
        return "medium", f"publishes the service images{of}"
    if verb == "up" and target:
        return "medium", f"starts the services{of}"
    return None


def docker_rule(cmd: Command, where: Where) -> Assessment | None:
    """Removing containers, images, volumes; pruning; pushing; compose down; giving a
    container the host's places or powers (hermes/risk/containers.py)."""
    found = _engine(cmd, where)
    reached = reach(cmd.argv, where)
    return riskiest([found, reached]) if found or reached else None


def _engine(cmd: Command, where: Where) -> Assessment | None:
    if cmd.name in COMPOSE:
        found, target = _compose(cmd.args, None), None
    elif cmd.name in ENGINES:
        top = scan(cmd.args, GLOBAL_TAKES, stop=True)
        target = first_prod(top.get("--context", "-c", "--connection"), top.get("-H", "--host"))
        target = target or first_prod(top.get("--url"))
        if not top.pos:
            return None
        head, rest = top.pos[0], top.pos[1:]
        if head == "compose":
            found = _compose(rest, target)
        elif head in _GROUPS:
            action = rest[0] if rest else ""
            verb = _GROUPS[head].get(action)
            found = _verb(verb, _verb_opts(verb, rest[1:])) if verb else None
        else:
            found = _verb(head, _verb_opts(head, rest))
    else:
        return None
    if found is None:
        return None
    level, phrase = found
    if target and level != "low":
        return Assessment("high", f"{phrase} on production ({target})")
    return Assessment(level, phrase)
