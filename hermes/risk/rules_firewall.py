"""Firewalls: iptables (and ip6tables, ebtables, -restore), nft, ufw,
firewall-cmd, pfctl.

Flushing rules, deleting chains, disabling or resetting the firewall, and
changing a default policy are high: they open the machine up or lock its
owner out of a remote session. Adding or removing single rules is medium.
Listing and dry runs are none.
"""

from __future__ import annotations

from hermes.risk.model import Assessment, Command, Where
from hermes.risk.options import scan

_IPTABLES = frozenset(
    {"iptables", "ip6tables", "iptables-legacy", "ip6tables-legacy", "iptables-nft",
     "ip6tables-nft", "ebtables", "arptables"}
)  # fmt: skip
_LONG_COMMANDS = {
    "--flush": "F", "--delete-chain": "X", "--policy": "P", "--append": "A", "--insert": "I",
    "--delete": "D", "--replace": "R", "--new-chain": "N", "--rename-chain": "E",
}  # fmt: skip
_CHANGES = {"A": "appends a rule to", "I": "inserts a rule into", "D": "deletes a rule from",
            "R": "replaces a rule in", "N": "creates chain", "E": "renames chain"}  # fmt: skip


def _iptables(tool: str, args: tuple[str, ...]) -> Assessment | None:
    """The command is the capital letter among the short flags (`-F`, `-nvL`, `-P INPUT DROP`)."""
    for i, word in enumerate(args):
        after = args[i + 1 : i + 3]
        letters = _LONG_COMMANDS.get(word, "")
        if not letters and word.startswith("-") and not word.startswith("--"):
            letters = "".join(c for c in word[1:] if c in "FXPAIDRNE")
        for letter in letters:
            chain = after[0] if after and not after[0].startswith("-") else ""
            if letter == "F":
                what = f"chain {chain}" if chain else "every chain"
                return Assessment("high", f"flushes all firewall rules in {what} ({tool})")
            if letter == "X":
                return Assessment("high", f"deletes firewall chains {chain or '(all custom)'}")
            if letter == "P":
                target = after[1] if len(after) > 1 else "?"
                effect = "may lock you out" if target in ("DROP", "REJECT") else "opens it up"
                return Assessment(
                    "high", f"sets the default firewall policy of {chain} to {target} ({effect})"
                )
            return Assessment("medium", f"{_CHANGES[letter]} firewall chain {chain} ({tool})")
    return None


def _restore(cmd: Command) -> Assessment | None:
    o = scan(cmd.args, {"-M", "--modprobe", "-T", "--table", "-w", "--wait"})
    if o.has("-t", "--test"):
        return None
    files = [*o.pos, *(target for op, target in cmd.redirects if op == "<")]
    source = files[0] if files else "its input"
    if o.has("-n", "--noflush"):
        return Assessment("medium", f"adds firewall rules from {source} ({cmd.name})")
    return Assessment("high", f"replaces the whole firewall ruleset with {source} ({cmd.name})")


def _nft(args: tuple[str, ...]) -> Assessment | None:
    o = scan(args, {"-f", "--file", "-I", "--includepath", "-D", "--define"})
    if o.has("-c", "--check"):
        return None
    if o.has("-f", "--file"):
        return Assessment("high", f"loads the firewall ruleset {o.get('-f', '--file')} (nft -f)")
    words = " ".join(o.pos).replace(";", " ").split()
    verb, kind = (*words, "", "")[:2]
    name = " ".join(words[2:4])
    if verb == "flush":
        return Assessment("high", f"flushes firewall {kind} {name}".rstrip() + " (nft)")
    if verb in ("delete", "destroy") and kind in ("table", "chain"):
        return Assessment("high", f"deletes firewall {kind} {name} (nft)")
    if verb in ("add", "insert", "replace", "create", "delete", "destroy", "reset"):
        return Assessment("medium", f"changes firewall rules: nft {' '.join(words[:4])}")
    return None


def _ufw(args: tuple[str, ...]) -> Assessment | None:
    o = scan(args)
    if o.has("--dry-run") or not o.pos:
        return None
    verb, rest = o.pos[0], " ".join(o.pos[1:])
    if verb in ("disable", "reset"):
        return Assessment("high", f"ufw {verb}: turns off or wipes every firewall rule")
    if verb == "default":
        return Assessment("high", f"changes the default firewall policy ({rest})")
    if verb == "enable":
        return Assessment("medium", "enables the firewall (may cut off remote sessions)")
    if verb in ("allow", "deny", "reject", "limit", "delete", "insert", "prepend", "route"):
        return Assessment("medium", f"changes firewall rules: ufw {verb} {rest}".rstrip())
    return None


def _firewall_cmd(args: tuple[str, ...]) -> Assessment | None:
    for word in args:
        flag = word.partition("=")[0]
        if flag == "--panic-on":
            return Assessment("high", "drops all network traffic (firewalld panic mode)")
        if flag.startswith(("--add-", "--remove-", "--set-", "--change-", "--new-", "--delete-")):
            return Assessment("medium", f"changes firewall rules ({word})")
        if flag in ("--reload", "--complete-reload", "--runtime-to-permanent", "--panic-off"):
            return Assessment("medium", f"applies firewall changes ({flag})")
    return None


def _pfctl(args: tuple[str, ...]) -> Assessment | None:
    o = scan(args, {"-f", "-F", "-a", "-s", "-t", "-T", "-x", "-k", "-K", "-o", "-p", "-D"})
    if o.has("-n"):
        return None
    if o.has("-d"):
        return Assessment("high", "disables the pf firewall")
    if o.has("-F"):
        return Assessment("high", f"flushes pf firewall {o.get('-F')}")
    if o.has("-f"):
        return Assessment("medium", f"loads pf firewall rules from {o.get('-f')}")
    if o.has("-e"):
        return Assessment("medium", "enables the pf firewall (may cut off remote sessions)")
    return None


def firewall_rule(cmd: Command, where: Where) -> Assessment | None:
    """Firewall flushes, policy changes, disabling (high) and rule edits (medium)."""
    name, args = cmd.name, cmd.args
    if name in _IPTABLES:
        return _iptables(name, args)
    if name.endswith("-restore") and name.removesuffix("-restore") in _IPTABLES:
        return _restore(cmd)
    if name == "nft":
        return _nft(args)
    if name == "ufw":
        return _ufw(args)
    if name == "firewall-cmd":
        return _firewall_cmd(args)
    if name == "pfctl":
        return _pfctl(args)
    return None
