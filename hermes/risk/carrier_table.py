"""The carriers table: programs that run code given in their arguments.

Each entry says which of a program's options take a value (so its own words
are told apart), which carry code and in what language, what its remaining
words are (a command, shell code, the program text of a small language), and
in what language it reads code from its standard input. hermes/risk/carriers.py
reads any entry with one generic step.

Languages: "sh" (shell code, or a command given as one string), "fed" (a
command the program feeds data to: a pager, tar's --to-command), "argv" (the
words are a command), "rest" (an option after which every word is the
command), "file:LANG" (a file of LANG code: read when it is `<(...)` or
standard input), "hidden" (code the gate cannot see: at least medium), and the
languages hermes/risk/languages.py reads.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

_NONE: Mapping[str, str] = {}


@dataclass(frozen=True)
class Carrier:
    takes: frozenset[str] = frozenset()  # options that take a value (next word, or glued/`=`)
    code: Mapping[str, str] = field(default_factory=lambda: _NONE)  # option -> language
    rest: str | None = None  # the words after the options and `own` positionals
    own: int = 0  # leading positionals that are the program's own (sg GROUP, faketime TIME)
    program: str | None = None  # language of the first positional when no option gave code
    stdin: str | None = None  # language of code read from stdin when nothing else gives code
    no_stdin: frozenset[str] = frozenset()  # options that stop it reading code from stdin
    glued: frozenset[str] = frozenset()  # short options whose optional value is only glued
    dash_long: bool = False  # single-dash words are whole option names (gdb -ex, pwsh -Command)
    keep: bool = True  # the program's own action is judged too (tar writes, rsync copies)


def _c(
    takes: str = "",
    code: Mapping[str, str] = _NONE,
    *,
    rest: str | None = None,
    own: int = 0,
    program: str | None = None,
    stdin: str | None = None,
    no_stdin: str = "",
    glued: str = "",
    dash_long: bool = False,
    keep: bool = True,
) -> Carrier:
    return Carrier(
        frozenset(takes.split()),
        code,
        rest,
        own,
        program,
        stdin,
        frozenset(no_stdin.split()),
        frozenset(glued.split()),
        dash_long,
        keep,
    )


def _runner(takes: str = "", own: int = 0, code: Mapping[str, str] = _NONE) -> Carrier:
    """A program whose remaining words are a command it runs (like sudo)."""
    return _c(takes, code, rest="argv", own=own, keep=False)


_SH = "sh"
_VIM = _c(
    "-c --cmd -S -u -U -i -T -t -q -w -W -r --servername --remote --remote-send "
    "--remote-expr --startuptime",
    {"-c": "ex", "--cmd": "ex", "-S": "file:ex", "-u": "file:ex", "--remote-send": "hidden",
     "--remote-expr": "hidden"},
)  # fmt: skip
_INTERPRETERS = {
    "lua": _c("-l", {"-e": "lua"}, stdin="lua"),
    "Rscript": _c("", {"-e": "r", "--expr": "r"}),
    "R": _c("-f --file", {"-e": "r", "-f": "file:r", "--file": "file:r"}, stdin="r"),
    "julia": _c(
        "-L --load -J --sysimage -p --procs -t --threads --project",
        {"-e": "julia", "--eval": "julia", "-E": "julia", "--print": "julia"},
        stdin="julia",
    ),
    "osascript": _c("-l -s", {"-e": "applescript"}, stdin="applescript"),
    "tclsh": _c("-encoding", stdin="tcl"),
    "expect": _c("-b -i", {"-c": "tcl", "-f": "file:tcl"}, stdin="tcl"),
    "pwsh": _c(
        "-ExecutionPolicy -ex -ep -WorkingDirectory -wd -ConfigurationName -OutputFormat -of "
        "-InputFormat -if -WindowStyle -SettingsFile -CustomPipeName",
        {"-Command": "powershell", "-c": "powershell", "-EncodedCommand": "hidden", "-e": "hidden",
         "-ec": "hidden", "-File": "file:powershell", "-f": "file:powershell"},
        program="file:powershell", dash_long=True, stdin="powershell",
    ),
    "gdb": _c(
        "-x -ex -iex -ix -p -pid -c -core -cd -d -directory -s -symbols -e -exec",
        {"-ex": "gdb", "-iex": "gdb", "-eval-command": "gdb", "-x": "file:gdb",
         "-ix": "file:gdb", "-command": "file:gdb", "--args": "rest"},
        dash_long=True,
    ),
    "sqlite3": _c(
        "-init -separator -nullvalue -newline -cmd -vfs -maxsize -mmap -pagecache -lookaside",
        {"-cmd": "sqlclient", "-init": "file:sqlclient"}, rest="sqlclient", own=1,
        dash_long=True, stdin="sqlclient",
    ),
    "psql": _c(
        "-h -p -U -d -f -o -v -P -T -F -R -L --host --port --username --dbname --set --variable "
        "--file --output --log-file",
        {"-c": "sqlclient", "--command": "sqlclient", "-f": "file:sqlclient",
         "--file": "file:sqlclient"}, stdin="sqlclient", own=2,
    ),
    "mysql": _c(
        "-h -P -u -D -S --host --port --user --database --socket --init-command",
        {"-e": "sqlclient", "--execute": "sqlclient"}, stdin="sqlclient", glued="-p", own=1,
    ),
    "crontab": _c("-u", stdin="crontab", no_stdin="-l -r -e -T -n -c"),
}  # fmt: skip
_INTERPRETERS["bun"] = _c("", {"-e": "node", "--eval": "node", "-p": "node", "--print": "node"})
_INTERPRETERS["powershell"] = _INTERPRETERS["pwsh"]
_INTERPRETERS["wish"] = _INTERPRETERS["tclsh"]
_INTERPRETERS["luajit"] = _INTERPRETERS["lua"]
_INTERPRETERS["mariadb"] = _INTERPRETERS["mysql"]

TABLE: dict[str, Carrier] = {
    **_INTERPRETERS,
    # small languages whose program text is the first word
    "awk": _c(
        "-F -v -f -i -l --field-separator --assign --file --include --load",
        {"-f": "file:awk", "--file": "file:awk", "-e": "awk", "--source": "awk"},
        program="awk",
    ),
    "sed": _c(
        "-e -f -l --expression --file --line-length",
        {"-e": "sed", "--expression": "sed", "-f": "file:sed", "--file": "file:sed"},
        program="sed",
        glued="-i",
    ),
    "make": _c(
        "-C -I -j -l -o -W -E --directory --include-dir --jobs --load-average --old-file "
        "--what-if --assume-new --assume-old --new-file",
        {
            "--eval": "make",
            "-E": "make",
            "-f": "file:make",
            "--file": "file:make",
            "--makefile": "file:make",
        },
    ),
    "vim": _VIM,
    "vi": _VIM,
    "nvim": _VIM,
    "ex": _VIM,
    "view": _VIM,
    "vimdiff": _VIM,
    "gvim": _VIM,
    "rvim": _VIM,
    "evim": _VIM,
    # programs with options that run commands
    "tar": _c(
        "-f -C -b -H -K -L -N -T -X -g -V --file --directory --exclude --files-from --format "
        "--owner --group --mode --mtime --newer --transform --xform --blocking-factor "
        "--label --listed-incremental --suffix --strip-components",
        {
            "--to-command": "fed",
            "--checkpoint-action": "tar-action",
            "-I": "fed",
            "--use-compress-program": "fed",
            "-F": _SH,
            "--info-script": _SH,
            "--new-volume-script": _SH,
            "--rsh-command": _SH,
            "--rmt-command": _SH,
        },
    ),
    "rsync": _c(
        "--exclude --include --filter -f --backup-dir --temp-dir -T --compare-dest --link-dest "
        "--copy-dest --chmod --chown --usermap --groupmap --partial-dir --files-from "
        "--exclude-from --include-from --password-file --log-file --port --address",
        {"-e": _SH, "--rsh": _SH, "--rsync-path": _SH},
    ),
    "zip": _c(
        "-b -n -t -tt -P -x -i -O --temp-path --password",
        {"-TT": _SH, "--unzip-command": _SH},
        dash_long=True,
    ),
    "man": _c("-M -S -s -m -L -C -E -R", {"-P": "fed", "--pager": "fed", "-H": _SH, "--html": _SH}),
    "script": _c(
        "-E -I -O -B -T -m --echo --log-in --log-out --log-io --log-timing",
        {"-c": _SH, "--command": _SH},
    ),
    "at": _c("-q -t", {"-f": "file:sh"}, stdin=_SH, no_stdin="-l -r -d -c -V -f", own=9),
    "batch": _c("-q", {"-f": "file:sh"}, stdin=_SH, no_stdin="-f -V", own=9),
    "nix-shell": _c("-p -A -I --arg --argstr -E", {"--run": _SH, "--command": _SH}),
    # generic runners: the rest of the words is a command
    "unshare": _runner(
        "-S -G -R -w --setuid --setgid --root --wd --propagation --map-user "
        "--map-group --map-users --map-groups"
    ),
    "nsenter": _runner("-t -S -G --target --setuid --setgid"),
    "setpriv": _runner(
        "--reuid --regid --ruid --rgid --euid --egid --groups --inh-caps "
        "--ambient-caps --bounding-set --securebits --selinux-label "
        "--apparmor-profile --pdeathsig --landlock-access --landlock-rule"
    ),
    "chrt": _runner("", own=1),
    "prlimit": _runner("-p --pid -o --output"),
    "firejail": _runner("--profile --name --private --net --ip --dns --whitelist --blacklist"),
    "sg": _c("", {"-c": _SH}, rest=_SH, own=1, keep=False),
    "faketime": _runner("-m -p -o", own=1),
    "torsocks": _runner("-u -p -a -P"),
    "proxychains": _runner("-f"),
    "proxychains4": _runner("-f"),
    "dbus-launch": _runner("--config-file --autolaunch"),
    "dbus-run-session": _runner("--config-file --dbus-daemon"),
    "ssh-agent": _runner("-a -E -t -P -O"),
    "cgexec": _runner("-g"),
    "numactl": _runner(
        "-N -m -C -p -i -P --cpunodebind --membind --physcpubind --preferred --interleave"
    ),
    "setarch": _runner("", own=1),
    "linux32": _runner(),
    "linux64": _runner(),
    "fakeroot": _runner("-l -s -i --lib --faked"),
    "proot": _runner("-r -b -w -q --rootfs --bind --cwd --qemu"),
    "systemd-nspawn": _runner(
        "-D -M -u -E --directory --machine --user --setenv --bind --chdir --image"
    ),
    "valgrind": _runner("--tool --log-file"),
    "ltrace": _runner("-o -e -p -u -s -n"),
    "chronic": _runner(),
    "eatmydata": _runner(),
    "nocache": _runner(),
    "catchsegv": _runner(),
    "caffeinate": _runner("-t -w"),
    "cpulimit": _runner("-l -p -e --limit --pid --exe"),
    "trickle": _runner("-d -u -w -t -l -n"),
    "chpst": _runner("-u -U -b -e -/ -n -l -L -m -d -o -p -f -c"),
    "setuidgid": _runner("", own=1),
    "s6-setuidgid": _runner("", own=1),
    "daemonize": _runner("-a -c -e -E -o -p -l -u"),
    "retry": _runner("-t -s -m -x --times --delay --min --max"),
    "flatpak-spawn": _runner("--env --directory --forward-fd"),
    "xterm": _c(
        "-geometry -fn -bg -fg -title -T -n -class -name",
        {"-e": "rest"},
        dash_long=True,
        keep=False,
    ),
    "uxterm": _c("-geometry -title -T", {"-e": "rest"}, dash_long=True, keep=False),
    "urxvt": _c("-geometry -title -T", {"-e": "rest"}, dash_long=True, keep=False),
    "konsole": _c("--workdir -p --profile", {"-e": "rest"}, keep=False),
    "x-terminal-emulator": _c("-T --title", {"-e": "rest"}, keep=False),
    "alacritty": _c(
        "--working-directory -T --title --class --config-file",
        {"-e": "rest", "--command": "rest"},
        keep=False,
    ),
    "kitty": _runner("-T --title -d --directory --class --name -c --config -o --override"),
    "gnome-terminal": _c(
        "--working-directory -t --title --profile",
        {"-e": _SH, "--command": _SH, "-x": "rest", "--execute": "rest"},
        rest="argv",
        keep=False,
    ),
    "xfce4-terminal": _c(
        "--working-directory -T --title",
        {"-e": _SH, "--command": _SH, "-x": "rest", "--execute": "rest"},
        keep=False,
    ),
    "terminator": _c(
        "-T --title -p --profile",
        {"-e": _SH, "--command": _SH, "-x": "rest", "--execute": "rest"},
        keep=False,
    ),
    "st": _c("-t -T -c -n -w -f -g", {"-e": "rest"}, keep=False),
}
# a program and its subcommand that runs the rest of the words: its syntax
SUBCOMMAND_RUNNERS: dict[tuple[str, str], Carrier] = {
    ("uv", "run"): _runner(
        "--with --python -p --project --directory --package --extra --group --env-file"
    ),
    ("poetry", "run"): _runner("-C --directory -P --project"),
    ("pipenv", "run"): _runner(),
    ("pdm", "run"): _runner("-p --project"),
    ("hatch", "run"): _runner("-e --env"),
    ("rye", "run"): _runner(),
    ("conda", "run"): _runner("-n --name -p --prefix --cwd"),
    ("mamba", "run"): _runner("-n --name -p --prefix --cwd"),
    ("micromamba", "run"): _runner("-n --name -p --prefix --cwd"),
    ("bundle", "exec"): _runner("--gemfile"),
    ("pnpm", "exec"): _runner("-C --dir --filter"),
    ("npm", "exec"): _runner("-w --workspace --package", code={"-c": _SH, "--call": _SH}),
    ("yarn", "exec"): _runner(),
    ("asdf", "exec"): _runner(),
    ("rbenv", "exec"): _runner(),
    ("pyenv", "exec"): _runner(),
    ("fnm", "exec"): _runner("--using"),
    ("nvm", "exec"): _runner("", own=1),
    ("volta", "run"): _runner("--node --npm --yarn"),
    ("op", "run"): _runner("--env-file"),
    ("aws-vault", "exec"): _runner("-d --duration --region", own=1),
    ("direnv", "exec"): _runner("", own=1),
    ("nix", "develop"): _runner("", code={"-c": "rest", "--command": "rest"}),
    ("toolbox", "run"): _runner("-c --container"),
    ("deno", "eval"): _c("", program="node"),
    ("doppler", "run"): _runner("-p -c --project --config", code={"--command": _SH}),
}
