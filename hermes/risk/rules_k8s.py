"""Kubernetes: kubectl and helm.

Both accept their flags anywhere (`kubectl -n prod delete pod x` and
`kubectl delete pod x -n prod`), so the whole argument list is scanned with
the flags that take a value named. A context, namespace, cluster, release or
manifest whose name says production turns a change into a production deploy.
"""

from __future__ import annotations

from hermes.risk.model import Assessment, Command, Level, Where
from hermes.risk.options import Opts, first_prod, scan

_KUBECTL_TAKES = frozenset(
    {"-n", "--namespace", "--context", "--cluster", "--user", "--kubeconfig", "-s", "--server",
     "--token", "--as", "--as-group", "--as-uid", "--request-timeout", "--certificate-authority",
     "--client-certificate", "--client-key", "--tls-server-name", "-f", "--filename", "-k",
     "--kustomize", "-l", "--selector", "-o", "--output", "-c", "--container", "--field-selector",
     "--grace-period", "--timeout", "-p", "--patch", "--patch-file", "--type", "--replicas",
     "--current-replicas", "--resource-version", "--image", "--port", "--for", "--to-revision",
     "--subresource", "--field-manager", "--template", "--sort-by", "--since", "--tail"}
)  # fmt: skip
_CLUSTER_WIDE = frozenset(
    {"namespace", "namespaces", "ns", "pv", "persistentvolume", "persistentvolumes", "pvc",
     "persistentvolumeclaim", "persistentvolumeclaims", "node", "nodes", "no", "crd", "crds",
     "customresourcedefinition", "customresourcedefinitions"}
)  # fmt: skip
_CHANGES = {
    "apply": "applies", "create": "creates", "replace": "replaces", "patch": "patches",
    "scale": "scales", "edit": "edits", "set": "sets", "label": "labels",
    "annotate": "annotates", "autoscale": "autoscales", "expose": "exposes", "run": "runs pod",
    "taint": "taints", "drain": "drains node", "cordon": "cordons node",
    "uncordon": "uncordons node",
}  # fmt: skip
_ROLLOUT = {"restart": "restarts", "undo": "rolls back", "pause": "pauses", "resume": "resumes"}


def _dry_run(o: Opts) -> bool:
    return o.has("--dry-run") and o.get("--dry-run") != "none"


def _scope(context: str | None, namespace: str | None) -> str:
    """The "where" of a reason: ` in context prod, namespace web`, or nothing."""
    parts = [f"context {context}"] if context else []
    parts += [f"namespace {namespace}"] if namespace else []
    return f" in {', '.join(parts)}" if parts else ""


def _kubectl_delete(o: Opts, scope: str, prod: str | None) -> Assessment:
    files = o.values("-f", "--filename", "-k", "--kustomize")
    kinds = o.pos[1].split(",") if len(o.pos) > 1 else []
    kinds = [k.partition("/")[0].partition(".")[0].lower() for k in kinds]
    if files:
        target = f"the resources in {', '.join(files)}"
    elif o.has("--all"):
        named = [k for k in kinds if k != "all"]
        target = f"all {', '.join(named) or 'resources'}"
    else:
        target = " ".join(o.pos[1:]) or "resources"
    if o.has("-l", "--selector"):
        target += f" matching {o.get('-l', '--selector')}"
    if o.has("-A", "--all-namespaces"):
        target += " in every namespace"
    reason = f"deletes {target}{scope}"
    if prod:
        return Assessment("high", f"{reason} (production)")
    if any(k in _CLUSTER_WIDE for k in kinds):
        return Assessment("high", f"{reason} (and everything stored in it)")
    if o.has("--all", "-A", "--all-namespaces"):
        return Assessment("high", reason)
    return Assessment("medium", reason)


def kubectl_rule(cmd: Command, where: Where) -> Assessment | None:
    """kubectl delete, and changes to cluster resources (high against production)."""
    if cmd.name != "kubectl" or not cmd.args:
        return None
    o = scan(cmd.args, _KUBECTL_TAKES)
    if not o.pos or _dry_run(o):
        return None
    verb = o.pos[0]
    files = o.values("-f", "--filename", "-k", "--kustomize")
    prod = first_prod(o.get("--context"), o.get("--cluster"), o.get("-n", "--namespace"), *files)
    scope = _scope(o.get("--context"), o.get("-n", "--namespace"))
    if verb == "delete":
        return _kubectl_delete(o, scope, prod)
    if verb == "rollout":
        action = _ROLLOUT.get(o.pos[1] if len(o.pos) > 1 else "")
        rest = o.pos[2:]
    else:
        action = _CHANGES.get(verb)
        rest = o.pos[1:]
    if action is None:
        return None
    target = " ".join([*files, *rest]) or "resources"
    if prod:
        return Assessment("high", f"{action} {target}{scope} (a production deploy)")
    return Assessment("medium", f"{action} {target}{scope} (changes cluster resources)")


_HELM_TAKES = frozenset(
    {"--kube-context", "-n", "--namespace", "--kubeconfig", "--kube-apiserver", "--kube-as-user",
     "--kube-as-group", "--kube-token", "--kube-ca-file", "--kube-tls-server-name",
     "--registry-config", "--repository-config", "--repository-cache", "--burst-limit", "-f",
     "--values", "--set", "--set-string", "--set-file", "--set-json", "--set-literal",
     "--version", "--timeout", "-o", "--output", "--post-renderer", "--post-renderer-args",
     "--description", "--repo", "--username", "--password", "--ca-file", "--cert-file",
     "--key-file", "--keyring", "--cascade", "--history-max", "--max", "--label"}
)  # fmt: skip
_HELM_CHANGES = {"install": "installs", "upgrade": "upgrades", "rollback": "rolls back"}


def helm_rule(cmd: Command, where: Where) -> Assessment | None:
    """helm uninstall (high), install/upgrade/rollback (high into production, else medium)."""
    if cmd.name != "helm":
        return None
    o = scan(cmd.args, _HELM_TAKES)
    if not o.pos or _dry_run(o):
        return None
    verb, rest = o.pos[0], o.pos[1:]
    release = rest[0] if rest else "?"
    scope = _scope(o.get("--kube-context"), o.get("-n", "--namespace"))
    if verb in ("uninstall", "delete", "del", "un"):
        names = ", ".join(rest) or "?"
        return Assessment("high", f"uninstalls release {names}{scope} (deletes its resources)")
    action = _HELM_CHANGES.get(verb)
    if action is None:
        return None
    values = o.values("-f", "--values")
    prod = first_prod(o.get("--kube-context"), o.get("-n", "--namespace"), release, *values)
    level: Level = "high" if prod else "medium"
    why = "a production deploy" if prod else "changes cluster resources"
    return Assessment(level, f"{action} release {release}{scope} ({why})")
