"""The AWS CLI: `aws [global options] SERVICE OPERATION [parameters]`.

Operations follow a naming scheme, so they are judged by it: `describe-*`,
`list-*`, `get-*` read; `delete-*`, `terminate-*` destroy (high); anything
else changes resources (medium). IAM, KMS key deletion and secret rotation
are credential or permission changes (high). The `s3` convenience commands
are read by their options (`rm --recursive`, `rb`, `sync --delete`). A
profile or resource named production makes any change high.
"""

from __future__ import annotations

from hermes.risk.model import Assessment, Command, Where
from hermes.risk.options import Opts, first_prod, scan

_GLOBAL_TAKES = frozenset(
    {"--profile", "--region", "--output", "--endpoint-url", "--query", "--color",
     "--cli-read-timeout", "--cli-connect-timeout", "--ca-bundle", "--cli-binary-format"}
)  # fmt: skip
_S3_TAKES = frozenset(
    {"--exclude", "--include", "--acl", "--storage-class", "--sse", "--sse-c", "--sse-c-key",
     "--sse-kms-key-id", "--grants", "--website-redirect", "--content-type", "--cache-control",
     "--content-disposition", "--content-encoding", "--content-language", "--metadata",
     "--metadata-directive", "--expires", "--page-size", "--request-payer", "--source-region",
     "--expected-size", "--checksum-algorithm"}
)  # fmt: skip
_READS = (
    "describe-", "list-", "get-", "head-", "lookup-", "search-", "batch-get-", "scan", "query",
    "select-", "estimate-", "validate-", "test-", "simulate-", "preview-", "generate-",
    "filter-", "tail", "wait", "help", "download-", "decode-", "verify", "start-query",
    "start-session",
)  # fmt: skip
_DESTROYS = (
    "delete-", "terminate-", "remove-", "deregister-", "purge-", "destroy-", "batch-delete-",
    "schedule-key-deletion",
)  # fmt: skip
_CREDENTIALS = frozenset(
    {"rotate-secret", "put-secret-value", "update-secret", "create-access-key",
     "update-access-key", "create-login-profile", "update-login-profile", "create-key",
     "reset-service-specific-credential", "create-service-specific-credential",
     "import-key-material"}
)  # fmt: skip
_DEPLOYS = frozenset(
    {"deploy", "create-stack", "update-stack", "execute-change-set", "update-function-code",
     "update-service", "update-environment", "create-deployment", "start-deployment"}
)  # fmt: skip
_LOCAL_SERVICES = frozenset({"sts", "sso", "sso-oidc", "pricing", "history"})


def _s3(op: str, o: Opts) -> Assessment | None:
    paths = o.pos
    src = paths[0] if paths else "?"
    dst = paths[1] if len(paths) > 1 else "?"
    if op == "rm":
        if o.has("--recursive"):
            return Assessment("high", f"deletes every object under {src}")
        return Assessment("medium", f"deletes {src}")
    if op == "rb":
        every = " and every object in it" if o.has("--force") else ""
        return Assessment("high", f"deletes bucket {src}{every}")
    if op == "sync" and o.has("--delete"):
        return Assessment("medium", f"syncs {src} to {dst}, deleting files there that {src} lacks")
    if op == "mv":
        return Assessment("medium", f"moves {src} to {dst} (the source is deleted)")
    return None


def _operation(service: str, op: str, o: Opts) -> Assessment | None:
    shown = " ".join(["aws", service, op, *o.pos[2:4]])
    if op.startswith(_READS) or service in _LOCAL_SERVICES or op in ("login", "logout"):
        return None
    if service == "configure":
        if op in ("", "set", "import"):
            return Assessment("medium", "changes the local AWS CLI credentials or configuration")
        return None
    if op.startswith(_DESTROYS):
        return Assessment("high", f"runs {shown} (destroys cloud resources)")
    if service == "iam" or op in _CREDENTIALS or op.startswith(("attach-", "put-role", "put-user")):
        return Assessment("high", f"runs {shown} (a credential or permission change)")
    if op == "update-kubeconfig":
        return Assessment("low", f"adds cluster {' '.join(o.pos[2:3]) or '?'} to your kubeconfig")
    prod = first_prod(o.get("--profile"), *o.pos[2:])
    if prod:
        return Assessment("high", f"runs {shown} against production ({prod})")
    if op in _DEPLOYS:
        return Assessment("medium", f"runs {shown} (a deploy)")
    return Assessment("medium", f"runs {shown} (changes cloud resources)")


def aws_rule(cmd: Command, where: Where) -> Assessment | None:
    """Deletions, credential changes and other changes made through the AWS CLI."""
    if cmd.name != "aws":
        return None
    o = scan(cmd.args, _GLOBAL_TAKES | _S3_TAKES)
    if not o.pos or o.has("--dry-run"):
        return None
    service, op = o.pos[0], (o.pos[1] if len(o.pos) > 1 else "")
    if service == "s3":
        found = _s3(op, Opts(o.flags, o.pos[2:]))
        prod = first_prod(o.get("--profile"), *o.pos[2:])
        if found and prod and found.risk != "high":
            return Assessment("high", f"{found.reason} (production)")
        return found
    return _operation(service, op, o)
