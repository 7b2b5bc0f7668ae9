"""Reading a tool's options the way the tool itself does.

Tool rules must not match substrings: `git push -uf` is a force push and
`git log --grep=--force` is not. `scan()` splits an argument list into options
and positionals with the usual conventions (combined short flags, `--opt=value`,
a value in the next word for options known to take one, `--` ending options),
so a rule only has to name the options that take values.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath

from hermes.risk.model import Command

_FALSE = frozenset({"false", "0", "no", "off"})


@dataclass(frozen=True)
class Opts:
    """The options (in order, with their values) and positionals of one argument list."""

    flags: tuple[tuple[str, str | None], ...]
    pos: tuple[str, ...]

    def has(self, *names: str) -> bool:
        """Whether any of `names` was given (and not as `--name=false`)."""
        return any(n in names and (v is None or v.lower() not in _FALSE) for n, v in self.flags)

    def get(self, *names: str) -> str | None:
        """The last value given to any of `names`."""
        found = None
        for n, v in self.flags:
            if n in names and v is not None:
                found = v
        return found

    def values(self, *names: str) -> list[str]:
        """Every value given to any of `names`, in order."""
        return [v for n, v in self.flags if n in names and v is not None]


def scan(
    args: Sequence[str],
    takes: Collection[str] = (),
    *,
    attached: Collection[str] = (),
    dash_long: bool = False,
    stop: bool = False,
) -> Opts:
    """Split `args` into options and positionals.

    `takes`: options whose value may be the next word (`-n ns`, `--context x`).
    `attached`: short options whose value, if any, is only ever glued on (`mysql -psecret`).
    `dash_long`: single-dash words are whole option names (`terraform -auto-approve`).
    `stop`: the first positional ends the options (a subcommand and its own arguments follow).
    """
    flags: list[tuple[str, str | None]] = []
    pos: list[str] = []
    i = 0
    while i < len(args):
        word = args[i]
        i += 1
        if word == "--":
            pos.extend(args[i:])
            break
        if len(word) < 2 or not word.startswith("-"):
            pos.append(word)
            if stop:
                pos.extend(args[i:])
                break
            continue
        if word.startswith("--") or dash_long:
            name, eq, value = word.partition("=")
            if eq:
                flags.append((name, value))
            elif name in takes and i < len(args):
                flags.append((name, args[i]))
                i += 1
            else:
                flags.append((name, None))
            continue
        for at, letter in enumerate(word[1:], start=2):
            name = "-" + letter
            rest = word[at:]
            if name in takes or name in attached:
                if rest:
                    flags.append((name, rest.removeprefix("=")))
                elif name in takes and i < len(args):
                    flags.append((name, args[i]))
                    i += 1
                else:
                    flags.append((name, None))
                break
            flags.append((name, None))
    return Opts(tuple(flags), tuple(pos))


_PROD = re.compile(r"(?:^|[^a-z])(?:prod|production|prd)(?:$|[^a-z])", re.IGNORECASE)


def is_prod(name: str | None) -> bool:
    """Whether a context, namespace, stack, file or host name says "production".

    `prod`, `eu-prod-1`, `production.tfvars`, `k8s/prod/` count; `product`,
    `preprod` and `reproduce` do not.
    """
    return bool(name) and _PROD.search(name or "") is not None


def first_prod(*names: str | None) -> str | None:
    """The first of `names` that names production, if any."""
    return next((n for n in names if n and is_prod(n)), None)


_PYTHON = re.compile(r"python(?:\d+(?:\.\d+)?)?$")
_RUNNERS: dict[tuple[str, ...], int] = {
    ("npx",): 1,
    ("bunx",): 1,
    ("uvx",): 1,
    ("pnpx",): 1,
    ("uv", "run"): 2,
    ("poetry", "run"): 2,
    ("pipx", "run"): 2,
    ("pdm", "run"): 2,
    ("hatch", "run"): 2,
    ("pnpm", "exec"): 2,
    ("pnpm", "dlx"): 2,
    ("yarn", "dlx"): 2,
    ("bundle", "exec"): 2,
}


def unwrap_runner(cmd: Command) -> Command:
    """The tool behind a package runner: `npx vercel --prod`, `uv run twine upload`,
    `python -m twine upload` are judged as `vercel --prod`, `twine upload`, ...

    Only the simple, option-free forms are unwrapped; anything else is returned as is.
    """
    argv = cmd.argv
    for _ in range(3):
        if not argv:
            return cmd
        name = PurePosixPath(argv[0]).name
        if _PYTHON.match(name) and len(argv) > 2 and argv[1] == "-m":
            argv = argv[2:]
            continue
        for prefix, skip in _RUNNERS.items():
            if (name, *argv[1:skip]) == prefix and len(argv) > skip:
                rest = argv[skip:]
                while rest and rest[0] in ("-y", "--yes", "--quiet", "-q"):
                    rest = rest[1:]
                if rest and not rest[0].startswith("-"):
                    argv = rest
                    break
        else:
            break
    if argv is cmd.argv:
        return cmd
    return Command(argv, cmd.redirects, cmd.piped_in, cmd.dynamic, cmd.via, cmd.container)
