"""The vocabulary of the risk classifier: levels, assessments, parsed commands.

The classifier (hermes/risk/classify.py) parses a shell command with a real
bash grammar into `Command`s (quotes removed, wrappers such as `sudo` and
`bash -c` unwrapped) and asks every rule what each one does. A rule is a plain
function `(Command, Where) -> Assessment | None`; the riskiest answer wins.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Literal, Protocol

Level = Literal["none", "low", "medium", "high", "hard"]
LEVELS: tuple[Level, ...] = ("none", "low", "medium", "high", "hard")


def rank(level: Level) -> int:
    return LEVELS.index(level)


@dataclass(frozen=True)
class Assessment:
    risk: Level
    reason: str

    def to_json(self) -> dict[str, str]:
        return {"risk": self.risk, "reason": self.reason}


NONE = Assessment("none", "no risky action recognized")


def riskiest(found: Iterable[Assessment | None]) -> Assessment:
    """The highest-risk assessment (the first of equals); NONE if there is none."""
    best = NONE
    for item in found:
        if item is not None and rank(item.risk) > rank(best.risk):
            best = item
    return best


@dataclass(frozen=True)
class Container:
    """A container a command runs in (`docker run -v /:/host IMAGE CMD`): its paths are
    the container's own except where a host path is mounted (hermes/risk/containers.py)."""

    mounts: tuple[tuple[str, str], ...] = ()  # (path in the container, host path as written)
    workdir: str = "/"
    host: bool = False  # shares the host's devices or processes (--privileged, --pid=host)


@dataclass(frozen=True)
class Command:
    """One simple command as the shell would run it, quotes removed.

    `argv[0]` is the program as written (`/bin/rm`, `rm`); `name` is its base
    name. Wrappers (`sudo`, `env X=1`, `nohup`, `xargs`, `find -exec`, `bash -c`,
    `eval`, ...) are unwrapped by the parser, so a rule sees the real command;
    `via` names the wrappers it was found under (e.g. ("sudo",)).
    """

    argv: tuple[str, ...]
    redirects: tuple[tuple[str, str], ...] = ()  # (operator, target): (">", "/etc/hosts")
    piped_in: bool = False  # its stdin is the output of an earlier command in a pipeline
    dynamic: bool = False  # some word holds a variable or substitution (value unknown)
    via: tuple[str, ...] = ()
    container: Container | None = None  # runs inside this container, not on the host

    @property
    def name(self) -> str:
        return (PurePosixPath(self.argv[0]).name or self.argv[0]) if self.argv else ""

    @property
    def args(self) -> tuple[str, ...]:
        return self.argv[1:]

    @property
    def elevated(self) -> bool:
        return any(w in ("sudo", "doas", "su", "pkexec") for w in self.via)


class Probe(Protocol):
    """What the classifier may ask the file system (the gate passes one that
    looks at the turn's backend; without one, the classifier reads text only).
    Paths are absolute and normalized."""

    def realpath(self, path: str) -> str:
        """`path` with every symlink resolved (missing parts kept as written)."""
        ...

    def exists(self, path: str) -> bool:
        """Whether something (a file, a directory, a link) is at `path`."""
        ...


@dataclass(frozen=True)
class Where:
    """Where paths are resolved: the command's working directory (the agent's
    workspace) and the user's home directory; Hermes' own homes (the root,
    `~/.hermes`, and the home of the profile being served, which may be the
    root itself or `ROOT/profiles/NAME`): their config, .env and state.db are
    the approval gate's control plane. `probe` looks at the disk (symlinks,
    existing files) when given."""

    cwd: Path
    home: Path
    hermes_root: Path | None = None
    hermes_home: Path | None = None
    probe: Probe | None = None


Rule = Callable[[Command, Where], Assessment | None]
