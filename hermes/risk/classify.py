"""The risk of a shell command, a file write or a file read, as the approval gate asks for it.

The command is parsed once (hermes/risk/shell.py) into every simple command it
would run; each is judged by every rule (system_rules.RULES, the tool
families in tool_rules.RULES, reading secrets, Hermes' own control plane) and
the riskiest answer wins, together with what the parser itself found (fork
bombs, downloads piped into a shell, code that cannot be seen, unparseable
input). Commands are judged in order, so a `cd`, a symlink or a bind mount
made earlier on the line changes where later paths point; a command run in a
container sees its paths through the container's mounts (containers.view).
"""

from __future__ import annotations

import logging
from pathlib import Path

from hermes.risk import containers, shell
from hermes.risk.model import Assessment, Container, Rule, Where, riskiest
from hermes.risk.paths import linked, moved, read_risk, write_risk
from hermes.risk.rules_hermes import HERMES_RULES, hermes_input
from hermes.risk.rules_secrets import SECRET_RULES, secrets_input
from hermes.risk.system_rules import RULES as SYSTEM_RULES
from hermes.risk.tool_rules import RULES as TOOL_RULES
from hermes.risk.tool_rules import judge_input

log = logging.getLogger(__name__)
RULES: tuple[Rule, ...] = (*SYSTEM_RULES, *TOOL_RULES, *SECRET_RULES, *HERMES_RULES)
# rules about the machine itself, which a container that does not share the host's
# devices or processes cannot reach (hermes/risk/containers.py)
_MACHINE = frozenset({"disks", "power", "processes", "cleanup", "packages_rule", "services_rule",
                      "firewall_rule", "accounts_rule"})  # fmt: skip
CONTAINED_RULES = tuple(r for r in RULES if getattr(r, "__name__", "") not in _MACHINE)


def _here() -> Where:
    return Where(cwd=Path.cwd(), home=Path.home())


def classify_command(command: str, where: Where | None = None) -> Assessment:
    """How risky running `command` in a shell is (SPEC §6), with a short reason."""
    where = where or _here()
    try:
        parsed = shell.parse(command)
    except Exception:  # the parser's bug must not open the gate either
        log.exception("risk: could not parse %r", command[:200])
        return Assessment("medium", "could not check the command")
    found: list[Assessment | None] = list(parsed.findings)
    views: dict[Container, Where] = {}  # where each container's commands see their paths
    for cmd in parsed.commands:
        box = cmd.container
        here = where if box is None else views.get(box) or containers.view(where, box)
        for rule in RULES if box is None or box.host else CONTAINED_RULES:
            try:
                found.append(rule(cmd, here))
            except Exception:  # a rule's bug must not open the gate
                log.exception("risk rule %s failed on %r", getattr(rule, "__name__", rule), cmd)
                found.append(Assessment("medium", f"could not check {cmd.name or 'a command'}"))
        try:  # later relative paths are under the new directory; links point elsewhere
            if cmd.name in ("cd", "pushd", "popd"):
                here = moved(here, cmd.args if cmd.name != "popd" else ("-",))
            elif cmd.name in ("ln", "mount"):
                here = linked(here, cmd)
        except Exception:
            log.exception("risk: could not follow %r", cmd)
        if box is None:
            where = here
        else:
            views[box] = here
    for cmd, text in parsed.inputs:  # SQL in a here-document or piped in, secrets fed in
        for judge in (judge_input, hermes_input, secrets_input):
            try:
                found.append(judge(cmd, text, where))
            except Exception:
                log.exception("risk input check failed on %r", cmd)
                found.append(Assessment("medium", f"could not check the input of {cmd.name}"))
    return riskiest(found)


def classify_write(path: str, where: Where | None = None) -> Assessment:
    """How risky the agent's file tools writing `path` (over what is there) is."""
    return write_risk(path, where or _here())


def classify_read(path: str, where: Where | None = None) -> Assessment:
    """How risky the agent's file tools reading `path` (read_file, search_files) is:
    keys and credentials, Hermes' own secrets, another profile's home."""
    return read_risk(path, where or _here())
