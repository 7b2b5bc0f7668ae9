"""Publishing: a package pushed to a public registry cannot be taken back
quietly (others may already have installed it), so publishing is high.

npm/pnpm/yarn/bun, twine, uv, poetry, pdm, hatch, flit, `setup.py upload`,
cargo, gem, maven, gradle, `dotnet nuget push`, and the GitHub CLI's release,
repository and secret commands. A dry run publishes nothing; a test index
(TestPyPI) is medium.
"""

from __future__ import annotations

from hermes.risk.model import Assessment, Command, Where
from hermes.risk.options import Opts, scan

_NPM_TAKES = frozenset(
    {"--registry", "--tag", "--access", "--otp", "-w", "--workspace", "--prefix", "-C", "--dir",
     "--filter", "--userconfig", "--cache", "--provenance-file"}
)  # fmt: skip
_PY_TAKES = frozenset(
    {"-r", "--repository", "--repository-url", "-u", "--username", "-p", "--password", "-c",
     "--comment", "--config-file", "--sign-with", "-i", "--identity", "--client-cert", "--cert",
     "--publish-url", "--index", "--token", "-t", "--keyring-provider", "--check-url",
     "--trusted-publishing", "--dist-dir"}
)  # fmt: skip
_MVN_TAKES = frozenset(
    {"-f", "--file", "-s", "--settings", "-gs", "--global-settings", "-P", "--activate-profiles",
     "-pl", "--projects", "-T", "--threads", "-rf", "--resume-from", "-l", "--log-file"}
)  # fmt: skip
_GRADLE_TAKES = frozenset(
    {"-x", "--exclude-task", "-p", "--project-dir", "-b", "--build-file", "-c",
     "--settings-file", "-g", "--gradle-user-home", "-I", "--init-script"}
)  # fmt: skip
_GH_TAKES = frozenset(
    {"-R", "--repo", "-t", "--title", "-n", "--notes", "-F", "--notes-file", "--target", "-b",
     "--body", "--hostname", "-e", "--env", "-o", "--org", "-a", "--app", "--visibility"}
)  # fmt: skip


def _dry(o: Opts) -> bool:
    return o.has("--dry-run", "-n")


def _published(what: str, where: str) -> Assessment:
    return Assessment("high", f"publishes {what} to {where} (cannot be quietly undone)")


def _js(tool: str, o: Opts) -> Assessment | None:
    verb = o.pos[0] if o.pos else ""
    rest = o.pos[1:]
    if tool == "yarn" and verb == "npm" and rest[:1] == ("publish",):  # yarn berry
        verb, rest = "publish", rest[1:]
    if verb == "publish" and not o.has("--dry-run"):
        package = rest[0] if rest else "the package in this directory"
        return _published(package, o.get("--registry") or "the npm registry")
    if verb == "unpublish" and not o.has("--dry-run"):
        return Assessment("high", f"unpublishes {rest[0] if rest else 'this package'} from npm")
    if verb == "deprecate":
        return Assessment("medium", f"deprecates {rest[0] if rest else '?'} on npm")
    return None


def _python(tool: str, o: Opts) -> Assessment | None:
    verb = o.pos[0] if o.pos else ""
    if (tool, verb) not in (
        ("twine", "upload"),
        ("uv", "publish"),
        ("poetry", "publish"),
        ("pdm", "publish"),
        ("hatch", "publish"),
        ("flit", "publish"),
    ):
        return None  # fmt: skip
    if o.has("--dry-run"):
        return None
    index = " ".join(filter(None, (o.get("-r", "--repository", "--index"),
                                  o.get("--repository-url", "--publish-url"))))  # fmt: skip
    if "test" in index.lower():
        return Assessment("medium", f"publishes the distributions to {index} (a test index)")
    return _published(", ".join(o.pos[1:]) or "the distributions", index or "PyPI")


def _java(tool: str, o: Opts) -> Assessment | None:
    if tool == "mvn":
        if any(goal in ("deploy", "deploy:deploy-file", "release:perform") for goal in o.pos):
            return _published("the project's artifacts", "the Maven repository")
        return None
    excluded = set(o.values("-x", "--exclude-task"))
    for task in o.pos:
        name = task.rpartition(":")[2]
        if name.startswith("publish") and name != "publishToMavenLocal" and task not in excluded:
            return _published(f"artifacts (gradle {task})", "their repository")
    return None


def _gh(o: Opts) -> Assessment | None:
    group, verb = (*o.pos, "", "")[:2]
    names = " ".join(o.pos[2:3])
    if (group, verb) == ("release", "create"):
        return Assessment("medium", f"publishes GitHub release {names or '?'}")
    if (group, verb) == ("release", "delete"):
        return Assessment("medium", f"deletes GitHub release {names or '?'}")
    if (group, verb) == ("repo", "delete"):
        return Assessment("high", f"deletes GitHub repository {names or 'of this directory'}")
    if (group, verb) == ("repo", "edit") and o.has("--visibility"):
        return Assessment("high", f"makes the repository {o.get('--visibility')}")
    if (group, verb) == ("repo", "archive"):
        return Assessment("medium", f"archives GitHub repository {names or 'of this directory'}")
    if group == "secret" and verb in ("set", "delete", "remove"):
        return Assessment("high", f"changes GitHub secret {names or '?'} (a credential change)")
    if (group, verb) in (("auth", "logout"), ("auth", "refresh")):
        return Assessment("medium", f"gh auth {verb} changes the stored GitHub credentials")
    return None


def publish_rule(cmd: Command, where: Where) -> Assessment | None:
    """Publishing packages and releases (high), unpublishing, GitHub repo deletion."""
    name, args = cmd.name, cmd.args
    if name in ("npm", "pnpm", "yarn", "bun"):
        return _js(name, scan(args, _NPM_TAKES))
    if name in ("twine", "uv", "poetry", "pdm", "hatch", "flit"):
        return _python(name, scan(args, _PY_TAKES))
    if name.startswith("python") and args[:1] == ("setup.py",):
        if "upload" in args[1:]:
            return _published("the distributions", "PyPI")
        return None
    if name == "cargo":
        o = scan(args, {"--registry", "--index", "--token", "-p", "--package", "--manifest-path"})
        verb = o.pos[0] if o.pos else ""
        if verb == "publish" and not _dry(o):
            return _published(o.get("-p", "--package") or "the crate", "crates.io")
        if verb == "yank":
            return Assessment("medium", f"yanks {' '.join(o.pos[1:]) or '?'} from crates.io")
        return None
    if name == "gem" and args[:1] in (("push",), ("yank",)):
        gem = args[1] if len(args) > 1 else "?"
        if args[0] == "push":
            return _published(gem, "RubyGems")
        return Assessment("high", f"yanks {gem} from RubyGems")
    if name in ("mvn", "mvnw"):
        return _java("mvn", scan(args, _MVN_TAKES, dash_long=True))
    if name in ("gradle", "gradlew"):
        return _java("gradle", scan(args, _GRADLE_TAKES, attached={"-P", "-D"}))
    if name == "dotnet" and args[:2] == ("nuget", "push"):
        return _published(args[2] if len(args) > 2 else "the package", "NuGet")
    if name == "gh":
        return _gh(scan(args, _GH_TAKES))
    return None
