"""Reading a command's words, redirections and here-documents off the bash syntax tree.

A word is unquoted the way bash does it (hermes/risk/words.py); what it
expands to at run time (`$X`, `$(cmd)`) stays as written and marks the word
dynamic, except variables the same command line set to a literal
(`X=/; rm -rf $X`). Substitutions inside words are walked as commands too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from tree_sitter import Node

from hermes.risk import words
from hermes.risk.model import Assessment, Command

Redirect = tuple[str, str]
_FD_DUP = frozenset({">&", "<&"})


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


@dataclass
class Word:
    texts: list[str]  # more than one after brace expansion
    dynamic: bool
    subs: list[Command]  # the commands of its substitutions


def nested(ctx: Ctx, *via: str) -> Ctx:
    return Ctx(ctx.via + via, ctx.nesting + 1, ctx.level)


class WordReader:
    """The word-reading half of the walker; `node` and `words` are the walker's."""

    def __init__(self) -> None:
        self.out = Script()
        self.vars: dict[str, str] = {}  # literal assignments seen so far
        self.procsubs: dict[str, list[Command]] = {}  # `<(cmd)` as written -> its commands

    def node(self, n: Node, ctx: Ctx) -> None:
        raise NotImplementedError

    def words(self, found: list[Word], ctx: Ctx) -> None:
        raise NotImplementedError

    def children(self, n: Node, ctx: Ctx) -> None:
        for child in n.named_children:
            self.node(child, ctx)

    def word(self, n: Node, ctx: Ctx) -> Word:
        start = len(self.out.commands)
        parts: list[str] = []
        dynamic = self.text(n, ctx, parts)
        text = "".join(parts)
        if text.startswith("~") and not words.text(n.text).startswith("~"):
            text = "./" + text  # a quoted or escaped ~ is not expanded: a name in the cwd
        braces = n.type == "concatenation" and any(c.text == b"{" for c in n.named_children)
        return Word(words.braces(text) if braces else [text], dynamic, self.out.commands[start:])

    def text(self, n: Node, ctx: Ctx, out: list[str]) -> bool:
        """Append the unquoted text of word node `n` to `out`; True if it holds an
        expansion whose value is unknown (kept as written, e.g. `$X`, `$(cmd)`)."""
        kind, raw = n.type, words.text(n.text)
        if kind == "word":
            out.append(words.unquoted(raw))
        elif kind == "raw_string":
            out.append(raw[1:-1])
        elif kind == "ansi_c_string":
            out.append(words.ansi_c(raw[2:-1]))
        elif kind in ("string", "translated_string"):
            return self.quoted(n, ctx, out)
        elif kind == "concatenation":
            return any([self.text(c, ctx, out) for c in n.named_children])
        elif kind in ("simple_expansion", "expansion"):
            var = next((c for c in n.named_children if c.type == "variable_name"), None)
            name = words.text(var.text) if var is not None else ""
            if name in self.vars and raw in (f"${name}", f"${{{name}}}"):
                out.append(self.vars[name])
                return False
            self.children(n, nested(ctx))
            out.append(raw)
            return True
        else:
            start = len(self.out.commands)
            self.node(n, ctx)
            if kind == "process_substitution":
                self.procsubs[raw] = self.out.commands[start:]
            out.append(raw)
            return kind in ("command_substitution", "process_substitution", "arithmetic_expansion")
        return False

    def quoted(self, n: Node, ctx: Ctx, out: list[str]) -> bool:
        """A double-quoted string: text between the parts is taken from the source."""
        source, base = n.text or b"", n.start_byte
        pos, dynamic = source.index(b'"') + 1, False
        for c in n.named_children:
            if c.type == "string_content":
                continue
            out.append(words.double_quoted(words.text(source[pos : c.start_byte - base])))
            dynamic |= self.text(c, ctx, out)
            pos = c.end_byte - base
        out.append(words.double_quoted(words.text(source[pos : len(source) - 1])))
        return dynamic

    def redirect(
        self, n: Node, ctx: Ctx, redirects: list[Redirect], stdin: list[str], tail: list[Node]
    ) -> None:
        """Collect a redirection's target or here-document; `tail` gets what the
        grammar nests inside a here-document redirect (`cat <<EOF | sh`)."""
        if n.type == "file_redirect":
            op = next((words.text(c.text) for c in n.children if not c.is_named), ">")
            dests = n.children_by_field_name("destination")
            if dests and not (op in _FD_DUP and dests[0].type == "number"):
                redirects.append((op, self.word(dests[0], ctx).texts[0]))
            if more := dests[1:]:  # `cat <<EOF > f; rm x`: the grammar files the next command here
                self.words([self.word(d, ctx) for d in more], nested(ctx))
        elif n.type == "herestring_redirect":
            stdin.extend(t for c in n.named_children for t in self.word(c, ctx).texts)
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
