"""Programs that write a file named by an option, or rewrite their operands in place.

`sort -o FILE`, `curl -o FILE`, `wget -O FILE`, `openssl ... -out FILE`,
`yq -i EXPR FILE`, `xmlstarlet ed -L ... FILE`, `gawk -i inplace`, `sponge
FILE`, `uniq IN OUT`, `dos2unix FILE`, `gzip FILE` (replaced by FILE.gz)
overwrite what is there as surely as `> FILE` does. `WRITERS` describes each
program's syntax once: the options whose value is a file it writes, the flags
that make it rewrite its file operands, which operand is its output;
`targets()` reads a command with it, and system_rules.writes judges each file
like the target of a redirection. (`jq` and `tac` only print.)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePosixPath

from hermes.risk.options import scan


@dataclass(frozen=True)
class Writer:
    outputs: frozenset[str] = frozenset()  # options whose value is a file it writes over
    takes: frozenset[str] = frozenset()  # its other options that take a value
    pairs: frozenset[str] = frozenset()  # options that take two values (`--arg NAME VALUE`)
    inplace: frozenset[str] = frozenset()  # flags (or `OPT=VALUE`) that rewrite the operands
    always: bool = False  # rewrites its operands unless a `keeps` flag is given
    keeps: frozenset[str] = frozenset()  # flags that leave the operands alone (gzip -c, -k)
    appends: frozenset[str] = frozenset()  # flags that append instead (sponge -a)
    nth: int | None = None  # the operand that is its output file (`uniq IN OUT`: 1)
    expression: frozenset[str] = frozenset()  # the first operand is code unless these give it
    subcommands: frozenset[str] = frozenset()  # a leading word that is a subcommand (yq eval)
    required: bool = False  # it writes only under one of `subcommands` (xmlstarlet ed)
    newfile: frozenset[str] = frozenset()  # operands come as IN OUT pairs (dos2unix -n)
    dash_long: bool = False  # single-dash words are whole option names (openssl -out)


def _w(outputs: str = "", takes: str = "", **kw: object) -> Writer:
    sets = {k: frozenset(str(v).split()) for k, v in kw.items() if isinstance(v, str)}
    rest = {k: v for k, v in kw.items() if not isinstance(v, str)}
    return Writer(frozenset(outputs.split()), frozenset(takes.split()), **sets, **rest)  # type: ignore[arg-type]


_CURL_TAKES = (
    "-H --header -d --data --data-binary --data-raw --data-urlencode --json -X --request -u "
    "--user -A --user-agent -e --referer -b --cookie -F --form -T --upload-file -w --write-out "
    "-m --max-time --connect-timeout -x --proxy -r --range -C --continue-at -K --config "
    "--output-dir --cacert --cert --key -E --resolve --retry -y -Y -z --limit-rate --url -Q "
    "--quote --interface"
)
_WGET_TAKES = (
    "-P --directory-prefix -U --user-agent --header -e --execute -i --input-file -t --tries -T "
    "--timeout -w --wait --post-data --post-file --user --password -Q --quota -l --level -A "
    "--accept -R --reject -D --domains -X -I --load-cookies --ca-certificate --certificate "
    "--private-key --method --body-data -B --base --limit-rate --referer --bind-address"
)
_COMPRESS = _w(always=True, keeps="-c --stdout --to-stdout -k --keep -l --list -t --test",
               takes="-S --suffix -T --threads -F --format -C --check -M --memlimit")  # fmt: skip
_TO_UNIX = _w(always=True, newfile="-n --newfile", keeps="-i --info", takes="-c --convmode")
_CC = _w("-o", "-I -L -l -D -U -x -include -isystem -MF -MT -MQ", dash_long=True)
_AWK = _w(
    "",
    "-F -v -f -i -l -e --field-separator --assign --file --include --load --source",
    inplace="-i=inplace --include=inplace",
    expression="-f --file -e --source",
)

WRITERS: dict[str, Writer] = {
    "sort": _w("-o --output", "-k --key -t --field-separator -S --buffer-size -T "
               "--temporary-directory --parallel --files0-from --batch-size --compress-program "
               "--random-source --sort"),
    "shuf": _w("-o --output", "-n --head-count -i --input-range --random-source"),
    "iconv": _w("-o --output", "-f --from-code -t --to-code"),
    "uniq": _w("", "-f --skip-fields -s --skip-chars -w --check-chars", nth=1),
    "xxd": _w("", "-c -g -l -o -s -n -cols -len -seek", nth=1),
    "sponge": _w(nth=0, appends="-a"),
    "curl": _w("-o --output -c --cookie-jar -D --dump-header --trace --trace-ascii --stderr "
               "--libcurl", _CURL_TAKES),
    "wget": _w("-O --output-document -o --output-file --save-cookies", _WGET_TAKES),
    "openssl": _w("-out -keyout", dash_long=True),
    "gpg": _w("-o --output", "-r --recipient -u --local-user --homedir -z --compress-level"),
    "gpg2": _w("-o --output", "-r --recipient -u --local-user --homedir -z --compress-level"),
    "pandoc": _w("-o --output", "-f -r --from --read -t -w --to --write --template -V "
                 "--variable -M --metadata -F --filter -L --lua-filter -H -B -A -c --css "
                 "--reference-doc --data-dir --metadata-file -d --defaults --pdf-engine"),
    "pg_dump": _w("-f --file", "-h --host -p --port -U --username -d --dbname -n -N -t -T -F "
                  "-Z -j -E -S"),
    "pg_dumpall": _w("-f --file", "-h --host -p --port -U --username -d --dbname"),
    "mysqldump": _w("-r --result-file", "-h --host -P --port -u --user -S --socket"),
    "yq": _w("", "-o --output-format -p --input-format -I --indent --from-file --front-matter "
             "--expression", pairs="--arg --argjson --slurpfile --rawfile",
             inplace="-i --inplace --in-place", expression="--from-file",
             subcommands="eval e eval-all ea"),
    "xmlstarlet": _w("", "-N -d --delete -u --update -v --value -x --expr -t --type -n --name "
                     "-i --insert -a --append -s --subnode -r --rename",
                     pairs="-m --move --var", inplace="-L --inplace", subcommands="ed edit",
                     required=True),
    "awk": _AWK, "gawk": _AWK,
    "dos2unix": _TO_UNIX, "unix2dos": _TO_UNIX, "mac2unix": _TO_UNIX, "unix2mac": _TO_UNIX,
    "gzip": _COMPRESS, "gunzip": _COMPRESS, "bzip2": _COMPRESS, "bunzip2": _COMPRESS,
    "xz": _COMPRESS, "unxz": _COMPRESS, "lzma": _COMPRESS, "unlzma": _COMPRESS,
    "compress": _COMPRESS, "uncompress": _COMPRESS, "pigz": _COMPRESS, "unpigz": _COMPRESS,
    "zstd": _w("-o", "-T -D --format", inplace="--rm", keeps="-c --stdout -l --list -t --test"),
    "cc": _CC, "gcc": _CC, "g++": _CC, "c++": _CC, "clang": _CC, "clang++": _CC,
}  # fmt: skip
_DIR_OPTS = ("--output-dir",)  # curl: `-o NAME` is written inside this directory


def _flagged(o_flags: tuple[tuple[str, str | None], ...], names: frozenset[str]) -> bool:
    """Whether a flag (or `OPT=VALUE` pair) of `names` was given."""
    for name, value in o_flags:
        if name in names or (value is not None and f"{name}={value}" in names):
            return True
    return False


def targets(argv: tuple[str, ...]) -> list[tuple[str, bool]]:
    """The files `argv` writes: (path, whether it replaces what is there)."""
    if not argv:
        return []
    name = PurePosixPath(argv[0]).name
    w = WRITERS.get(re.sub(r"-\d+(\.\d+)*$", "", name))  # gcc-12 is gcc
    if w is None:
        return []
    args = list(argv[1:])
    for i in range(len(args) - 3, -1, -1):  # `--arg NAME VALUE`: one option, two words
        if args[i] in w.pairs:
            args[i + 1 : i + 3] = [args[i + 1] + "=" + args[i + 2]]
    o = scan(args, w.outputs | w.takes | w.pairs, dash_long=w.dash_long)
    found: list[tuple[str, bool]] = []
    into = o.get(*_DIR_OPTS)
    for path in o.values(*w.outputs):
        if path != "-":
            found.append((f"{into}/{path}" if into and "/" not in path else path, True))
    pos = list(o.pos)
    if w.subcommands and pos[:1] and pos[0] in w.subcommands:
        pos = pos[1:]
    elif w.required:
        return found
    if w.expression and not o.has(*w.expression) and pos:
        pos = pos[1:]  # the expression or program text
    replaces = not o.has(*w.appends)
    if w.nth is not None:
        found += [(p, replaces) for p in pos[w.nth : w.nth + 1] if p != "-"]
    rewrites = _flagged(o.flags, w.inplace) or (w.always and not o.has(*w.keeps))
    if rewrites:
        files = pos[1::2] if o.has(*w.newfile) else pos
        found += [(p, True) for p in files if p != "-"]
    return found
