"""Reading a command's words, redirections and here-documents off the bash syntax tree.

A word is unquoted the way bash does it (hermes/risk/words.py) and expanded as
far as its value is known statically (hermes/risk/expand.py): variables the
same command line set to literals (`X=/; rm -rf $X`), `IFS` (default or set)
and word splitting of unquoted expansions, `${X:-default}` (an unknown X makes
the default a possible value), positional parameters bound by a function call,
and `$(...)` whose output is literal. What stays unknown (`$X`, `$(cmd)`) is
kept as written and marks the word dynamic. Substitutions inside words are
walked as commands too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from tree_sitter import Node

from hermes.risk import expand, words
from hermes.risk.expand import DEFAULT_IFS, Seg
from hermes.risk.model import Assessment, Command, Container
from hermes.risk.places import TEMP_VARS

MAX_NESTING = 12  # code within code: $(...), bash -c, eval, wrappers, function calls
TOO_DEEP = Assessment("medium", "too deeply nested to check")
Redirect = tuple[str, str]
Value = str | list[str]
_FD_DUP = frozenset({">&", "<&"})
_SET_ONLY = frozenset({"HOME", "PWD", "HERMES_HOME"})  # always set; paths.py knows their values
_MAX_ALTS = 4


@dataclass
class Script:
    """What a command line runs: its commands and the findings that are not commands."""

    commands: list[Command] = field(default_factory=list)
    findings: list[Assessment] = field(default_factory=list)
    # literal text a command reads on stdin (a here-document, `echo ... | psql`)
    inputs: list[tuple[Command, str]] = field(default_factory=list)


@dataclass(frozen=True)
class Ctx:
    via: tuple[str, ...] = ()
    nesting: int = 0
    level: int = 0
    piped_in: bool = False
    redirects: tuple[Redirect, ...] = ()
    stdin: tuple[str, ...] = ()  # here-documents and here-strings given to the command
    items: tuple[str, ...] = ()  # what xargs/parallel read, when known (`find DIR | xargs rm`)
    piped: str | None = None  # the literal text piped into the command, when known
    container: Container | None = None  # the commands run inside this container


@dataclass
class Word:
    texts: list[str]  # the fields it expands to (several after brace expansion or splitting)
    dynamic: bool
    subs: list[Command]  # the commands of its substitutions
    alts: list[list[str]] = field(default_factory=list)  # other possible expansions
    computed: bool = False  # holds the output of a command substitution


@dataclass
class _Acc:
    segs: list[Seg] = field(default_factory=list)
    alts: list[tuple[int, Seg]] = field(default_factory=list)  # (segment, another possible value)
    dynamic: bool = False
    computed: bool = False


def nested(ctx: Ctx, *via: str) -> Ctx:
    return Ctx(ctx.via + via, ctx.nesting + 1, ctx.level, container=ctx.container)


class WordReader:
    """The word-reading half of the walker; `node` and `words` are the walker's."""

    def __init__(self) -> None:
        self.out = Script()
        self.vars: dict[str, Value] = {"IFS": DEFAULT_IFS}  # literal assignments seen so far
        self.params: list[str] | None = None  # $1.. when bound (a function call, `set --`)
        self.procsubs: dict[str, list[Command]] = {}  # `<(cmd)` as written -> its commands
        self.procsub_text: dict[str, str] = {}  # `<(cmd)` as written -> its literal output
        self.outputs: dict[int, str] = {}  # id of a statement node -> its literal output
        self.forgotten: set[str] = set()  # variables set on the line to what is not known

    def forget(self, name: str) -> None:
        """`name` was set (or unset) on the line to a value not known statically."""
        self.vars.pop(name, None)
        self.forgotten.add(name)

    def node(self, n: Node, ctx: Ctx) -> None:
        raise NotImplementedError

    def words(self, found: list[Word], ctx: Ctx) -> Command | None:
        raise NotImplementedError

    def children(self, n: Node, ctx: Ctx) -> None:
        for child in n.named_children:
            self.node(child, ctx)

    def ifs(self) -> str:
        value = self.vars.get("IFS", DEFAULT_IFS)
        return value if isinstance(value, str) else DEFAULT_IFS

    def word(self, n: Node, ctx: Ctx, *, split: bool = True) -> Word:
        start = len(self.out.commands)
        acc = _Acc()
        self.text(n, ctx, acc, False)
        source = words.text(n.text)
        braces = n.type == "concatenation" and any(c.text == b"{" for c in n.named_children)

        def expanded(segs: list[Seg]) -> list[str]:
            found = expand.fields(segs, self.ifs()) if split else [expand.joined(segs)]
            first = next((how for text, how in segs if text), "lit")
            literal = first not in ("split", "value")  # a value keeps the ~ it was given
            if found and found[0].startswith("~") and literal and not source.startswith("~"):
                found[0] = "./" + found[0]  # a quoted or escaped ~ is a name in the cwd
            if braces:
                found = [t for f in found for t in words.braces(f)]
            return found

        alts = []
        for index, seg in acc.alts[:_MAX_ALTS]:
            alts.append(expanded([*acc.segs[:index], seg, *acc.segs[index + 1 :]]))
        subs = self.out.commands[start:]
        return Word(expanded(acc.segs), acc.dynamic, subs, alts, acc.computed)

    def text(self, n: Node, ctx: Ctx, acc: _Acc, quoted: bool) -> None:
        """Add the segments of word node `n` to `acc`; what is unknown at this
        point (`$X`, `$(cmd)`) is kept as written and makes the word dynamic."""
        kind, raw = n.type, words.text(n.text)
        how = "quoted" if quoted else "lit"
        if kind == "word":
            acc.segs.append((words.unquoted(raw) if not quoted else raw, how))
        elif kind == "raw_string":
            acc.segs.append((raw[1:-1], "quoted"))
        elif kind == "ansi_c_string":
            acc.segs.append((words.ansi_c(raw[2:-1]), "quoted"))
        elif kind in ("string", "translated_string"):
            self.quoted(n, ctx, acc)
        elif kind == "concatenation":
            for c in n.named_children:
                self.text(c, ctx, acc, quoted)
        elif kind in ("simple_expansion", "expansion"):
            self.expansion(n, ctx, acc, quoted)
        elif kind == "command_substitution":
            self.node(n, ctx)
            value = self.substituted(n)
            acc.computed = True
            if value is None:
                acc.segs.append((raw, how))
                acc.dynamic = True
            else:
                acc.segs.append((value, "value" if quoted else "split"))
        else:
            start = len(self.out.commands)
            self.node(n, ctx)
            if kind == "process_substitution":
                self.procsubs[raw] = self.out.commands[start:]
                body = [c for c in n.named_children if c.type != "comment"]
                if len(body) == 1 and body[0].id in self.outputs:
                    self.procsub_text[raw] = self.outputs[body[0].id]
            acc.segs.append((raw, how))
            acc.dynamic |= kind in ("process_substitution", "arithmetic_expansion")

    def substituted(self, n: Node) -> str | None:
        """The value of `$(...)`/backticks whose body prints only literal text."""
        body = [c for c in n.named_children if c.type != "comment"]
        if len(body) != 1 or body[0].id not in self.outputs:
            return None
        return self.outputs[body[0].id].rstrip("\n")

    def quoted(self, n: Node, ctx: Ctx, acc: _Acc) -> None:
        """A double-quoted string: text between the parts is taken from the source."""
        source, base = n.text or b"", n.start_byte
        pos = source.index(b'"') + 1 if b'"' in source else 0
        acc.segs.append(("", "quoted"))  # "" is a word of its own
        for c in n.named_children:
            if c.type == "string_content":
                continue
            acc.segs.append(
                (words.double_quoted(words.text(source[pos : c.start_byte - base])), "quoted")
            )
            self.text(c, ctx, acc, True)
            pos = c.end_byte - base
        acc.segs.append((words.double_quoted(words.text(source[pos : len(source) - 1])), "quoted"))

    # parameter expansion

    def lookup(self, name: str) -> Value | None:
        """A variable's value when known: a literal assignment, a positional parameter."""
        if name.isdigit() and name != "0":
            if self.params is None:
                return None
            i = int(name) - 1
            return self.params[i] if i < len(self.params) else ""
        if name in ("@", "*"):
            return None if self.params is None else list(self.params)
        if name == "#":
            return None if self.params is None else str(len(self.params))
        return self.vars.get(name)

    def expansion(self, n: Node, ctx: Ctx, acc: _Acc, quoted: bool) -> None:
        raw = words.text(n.text)
        how = "value" if quoted else "split"
        name, index, op, prefix = "", None, "", ""
        arg_nodes: list[Node] = []
        parts = n.children[:-1] if n.children and n.children[-1].type == "}" else n.children
        for c in parts:
            t = words.text(c.text)
            if op:
                arg_nodes.append(c)
            elif c.type in ("variable_name", "special_variable_name") and not name:
                name = t
            elif c.type == "subscript" and not name:
                var = next((x for x in c.named_children if x.type == "variable_name"), None)
                name = words.text(var.text) if var is not None else ""
                idx = c.named_children[-1] if len(c.named_children) > 1 else None
                index = words.text(idx.text) if idx is not None else ""
            elif not name and c.type in ("#", "!"):
                prefix = c.type
            elif name and not c.is_named and t not in ("${", "$"):
                op = t
        arg, arg_known = self._argument(arg_nodes, ctx)
        value = self.lookup(name)
        if index is not None:
            value = _element(value, index)
        if prefix == "!" and isinstance(value, str):
            value = self.lookup(value)
        elif prefix == "!":
            value = None
        if prefix == "#" and value is not None:
            value = str(len(value))
        if value is None and name in TEMP_VARS and not prefix and index is None:
            return self.temp_dir(name, op, arg, how, acc)
        if op in (":-", "-", ":=", "=") and value is None:  # unknown: the default may be the value
            if name in _SET_ONLY:
                acc.segs.append(("$" + name, "lit"))
            else:
                acc.alts.append((len(acc.segs), (arg, how)))
                acc.segs.append((raw, "lit"))
            acc.dynamic = True
            return
        if op and arg_known:
            if isinstance(value, list):
                value = " ".join(value)
            results = expand.operate(value, op, arg)
            if results is not None:
                acc.alts.extend((len(acc.segs), (r, how)) for r in results[1:])
                acc.segs.append((results[0], how))
                return
        elif not op and value is not None:
            if isinstance(value, list):
                joined = name in ("*",) or index == "*"
                if quoted and joined:
                    acc.segs.append((self.ifs()[:1].join(value), "value"))
                else:
                    for i, item in enumerate(value):
                        if i:
                            acc.segs.append(("", "break"))
                        acc.segs.append((item, how))
                return
            acc.segs.append((value, how))
            return
        acc.segs.append((raw, "lit" if not quoted else "quoted"))
        acc.dynamic = True

    def temp_dir(self, name: str, op: str, arg: str, how: str, acc: _Acc) -> None:
        """`$TMPDIR`, `${TMPDIR:-/tmp}`: the temp directory (paths.py knows it as such),
        the default a possible value too; set on the line to something unknown, unknown."""
        acc.dynamic = True
        known = name not in self.forgotten and op in ("", ":-", "-", ":=", "=")
        if known and op:
            acc.alts.append((len(acc.segs), (arg, how)))
        acc.segs.append(("$" + name if known else f"${{{name}:?}}", "lit"))  # `:?`: unknown

    def _argument(self, nodes: list[Node], ctx: Ctx) -> tuple[str, bool]:
        """The operand of an expansion operator (`${X:-THIS}`), expanded (its substitutions run)."""
        sub = _Acc()
        for c in nodes:
            if c.type in ("regex", "number") or not c.is_named:
                sub.segs.append((words.text(c.text), "quoted"))
            else:
                self.text(c, ctx, sub, True)
        return expand.joined(sub.segs), not sub.dynamic

    def redirect(
        self, n: Node, ctx: Ctx, redirects: list[Redirect], stdin: list[str], tail: list[Node]
    ) -> None:
        """Collect a redirection's target or here-document; `tail` gets what the
        grammar nests inside a here-document redirect (`cat <<EOF | sh`)."""
        if n.type == "file_redirect":
            op = next((words.text(c.text) for c in n.children if not c.is_named), ">")
            dests = n.children_by_field_name("destination")
            if dests and not (op in _FD_DUP and dests[0].type == "number"):
                texts = self.word(dests[0], ctx).texts
                redirects.append((op, texts[0] if texts else ""))
            if more := dests[1:]:  # `cat <<EOF > f; rm x`: the grammar files the next command here
                self.words([self.word(d, ctx) for d in more], nested(ctx))
        elif n.type == "herestring_redirect":
            stdin.extend(
                t + "\n" for c in n.named_children for t in self.word(c, ctx, split=False).texts
            )
        elif n.type == "heredoc_redirect":
            for c in n.named_children:
                if c.type == "heredoc_body":
                    stdin.append(words.text(c.text))
                    start = next((x for x in n.named_children if x.type == "heredoc_start"), None)
                    if start is None or not re.search(rb"['\"\\]", start.text or b""):
                        self.children(c, ctx)  # unquoted delimiter: $(...) in the body runs
                elif c.type.endswith("redirect"):
                    self.redirect(c, ctx, redirects, stdin, tail)
                elif c.type not in ("heredoc_start", "heredoc_end"):
                    tail.append(c)


def _element(value: Value | None, index: str) -> Value | None:
    if value is None:
        return None
    items = value if isinstance(value, list) else [value]
    if index in ("@", "*"):
        return list(items)
    if index.isdigit():
        i = int(index)
        return items[i] if i < len(items) else ""
    return None
