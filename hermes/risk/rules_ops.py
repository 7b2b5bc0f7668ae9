"""Services and scheduled jobs: systemctl, service, init scripts, rc-service,
launchctl, supervisorctl, pm2, crontab.

Stopping, restarting, reloading, disabling or masking a service kills
processes, applies changed configuration or changes what starts at boot
(medium), whichever service it is. Switching the whole system to another
target (`isolate`, `rescue`) or re-executing the service manager is high;
powering off is machine_rules' business. `crontab -r` deletes every job
without asking (high); `crontab FILE` replaces them all (medium).
"""

from __future__ import annotations

from hermes.risk.model import Assessment, Command, Where
from hermes.risk.options import scan

_SYSTEMCTL_TAKES = frozenset(
    {"-H", "--host", "-M", "--machine", "-t", "--type", "-p", "--property", "-s", "--signal",
     "--state", "-o", "--output", "--kill-whom", "--kill-value", "--root", "--job-mode", "-n",
     "--lines", "--what", "--timestamp", "--reboot-argument", "--when", "--boot-loader-entry",
     "--boot-loader-menu", "--image", "--drop-in", "--message"}
)  # fmt: skip
# Service verbs and what each does to the named services.
_SERVICE_VERBS = {
    "stop": "stops", "restart": "restarts", "reload": "reloads the configuration of",
    "try-restart": "restarts",
    "reload-or-restart": "restarts", "try-reload-or-restart": "restarts",
    "condrestart": "restarts", "force-reload": "restarts", "kill": "kills",
    "disable": "disables", "mask": "masks (prevents from starting)", "enable": "enables at boot",
    "unmask": "unmasks", "set-property": "changes properties of", "edit": "edits the unit of",
    "revert": "reverts the unit files of", "preset": "resets the enablement of",
    "link": "links unit files", "clean": "deletes the state, cache or logs of",
    "freeze": "freezes", "zap": "forgets the state of",
    "set-default": "sets the default boot target to",
}  # fmt: skip
_SYSTEM_WIDE = {
    "isolate": "switches the whole system to target", "daemon-reexec": "re-executes systemd",
    "switch-root": "switches the root file system", "rescue": "drops the system to rescue mode",
    "emergency": "drops the system to emergency mode",
    "default": "switches the whole system to its default target",
}  # fmt: skip


def _services(verb: str, units: tuple[str, ...], tool: str) -> Assessment | None:
    action = _SERVICE_VERBS.get(verb)
    if action is None:
        return None
    return Assessment("medium", f"{action} {', '.join(units) or 'services'} through {tool}")


def _systemctl(args: tuple[str, ...]) -> Assessment | None:
    o = scan(args, _SYSTEMCTL_TAKES)
    if not o.pos:
        return None
    verb, units = o.pos[0], o.pos[1:]
    if verb in _SYSTEM_WIDE:
        return Assessment("high", f"{_SYSTEM_WIDE[verb]} {' '.join(units)}".rstrip())
    if verb in ("set-environment", "unset-environment"):
        return Assessment("medium", "changes the service manager's environment")
    return _services(verb, units, "systemctl")


def _launchctl(args: tuple[str, ...]) -> Assessment | None:
    o = scan(args)
    verb, targets = (o.pos[0] if o.pos else ""), ", ".join(o.pos[1:]) or "services"
    if verb in ("unload", "stop", "remove", "disable", "bootout", "kill"):
        return Assessment("medium", f"launchctl {verb} stops or disables {targets}")
    if verb == "kickstart" and o.has("-k"):
        return Assessment("medium", f"kills and restarts {targets} through launchctl")
    return None


def _crontab(cmd: Command) -> Assessment | None:
    o = scan(cmd.args, {"-u"})
    owner = f"user {o.get('-u')}" if o.get("-u") else "the current user"
    if o.has("-r"):
        return Assessment("high", f"deletes every cron job of {owner} (without asking)")
    if o.has("-e", "-l", "-T", "-n", "-c", "-V", "--help", "--version"):
        return None
    if o.pos and o.pos[0] != "-":
        return Assessment("medium", f"replaces every cron job of {owner} with {o.pos[0]}")
    if o.pos or cmd.piped_in:
        return Assessment("medium", f"replaces every cron job of {owner} with its input")
    return None


def services_rule(cmd: Command, where: Where) -> Assessment | None:
    """Stopping/restarting/disabling services (medium), system-wide switches (high)."""
    name, args = cmd.name, cmd.args
    if name == "systemctl":
        return _systemctl(args)
    if name == "service" and len(args) >= 2 and not args[0].startswith("-"):
        return _services(args[1], args[:1], "service")
    if args and cmd.argv[0].startswith(("/etc/init.d/", "/etc/rc.d/")):
        return _services(args[0], (name,), cmd.argv[0])
    if name == "rc-service":
        pos = scan(args).pos
        return _services(pos[1], pos[:1], "rc-service") if len(pos) >= 2 else None
    if name == "rc-update" and args[:1] in (("del",), ("delete",), ("add",)):
        return Assessment("medium", f"changes which services start at boot ({' '.join(args)})")
    if name == "launchctl":
        return _launchctl(args)
    if name in ("supervisorctl", "pm2", "sv") and args:
        verb = {"delete": "stop", "down": "stop"}.get(args[0], args[0])
        return _services(verb, args[1:], name)
    if name == "crontab":
        return _crontab(cmd)
    return None
