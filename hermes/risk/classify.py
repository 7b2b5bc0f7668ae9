"""The risk of a shell command or a file write, as the approval gate asks for it.

The command is parsed once (hermes/risk/shell.py) into every simple command it
would run; each is judged by every rule (system_rules.RULES and the tool
families in tool_rules.RULES) and the riskiest answer
wins, together with what the parser itself found (fork bombs, downloads piped
into a shell, programs computed at run time, unparseable input).
"""

from __future__ import annotations

import logging
from pathlib import Path

from hermes.risk import shell
from hermes.risk.model import Assessment, Rule, Where, riskiest
from hermes.risk.paths import moved, write_risk
from hermes.risk.system_rules import RULES as SYSTEM_RULES
from hermes.risk.tool_rules import RULES as TOOL_RULES
from hermes.risk.tool_rules import judge_input

log = logging.getLogger(__name__)
RULES: tuple[Rule, ...] = (*SYSTEM_RULES, *TOOL_RULES)


def _here() -> Where:
    return Where(cwd=Path.cwd(), home=Path.home())


def classify_command(command: str, where: Where | None = None) -> Assessment:
    """How risky running `command` in a shell is (SPEC §6), with a short reason."""
    where = where or _here()
    parsed = shell.parse(command)
    found: list[Assessment | None] = list(parsed.findings)
    for cmd in parsed.commands:
        if cmd.name in ("cd", "pushd", "popd"):  # later relative paths are under the new directory
            where = moved(where, cmd.args if cmd.name != "popd" else ("-",))
        for rule in RULES:
            try:
                found.append(rule(cmd, where))
            except Exception:  # a rule's bug must not open the gate
                log.exception("risk rule %s failed on %r", getattr(rule, "__name__", rule), cmd)
                found.append(Assessment("medium", f"could not check {cmd.name or 'a command'}"))
    for cmd, text in parsed.inputs:  # SQL in a here-document or piped in
        found.append(judge_input(cmd, text, where))
    return riskiest(found)


def classify_write(path: str, where: Where | None = None) -> Assessment:
    """How risky the agent's file tools writing `path` is."""
    return write_risk(path, where or _here())
