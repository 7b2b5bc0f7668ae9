"""Reading keys and credentials: files, secret variables, credential helpers.

Any command whose arguments or `<` redirections name a secret place (private
ssh keys, ~/.gnupg, .netrc, cloud and registry credentials, /etc/shadow, a
process's environment, any Hermes home's .env or state.db, another Hermes
profile's home) reads it: at least medium. A place that holds secrets read
whole (a recursive copy, grep -r, tar, a glob) counts too. Exempt: programs
that use a key without printing it, when the key is their identity option
(`ssh -i KEY`, `scp -i`, `ssh-add KEY`, `ssh-keygen -y/-l -f KEY`: the public
half or a fingerprint), and programs that only list (`ls`, `stat`, `test`).
Printing a secret-looking variable (`echo $OPENAI_API_KEY`, `printenv
GITHUB_TOKEN`) and commands that print stored credentials (`gh auth token`,
`gcloud auth print-access-token`, `gpg --export-secret-keys`) are medium too;
bare `env`/`printenv` are not (tool environments hold no keys).
"""

from __future__ import annotations

import re

from hermes.risk.model import Assessment, Command, Where, rank
from hermes.risk.paths import read_risk

_LISTS = frozenset(
    {"ls", "stat", "test", "[", "file", "du", "find", "realpath", "readlink", "basename",
     "dirname", "wc", "md5sum", "sha1sum", "sha256sum", "sha512sum", "b2sum", "chmod", "chown",
     "chgrp", "touch", "rm", "unlink", "shred", "mkdir", "rmdir", "lsattr", "getfacl", "tree",
     "exa", "eza", "namei", "mv", "ln", "cd", "pushd", "truncate", "sudoedit", "tee", "echo",
     "printf", "print", "which", "type", "command", "kill", "sleep", "install"}
)  # fmt: skip
# identity options: the key is used to authenticate, never printed
_IDENTITY = {
    "ssh": ("-i",), "scp": ("-i",), "sftp": ("-i",), "autossh": ("-i",), "ssh-copy-id": ("-i",),
    "ssh-add": (), "ssh-keygen": ("-f",), "git": (), "rsync": (), "sshfs": ("-o",),
    "mosh": (), "gpg": ("--homedir",), "gpg2": ("--homedir",),
}  # fmt: skip
# programs that read whole directories: always, or with one of these options
_RECURSIVE: dict[str, frozenset[str]] = {
    **{p: frozenset() for p in ("tar", "zip", "7z", "7za", "rsync", "rg", "ag", "ack", "rclone",
                                "restic", "borg", "duplicity", "rdiff-backup", "bsdtar", "gtar")},
    **{p: frozenset("rRa") for p in ("cp", "scp", "gcp")},
    **{p: frozenset("rR") for p in ("grep", "egrep", "fgrep", "zgrep", "diff", "zip", "gsutil",
                                    "aws", "sftp", "chmod")},
}  # fmt: skip
_FILTERS = frozenset({"grep", "egrep", "fgrep", "rg", "ag", "awk", "gawk", "sed", "ack"})
_DUMPS = frozenset({"env", "printenv", "set", "export", "declare", "typeset", "compgen"})
_SECRETISH = re.compile(r"token|secret|passw|api_?key|_key\b|^key$|credential|auth", re.I)
_SECRET_NAME = re.compile(
    r"(?:^|_)(?:API_?KEY|TOKEN|SECRET|PASSWORD|PASSWD|PASSPHRASE|PRIVATE_KEY|ACCESS_KEY|CREDENTIALS?)"
    r"(?:_|$)|PASSWORD",
    re.I,
)
_VARIABLE = re.compile(r"\$\{?([A-Za-z_]\w*)")
_PRINTERS = frozenset({"echo", "printf", "print", "cat", "base64", "xxd", "od", "hexdump", "tee"})
# commands that print stored credentials: (program, words that must all appear)
_PRINTS_CREDENTIALS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("gh", ("auth", "token")), ("gcloud", ("print-access-token",)),
    ("gcloud", ("print-identity-token",)), ("aws", ("configure", "export-credentials")),
    ("aws", ("configure", "get", "aws_secret_access_key")), ("aws", ("ecr", "get-login-password")),
    ("az", ("get-access-token",)), ("kubectl", ("config", "view", "--raw")),
    ("gpg", ("--export-secret-keys",)), ("gpg", ("--export-secret-subkeys",)),
    ("gpg2", ("--export-secret-keys",)), ("pass", ("show",)), ("op", ("read",)),
    ("secret-tool", ("lookup",)), ("security", ("-w",)), ("vault", ("read",)),
    ("doppler", ("secrets", "get")), ("heroku", ("auth:token",)), ("npm", ("token", "list")),
)  # fmt: skip


def _paths(cmd: Command, bare: bool = False) -> list[tuple[str, bool]]:
    """The words of `cmd` that may name files it reads: (word, identity option value).
    `bare`: plain names too (`cat key`): with a probe, a link in the workspace may
    point at a key."""
    identity = _IDENTITY.get(cmd.name)
    out: list[tuple[str, bool]] = [(t, False) for op, t in cmd.redirects if op in ("<", "<>")]
    args = cmd.args
    for i, word in enumerate(args):
        used = identity is not None and i > 0 and args[i - 1] in identity
        if identity is not None and word.startswith("-o") and "identityfile" in word.lower():
            used = True
        if (
            identity is not None
            and i > 0
            and args[i - 1] == "-o"
            and "identityfile" in word.lower()
        ):
            used = True
        if cmd.name in ("ssh-add", "ssh-keygen") and not word.startswith("-"):
            used = cmd.name == "ssh-add" or any(a in ("-y", "-l", "-lf", "-yf") for a in args)
        for part in _parts(word, bare):
            out.append((part, used))
    return out


def _parts(word: str, bare: bool = False) -> list[str]:
    """A word and the paths inside it (`--key=PATH`, `@PATH` for curl, `if=PATH`)."""
    parts = [word]
    m = re.match(r"^[-\w.]*[=:@](.+)$", word)
    if m:
        parts.append(m.group(1))
    parts += [p.lstrip("@<") for p in parts if p.startswith(("@", "<"))]
    return [p for p in parts if p and (p[0] in "/~.$" or "/" in p or (bare and p[0] != "-"))]


def reads_secrets(cmd: Command, where: Where) -> Assessment | None:
    """Commands that read keys, credentials or Hermes' own secrets."""
    if cmd.name in _LISTS or not cmd.argv:
        return None
    letters = _RECURSIVE.get(cmd.name)
    whole = letters is not None and (
        not letters
        or any(
            a in ("--recursive", "--archive")
            or (re.fullmatch(r"-[a-zA-Z]+", a) is not None and bool(set(a[1:]) & letters))
            for a in cmd.args
        )
    )
    worst: Assessment | None = None
    for word, used in _paths(cmd, bare=where.probe is not None):
        if used:
            continue
        found = read_risk(word, where, whole=whole)
        if found.risk != "none" and (worst is None or rank(found.risk) > rank(worst.risk)):
            worst = found
    return worst


def prints_secrets(cmd: Command, where: Where) -> Assessment | None:
    """`echo $GITHUB_TOKEN`, `printenv OPENAI_API_KEY`, `gh auth token`, ..."""
    name, args = cmd.name, cmd.args
    if name == "printenv":
        secret = next((a for a in args if _SECRET_NAME.search(a)), None)
        if secret:
            return Assessment("medium", f"prints a secret variable ({secret})")
    if name in _PRINTERS or (name in ("declare", "typeset") and "-p" in args):
        for word in args:
            for var in _VARIABLE.findall(word) if name not in ("declare", "typeset") else [word]:
                if _SECRET_NAME.search(var):
                    return Assessment("medium", f"prints a secret variable ({var})")
    for program, needed in _PRINTS_CREDENTIALS:
        if name == program and all(n in args for n in needed):
            return Assessment("medium", f"prints stored credentials ({name} {' '.join(needed)})")
    return None


def secrets_input(cmd: Command, text: str, where: Where) -> Assessment | None:
    """A here-string that expands a secret variable into a command's input (`base64 <<< $TOKEN`)."""
    for var in _VARIABLE.findall(text):
        if _SECRET_NAME.search(var) and cmd.name in _PRINTERS | {"curl", "nc", "ncat", "socat"}:
            return Assessment("medium", f"sends a secret variable to {cmd.name} ({var})")
    return None


def environment_filter(upstream: list[Command], cmd: Command) -> Assessment | None:
    """`env | grep -i token`: the environment filtered for its secrets is printing them."""
    dumps = [c for c in upstream if (c.name in _DUMPS and c.name not in ("export", "declare"))
             or (c.name in ("export", "declare", "typeset") and "-p" in c.args)]  # fmt: skip
    if not dumps or cmd.name not in _FILTERS:
        return None
    pattern = next((a for a in cmd.args if not a.startswith("-") and _SECRETISH.search(a)), None)
    if pattern is None:
        return None
    return Assessment(
        "medium", f"prints secret variables from the environment ({cmd.name} {pattern})"
    )


SECRET_RULES = [reads_secrets, prints_secrets]
