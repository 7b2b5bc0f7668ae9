"""Containers that reach the host: `docker|podman|nerdctl run|create|exec` and compose `run`.

A container's files are its own, except where a host path is mounted into it
(`-v /:/host`, `--mount type=bind,source=/,target=/host`, `--device`), and
its processes are isolated unless it shares the host's (`--privileged`,
`--pid=host`, SYS_ADMIN). So the command a container runs is judged where it
lands: `docker run -v /:/host alpine rm -rf /host/etc` deletes the host's
/etc (hard), while the container's own files are harmless (`view` gives the
rules a `Where` whose paths map to the host: places.on_host); machine-level
rules (power, processes, disks, packages, services) apply only to containers
that share the host. Giving a container the host's `/`, a system directory,
the home, a Hermes home, a container engine's socket, `--privileged` or
SYS_ADMIN is itself at least high (`reach`). `nsenter -t 1 -m` in a container
that shares the host's processes leaves the container (`leaves`).
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath

from hermes.risk.model import Assessment, Container, Level, Where, riskiest
from hermes.risk.options import Opts, scan
from hermes.risk.paths import place, resolve, state
from hermes.risk.wrappers import Argv, Unwrapped

ENGINES = frozenset({"docker", "podman", "nerdctl"})
COMPOSE = frozenset({"docker-compose", "podman-compose"})
GLOBAL_TAKES = frozenset(
    {"--context", "-c", "-H", "--host", "--config", "-l", "--log-level", "--tlscacert",
     "--tlscert", "--tlskey", "--connection", "--url", "--root", "--runroot", "--storage-driver",
     "--storage-opt", "--cgroup-manager", "--identity", "--tmpdir", "--runtime", "--namespace",
     "-n", "--address", "-a", "--snapshotter", "--data-root", "--cni-path"}
)  # fmt: skip
COMPOSE_TAKES = frozenset(
    {"-f", "--file", "-p", "--project-name", "--profile", "--env-file", "--project-directory",
     "--ansi", "--parallel", "--progress"}
)  # fmt: skip
_RUN_TAKES = frozenset(
    {"-v", "--volume", "--mount", "-e", "--env", "--env-file", "-p", "--publish", "--name", "-w",
     "--workdir", "--entrypoint", "-u", "--user", "--network", "--net", "-l", "--label",
     "--label-file", "-h", "--hostname", "--add-host", "--cpus", "-m", "--memory",
     "--memory-swap", "--memory-reservation", "--restart", "--pid", "--ipc", "--uts", "--userns",
     "--cap-add", "--cap-drop", "--device", "--security-opt", "--log-driver", "--log-opt",
     "--dns", "--dns-search", "--dns-option", "--platform", "--pull", "--tmpfs", "--ulimit",
     "--shm-size", "--gpus", "--cgroupns", "--cgroup-parent", "--stop-signal", "--stop-timeout",
     "--health-cmd", "--health-interval", "--health-retries", "--health-timeout",
     "--health-start-period", "--volumes-from", "--link", "--mac-address", "--ip", "--ip6",
     "--runtime", "--cidfile", "--isolation", "--cpu-shares", "-c", "--cpuset-cpus",
     "--cpuset-mems", "--blkio-weight", "--group-add", "--expose", "-a", "--attach",
     "--detach-keys", "--domainname", "--oom-score-adj", "--sysctl", "--storage-opt",
     "--annotation", "--arch", "--os", "--variant", "--secret", "--pod", "--network-alias",
     "--pids-limit", "--cpu-period", "--cpu-quota", "--device-cgroup-rule", "--uidmap",
     "--gidmap", "--hooks-dir", "--requires", "--timeout", "--index"}
)  # fmt: skip
_VERBS = frozenset({"run", "create", "exec"})
_ADMIN_CAPS = frozenset({"ALL", "SYS_ADMIN", "CAP_SYS_ADMIN", "SYS_MODULE", "CAP_SYS_MODULE"})
_SOCKETS = ("docker.sock", "podman.sock", "containerd.sock", "crio.sock")
# host places a container must not be given: the whole system, a system directory, the home
_HOST_KINDS = frozenset(
    {"root", "essential", "top", "home", "other-home", "hermes", "hermes-other", "dev", "device"}
)


@dataclass(frozen=True)
class Run:
    """One `run`/`create`/`exec`: its options, the command it runs and where it runs it."""

    engine: str
    verb: str
    opts: Opts
    command: Argv
    binds: tuple[tuple[str, str], ...]  # (path in the container, host path as written)
    container: Container


def _host_path(src: str) -> bool:
    """A bind mount's source is a host path; anything else names a volume."""
    return src.startswith(("/", "~", ".", "$", "`"))


def _binds(o: Opts) -> list[tuple[str, str]]:
    found = []
    for value in o.values("-v", "--volume"):
        parts = value.split(":")
        if len(parts) >= 2 and _host_path(parts[0]) and parts[1].startswith("/"):
            found.append((parts[1], parts[0]))
    for value in o.values("--mount"):
        keys = dict(item.partition("=")[::2] for item in value.split(","))
        src = keys.get("source") or keys.get("src")
        dst = keys.get("target") or keys.get("destination") or keys.get("dst")
        if keys.get("type", "volume") == "bind" and src and dst:
            found.append((dst, src))
    return found


def parse(argv: Argv) -> Run | None:
    """`argv` read as a container engine's run/create/exec (compose run/exec too)."""
    name = PurePosixPath(argv[0]).name if argv else ""
    if name in COMPOSE:
        words = scan(argv[1:], COMPOSE_TAKES, stop=True).pos
    elif name in ENGINES:
        words = scan(argv[1:], GLOBAL_TAKES, stop=True).pos
        if words[:1] == ("compose",):
            words = scan(words[1:], COMPOSE_TAKES, stop=True).pos
    else:
        return None
    if words[:1] == ("container",):
        words = words[1:]
    if not words or words[0] not in _VERBS:
        return None
    o = scan(words[1:], _RUN_TAKES, stop=True)
    if not o.pos:
        return None
    entry = o.get("--entrypoint")
    command = ((entry,) if entry else ()) + tuple(o.pos[1:])
    binds = [] if words[0] == "exec" else _binds(o)
    devices = [
        (v.split(":")[1] if v.count(":") else v, v.split(":")[0]) for v in o.values("--device")
    ]
    caps = {c.upper() for v in o.values("--cap-add") for c in v.split(",")}
    shares = o.get("--pid") == "host" or bool(caps & _ADMIN_CAPS)
    host = o.has("--privileged") or shares or bool(devices)
    mounts = [*binds, *devices]
    mounts += [("/dev", "/dev")] if o.has("--privileged") else []
    mounts += [("/proc", "/proc")] if o.get("--pid") == "host" else []
    workdir = o.get("-w", "--workdir") or "/"
    found = Container(tuple(mounts), workdir, host)
    return Run(name, words[0], o, command, tuple(binds), found)


def unwrap(argv: Argv) -> Unwrapped | None:
    """The command a container runs, to be judged inside it (`containers.view`)."""
    run = parse(argv)
    if run is None:
        return None
    argvs = [run.command] if run.command else []
    return Unwrapped(run.engine, argvs, keep=True, container=run.container)


def view(where: Where, container: Container) -> Where:
    """`where` as the container sees it: its working directory, and its paths
    mapped to the host (mounted ones) or to its own files (everything else)."""
    mounts = []
    for dst, src in container.mounts:
        host = resolve(src, where)[0]
        mounts.append((posixpath.normpath("/" + dst.strip("/")), host))
    mounts.sort(key=lambda m: len(m[0]), reverse=True)
    workdir = posixpath.normpath("/" + container.workdir.lstrip("/"))
    return replace(state(where), cwd=Path(workdir), container=tuple(mounts))


def leaves(argv: Argv, container: Container | None) -> bool:
    """Whether `argv`, run in `container`, runs the rest on the host itself:
    `nsenter -t 1 -m ...` when it shares the host's processes (the host's mount
    namespace), `chroot /host ...` when the host's `/` is mounted at /host."""
    name = PurePosixPath(argv[0]).name if argv else ""
    if container is None or name not in ("nsenter", "chroot"):
        return False
    if name == "chroot":
        root = posixpath.normpath("/" + next((a for a in argv[1:] if a[:1] != "-"), "").lstrip("/"))
        return any(
            posixpath.normpath(dst) == root and not src.strip("/") for dst, src in container.mounts
        )
    o = scan(argv[1:], {"-t", "--target", "-S", "-G", "--setuid", "--setgid"}, stop=True)
    shares = container.host and o.get("-t", "--target") == "1"
    return shares and o.has("-m", "--mount", "-a", "--all")


def reach(argv: Argv, where: Where) -> Assessment | None:
    """What giving the container the host's places or powers means."""
    run = parse(argv)
    if run is None:
        return None
    o, found = run.opts, []
    for _dst, src in run.binds:
        at = place(src, where)
        single = at.path is not None and at.path.count("/") == 1
        if src.rstrip("/").endswith(_SOCKETS):
            found.append(_gives("high", f"control of the host's container engine ({at.shown})"))
        elif at.kind in _HOST_KINDS or (at.kind == "system" and single):
            found.append(_gives("high", f"the host's {at.shown} ({at.label})"))
        elif at.kind == "secret":
            found.append(_gives("medium", f"{at.shown} ({at.label})"))
    if o.has("--privileged"):
        found.append(_gives("high", "every privilege on the host (--privileged)"))
    caps = {c.upper() for v in o.values("--cap-add") for c in v.split(",")} & _ADMIN_CAPS
    if caps:
        found.append(_gives("high", f"administrator capabilities ({', '.join(sorted(caps))})"))
    for device in o.values("--device"):
        at = place(device.split(":")[0], where)
        if at.kind == "device":
            found.append(_gives("high", f"the disk device {at.shown}"))
    if o.get("--pid") == "host":
        enters = PurePosixPath(run.command[0]).name == "nsenter" if run.command else False
        what = "the host's processes" + (" and enters them (nsenter)" if enters else "")
        found.append(_gives("high" if enters else "medium", what))
    best = riskiest(found)
    return best if best.risk != "none" else None


def _gives(level: Level, what: str) -> Assessment:
    return Assessment(level, f"gives a container {what}")
