"""Database clients: find the SQL (or JavaScript, or Redis command) on the command
line and judge what it does.

Only what is visible in argv is judged: `psql -c`, `mysql -e`, sqlite3's
trailing arguments, `mongosh --eval`, a `redis-cli` command, ... A script fed
through a file, a heredoc or a pipe is not visible here and is not guessed at.
Also the database admin tools that drop things by themselves (`dropdb`,
`mysqladmin drop`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import urlsplit

from hermes.risk.model import Assessment, Command, Where, riskiest
from hermes.risk.nosql_text import mongo_risk, redis_risk
from hermes.risk.options import scan
from hermes.risk.sql_text import Finding, sql_risk, worst

_PG_CONN = frozenset({"-h", "--host", "-p", "--port", "-U", "--username"})
_PSQL_TAKES = _PG_CONN | {
    "-c", "--command", "-d", "--dbname", "-f", "--file", "-v", "--set", "--variable", "-o",
    "--output", "-L", "--log-file", "-F", "--field-separator", "-R", "--record-separator", "-P",
    "--pset", "-T", "--table-attr",
}  # fmt: skip
_MY_CONN = frozenset(
    {"-h", "--host", "-u", "--user", "-P", "--port", "-S", "--socket", "--default-character-set"}
)
_MYSQL_TAKES = _MY_CONN | {"-e", "--execute", "-D", "--database", "--init-command"}
_SQLITE_TAKES = frozenset(
    f"{dash}{name}"
    for dash in ("-", "--")
    for name in ("cmd", "init", "separator", "nullvalue", "newline", "vfs", "maxsize", "mmap")
)
_MONGO_TAKES = frozenset(
    {"--eval", "--host", "--port", "-u", "--username", "-p", "--password", "-f", "--file",
     "--authenticationDatabase", "--authenticationMechanism", "--tlsCAFile",
     "--tlsCertificateKeyFile", "--tlsCertificateKeyFilePassword", "--apiVersion"}
)  # fmt: skip
_REDIS_TAKES = frozenset(
    {"-h", "-p", "-s", "-a", "-u", "-r", "-i", "-n", "-d", "-D", "--user", "--pass", "--eval",
     "--pattern", "--quoted-pattern", "--count", "--cacert", "--cacertdir", "--cert", "--key",
     "--tls-ciphers", "--sni", "--rdb", "--functions-rdb", "--pipe-timeout", "--memkeys-samples"}
)  # fmt: skip
_CLICKHOUSE_TAKES = frozenset(
    {"-q", "--query", "-h", "--host", "--port", "-u", "--user", "--password", "-d",
     "--database", "--format", "-f", "--config-file", "-C", "--queries-file"}
)  # fmt: skip
_COCKROACH_TAKES = frozenset(
    {"-e", "--execute", "-d", "--database", "--url", "--host", "--port", "-p", "-u", "--user",
     "--certs-dir", "--format", "-f", "--file", "--set"}
)  # fmt: skip


def _db_name(value: str | None) -> str | None:
    """The database a connection argument names (`shop`, `postgresql://h/shop`, `dbname=shop`)."""
    if not value:
        return None
    conninfo = re.search(r"\bdbname\s*=\s*(\S+)", value)
    if conninfo:
        return conninfo.group(1)
    if "://" in value:
        return urlsplit(value).path.strip("/") or None
    return value.rpartition("/")[2] or None


def _said(found: Finding | None, tool: str, db: str | None) -> Assessment | None:
    if found is None:
        return None
    level, phrase = found
    inside = f" in {db}" if db and "database" not in phrase else ""
    return Assessment(level, f"{phrase}{inside} through {tool}")


def _sql(texts: Iterable[str], *, hash_comments: bool = False) -> Finding | None:
    return worst([sql_risk(t, hash_comments=hash_comments) for t in texts])


def _psql(args: tuple[str, ...]) -> Assessment | None:
    o = scan(args, _PSQL_TAKES)
    db = _db_name(o.get("-d", "--dbname") or (o.pos[0] if o.pos else None))
    return _said(_sql(o.values("-c", "--command")), "psql", db)


def _mysql(tool: str, args: tuple[str, ...]) -> Assessment | None:
    o = scan(args, _MYSQL_TAKES, attached={"-p"})
    db = o.get("-D", "--database") or (o.pos[0] if o.pos else None)
    return _said(_sql(o.values("-e", "--execute"), hash_comments=True), tool, db)


def _sqlite(args: tuple[str, ...]) -> Assessment | None:
    o = scan(args, _SQLITE_TAKES, dash_long=True)
    db = o.pos[0] if o.pos else None
    texts = [*o.values("-cmd", "--cmd"), *o.pos[1:]]
    return _said(_sql(texts), "sqlite3", db)


def _mongo(tool: str, args: tuple[str, ...]) -> Assessment | None:
    o = scan(args, _MONGO_TAKES)
    db = _db_name(o.pos[0]) if o.pos else None
    found = worst([mongo_risk(js, db or "the current database") for js in o.values("--eval")])
    return _said(found, tool, db)


def _redis(args: tuple[str, ...]) -> Assessment | None:
    o = scan(args, _REDIS_TAKES, stop=True)
    found = redis_risk(o.pos, o.get("-n"))
    return Assessment(found[0], f"{found[1]} through redis-cli") if found else None


def _clickhouse(args: tuple[str, ...]) -> Assessment | None:
    o = scan(args, _CLICKHOUSE_TAKES)
    return _said(_sql(o.values("-q", "--query")), "clickhouse", o.get("-d", "--database"))


def _cockroach(args: tuple[str, ...]) -> Assessment | None:
    o = scan(args, _COCKROACH_TAKES)
    db = o.get("-d", "--database") or _db_name(o.get("--url"))
    return _said(_sql(o.values("-e", "--execute")), "cockroach sql", db)


def _dropdb(tool: str, args: tuple[str, ...]) -> Assessment | None:
    o = scan(args, _PG_CONN | {"--maintenance-db"})
    if o.has("--help", "-?", "-V", "--version") or not o.pos:
        return None
    if tool == "dropuser":
        return Assessment("high", f"drops database role {o.pos[0]} through dropuser")
    return Assessment("high", f"drops database {o.pos[0]} through dropdb")


def _mysqladmin(args: tuple[str, ...]) -> Assessment | None:
    words = scan(args, _MY_CONN, attached={"-p"}).pos
    findings: list[Finding | None] = []
    for i, word in enumerate(words):
        after = words[i + 1] if i + 1 < len(words) else "?"
        if word == "drop":
            findings.append(("high", f"drops database {after}"))
        elif word in ("password", "old-password"):
            findings.append(("high", "changes the MySQL password (a credential change)"))
        elif word == "shutdown":
            findings.append(("medium", "shuts down the MySQL server"))
        elif word == "kill":
            findings.append(("medium", f"kills MySQL connections {after}"))
    found = worst(findings)
    return Assessment(found[0], f"{found[1]} through mysqladmin") if found else None


def sql_rule(cmd: Command, where: Where) -> Assessment | None:
    """Destructive or permission-changing statements run through a database client."""
    name, args = cmd.name, cmd.args
    if name == "psql":
        return _psql(args)
    if name in ("mysql", "mariadb"):
        return _mysql(name, args)
    if name in ("sqlite3", "sqlite"):
        return _sqlite(args)
    if name in ("mongosh", "mongo"):
        return _mongo(name, args)
    if name == "redis-cli":
        return _redis(args)
    if name in ("clickhouse-client", "clickhouse-local"):
        return _clickhouse(args)
    if name == "clickhouse" and args[:1] in (("client",), ("local",)):
        return _clickhouse(args[1:])
    if name == "cockroach" and args[:1] in (("sql",), ("demo",)):
        return _cockroach(args[1:])
    if name in ("dropdb", "dropuser"):
        return _dropdb(name, args)
    if name == "mysqladmin":
        return _mysqladmin(args)
    return None


_INPUT_OPTION = {
    "psql": "-c", "mysql": "-e", "mariadb": "-e", "clickhouse-client": "-q",
    "clickhouse-local": "-q", "mongosh": "--eval", "mongo": "--eval",
}  # fmt: skip


def input_rule(cmd: Command, text: str, where: Where) -> Assessment | None:
    """What a database client does with `text` on its standard input.

    A `Command` does not carry its input, but the parser knows it when it is
    literal (a here-document, `echo "DROP TABLE x" | psql`), so it asks here:
    the input is judged as if it had been given inline (`psql -c`, `mysql -e`,
    one redis-cli command per line, ...).
    """
    name, argv = cmd.name, cmd.argv
    if name == "redis-cli":
        lines = [line.split() for line in text.splitlines() if line.strip()]
        found = [a for words in lines if (a := sql_rule(Command((*argv, *words)), where))]
        return riskiest(found) if found else None
    option = _INPUT_OPTION.get(name)
    if name in ("clickhouse", "cockroach"):
        option = {"client": "-q", "local": "-q", "sql": "-e", "demo": "-e"}.get("".join(argv[1:2]))
    if option is not None:
        return sql_rule(Command((*argv, option, text)), where)
    if name in ("sqlite3", "sqlite"):
        db = () if scan(cmd.args, _SQLITE_TAKES, dash_long=True).pos else (":memory:",)
        return sql_rule(Command((*argv, *db, text)), where)
    return None
