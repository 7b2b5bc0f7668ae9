"""Infrastructure as code: terraform/tofu/terragrunt, pulumi, ansible.

Terraform's options are single-dash words (`-auto-approve`, `-var=env=prod`)
that Go also accepts with two dashes; both spellings are read alike. A
directory, var file, variable value, stack or inventory whose name says
production turns an apply into a production deploy.
"""

from __future__ import annotations

from hermes.risk.model import Assessment, Command, Level, Where
from hermes.risk.options import Opts, first_prod, scan

_TF_TAKES = frozenset(
    f"{dash}{name}"
    for dash in ("-", "--")
    for name in ("var", "var-file", "target", "replace", "state", "state-out", "backup",
                 "lock-timeout", "parallelism", "out", "chdir")
)  # fmt: skip


def _tf_opts(args: tuple[str, ...], *, stop: bool = False) -> Opts:
    """Terraform's options with `--name` read as `-name`."""
    o = scan(args, _TF_TAKES, dash_long=True, stop=stop)
    flags = tuple((n[1:] if n.startswith("--") else n, v) for n, v in o.flags)
    return Opts(flags, o.pos)


def _tf_destroy(o: Opts, where: str) -> Assessment:
    targets = o.values("-target")
    what = ", ".join(targets) if targets else "every resource terraform manages"
    unasked = " without asking for confirmation" if o.has("-auto-approve") else ""
    return Assessment("high", f"destroys {what}{where}{unasked}")


def _tf_apply(o: Opts, where: str, chdir: str | None) -> Assessment:
    if o.has("-destroy"):
        return _tf_destroy(o, where)
    if o.pos:
        return Assessment(
            "high", f"applies saved plan {o.pos[0]}{where} without asking for confirmation"
        )
    values = [v.partition("=")[2] for v in o.values("-var")]
    prod = first_prod(chdir, *o.values("-var-file"), *values)
    if prod:
        return Assessment("high", f"applies infrastructure changes to production ({prod})")
    if o.has("-auto-approve"):
        return Assessment(
            "high", f"applies infrastructure changes{where} without asking for confirmation"
        )
    return Assessment("medium", f"applies infrastructure changes{where} (after showing a plan)")


def _tf_state(o: Opts, where: str) -> Assessment | None:
    action, items = (o.pos[1] if len(o.pos) > 1 else ""), ", ".join(o.pos[2:]) or "?"
    if action == "rm":
        return Assessment(
            "high", f"removes {items} from the terraform state{where} (terraform forgets them)"
        )
    if action == "push":
        return Assessment("high", f"overwrites the remote terraform state{where}")
    if action in ("mv", "replace-provider"):
        return Assessment("medium", f"rewrites the terraform state{where} ({action} {items})")
    return None


def terraform_rule(cmd: Command, where: Where) -> Assessment | None:
    """terraform/tofu/terragrunt destroy, apply, state surgery."""
    if cmd.name not in ("terraform", "tofu", "terragrunt"):
        return None
    top = _tf_opts(cmd.args, stop=True)
    pos = top.pos
    if cmd.name == "terragrunt" and pos[:1] in (("run-all",), ("run",)):
        pos = tuple(w for w in pos[1:] if w not in ("--all", "--"))
    if not pos:
        return None
    o = _tf_opts(pos)
    chdir = top.get("-chdir") or o.get("-chdir")
    at = f" in {chdir}" if chdir else ""
    sub = o.pos[0]
    o = Opts(o.flags, o.pos[1:]) if sub in ("apply", "destroy") else o
    if sub == "destroy":
        return _tf_destroy(o, at)
    if sub == "apply":
        return _tf_apply(o, at, chdir)
    if sub == "state":
        return _tf_state(o, at)
    if sub == "workspace" and o.pos[1:2] == ("delete",):
        return Assessment("high", f"deletes workspace {' '.join(o.pos[2:])} and its state{at}")
    if sub in ("import", "taint", "untaint", "force-unlock"):
        return Assessment("medium", f"changes the terraform state{at} ({sub})")
    return None


_PULUMI_TAKES = frozenset(
    {"-s", "--stack", "-C", "--cwd", "--config-file", "-c", "--config", "-t", "--target",
     "--replace", "-m", "--message", "-p", "--parallel", "--secrets-provider", "--policy-pack",
     "--exec-kind", "--color", "--tracing", "--exclude"}
)  # fmt: skip


def pulumi_rule(cmd: Command, where: Where) -> Assessment | None:
    """pulumi destroy, stack rm, state delete (high); up (high unattended or on production)."""
    if cmd.name != "pulumi":
        return None
    o = scan(cmd.args, _PULUMI_TAKES)
    if not o.pos or o.has("--preview-only"):
        return None
    sub, rest = o.pos[0], o.pos[1:]
    stack = o.get("-s", "--stack")
    of = f" of stack {stack}" if stack else ""
    unattended = o.has("-y", "--yes", "-f", "--skip-preview")
    if sub in ("destroy", "down", "dn"):
        return Assessment("high", f"destroys every resource{of}")
    if sub == "stack" and rest[:1] in (("rm",), ("remove",)):
        return Assessment(
            "high", f"deletes stack {' '.join(rest[1:]) or stack or '(the current one)'}"
        )
    if sub == "state" and rest[:1] == ("delete",):
        return Assessment("high", f"deletes {' '.join(rest[1:]) or '?'} from the state{of}")
    if sub in ("up", "update"):
        prod = first_prod(stack, o.get("-C", "--cwd"))
        if prod:
            return Assessment("high", f"deploys{of} (a production deploy)")
        if unattended:
            return Assessment("high", f"deploys{of} without asking for confirmation")
        return Assessment("medium", f"deploys{of} (after showing a preview)")
    if sub in ("refresh", "import") and unattended:
        return Assessment("medium", f"rewrites the state{of} ({sub})")
    return None


_ANSIBLE_TAKES = frozenset(
    {"-i", "--inventory", "-l", "--limit", "-e", "--extra-vars", "-u", "--user", "-t", "--tags",
     "--skip-tags", "-f", "--forks", "--vault-password-file", "--vault-id", "--private-key",
     "-c", "--connection", "-T", "--timeout", "-M", "--module-path", "--become-user",
     "--become-method", "--start-at-task", "--ssh-common-args", "-m", "--module-name", "-a",
     "--args", "-B", "--background", "-P", "--poll"}
)  # fmt: skip
_ANSIBLE_READS = frozenset({"ping", "setup", "debug", "gather_facts", "command_info"})
_ANSIBLE_DRY = ("-C", "--check", "--syntax-check", "--list-hosts", "--list-tasks", "--list-tags")


def ansible_rule(cmd: Command, where: Where) -> Assessment | None:
    """ansible-playbook runs and ansible ad-hoc modules change the hosts they reach."""
    if cmd.name not in ("ansible-playbook", "ansible"):
        return None
    o = scan(cmd.args, _ANSIBLE_TAKES)
    if not o.pos or o.has(*_ANSIBLE_DRY):
        return None
    inventory = o.values("-i", "--inventory")
    limit = o.values("-l", "--limit")
    prod = first_prod(*inventory, *limit, *o.values("-e", "--extra-vars"), *o.pos)
    if cmd.name == "ansible":
        module = (o.get("-m", "--module-name") or "command").rpartition(".")[2]
        if module in _ANSIBLE_READS:
            return None
        action = f"runs module {module} on {o.pos[0]}"
    else:
        action = f"runs playbook {', '.join(o.pos)}"
    level: Level = "high" if prod else "medium"
    hosts = (
        f"production ({prod})"
        if prod
        else f"the hosts in {', '.join(inventory) or 'the inventory'}"
    )
    return Assessment(level, f"{action} (changes {hosts})")
