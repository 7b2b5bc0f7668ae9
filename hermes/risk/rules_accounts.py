"""Accounts and credentials: users and groups, passwords, SSH and GPG keys,
the macOS keychain.

Creating, deleting or changing a user account or password is a credential
change (high); group changes are medium. Generating an SSH key is medium
(it may replace a key someone relies on); answering ssh-keygen's overwrite
prompt from a pipe (`yes | ssh-keygen -f ~/.ssh/id_ed25519`) replaces a key
for sure, a key rotation (high). Deleting secret keys is high.
"""

from __future__ import annotations

from hermes.risk.model import Assessment, Command, Where
from hermes.risk.options import Opts, scan

_USER_TAKES = frozenset(
    {"-c", "--comment", "-d", "--home", "--home-dir", "-e", "--expiredate", "-f", "--inactive",
     "-g", "--gid", "-G", "--groups", "-k", "--skel", "-K", "--key", "-p", "--password", "-s",
     "--shell", "-u", "--uid", "-b", "--base-dir", "-R", "--root", "-P", "--prefix", "-Z",
     "--selinux-user", "-l", "--login", "--ingroup", "--gecos"}
)  # fmt: skip
_USER_ACTIONS = {
    "useradd": "creates user account", "adduser": "creates user account",
    "userdel": "deletes user account", "deluser": "deletes user account",
    "usermod": "changes user account", "chage": "changes the password expiry of",
    "chsh": "changes the login shell of", "gpasswd": "changes membership or password of group",
}  # fmt: skip
_GROUP_ACTIONS = {
    "groupadd": "creates group", "addgroup": "creates group", "groupdel": "deletes group",
    "delgroup": "deletes group", "groupmod": "changes group",
}  # fmt: skip
_PASSWORDS = frozenset({"passwd", "chpasswd", "newusers"})
_KEYGEN_TAKES = frozenset(
    {"-f", "-t", "-b", "-C", "-N", "-P", "-a", "-Z", "-I", "-n", "-O", "-V", "-z", "-s", "-R",
     "-F", "-D", "-M", "-E", "-w", "-Y", "-r", "-m", "-J", "-j", "-S", "-W"}
)  # fmt: skip
_KEYGEN_READS = ("-l", "-y", "-F", "-B", "-Q", "-L", "-Y", "-D", "-e", "-i", "-K", "-G", "-T")


def _user(tool: str, o: Opts) -> Assessment | None:
    name = o.pos[-1] if o.pos else "?"
    listing = {"chage": ("-l", "--list"), "passwd": ("-S", "--status")}.get(tool)
    if listing and o.has(*listing):
        return None
    if tool == "passwd":
        whose = o.pos[-1] if o.pos else "the current user"
        return Assessment("high", f"changes the password of {whose} (a credential change)")
    if tool in ("chpasswd", "newusers"):
        return Assessment("high", f"{tool} sets user accounts or passwords from its input")
    if tool in _GROUP_ACTIONS:
        return Assessment("medium", f"{_GROUP_ACTIONS[tool]} {name}")
    if tool in ("adduser", "deluser") and len(o.pos) == 2:
        verb = "adds user {} to" if tool == "adduser" else "removes user {} from"
        group = o.pos[1]
        return Assessment("high", f"{verb.format(o.pos[0])} group {group} (a permission change)")
    extra = ""
    if tool == "usermod" and o.has("-G", "--groups"):
        extra = f", groups {o.get('-G', '--groups')}"
    if tool in ("userdel", "deluser") and o.has("-r", "--remove", "--remove-home"):
        extra = " and its home directory"
    return Assessment("high", f"{_USER_ACTIONS[tool]} {name}{extra} (a credential change)")


def _ssh_keygen(cmd: Command) -> Assessment | None:
    o = scan(cmd.args, _KEYGEN_TAKES)
    path = o.get("-f") or "~/.ssh/id_<type>"
    if o.has(*_KEYGEN_READS):
        return None
    if o.has("-R"):
        return Assessment("low", f"removes host {o.get('-R')} from known_hosts")
    if o.has("-H", "-c"):
        return Assessment("low", f"rewrites {path} (hashes hosts or changes a comment)")
    if o.has("-p"):
        return Assessment("medium", f"changes the passphrase of SSH key {path}")
    if o.has("-s"):
        return Assessment("medium", f"signs a certificate with CA key {o.get('-s')}")
    if o.has("-A"):
        return Assessment("medium", "generates missing SSH host keys")
    default_key = "/.ssh/id_" in path or path.startswith(".ssh/id_")
    if cmd.piped_in and default_key:
        return Assessment("high", f"overwrites SSH key {path} (a key rotation)")
    kind = o.get("-t") or "new"
    return Assessment(
        "medium", f"generates a {kind} SSH key at {path} (replaces the key there, if any)"
    )


def _gpg(args: tuple[str, ...]) -> Assessment | None:
    o = scan(args, {"-u", "--local-user", "-r", "--recipient", "-o", "--output", "--homedir"})
    keys = ", ".join(o.pos) or "?"
    if o.has("--delete-secret-keys", "--delete-secret-key", "--delete-secret-and-public-key",
             "--delete-secret-and-public-keys"):  # fmt: skip
        return Assessment("high", f"deletes secret GPG keys {keys} (cannot be recovered)")
    if o.has("--delete-keys", "--delete-key"):
        return Assessment("medium", f"deletes public GPG keys {keys}")
    if o.has("--gen-key", "--generate-key", "--full-generate-key", "--full-gen-key",
             "--quick-generate-key", "--quick-gen-key"):  # fmt: skip
        return Assessment("medium", "generates a GPG key")
    return None


def _security(args: tuple[str, ...]) -> Assessment | None:
    verb = args[0] if args else ""
    if verb.startswith("delete-"):
        return Assessment("high", f"security {verb} deletes stored credentials")
    if verb in ("set-keychain-password", "set-keychain-settings"):
        return Assessment("high", f"security {verb} changes keychain credentials")
    if verb.startswith(("add-", "import", "set-")):
        return Assessment("medium", f"security {verb} changes the keychain")
    return None


def accounts_rule(cmd: Command, where: Where) -> Assessment | None:
    """User/group management, passwords, SSH/GPG key changes, keychain deletions."""
    name = cmd.name
    if name in _USER_ACTIONS or name in _GROUP_ACTIONS or name in _PASSWORDS:
        return _user(name, scan(cmd.args, _USER_TAKES))
    if name == "visudo" and not scan(cmd.args, {"-f"}).has("-c", "--check"):
        return Assessment("high", "edits sudo permissions (a permission change)")
    if name == "ssh-keygen":
        return _ssh_keygen(cmd)
    if name in ("gpg", "gpg2"):
        return _gpg(cmd.args)
    if name == "security":
        return _security(cmd.args)
    return None
