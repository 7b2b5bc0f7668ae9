"""Secret stores: HashiCorp Vault (and its fork OpenBao, `bao`).

Vault's API is paths: `vault write PATH` does whatever PATH means, so the path
is read like a verb. Rotating a key (`transit/keys/NAME/rotate`,
`database/rotate-root/NAME`, `sys/rotate`, `vault operator rotate`) or
rekeying is a key rotation (high); deleting secrets, disabling a secrets or
auth engine, destroying versions, revoking leases by prefix, deleting or
writing policies are high (lost secrets, a credential or permission change);
other writes (`vault write`, `kv put`, enabling an engine) change stored
secrets or settings (medium). Reading, listing and logging in are none.
"""

from __future__ import annotations

import re

from hermes.risk.model import Assessment, Command, Level, Where
from hermes.risk.options import scan

_CLIENTS = frozenset({"vault", "bao"})
_TAKES = frozenset(
    {"-address", "-namespace", "-ns", "-format", "-field", "-mount", "-ca-cert", "-ca-path",
     "-client-cert", "-client-key", "-tls-server-name", "-wrap-ttl", "-policy", "-ttl",
     "-path", "-description", "-versions", "-version", "-method", "-header", "-type",
     "-plugin-name", "-output-policy", "-cas", "-max-lease-ttl", "-default-lease-ttl"}
)  # fmt: skip
# a path segment that rotates or rekeys what the path names
_ROTATES = re.compile(r"^(rotate(-root|-role|-keys?)?|rekey(-verify)?|rewrap)$")
_KEY_PATH = re.compile(r"^sys/(rotate|rekey|rekey-recovery-key)(/|$)")
_POLICY_PATH = re.compile(r"^sys/(policy|policies/\w+|auth|mounts|seal|step-down)(/|$)")
# (command, subcommand) -> (level, what it does); subcommand "" is the command alone
_ACTIONS: dict[tuple[str, str], tuple[Level, str]] = {
    ("operator", "rotate"): ("high", "rotates Vault's encryption key (a key rotation)"),
    ("operator", "rekey"): ("high", "rekeys Vault's unseal keys (a key rotation)"),
    ("operator", "generate-root"): ("high", "generates a Vault root token (a credential)"),
    ("operator", "seal"): ("high", "seals Vault: every client loses its secrets until unsealed"),
    ("operator", "step-down"): ("medium", "makes the active Vault node step down"),
    ("operator", "raft"): ("medium", "changes Vault's storage cluster"),
    ("secrets", "disable"): ("high", "disables a secrets engine (its secrets are deleted)"),
    ("secrets", "move"): ("medium", "moves a secrets engine"),
    ("secrets", "enable"): ("medium", "enables a secrets engine"),
    ("secrets", "tune"): ("medium", "changes a secrets engine's settings"),
    ("auth", "disable"): ("high", "disables an auth method (its logins stop working)"),
    ("auth", "enable"): ("medium", "enables an auth method"),
    ("auth", "tune"): ("medium", "changes an auth method's settings"),
    ("policy", "delete"): ("high", "deletes a Vault policy (a permission change)"),
    ("policy", "write"): ("high", "writes a Vault policy (a permission change)"),
    ("kv", "destroy"): ("high", "destroys versions of a secret for good"),
    ("kv", "delete"): ("high", "deletes a secret"),
    ("kv", "metadata"): ("high", "deletes a secret's every version"),  # `kv metadata delete`
    ("kv", "put"): ("medium", "writes a secret"),
    ("kv", "patch"): ("medium", "changes a secret"),
    ("kv", "rollback"): ("medium", "rolls a secret back to an older version"),
    ("kv", "undelete"): ("medium", "restores deleted versions of a secret"),
    ("token", "revoke"): ("medium", "revokes a Vault token"),
    ("lease", "revoke"): ("medium", "revokes leased credentials"),
    ("delete", ""): ("high", "deletes a secret or setting"),
    ("write", ""): ("medium", "writes a secret or setting"),
    ("patch", ""): ("medium", "changes a secret or setting"),
}


def _path_level(path: str) -> tuple[Level, str] | None:
    """What writing PATH does when the path itself says more than "writes"."""
    segments = path.strip("/").split("/")
    if _KEY_PATH.match(path.strip("/")) or any(_ROTATES.match(s) for s in segments[1:]):
        return "high", "rotates a key (a key rotation)"
    if _POLICY_PATH.match(path.strip("/")):
        return "high", "changes Vault's policies, mounts or seal (a permission change)"
    return None


def vault_rule(cmd: Command, where: Where) -> Assessment | None:
    """Vault: key rotation, deleting secrets and engines, policies; other writes."""
    if cmd.name not in _CLIENTS or "-h" in cmd.args or "-help" in cmd.args:
        return None
    o = scan(cmd.args, _TAKES, dash_long=True)
    if not o.pos:
        return None
    command, rest = o.pos[0], o.pos[1:]
    sub = rest[0] if rest and command not in ("write", "delete", "patch") else ""
    found = _ACTIONS.get((command, sub))
    if found is None:
        return None
    level, what = found
    if (command, sub) == ("kv", "metadata") and rest[1:2] != ("delete",):
        return None if rest[1:2] != ("put",) else Assessment("medium", "changes secret metadata")
    if (command, sub) == ("lease", "revoke") and o.has("-prefix", "-force"):
        level, what = "high", "revokes every lease under a prefix (credentials stop working)"
    path = rest[0] if command in ("write", "delete", "patch") and rest else ""
    by_path = _path_level(path) if path else None
    if by_path is not None and command != "delete":
        level, what = by_path
    shown = " ".join([cmd.name, command, *rest[:3]] if not path else [cmd.name, command, path])
    return Assessment(level, f"{what} ({shown})")
