"""Rules for what a command does to the machine as a whole.

Wiping or repartitioning a disk and powering the machine off are never run by
the agent (hard); killing processes needs a yes; vacuuming logs and purging
package caches are the routine cleanup SPEC §6 calls low.
"""

from __future__ import annotations

import re

from hermes.risk.model import Assessment, Command, Rule, Where
from hermes.risk.options import scan, unwrap_runner
from hermes.risk.paths import place, write_risk

_MKFS = re.compile(r"^(mkfs(\.\w+)?|mke2fs|mkswap|mkdosfs|mkntfs)$")
_READ_ONLY = {  # options that make a partitioning tool only show the table
    "fdisk": {"-l", "--list"}, "gdisk": {"-l"}, "cfdisk": set(),
    "sfdisk": {"-l", "--list", "-d", "--dump", "-J", "--json", "-s", "--show-size", "-V",
               "--verify", "--list-free", "-F"},
    "sgdisk": {"-p", "--print", "-i", "--info", "-v", "--verify", "-b", "--backup", "-P",
               "--pretend"},
}  # fmt: skip
_PARTED_READ = frozenset({"print", "p", "help", "h", "version"})
_POWER_VERBS = {"poweroff": "powers off", "reboot": "reboots", "halt": "halts",
                "kexec": "reboots (kexec)", "soft-reboot": "reboots"}  # fmt: skip
_CRITICAL = frozenset({"init", "systemd", "sshd", "dbus-daemon", "dbus", "login", "Xorg", "gdm"})
# D-Bus clients, the services that power the machine off or put it to sleep, their methods
_DBUS = {"dbus-send": "", "busctl": "call", "gdbus": "call", "qdbus": "", "qdbus6": "",
         "qdbus-qt5": "", "dbus": ""}  # fmt: skip
_POWER_SERVICES = re.compile(r"org\.freedesktop\.(login1|systemd1|ConsoleKit)")
_DBUS_POWER = {"PowerOff": "powers off", "Reboot": "reboots", "Halt": "halts",
               "KExec": "reboots (kexec)", "SoftReboot": "reboots",
               "ScheduleShutdown": "schedules a shutdown of"}  # fmt: skip
_CONSOLEKIT_POWER = {"Stop": "powers off", "Restart": "reboots"}
_DBUS_SLEEP = frozenset({"Suspend", "Hibernate", "HybridSleep", "SuspendThenHibernate", "Sleep"})
_TARGET = re.compile(r"^(poweroff|reboot|halt|kexec|soft-reboot|suspend|hibernate|hybrid-sleep"
                     r"|suspend-then-hibernate|sleep)\.target$")  # fmt: skip
# programs that kill processes with a subcommand: (its options that take a value,
# the subcommands that kill (a name ending in "-" is a prefix), what they do)
_SESSION_KILLS = {
    "tmux": ("-L -S -f -c -T", "kill- killw killp", "kills tmux sessions and what runs in them"),
    "byobu": ("-L -S -f -c -T", "kill- killw killp", "kills byobu sessions and what runs in them"),
    "zellij": ("-s --session -l --layout -c --config --config-dir --data-dir --max-panes",
               "kill-session kill-all-sessions delete-session delete-all-sessions k ka d da",
               "kills zellij sessions and what runs in them"),
    "loginctl": ("-H --host -M --machine -s --signal -p --property --kill-whom -o --output",
                 "kill-user kill-session terminate-user terminate-session",
                 "kills the processes of a login session or user"),
}  # fmt: skip


def _devices(args: tuple[str, ...], where: Where) -> list[str]:
    return [a for a in args if a.startswith("/dev/") and place(a, where).kind == "device"]


def _signal(args: tuple[str, ...]) -> tuple[str, tuple[str, ...]]:
    """kill's signal (`-9`, `-KILL`, `-s KILL`, `-n 9`) and the words after it."""
    if args[:1] in (("-s",), ("-n",), ("--signal",)) and len(args) > 1:
        return args[1], args[2:]
    if args and args[0].startswith("-") and args[0] != "--":
        return args[0][1:].removeprefix("s").removeprefix("SIG") or "TERM", args[1:]
    return "TERM", args


def disks(cmd: Command, where: Where) -> Assessment | None:
    """Formatting, wiping and repartitioning block devices."""
    name, args = cmd.name, cmd.args
    devices = _devices(args, where)
    target = ", ".join(devices)
    if _MKFS.match(name):
        o = scan(args, {"-t", "-L", "-b", "-n", "-O", "-E", "-c", "-U", "-T", "-N"})
        if devices:
            return Assessment("hard", f"formats {target} (erases the disk)")
        return next((write_risk(p, where) for p in o.pos[:1]), None)
    if name == "wipefs":
        erases = any(a in ("-a", "--all") or a.startswith(("-o", "--offset")) for a in args)
        return (
            Assessment("hard", f"wipes the signatures of {target}") if erases and devices else None
        )
    if name in _READ_ONLY:
        opts = [a.partition("=")[0] for a in args if a.startswith("-")]
        if not devices or (opts and all(o in _READ_ONLY[name] for o in opts)):
            return None
        return Assessment("hard", f"repartitions {target}")
    if name == "parted":
        words = [a for a in args if not a.startswith("-") and a not in devices]
        if (
            not devices
            or any(a in ("-l", "--list") for a in args)
            or (words and set(words) <= _PARTED_READ)
        ):
            return None
        return Assessment("hard", f"repartitions {target}")
    if name in ("blkdiscard", "cryptsetup", "mdadm", "badblocks", "hdparm") and devices:
        destructive = {
            "blkdiscard": True,
            "cryptsetup": bool({"luksFormat", "erase", "luksErase", "reencrypt"} & set(args)),
            "mdadm": bool({"--zero-superblock", "--create", "-C"} & set(args)),
            "badblocks": "-w" in args,
            "hdparm": any(a.startswith(("--security-erase", "--trim-sector")) for a in args),
        }[name]
        return Assessment("hard", f"erases {target} ({name})") if destructive else None
    if name in ("lvremove", "vgremove", "pvremove") or (
        name in ("zpool", "zfs") and args[:1] == ("destroy",)
    ):
        return Assessment("high", f"destroys storage volumes ({name} {' '.join(args)})".strip())
    return None


def power(cmd: Command, where: Where) -> Assessment | None:
    """Powering off or rebooting the machine."""
    name, args = cmd.name, cmd.args
    if "--help" in args:
        return None
    if name == "shutdown":
        if any(a in ("-c", "-k", "--no-wall") for a in args) and "-r" not in args:
            return None
        return Assessment(
            "hard", "reboots the machine" if "-r" in args else "shuts the machine down"
        )
    if name in ("reboot", "poweroff", "halt"):
        return Assessment("hard", f"{'reboots' if name == 'reboot' else 'powers off'} the machine")
    if name in ("init", "telinit") and args:
        if args[0] in ("0", "6"):
            return Assessment("hard", f"{'reboots' if args[0] == '6' else 'halts'} the machine")
        if args[0] in ("1", "s", "S"):
            return Assessment("high", "switches the machine to single-user mode")
    if name in ("systemctl", "loginctl"):
        verbs = [a for a in args if not a.startswith("-")]
        verb = verbs[0] if verbs else ""
        if verb == "isolate" and len(verbs) > 1:
            verb = verbs[1].removesuffix(".target")
        if verb in _POWER_VERBS:
            return Assessment("hard", f"{_POWER_VERBS[verb]} the machine")
        if verb in ("rescue", "emergency"):
            return Assessment("high", f"switches the machine to {verb} mode")
        if verb in ("suspend", "hibernate", "hybrid-sleep", "suspend-then-hibernate"):
            return Assessment("medium", f"puts the machine to sleep ({verb})")
    if name == "kexec" and "-e" in args:
        return Assessment("hard", "reboots into another kernel")
    if name in _DBUS:
        return _dbus_power(name, args)
    return None


def _dbus_power(name: str, args: tuple[str, ...]) -> Assessment | None:
    """A D-Bus call to logind, systemd or ConsoleKit that powers off, reboots or sleeps
    (`dbus-send ... org.freedesktop.login1.Manager.PowerOff`, `busctl call ... Reboot`,
    `busctl call ... systemd1 ... StartUnit ss poweroff.target replace`)."""
    verb = _DBUS[name]
    words = [a for a in args if not a.startswith("-")]
    service = _POWER_SERVICES.search(" ".join(args))
    if (verb and verb not in words) or service is None:
        return None
    methods = {**_DBUS_POWER, **(_CONSOLEKIT_POWER if service.group(1) == "ConsoleKit" else {})}
    tokens = {t for a in args for t in re.split(r"[./=\s:]", a)}
    targets = [m.group(1) for a in words if (m := _TARGET.match(a))]
    hard = sorted(tokens & set(methods))
    if hard or any(t in _POWER_VERBS for t in targets):
        what = methods[hard[0]] if hard else _POWER_VERBS[targets[0]]
        return Assessment("hard", f"{what} the machine through D-Bus ({name})")
    if tokens & _DBUS_SLEEP or targets:
        return Assessment("medium", f"puts the machine to sleep through D-Bus ({name})")
    return None


def processes(cmd: Command, where: Where) -> Assessment | None:
    """kill, pkill, killall, fuser -k, tmux kill-server, screen -X quit, loginctl
    kill-user...: medium; killing init, every process or sshd: high."""
    name, args = cmd.name, cmd.args
    if name == "kill":
        if any(a in ("-l", "-L", "--list") for a in args):
            return None
        signal, rest = _signal(args)
        pids = [a for a in rest if a != "--"]
        if signal in ("0", "-0"):
            return None  # only checks that the process exists
        if not pids:  # fed by xargs: the pids come from the pipeline
            return (
                Assessment("medium", "kills the processes listed by the pipeline")
                if (cmd.piped_in or "xargs" in cmd.via)
                else None
            )
        if "1" in pids:
            return Assessment("high", "kills init (PID 1), which brings the system down")
        if "-1" in pids:
            return Assessment("high", "kills every process you are allowed to kill")
        return Assessment("medium", f"kills process {', '.join(pids)}")
    if name == "fuser" and any(re.fullmatch(r"-[a-zA-Z]*k[a-zA-Z]*|--kill", a) for a in args):
        o = scan(args, {"-n", "--namespace"})
        if o.has("-m", "--mount") and "/" in o.pos:
            return Assessment("high", "kills every process using the root file system")
        return Assessment("medium", f"kills the processes using {', '.join(o.pos) or 'a file'}")
    sent = args[args.index("-X") + 1 :][:1] if "-X" in args else ()  # screen -X COMMAND
    if name == "screen" and sent in (("quit",), ("kill",)):
        return Assessment("medium", "kills screen sessions and the programs in them")
    if name in _SESSION_KILLS:
        takes, kills, what = _SESSION_KILLS[name]
        if any(_kills(w, kills.split()) for w in _subcommands(args, frozenset(takes.split()))):
            return Assessment("medium", what)
    if name in ("pkill", "killall", "skill", "xkill", "killall5"):
        if name == "killall" and args[:1] in (("-l",), ("--list",)):
            return None
        o = scan(args, {"-s", "--signal", "-u", "--user", "-U", "-g", "-G", "-P", "-t", "-o", "-y"})
        critical = sorted(set(o.pos) & _CRITICAL)
        if name == "killall5" or critical:
            what = ", ".join(critical) or "every process"
            return Assessment("high", f"kills {what} (can take the system or remote access down)")
        targets = ", ".join(o.pos) or f"the processes of {o.get('-u', '--user') or 'a user'}"
        return Assessment("medium", f"kills {targets}")
    return None


def _subcommands(args: tuple[str, ...], takes: frozenset[str]) -> list[str]:
    """The subcommand of each command in `args` (tmux runs several, split by `;`)."""
    found: list[str] = []
    current: list[str] = []
    for word in (*args, ";"):
        if not word.endswith(";"):
            current.append(word)
            continue
        head = word.rstrip(";").removesuffix("\\")
        found += scan([*current, head] if head else current, takes, stop=True).pos[:1]
        current = []
    return found


def _kills(word: str, kills: list[str]) -> bool:
    return any(word == k or (k.endswith("-") and word.startswith(k)) for k in kills)


def cleanup(cmd: Command, where: Where) -> Assessment | None:
    """Log vacuuming and package-cache purges: routine, low."""
    real = unwrap_runner(cmd)
    name, args = real.name, real.args
    sub = args[:2]
    if name == "journalctl" and any(a.startswith("--vacuum") for a in args):
        return Assessment("low", "log cleanup: vacuums the systemd journal")
    if name == "logrotate" and any(a in ("-f", "--force") for a in args):
        return Assessment("low", "log cleanup: forces a log rotation")
    purges = {
        "apt": sub[:1] in (("clean",), ("autoclean",)),
        "apt-get": sub[:1] in (("clean",), ("autoclean",)),
        "dnf": sub[:1] == ("clean",),
        "yum": sub[:1] == ("clean",),
        "zypper": sub[:1] in (("clean",), ("cc",)),
        "pacman": any(re.fullmatch(r"-S?c+", a) or a == "-Scc" for a in args),
        "pip": sub[:1] == ("cache",) and sub[1:] in (("purge",), ("remove",)),
        "pip3": sub[:1] == ("cache",) and sub[1:] in (("purge",), ("remove",)),
        "npm": sub[:1] == ("cache",) and sub[1:] in (("clean",), ("clear",), ("rm",), ("verify",)),
        "yarn": sub == ("cache", "clean"),
        "pnpm": sub == ("store", "prune"),
        "uv": sub[:1] == ("cache",) and sub[1:] in (("clean",), ("prune",)),
        "poetry": sub == ("cache", "clear"),
        "go": sub[:1] == ("clean",) and any("cache" in a for a in args),
        "brew": sub[:1] in (("cleanup",), ("autoremove",)),
        "conda": sub[:1] == ("clean",),
        "gem": sub[:1] == ("cleanup",),
        "composer": sub[:1] in (("clear-cache",), ("clearcache",), ("cc",)),
        "ccache": any(a in ("-C", "--clear", "-c", "--cleanup") for a in args),
        "cargo": sub[:1] == ("clean",),
        "nix-collect-garbage": True,
    }
    if purges.get(name, False):
        return Assessment("low", f"cache purge ({name} {' '.join(args[:2])})".replace(" )", ")"))
    return None


MACHINE_RULES: list[Rule] = [disks, power, processes, cleanup]
