"""Git: what rewrites shared history, deletes branches or throws away work.

Git's own option syntax is honoured: global options before the subcommand
(`git -C dir -c k=v push`), combined short flags (`push -uf`, `clean -fdx`),
options anywhere among the arguments, `--` before paths, and refspecs with a
`+` (force) or an empty source (`:branch`, delete).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from hermes.risk.model import Assessment, Command, Where
from hermes.risk.options import is_prod, scan

_GLOBAL_TAKES = frozenset(
    {"-C", "-c", "--git-dir", "--work-tree", "--namespace", "--super-prefix", "--config-env"}
)
_PUSH_TAKES = frozenset({"--repo", "--receive-pack", "--exec", "-o", "--push-option"})

Args = tuple[str, ...]


def _names(items: Sequence[str], empty: str) -> str:
    return ", ".join(items) if items else empty


def _push_target(refspecs: Sequence[str]) -> str:
    """What a push updates on the remote: the destination side of each refspec."""
    dests = [spec.lstrip("+").rpartition(":")[2] or spec.lstrip("+") for spec in refspecs]
    return _names([d.removeprefix("refs/heads/") for d in dests], "the current branch")


def _push(args: Args) -> Assessment | None:
    o = scan(args, _PUSH_TAKES)
    if o.has("-n", "--dry-run"):
        return None
    remote = o.pos[0] if o.pos else o.get("--repo")
    refspecs = o.pos[1:]
    to = remote or "its upstream remote"
    if o.has("--all", "--branches"):
        target = "all branches"
    elif o.has("--tags"):
        target = "all tags"
    else:
        target = _push_target(refspecs)
    if o.has("--mirror"):
        return Assessment(
            "high",
            f"mirror-pushes to {to} (overwrites and deletes remote refs to match local ones)",
        )
    deleted = [spec[1:] for spec in refspecs if spec.startswith(":") and len(spec) > 1]
    if o.has("-d", "--delete") and refspecs:
        deleted = list(refspecs)
    if deleted:
        return Assessment("high", f"deletes remote branch {_names(deleted, '')} on {to}")
    if o.has("-f", "--force") or any(spec.startswith("+") for spec in refspecs):
        return Assessment("high", f"force-pushes {target} to {to} (rewrites remote history)")
    if o.has("--force-with-lease"):
        return Assessment(
            "high",
            f"force-pushes {target} to {to} with --force-with-lease (the safer form: it refuses "
            "if the remote moved since your last fetch, but still rewrites remote history)",
        )
    if o.has("--prune"):
        return Assessment("high", f"deletes branches on {to} that have no local counterpart")
    if remote and (remote == "heroku" or is_prod(remote)):
        return Assessment("high", f"pushes {target} to {remote} (a production deploy)")
    return None


def _reset(args: Args) -> Assessment | None:
    o = scan(args)
    if not o.has("--hard"):
        return None
    to = o.pos[0] if o.pos else "HEAD"
    return Assessment("medium", f"resets the working tree to {to} (discards uncommitted changes)")


def _clean(args: Args) -> Assessment | None:
    o = scan(args, {"-e", "--exclude"})
    if o.has("-n", "--dry-run") or not o.has("-f", "--force", "-i", "--interactive"):
        return None
    what = "untracked files and directories" if o.has("-d") else "untracked files"
    if o.has("-x"):
        what += ", ignored ones included"
    elif o.has("-X"):
        what = "ignored files"
    where = f" under {', '.join(o.pos)}" if o.pos else ""
    return Assessment("medium", f"deletes {what}{where} from the working tree")


def _branch(args: Args) -> Assessment | None:
    o = scan(args, {"-u", "--set-upstream-to", "--sort", "--format", "--points-at"})
    names = _names(o.pos, "?")
    kind = "remote-tracking branch" if o.has("-r", "--remotes") else "local branch"
    if o.has("-D") or (o.has("-d", "--delete") and o.has("-f", "--force")):
        return Assessment(
            "medium", f"force-deletes {kind} {names} (commits on it not merged elsewhere are lost)"
        )
    if o.has("-d", "--delete"):
        return Assessment("low", f"deletes {kind} {names} (only if fully merged)")
    return None


def _is_pathish(word: str) -> bool:
    return word in (".", ":/") or word.startswith("./") or "*" in word


def _checkout(args: Args) -> Assessment | None:
    o = scan(args, {"-b", "-B", "--orphan"})
    if "--" in args:
        paths: Sequence[str] = args[args.index("--") + 1 :]
    else:
        paths = [w for w in o.pos if _is_pathish(w)]
    if paths:
        return Assessment("medium", f"discards uncommitted changes to {', '.join(paths)}")
    if o.has("-f", "--force"):
        return Assessment("medium", "switches branches, discarding uncommitted changes")
    return None


def _restore(args: Args) -> Assessment | None:
    o = scan(args, {"-s", "--source", "--pathspec-from-file"})
    if o.has("-S", "--staged") and not o.has("-W", "--worktree"):
        return None  # only unstages; the working tree keeps the changes
    if not o.pos and not o.has("--pathspec-from-file"):
        return None
    return Assessment("medium", f"discards uncommitted changes to {_names(o.pos, 'listed paths')}")


def _switch(args: Args) -> Assessment | None:
    if scan(args, {"-c", "-C", "--orphan"}).has("-f", "--force", "--discard-changes"):
        return Assessment("medium", "switches branches, discarding uncommitted changes")
    return None


def _stash(args: Args) -> Assessment | None:
    o = scan(args)
    action = o.pos[0] if o.pos else ""
    if action == "drop":
        return Assessment("medium", f"deletes stash {_names(o.pos[1:], 'stash@{0}')}")
    if action == "clear":
        return Assessment("medium", "deletes every stash entry")
    return None


def _reflog(args: Args) -> Assessment | None:
    o = scan(args)
    if o.pos and o.pos[0] in ("expire", "delete"):
        return Assessment(
            "medium", "expires reflog entries (the record used to recover lost commits)"
        )
    return None


def _gc(args: Args) -> Assessment | None:
    if scan(args).get("--prune") in ("now", "all"):
        return Assessment(
            "medium", "deletes unreachable objects now (lost commits can no longer be recovered)"
        )
    return None


def _prune(args: Args) -> Assessment | None:
    if scan(args, {"--expire"}).has("-n", "--dry-run"):
        return None
    return Assessment(
        "medium", "deletes unreachable objects (lost commits can no longer be recovered)"
    )


def _rewrite(args: Args) -> Assessment | None:
    if scan(args).has("--analyze", "--dry-run", "--help"):
        return None
    return Assessment("high", "rewrites the entire history of the repository")


def _update_ref(args: Args) -> Assessment | None:
    o = scan(args, {"-m"})
    if o.has("-d"):
        return Assessment("medium", f"deletes ref {_names(o.pos[:1], '?')}")
    return None


def _tag(args: Args) -> Assessment | None:
    o = scan(args, {"-m", "-F", "-u", "--sort", "--format", "--points-at"})
    if o.has("-d", "--delete"):
        return Assessment("low", f"deletes local tag {_names(o.pos, '?')}")
    return None


def _rm(args: Args) -> Assessment | None:
    o = scan(args, {"--pathspec-from-file"})
    if o.has("--cached", "-n", "--dry-run"):
        return None
    paths = _names(o.pos, "listed paths")
    if o.has("-f", "--force"):
        return Assessment("medium", f"deletes {paths}, discarding their uncommitted changes")
    return Assessment("low", f"deletes tracked files {paths} (recoverable from the last commit)")


def _worktree(args: Args) -> Assessment | None:
    o = scan(args)
    if o.pos[:1] == ("remove",) and o.has("-f", "--force"):
        return Assessment(
            "medium", f"removes worktree {_names(o.pos[1:], '?')} with its uncommitted changes"
        )
    return None


_SUBCOMMANDS: dict[str, Callable[[Args], Assessment | None]] = {
    "push": _push,
    "reset": _reset,
    "clean": _clean,
    "branch": _branch,
    "checkout": _checkout,
    "restore": _restore,
    "switch": _switch,
    "stash": _stash,
    "reflog": _reflog,
    "gc": _gc,
    "prune": _prune,
    "filter-branch": _rewrite,
    "filter-repo": _rewrite,
    "update-ref": _update_ref,
    "tag": _tag,
    "rm": _rm,
    "worktree": _worktree,
}


def git_rule(cmd: Command, where: Where) -> Assessment | None:
    """Risky git subcommands; None for anything else (status, log, commit, plain push, ...)."""
    if cmd.name != "git":
        return None
    top = scan(cmd.args, _GLOBAL_TAKES, stop=True)
    if not top.pos:
        return None
    check = _SUBCOMMANDS.get(top.pos[0])
    return check(top.pos[1:]) if check else None
