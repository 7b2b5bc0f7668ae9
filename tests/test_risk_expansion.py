"""Destroying the system is hard however it is spelled (issue 12, item 5): words
are evaluated statically as far as bash would — brace expansion, IFS and word
splitting, parameter expansion with defaults, substitutions that only print
literals, function calls with their arguments, loops, xargs/parallel input,
code fed through process substitutions and here-strings."""

from __future__ import annotations

from pathlib import Path

import pytest

from hermes.risk import Where, classify_command
from hermes.risk.expand import echo, fields, operate, printf
from hermes.risk.shell import parse

HOME = Path("/home/alice")
WHERE = Where(cwd=HOME / "workspace", home=HOME)


def risk(command: str) -> str:
    return classify_command(command, WHERE).risk


def argvs(command: str) -> list[tuple[str, ...]]:
    return [c.argv for c in parse(command).commands]


@pytest.mark.parametrize(
    "command",
    [
        "rm -rf /{etc,usr}",
        "{rm,-rf,/}",
        "ls; {rm,-rf,~}",
        "rm${IFS}-rf${IFS}/",
        "x=/;rm${IFS}-rf${IFS}$x",
        "IFS=,; cmd='rm,-rf,/'; $cmd",
        "cmd='rm -rf /'; $cmd",
        'a=(rm -rf ~); "${a[@]}"',
        "rm -rf ${HOME:-/}",
        "rm -rf ${NOPE:-/}",
        "rm -rf ${NOPE-~}",
        'rm -rf "${NOPE:=/etc}"',
        "X=rxm; ${X/x/} -rf ~",
        "X=RM; ${X,,} -rf ~",
        "X=abrm; ${X:2} -rf ~",
        "$(echo rm) -rf /",
        "`echo rm` -rf ~",
        "$(printf '%s' rm) -rf ~",
        "$(echo $(echo rm)) -rf ~",
        "$(printf '\\x72\\x6d') -rf ~",
        'f(){ rm -rf "$1"; }; f /',
        'f(){ rm -rf "$@"; }; f ~',
        'f(){ "$@"; }; f rm -rf ~',
        "function g { $1 $2 $3; }; g rm -rf ~",
        'set -- rm -rf ~; "$@"',
        "for c in rm; do $c -rf ~; done",
        "read -r c <<< 'rm -rf ~'; $c",
        "echo 'rm -rf ~' | while read -r c; do $c; done",
        "printf -v c '%s' 'rm -rf /'; $c",
        "alias x='rm -rf ~'; x",
        "echo / | xargs rm -rf",
        "xargs rm -rf <<< /",
        "echo ~ | parallel rm -rf",
        "parallel rm -rf ::: /",
        "bash <(echo 'rm -rf ~')",
        "sh < <(printf 'rm -rf ~')",
        "source <(echo 'rm -rf ~')",
        "bash <<< 'rm -rf ~'",
        "python3 <(echo 'import shutil; shutil.rmtree(\"/\")')",
        "echo '~ fr- mr' | rev | sh",
        "echo 'ql -qe ~' | tr 'a-z' 'b-za' | sh",
        'eval "$(echo rm -rf ~)"',
        "find / -exec sh -c 'rm -rf \"$1\"' _ {} \\;",  # sh -c CODE $0 $1 binds $1
        "echo / | xargs sh -c 'rm -rf \"$1\"' _",
        "printf 'rm -rf ~' | xargs -0 sh -c",  # -0: the whole input is one item
        "echo 'rm -rf ~' | xargs -I{} sh -c '{}'",
        "xargs -a <(echo /) rm -rf",
        "echo 'rm -rf ~' > /tmp/x.sh; bash /tmp/x.sh",  # a script written on the line
        "echo 'rm -rf ~' > x.sh && chmod +x x.sh && ./x.sh",
        "printf '#!/usr/bin/env python3\\nimport shutil; shutil.rmtree(\"/\")' > t.py; ./t.py",
        "echo reboot | tee r.sh; sh r.sh",
        "echo 'all:; rm -rf ~' > mk; make -f mk",
        "cp /bin/rm ./x; ./x -rf ~",  # a program under another name
        "ln -s /bin/rm /tmp/del; /tmp/del -rf ~",
        "rm -rf /e*c",  # a glob that names a system directory
        "rm -rf /???",
        "rm -rf ~+/..",  # ~+ is the working directory
        "run0 rm -rf ~",
    ],
)
def test_destruction_is_hard_however_it_is_spelled(command: str) -> None:
    assert risk(command) == "hard", classify_command(command, WHERE)


@pytest.mark.parametrize(
    ("command", "level"),
    [
        ("chmod -R 000 /", "hard"),
        ("chown -R nobody: /", "hard"),
        ("chgrp -R nobody /etc", "hard"),
        ("chmod -R 700 ~", "hard"),
        ("chmod 700 /etc", "high"),  # not recursive: one directory
        ("sudo chown -R www-data /var/www/html", "high"),
        ("chmod -R u+w build", "none"),
        ("find ~ -type f -exec shred -u {} +", "hard"),
        ("find / -xdev -type f -delete", "hard"),
        ("find ~ -mindepth 1 -delete", "hard"),
        ("find ~ -type f | xargs shred -u", "hard"),
        ("find ~ -name '*' -delete", "hard"),
        ("find ~ -name '*.bak' -delete", "medium"),  # narrowed by name
        ("find . -type f -delete", "medium"),  # every file of the workspace
    ],
)
def test_everything_below_a_root_is_recursive(command: str, level: str) -> None:
    assert risk(command) == level


@pytest.mark.parametrize(
    ("command", "level"),
    [
        ("echo $(echo rm) -rf /", "none"),  # only echoed
        ("f(){ rm -rf /; }", "none"),  # defined, never called
        ('g(){ rm -rf "$@"; }; g build', "low"),
        ('X="~/x"; rm -rf $X', "medium"),  # a quoted ~ is a name in the workspace
        ("rm -rf '~'", "medium"),
        ("$(echo rm) -rf build", "medium"),  # a program spelled by a substitution
        ('for f in *.txt; do rm "$f"; done', "medium"),
        ("for i in 1 2 3; do echo $i; done", "none"),
    ],
)
def test_what_bash_would_not_run_is_not_judged(command: str, level: str) -> None:
    assert risk(command) == level


def test_unknown_values_stay_unknown() -> None:
    assert argvs('rm -rf "$X"') == [("rm", "-rf", "$X")]
    assert argvs("rm -rf ${X:-/tmp/a}") == [("rm", "-rf", "${X:-/tmp/a}"), ("rm", "-rf", "/tmp/a")]
    assert argvs("X=$(date); rm $X")[-1] == ("rm", "$X")
    assert argvs('f(){ rm "$1"; }; f "$Y"')[-1] == ("rm", "$Y")


def test_word_splitting() -> None:
    assert fields([("a b", "split")]) == ["a", "b"]
    assert fields([("a,,b", "split")], ",") == ["a", "", "b"]
    assert fields([("x", "lit"), (" y", "split")]) == ["x", "y"]
    assert fields([("", "quoted")]) == [""]
    assert fields([("", "split")]) == []
    assert fields([("a", "value"), ("", "break"), ("b c", "value")]) == ["a", "b c"]


def test_parameter_operators() -> None:
    assert operate(None, ":-", "/") == ["/"]
    assert operate("", ":-", "/") == ["/"] and operate("", "-", "/") == [""]
    assert operate("x", ":+", "y") == ["y"] and operate(None, ":+", "y") == ["y", ""]
    assert operate("a/b/c", "#", "*/") == ["b/c"] and operate("a/b/c", "##", "*/") == ["c"]
    assert operate("f.tar.gz", "%", ".*") == ["f.tar"] and operate("f.tar.gz", "%%", ".*") == ["f"]
    assert operate("rxm", "//", "x/") == ["rm"]
    assert operate("hello", ":", "1:3") == ["ell"] and operate("hello", ":", " -2") == ["lo"]
    assert operate("Rm", ",,", "") == ["rm"]
    assert operate(None, "#", "x") is None


def test_printf_and_echo() -> None:
    assert printf(["%s-%s", "a", "b", "c"]) == "a-bc-"
    assert printf(["\\x72\\x6d"]) == "rm"
    assert printf(["%b", "\\0162"]) == "r"
    assert echo(["-n", "x"]) == "x"
    assert echo(["-e", "a\\tb"]) == "a\tb\n"


def test_loops_and_calls_stay_bounded() -> None:
    nested = "for a in 1 2 3 4 5 6 7 8; do for b in 1 2 3 4 5 6 7 8; do echo $a$b; done; done"
    assert len(parse(nested).commands) < 100
    chain = "".join(f"f{i}(){{ f{i + 1}; f{i + 1}; }}; " for i in range(30)) + "f0"
    assert parse(chain).findings  # too deep to follow: medium, not a hang
    assert risk(":(){ :|:& };:") == "hard"


@pytest.mark.parametrize(
    ("command", "level"),
    [
        ('rm -rf "${TMPDIR:-/tmp}"/pytest-of-alice', "low"),
        ('rm -rf "$TMPDIR/build"', "low"),
        ("rm -rf ${TMP}/x ${TEMP}/y", "low"),
        ('cd "$TMPDIR" && rm -rf ./*', "low"),
        ('rm -rf "$TMPDIR"', "medium"),  # the shared temp directory itself
        ('rm -rf "${TMPDIR:-/}"', "hard"),  # the default is a possible value too
        ('export TMPDIR="$X"; rm -rf "$TMPDIR"/x', "medium"),  # no longer known
        ('TMPDIR=~; rm -rf "$TMPDIR"', "hard"),
        ('unset TMPDIR; rm -rf "$TMPDIR"/etc', "medium"),
    ],
)
def test_tmpdir_is_the_temp_directory(command: str, level: str) -> None:
    assert risk(command) == level, classify_command(command, WHERE)


@pytest.mark.parametrize(
    ("command", "level"),
    [
        ("ls -A ~ | xargs -I{} rm -rf ~/{}", "hard"),
        ("ls ~ | parallel rm -rf ~/{}", "hard"),
        ("ls -1 /etc | xargs -I % rm -rf /etc/%", "hard"),
        ("cd ~ && ls -A | xargs rm -rf", "hard"),
        ("ls -d ~/* | xargs rm -rf", "hard"),
        ("ls -A ~ | xargs rm -rf", "medium"),  # bare names, removed from the cwd (the workspace)
        ("ls ./build | xargs -I{} rm -rf ./build/{}", "low"),
        ("ls ~/Documents | xargs -I{} mv ~/Documents/{} /tmp/", "medium"),
        ("ls | xargs wc -l", "none"),
    ],
)
def test_a_listing_feeds_xargs_the_names_in_a_directory(command: str, level: str) -> None:
    assert risk(command) == level, classify_command(command, WHERE)


def test_listed_names_are_bare_unless_ls_is_given_paths() -> None:
    assert argvs("ls -A ~ | xargs -I{} rm -rf ~/{}")[-1] == ("rm", "-rf", "~/*")
    assert argvs("ls -la /srv | xargs rm")[-1] == ("rm", "*")
    assert argvs("ls -d /etc /usr | xargs rm -rf")[-1] == ("rm", "-rf", "/etc", "/usr")
    assert argvs("ls ~/x* | xargs rm")[-1] == ("rm", "~/x*", "*")
